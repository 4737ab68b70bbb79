//! Server-only glue for server functions: the control plane from context, the session, and the
//! `OpContext` built from them. No business rules live here.

use crate::edge::{self, RequestMeta};
use crate::error::AppError;
use leptos::prelude::*;
use meridian_control::session_store::{AUTH_KEY, Inspecting, STAFF_KEY, SessionAuth, StaffAuth};
use meridian_control::{Control, OpContext, now_ms};
use meridian_core::UserId;
use meridian_core::id::StaffId;
use std::time::Duration;
use tower_sessions::Session;

/// How long a session may live, idle or at all. Provided as context by the server.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    /// A session unused for this long ends (enforced by the session layer's expiry).
    pub idle: Duration,
    /// A session ends this long after log-in, however active.
    pub absolute: Duration,
    /// Whether cookies are `Secure` (not on plain HTTP on loopback).
    pub secure_cookies: bool,
}

/// Who acts in this request, once read: the server functions one page renders with (the shell's
/// account, the page's lists) share it instead of each reading the session's user again. On
/// PostgreSQL, where nothing is remembered across requests, a page read its user three times.
/// Provided new to every request by the server; a sign-in, sign-out or staff change made in the
/// request forgets it.
#[derive(Clone, Debug, Default)]
pub struct RequestActor(std::sync::Arc<std::sync::Mutex<Option<OpContext>>>);

impl RequestActor {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<OpContext>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Forgets who acts in this request: called before and after its session's sign-in changes, so
/// nothing read in between is kept.
fn actor_forget() {
    if let Some(actor) = use_context::<RequestActor>() {
        *actor.slot() = None;
    }
}

/// The control plane, provided by the server to every render and server function.
pub fn control() -> Result<Control, AppError> {
    use_context::<Control>().ok_or_else(|| AppError::Internal("control plane missing from context".into()))
}

fn policy() -> SessionPolicy {
    use_context::<SessionPolicy>().unwrap_or(SessionPolicy {
        idle: Duration::from_secs(4 * 3600),
        absolute: Duration::from_secs(24 * 3600),
        secure_cookies: true,
    })
}

/// The cookie that holds a browser's known-device token (see `meridian_core::throttle`).
pub const DEVICE_COOKIE: &str = "meridian.device";

/// The known-device token the browser sent, if any.
pub async fn device_token() -> Option<String> {
    let headers = leptos_axum::extract::<http::HeaderMap>().await.ok()?;
    edge::cookie(&headers, DEVICE_COOKIE).map(str::to_owned)
}

/// The form token of the session the request's cookie names (empty without one): what the page
/// puts in its forms (`components::form::FormToken`).
pub fn form_token() -> String {
    let (Some(parts), Some(control)) = (use_context::<http::request::Parts>(), use_context::<Control>())
    else {
        return String::new();
    };
    edge::cookie(&parts.headers, meridian_core::form_token::SESSION_COOKIE)
        .map(|session| control.form_token(session))
        .unwrap_or_default()
}

/// Where a plain HTML form (posted before the WASM loaded, or without it) goes once it succeeded,
/// instead of back to its own page: e.g. the VM it created. A call from the hydrated page is left
/// alone; that page moves on by itself.
pub fn plain_form_goes_to(path: &str) {
    let accepts_html = use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if let (true, Some(response), Ok(location)) = (
        accepts_html,
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(path),
    ) {
        response.insert_header(http::header::LOCATION, location);
    }
}

/// Keeps `token` in the browser for 180 days; sent only with server-function calls from this
/// site, never readable by scripts.
pub fn device_token_keep(token: &str) {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let secure = if policy().secure_cookies { "; Secure" } else { "" };
    let max_age_s = meridian_core::throttle::DEVICE_TOKEN_MAX_AGE_MS / 1000;
    let cookie =
        format!("{DEVICE_COOKIE}={token}; Path=/fn; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}");
    if let Ok(value) = http::HeaderValue::from_str(&cookie) {
        response.append_header(http::header::SET_COOKIE, value);
    }
}

/// The current request's session.
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|e| AppError::Internal(format!("no session layer: {e}")))
}

fn session_error(error: tower_sessions::session::Error) -> AppError {
    tracing::error!(error.detail = %error, "session store failed");
    AppError::Internal("Something went wrong on our side. It has been logged; please try again.".into())
}

/// Everything a server function needs: the control plane, the session, and who is acting (built
/// by the edge, as for every front door). A session past its absolute lifetime is ended here and
/// the actor is anonymous.
pub async fn op_context() -> Result<(Control, Session, OpContext), AppError> {
    let control = control()?;
    let session = session().await?;
    let memo = use_context::<RequestActor>();
    if let Some(ctx) = memo.as_ref().and_then(|memo| memo.slot().clone()) {
        return Ok((control, session, ctx));
    }
    let request = leptos_axum::extract::<RequestMeta>().await.unwrap_or_default();
    let ctx = edge::session_context(&control, &session, policy().absolute, request).await?;
    if let Some(memo) = memo {
        *memo.slot() = Some(ctx.clone());
    }
    Ok((control, session, ctx))
}

/// Signs `user_id` in on this session, with a new session id so a planted id is worthless.
pub async fn session_sign_in(session: &Session, user_id: UserId) -> Result<(), AppError> {
    actor_forget();
    session.cycle_id().await.map_err(session_error)?;
    session
        .remove::<StaffAuth>(STAFF_KEY)
        .await
        .map_err(session_error)?;
    let signed_in = session
        .insert(
            AUTH_KEY,
            SessionAuth {
                user_id,
                signed_in_at: now_ms(),
            },
        )
        .await
        .map_err(session_error);
    actor_forget();
    signed_in
}

/// Ends the session on the server and tells the browser to drop the cookie.
pub async fn session_end(session: &Session) -> Result<(), AppError> {
    actor_forget();
    let ended = session.flush().await.map_err(session_error);
    actor_forget();
    ended
}

/// Signs a staff member in on this session, or starts or ends their inspection, always with a new
/// session id. A tenant sign-in on the same browser ends: the two never share a session.
pub async fn session_staff_set(
    session: &Session,
    staff_id: StaffId,
    inspecting: Option<Inspecting>,
) -> Result<(), AppError> {
    actor_forget();
    session.cycle_id().await.map_err(session_error)?;
    let previous: Option<StaffAuth> = session.get(STAFF_KEY).await.map_err(session_error)?;
    let signed_in_at = previous
        .filter(|p| p.staff_id == staff_id)
        .map_or_else(now_ms, |p| p.signed_in_at);
    session
        .remove::<SessionAuth>(AUTH_KEY)
        .await
        .map_err(session_error)?;
    let set = session
        .insert(
            STAFF_KEY,
            StaffAuth {
                staff_id,
                signed_in_at,
                inspecting,
            },
        )
        .await
        .map_err(session_error);
    actor_forget();
    set
}

/// The inspection this staff session is in, if any.
pub async fn session_inspection(session: &Session) -> Result<Option<Inspecting>, AppError> {
    let auth: Option<StaffAuth> = session.get(STAFF_KEY).await.map_err(session_error)?;
    Ok(auth.and_then(|a| a.inspecting))
}
