//! Autoscaling groups: creating, changing and deleting them, and the round that measures each
//! group's members, decides ([`meridian_core::scaling::decide`]) and brings the group to its
//! desired size — replacing members that are unhealthy past their grace period, adding members
//! where the group has fewest, removing the newest first.
//!
//! Several servers may run the round: each group is acted on by the one server that claims it
//! (compare and set on `acted_at`). A member's row is written before its VM is accepted, with the
//! VM's id, so a crash between leaves a row without a VM (dropped by a later round), never a VM
//! outside its group. Members are made with the rights of the user who made the group, and the
//! audit log names the group ("ana@… (scaling group web)").

use crate::context::{Actor, OpContext};
use crate::store::now_ms;
use crate::store::scaling_group::ScalingGroupRow;
use crate::store::vm::VmRow;
use crate::store::vm_sample::SampleSpan;
use crate::{Control, Error};
use meridian_core::resource::{BuiltinTemplate, VmCreate, VmCreateForm, VmState};
use meridian_core::scaling::{
    Decision, Metric, Observation, Policy, ScalingGroupCreate, WINDOW_MINUTES, decide, zone_for_new_member,
};
use meridian_core::view::{ScalingEvent, ScalingGroup, ScalingGroupDetail, ScalingMember};
use meridian_core::zone::ZoneId;
use uuid::Uuid;

/// A change to a group: its bounds, desired size, target, and the simulated load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingGroupUpdate {
    /// The fewest members.
    pub min: u32,
    /// The most members.
    pub max: u32,
    /// The desired size (within the bounds).
    pub desired: u32,
    /// The target value.
    pub target: u32,
    /// The simulated load (CPU %), or None for the simulator's own curve.
    pub simulated_cpu: Option<u32>,
}

/// How a member stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Health {
    Healthy,
    Booting,
    Unhealthy,
}

