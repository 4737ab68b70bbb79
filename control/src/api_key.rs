//! API keys: made and revoked by a user in Settings, shown once, acting with that user's role.

use crate::context::{Actor, OpContext};
use crate::store::api_key::ApiKeyRow;
use crate::store::{is_unique_violation, now_ms};
use crate::{Control, Error};
use meridian_core::FieldErrors;
use meridian_core::api_key::{cloudstack_verify, is_key, key_from_bytes, secret_derive, secret_hash};
use meridian_core::resource::Name;

/// How long a signature without `signatureVersion=3` (it carries no time) is remembered after a
/// request that changed something: a day. Within it the same signed request is refused; after it,
/// the signature is forgotten and could be used again, which is why clients should sign with
/// `signatureVersion=3` and `expires` (the `cs` client does).
pub const UNVERSIONED_REPLAY_MS: i64 = 24 * 3600 * 1000;

/// What a replayed signed request is told.
pub const REPLAY_MESSAGE: &str = "This signed request has already been run: sign each request anew \
     (with signatureVersion=3 and expires, a request differs by its time).";

/// A key just made: the only time its secret is seen.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    /// The key.
    pub key: meridian_core::view::ApiKey,
    /// Its secret, shown once.
    pub secret: String,
}

/// Who an API request acts as.
#[derive(Clone, Debug)]
pub struct ApiCaller {
    /// The key's user, with their role and tenant as they are now.
    pub actor: Actor,
    /// The key (its row: the front doors see only the context it makes).
    pub(crate) key: ApiKeyRow,
    /// The signature this request claimed (a signed request that changes something), so that a
    /// refusal can give it back.
    pub claimed_signature: Option<String>,
}

impl ApiCaller {
    /// The context for this caller's request, marked as coming through the key.
    pub fn context(&self, request_id: impl Into<String>, client: Option<String>) -> OpContext {
        OpContext {
            actor: self.actor.clone(),
            request_id: request_id.into(),
            client,
            via: Some(format!("API key {}", self.key.name)),
        }
    }
}

impl Control {
    /// Makes a key for the signed-in user; it can do what they can, no more.
    pub async fn api_key_create(&self, ctx: &OpContext, name: &str) -> Result<NewApiKey, Error> {
        self.audited(ctx, "api_key.create", name, async {
            let (user_id, tenant_id, _) = ctx.user()?;
            let mut errors = FieldErrors::default();
            let Some(name) = errors.check("name", Name::parse(name)) else {
                return Err(Error::Invalid(errors));
            };
            let api_key = key_from_bytes(rand::random());
            let secret = secret_derive(&self.api_master, &api_key);
            let key = ApiKeyRow {
                id: uuid::Uuid::new_v4().to_string(),
                user_id: user_id.to_string(),
                name: name.as_str().to_owned(),
                api_key,
                created_at: now_ms(),
                last_used_at: None,
            };
            match self
                .store
                .api_key_insert(&tenant_id.to_string(), &key, &secret_hash(&secret))
                .await
            {
                Err(error) if is_unique_violation(&error) => Err(Error::Conflict {
                    field: Some("name"),
                    message: "You already have a key with this name.".into(),
                }),
                other => other
                    .map(|()| NewApiKey {
                        key: key.into(),
                        secret,
                    })
                    .map_err(Error::from),
            }
        })
        .await
    }

    /// The signed-in user's keys (never their secrets).
    pub async fn api_key_list(&self, ctx: &OpContext) -> Result<Vec<meridian_core::view::ApiKey>, Error> {
        let (user_id, _, _) = ctx.user()?;
        let rows = self.store.api_key_list(&user_id.to_string()).await?;
        Ok(rows.into_iter().map(meridian_core::view::ApiKey::from).collect())
    }

    /// Revokes one of the signed-in user's keys: the next request made with it is refused.
    pub async fn api_key_revoke(
        &self,
        ctx: &OpContext,
        id: meridian_core::id::ApiKeyId,
    ) -> Result<(), Error> {
        let id = id.to_string();
        self.audited(ctx, "api_key.revoke", &id, async {
            let (user_id, _, _) = ctx.user()?;
            if self.store.api_key_delete(&user_id.to_string(), &id).await? {
                Ok(())
            } else {
                Err(Error::NotFound)
            }
        })
        .await
    }

