//! The error every server function returns: serialisable, so the browser gets the same variants,
//! with field errors that forms show next to their inputs.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use meridian_core::FieldErrors;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A server function's failure as the browser sees it.
#[derive(Clone, Debug, Error, PartialEq, Serialize, Deserialize)]
pub enum AppError {
    /// Invalid inputs, by field.
    #[error("Some fields need attention.")]
    Invalid {
        /// Messages keyed by form field name.
        fields: FieldErrors,
    },
    /// Nobody is signed in.
    #[error("Sign in to continue.")]
    Unauthenticated,
    /// Log-in failed.
    #[error("Wrong e-mail or password.")]
    BadCredentials,
    /// Not allowed; the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// Too many log-in attempts: wait, then try again (HTTP 429 with `Retry-After`).
    #[error("{message}")]
    TooManyAttempts {
        /// What to tell the person.
        message: String,
        /// Seconds until one more attempt is allowed.
        retry_after_s: u64,
    },
    /// Not there, or not yours.
    #[error("Not found.")]
    NotFound,
    /// Clashes with existing state.
    #[error("{message}")]
    Conflict {
        /// The field it concerns, if any.
        field: Option<String>,
        /// What to tell the user.
        message: String,
    },
    /// A fault on the server; details are in its log.
    #[error("{0}")]
    Internal(String),
    /// The request never reached the action (network, encoding).
    #[error("Could not reach Meridian: {0}")]
    Transport(String),
    /// The call itself was malformed (a missing or repeated argument, one that does not parse):
    /// HTTP 400, in the REST API's shape, `{"error": {"code": "bad_request", "message": …}}`.
    #[serde(rename = "error")]
    #[error("{message}")]
    Malformed {
        /// Stable, machine-readable: `bad_request`.
        code: String,
        /// For people.
        message: String,
    },
}

impl AppError {
    /// The message to show next to form field `name`, if this error concerns it.
    pub fn field(&self, name: &str) -> Option<String> {
        match self {
            AppError::Invalid { fields } => fields.get(name).map(str::to_owned),
            AppError::Conflict {
                field: Some(field),
                message,
            } if field == name => Some(message.clone()),
            _ => None,
        }
    }

    /// The message for a form-level alert: everything that is not tied to one field.
    pub fn form_message(&self) -> Option<String> {
        match self {
            AppError::Invalid { .. } | AppError::Conflict { field: Some(_), .. } => None,
            other => Some(other.to_string()),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// On the server, arguments that do not decode are the caller's mistake: 400 with the
    /// reason, never 500. Everything else here (the browser's transport failures, a response
    /// that does not decode) stays a transport error.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                #[cfg(feature = "ssr")]
                if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                    response.set_status(http::StatusCode::BAD_REQUEST);
                }
                AppError::Malformed {
                    code: "bad_request".into(),
                    message: format!("The call's arguments do not fit: {value}."),
                }
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// Not found, with the 404 status set on the response (a bare `AppError::NotFound` returned
    /// from a server function would answer 500).
    pub fn not_found() -> Self {
        meridian_control::Error::NotFound.into()
    }
}

#[cfg(feature = "ssr")]
impl From<meridian_control::Error> for AppError {
    /// A control-plane error as the browser sees it, with the status the edge maps it to
    /// (`crate::edge::status`) set on the response; internal details are logged there, once, and
    /// replaced by a generic message.
    fn from(error: meridian_control::Error) -> Self {
        use meridian_control::Error as E;
        crate::edge::log(&error);
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(crate::edge::status(&error));
            if let E::Throttled { retry_after_s } = error {
                response.insert_header(http::header::RETRY_AFTER, retry_after_s.into());
            }
        }
        match error {
            E::Invalid(fields) => AppError::Invalid { fields },
            E::Unauthenticated => AppError::Unauthenticated,
            E::BadCredentials => AppError::BadCredentials,
            E::Forbidden(message) => AppError::Forbidden(message),
            suspended @ E::Suspended => AppError::Forbidden(suspended.to_string()),
            throttled @ E::Throttled { retry_after_s } => AppError::TooManyAttempts {
                message: throttled.to_string(),
                retry_after_s,
            },
            E::NotFound => AppError::NotFound,
            E::Conflict { field, message } => AppError::Conflict {
                field: field.map(str::to_owned),
                message,
            },
            busy @ E::Busy { .. } => AppError::Conflict {
                field: None,
                message: busy.to_string(),
            },
            transient @ E::Transient { .. } => AppError::Internal(transient.to_string()),
            internal @ E::Internal { .. } => AppError::Internal(internal.to_string()),
        }
    }
}