impl Health {
    fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Booting => "booting",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// A group's members as a round sees them.
struct Seen {
    /// `(vm, joined at, health)`, oldest first; gone ones are left out.
    members: Vec<(VmRow, i64, Health)>,
    /// Member rows whose VM is not there yet (being accepted right now, or never made: dropped
    /// a minute after).
    pending: usize,
    /// The metric over the settled members, and how many they are.
    value: Option<u64>,
    settled: u32,
}

fn policy_of(group: &ScalingGroupRow) -> Policy {
    let n = |v: i64| u32::try_from(v).unwrap_or(0);
    Policy {
        min: n(group.min_size),
        max: n(group.max_size),
        metric: Metric::parse(&group.metric).unwrap_or(Metric::Cpu),
        target: n(group.target),
        cooldown_secs: n(group.cooldown_secs),
        grace_secs: n(group.grace_secs),
    }
}

fn zones_of(group: &ScalingGroupRow) -> Vec<ZoneId> {
    group
        .zones
        .split(',')
        .filter_map(|z| ZoneId::parse(z).ok())
        .collect()
}

fn view_of(group: &ScalingGroupRow, members: usize) -> ScalingGroup {
    let n = |v: i64| u32::try_from(v).unwrap_or(0);
    ScalingGroup {
        id: group.id.clone(),
        name: group.name.clone(),
        template: group.template.clone(),
        size: group.size.clone(),
        zones: zones_of(group).iter().map(ToString::to_string).collect(),
        min: n(group.min_size),
        max: n(group.max_size),
        desired: n(group.desired),
        metric: group.metric.clone(),
        target: n(group.target),
        cooldown_secs: n(group.cooldown_secs),
        grace_secs: n(group.grace_secs),
        breakout: group.breakout != 0,
        simulated_cpu: group.sim_cpu.and_then(|v| u32::try_from(v).ok()),
        members: u32::try_from(members).unwrap_or(u32::MAX),
        deleting: group.deleting != 0,
        created_at: group.created_at,
    }
}

impl Control {
    /// Creates a group and its first members.
    pub async fn scaling_group_create(
        &self,
        ctx: &OpContext,
        create: ScalingGroupCreate,
    ) -> Result<ScalingGroup, Error> {
        let target = create.name.as_str().to_owned();
        let work = async {
            let tenant = ctx.tenant_for_mutation()?;
            self.tenant_active(&tenant).await?;
            let (user, _, _) = ctx.user()?;
            let residency = self.residency(&tenant).await?;
            for zone in &create.zones {
                if let Err(violation) = residency.check(*zone) {
                    return Err(Error::field(
                        "zones",
                        format!("{}: {violation}", zone.zone().city),
                    ));
                }
            }
            if let Some(budget) = create.latency {
                let out = self.latency_misses(&tenant, budget, &create.zones).await?;
                if !out.is_empty() {
                    return Err(Error::field("zones", out.join(" ")));
                }
            }
            let member = member_form(
                &create.template,
                &create.size,
                create.user_data.as_deref(),
                create.breakout,
            );
            let parsed = VmCreate::parse(&VmCreateForm {
                name: format!("{}-1", create.name.as_str()),
                zone: create.zones[0].to_string(),
                ..member
            })
            .map_err(Error::Invalid)?;
            if BuiltinTemplate::find(parsed.template).is_none()
                && !self
                    .store
                    .template_list(&tenant)
                    .await?
                    .iter()
                    .any(|t| t.id == parsed.template.to_string())
            {
                return Err(Error::field("template", "Choose one of the templates offered."));
            }
            let now = now_ms();
            let row = ScalingGroupRow {
                id: Uuid::new_v4().to_string(),
                tenant_id: tenant.clone(),
                created_by: user.to_string(),
                name: create.name.as_str().to_owned(),
                template: create.template.clone(),
                size: create.size.clone(),
                user_data: create.user_data.clone(),
                breakout: i64::from(create.breakout),
                zones: create
                    .zones
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                min_size: i64::from(create.policy.min),
                max_size: i64::from(create.policy.max),
                desired: i64::from(create.desired),
                metric: create.policy.metric.as_str().to_owned(),
                target: i64::from(create.policy.target),
                cooldown_secs: i64::from(create.policy.cooldown_secs),
                grace_secs: i64::from(create.policy.grace_secs),
                sim_cpu: None,
                last_scaled_at: None,
                acted_at: 0,
                members_made: 0,
                deleting: 0,
                created_at: now,
            };
            match self.store.scaling_group_insert(&row).await {
                Err(error) if crate::store::is_unique_violation(&error) => {
                    return Err(Error::Conflict {
                        field: Some("name"),
                        message: "You already have a scaling group with this name.".into(),
                    });
                }
                other => other?,
            }
            Ok(row)
        };
        let row = self.audited(ctx, "scaling_group.create", &target, work).await?;
        let mut tx = self.store.begin_write().await?;
        crate::store::Store::scaling_event_add(
            &mut tx,
            &row.id,
            row.created_at,
            row.desired,
            &format!(
                "Created with {} members (between {} and {}), scaling on {} towards {}{}.",
                row.desired,
                row.min_size,
                row.max_size,
                row.metric,
                row.target,
                if row.metric == "cpu" { " %" } else { " KiB/s" }
            ),
        )
        .await?;
        tx.commit().await?;
        // Its first members at once, not at the next round.
        self.scaling_act_now(&row.id).await?;
        Ok(view_of(&row, usize::try_from(row.desired).unwrap_or(0)))
    }

    /// The tenant's groups.
    pub async fn scaling_group_list(&self, ctx: &OpContext) -> Result<Vec<ScalingGroup>, Error> {
        let tenant = ctx.tenant()?.to_string();
        let mut groups = Vec::new();
        for group in self.store.scaling_group_list(&tenant).await? {
            let members = self.store.scaling_members(&group.id).await?.len();
            groups.push(view_of(&group, members));
        }
        Ok(groups)
    }

    /// One of the tenant's groups with its members, events and where it stands.
    pub async fn scaling_group_view(&self, ctx: &OpContext, id: &str) -> Result<ScalingGroupDetail, Error> {
        let group = self.scaling_group_row(ctx, id).await?;
        let now = now_ms();
        let seen = self.scaling_observe(&group, now).await?;
        let status = if group.deleting != 0 {
            format!("Being deleted: {} members left to destroy.", seen.members.len())
        } else {
            match decide(&policy_of(&group), &observation(&group, &seen, now)) {
                Decision::Hold(why) => why,
                Decision::Scale { reason, .. } => format!("At the next round: {reason}"),
            }
        };
        let events = self
            .store
            .scaling_events(&group.id)
            .await?
            .into_iter()
            .map(|(at, size, message)| ScalingEvent {
                at,
                size: u32::try_from(size).unwrap_or(0),
                message,
            })
            .collect();
        Ok(ScalingGroupDetail {
            group: view_of(&group, seen.members.len()),
            members: seen
                .members
                .into_iter()
                .map(|(vm, joined_at, health)| ScalingMember {
                    vm: vm.into(),
                    health: health.as_str().to_owned(),
                    joined_at,
                })
                .collect(),
            events,
            value: seen.value,
            status,
            simulated: self.driver.is_simulated(),
        })
    }

