//! Views of an account: API keys and the audit log.

use crate::id::ApiKeyId;
use serde::{Deserialize, Serialize};

/// An API key as its owner sees it; its secret is never shown again after creation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Id (for revoking).
    pub id: ApiKeyId,
    /// Name.
    pub name: String,
    /// The public key, `mk_…`.
    pub api_key: String,
    /// When it was made (Unix ms).
    pub created_at: i64,
    /// When it was last used (Unix ms), to the minute.
    pub last_used_at: Option<i64>,
}

/// One entry of a tenant's audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (Unix ms).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Result.
    pub result: String,
    /// From where.
    pub client: String,
    /// The request that did it.
    pub request_id: String,
}
