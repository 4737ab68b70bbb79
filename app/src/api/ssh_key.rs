//! SSH key server functions.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;

pub use meridian_core::view::SshKey;

/// The tenant's keys.
#[server(prefix = "/fn", endpoint = "ssh_key_list")]
pub async fn ssh_key_list() -> Result<Vec<SshKey>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.ssh_key_list(&ctx).await?)
}

/// Adds a key.
#[server(prefix = "/fn", endpoint = "ssh_key_create")]
pub async fn ssh_key_create(name: String, public_key: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    control.ssh_key_create(&ctx, &name, &public_key).await?;
    Ok(())
}

/// Removes a key.
#[server(prefix = "/fn", endpoint = "ssh_key_delete")]
pub async fn ssh_key_delete(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .ssh_key_delete(&ctx, meridian_control::Error::id(&id)?)
        .await?)
}
