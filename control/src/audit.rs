//! The audit log: every mutation, refused or not, with who, what, when, from where and the result.

use crate::context::{Actor, OpContext};
use crate::store;
use crate::store::audit::PendingAudit;
use crate::store::now_ms;
use crate::{Control, Error};
use meridian_core::TenantId;
use meridian_core::view::AuditEntry;
use std::future::Future;

/// The most characters an entry keeps of each field a caller can choose.
const TARGET_MAX: usize = 200;
const RESULT_MAX: usize = 400;
const ACTOR_MAX: usize = 200;
const CLIENT_MAX: usize = 64;

/// `text` cut to `max` characters (an ellipsis says it was cut), control characters as spaces.
fn bounded(text: &str, max: usize) -> String {
    let mut kept: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        kept.push('…');
    }
    kept
}

impl Control {
    /// Runs a mutation and records it in the actor's tenant's audit log, whatever the outcome.
    /// A change's entry is written in the change's own transaction (see `store::audit`): both
    /// land or neither does. A refusal, which changed nothing, is recorded on its own after.
    /// Records a change refused for its input before it reached its action (a form that did not
    /// parse at the edge) in the actor's tenant's audit log, as the action's own refusals are, and
    /// hands the refusal back to answer with.
    pub async fn audit_invalid(
        &self,
        ctx: &OpContext,
        action: &str,
        target: &str,
        errors: meridian_core::FieldErrors,
    ) -> Error {
        match self
            .audited(ctx, action, target, async {
                Err::<(), _>(Error::Invalid(errors))
            })
            .await
        {
            Err(error) => error,
            Ok(()) => Error::internal("a refusal was recorded as a success"),
        }
    }

    pub(crate) async fn audited<T>(
        &self,
        ctx: &OpContext,
        action: &str,
        target: &str,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        // An inspecting staff member's refused attempts belong in the inspected tenant's log too.
        let Ok(tenant_id) = ctx.tenant() else {
            return work.await;
        };
        self.audited_for(ctx, tenant_id, action, target, work).await
    }

    /// [`Control::audited`] in `tenant_id`'s log (staff actions on a tenant they are not
    /// inspecting).
    pub(crate) async fn audited_for<T>(
        &self,
        ctx: &OpContext,
        tenant_id: TenantId,
        action: &str,
        target: &str,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let row = self.audit_row(ctx, action, target, None).await;
        let pending = PendingAudit::new(tenant_id.to_string(), row);
        let result = store::audit::scoped(pending.clone(), work).await;
        let written = PendingAudit::written(&pending);
        match (&result, written) {
            (Ok(_), true) => {}
            // Nothing went through a write transaction (or the mutation wrote nothing).
            (Ok(_), false) => self.audit_record(ctx, tenant_id, action, target, None).await,
            // Refused before anything changed; or changed, then failed later on: that failure
            // gets an entry of its own after the change's.
            (Err(error), _) => {
                self.audit_record(ctx, tenant_id, action, target, Some(error))
                    .await;
            }
        }
        result
    }

    /// Appends one entry for `tenant` on its own. Failing to audit is logged, not hidden, but
    /// does not undo what was done.
    pub(crate) async fn audit_record(
        &self,
        ctx: &OpContext,
        tenant: TenantId,
        action: &str,
        target: &str,
        error: Option<&Error>,
    ) {
        let row = self.audit_row(ctx, action, target, error).await;
        if let Err(error) = self.store.audit_insert(&tenant.to_string(), &row).await {
            tracing::error!(error.detail = %error, audit.action = action, "audit entry not written");
        }
    }

    /// The entry for an action by `ctx`'s actor: who (by e-mail, read now), what, and the result.
    async fn audit_row(
        &self,
        ctx: &OpContext,
        action: &str,
        target: &str,
        error: Option<&Error>,
    ) -> AuditEntry {
        let actor = match ctx.actor {
            Actor::User { user_id, .. } => match self.store.user_by_id(user_id).await {
                Ok(Some(user)) => user.email,
                _ => user_id.to_string(),
            },
            Actor::Staff { staff_id, role, .. } => match self.store.staff_by_id(staff_id).await {
                Ok(Some(staff)) => format!("Meridian {role} {}", staff.email),
                _ => format!("Meridian {role} {staff_id}"),
            },
            Actor::Anonymous => "anonymous".to_owned(),
        };
        let actor = match &ctx.via {
            Some(via) => format!("{actor} ({via})"),
            None => actor,
        };
        // What a caller sent (a name, a reason) is kept only in part: a refused 1.5 MB name must not
        // grow the log by 1.5 MB.
        AuditEntry {
            at: now_ms(),
            actor: bounded(&actor, ACTOR_MAX),
            action: action.to_owned(),
            target: bounded(target, TARGET_MAX),
            result: bounded(
                &error.map_or_else(|| "ok".to_owned(), |e| format!("{}: {e}", e.code())),
                RESULT_MAX,
            ),
            client: bounded(ctx.client.as_deref().unwrap_or("-"), CLIENT_MAX),
            request_id: bounded(&ctx.request_id, CLIENT_MAX),
        }
    }

    /// The tenant's audit log, newest first.
    pub async fn audit_list(&self, ctx: &OpContext, limit: i64) -> Result<Vec<AuditEntry>, Error> {
        let tenant = ctx.tenant()?;
        Ok(self.store.audit_list(&tenant.to_string(), limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn what_a_caller_sent_is_kept_in_part_and_on_one_line() {
        assert_eq!(bounded("web-1", 200), "web-1");
        assert_eq!(bounded("abcdef", 3), "abc…");
        assert_eq!(bounded("a\nb\u{7}c", 10), "a b c");
        assert_eq!(bounded(&"é".repeat(500), 200).chars().count(), 201);
    }
}
