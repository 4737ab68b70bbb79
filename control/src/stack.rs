//! Stacks: many VMs over several zones in one action (the nine-node MongoDB replica set), their
//! live per-VM timeline and measured spin-up, their containers, and deleting all they made.

use crate::context::OpContext;
use crate::job::vm_spec;
use crate::store::job::JobRow;
use crate::store::now_ms;
use crate::store::stack::StackRow;
use crate::store::vdc::VdcRow;
use crate::store::vm::VmRow;
use crate::vm::StackPlan;
use crate::{Control, Error};
use meridian_core::FieldErrors;
use meridian_core::id::StackId;
use meridian_core::job::{JobKind, JobState};
use meridian_core::resource::{VmCreate, VmCreateForm};
use meridian_core::stack::{StackTemplate, plan};
use meridian_core::view;
use uuid::Uuid;

/// A stack with its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackView {
    /// The stack.
    pub stack: view::Stack,
    /// Its VMs.
    pub members: Vec<view::StackMember>,
    /// The URL clients connect with over the members' private addresses (a replica set's),
    /// once every member has one.
    pub connection: Option<String>,
}

impl Control {
    /// Creates a stack from a template: the VDCs it needs, every VM (one anti-affinity group, so
    /// no two share a host), in one transaction; the VMs' jobs then run side by side.
    pub async fn stack_create(
        &self,
        ctx: &OpContext,
        template: &str,
        name: &str,
    ) -> Result<view::Stack, Error> {
        self.stack_create_within(ctx, template, name, None).await
    }

    /// [`Control::stack_create`], refused (on `latency_ms`, with the reasons) when a zone of the
    /// stack is further than `latency`'s round trip from its zone or VM.
    pub async fn stack_create_within(
        &self,
        ctx: &OpContext,
        template: &str,
        name: &str,
        latency: Option<meridian_core::placement::latency::LatencyBudget>,
    ) -> Result<view::Stack, Error> {
        self.audited(
            ctx,
            "stack.create",
            &format!("{name} ({template})"),
            self.stack_create_unaudited(ctx, template, name, latency),
        )
        .await
        .map(view::Stack::from)
    }

