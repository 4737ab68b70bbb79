//! CloudStack's answer shapes: the `{"<command>response": …}` JSON envelope, list pages, and its
//! error codes, derived from the control plane's error.

use super::Params;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use meridian_control::Error;
use serde_json::{Map, Value, json};

/// Whether an answer with this HTTP status is the client's doing although it is 5xx: CloudStack
/// answers a refusal (no right, suspended account) with 531, which the request log must not
/// report as a server failure (ERROR); a 530 is a real failure.
pub fn is_refusal_status(status: StatusCode) -> bool {
    status.as_u16() == ACCOUNT_ERROR
}

/// A CloudStack error. Its HTTP status is its `errorcode`, as CloudStack answers.
#[derive(Debug)]
pub(super) struct CsError {
    /// The `errorcode`, also the HTTP status.
    pub(super) code: u16,
    /// The `errortext`.
    pub(super) text: String,
}

/// CloudStack's error codes.
pub(super) const UNAUTHORIZED: u16 = 401;
pub(super) const PARAM_ERROR: u16 = 431;
pub(super) const UNSUPPORTED: u16 = 432;
pub(super) const TOO_MANY: u16 = 429;
pub(super) const INTERNAL: u16 = 530;
pub(super) const ACCOUNT_ERROR: u16 = 531;
/// CloudStack's RESOURCE_IN_USE_ERROR: another operation holds the VM.
pub(super) const RESOURCE_IN_USE: u16 = 536;

impl CsError {
    /// A parameter error (431) saying `text`.
    pub(super) fn param(text: impl Into<String>) -> Self {
        Self {
            code: PARAM_ERROR,
            text: text.into(),
        }
    }

    /// `cserrorcode`, the exception class number CloudStack pairs with each code.
    fn cs_code(&self) -> u32 {
        match self.code {
            UNAUTHORIZED | ACCOUNT_ERROR => 4365,
            PARAM_ERROR => 4350,
            // com.cloud.exception.ConcurrentOperationException
            RESOURCE_IN_USE => 4300,
            UNSUPPORTED => 9999,
            _ => 4250,
        }
    }
}

/// CloudStack's code (and HTTP status) for a control-plane error: this API's own table, by the
/// same error kinds as the status every other front door answers with
/// ([`meridian_app::edge::status`]).
pub fn error_code(error: &Error) -> u16 {
    match error {
        Error::Invalid(_) | Error::NotFound | Error::Conflict { .. } => PARAM_ERROR,
        Error::Unauthenticated | Error::BadCredentials => UNAUTHORIZED,
        Error::Forbidden(_) | Error::Suspended => ACCOUNT_ERROR,
        Error::Throttled { .. } => TOO_MANY,
        Error::Busy { .. } => RESOURCE_IN_USE,
        Error::Internal { .. } | Error::Transient { .. } => INTERNAL,
    }
}

/// The control plane's error in CloudStack's terms; field errors are named by their parameter.
/// Internal details are logged by the edge, once.
impl From<Error> for CsError {
    fn from(error: Error) -> Self {
        meridian_app::edge::log(&error);
        let code = error_code(&error);
        let text = match &error {
            Error::Invalid(fields) => fields
                .0
                .iter()
                .map(|(field, message)| format!("{}: {message}", param_name(field)))
                .collect::<Vec<_>>()
                .join(" "),
            _ => error.to_string(),
        };
        Self { code, text }
    }
}

/// The API parameter a form field of the control plane corresponds to.
fn param_name(field: &str) -> &str {
    match field {
        "zone" => "zoneid",
        "template" => "templateid",
        "size" => "serviceofferingid",
        "ssh_key_ids" => "keypairs",
        "user_data" => "userdata",
        "vdc_id" => "networkids",
        "public_key" => "publickey",
        other => other,
    }
}

/// The JSON envelope: `{"<command>response": …}`, with the error's code as HTTP status.
pub(super) fn answer(key: &str, result: Result<Value, CsError>) -> Response {
    let (status, body) = match result {
        Ok(value) => (StatusCode::OK, value),
        Err(error) => (
            StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            json!({
                "uuidList": [],
                "errorcode": error.code,
                "cserrorcode": error.cs_code(),
                "errortext": error.text,
            }),
        ),
    };
    let mut envelope = Map::new();
    envelope.insert(key.to_owned(), body);
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        Value::Object(envelope).to_string(),
    )
        .into_response()
}

/// A list answer: `{"count": n, "<item>": [...]}`, one page of it if asked; `{}` when empty, as
/// CloudStack answers.
pub(super) fn list(item: &str, mut items: Vec<Value>, params: &Params) -> Result<Value, CsError> {
    let count = items.len();
    if let Some(page) = params.get("page") {
        let page: usize = page
            .parse()
            .map_err(|_| CsError::param("page must be a number from 1."))?;
        let size: usize = match params.get("pagesize") {
            Some(size) => size
                .parse()
                .map_err(|_| CsError::param("pagesize must be a number."))?,
            None => 500,
        };
        if page == 0 || size == 0 {
            return Err(CsError::param("page and pagesize start at 1."));
        }
        items = items
            .into_iter()
            .skip((page - 1).saturating_mul(size))
            .take(size)
            .collect();
    }
    if items.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "count": count, item: items }))
}

/// An asynchronous command's answer: the job to poll.
pub(super) fn job(job_id: uuid::Uuid) -> Result<Value, CsError> {
    Ok(json!({ "jobid": job_id.to_string() }))
}

/// A command in the catalogue that its group does not answer: a bug, said as one.
pub(super) fn unanswered(name: &str) -> CsError {
    CsError {
        code: UNSUPPORTED,
        text: format!("{name} is listed but not answered: this is a bug in Meridian."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_not_a_server_failure_in_the_log() {
        assert!(is_refusal_status(StatusCode::from_u16(ACCOUNT_ERROR).unwrap()));
        assert!(!is_refusal_status(StatusCode::from_u16(INTERNAL).unwrap()));
        assert!(!is_refusal_status(StatusCode::INTERNAL_SERVER_ERROR));
    }
}
