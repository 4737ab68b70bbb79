//! Template server functions.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A tenant template as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Id (what the VM form submits).
    pub id: String,
    /// Name.
    pub name: String,
    /// The built-in template's name it is based on.
    pub base: String,
    /// Its cloud-config.
    pub user_data: String,
}

/// The tenant's own templates.
#[server(prefix = "/fn", endpoint = "template_list")]
pub async fn template_list() -> Result<Vec<Template>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .template_list(&ctx)
        .await?
        .into_iter()
        .map(|t| Template {
            base: t
                .base
                .parse()
                .ok()
                .and_then(meridian_core::resource::BuiltinTemplate::find)
                .map_or_else(|| t.base.clone(), |b| b.name.to_owned()),
            id: t.id,
            name: t.name,
            user_data: t.user_data,
        })
        .collect())
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
    Ok(control.template_delete(&ctx, &id).await?)
}
