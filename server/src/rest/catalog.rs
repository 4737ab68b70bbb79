//! REST: what VMs are made from (sizes, templates) and the SSH keys installed on them.

use super::{ApiError, ApiResult, Caller, Page, Paging, body_json, ok};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::{HeaderMap, StatusCode};
use meridian_core::pricing::hourly_rate;
use meridian_core::resource::{BUILTIN_TEMPLATES, SIZES};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A VM size.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Size {
    /// Code to create with, e.g. `m`.
    pub code: String,
    /// Its name, e.g. `Kestrel`.
    pub name: String,
    /// vCPUs.
    pub vcpus: u32,
    /// Memory in MiB.
    pub memory_mib: u32,
    /// Disk in GiB.
    pub disk_gib: u32,
    /// Price per hour running, in millionths of a US dollar (bandwidth is never charged).
    pub hourly_micro_usd: i64,
    /// What a dedicated host adds per hour running, in millionths of a US dollar (half the
    /// compute).
    pub dedicated_hourly_micro_usd: i64,
}

/// Lists the VM sizes with their hourly prices.
#[utoipa::path(get, path = "/api/v1/sizes", tag = "catalog", params(Paging),
    responses((status = 200, body = Page<Size>), (status = 401, body = super::ApiErrorBody)))]
pub async fn size_list(Caller(_ctx): Caller, paging: Paging) -> ApiResult<Page<Size>> {
    let sizes = SIZES
        .iter()
        .map(|s| Size {
            code: s.code.to_owned(),
            name: s.name.to_owned(),
            vcpus: s.size.vcpus.get(),
            memory_mib: s.size.memory_mib.get(),
            disk_gib: s.size.disk_gib.get(),
            hourly_micro_usd: hourly_rate(&s.size).micros(),
            dedicated_hourly_micro_usd: meridian_core::pricing::dedicated_premium(&s.size).micros(),
        })
        .collect();
    ok(paging.page(sizes)?)
}

/// A template: a built-in image, or one of yours (a built-in image with your cloud-config).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Template {
    /// What to create VMs with: a built-in's slug (e.g. `coreos-docker`) or your template's id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `builtin` or `own`.
    pub kind: String,
    /// For your templates: the built-in it starts from.
    pub base: Option<String>,
    /// For your templates: the cloud-config it adds.
    pub user_data: Option<String>,
}

impl From<meridian_core::view::Template> for Template {
    /// One of the tenant's templates as a catalogue entry.
    fn from(own: meridian_core::view::Template) -> Self {
        Self {
            id: own.id.to_string(),
            name: own.name,
            kind: "own".into(),
            base: Some(own.base),
            user_data: Some(own.user_data),
        }
    }
}

/// A new template.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateCreate {
    /// Name.
    pub name: String,
    /// The built-in template it starts from, e.g. `ubuntu-24-04`.
    pub base: String,
    /// Cloud-config.
    pub user_data: String,
}

/// Lists the built-in templates and yours.
#[utoipa::path(get, path = "/api/v1/templates", tag = "catalog", params(Paging),
    responses((status = 200, body = Page<Template>), (status = 401, body = super::ApiErrorBody)))]
pub async fn template_list(
    state: State<AppState>,
    Caller(ctx): Caller,
    paging: Paging,
) -> ApiResult<Page<Template>> {
    let mut templates: Vec<Template> = BUILTIN_TEMPLATES
        .iter()
        .map(|t| Template {
            id: t.slug.to_owned(),
            name: t.name.to_owned(),
            kind: "builtin".into(),
            base: None,
            user_data: None,
        })
        .collect();
    templates.extend(
        state
            .control
            .template_list(&ctx)
            .await?
            .into_iter()
            .map(Template::from),
    );
    ok(paging.page(templates)?)
}

/// Makes a template of a built-in image and your cloud-config.
#[utoipa::path(post, path = "/api/v1/templates", tag = "catalog", request_body = TemplateCreate,
    responses((status = 201, body = Template), (status = 422, body = super::ApiErrorBody), (status = 409, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody)))]
pub async fn template_create(
    state: State<AppState>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Template> {
    let input: TemplateCreate = body_json(&headers, &body)?;
    let row = state
        .control
        .template_create(&ctx, &input.name, &input.base, &input.user_data)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(Template::from(row))))
}

/// Removes one of your templates (VMs made from it keep running).
#[utoipa::path(delete, path = "/api/v1/templates/{id}", tag = "catalog", params(("id" = String, Path, description = "Template id")),
    responses((status = 204, description = "Removed."), (status = 404, body = super::ApiErrorBody), (status = 403, body = super::ApiErrorBody)))]
pub async fn template_delete(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .control
        .template_delete(&ctx, meridian_control::Error::id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub use meridian_core::view::SshKey;

/// A new SSH key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SshKeyCreate {
    /// Name.
    pub name: String,
    /// The key in OpenSSH format (`ssh-ed25519 AAAA… you@laptop`).
    pub public_key: String,
}

/// Lists your SSH keys.
#[utoipa::path(get, path = "/api/v1/ssh-keys", tag = "catalog", params(Paging),
    responses((status = 200, body = Page<SshKey>), (status = 401, body = super::ApiErrorBody)))]
pub async fn ssh_key_list(
    state: State<AppState>,
    Caller(ctx): Caller,
    paging: Paging,
) -> ApiResult<Page<SshKey>> {
    let keys = state.control.ssh_key_list(&ctx).await?;
    ok(paging.page(keys)?)
}

/// Adds an SSH key.
#[utoipa::path(post, path = "/api/v1/ssh-keys", tag = "catalog", request_body = SshKeyCreate,
    responses((status = 201, body = SshKey), (status = 422, body = super::ApiErrorBody), (status = 409, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody)))]
pub async fn ssh_key_create(
    state: State<AppState>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<SshKey> {
    let input: SshKeyCreate = body_json(&headers, &body)?;
    let row = state
        .control
        .ssh_key_create(&ctx, &input.name, &input.public_key)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(row)))
}

/// Removes an SSH key (VMs that have it keep it).
#[utoipa::path(delete, path = "/api/v1/ssh-keys/{id}", tag = "catalog", params(("id" = String, Path, description = "SSH key id")),
    responses((status = 204, description = "Removed."), (status = 404, body = super::ApiErrorBody), (status = 403, body = super::ApiErrorBody)))]
pub async fn ssh_key_delete(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .control
        .ssh_key_delete(&ctx, meridian_control::Error::id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