    /// Changes a group's bounds, desired size, target or simulated load; the group then moves
    /// to its desired size.
    pub async fn scaling_group_update(
        &self,
        ctx: &OpContext,
        id: &str,
        update: ScalingGroupUpdate,
    ) -> Result<ScalingGroup, Error> {
        let group = self.scaling_group_row(ctx, id).await?;
        let work = async {
            ctx.tenant_for_mutation()?;
            if group.deleting != 0 {
                return Err(Error::Conflict {
                    field: None,
                    message: "The group is being deleted.".into(),
                });
            }
            let mut fields = meridian_core::FieldErrors::default();
            if update.min > update.max
                || update.max == 0
                || update.max > meridian_core::scaling::MAX_GROUP_SIZE
            {
                fields.push(
                    "max",
                    format!(
                        "The most must be from the fewest to {}.",
                        meridian_core::scaling::MAX_GROUP_SIZE
                    ),
                );
            }
            if !(update.min..=update.max).contains(&update.desired) {
                fields.push(
                    "desired",
                    format!("Choose {} to {} members.", update.min, update.max),
                );
            }
            let top = if group.metric == "cpu" { 100 } else { 10_000_000 };
            if !(1..=top).contains(&update.target) {
                fields.push("target", format!("Enter a whole number from 1 to {top}."));
            }
            if update.simulated_cpu.is_some_and(|cpu| cpu > 100) {
                fields.push(
                    "simulated_cpu",
                    "Enter a CPU share from 0 to 100 %, or leave it empty.",
                );
            }
            if !fields.is_empty() {
                return Err(Error::Invalid(fields));
            }
            let changed = ScalingGroupRow {
                min_size: i64::from(update.min),
                max_size: i64::from(update.max),
                desired: i64::from(update.desired),
                target: i64::from(update.target),
                sim_cpu: update.simulated_cpu.map(i64::from),
                ..group.clone()
            };
            if !self.store.scaling_group_update(&changed).await? {
                return Err(Error::Conflict {
                    field: None,
                    message: "The group is being deleted.".into(),
                });
            }
            Ok(changed)
        };
        let changed = self
            .audited(ctx, "scaling_group.update", &group.name, work)
            .await?;
        if changed.desired != group.desired {
            let mut tx = self.store.begin_write().await?;
            crate::store::Store::scaling_event_add(
                &mut tx,
                &changed.id,
                now_ms(),
                changed.desired,
                &format!("Set to {} members by hand.", changed.desired),
            )
            .await?;
            tx.commit().await?;
        }
        self.scaling_act_now(&changed.id).await?;
        let members = self.store.scaling_members(&changed.id).await?.len();
        Ok(view_of(&changed, members))
    }

    /// Deletes a group: its members are destroyed (one still being made, once it is), then the
    /// group.
    pub async fn scaling_group_delete(&self, ctx: &OpContext, id: &str) -> Result<(), Error> {
        let group = self.scaling_group_row(ctx, id).await?;
        let work = async {
            ctx.tenant_for_mutation()?;
            self.store
                .scaling_group_mark_deleting(&group.tenant_id, &group.id)
                .await?;
            Ok(())
        };
        self.audited(ctx, "scaling_group.delete", &group.name, work)
            .await?;
        self.scaling_act_now(&group.id).await
    }

    /// Brings group `id` to its desired size now, unless another actor holds it (then its next
    /// round does).
    async fn scaling_act_now(&self, id: &str) -> Result<(), Error> {
        let now = now_ms();
        let Some(lease) = self.store.scaling_group_lease(id, now).await? else {
            return Ok(());
        };
        let acted = match self.store.scaling_group_by_id(id).await? {
            Some(group) => self.scaling_group_act(&group, now, None).await,
            None => Ok(()),
        };
        self.store.scaling_group_release(id, lease, now).await?;
        acted
    }

