//! Idempotency keys: a client retrying a create with the same `Idempotency-Key` gets the first
//! answer again instead of a second resource. Keys are each user's own.

use crate::context::OpContext;
pub use crate::store::idempotency::IdempotencyClaim;
use crate::store::now_ms;
use crate::{Control, Error};
use meridian_core::FieldErrors;

/// The longest key accepted (UUIDs and the like are far shorter).
const KEY_MAX: usize = 255;

impl Control {
    /// Claims `key` for this tenant's request (`fingerprint`: what the request asks for), or says
    /// what the key already holds. A key of 1–255 visible ASCII characters; anything else is a
    /// field error on `Idempotency-Key`.
    pub async fn idempotency_claim(
        &self,
        ctx: &OpContext,
        key: &str,
        fingerprint: &str,
    ) -> Result<IdempotencyClaim, Error> {
        // Only creates have keys: whoever may not create gets no answer replayed either.
        let tenant = ctx.tenant_for_mutation()?;
        let (user, _, _) = ctx.user()?;
        if key.is_empty() || key.len() > KEY_MAX || !key.bytes().all(|b| b.is_ascii_graphic()) {
            let mut errors = FieldErrors::default();
            errors.push(
                "Idempotency-Key",
                "Use 1 to 255 visible ASCII characters, e.g. a UUID.",
            );
            return Err(Error::Invalid(errors));
        }
        Ok(self
            .store
            .idempotency_claim((&tenant, &user.to_string()), key, fingerprint, now_ms())
            .await?)
    }

    /// The id the resource made by a create with the caller's `key` and `fingerprint` (the
    /// request) gets: the same for every retry of that request with that key; another user's key
    /// of the same name, or another request, gives another id. A create that committed but whose
    /// answer was lost (a crash) is then found again instead of made twice, and two retries
    /// racing each other make one resource (its id is the primary key).
    pub fn idempotency_resource_id(
        &self,
        ctx: &OpContext,
        key: &str,
        fingerprint: &str,
    ) -> Result<uuid::Uuid, Error> {
        let (user, _, _) = ctx.user()?;
        let user = user.to_string();
        let parts: [&[u8]; 6] = [
            b"idempotency\n",
            user.as_bytes(),
            b"\n",
            key.as_bytes(),
            b"\n",
            fingerprint.as_bytes(),
        ];
        let digest = meridian_core::api_key::sha256(&parts.concat());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Ok(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }

    /// Ends the claim on the caller's `key`: `Some` keeps the answer to replay; `None` (the request
    /// was refused and changed nothing) lets the key go so that a corrected retry runs.
    pub async fn idempotency_finish(
        &self,
        ctx: &OpContext,
        key: &str,
        answer: Option<(u16, &str)>,
    ) -> Result<(), Error> {
        let user = ctx.user()?.0.to_string();
        match answer {
            Some((status, body)) => self.store.idempotency_keep(&user, key, status, body).await?,
            None => self.store.idempotency_release(&user, key).await?,
        }
        Ok(())
    }
}
