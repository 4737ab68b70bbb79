//! The REST API under `/api/v1`: JSON in and out, an API key's secret as the bearer token, errors
//! with a stable code, paged lists, `Idempotency-Key` on creates, and its OpenAPI 3 document at
//! `/api/v1/openapi.json`, generated from the handlers' annotations.
//!
//! Every handler is a thin mapping onto the control-plane method the dashboard calls: no rule
//! lives here. [`routes`] is the one list of routes; the router, the OpenAPI test and the
//! authorization-coverage test all read it.

mod bandwidth;
pub mod billing;
mod catalog;
mod compute;
pub mod network;
mod scaling;
mod stacks;

use crate::AppState;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use http::request::Parts;
use http::{HeaderMap, Method, StatusCode, header};
use meridian_app::edge::{self, RequestMeta};
use meridian_control::idempotency::IdempotencyClaim;
use meridian_control::{Control, Error, OpContext};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

/// Where the API lives.
pub const PREFIX: &str = "/api/v1";

/// Every REST route: method, path, handler. Paths are written as OpenAPI writes them.
pub fn routes() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::GET, "/api/v1/openapi.json", get(openapi_json)),
        (Method::GET, "/api/v1/zones", get(network::zone_list)),
        (Method::GET, "/api/v1/zones/{id}", get(network::zone_view)),
        (Method::GET, "/api/v1/sizes", get(catalog::size_list)),
        (Method::GET, "/api/v1/templates", get(catalog::template_list)),
        (Method::POST, "/api/v1/templates", post(catalog::template_create)),
        (
            Method::DELETE,
            "/api/v1/templates/{id}",
            delete(catalog::template_delete),
        ),
        (Method::GET, "/api/v1/ssh-keys", get(catalog::ssh_key_list)),
        (Method::POST, "/api/v1/ssh-keys", post(catalog::ssh_key_create)),
        (
            Method::DELETE,
            "/api/v1/ssh-keys/{id}",
            delete(catalog::ssh_key_delete),
        ),
        (Method::GET, "/api/v1/vdcs", get(compute::vdc_list)),
        (Method::POST, "/api/v1/vdcs", post(compute::vdc_create)),
        (Method::GET, "/api/v1/vdcs/{id}", get(compute::vdc_view)),
        (Method::GET, "/api/v1/vms", get(compute::vm_list)),
        (Method::POST, "/api/v1/vms", post(compute::vm_create)),
        (Method::POST, "/api/v1/vms/bulk", post(compute::vm_bulk)),
        (Method::GET, "/api/v1/vms/{id}", get(compute::vm_view)),
        (Method::GET, "/api/v1/vms/{id}/console", get(compute::vm_console)),
        (Method::GET, "/api/v1/vms/{id}/metrics", get(compute::vm_metrics)),
        (Method::DELETE, "/api/v1/vms/{id}", delete(compute::vm_destroy)),
        (Method::POST, "/api/v1/vms/{id}/start", post(compute::vm_start)),
        (Method::POST, "/api/v1/vms/{id}/stop", post(compute::vm_stop)),
        (Method::POST, "/api/v1/vms/{id}/reboot", post(compute::vm_reboot)),
        (Method::POST, "/api/v1/vms/{id}/resize", post(compute::vm_resize)),
        (
            Method::PUT,
            "/api/v1/vms/{id}/breakout",
            put(compute::vm_breakout_open),
        ),
        (
            Method::DELETE,
            "/api/v1/vms/{id}/breakout",
            delete(compute::vm_breakout_close),
        ),
        (
            Method::GET,
            "/api/v1/stack-templates",
            get(stacks::stack_template_list),
        ),
        (Method::GET, "/api/v1/stacks", get(stacks::stack_list)),
        (Method::POST, "/api/v1/stacks", post(stacks::stack_create)),
        (Method::GET, "/api/v1/stacks/{id}", get(stacks::stack_view)),
        (
            Method::DELETE,
            "/api/v1/stacks/{id}",
            delete(stacks::stack_delete),
        ),
        (
            Method::GET,
            "/api/v1/scaling-groups",
            get(scaling::scaling_group_list),
        ),
        (
            Method::POST,
            "/api/v1/scaling-groups",
            post(scaling::scaling_group_create),
        ),
        (
            Method::GET,
            "/api/v1/scaling-groups/{id}",
            get(scaling::scaling_group_view),
        ),
        (
            Method::PUT,
            "/api/v1/scaling-groups/{id}",
            put(scaling::scaling_group_update),
        ),
        (
            Method::DELETE,
            "/api/v1/scaling-groups/{id}",
            delete(scaling::scaling_group_delete),
        ),
        (Method::GET, "/api/v1/jobs", get(compute::job_list)),
        (Method::GET, "/api/v1/jobs/{id}", get(compute::job_view)),
        (Method::GET, "/api/v1/networks", get(network::network_list)),
        (
            Method::GET,
            "/api/v1/firewall-rules",
            get(network::firewall_rule_list),
        ),
        (
            Method::POST,
            "/api/v1/firewall-rules",
            post(network::firewall_rule_create),
        ),
        (
            Method::DELETE,
            "/api/v1/firewall-rules/{id}",
            delete(network::firewall_rule_delete),
        ),
        (Method::GET, "/api/v1/bandwidth", get(bandwidth::bandwidth_view)),
        (Method::PUT, "/api/v1/bandwidth/caps", put(bandwidth::cap_set)),
        (
            Method::DELETE,
            "/api/v1/bandwidth/caps/{scope}/{target}",
            delete(bandwidth::cap_remove),
        ),
        (Method::GET, "/api/v1/usage", get(billing::usage_view)),
        (Method::GET, "/api/v1/invoices", get(billing::invoice_list)),
        (
            Method::GET,
            "/api/v1/invoices/{month}",
            get(billing::invoice_view),
        ),
    ]
}