    async fn scaling_group_row(&self, ctx: &OpContext, id: &str) -> Result<ScalingGroupRow, Error> {
        let tenant = ctx.tenant()?.to_string();
        self.store
            .scaling_group_get(&tenant, id.trim())
            .await?
            .ok_or(Error::NotFound)
    }

    /// One scaling round at `now`: every group no other actor holds is measured, decided on and
    /// brought to its desired size. Returns how many it acted on; a group whose round fails is
    /// logged and the others go on.
    pub async fn scaling_tick(&self, now: i64) -> Result<usize, Error> {
        let mut acted = 0;
        for group in self.store.scaling_group_all().await? {
            match self.scaling_round(&group.id, now).await {
                Ok(true) => acted += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(group.id = %group.id, error = ?error, "scaling round failed for a group");
                }
            }
        }
        Ok(acted)
    }

    /// One group's round, under its lease; false when another actor held it.
    async fn scaling_round(&self, id: &str, now: i64) -> Result<bool, Error> {
        let Some(lease) = self.store.scaling_group_lease(id, now).await? else {
            return Ok(false);
        };
        let done = self.scaling_round_held(id, now).await;
        self.store.scaling_group_release(id, lease, now).await?;
        done.map(|()| true)
    }

    async fn scaling_round_held(&self, id: &str, now: i64) -> Result<(), Error> {
        // Read again under the lease: what another actor changed is seen.
        let Some(mut group) = self.store.scaling_group_by_id(id).await? else {
            return Ok(());
        };
        let seen = self.scaling_observe(&group, now).await?;
        if group.deleting == 0
            && let Decision::Scale { to, reason } =
                decide(&policy_of(&group), &observation(&group, &seen, now))
        {
            let mut tx = self.store.begin_write().await?;
            if !crate::store::Store::scaling_group_set_desired(&mut tx, &group.id, i64::from(to), now).await?
            {
                // Changed meanwhile (its bounds, a deletion): the next round decides again.
                return Ok(());
            }
            crate::store::Store::scaling_event_add(&mut tx, &group.id, now, i64::from(to), &reason).await?;
            tx.commit().await?;
            tracing::info!(group.id = %group.id, desired = to, reason = %reason, "scaling group scaled");
            group.desired = i64::from(to);
            group.last_scaled_at = Some(now);
        }
        self.scaling_group_act(&group, now, Some(seen)).await
    }

    /// Reads a group's members and their figures.
    async fn scaling_observe(&self, group: &ScalingGroupRow, now: i64) -> Result<Seen, Error> {
        let rows = self.store.scaling_members(&group.id).await?;
        let ids: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
        let vms = self.store.vm_by_ids(&ids).await?;
        let grace = group.grace_secs.saturating_mul(1000);
        let mut members = Vec::new();
        let mut pending = 0;
        for (id, joined) in rows {
            let Some(vm) = vms.iter().find(|vm| vm.id == id) else {
                // Written just before its VM was accepted, or its VM was never made (a crash, a
                // refusal): gone after a minute.
                if now - joined > 60_000 {
                    self.store.scaling_member_delete(&group.id, &id).await?;
                } else {
                    pending += 1;
                }
                continue;
            };
            let state = VmState::parse(&vm.state).map_err(Error::internal)?;
            let health = match state {
                VmState::Destroying | VmState::Destroyed => {
                    self.store.scaling_member_delete(&group.id, &id).await?;
                    continue;
                }
                VmState::Running => Health::Healthy,
                VmState::Pending | VmState::Provisioning if now - joined < grace => Health::Booting,
                _ if now - joined < grace => Health::Booting,
                _ => Health::Unhealthy,
            };
            members.push((vm.clone(), joined, health));
        }
        // The metric over members running past their grace, from the last few minutes' samples.
        let since = now - WINDOW_MINUTES * 60_000;
        let (mut cpu, mut capacity, mut bytes, mut seconds, mut settled) =
            (0_i64, 0_i64, 0_i64, 0_i64, 0_u32);
        for (vm, joined, health) in &members {
            if *health != Health::Healthy || now - joined < grace {
                continue;
            }
            let samples = self.store.vm_samples(&vm.id, SampleSpan::Minute, since).await?;
            if samples.is_empty() {
                continue;
            }
            settled += 1;
            for sample in samples {
                // A real VM's process may use more than its vCPUs (its devices): at most all.
                cpu += sample.cpu_ms.min(sample.capacity_ms);
                capacity += sample.capacity_ms;
                bytes += sample.received + sample.sent;
                seconds += sample.seconds;
            }
        }
        let value = match Metric::parse(&group.metric) {
            _ if settled == 0 || seconds == 0 => None,
            Some(Metric::Network) => u64::try_from(bytes / seconds / 1024).ok(),
            _ if capacity == 0 => None,
            _ => u64::try_from((cpu.saturating_mul(100) + capacity / 2) / capacity).ok(),
        };
        Ok(Seen {
            members,
            pending,
            value,
            settled,
        })
    }

