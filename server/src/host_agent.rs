//! The routes host agents call: registration (`meridian_core::agent_api::REGISTER_PATH`) and probe
//! reports (`PROBES_PATH`); bearer token and API version checked, then the control plane's
//! `host_register` / `host_probes`. And the backbone controller's (`BACKBONE_PATH`): the links
//! staff cut.

use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use meridian_control::host::RegisterRefusal;
use meridian_core::agent_api::{
    API_VERSION, ApiError, ERROR_API_VERSION, ERROR_INVALID, ERROR_UNAUTHORIZED, ProbeReport, Registration,
    VERSION_HEADER,
};

/// The version check every route makes: the refusal when the caller speaks another version.
fn version_refusal(headers: &HeaderMap) -> Option<Response> {
    let version = headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok());
    (version != Some(API_VERSION.to_string().as_str())).then(|| {
        let said = version.map_or_else(|| "none".to_owned(), |v| v.chars().take(16).collect());
        answer(
            StatusCode::CONFLICT,
            ERROR_API_VERSION,
            format!("this control plane speaks API {API_VERSION}; the request is for API {said}"),
        )
    })
}

/// The bearer token presented (empty when none was).
fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

/// `POST /agent/v1/register`: a host agent's registration or heartbeat; 200 with the peers to
/// probe (`RegistrationAnswer`) when recorded.
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refused) = version_refusal(&headers) {
        return refused;
    }
    let token = bearer(&headers);
    let registration: Registration = match serde_json::from_slice(&body) {
        Ok(registration) => registration,
        Err(error) => {
            return answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                ERROR_INVALID,
                format!("not a registration: {error}"),
            );
        }
    };
    let host = registration.host_id;
    refusal_or(
        state.control.host_register(token, &registration).await,
        host,
        |answer| {
            (
                StatusCode::OK,
                [(VERSION_HEADER, API_VERSION.to_string())],
                Json(answer),
            )
                .into_response()
        },
    )
}

/// `POST /agent/v1/probes`: a host agent's probe round; 204 when recorded.
pub async fn probes(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(refused) = version_refusal(&headers) {
        return refused;
    }
    let token = bearer(&headers);
    let report: ProbeReport = match serde_json::from_slice(&body) {
        Ok(report) => report,
        Err(error) => {
            return answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                ERROR_INVALID,
                format!("not a probe report: {error}"),
            );
        }
    };
    let host = report.host_id;
    refusal_or(state.control.host_probes(token, &report).await, host, |_| {
        (
            StatusCode::NO_CONTENT,
            [(VERSION_HEADER, API_VERSION.to_string())],
        )
            .into_response()
    })
}

/// `GET /agent/v1/backbone`: the links staff cut, for the backbone's controller.
pub async fn backbone(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refused) = version_refusal(&headers) {
        return refused;
    }
    refusal_or(
        state.control.backbone_intent(bearer(&headers)).await,
        meridian_core::agent_api::BACKBONE_CONTROLLER,
        |intent| {
            (
                StatusCode::OK,
                [(VERSION_HEADER, API_VERSION.to_string())],
                Json(intent),
            )
                .into_response()
        },
    )
}

/// The answer to a host agent's call: `ok`'s for a success, the refusal's status and code otherwise.
fn refusal_or<T>(
    result: Result<T, RegisterRefusal>,
    host: uuid::Uuid,
    ok: impl FnOnce(T) -> Response,
) -> Response {
    match result {
        Ok(value) => ok(value),
        // A server that takes no agents says nothing about itself to one.
        Err(RegisterRefusal::NoAgents) => StatusCode::NOT_FOUND.into_response(),
        Err(refusal @ RegisterRefusal::Unauthorized) => {
            tracing::warn!(host.id = %host, "host agent call with a wrong token");
            answer(StatusCode::UNAUTHORIZED, ERROR_UNAUTHORIZED, refusal.to_string())
        }
        Err(refusal @ RegisterRefusal::Version(_)) => {
            answer(StatusCode::CONFLICT, ERROR_API_VERSION, refusal.to_string())
        }
        Err(refusal @ RegisterRefusal::Invalid(_)) => answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            ERROR_INVALID,
            refusal.to_string(),
        ),
        Err(RegisterRefusal::Internal(error)) => meridian_app::edge::refusal(&error),
    }
}

fn answer(status: StatusCode, code: &str, message: String) -> Response {
    let body = ApiError {
        code: code.to_owned(),
        message,
    };
    (status, [(VERSION_HEADER, API_VERSION.to_string())], Json(body)).into_response()
}
