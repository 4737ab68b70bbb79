//! The audit log: every mutation, refused or not, with who, what, when, from where and the result.

use crate::context::{Actor, OpContext};
use crate::store::audit::AuditRow;
use crate::store::now_ms;
use crate::{Control, Error};
use meridian_core::TenantId;
use std::future::Future;

impl Control {
    /// Runs a mutation and records it in the actor's tenant's audit log, whatever the outcome.
    pub(crate) async fn audited<T>(
        &self,
        ctx: &OpContext,
        action: &str,
        target: &str,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let result = work.await;
        // An inspecting staff member's refused attempts belong in the inspected tenant's log too.
        if let Ok(tenant_id) = ctx.tenant() {
            self.audit_record(ctx, tenant_id, action, target, result.as_ref().err())
                .await;
        }
        result
    }

    /// Appends one entry for `tenant`. Failing to audit is logged, not hidden, but does not undo
    /// what was done.
    pub(crate) async fn audit_record(
        &self,
        ctx: &OpContext,
        tenant: TenantId,
        action: &str,
        target: &str,
        error: Option<&Error>,
    ) {
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
        let row = AuditRow {
            at: now_ms(),
            actor,
            action: action.to_owned(),
            target: target.to_owned(),
            result: error.map_or_else(|| "ok".to_owned(), |e| format!("{}: {e}", e.code())),
            client: ctx.client.clone().unwrap_or_else(|| "-".to_owned()),
            request_id: ctx.request_id.clone(),
        };
        if let Err(error) = self.store.audit_insert(&tenant.to_string(), &row).await {
            tracing::error!(error.detail = %error, audit.action = action, "audit entry not written");
        }
    }

    /// The tenant's audit log, newest first.
    pub async fn audit_list(&self, ctx: &OpContext, limit: i64) -> Result<Vec<AuditRow>, Error> {
        let tenant = ctx.tenant()?;
        Ok(self.store.audit_list(&tenant.to_string(), limit).await?)
    }
}
