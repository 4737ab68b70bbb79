//! Views of the tenant's catalogue: its own templates and SSH keys.

use crate::id::{SshKeyId, TemplateId};
use serde::{Deserialize, Serialize};

/// One of the tenant's templates: a built-in image with the tenant's cloud-config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Id (what a VM create names).
    pub id: TemplateId,
    /// Name.
    pub name: String,
    /// The built-in template's slug it starts from.
    pub base: String,
    /// That built-in's name (the slug again if it is no longer offered).
    pub base_name: String,
    /// Its cloud-config.
    pub user_data: String,
}

/// An SSH public key to install on VMs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SshKey {
    /// Id (to name it when creating a VM).
    pub id: SshKeyId,
    /// Name.
    pub name: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The key in OpenSSH format.
    pub public_key: String,
}
