//! SSH keys: added once, installed into the VMs that name them.

use crate::context::OpContext;
use crate::store::ssh_key::SshKeyRow;
use crate::store::{is_unique_violation, now_ms};
use crate::{Control, Error};
use meridian_core::FieldErrors;
use meridian_core::id::SshKeyId;
use meridian_core::resource::{Name, SshPublicKey};
use meridian_core::view;

impl Control {
    /// Adds a public key after checking it is a well-formed OpenSSH key.
    pub async fn ssh_key_create(
        &self,
        ctx: &OpContext,
        name: &str,
        public_key: &str,
    ) -> Result<view::SshKey, Error> {
        self.audited(ctx, "ssh_key.create", name, async {
            let tenant = ctx.tenant_for_mutation()?;
            let mut errors = FieldErrors::default();
            let name = errors.check("name", Name::parse(name));
            let key = errors.check("public_key", SshPublicKey::parse(public_key));
            let (Some(name), Some(key)) = (name, key) else {
                return Err(Error::Invalid(errors));
            };
            let row = SshKeyRow {
                id: uuid::Uuid::new_v4().to_string(),
                name: name.as_str().to_owned(),
                public_key: key.to_openssh(),
                fingerprint: key.fingerprint(),
            };
            match self.store.ssh_key_insert(&tenant, &row, now_ms()).await {
                Err(error) if is_unique_violation(&error) => Err(Error::Conflict {
                    field: Some("public_key"),
                    message: "You already have this key, or a key with this name.".into(),
                }),
                other => other.map(|()| row.into()).map_err(Error::from),
            }
        })
        .await
    }

    /// The tenant's keys.
    pub async fn ssh_key_list(&self, ctx: &OpContext) -> Result<Vec<view::SshKey>, Error> {
        let tenant = ctx.tenant()?;
        let rows = self.store.ssh_key_list(&tenant.to_string()).await?;
        Ok(rows.into_iter().map(view::SshKey::from).collect())
    }

    /// Removes a key (VMs that have it keep it: it is already installed in them).
    pub async fn ssh_key_delete(&self, ctx: &OpContext, id: SshKeyId) -> Result<(), Error> {
        let id = id.to_string();
        self.audited(ctx, "ssh_key.delete", &id, async {
            let tenant = ctx.tenant_for_mutation()?;
            if self.store.ssh_key_delete(&tenant, &id).await? {
                Ok(())
            } else {
                Err(Error::NotFound)
            }
        })
        .await
    }
}
