//! A tenant's users: invitations, roles, removal; and the tenant-wide settings owners control
//! (residency), plus the quota view.

use crate::account::Account;
use crate::context::OpContext;
use crate::store::invite::InviteRow;
use crate::store::user::UserRow;
use crate::store::{Store, is_unique_violation, now_ms};
use crate::{Control, Error};
use base64::Engine;
use meridian_core::residency::ResidencyPolicy;
use meridian_core::resource::{Quota, QuotaUsage};
use meridian_core::{Email, FieldErrors, Password, Role, TenantId, UserId};
use sha2::{Digest, Sha256};

/// How long an invitation link works.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 3_600_000;

fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

fn owner_only(ctx: &OpContext, what: &str) -> Result<String, Error> {
    let (_, tenant, role) = ctx.user()?;
    if role == Role::Owner {
        Ok(tenant.to_string())
    } else {
        Err(Error::Forbidden(format!("Only an owner can {what}.")))
    }
}

impl Control {
    /// The tenant's users as `(id, email, role)`.
    pub async fn user_list(&self, ctx: &OpContext) -> Result<Vec<(String, String, String)>, Error> {
        let tenant = ctx.tenant()?;
        Ok(self.store.user_list(&tenant.to_string()).await?)
    }

    /// Invites someone by e-mail with a role; returns the one-time token for the invitation link.
    pub async fn user_invite(&self, ctx: &OpContext, email: &str, role: &str) -> Result<String, Error> {
        self.audited(ctx, "user.invite", email, async {
            let tenant = owner_only(ctx, "invite users")?;
            let mut errors = FieldErrors::default();
            let email = errors.check("email", Email::parse(email));
            let role = errors.check("role", Role::parse(role));
            let (Some(email), Some(role)) = (email, role) else {
                return Err(Error::Invalid(errors));
            };
            if self.store.user_by_email(&email).await?.is_some() {
                return Err(Error::Conflict {
                    field: Some("email"),
                    message: "This address already has a Meridian account.".into(),
                });
            }
            let token = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            let now = now_ms();
            let invite = InviteRow {
                tenant_id: tenant,
                email: email.as_str().to_owned(),
                role,
                expires_at: now + INVITE_TTL_MS,
            };
            self.store
                .invite_insert(&token_hash(&token), &invite, now)
                .await?;
            Ok(token)
        })
        .await
    }

    /// Accepts an invitation: creates the user with the invited role and the chosen password.
    pub async fn invite_accept(
        &self,
        ctx: &OpContext,
        token: &str,
        password: &str,
    ) -> Result<Account, Error> {
        let password = Password::parse(password).map_err(|e| {
            let mut errors = FieldErrors::default();
            errors.push("password", e.to_string());
            Error::Invalid(errors)
        })?;
        // A made-up token costs a read, not a password hash: hashing is what anonymous callers
        // could otherwise make the server do without limit.
        if !self.store.invite_open(&token_hash(token), now_ms()).await? {
            return Err(Error::NotFound);
        }
        let hash = self.passwords.hash(&password).await?;
        let mut tx = self.store.begin_write().await?;
        let Some(invite) = Store::invite_take(&mut tx, &token_hash(token), now_ms()).await? else {
            return Err(Error::NotFound);
        };
        let tenant_id: TenantId = invite.tenant_id.parse().map_err(Error::internal)?;
        let user = UserRow {
            id: UserId(uuid::Uuid::new_v4()),
            tenant_id,
            email: invite.email.clone(),
            password_hash: hash,
            role: invite.role,
        };
        match Store::user_insert(&mut tx, &user, now_ms()).await {
            Err(error) if is_unique_violation(&error) => {
                return Err(Error::Conflict {
                    field: None,
                    message: "This address already has a Meridian account.".into(),
                });
            }
            other => other?,
        }
        tx.commit().await?;
        let as_user = OpContext::new(
            crate::Actor::User {
                user_id: user.id,
                tenant_id,
                role: user.role,
            },
            ctx.request_id.clone(),
        );
        let as_user = OpContext {
            client: ctx.client.clone(),
            ..as_user
        };
        self.audit_record(&as_user, tenant_id, "user.join", &user.email, None)
            .await;
        self.account_view(&as_user).await
    }

