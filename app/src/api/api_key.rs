//! API key server functions: make (secret shown once), list, revoke.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A key as Settings lists it; its secret is never shown again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Id (for revoking).
    pub id: String,
    /// Name.
    pub name: String,
    /// The public key, `mk_…`.
    pub api_key: String,
    /// When it was made (Unix ms).
    pub created_at: i64,
    /// When it was last used (Unix ms), to the minute.
    pub last_used_at: Option<i64>,
}

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

#[cfg(feature = "ssr")]
impl From<meridian_control::store::api_key::ApiKeyRow> for ApiKey {
    fn from(row: meridian_control::store::api_key::ApiKeyRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            api_key: row.api_key,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// The signed-in user's keys.
#[server(prefix = "/fn", endpoint = "api_key_list")]
pub async fn api_key_list() -> Result<Vec<ApiKey>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .api_key_list(&ctx)
        .await?
        .into_iter()
        .map(ApiKey::from)
        .collect())
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
    Ok(control.api_key_revoke(&ctx, &id).await?)
}