/// The routes merged by path, for the router (one method router per path).
pub fn routes_by_path() -> BTreeMap<&'static str, MethodRouter<AppState>> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for (_, path, route) in routes() {
        let merged = match by_path.remove(path) {
            Some(earlier) => earlier.merge(route),
            None => route,
        };
        by_path.insert(path, merged);
    }
    by_path
}

/// The OpenAPI document: every operation below, with its schemas and the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Meridian API",
        version = "1",
        description = "Meridian's REST API. Authenticate with an API key's secret (Settings → API keys) as a bearer token. Errors are `{\"error\": {\"code\", \"message\", \"fields\"}}`; lists are paged with `limit` and `offset`; creating a VDC or a VM honours `Idempotency-Key` (each user's own keys)."
    ),
    paths(
        openapi_json,
        network::zone_list, network::zone_view,
        catalog::size_list,
        catalog::template_list, catalog::template_create, catalog::template_delete,
        catalog::ssh_key_list, catalog::ssh_key_create, catalog::ssh_key_delete,
        compute::vdc_list, compute::vdc_create, compute::vdc_view,
        compute::vm_list, compute::vm_create, compute::vm_bulk, compute::vm_view, compute::vm_console, compute::vm_metrics, compute::vm_destroy,
        compute::vm_start, compute::vm_stop, compute::vm_reboot, compute::vm_resize,
        compute::vm_breakout_open, compute::vm_breakout_close,
        stacks::stack_template_list, stacks::stack_list, stacks::stack_create, stacks::stack_view, stacks::stack_delete,
        scaling::scaling_group_list, scaling::scaling_group_create, scaling::scaling_group_view,
        scaling::scaling_group_update, scaling::scaling_group_delete,
        compute::job_list, compute::job_view,
        network::network_list,
        network::firewall_rule_list, network::firewall_rule_create, network::firewall_rule_delete,
        bandwidth::bandwidth_view, bandwidth::cap_set, bandwidth::cap_remove,
        billing::usage_view, billing::invoice_list, billing::invoice_view,
    ),
    components(schemas(ApiErrorBody, ApiErrorDetail)),
    modifiers(&BearerScheme),
    security(("api_key" = []))
)]
pub struct ApiDoc;

