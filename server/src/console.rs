//! The interactive serial console: `GET /vms/{id}/console/ws` upgrades the VM page's request to a
//! WebSocket and relays it to the VM's host agent (`meridian_core::agent_api::Route::Serial`), which
//! relays it to the QEMU serial socket.
//!
//! A shell in a guest is worth more than any form, so the upgrade is refused (403) unless the
//! request came from one of Meridian's own pages: the `Origin` must be Meridian's (browsers send it
//! on every WebSocket request, and a page cannot forge it) and `Sec-Fetch-Site`, when sent, must be
//! `same-origin` or `none`. The session cookie is the credential, as for live streams
//! ([`crate::events`]). What a viewer or inspecting staff member types is dropped, and the terminal
//! says so once. Every [`RECHECK`] the session is looked at again: when it ended, or the caller's
//! right to the VM changed, the console closes. Opens and closes are logged; what is typed never is.

use crate::AppState;
use axum::extract::ws::{
    CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt as _, StreamExt as _};
use http::{HeaderMap, StatusCode};
use meridian_app::edge::{self, RequestMeta};
use meridian_control::driver::SerialEndpoint;
use meridian_control::vm::ConsoleAccess;
use meridian_control::{Actor, Control, OpContext};
use meridian_core::agent_api::{ApiError, ERROR_BUSY, ERROR_NOT_RUNNING, SERIAL_MESSAGE_MAX};
use meridian_core::id::VmId;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

/// How often an open console checks that its session and the caller's right still stand.
pub const RECHECK: Duration = Duration::from_secs(10);

/// How long the host agent may take to accept the console.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a read-only caller is told, once, when they type.
const READ_ONLY_NOTICE: &str =
    "\r\n[meridian] This console is read-only for you: viewers and support staff see it but cannot type.\r\n";

/// Close codes the page tells apart: 1000 normal, 1008 the session or right ended, 1011 a failure,
/// 1013 try again later (another session has the console).
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_ERROR: u16 = 1011;
const CLOSE_AGAIN: u16 = 1013;

/// `GET /vms/{id}/console/ws`: see the module's documentation.
pub async fn vm_console_ws(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    request: RequestMeta,
    headers: HeaderMap,
    Path(id): Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ctx = match edge::signed_in_context(&state.control, &session, state.session_max, request).await {
        Ok(ctx) => ctx,
        Err(error) => return edge::refusal(&error),
    };
    let Ok(vm_id) = meridian_control::Error::id::<VmId>(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Whether the VM exists for this caller first (404 as for every other VM route), then where
    // the request came from.
    let console = match state.control.vm_serial_open(&ctx, vm_id).await {
        Ok(console) => console,
        Err(error) => return edge::refusal(&error),
    };
    if !crate::same_origin::from_own_page(&headers, state.public_origin.as_deref()) {
        tracing::warn!(vm.id = %vm_id, "console refused: the request did not come from a Meridian page");
        return crate::same_origin::cross_site_refusal();
    }
    let Some(endpoint) = console.endpoint else {
        return crate::rest::ApiError::new(
            StatusCode::CONFLICT,
            "no_interactive_console",
            "This VM's console is simulated: there is no guest to type into.",
        )
        .into_response();
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let (Some(session_id), Some(actor)) = (session.id(), crate::events::actor_key(&ctx.actor)) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(slot) = state.streams.take(&actor) else {
        return crate::rest::ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            "Too many live views are open at once; close one and reload.",
        )
        .into_response();
    };
    let watch = Watch {
        control: state.control.clone(),
        ctx,
        session_id: session_id.to_string(),
        session_max: state.session_max,
        vm_id,
        access: console.access,
        actor,
        _slot: slot,
    };
    upgrade
        .max_message_size(SERIAL_MESSAGE_MAX)
        .max_frame_size(SERIAL_MESSAGE_MAX)
        .on_upgrade(move |browser| relay(browser, endpoint, watch))
}

/// What an open console keeps to check that it may stay open.
struct Watch {
    control: Control,
    ctx: OpContext,
    session_id: String,
    session_max: Duration,
    vm_id: VmId,
    access: ConsoleAccess,
    /// Whose console it is, for the log (a user or staff id, never a name).
    actor: String,
    _slot: crate::events::StreamSlot,
}

impl Watch {
    /// Why the console must close now, if it must: the session ended, or the caller's right to
    /// the VM is no longer the one it was opened with.
    async fn must_close(&mut self) -> Option<&'static str> {
        let actor = match self
            .control
            .session_actor(&self.session_id, self.session_max)
            .await
        {
            Ok(actor) => actor,
            Err(error) => {
                edge::log(&error);
                return Some("Your session could not be checked; reload the page.");
            }
        };
        if actor == Actor::Anonymous {
            return Some("Your session ended; sign in again.");
        }
        if actor == self.ctx.actor {
            return None;
        }
        self.ctx.actor = actor;
        match self.control.vm_console_access(&self.ctx, self.vm_id).await {
            Ok(access) if access == self.access => None,
            Ok(_) => Some("Your role changed; reload the page to open the console again."),
            Err(_) => Some("You can no longer see this VM."),
        }
    }
}

