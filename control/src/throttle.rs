//! Throttling of password guesses (log-in, the current password of a password change) and of
//! sign-ups, against budgets kept in the database so that every server shares them; and the
//! known-device tokens that let an account's owner past what attackers spent.
//!
//! The rules are `meridian_core::throttle`'s. An attempt is admitted or refused before any
//! password is hashed: it is counted first (one row per budget), then the budgets are counted
//! again with it; if one is over, the attempt is taken back and refused. Every admitted attempt
//! counted itself and every attempt admitted before it, so parallel attempts, on one server or
//! several, never get past a limit (at worst two racing ones are both refused).

use crate::context::OpContext;
use crate::{Control, Error};
use meridian_core::throttle::{self, Budget, RetryAfter};

/// An admitted attempt, to be taken back if it succeeds.
#[derive(Debug)]
#[must_use = "a successful attempt should be passed to `throttle_succeeded`"]
pub(crate) struct Attempt {
    id: String,
    budgets: Vec<Budget>,
}

impl Control {
    /// Admits an attempt that spends `budgets`, or refuses it with how long to wait.
    pub(crate) async fn throttle_admit(
        &self,
        ctx: &OpContext,
        what: &'static str,
        budgets: Vec<Budget>,
    ) -> Result<Attempt, Error> {
        let now = crate::store::now_ms();
        // Over already: refused without writing anything (a flood of refused guesses costs reads).
        self.throttle_check(ctx, what, &budgets, now, 1).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let keys: Vec<&str> = budgets.iter().map(|b| b.key.as_str()).collect();
        self.store.login_attempt_insert(&id, &keys, now).await?;
        if let Err(refused) = self.throttle_check(ctx, what, &budgets, now, 0).await {
            self.store.login_attempt_delete(&id, &keys, None).await?;
            return Err(refused);
        }
        Ok(Attempt { id, budgets })
    }

    /// Refuses when a budget, with `adding` more attempts, would be over its limit.
    async fn throttle_check(
        &self,
        ctx: &OpContext,
        what: &'static str,
        budgets: &[Budget],
        now: i64,
        adding: u64,
    ) -> Result<(), Error> {
        let asked: Vec<(&str, i64)> = budgets
            .iter()
            .map(|b| (b.key.as_str(), now - b.limit.window_ms))
            .collect();
        let counts = self.store.login_attempt_counts(&asked).await?;
        let mut wait: Option<RetryAfter> = None;
        for (budget, (count, oldest)) in budgets.iter().zip(counts) {
            if let Err(this) = throttle::over_limit(budget.limit, count + adding, oldest, now) {
                wait = Some(throttle::longest(wait, this));
            }
        }
        match wait {
            None => Ok(()),
            Some(wait) => {
                tracing::warn!(request.id = %ctx.request_id, client = ctx.client.as_deref().unwrap_or("unknown"), attempt = what, retry_after_s = wait.seconds, "attempt throttled");
                Err(Error::Throttled {
                    retry_after_s: wait.seconds,
                })
            }
        }
    }

    /// The attempt proved its password: its first budget (the pair's or the known device's, the
    /// one only this client spends) starts afresh, and the others get this attempt back.
    pub(crate) async fn throttle_succeeded(&self, attempt: Attempt) -> Result<(), Error> {
        let keys: Vec<&str> = attempt.budgets.iter().map(|b| b.key.as_str()).collect();
        self.store
            .login_attempt_delete(&attempt.id, &keys, keys.first().copied())
            .await?;
        Ok(())
    }

    /// The device a known-device token names, if it was issued for `account` (a throttle key
    /// such as `user:e-mail`) by a server sharing this one's master secret, and is fresh.
    pub(crate) fn device_known(&self, account: &str, token: Option<&str>) -> Option<String> {
        let key = throttle::device_key(&self.api_master);
        throttle::device_token_verify(&key, account, token?, crate::store::now_ms())
    }

    /// A fresh known-device token for `account`, for `device` or a new device.
    pub(crate) fn device_token(&self, account: &str, device: Option<String>) -> String {
        let key = throttle::device_key(&self.api_master);
        let device = device.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        throttle::device_token(&key, account, &device, crate::store::now_ms())
    }
}
