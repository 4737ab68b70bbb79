//! The route host agents register their hosts at (`meridian_core::agent_api::REGISTER_PATH`):
//! bearer token and API version checked, then `Control::host_register`.

use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use meridian_control::host::RegisterRefusal;
use meridian_core::agent_api::{
    API_VERSION, ApiError, ERROR_API_VERSION, ERROR_INVALID, ERROR_UNAUTHORIZED, Registration, VERSION_HEADER,
};

/// `POST /agent/v1/register`: a host agent's registration or heartbeat. 204 when recorded.
pub async fn register(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let version = headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok());
    if version != Some(API_VERSION.to_string().as_str()) {
        let said = version.map_or_else(|| "none".to_owned(), |v| v.chars().take(16).collect());
        return answer(
            StatusCode::CONFLICT,
            ERROR_API_VERSION,
            format!("this control plane speaks API {API_VERSION}; the request is for API {said}"),
        );
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let registration: Registration = match serde_json::from_slice(&body) {
        Ok(registration) => registration,
        Err(error) => return answer(StatusCode::UNPROCESSABLE_ENTITY, ERROR_INVALID, format!("not a registration: {error}")),
    };
    match state.control.host_register(token, &registration).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        // A server that takes no agents says nothing about itself to one.
        Err(RegisterRefusal::NoAgents) => StatusCode::NOT_FOUND.into_response(),
        Err(refusal @ RegisterRefusal::Unauthorized) => {
            tracing::warn!(host.id = %registration.host_id, "host agent registration with a wrong token");
            answer(StatusCode::UNAUTHORIZED, ERROR_UNAUTHORIZED, refusal.to_string())
        }
        Err(refusal @ RegisterRefusal::Version(_)) => answer(StatusCode::CONFLICT, ERROR_API_VERSION, refusal.to_string()),
        Err(refusal @ RegisterRefusal::Invalid(_)) => {
            answer(StatusCode::UNPROCESSABLE_ENTITY, ERROR_INVALID, refusal.to_string())
        }
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
