//! API key server functions: make (secret shown once), list, revoke.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use meridian_core::view::ApiKey;

/// A key just made, with its secret: the only time the secret is seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyCreated {
    /// The key's name.
    pub name: String,
    /// The public key.
    pub api_key: String,
    /// The secret.
    pub secret: String,
}

/// The signed-in user's keys.
#[server(prefix = "/fn", endpoint = "api_key_list")]
pub async fn api_key_list() -> Result<Vec<ApiKey>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.api_key_list(&ctx).await?)
}

/// Makes a key acting as the signed-in user.
#[server(prefix = "/fn", endpoint = "api_key_create")]
pub async fn api_key_create(name: String) -> Result<ApiKeyCreated, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let made = control.api_key_create(&ctx, &name).await?;
    Ok(ApiKeyCreated {
        name: made.key.name,
        api_key: made.key.api_key,
        secret: made.secret,
    })
}

/// Revokes one of the signed-in user's keys.
#[server(prefix = "/fn", endpoint = "api_key_revoke")]
pub async fn api_key_revoke(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .api_key_revoke(&ctx, meridian_control::Error::id(&id)?)
        .await?)
}