    async fn stack_create_unaudited(
        &self,
        ctx: &OpContext,
        template: &str,
        name: &str,
        latency: Option<meridian_core::placement::latency::LatencyBudget>,
    ) -> Result<StackRow, Error> {
        let tenant = ctx.tenant_for_mutation()?;
        self.tenant_active(&tenant).await?;
        let mut fields = FieldErrors::default();
        let Some(template) = StackTemplate::find(template) else {
            fields.push("template", "Choose one of the stacks offered.");
            return Err(Error::Invalid(fields));
        };
        let Some(members) = fields.check("name", plan(template, name)) else {
            return Err(Error::Invalid(fields));
        };
        // Residency first, with the rule named, before anything is made.
        let residency = self.residency(&tenant).await?;
        for (zone, _) in template.zones {
            let zone = meridian_core::zone::ZoneId::parse(zone).map_err(Error::internal)?;
            if let Err(violation) = residency.check(zone) {
                fields.push(
                    "template",
                    format!("This stack runs in {}: {violation}", zone.zone().city),
                );
                return Err(Error::Invalid(fields));
            }
        }
        if let Some(budget) = latency {
            let zones: Vec<meridian_core::zone::ZoneId> = template
                .zones
                .iter()
                .filter_map(|(zone, _)| meridian_core::zone::ZoneId::parse(zone).ok())
                .collect();
            let out = self.latency_misses(&tenant, budget, &zones).await?;
            if !out.is_empty() {
                fields.push(
                    "latency_ms",
                    format!("This stack's zones do not all fit: {}", out.join(" ")),
                );
                return Err(Error::Invalid(fields));
            }
        }
        let now = now_ms();
        let existing = self.store.vdc_list(&tenant).await?;
        let mut new_vdcs: Vec<VdcRow> = Vec::new();
        let mut creates = Vec::with_capacity(members.len());
        for (index, member) in members.iter().enumerate() {
            let zone = member.zone.as_str();
            let vdc = match existing.iter().chain(new_vdcs.iter()).find(|v| v.zone == zone) {
                Some(vdc) => vdc.id.clone(),
                None => {
                    let vdc = VdcRow {
                        id: Uuid::new_v4().to_string(),
                        tenant_id: tenant.clone(),
                        name: format!("{name}-{zone}"),
                        zone: zone.to_owned(),
                        created_at: now,
                    };
                    let id = vdc.id.clone();
                    new_vdcs.push(vdc);
                    id
                }
            };
            let form = VmCreateForm {
                name: member.name.clone(),
                zone: zone.to_owned(),
                template: template.image.to_owned(),
                size: template.size.to_owned(),
                breakout: if template.breakout {
                    "on".into()
                } else {
                    String::new()
                },
                user_data: template.member_cloud_config(index),
                anti_affinity_group: name.trim().to_owned(),
                ..VmCreateForm::default()
            };
            creates.push((vdc, VmCreate::parse(&form).map_err(Error::Invalid)?));
        }
        let stack = StackRow {
            id: Uuid::new_v4().to_string(),
            tenant_id: tenant.clone(),
            name: name.trim().to_owned(),
            template: template.slug.to_owned(),
            state: "deploying".to_owned(),
            created_at: now,
            ready_at: None,
            made_vdcs: new_vdcs.iter().map(|v| v.id.clone()).collect(),
        };
        let plan = StackPlan {
            stack: stack.clone(),
            new_vdcs,
        };
        self.vm_accept(ctx, creates, Some(&plan), None, Some(existing))
            .await?;
        Ok(stack)
    }

    /// The tenant's stacks (not deleted), their states brought up to date.
    pub async fn stack_list(&self, ctx: &OpContext) -> Result<Vec<view::Stack>, Error> {
        let tenant = ctx.tenant()?;
        let mut stacks = Vec::new();
        for stack in self.store.stack_list(&tenant.to_string()).await? {
            stacks.push(self.stack_reconcile(stack).await?);
        }
        stacks.retain(|s| s.state != "deleted");
        Ok(stacks.into_iter().map(view::Stack::from).collect())
    }

