//! The request edge every front door shares — server functions and pages, the REST API, the
//! CloudStack API, CSV downloads and live streams: the acting context (`OpContext`) built one way
//! from a request, and the one HTTP status for each control-plane error.
//!
//! It lives in `app` (under feature "ssr") because server functions need it and `server` depends
//! on `app`, never the other way; the server's axum handlers use the same functions.

use axum::extract::FromRequestParts;
use http::StatusCode;
use http::request::Parts;
use meridian_control::api_key::ApiCaller;
use meridian_control::{Actor, Control, Error, OpContext};
use std::convert::Infallible;
use std::time::Duration;
use tower_sessions::Session;

/// Who the client is, as the server's `client_address` guard worked it out (the connection's peer,
/// or what a trusted proxy forwarded); the guard records it on every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub std::net::IpAddr);

/// The value of the cookie `name` among a request's `Cookie` headers (none when it is empty).
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// What every acting context takes from its request: the id the server gave the request
/// (`x-request-id`, for logs) and the client's address (for the audit log and throttling).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestMeta {
    /// The request id, empty if the server gave none.
    pub request_id: String,
    /// The client's address, if the guard recorded one.
    pub client: Option<String>,
}

impl RequestMeta {
    /// Reads a request's id and client address.
    pub fn from_parts(parts: &Parts) -> Self {
        Self {
            request_id: parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            client: parts.extensions.get::<ClientAddress>().map(|c| c.0.to_string()),
        }
    }

    fn context(self, actor: Actor, via: Option<String>) -> OpContext {
        OpContext {
            actor,
            request_id: self.request_id,
            client: self.client,
            via,
        }
    }
}

/// An axum extractor (also through `leptos_axum::extract` in server functions); never refuses.
impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// The context of a request with a browser session: its user or staff member, or anonymous. A
/// session past its absolute lifetime (`max_age` since log-in) is ended here and is anonymous.
pub async fn session_context(
    control: &Control,
    session: &Session,
    max_age: Duration,
    request: RequestMeta,
) -> Result<OpContext, Error> {
    let actor = control.actor_from_session(session, max_age).await?;
    acting(control, request.context(actor, None))
}

/// As [`session_context`], for routes only the signed-in may use: anonymous is
/// [`Error::Unauthenticated`].
pub async fn signed_in_context(
    control: &Control,
    session: &Session,
    max_age: Duration,
    request: RequestMeta,
) -> Result<OpContext, Error> {
    let ctx = session_context(control, session, max_age, request).await?;
    if ctx.actor == Actor::Anonymous {
        return Err(Error::Unauthenticated);
    }
    Ok(ctx)
}

/// The context of a request carrying an API key's secret as its bearer token (the REST API): the
/// key's user with their role as it is now, marked as coming through the key.
pub async fn bearer_context(
    control: &Control,
    secret: &str,
    request: RequestMeta,
) -> Result<OpContext, Error> {
    let caller = control.api_caller_bearer(secret).await?;
    api_caller_context(control, &caller, request)
}

/// The context of a request whose API key the control plane accepted (a CloudStack request after
/// its signature check, or a bearer token).
pub fn api_caller_context(
    control: &Control,
    caller: &ApiCaller,
    request: RequestMeta,
) -> Result<OpContext, Error> {
    let ctx = caller.context(request.request_id, request.client);
    acting(control, ctx)
}

/// The context as built, unless a test set the next one to fail (`Hooks::fail_next_acting`).
fn acting(control: &Control, ctx: OpContext) -> Result<OpContext, Error> {
    match control.hooks().acting_failure() {
        Some(error) => Err(error),
        None => Ok(ctx),
    }
}

/// The HTTP status of a control-plane error: the one mapping that server functions, pages, the
/// REST API, CSV downloads and live streams answer with. (The CloudStack API answers with its own
/// codes, derived from the same error kinds in `server/src/cloudstack/envelope.rs`.)
pub fn status(error: &Error) -> StatusCode {
    match error {
        Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Unauthenticated | Error::BadCredentials => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) | Error::Suspended => StatusCode::FORBIDDEN,
        Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::NotFound => StatusCode::NOT_FOUND,
        Error::Conflict { .. } | Error::Busy { .. } => StatusCode::CONFLICT,
        Error::Transient { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A refusal with the error's status and no body, for routes whose clients read none (CSV
/// downloads, live streams); internal details are logged, once.
pub fn refusal(error: &Error) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    log(error);
    status(error).into_response()
}

/// Logs what only operators may see of an error, once, where a front door answers it: an internal
/// fault's detail as an error, a lost database conflict's as a warning; nothing for the rest.
pub fn log(error: &Error) {
    match error {
        Error::Internal { detail } => tracing::error!(error.detail = %detail, "request failed"),
        Error::Transient { detail } => {
            tracing::warn!(error.detail = %detail, "request lost a database conflict");
        }
        _ => {}
    }
}