/// Relays the browser's WebSocket to the host agent's serial console until either ends, the
/// session ends, or the caller's right changes.
async fn relay(mut browser: WebSocket, endpoint: SerialEndpoint, mut watch: Watch) {
    let opened = Instant::now();
    let (vm_id, may_type) = (watch.vm_id, watch.access.may_type());
    let mut agent = match connect(&endpoint).await {
        Ok(agent) => agent,
        Err((code, reason)) => {
            tracing::info!(vm.id = %vm_id, actor = %watch.actor, reason, "console not opened");
            close(&mut browser, code, reason).await;
            return;
        }
    };
    tracing::info!(vm.id = %vm_id, actor = %watch.actor, may_type, "console opened");
    let mut told_read_only = false;
    let mut check = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
    let reason: &str = loop {
        tokio::select! {
            from_agent = agent.next() => match from_agent {
                Some(Ok(tungstenite::Message::Binary(bytes))) => {
                    if browser.send(Message::Binary(bytes)).await.is_err() {
                        break "the browser went away";
                    }
                }
                Some(Ok(tungstenite::Message::Text(text))) => {
                    let bytes = axum::body::Bytes::copy_from_slice(text.as_bytes());
                    if browser.send(Message::Binary(bytes)).await.is_err() {
                        break "the browser went away";
                    }
                }
                Some(Ok(tungstenite::Message::Close(_))) | None => {
                    close(&mut browser, CLOSE_NORMAL, "The VM's console closed (the VM stopped).").await;
                    break "the VM's console closed";
                }
                Some(Ok(_)) => {}
                Some(Err(_)) => {
                    close(&mut browser, CLOSE_ERROR, "The connection to the VM's host was lost.").await;
                    break "the connection to the host agent was lost";
                }
            },
            from_browser = browser.recv() => {
                let typed = match from_browser {
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(Message::Text(text))) => axum::body::Bytes::copy_from_slice(text.as_bytes()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => {
                        let _ = agent.close(None).await;
                        break "the browser closed it";
                    }
                };
                if may_type {
                    if agent.send(tungstenite::Message::Binary(typed)).await.is_err() {
                        close(&mut browser, CLOSE_ERROR, "The connection to the VM's host was lost.").await;
                        break "the connection to the host agent was lost";
                    }
                } else if !told_read_only {
                    told_read_only = true;
                    let notice = Message::Binary(axum::body::Bytes::from_static(READ_ONLY_NOTICE.as_bytes()));
                    if browser.send(notice).await.is_err() {
                        break "the browser went away";
                    }
                }
            },
            _ = check.tick() => {
                if let Some(why) = watch.must_close().await {
                    close(&mut browser, CLOSE_POLICY, why).await;
                    let _ = agent.close(None).await;
                    break why;
                }
            }
        }
    };
    tracing::info!(vm.id = %vm_id, actor = %watch.actor, reason, duration_ms = opened.elapsed().as_millis() as u64, "console closed");
}

type AgentSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a console the agent calls busy is asked for again: the page opens a new console
/// when it re-renders, and the one it closed may not have let go of the VM's yet.
const BUSY_RETRY_FOR: Duration = Duration::from_secs(3);

/// Opens the agent's serial WebSocket, asking again for [`BUSY_RETRY_FOR`] while it is busy; on
/// failure, the close code and reason for the browser.
async fn connect(endpoint: &SerialEndpoint) -> Result<AgentSocket, (u16, &'static str)> {
    let started = Instant::now();
    loop {
        match connect_once(endpoint).await {
            Err((CLOSE_AGAIN, _)) if started.elapsed() < BUSY_RETRY_FOR => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

async fn connect_once(endpoint: &SerialEndpoint) -> Result<AgentSocket, (u16, &'static str)> {
    const UNREACHABLE: (u16, &str) = (CLOSE_ERROR, "The VM's host did not answer; try again shortly.");
    let mut request = endpoint.url.as_str().into_client_request().map_err(|error| {
        tracing::error!(url = %endpoint.url, error = %error, "console endpoint is not a WebSocket URL");
        (CLOSE_ERROR, "The VM's console cannot be reached.")
    })?;
    for (name, value) in &endpoint.headers {
        let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(name.as_str()),
            http::HeaderValue::try_from(value.as_str()),
        ) else {
            return Err((CLOSE_ERROR, "The VM's console cannot be reached."));
        };
        request.headers_mut().insert(name, value);
    }
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(SERIAL_MESSAGE_MAX))
        .max_frame_size(Some(SERIAL_MESSAGE_MAX));
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tungstenite::Error::Http(answer))) => {
            let error: Option<ApiError> = answer
                .body()
                .as_deref()
                .and_then(|body| serde_json::from_slice(body).ok());
            let code = error.as_ref().map(|e| e.code.as_str());
            tracing::info!(status = answer.status().as_u16(), code = ?code, "host agent refused the console");
            Err(match code {
                Some(ERROR_BUSY) => (
                    CLOSE_AGAIN,
                    "Someone else has this VM's console open; try again when they close it.",
                ),
                Some(ERROR_NOT_RUNNING) => (
                    CLOSE_NORMAL,
                    "The VM is not running; start it to use its console.",
                ),
                _ => (CLOSE_ERROR, "The VM's host refused the console."),
            })
        }
        Ok(Err(error)) => {
            tracing::warn!(url = %endpoint.url, error = %error, "host agent's console did not open");
            Err(UNREACHABLE)
        }
        Err(_) => {
            tracing::warn!(url = %endpoint.url, "host agent's console did not open in time");
            Err(UNREACHABLE)
        }
    }
}

/// Closes the browser's WebSocket with `code` and `reason` (which the page shows).
async fn close(browser: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = browser.send(Message::Close(Some(frame))).await;
}