    /// Brings a group to its desired size: unhealthy members replaced, members added where it has
    /// fewest or the newest removed.
    async fn scaling_group_act(
        &self,
        group: &ScalingGroupRow,
        now: i64,
        seen: Option<Seen>,
    ) -> Result<(), Error> {
        let seen = match seen {
            Some(seen) => seen,
            None => self.scaling_observe(group, now).await?,
        };
        let ctx = group_context(group)?;
        let grace = group.grace_secs;
        let pending = seen.pending;
        // Members that keep not coming up (a broken template, a zone out of room) are not
        // replaced in a loop: after three replacements in a row the group holds and says so.
        // (Three within four grace periods: members that never come up are replaced once a grace
        // period; one that fails now and then is not held for it.)
        let events = self.store.scaling_events(&group.id).await?;
        let window = now - 4 * grace * 1000;
        let stuck = events
            .iter()
            .filter(|(at, _, m)| *at >= window && m.starts_with("Replacing "))
            .count()
            >= 3;
        let mut live: Vec<(VmRow, i64)> = Vec::new();
        for (vm, joined, health) in seen.members {
            if health == Health::Unhealthy && stuck && group.deleting == 0 {
                let held = format!(
                    "Holding: three members replaced within {} s did not come up (check the template and the zones); replacing again after that.",
                    4 * grace
                );
                if events.last().is_none_or(|(_, _, m)| *m != held) {
                    self.scaling_event(group, now, group.desired, &held).await?;
                }
                live.push((vm, joined));
            } else if health == Health::Unhealthy {
                match self
                    .vm_destroy(&ctx, Error::id::<meridian_core::id::VmId>(&vm.id)?)
                    .await
                {
                    Ok(_) => {
                        self.scaling_event(
                            group,
                            now,
                            group.desired,
                            &format!(
                                "Replacing {}: {} past its {grace} s grace period.",
                                vm.name,
                                if vm.state == "stopped" {
                                    "stopped"
                                } else {
                                    "not running"
                                }
                            ),
                        )
                        .await?;
                        self.store.scaling_member_delete(&group.id, &vm.id).await?;
                    }
                    // Busy with another job, or in a state that cannot be destroyed yet: it stays a
                    // member and is looked at again next round.
                    Err(Error::Busy { .. } | Error::Forbidden(_)) => live.push((vm, joined)),
                    Err(error) => return Err(error),
                }
            } else {
                live.push((vm, joined));
            }
        }
        let desired = if group.deleting == 0 {
            usize::try_from(group.desired).unwrap_or(0)
        } else {
            0
        };
        if live.len() > desired {
            // The newest go first: members are listed oldest first.
            let extra: Vec<(VmRow, i64)> = live.drain(desired..).rev().collect();
            for (vm, joined) in extra {
                match self
                    .vm_destroy(&ctx, Error::id::<meridian_core::id::VmId>(&vm.id)?)
                    .await
                {
                    Ok(_) => {
                        self.store.scaling_member_delete(&group.id, &vm.id).await?;
                        self.scaling_event(
                            group,
                            now,
                            group.desired,
                            &format!("Removed {} (the newest first).", vm.name),
                        )
                        .await?;
                    }
                    // Still being made (or changed): removed at a later round.
                    Err(Error::Busy { .. } | Error::Forbidden(_)) => live.push((vm, joined)),
                    Err(error) => return Err(error),
                }
            }
        }
        if group.deleting != 0 {
            // A member still being accepted would be left outside any group: wait for it.
            if live.is_empty() && pending == 0 {
                self.store
                    .scaling_group_delete(&group.tenant_id, &group.id)
                    .await?;
                tracing::info!(group.id = %group.id, "scaling group deleted, its members destroyed");
            }
            return Ok(());
        }
        let zones = zones_of(group);
        let mut live_zones: Vec<ZoneId> = live
            .iter()
            .filter_map(|(vm, _)| ZoneId::parse(&vm.zone).ok())
            .collect();
        for _ in live.len()..desired {
            let Some(zone) = zone_for_new_member(&zones, &live_zones) else {
                break;
            };
            match self.scaling_member_add(group, &ctx, zone, now).await {
                Ok(name) => {
                    live_zones.push(zone);
                    self.scaling_event(
                        group,
                        now,
                        group.desired,
                        &format!("Added {name} in {}.", zone.zone().city),
                    )
                    .await?;
                }
                Err(error) => {
                    let message = format!("Could not add a member: {error}");
                    let last = self.store.scaling_events(&group.id).await?.pop();
                    if last.is_none_or(|(_, _, m)| m != message) {
                        self.scaling_event(group, now, group.desired, &message).await?;
                    }
                    break;
                }
            }
        }
        Ok(())
    }