/// Adds the bearer scheme every operation but the document itself requires.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi
            .components
            .get_or_insert_with(utoipa::openapi::Components::new);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key's secret, from Settings → API keys."))
                    .build(),
            ),
        );
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3 document of this API.", content_type = "application/json"))
)]
pub async fn openapi_json() -> Response {
    match ApiDoc::openapi().to_pretty_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(error) => ApiError::from(Error::internal(error)).into_response(),
    }
}

/// Unknown paths under `/api/` answer in JSON too.
pub async fn no_such_route() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "no_such_route",
        message: "There is no such API route; see /api/v1/openapi.json.".into(),
        fields: BTreeMap::new(),
        job_id: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// An API error as sent: `{"error": {...}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiErrorBody {
    /// What went wrong.
    pub error: ApiErrorDetail,
}

/// What went wrong, with a code that never changes and a message for people.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiErrorDetail {
    /// Stable, machine-readable: `invalid_input`, `unauthenticated`, `forbidden`,
    /// `tenant_suspended`, `not_found`, `conflict`, `try_again`, `bad_request`,
    /// `idempotency_key_reused`, `operation_in_progress`, `no_such_route`, `too_many_attempts`,
    /// `internal`; and from the guards in front of every route: `body_too_large`,
    /// `request_timeout`, `unsupported_media_type`, `uri_too_long`, `headers_too_large`,
    /// `overloaded`; from the live-progress stream (`/events/vms/{id}`): `too_many_streams`.
    pub code: String,
    /// For people.
    pub message: String,
    /// For `invalid_input`: each field's problem, by field name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// For `operation_in_progress`: the job that holds the resource (follow it at `/api/v1/jobs/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

/// An error on its way out: status, stable code, message, field errors.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    fields: BTreeMap<String, String>,
    job_id: Option<String>,
}

impl ApiError {
    /// An error with no field detail: for the guards in front of every route (body too large,
    /// too slow, of the wrong type), which answer in this API's shape everywhere.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: BTreeMap::new(),
            job_id: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
            fields: BTreeMap::new(),
            job_id: None,
        }
    }
}

/// The control plane's error in this API's shape, with the status the edge maps it to
/// ([`meridian_app::edge::status`]); internal details are logged there, once.
impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = edge::status(&error);
        edge::log(&error);
        let mut fields = BTreeMap::new();
        match &error {
            Error::Invalid(errors) => {
                for (field, message) in &errors.0 {
                    fields.insert(field.to_string(), message.clone());
                }
            }
            Error::Conflict {
                field: Some(field),
                message,
            } => {
                fields.insert(field.to_string(), message.clone());
            }
            _ => {}
        }
        Self {
            status,
            code: error.code(),
            message: error.to_string(),
            fields,
            job_id: match &error {
                Error::Busy { job_id } => Some(job_id.to_string()),
                _ => None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                fields: self.fields,
                job_id: self.job_id,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"meridian\""),
            );
        }
        response
    }
}

/// A handler's result: a status and a JSON body, or an error.
pub type ApiResult<T> = Result<(StatusCode, axum::Json<T>), ApiError>;

/// 200 with `value`.
fn ok<T>(value: T) -> ApiResult<T> {
    Ok((StatusCode::OK, axum::Json(value)))
}

/// A request body as JSON; anything else is a 400 that says what was wrong.
fn body_json<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::bad_request(
            "Send the body as JSON (Content-Type: application/json).",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("The JSON body does not fit: {error}.")))
}

// ---------------------------------------------------------------------------------------------
// Who is calling
// ---------------------------------------------------------------------------------------------

