//! The control plane's error: what a user is told, kept apart from what only the log may see.

use meridian_core::FieldErrors;
use thiserror::Error;

/// An action's failure. `Display` is the message for the user; [`Error::Internal`] carries a
/// detail that is logged where the error is handled and never shown.
#[derive(Debug, Error)]
pub enum Error {
    /// One or more inputs are invalid; each message belongs next to its field.
    #[error("Some fields need attention: {0}")]
    Invalid(FieldErrors),
    /// No one is signed in.
    #[error("Sign in to continue.")]
    Unauthenticated,
    /// Log-in failed. Deliberately does not say whether the account exists.
    #[error("Wrong e-mail or password.")]
    BadCredentials,
    /// The actor is known but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The tenant is suspended by Meridian: its users cannot sign in and nothing new is created.
    #[error(
        "This organisation's Meridian account is suspended. Its VMs keep running; contact Meridian support to restore access."
    )]
    Suspended,
    /// Too many attempts (log-ins, password checks, sign-ups) from this address or on this
    /// account, or the password hashers are too busy; wait `retry_after_s`.
    #[error("Too many attempts. Try again in {}.", wait_words(*retry_after_s))]
    Throttled {
        /// Seconds until one more attempt is allowed.
        retry_after_s: u64,
    },
    /// The resource does not exist, or the actor may not see it (indistinguishable on purpose).
    #[error("Not found.")]
    NotFound,
    /// The request clashes with existing state, e.g. an e-mail address already in use.
    #[error("{message}")]
    Conflict {
        /// The form field the conflict is about, if any.
        field: Option<&'static str>,
        /// What the user should know.
        message: String,
    },
    /// Another operation on the same resource is still in progress; `job_id` is that operation's
    /// job, for the caller to follow. At most one job runs on a VM at a time.
    #[error("Another operation on this VM is still in progress (job {job_id}); wait for it to finish.")]
    Busy {
        /// The job that holds the resource.
        job_id: uuid::Uuid,
    },
    /// The database gave up on a transaction to settle a conflict with another (a deadlock or a
    /// serialisation failure on PostgreSQL); nothing was changed and the same request may succeed
    /// if tried again. `detail` goes to the log only.
    #[error("Meridian was busy with a conflicting change; nothing was changed. Please try again.")]
    Transient {
        /// What the database said, for operators.
        detail: String,
    },
    /// A fault on our side; `detail` goes to the log only.
    #[error("Something went wrong on our side. It has been logged; please try again.")]
    Internal {
        /// What went wrong, for operators.
        detail: String,
    },
}

impl Error {
    /// A refusal of one form field, with the sentence shown next to it.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        let mut errors = meridian_core::FieldErrors::default();
        errors.push(name, message);
        Error::Invalid(errors)
    }

    /// An id as a request carries it, typed. One that does not parse names nothing, so it is not
    /// found (404), exactly like the id of something the actor may not see.
    pub fn id<T: std::str::FromStr>(raw: &str) -> Result<T, Error> {
        raw.trim().parse().map_err(|_| Error::NotFound)
    }

    /// An internal error with `detail` for the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Error::Internal {
            detail: detail.to_string(),
        }
    }

    /// A short, stable, machine-readable code for APIs and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_input",
            Error::Unauthenticated => "unauthenticated",
            Error::BadCredentials => "bad_credentials",
            Error::Forbidden(_) => "forbidden",
            Error::Suspended => "tenant_suspended",
            Error::Throttled { .. } => "too_many_attempts",
            Error::NotFound => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::Busy { .. } => "operation_in_progress",
            Error::Transient { .. } => "try_again",
            Error::Internal { .. } => "internal",
        }
    }
}

/// "a minute", "12 minutes", "40 seconds": a wait as a person would say it, rounded up.
fn wait_words(seconds: u64) -> String {
    match seconds {
        0..=1 => "a second".to_owned(),
        2..=59 => format!("{seconds} seconds"),
        60 => "a minute".to_owned(),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

impl Error {
    /// Whether the same request may succeed if simply run again.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient { .. })
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        if crate::store::is_retryable(&error) {
            Error::Transient {
                detail: format!("database: {error}"),
            }
        } else {
            Error::internal(format_args!("database: {error}"))
        }
    }
}

impl From<FieldErrors> for Error {
    fn from(errors: FieldErrors) -> Self {
        Error::Invalid(errors)
    }
}