    /// One of the tenant's stacks with each VM's timeline and containers.
    pub async fn stack_view(&self, ctx: &OpContext, id: StackId) -> Result<StackView, Error> {
        let id = &id.to_string();
        let tenant = ctx.tenant()?;
        let stack = self
            .store
            .stack_get(&tenant.to_string(), id)
            .await?
            .ok_or(Error::NotFound)?;
        let stack = self.stack_reconcile(stack).await?;
        let mut members = Vec::new();
        for vm in self.store.stack_vms(&stack.id).await? {
            let events = match self.create_job(&vm).await? {
                Some(job) => self.store.job_events(job.id, 0).await?,
                None => Vec::new(),
            };
            // A host that does not answer leaves the list empty for now, not the page broken.
            let containers = self
                .driver
                .containers(&vm_spec(&vm)?)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(vm.id = %vm.id, error = %error, "containers unavailable");
                    Vec::new()
                });
            members.push(view::StackMember {
                vm: vm.into(),
                events: events.into_iter().map(view::JobEvent::from).collect(),
                containers,
            });
        }
        let stack: view::Stack = stack.into();
        let addresses: Vec<Option<String>> = members.iter().map(|m| m.vm.private_ip.clone()).collect();
        let connection = meridian_core::stack::StackTemplate::find(&stack.template)
            .and_then(|t| t.connection_string(&addresses));
        Ok(StackView {
            stack,
            members,
            connection,
        })
    }

    /// Deletes a stack: destroys every VM it made, then (once they are gone) the VDCs it made.
    /// A stack still deploying is refused: wait for it, then delete it. Deleting again re-issues
    /// the destroys that could not start (a VM busy with another operation), so a stack never
    /// stays half-deleted.
    pub async fn stack_delete(&self, ctx: &OpContext, id: StackId) -> Result<(), Error> {
        let id = &id.to_string();
        let tenant = ctx.tenant()?;
        let stack = self.store.stack_get(&tenant.to_string(), id).await?;
        let target = stack.as_ref().map_or_else(|| id.to_owned(), |s| s.name.clone());
        let work = async {
            ctx.tenant_for_mutation()?;
            let stack = self.stack_reconcile(stack.ok_or(Error::NotFound)?).await?;
            match stack.state.as_str() {
                "deleted" => return Ok(()),
                "deploying" => {
                    return Err(Error::Conflict {
                        field: None,
                        message: "The stack is still deploying; delete it once it is ready.".into(),
                    });
                }
                "deleting" => {}
                from => {
                    if !self
                        .store
                        .stack_set_state(&stack.id, from, "deleting", None)
                        .await?
                    {
                        return Err(Error::Conflict {
                            field: None,
                            message: "The stack changed meanwhile; try again.".into(),
                        });
                    }
                }
            }
            let mut busy = Vec::new();
            for vm in self.store.stack_vms(&stack.id).await? {
                if matches!(vm.state.as_str(), "running" | "stopped" | "failed") {
                    if let Err(error) = self.vm_destroy(ctx, crate::store::id_of(&vm.id)).await {
                        busy.push(format!("{} ({error})", vm.name));
                    }
                }
            }
            if busy.is_empty() {
                Ok(())
            } else {
                Err(Error::Conflict {
                    field: None,
                    message: format!(
                        "These VMs could not be destroyed yet: {}. Delete the stack again once they are idle.",
                        busy.join(", ")
                    ),
                })
            }
        };
        self.audited(ctx, "stack.delete", &target, work).await
    }

    /// The create job of a VM.
    async fn create_job(&self, vm: &VmRow) -> Result<Option<JobRow>, Error> {
        let target: Uuid = vm.id.parse().map_err(Error::internal)?;
        Ok(self
            .store
            .job_list_for_target(&vm.tenant_id, target, 50)
            .await?
            .into_iter()
            .find(|job| job.position.kind == JobKind::VmCreate))
    }

    /// Brings a stack's state up to date with its VMs: ready (with the measured spin-up) when every
    /// create job succeeded, failed when any failed, deleted once every VM is gone and the VDCs it
    /// made are removed.
    async fn stack_reconcile(&self, stack: StackRow) -> Result<StackRow, Error> {
        let vms = self.store.stack_vms(&stack.id).await?;
        let mut next = stack.clone();
        match stack.state.as_str() {
            "deploying" => {
                let mut finished = Vec::new();
                for vm in &vms {
                    match self.create_job(vm).await? {
                        Some(job) if job.position.state.is_terminal() => finished.push(job),
                        _ => return Ok(stack),
                    }
                }
                let all_ok = finished
                    .iter()
                    .all(|job| job.position.state == JobState::Succeeded);
                let ready_at = finished.iter().filter_map(|job| job.finished_at).max();
                let to = if all_ok { "ready" } else { "failed" };
                if self
                    .store
                    .stack_set_state(&stack.id, "deploying", to, ready_at)
                    .await?
                {
                    next.state = to.to_owned();
                    next.ready_at = ready_at.or(next.ready_at);
                }
            }
            "deleting" if vms.iter().all(|vm| vm.state == "destroyed") => {
                for vdc in &stack.made_vdcs {
                    self.store
                        .vdc_delete_if_empty(&stack.tenant_id, &stack.id, vdc)
                        .await?;
                }
                if self
                    .store
                    .stack_set_state(&stack.id, "deleting", "deleted", None)
                    .await?
                {
                    next.state = "deleted".to_owned();
                }
            }
            _ => {}
        }
        Ok(next)
    }
}