    /// Changes a user's role. The tenant always keeps at least one owner.
    pub async fn user_role_set(&self, ctx: &OpContext, user_id: UserId, role: &str) -> Result<(), Error> {
        let user_id = &user_id.to_string();
        self.audited(ctx, "user.role_set", &format!("{user_id} → {role}"), async {
            let tenant = owner_only(ctx, "change roles")?;
            let role = Role::parse(role).map_err(|e| {
                let mut errors = FieldErrors::default();
                errors.push("role", e.to_string());
                Error::Invalid(errors)
            })?;
            self.keep_an_owner(&tenant, user_id, role != Role::Owner).await?;
            if !self.store.user_role_update(&tenant, user_id, role).await? {
                return Err(Error::NotFound);
            }
            Ok(())
        })
        .await
    }

    /// Removes a user from the tenant; their sessions end with them. The last owner stays.
    pub async fn user_remove(&self, ctx: &OpContext, user_id: UserId) -> Result<(), Error> {
        let user_id = &user_id.to_string();
        self.audited(ctx, "user.remove", user_id, async {
            let tenant = owner_only(ctx, "remove users")?;
            self.keep_an_owner(&tenant, user_id, true).await?;
            if !self.store.user_delete(&tenant, user_id).await? {
                return Err(Error::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn keep_an_owner(&self, tenant: &str, user_id: &str, losing_owner: bool) -> Result<(), Error> {
        let users = self.store.user_list(tenant).await?;
        let owners: Vec<&String> = users
            .iter()
            .filter(|(_, _, role)| role == "owner")
            .map(|(id, _, _)| id)
            .collect();
        if losing_owner && owners.len() == 1 && owners[0] == user_id {
            return Err(Error::Forbidden(
                "A tenant needs at least one owner: make someone else an owner first.".into(),
            ));
        }
        Ok(())
    }

    /// The tenant's quota and what is in use.
    pub async fn quota_view(&self, ctx: &OpContext) -> Result<(Quota, QuotaUsage), Error> {
        let tenant = ctx.tenant()?;
        self.store
            .quota_get(&tenant.to_string())
            .await?
            .ok_or(Error::NotFound)
    }

    /// The tenant's residency policy.
    pub async fn residency_view(&self, ctx: &OpContext) -> Result<ResidencyPolicy, Error> {
        let tenant = ctx.tenant()?;
        self.residency(&tenant.to_string()).await
    }

    /// Sets the residency policy. Refused while a VM runs somewhere the new policy forbids.
    pub async fn residency_set(&self, ctx: &OpContext, policy: &str) -> Result<ResidencyPolicy, Error> {
        self.audited(ctx, "tenant.residency_set", policy, async {
            let tenant = owner_only(ctx, "change the residency policy")?;
            let policy = ResidencyPolicy::parse(policy).map_err(|e| {
                let mut errors = FieldErrors::default();
                errors.push("policy", e.to_string());
                Error::Invalid(errors)
            })?;
            let outside: Vec<String> = self
                .store
                .vm_list(&tenant)
                .await?
                .into_iter()
                .filter(|vm| {
                    meridian_core::zone::ZoneId::parse(&vm.zone).is_ok_and(|zone| !policy.allows(zone))
                })
                .map(|vm| format!("{} ({})", vm.name, vm.zone))
                .collect();
            if !outside.is_empty() {
                let mut errors = FieldErrors::default();
                errors.push(
                    "policy",
                    format!(
                        "These VMs are outside that policy: {}. Destroy or move them first.",
                        outside.join(", ")
                    ),
                );
                return Err(Error::Invalid(errors));
            }
            self.store
                .tenant_set_residency(&tenant, &policy.to_string())
                .await?;
            Ok(policy)
        })
        .await
    }
}
