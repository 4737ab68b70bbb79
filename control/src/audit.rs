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
            result: bounded(&error.map_or_else(|| "ok".to_owned(), outcome), RESULT_MAX),
            client: bounded(ctx.client.as_deref().unwrap_or("-"), CLIENT_MAX),
            request_id: bounded(&ctx.request_id, CLIENT_MAX),
        }
    }

    /// The tenant's audit log, newest first, its targets named ([`Self::audit_named`]).
    pub async fn audit_list(&self, ctx: &OpContext, limit: i64) -> Result<Vec<AuditEntry>, Error> {
        let tenant = ctx.tenant()?.to_string();
        let entries = self.store.audit_list(&tenant, limit).await?;
        self.audit_named(&tenant, entries).await
    }

    /// `entries` with each id in a target that is one of the tenant's VMs (destroyed ones too),
    /// users, SSH keys, templates or firewall rules replaced by its name: the log reads "web-1",
    /// not a UUID. The id of something deleted since stays as it was.
    pub(crate) async fn audit_named(
        &self,
        tenant: &str,
        mut entries: Vec<AuditEntry>,
    ) -> Result<Vec<AuditEntry>, Error> {
        let ids: std::collections::BTreeSet<String> =
            entries.iter().flat_map(|entry| ids_in(&entry.target)).collect();
        if ids.is_empty() {
            return Ok(entries);
        }
        let mut names = std::collections::HashMap::new();
        let ids: Vec<String> = ids.into_iter().collect();
        for vm in self.store.vm_by_ids(&ids).await? {
            if vm.tenant_id == tenant {
                names.insert(vm.id, vm.name);
            }
        }
        for (id, email, _) in self.store.user_list(tenant).await? {
            names.insert(id, email);
        }
        for key in self.store.ssh_key_list(tenant).await? {
            names.insert(key.id, key.name);
        }
        for template in self.store.template_list(tenant).await? {
            names.insert(template.id, template.name);
        }
        for rule in self.store.firewall_list(tenant).await? {
            let ports = match (rule.port_from, rule.port_to) {
                (Some(from), Some(to)) if from == to => format!(" {from}"),
                (Some(from), Some(to)) => format!(" {from}-{to}"),
                _ => String::new(),
            };
            let text = format!("{}{ports} from {} in {}", rule.protocol, rule.source, rule.zone);
            names.insert(rule.id, text);
        }
        for entry in &mut entries {
            let found = ids_in(&entry.target);
            for id in found {
                if let Some(name) = names.get(&id) {
                    entry.target = entry.target.replace(&id, name);
                }
            }
        }
        Ok(entries)
    }
}

/// A refusal as the audit log says it: its code, then what the person was told (for a form, the
/// sentences next to its fields, without the fields' internal names).
fn outcome(error: &Error) -> String {
    match error {
        Error::Invalid(fields) => {
            let told: Vec<&str> = fields.0.iter().map(|(_, message)| message.as_str()).collect();
            format!("{}: {}", error.code(), told.join(" "))
        }
        other => format!("{}: {other}", other.code()),
    }
}

/// The UUIDs written in `text`.
fn ids_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .filter(|word| word.len() == 36 && uuid::Uuid::parse_str(word).is_ok())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{bounded, ids_in};

    #[test]
    fn ids_are_found_wherever_a_target_writes_them() {
        let id = "3f2a1b2c-0000-4000-8000-000000000001";
        assert_eq!(ids_in(&format!("{id} → m")), [id]);
        assert_eq!(ids_in(&format!("({id}),{id}")), [id, id]);
        assert!(ids_in("web-1 in lon1").is_empty());
        assert!(ids_in("3f2a1b2c-0000-4000-8000-00000000000").is_empty());
    }

    #[test]
    fn what_a_caller_sent_is_kept_in_part_and_on_one_line() {
        assert_eq!(bounded("web-1", 200), "web-1");
        assert_eq!(bounded("abcdef", 3), "abc…");
        assert_eq!(bounded("a\nb\u{7}c", 10), "a b c");
        assert_eq!(bounded(&"é".repeat(500), 200).chars().count(), 201);
    }
}