    /// Makes one member in `zone`: its row first, then its VM; the row goes if the VM is refused.
    async fn scaling_member_add(
        &self,
        group: &ScalingGroupRow,
        ctx: &OpContext,
        zone: ZoneId,
        now: i64,
    ) -> Result<String, Error> {
        // Made with its creator's rights as they are now: a user who left, or is a viewer now,
        // makes nothing more.
        let (user, _, _) = ctx.user()?;
        match self.store.user_by_id(user).await? {
            Some(row) if row.tenant_id.to_string() == group.tenant_id && row.role.can_mutate() => {}
            _ => {
                return Err(Error::Forbidden(
                    "the user who made the group can no longer make VMs; make the group again as someone who can"
                        .into(),
                ));
            }
        }
        let (vdc, zone) = self.vm_create_place(ctx, None, Some(zone.as_str())).await?;
        let id = Uuid::new_v4();
        let Some(n) = self
            .store
            .scaling_member_insert(&group.id, &id.to_string(), now)
            .await?
        else {
            return Err(Error::Conflict {
                field: None,
                message: "the group is being deleted".into(),
            });
        };
        let name = format!("{}-{n}", group.name);
        let form = VmCreateForm {
            name: name.clone(),
            zone,
            ..member_form(
                &group.template,
                &group.size,
                group.user_data.as_deref(),
                group.breakout != 0,
            )
        };
        // Audited as any create, "via scaling group <name>".
        let made = match VmCreate::parse(&form) {
            Ok(create) => self.vm_create_as(ctx, vdc, create, Some(id)).await.map(|_| ()),
            Err(fields) => Err(Error::Invalid(fields)),
        };
        if let Err(error) = made {
            self.store
                .scaling_member_delete(&group.id, &id.to_string())
                .await?;
            return Err(error);
        }
        Ok(name)
    }

    async fn scaling_event(
        &self,
        group: &ScalingGroupRow,
        at: i64,
        size: i64,
        message: &str,
    ) -> Result<(), Error> {
        let mut tx = self.store.begin_write().await?;
        crate::store::Store::scaling_event_add(&mut tx, &group.id, at, size, message).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn observation(group: &ScalingGroupRow, seen: &Seen, now: i64) -> Observation {
    Observation {
        now,
        desired: u32::try_from(group.desired).unwrap_or(0),
        last_scaled_at: group.last_scaled_at,
        value: seen.value,
        settled: seen.settled,
    }
}

/// A member's create form, its name and zone to fill in.
fn member_form(template: &str, size: &str, user_data: Option<&str>, breakout: bool) -> VmCreateForm {
    VmCreateForm {
        template: template.to_owned(),
        size: size.to_owned(),
        user_data: user_data.unwrap_or_default().to_owned(),
        breakout: if breakout { "on".into() } else { String::new() },
        ..VmCreateForm::default()
    }
}

/// The group acting: its creator's rights, in its tenant, named in the audit log.
fn group_context(group: &ScalingGroupRow) -> Result<OpContext, Error> {
    let mut ctx = OpContext::new(
        Actor::User {
            user_id: group.created_by.parse().map_err(Error::internal)?,
            tenant_id: group.tenant_id.parse().map_err(Error::internal)?,
            role: meridian_core::account::Role::Member,
        },
        format!("scaling-{}", group.id),
    );
    ctx.via = Some(format!("scaling group {}", group.name));
    Ok(ctx)
}
