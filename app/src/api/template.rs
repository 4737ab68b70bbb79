//! Template server functions.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;

pub use meridian_core::view::Template;

/// The tenant's own templates.
#[server(prefix = "/fn", endpoint = "template_list")]
pub async fn template_list() -> Result<Vec<Template>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.template_list(&ctx).await?)
}

/// Creates a tenant template.
#[server(prefix = "/fn", endpoint = "template_create")]
pub async fn template_create(name: String, base: String, user_data: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    control.template_create(&ctx, &name, &base, &user_data).await?;
    Ok(())
}

/// Removes a tenant template.
#[server(prefix = "/fn", endpoint = "template_delete")]
pub async fn template_delete(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .template_delete(&ctx, meridian_control::Error::id(&id)?)
        .await?)
}
