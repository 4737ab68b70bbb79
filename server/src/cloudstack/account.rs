//! The account commands: the caller's SSH key pairs.

use super::Params;
use super::commands::Command;
use super::envelope::{CsError, list, unanswered};
use meridian_control::{Control, OpContext};
use serde_json::{Value, json};

/// Runs one of this group's commands.
pub(super) async fn run(
    control: &Control,
    ctx: &OpContext,
    spec: &Command,
    params: &Params,
) -> Result<Value, CsError> {
    match spec.name {
        "registerSSHKeyPair" => {
            let key = control
                .ssh_key_create(ctx, params.required("name")?, params.required("publickey")?)
                .await?;
            Ok(
                json!({ "keypair": { "name": key.name, "fingerprint": key.fingerprint, "publickey": key.public_key } }),
            )
        }
        "listSSHKeyPairs" => {
            let keys = control
                .ssh_key_list(ctx)
                .await?
                .into_iter()
                .filter(|key| params.get("name").is_none_or(|name| name == key.name))
                .map(|key| json!({ "name": key.name, "fingerprint": key.fingerprint, "publickey": key.public_key }))
                .collect();
            list("sshkeypair", keys, params)
        }
        "deleteSSHKeyPair" => {
            let name = params.required("name")?;
            let key = control
                .ssh_key_list(ctx)
                .await?
                .into_iter()
                .find(|key| key.name == name)
                .ok_or_else(|| CsError::param("name: you have no SSH key pair with this name."))?;
            control.ssh_key_delete(ctx, key.id).await?;
            Ok(json!({ "success": "true" }))
        }
        other => Err(unanswered(other)),
    }
}
