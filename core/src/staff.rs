//! Meridian's own staff: their roles and the reason they must give before looking into a tenant.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// What a staff member may do. Staff are not tenant users: they sign in apart and are created
/// from the command line only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StaffRole {
    /// Reads tenants, capacity and jobs; inspects a tenant read-only.
    Support,
    /// Also suspends and unsuspends tenants, changes quotas, retries and cancels jobs.
    Admin,
}

/// A staff role name that is not `support` or `admin`.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("Choose support or admin.")]
pub struct StaffRoleError;

impl StaffRole {
    /// Every role, least powerful first.
    pub const ALL: [StaffRole; 2] = [StaffRole::Support, StaffRole::Admin];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Support => "support",
            StaffRole::Admin => "admin",
        }
    }

    /// Parses a stored or typed role name.
    pub fn parse(raw: &str) -> Result<Self, StaffRoleError> {
        StaffRole::ALL
            .into_iter()
            .find(|role| role.as_str() == raw)
            .ok_or(StaffRoleError)
    }

    /// Whether this role may change a tenant or the job queue.
    pub fn can_administer(self) -> bool {
        self == StaffRole::Admin
    }
}

impl fmt::Display for StaffRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The job lists the staff console offers, as `(key, label)`.
pub const JOB_LISTS: [(&str, &str); 4] = [
    ("all", "All recent"),
    ("live", "Queued and running"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
];

/// How the staff console orders its list of tenants, as `(key, label)`; the first is the default.
pub const TENANT_SORTS: [(&str, &str); 2] = [("newest", "Newest first"), ("name", "Name, A to Z")];

/// The fewest characters a reason may have: enough for a ticket number and a word or two.
pub const REASON_MIN_CHARS: usize = 8;
/// The most characters a reason may have.
pub const REASON_MAX_CHARS: usize = 300;

/// Why a staff member inspects or suspends a tenant; it goes into the tenant's audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason(String);

/// A reason that is too short, too long or not plain text.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ReasonError {
    /// Fewer than [`REASON_MIN_CHARS`] characters.
    #[error(
        "Say why, in at least {REASON_MIN_CHARS} characters (a ticket number helps): the tenant can read it."
    )]
    TooShort,
    /// More than [`REASON_MAX_CHARS`] characters.
    #[error("Keep it under {REASON_MAX_CHARS} characters.")]
    TooLong,
    /// Contains a control character (a line break, a tab) or an invisible or bidirectional one.
    #[error("Use a single line of plain text.")]
    BadCharacter,
}

impl Reason {
    /// Parses a reason typed by a person; surrounding whitespace is dropped.
    pub fn parse(raw: &str) -> Result<Self, ReasonError> {
        let reason = raw.trim();
        let chars = reason.chars().count();
        if chars < REASON_MIN_CHARS {
            Err(ReasonError::TooShort)
        } else if chars > REASON_MAX_CHARS {
            Err(ReasonError::TooLong)
        } else if crate::text::has_hidden(reason) {
            Err(ReasonError::BadCharacter)
        } else {
            Ok(Self(reason.to_owned()))
        }
    }

    /// The reason as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_only_admins_administer() {
        for role in StaffRole::ALL {
            assert_eq!(StaffRole::parse(role.as_str()), Ok(role));
        }
        assert_eq!(StaffRole::parse("owner"), Err(StaffRoleError));
        assert!(StaffRole::Admin.can_administer());
        assert!(!StaffRole::Support.can_administer());
    }

    #[test]
    fn a_reason_is_one_line_of_sensible_length() {
        assert_eq!(
            Reason::parse("  ticket 4411: VM stuck  ").unwrap().as_str(),
            "ticket 4411: VM stuck"
        );
        assert_eq!(Reason::parse("because"), Err(ReasonError::TooShort));
        assert_eq!(Reason::parse(&"x".repeat(301)), Err(ReasonError::TooLong));
        assert_eq!(
            Reason::parse("ticket 1\nand more"),
            Err(ReasonError::BadCharacter)
        );
        assert_eq!(
            Reason::parse("ticket 4411 \u{202E}kcuts MV"),
            Err(ReasonError::BadCharacter)
        );
    }
}