    /// Who a CloudStack request acts as: `params` are all its parameters, `apiKey` and
    /// `signature` among them. Anything wrong (no such key, a bad or expired signature or one
    /// whose `expires` is too far ahead, a removed user, a suspended tenant) is
    /// [`Error::Unauthenticated`], with the reason logged.
    ///
    /// A request that `mutates` is run once: its signature is remembered (in the database, so
    /// every server sees it) until it expires, and the same signed request again is
    /// [`Error::Forbidden`] with the reason. A signature without `signatureVersion=3` carries no
    /// time, so it is remembered for [`UNVERSIONED_REPLAY_MS`].
    pub async fn api_caller_signed(
        &self,
        params: &[(String, String)],
        mutates: bool,
    ) -> Result<ApiCaller, Error> {
        let api_key = params
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("apikey"))
            .map(|(_, value)| value.as_str())
            .filter(|key| is_key(key))
            .ok_or(Error::Unauthenticated)?;
        let Some((key, stored_hash)) = self.store.api_key_by_key(api_key).await? else {
            tracing::info!("API request refused: unknown key");
            return Err(Error::Unauthenticated);
        };
        let secret = secret_derive(&self.api_master, api_key);
        if secret_hash(&secret) != stored_hash {
            tracing::warn!(api_key.id = %key.id, "API key made under another master secret: refused");
            return Err(Error::Unauthenticated);
        }
        let now = now_ms();
        let verified = match cloudstack_verify(params, &secret, now) {
            Ok(verified) => verified,
            Err(reason) => {
                tracing::info!(api_key.id = %key.id, reason = %reason, "API request refused");
                return Err(Error::Unauthenticated);
            }
        };
        if self.cloudstack_require_expires && verified.expires_ms.is_none() {
            tracing::info!(api_key.id = %key.id, "API request refused: no signatureVersion=3 and expires");
            return Err(Error::Unauthenticated);
        }
        let caller = self.api_caller(key).await?;
        if mutates {
            let until = verified
                .expires_ms
                .unwrap_or(now.saturating_add(UNVERSIONED_REPLAY_MS));
            let first = self
                .store
                .cloudstack_signature_claim(&caller.key.id, &verified.digest, until)
                .await?;
            if !first {
                tracing::warn!(api_key.id = %caller.key.id, "signed API request replayed: refused");
                return Err(Error::Forbidden(REPLAY_MESSAGE.into()));
            }
            return Ok(ApiCaller {
                claimed_signature: Some(verified.digest),
                ..caller
            });
        }
        Ok(caller)
    }

    /// Gives back the signature a refused request claimed: it changed nothing, so the same signed
    /// request sent again (as a client does after "in progress" or "try again") is run, not
    /// refused as a replay. Control actions are transactions: a refusal leaves nothing done.
    pub async fn api_signature_release(&self, caller: &ApiCaller) {
        let Some(digest) = &caller.claimed_signature else {
            return;
        };
        if let Err(error) = self
            .store
            .cloudstack_signature_release(&caller.key.id, digest)
            .await
        {
            tracing::warn!(error.detail = %error, api_key.id = %caller.key.id, "signature not released; the same request is refused until it expires");
        }
    }

    /// Who a REST request acts as: `secret` is its bearer token, a key's secret. Anything wrong
    /// (no such secret, a removed user, a suspended tenant) is [`Error::Unauthenticated`].
    pub async fn api_caller_bearer(&self, secret: &str) -> Result<ApiCaller, Error> {
        // The lookup is by the secret's hash: the secret itself is never stored or compared.
        let presented = secret_hash(secret);
        let Some(key) = self.store.api_key_by_secret_hash(&presented).await? else {
            tracing::info!("API request refused: unknown bearer token");
            return Err(Error::Unauthenticated);
        };
        // As for signed requests: a key made under another master secret no longer works.
        if secret_hash(&secret_derive(&self.api_master, &key.api_key)) != presented {
            tracing::warn!(api_key.id = %key.id, "API key made under another master secret: refused");
            return Err(Error::Unauthenticated);
        }
        self.api_caller(key).await
    }

    /// The key's user as they are now, and a note that the key was used.
    async fn api_caller(&self, key: ApiKeyRow) -> Result<ApiCaller, Error> {
        let user_id = key.user_id.parse().map_err(Error::internal)?;
        // A suspended tenant's key says so (the dashboard's notice, in the API's words).
        let actor = match self.store.user_active(user_id).await? {
            None => return Err(Error::Unauthenticated),
            Some((_, false)) => return Err(Error::Suspended),
            Some((user, true)) => Actor::User {
                user_id: user.id,
                tenant_id: user.tenant_id,
                role: user.role,
            },
        };
        // Recorded to the minute: a busy script does not take the write turn on every call.
        let now = now_ms();
        if key.last_used_at.is_none_or(|used| used < now - 60_000)
            && let Err(error) = self.store.api_key_touch(&key.id, now).await
        {
            tracing::warn!(error.detail = %error, "API key use not recorded");
        }
        Ok(ApiCaller {
            actor,
            key,
            claimed_signature: None,
        })
    }
}
