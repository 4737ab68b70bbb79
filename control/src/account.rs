//! Accounts: sign-up, log-in, the signed-in user's view, password changes.

use crate::context::{Actor, OpContext};
use crate::store::user::UserRow;
use crate::store::{Store, is_unique_violation, now_ms};
use crate::{Control, Error};
use meridian_core::{Email, FieldErrors, Password, Role, Signup, TenantId, UserId};
use serde::{Deserialize, Serialize};

/// A successful log-in: the account, and the known-device token to keep in the browser (it lets
/// this browser log in to the account however many guesses others made).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedIn {
    /// The account logged in to.
    pub account: Account,
    /// The browser's new known-device token for it.
    pub device_token: String,
}

/// The signed-in user and their tenant, as the dashboard shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The user.
    pub user_id: UserId,
    /// The user's e-mail address.
    pub email: String,
    /// The user's role in the tenant.
    pub role: Role,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The tenant's name.
    pub tenant_name: String,
}

impl Control {
    /// Creates a tenant and its owner in one transaction. A taken address changes nothing.
    pub async fn account_signup(&self, ctx: &OpContext, signup: Signup) -> Result<Account, Error> {
        if ctx.actor != Actor::Anonymous {
            return Err(Error::Forbidden(
                "Log out before creating another account.".into(),
            ));
        }
        // Per address, before the password is hashed; every sign-up counts, made or refused.
        if let Some(address) = ctx.client.as_deref() {
            let budgets = vec![meridian_core::throttle::Budget::signup(address)];
            let _counted = self.throttle_admit(ctx, "signup", budgets).await?;
        }
        let password_hash = self.passwords.hash(&signup.password).await?;
        let tenant_id = TenantId(uuid::Uuid::new_v4());
        let user = UserRow {
            id: UserId(uuid::Uuid::new_v4()),
            tenant_id,
            email: signup.email.as_str().to_owned(),
            password_hash,
            role: Role::Owner,
        };
        let now = now_ms();
        let mut tx = self.store.begin_write().await?;
        Store::tenant_insert(&mut tx, tenant_id, &signup.tenant_name, now).await?;
        Store::quota_insert(
            &mut tx,
            &tenant_id.to_string(),
            &meridian_core::resource::Quota::default(),
        )
        .await?;
        match Store::user_insert(&mut tx, &user, now).await {
            Err(error) if is_unique_violation(&error) => {
                return Err(Error::Conflict {
                    field: Some("email"),
                    message: "An account with this e-mail address already exists. Log in instead.".into(),
                });
            }
            other => other?,
        }
        tx.commit().await?;
        tracing::info!(tenant.id = %tenant_id, user.id = %user.id, request.id = %ctx.request_id, "tenant signed up");
        let owner = OpContext {
            actor: Actor::User {
                user_id: user.id,
                tenant_id,
                role: user.role,
            },
            ..ctx.clone()
        };
        self.audit_record(&owner, tenant_id, "account.signup", &user.email, None)
            .await;
        Ok(Account {
            user_id: user.id,
            email: user.email,
            role: user.role,
            tenant_id,
            tenant_name: signup.tenant_name.as_str().to_owned(),
        })
    }

    /// Checks an e-mail and password. Unknown address and wrong password fail alike, in the same time.
    pub async fn account_login(
        &self,
        ctx: &OpContext,
        email: &str,
        password: &str,
    ) -> Result<Account, Error> {
        Ok(self
            .account_login_on_device(ctx, email, password, None)
            .await?
            .account)
    }

    /// [`Control::account_login`] from a browser that may hold a known-device token: with one
    /// issued for this account, the attempt spends only that device's budget, not the ones
    /// attackers elsewhere can spend. A success answers with a fresh token for the browser.
    pub async fn account_login_on_device(
        &self,
        ctx: &OpContext,
        email: &str,
        password: &str,
        device_token: Option<&str>,
    ) -> Result<LoggedIn, Error> {
        let throttle_key = format!("user:{}", email.trim().to_lowercase());
        let device = self.device_known(&throttle_key, device_token);
        let budgets =
            meridian_core::throttle::login_budgets(&throttle_key, ctx.client.as_deref(), device.as_deref());
        let attempt = self.throttle_admit(ctx, "login", budgets).await?;
        let user = match Email::parse(email) {
            Ok(email) => self.store.user_by_email(&email).await?,
            Err(_) => None,
        };
        let verified = self
            .passwords
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        match user {
            Some(user) if verified => {
                self.throttle_succeeded(attempt).await?;
                if self.tenant_is_suspended(user.tenant_id).await? {
                    tracing::info!(user.id = %user.id, request.id = %ctx.request_id, "log-in refused: tenant suspended");
                    self.audit_record(
                        ctx,
                        user.tenant_id,
                        "account.login",
                        &user.email,
                        Some(&Error::Suspended),
                    )
                    .await;
                    return Err(Error::Suspended);
                }
                tracing::info!(user.id = %user.id, request.id = %ctx.request_id, known_device = device.is_some(), "user logged in");
                let as_user = OpContext {
                    actor: Actor::User {
                        user_id: user.id,
                        tenant_id: user.tenant_id,
                        role: user.role,
                    },
                    ..ctx.clone()
                };
                self.audit_record(&as_user, user.tenant_id, "account.login", &user.email, None)
                    .await;
                Ok(LoggedIn {
                    account: self.account_of(user).await?,
                    device_token: self.device_token(&throttle_key, device),
                })
            }
            Some(user) => {
                // The account's owner should see attempts on it, so a refused log-in on a known
                // account is audited in its tenant (unknown addresses have no tenant to tell).
                tracing::info!(request.id = %ctx.request_id, "log-in refused");
                self.audit_record(
                    ctx,
                    user.tenant_id,
                    "account.login",
                    &user.email,
                    Some(&Error::BadCredentials),
                )
                .await;
                Err(Error::BadCredentials)
            }
            None => {
                tracing::info!(request.id = %ctx.request_id, "log-in refused");
                Err(Error::BadCredentials)
            }
        }
    }