/// The caller of a REST request, from its bearer token: an API key's secret. The context acts as
/// the key's user with their role as it is now, and the audit log names the key.
pub struct Caller(pub OpContext);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                let mut error = ApiError::from(Error::Unauthenticated);
                error.message =
                    "Send an API key's secret as a bearer token: Authorization: Bearer <secret>.".into();
                error
            })?;
        let request = RequestMeta::from_parts(parts);
        Ok(Caller(
            edge::bearer_context(&state.control, token, request).await?,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

/// Paging of a list: `limit` items (1–1000, default 100) after skipping `offset`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Items per page, 1–1000 (default 100).
    limit: Option<String>,
    /// Items to skip (default 0).
    offset: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// How many items the whole list has.
    pub total: usize,
    /// The page size used.
    pub limit: usize,
    /// Items skipped before this page.
    pub offset: usize,
    /// The offset of the next page, if there is one.
    pub next_offset: Option<usize>,
}

impl Paging {
    /// One page of `items`; a limit or offset that is not a number in range is a field error.
    fn page<T>(&self, items: Vec<T>) -> Result<Page<T>, ApiError> {
        let mut errors = meridian_core::FieldErrors::default();
        let limit = match self.limit.as_deref() {
            None => Some(100),
            Some(raw) => match raw.parse::<usize>() {
                Ok(n @ 1..=1000) => Some(n),
                _ => {
                    errors.push("limit", "Use a whole number from 1 to 1000.");
                    None
                }
            },
        };
        let offset = match self.offset.as_deref() {
            None => Some(0),
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push("offset", "Use a whole number from 0.");
                    None
                }
            },
        };
        let (Some(limit), Some(offset)) = (limit, offset) else {
            return Err(Error::Invalid(errors).into());
        };
        let total = items.len();
        let items: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
        let next_offset = (offset.saturating_add(limit) < total).then_some(offset + limit);
        Ok(Page {
            items,
            total,
            limit,
            offset,
            next_offset,
        })
    }
}

/// Reads the paging parameters; unknown ones are ignored.
impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut paging = Paging::default();
        for (name, value) in form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "limit" => paging.limit = Some(value.into_owned()),
                "offset" => paging.offset = Some(value.into_owned()),
                _ => {}
            }
        }
        Ok(paging)
    }
}

// ---------------------------------------------------------------------------------------------
// Idempotent creates
// ---------------------------------------------------------------------------------------------

