//! Accounts: the validated inputs of sign-up and log-in, and the roles a user can hold.
//!
//! Each type's `parse` is the single definition of what is acceptable; the browser form and the
//! server both call it, so a rule cannot drift between the two.

use crate::field::FieldErrors;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Shortest password accepted (NIST SP 800-63B recommends favouring length over composition rules).
pub const PASSWORD_MIN_CHARS: usize = 12;
/// Longest password accepted: generous for passphrases, bounded so hashing cost stays predictable.
pub const PASSWORD_MAX_CHARS: usize = 128;

/// A normalised (trimmed, lower-cased) e-mail address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

/// Why an e-mail address was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum EmailError {
    /// Nothing was typed.
    #[error("Enter your e-mail address.")]
    Empty,
    /// Longer than any deliverable address (RFC 5321 limits a path to 254 octets).
    #[error("An e-mail address has at most 254 characters.")]
    TooLong,
    /// Not of the form `name@example.com`.
    #[error("Enter an e-mail address like name@example.com.")]
    Malformed,
}

impl Email {
    /// Parses and normalises an address typed by a person.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(EmailError::Empty);
        }
        if email.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = email.split_once('@').ok_or(EmailError::Malformed)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(email))
        } else {
            Err(EmailError::Malformed)
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password that meets the length policy. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Why a password was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Below [`PASSWORD_MIN_CHARS`].
    #[error("Use at least {PASSWORD_MIN_CHARS} characters.")]
    TooShort,
    /// Above [`PASSWORD_MAX_CHARS`].
    #[error("Use at most {PASSWORD_MAX_CHARS} characters.")]
    TooLong,
}

impl Password {
    /// Checks a new password against the policy. Whitespace is kept: it is part of the secret.
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        let chars = raw.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            Err(PasswordError::TooShort)
        } else if chars > PASSWORD_MAX_CHARS {
            Err(PasswordError::TooLong)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    /// The secret itself, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The display name of a tenant (a company, a team, a project).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TenantName(String);

/// Why a tenant name was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TenantNameError {
    /// Fewer than two visible characters.
    #[error("Enter a name of at least 2 characters.")]
    TooShort,
    /// More than 64 characters.
    #[error("Use at most 64 characters.")]
    TooLong,
    /// Contains control characters such as newlines or tabs, or invisible or bidirectional
    /// formatting characters (see [`crate::text::is_hidden`]).
    #[error(
        "Use letters, digits, spaces and punctuation only (no invisible or direction-changing characters)."
    )]
    BadCharacter,
}

impl TenantName {
    /// Parses a name typed by a person; surrounding whitespace is dropped.
    pub fn parse(raw: &str) -> Result<Self, TenantNameError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars < 2 {
            Err(TenantNameError::TooShort)
        } else if chars > 64 {
            Err(TenantNameError::TooLong)
        } else if crate::text::has_hidden(name) {
            Err(TenantNameError::BadCharacter)
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a user may do inside their tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including users, roles and the residency policy.
    Owner,
    /// Creates and operates resources.
    Member,
    /// Reads everything, changes nothing.
    Viewer,
}

/// A role name that is not one of `owner`, `member`, `viewer`.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("Choose owner, member or viewer.")]
pub struct RoleError;

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 3] = [Role::Owner, Role::Member, Role::Viewer];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    /// Parses a stored or submitted role name.
    pub fn parse(raw: &str) -> Result<Self, RoleError> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == raw)
            .ok_or(RoleError)
    }

    /// Whether this role may create, change or delete resources.
    pub fn can_mutate(self) -> bool {
        matches!(self, Role::Owner | Role::Member)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated sign-up: a new tenant and its first user, the owner.
#[derive(Clone, Debug)]
pub struct Signup {
    /// The new tenant's name.
    pub tenant_name: TenantName,
    /// The owner's e-mail address, which is also their login.
    pub email: Email,
    /// The owner's password.
    pub password: Password,
}

impl Signup {
    /// Validates every field at once so the form can show all problems together.
    pub fn parse(tenant_name: &str, email: &str, password: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let tenant_name = errors.check("tenant_name", TenantName::parse(tenant_name));
        let email = errors.check("email", Email::parse(email));
        let password = errors.check("password", Password::parse(password));
        match (tenant_name, email, password) {
            (Some(tenant_name), Some(email), Some(password)) => Ok(Self {
                tenant_name,
                email,
                password,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@exa_mple.com",
            "a..b@x.io",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Malformed), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn password_length_counts_characters_not_bytes() {
        assert_eq!(Password::parse("elevenchars"), Err(PasswordError::TooShort));
        assert!(Password::parse("twelve chars").is_ok());
        // Twelve multi-byte characters are twelve characters.
        assert!(Password::parse("ééééééééééé").is_err());
        assert!(Password::parse("éééééééééééé").is_ok());
        assert_eq!(Password::parse(&"x".repeat(129)), Err(PasswordError::TooLong));
    }

    #[test]
    fn password_debug_hides_the_secret() {
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn tenant_name_rules() {
        assert_eq!(TenantName::parse("  Acme Ltd ").unwrap().as_str(), "Acme Ltd");
        assert_eq!(TenantName::parse("A"), Err(TenantNameError::TooShort));
        assert_eq!(TenantName::parse(&"x".repeat(65)), Err(TenantNameError::TooLong));
        assert_eq!(TenantName::parse("Acme\nLtd"), Err(TenantNameError::BadCharacter));
        for hidden in [
            "\u{202E}", "\u{200B}", "\u{200F}", "\u{2066}", "\u{2069}", "\u{FEFF}", "\u{85}",
        ] {
            assert_eq!(
                TenantName::parse(&format!("Acme{hidden}Ltd")),
                Err(TenantNameError::BadCharacter),
                "{hidden:?}"
            );
        }
    }

    #[test]
    fn roles_round_trip_and_viewers_cannot_mutate() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("admin").is_err());
        assert!(Role::Owner.can_mutate() && Role::Member.can_mutate() && !Role::Viewer.can_mutate());
    }

    #[test]
    fn signup_reports_every_bad_field() {
        let errors = Signup::parse("", "nope", "short").unwrap_err();
        assert!(errors.get("tenant_name").is_some());
        assert!(errors.get("email").is_some());
        assert_eq!(errors.get("password"), Some("Use at least 12 characters."));
        assert!(Signup::parse("Acme", "ops@acme.io", "a long enough secret").is_ok());
    }
}