    /// The actor a session's user id stands for now: role and tenant are read fresh on every
    /// request, so a changed role, a removed user or a suspended tenant takes effect at once.
    pub async fn actor_for_session(&self, user_id: UserId) -> Result<Actor, Error> {
        Ok(match self.store.user_active(user_id).await? {
            Some((user, true)) => Actor::User {
                user_id: user.id,
                tenant_id: user.tenant_id,
                role: user.role,
            },
            _ => Actor::Anonymous,
        })
    }

    /// Whether Meridian has suspended the tenant (a missing tenant counts as suspended).
    pub(crate) async fn tenant_is_suspended(&self, tenant: meridian_core::TenantId) -> Result<bool, Error> {
        Ok(self
            .store
            .tenant_get(tenant)
            .await?
            .is_none_or(|t| t.suspended_at.is_some()))
    }

    /// Refuses to create anything for a suspended tenant (whoever asks: a session, a key, a job).
    pub(crate) async fn tenant_active(&self, tenant: &str) -> Result<(), Error> {
        let id = tenant.parse().map_err(Error::internal)?;
        if self.tenant_is_suspended(id).await? {
            return Err(Error::Suspended);
        }
        Ok(())
    }

    /// The signed-in user's account.
    pub async fn account_view(&self, ctx: &OpContext) -> Result<Account, Error> {
        let (user_id, tenant_id, _) = ctx.user()?;
        match self.store.user_by_id(user_id).await? {
            Some(user) if user.tenant_id == tenant_id => self.account_of(user).await,
            _ => Err(Error::Unauthenticated),
        }
    }

    /// Changes the signed-in user's password after checking the current one, and ends the user's
    /// other sessions (`keep_session` is the caller's own); with `revoke_api_keys`, also revokes
    /// every API key the user made (they act without the password, so they survive otherwise).
    pub async fn account_password_change(
        &self,
        ctx: &OpContext,
        current: &str,
        new: &str,
        keep_session: Option<&str>,
        revoke_api_keys: bool,
    ) -> Result<(), Error> {
        let work = self.account_password_change_unaudited(ctx, current, new, keep_session, revoke_api_keys);
        self.audited(ctx, "account.password_change", "own password", work)
            .await
    }

    async fn account_password_change_unaudited(
        &self,
        ctx: &OpContext,
        current: &str,
        new: &str,
        keep_session: Option<&str>,
        revoke_api_keys: bool,
    ) -> Result<(), Error> {
        let (user_id, tenant_id, _) = ctx.user()?;
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .filter(|u| u.tenant_id == tenant_id);
        let Some(user) = user else {
            return Err(Error::Unauthenticated);
        };
        let mut errors = FieldErrors::default();
        let new = errors.check("new_password", Password::parse(new));
        // A stolen session must not become a way to guess the password: the checks are counted.
        let budgets = vec![meridian_core::throttle::Budget::password_change(
            &user_id.to_string(),
        )];
        let attempt = self.throttle_admit(ctx, "password_change", budgets).await?;
        if self.passwords.verify(current, Some(&user.password_hash)).await? {
            self.throttle_succeeded(attempt).await?;
        } else {
            errors.push("current_password", "This is not your current password.");
        }
        let Some(new) = new.filter(|_| errors.is_empty()) else {
            return Err(Error::Invalid(errors));
        };
        let hash = self.passwords.hash(&new).await?;
        if !self.store.user_password_update(tenant_id, user_id, &hash).await? {
            return Err(Error::Unauthenticated);
        }
        let ended = self.store.session_delete_for_user(user_id, keep_session).await?;
        // A key works without the password; whoever changes it because it leaked wants the keys
        // made with it gone too (the dashboard asks, ticked by default).
        let revoked = if revoke_api_keys {
            self.store.api_key_delete_for_user(&user_id.to_string()).await?
        } else {
            0
        };
        tracing::info!(user.id = %user_id, sessions.ended = ended, api_keys.revoked = revoked, request.id = %ctx.request_id, "password changed");
        Ok(())
    }

    pub(crate) async fn account_of(&self, user: UserRow) -> Result<Account, Error> {
        let tenant = self.store.tenant_get(user.tenant_id).await?.ok_or_else(|| {
            Error::internal(format_args!(
                "user {} belongs to missing tenant {}",
                user.id, user.tenant_id
            ))
        })?;
        Ok(Account {
            user_id: user.id,
            email: user.email,
            role: user.role,
            tenant_id: tenant.id,
            tenant_name: tenant.name,
        })
    }
}