/// Runs a create once per `Idempotency-Key`: the first request runs and its success is kept for
/// a day; a retry with the same key and the same request gets that answer again (with
/// `Idempotency-Replayed: true`); the same key with another request is refused; a refusal lets
/// the key go, so a corrected retry runs. Without the header the create simply runs.
///
/// With a key, the resource gets an id derived from the user, the key and the request
/// ([`Control::idempotency_resource_id`]). A retry whose key holds no answer (the first request is
/// still running, or its server died after the create committed and before the answer was kept)
/// first looks for a resource with that id and answers for it (`existing`); only if there is none
/// does it run the create, and the id, a primary key, lets at most one of two racing creates
/// through. So a crash at any moment never makes a second resource, and never leaves the key
/// stuck.
///
/// The create runs in a task of its own, so a client hanging up mid-way cannot leave the key
/// claimed with no answer.
async fn idempotent<C, F, E, G>(
    control: &Control,
    ctx: OpContext,
    headers: &HeaderMap,
    route: &str,
    body: &Bytes,
    create: C,
    existing: E,
) -> Response
where
    C: FnOnce(Option<uuid::Uuid>) -> F + Send + 'static,
    F: Future<Output = Result<(StatusCode, serde_json::Value), ApiError>> + Send + 'static,
    E: Fn(uuid::Uuid) -> G + Send + 'static,
    G: Future<Output = Result<Option<(StatusCode, serde_json::Value)>, ApiError>> + Send + 'static,
{
    let Some(key) = headers.get("idempotency-key") else {
        return json_answer(create(None).await);
    };
    let Ok(key) = key.to_str().map(str::to_owned) else {
        let mut errors = meridian_core::FieldErrors::default();
        errors.push(
            "Idempotency-Key",
            "Use 1 to 255 visible ASCII characters, e.g. a UUID.",
        );
        return ApiError::from(Error::Invalid(errors)).into_response();
    };
    let fingerprint = meridian_core::api_key::sha256_hex(&[route.as_bytes(), b"\n", body].concat());
    let claim = match control.idempotency_claim(&ctx, &key, &fingerprint).await {
        Ok(claim) => claim,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let id = match control.idempotency_resource_id(&ctx, &key, &fingerprint) {
        Ok(id) => id,
        Err(error) => return ApiError::from(error).into_response(),
    };
    match claim {
        IdempotencyClaim::Fresh | IdempotencyClaim::InFlight => {
            // Only the request that claimed the key may let it go; a retry of one in flight
            // never does (the first may yet succeed).
            let claimed_here = claim == IdempotencyClaim::Fresh;
            let control = control.clone();
            let task = tokio::spawn(async move {
                let keep = |answer: (StatusCode, serde_json::Value)| {
                    let (control, ctx, key) = (control.clone(), ctx.clone(), key.clone());
                    async move {
                        let body = answer.1.to_string();
                        if let Err(error) = control
                            .idempotency_finish(&ctx, &key, Some((answer.0.as_u16(), &body)))
                            .await
                        {
                            tracing::warn!(error = ?error, "idempotency key's answer not kept");
                        }
                        answer
                    }
                };
                // Made already, by this key's first request.
                if let Some(answer) = existing(id).await? {
                    return Ok((keep(answer).await, true));
                }
                match create(Some(id)).await {
                    Ok(answer) => Ok((keep(answer).await, false)),
                    // Refused: a twin request with the same key may have won the race for the id
                    // (the refusal is then its conflict, or a quota it filled); else nothing was
                    // made, and a corrected retry may use the key.
                    Err(error) if error.status.is_client_error() => match existing(id).await? {
                        Some(answer) => Ok((keep(answer).await, true)),
                        None => {
                            if claimed_here {
                                release(&control, &ctx, &key).await;
                            }
                            Err(error)
                        }
                    },
                    // A failure on our side: the claim stays; a retry finds what was made, if
                    // anything, by its id.
                    Err(error) => Err(error),
                }
            });
            match task.await {
                Ok(Ok(((status, value), replayed))) => {
                    let mut response = (status, axum::Json(value)).into_response();
                    if replayed {
                        response.headers_mut().insert(
                            header::HeaderName::from_static("idempotency-replayed"),
                            http::HeaderValue::from_static("true"),
                        );
                    }
                    response
                }
                Ok(Err(error)) => error.into_response(),
                Err(error) => ApiError::from(Error::internal(error)).into_response(),
            }
        }
        IdempotencyClaim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            (
                status,
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::HeaderName::from_static("idempotency-replayed"), "true"),
                ],
                body,
            )
                .into_response()
        }
        IdempotencyClaim::Mismatch => ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "idempotency_key_reused",
            message:
                "This Idempotency-Key was used for a different request; use a new key for a new request."
                    .into(),
            fields: BTreeMap::new(),
            job_id: None,
        }
        .into_response(),
    }
}

/// Lets a key go after a refusal.
async fn release(control: &Control, ctx: &OpContext, key: &str) {
    if let Err(error) = control.idempotency_finish(ctx, key, None).await {
        tracing::warn!(error = ?error, "idempotency key not released");
    }
}

fn json_answer(result: Result<(StatusCode, serde_json::Value), ApiError>) -> Response {
    match result {
        Ok((status, value)) => (status, axum::Json(value)).into_response(),
        Err(error) => error.into_response(),
    }
}

/// A value as JSON for [`idempotent`].
fn to_json<T: Serialize>(status: StatusCode, value: &T) -> Result<(StatusCode, serde_json::Value), ApiError> {
    serde_json::to_value(value)
        .map(|value| (status, value))
        .map_err(|error| Error::internal(error).into())
}
