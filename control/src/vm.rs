//! Virtual machines: create, list, view, and the operations that run as jobs.

use crate::context::OpContext;
use crate::job::vm_spec;
use crate::store::job::NewJob;
use crate::store::vdc::VdcRow;
use crate::store::vm::VmRow;
use crate::store::{Store, is_unique_violation, now_ms};
use crate::{Control, Error};
use meridian_core::FieldErrors;
use meridian_core::backbone::BACKBONE;
use meridian_core::id::{VdcId, VmId};
use meridian_core::job::JobKind;
use meridian_core::placement::latency::{Anchor, zone_fit};
use meridian_core::resource::{BuiltinTemplate, VmAction, VmCreate, VmState};
use meridian_core::view;
use meridian_core::zone::ZoneId;
use uuid::Uuid;

/// A stack about to be created with its VMs: its row and the VDCs it makes.
#[derive(Clone, Debug)]
pub(crate) struct StackPlan {
    /// The stack.
    pub stack: crate::store::stack::StackRow,
    /// VDCs to create for it (zones where the tenant had none).
    pub new_vdcs: Vec<crate::store::vdc::VdcRow>,
}

/// How a caller may use a VM's serial console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleAccess {
    /// What they type reaches the guest (owners and members).
    Interactive,
    /// They see the output; what they type is dropped (viewers, inspecting staff).
    ReadOnly,
}

impl ConsoleAccess {
    /// Whether what the caller types reaches the guest.
    pub fn may_type(self) -> bool {
        self == ConsoleAccess::Interactive
    }
}

/// A VM's serial console as a caller may open it.
#[derive(Clone, Debug)]
pub struct SerialConsole {
    /// What the caller may do with it.
    pub access: ConsoleAccess,
    /// Where the driver serves it; None when the driver has no interactive console.
    pub endpoint: Option<crate::driver::SerialEndpoint>,
}

/// What a create or an operation started: the VM and the job doing the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Started {
    /// The VM.
    pub vm_id: Uuid,
    /// The job; its events report progress.
    pub job_id: Uuid,
}

impl Control {
    /// Accepts a VM for creation in one of the tenant's VDCs: validates it, reserves its quota and
    /// queues the create job, all in one transaction. Refused requests change nothing.
    pub async fn vm_create(
        &self,
        ctx: &OpContext,
        vdc_id: VdcId,
        create: VmCreate,
    ) -> Result<Started, Error> {
        self.vm_create_as(ctx, vdc_id, create, None).await
    }

    /// [`Control::vm_create`] with the VM's id chosen by the caller (see
    /// [`Control::idempotency_resource_id`]): a second create with the same id makes nothing.
    pub async fn vm_create_as(
        &self,
        ctx: &OpContext,
        vdc_id: VdcId,
        create: VmCreate,
        id: Option<Uuid>,
    ) -> Result<Started, Error> {
        let target = create.name.as_str().to_owned();
        let batch = vec![(vdc_id.to_string(), create)];
        let started = self
            .audited(
                ctx,
                "vm.create",
                &target,
                self.vm_accept(ctx, batch, None, id, None),
            )
            .await?;
        started
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("a create accepted no VM"))
    }

    /// Accepts many VMs at once (a cluster or a stack): all of them, or, if any is refused, none.
    /// Each entry names the VDC the VM goes in. One transaction reserves the quota for all of them
    /// and queues one create job each; the workers then run the jobs side by side.
    pub async fn vm_create_many(
        &self,
        ctx: &OpContext,
        creates: Vec<(VdcId, VmCreate)>,
    ) -> Result<Vec<Started>, Error> {
        let creates = creates
            .into_iter()
            .map(|(vdc, create)| (vdc.to_string(), create))
            .collect();
        self.vm_create_many_in(ctx, creates).await
    }

    /// [`Control::vm_create_many`] with the VDCs' ids as the store keeps them.
    pub(crate) async fn vm_create_many_in(
        &self,
        ctx: &OpContext,
        creates: Vec<(String, VmCreate)>,
    ) -> Result<Vec<Started>, Error> {
        let target = match creates.as_slice() {
            [(_, only)] => only.name.as_str().to_owned(),
            many => format!("{} VMs", many.len()),
        };
        self.audited(
            ctx,
            "vm.create",
            &target,
            self.vm_accept(ctx, creates, None, None, None),
        )
        .await
    }

    /// Validates and accepts VMs; with a stack, the stack row and the VDCs it makes are written
    /// in the same transaction, and the VMs belong to the stack.
    /// `id`, for a single VM, is the id it gets (else a new one). `vdcs`: the tenant's VDCs the
    /// VMs go in, when the caller has read them already (else they are read here, once).
    pub(crate) async fn vm_accept(
        &self,
        ctx: &OpContext,
        creates: Vec<(String, VmCreate)>,
        stack: Option<&StackPlan>,
        id: Option<Uuid>,
        vdcs: Option<Vec<VdcRow>>,
    ) -> Result<Vec<Started>, Error> {
        let tenant = ctx.tenant_for_mutation()?;
        self.tenant_active(&tenant).await?;
        if creates.is_empty() {
            return Ok(Vec::new());
        }
        // What every VM is checked against, read once for the whole batch.
        let mut vdcs = match vdcs {
            Some(vdcs) => vdcs,
            None => self.store.vdc_list(&tenant).await?,
        };
        if let Some(plan) = stack {
            vdcs.extend(plan.new_vdcs.iter().cloned());
        }
        let own = self.store.template_list(&tenant).await?;
        let residency = self.residency(&tenant).await?;
        let keys = self.store.ssh_key_list(&tenant).await?;
        // The backbone as it is (links cut for maintenance), read once if a VM has a latency budget.
        let mut cut = None;
        let single = creates.len() == 1;
        let mut errors = FieldErrors::default();
        let mut names = std::collections::BTreeSet::new();
        let mut vms = Vec::with_capacity(creates.len());
        for (index, (vdc_id, create)) in creates.into_iter().enumerate() {
            // In a batch, each message names the VM it is about.
            let field = |name: &str| {
                if single {
                    name.to_owned()
                } else {
                    format!("vms.{index}.{name}")
                }
            };
            let about = |message: String| {
                if single {
                    message
                } else {
                    format!("{}: {message}", create.name.as_str())
                }
            };
            let vdc = vdcs.iter().find(|v| v.id == vdc_id).ok_or(Error::NotFound)?;
            if create.zone.as_str() != vdc.zone {
                errors.push(
                    &field("zone"),
                    about(format!(
                        "This VDC is in {}; create the VM there or in another VDC.",
                        vdc.zone
                    )),
                );
            }
            if !names.insert(create.name.as_str().to_owned()) {
                errors.push(
                    &field("name"),
                    about("Two VMs of this request have this name.".into()),
                );
            }
            // A built-in template, or one of the tenant's own (another tenant's is simply unknown).
            let template = match BuiltinTemplate::find(create.template) {
                Some(builtin) => Some((builtin, builtin.name.to_owned(), None)),
                None => own
                    .iter()
                    .find(|t| t.id == create.template.to_string())
                    .and_then(|t| {
                        let base = t.base.parse().ok().and_then(BuiltinTemplate::find)?;
                        Some((base, t.name.clone(), Some(t.user_data.clone())))
                    }),
            };
            match &template {
                None => errors.push(
                    &field("template"),
                    about("Choose one of the templates offered.".into()),
                ),
                Some((base, _, _)) => {
                    if let Err(small) = base.check_disk(create.size.disk_gib) {
                        errors.push(&field("disk_gib"), about(small.to_string()));
                    }
                }
            }
            if let Err(violation) = residency.check(create.zone) {
                errors.push(&field("zone"), about(violation.to_string()));
            }
            if let Some(budget) = create.latency {
                match self.latency_anchor(&tenant, budget.anchor).await? {
                    None => errors.push(
                        &field("latency_of"),
                        about("Choose one of your VMs or a zone.".into()),
                    ),
                    Some(from) => {
                        if cut.is_none() {
                            cut = Some(self.backbone_cut_now().await?);
                        }
                        let now = cut.as_ref().expect("read above");
                        if let Err(reason) = zone_fit(&BACKBONE, from, create.zone, budget.max_ms, now) {
                            errors.push(&field("latency_ms"), about(reason));
                        }
                    }
                }
            }
            let mut fingerprints = Vec::new();
            for wanted in &create.ssh_key_ids {
                match keys.iter().find(|key| key.id == wanted.to_string()) {
                    Some(key) => fingerprints.push(key.fingerprint.clone()),
                    None => errors.push(
                        &field("ssh_key_ids"),
                        about("Choose among your own SSH keys.".into()),
                    ),
                }
            }
            let Some((base, template_name, template_user_data)) = template else {
                continue;
            };
            let user_data = combine_user_data(
                template_user_data,
                create.user_data.as_ref().map(|u| u.as_str().to_owned()),
            );
            let now = now_ms();
            vms.push(VmRow {
                id: id.filter(|_| single).unwrap_or_else(Uuid::new_v4).to_string(),
                tenant_id: tenant.clone(),
                vdc_id: vdc.id.clone(),
                name: create.name.as_str().to_owned(),
                zone: vdc.zone.clone(),
                template: create.template.to_string(),
                vcpus: i64::from(create.size.vcpus.get()),
                memory_mib: i64::from(create.size.memory_mib.get()),
                disk_gib: i64::from(create.size.disk_gib.get()),
                state: VmState::Pending.as_str().to_owned(),
                host_id: None,
                private_ip: None,
                public_ip: None,
                breakout: create.breakout,
                dedicated: create.dedicated,
                affinity_group: create.anti_affinity_group.as_ref().map(|g| g.as_str().to_owned()),
                user_data,
                template_name,
                image: base.slug.to_owned(),
                // The create's first step reserves it ([`Control::jobs_first_step_run`]).
                quota_reserved: false,
                ssh_keys: fingerprints.join(" "),
                pending_size: None,
                stack_id: stack.map(|plan| plan.stack.id.clone()),
                created_at: now,
                updated_at: now,
            });
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        self.vm_accept_valid(ctx, &tenant, vms, stack).await
    }

    /// Queues the create jobs of valid VMs, their first step (the quota) done, in one transaction.
    async fn vm_accept_valid(
        &self,
        ctx: &OpContext,
        tenant: &str,
        mut vms: Vec<VmRow>,
        stack: Option<&StackPlan>,
    ) -> Result<Vec<Started>, Error> {
        let mut jobs = Vec::with_capacity(vms.len());
        for vm in &vms {
            jobs.push(NewJob {
                id: Uuid::new_v4(),
                tenant_id: tenant.to_owned(),
                kind: JobKind::VmCreate,
                target: vm.id.parse().map_err(Error::internal)?,
            });
        }
        // The create job's first step, reserving quota, runs in the transaction that accepts the
        // VMs (the runner runs it there, as it runs every step): that is what makes concurrent
        // creates at the quota boundary exact, and a refusal leaves nothing behind. The jobs then
        // start at their second step.
        self.jobs_first_step_prepare(JobKind::VmCreate, &vms).await?;
        let mut tx = self.store.begin_write().await?;
        // A stack's name clash is the first thing to tell; then its quota.
        if let Some(plan) = stack {
            for vdc in &plan.new_vdcs {
                Store::vdc_insert(&mut tx, vdc).await?;
            }
            match Store::stack_insert(&mut tx, &plan.stack).await {
                Err(error) if is_unique_violation(&error) => {
                    return Err(Error::Conflict {
                        field: Some("name"),
                        message: "You already have a stack with this name.".into(),
                    });
                }
                other => other?,
            }
        }
        self.jobs_first_step_run(&mut tx, JobKind::VmCreate, &mut vms)
            .await?;
        if let Some(plan) = stack {
            stack_addresses_assign(&mut tx, plan, &mut vms).await?;
        }
        match Store::vm_insert_many(&mut tx, &vms).await {
            Err(error) if is_unique_violation(&error) => {
                return Err(Error::Conflict {
                    field: Some("name"),
                    message: if vms.len() == 1 {
                        "You already have a VM with this name.".into()
                    } else {
                        "You already have a VM with one of these names.".into()
                    },
                });
            }
            other => other?,
        }
        self.jobs_queue_past_first_step(&mut tx, &jobs).await?;
        tx.commit().await?;
        self.jobs_queued.notify_one();
        let started: Vec<Started> = jobs
            .iter()
            .map(|job| Started {
                vm_id: job.target,
                job_id: job.id,
            })
            .collect();
        tracing::info!(vm.count = started.len(), request.id = %ctx.request_id, "vm create accepted");
        Ok(started)
    }

    /// The tenant's VMs.
    pub async fn vm_list(&self, ctx: &OpContext) -> Result<Vec<view::Vm>, Error> {
        Ok(self.vm_rows(ctx).await?.into_iter().map(view::Vm::from).collect())
    }

    /// One of the tenant's VMs; another tenant's is not found.
    pub async fn vm_view(&self, ctx: &OpContext, vm_id: VmId) -> Result<view::Vm, Error> {
        Ok(self.vm_row(ctx, &vm_id.to_string()).await?.into())
    }

    /// The tenant's VM rows.
    pub(crate) async fn vm_rows(&self, ctx: &OpContext) -> Result<Vec<VmRow>, Error> {
        let tenant = ctx.tenant()?;
        Ok(self.store.vm_list(&tenant.to_string()).await?)
    }

    /// One of the tenant's VM rows; another tenant's is not found.
    pub(crate) async fn vm_row(&self, ctx: &OpContext, vm_id: &str) -> Result<VmRow, Error> {
        let tenant = ctx.tenant()?;
        self.store
            .vm_get(&tenant.to_string(), vm_id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// The VM's console output (from the driver). When its host cannot say, one line says why.
    pub async fn vm_console(&self, ctx: &OpContext, vm_id: VmId) -> Result<Vec<String>, Error> {
        let vm = self.vm_row(ctx, &vm_id.to_string()).await?;
        Ok(match self.driver.console(&vm_spec(&vm)?).await {
            Ok(lines) => lines,
            Err(error) => vec![format!("[console unavailable: {}]", error.message)],
        })
    }

    /// The guest image the VM last booted, as its host names it; None when the driver does not
    /// say or its host does not answer now (logged: the VM page shows the rest all the same).
    pub async fn vm_guest_image(&self, ctx: &OpContext, vm_id: VmId) -> Result<Option<String>, Error> {
        let vm = self.vm_row(ctx, &vm_id.to_string()).await?;
        Ok(match self.driver.guest_image(&vm_spec(&vm)?).await {
            Ok(image) => image,
            Err(error) => {
                tracing::debug!(vm.id = %vm_id, error = %error, "guest image unknown");
                None
            }
        })
    }

    /// How the caller may use the VM's serial console: owners and members type into it, viewers
    /// and inspecting staff only watch. A VM the caller may not see is not found.
    pub async fn vm_console_access(&self, ctx: &OpContext, vm_id: VmId) -> Result<ConsoleAccess, Error> {
        self.vm_row(ctx, &vm_id.to_string()).await?;
        Ok(if ctx.tenant_for_mutation().is_ok() {
            ConsoleAccess::Interactive
        } else {
            ConsoleAccess::ReadOnly
        })
    }

    /// The VM's serial console for the caller to open: their access ([`Control::vm_console_access`])
    /// and where the driver serves it. None for a driver without an interactive console (the
    /// simulator); a conflict when the VM has none now (not placed, its host unknown).
    pub async fn vm_serial_open(&self, ctx: &OpContext, vm_id: VmId) -> Result<SerialConsole, Error> {
        let access = self.vm_console_access(ctx, vm_id).await?;
        let vm = self.vm_row(ctx, &vm_id.to_string()).await?;
        let endpoint = self
            .driver
            .serial_endpoint(&vm_spec(&vm)?)
            .await
            .map_err(|error| Error::Conflict {
                field: None,
                message: error.message,
            })?;
        Ok(SerialConsole { access, endpoint })
    }

    /// Stops a running VM.
    pub async fn vm_stop(&self, ctx: &OpContext, vm_id: VmId) -> Result<Started, Error> {
        self.vm_operate(ctx, &vm_id.to_string(), VmAction::Stop, JobKind::VmStop)
            .await
    }

    /// Starts a stopped VM.
    pub async fn vm_start(&self, ctx: &OpContext, vm_id: VmId) -> Result<Started, Error> {
        self.vm_operate(ctx, &vm_id.to_string(), VmAction::Start, JobKind::VmStart)
            .await
    }

    /// Reboots a running VM.
    pub async fn vm_reboot(&self, ctx: &OpContext, vm_id: VmId) -> Result<Started, Error> {
        self.vm_operate(ctx, &vm_id.to_string(), VmAction::Reboot, JobKind::VmReboot)
            .await
    }

    /// Destroys a VM and releases everything it holds.
    pub async fn vm_destroy(&self, ctx: &OpContext, vm_id: VmId) -> Result<Started, Error> {
        self.vm_operate(ctx, &vm_id.to_string(), VmAction::Destroy, JobKind::VmDestroy)
            .await
    }

    /// Gives a running or stopped VM a public address in its zone (internet breakout), in a zone
    /// the residency policy allows.
    pub async fn vm_breakout_open(&self, ctx: &OpContext, vm_id: VmId) -> Result<Started, Error> {
        self.vm_operate(
            ctx,
            &vm_id.to_string(),
            VmAction::OpenBreakout,
            JobKind::VmBreakoutOpen,
        )
        .await
    }

    /// Takes a VM's public address away; it stays on the private network.
    pub async fn vm_breakout_close(&self, ctx: &OpContext, vm_id: VmId) -> Result<Started, Error> {
        self.vm_operate(
            ctx,
            &vm_id.to_string(),
            VmAction::CloseBreakout,
            JobKind::VmBreakoutClose,
        )
        .await
    }

    async fn vm_operate(
        &self,
        ctx: &OpContext,
        vm_id: &str,
        action: VmAction,
        kind: JobKind,
    ) -> Result<Started, Error> {
        let audit_action = format!("vm.{}", action.as_str());
        self.audited(
            ctx,
            &audit_action,
            vm_id,
            self.vm_operate_unaudited(ctx, vm_id, action, kind, None),
        )
        .await
    }

    /// Resizes a stopped VM to a size from the catalogue (disks only grow).
    pub async fn vm_resize(&self, ctx: &OpContext, vm_id: VmId, size: &str) -> Result<Started, Error> {
        self.audited(
            ctx,
            "vm.resize",
            &format!("{vm_id} → {size}"),
            self.vm_resize_unaudited(ctx, &vm_id.to_string(), size),
        )
        .await
    }

    async fn vm_resize_unaudited(&self, ctx: &OpContext, vm_id: &str, size: &str) -> Result<Started, Error> {
        use meridian_core::resource::{DiskGib, MemoryMib, Vcpus, VmSize};
        let vm = self.vm_row(ctx, vm_id).await?;
        let field = |message: String| {
            let mut errors = FieldErrors::default();
            errors.push("size", message);
            Error::Invalid(errors)
        };
        let new = VmSize::named(size).map_err(|e| field(e.to_string()))?;
        let to = |v: i64| u32::try_from(v).unwrap_or(0);
        let current = VmSize::new(
            Vcpus::new(to(vm.vcpus)).map_err(Error::internal)?,
            MemoryMib::new(to(vm.memory_mib)).map_err(Error::internal)?,
            DiskGib::new(to(vm.disk_gib)).map_err(Error::internal)?,
        );
        current.check_resize(&new).map_err(|e| field(e.to_string()))?;
        let key = |s: &VmSize| {
            crate::job::size_key((
                i64::from(s.vcpus.get()),
                i64::from(s.memory_mib.get()),
                i64::from(s.disk_gib.get()),
            ))
        };
        let params = format!("{}|{}", key(&current), key(&new));
        self.vm_operate_unaudited(ctx, vm_id, VmAction::Resize, JobKind::VmResize, Some(params))
            .await
    }

    async fn vm_operate_unaudited(
        &self,
        ctx: &OpContext,
        vm_id: &str,
        action: VmAction,
        kind: JobKind,
        params: Option<String>,
    ) -> Result<Started, Error> {
        let tenant = ctx.tenant_for_mutation()?;
        let mut tx = self.store.begin_write().await?;
        let vm = Store::vm_by_id_tx(&mut tx, vm_id)
            .await?
            .filter(|vm| vm.tenant_id == tenant)
            .ok_or(Error::NotFound)?;
        let state = VmState::parse(&vm.state).map_err(Error::internal)?;
        action.allowed_for(state, vm.breakout).map_err(Error::Forbidden)?;
        if action == VmAction::OpenBreakout {
            Self::breakout_within_residency(&mut tx, &vm).await?;
        }
        let vm_uuid: Uuid = vm.id.parse().map_err(Error::internal)?;
        // By default the parameter is the VM's state: a destroy that unwinds puts it back.
        let params = params.unwrap_or_else(|| vm.state.clone());
        let job_id = self.vm_job_queue(tx, vm_uuid, &tenant, kind, &params).await?;
        tracing::info!(vm.id = %vm.id, job.id = %job_id, job.kind = kind.as_str(), request.id = %ctx.request_id, "vm operation queued");
        Ok(Started {
            vm_id: vm_uuid,
            job_id,
        })
    }
}

impl Control {
    /// Queues a job of `kind` on a VM inside `tx` (which has already checked the VM's state) and
    /// commits; or refuses with [`Error::Busy`] naming the job that holds the VM. The check here
    /// reads; the unique index on live jobs settles two transactions that both passed it.
    pub(crate) async fn vm_job_queue(
        &self,
        mut tx: crate::store::Tx,
        vm: Uuid,
        tenant: &str,
        kind: JobKind,
        params: &str,
    ) -> Result<Uuid, Error> {
        if let Some(job_id) = Store::vm_live_job(&mut tx, &vm.to_string()).await? {
            return Err(Error::Busy { job_id });
        }
        self.hooks.before_job_insert().await;
        let job_id = Uuid::new_v4();
        let inserted = Store::job_insert_with_params(&mut tx, job_id, tenant, kind, vm, params).await;
        match inserted.and(Ok(())) {
            Err(error) if crate::store::is_unique_violation(&error) => {
                // Another transaction queued a job on this VM first; ours is rolled back.
                drop(tx);
                return Err(self.vm_busy(vm).await);
            }
            other => other?,
        }
        tx.commit().await?;
        self.jobs_queued.notify_one();
        Ok(job_id)
    }

    /// The refusal for a VM another operation holds: its live job, read after the race was lost.
    async fn vm_busy(&self, vm: Uuid) -> Error {
        let live = async {
            let mut tx = self.store.begin_read().await?;
            Store::vm_live_job(&mut tx, &vm.to_string()).await
        };
        match live.await {
            Ok(Some(job_id)) => Error::Busy { job_id },
            // It finished meanwhile.
            Ok(None) => Error::Conflict {
                field: None,
                message: "Another operation on this VM just finished; try again.".into(),
            },
            Err(error) => error.into(),
        }
    }

    /// Refuses a new public address for `vm` in a zone the tenant's residency policy (as it is
    /// now) does not allow. Read inside the caller's transaction.
    pub(crate) async fn breakout_within_residency(
        tx: &mut crate::store::Tx,
        vm: &VmRow,
    ) -> Result<(), Error> {
        let policy = Self::residency_tx(tx, &vm.tenant_id).await?;
        let zone = meridian_core::zone::ZoneId::parse(&vm.zone).map_err(Error::internal)?;
        policy
            .check(zone)
            .map_err(|violation| Error::Forbidden(violation.to_string()))
    }
}

/// A VM's latest job and its progress events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmActivity {
    /// The VM as it is now.
    pub vm: view::Vm,
    /// Its most recent job with how far each step got, if any.
    pub job: Option<view::Job>,
    /// That job's events, oldest first.
    pub events: Vec<view::JobEvent>,
    /// The VM's recent jobs, newest first (its history).
    pub history: Vec<view::Job>,
}

impl Control {
    /// The VM with its latest job and that job's progress (for the live VM page).
    pub async fn vm_activity(&self, ctx: &OpContext, vm_id: VmId) -> Result<VmActivity, Error> {
        let vm = self.vm_row(ctx, &vm_id.to_string()).await?;
        let id: Uuid = vm.id.parse().map_err(Error::internal)?;
        let history = self.store.job_list_for_target(&vm.tenant_id, id, 20).await?;
        let events = match history.first() {
            Some(job) => self.store.job_events(job.id, 0).await?,
            None => Vec::new(),
        };
        let job = history
            .first()
            .cloned()
            .map(|job| crate::job::job_with_steps(job, &events));
        Ok(VmActivity {
            vm: vm.into(),
            job,
            events: events.into_iter().map(view::JobEvent::from).collect(),
            history: history.into_iter().map(view::Job::from).collect(),
        })
    }

    /// The tenant's recent job events, newest first.
    pub(crate) async fn events_recent(
        &self,
        ctx: &OpContext,
        limit: i64,
    ) -> Result<Vec<crate::store::job::RecentEvent>, Error> {
        let tenant = ctx.tenant()?;
        Ok(self.store.job_events_recent(&tenant.to_string(), limit).await?)
    }

    /// The tenant's private network: `(zone, subnet)` pairs.
    pub async fn network_subnets(&self, ctx: &OpContext) -> Result<Vec<(String, String)>, Error> {
        let tenant = ctx.tenant()?;
        Ok(self.store.subnet_list(&tenant.to_string()).await?)
    }
}

/// What a create naming a VDC the tenant does not have is told, next to the VDC field.
pub const UNKNOWN_VDC: &str = "Choose one of your VDCs.";

impl Control {
    /// The zone a VM created in one of the tenant's VDCs runs in (a create form names the VDC, and
    /// its zone is parsed with the rest of the form). A VDC the tenant does not have is reported
    /// on the form's `vdc_id` field.
    pub async fn vm_create_zone(&self, ctx: &OpContext, vdc_id: VdcId) -> Result<String, Error> {
        let tenant = ctx.tenant()?;
        let vdc = self
            .store
            .vdc_get(&tenant.to_string(), &vdc_id.to_string())
            .await?;
        vdc.map(|vdc| vdc.zone)
            .ok_or_else(|| Error::field("vdc_id", UNKNOWN_VDC))
    }

    /// Where a VM goes whose create names a VDC (`vdc`), a zone (`zone`) or both: the VDC, or
    /// the tenant's VDC in the zone ([`Control::vdc_default`]), so a VM can be created in any zone
    /// with no set-up. The VDC and its zone; a VDC in another zone than the one named is refused
    /// on `zone`, neither on `vdc_id`.
    pub async fn vm_create_place(
        &self,
        ctx: &OpContext,
        vdc: Option<&str>,
        zone: Option<&str>,
    ) -> Result<(VdcId, String), Error> {
        let (vdc, zone) = (vdc.filter(|v| !v.is_empty()), zone.filter(|z| !z.is_empty()));
        match (vdc, zone) {
            (Some(vdc), zone) => {
                let vdc_id = Error::id(vdc).map_err(|_| Error::field("vdc_id", UNKNOWN_VDC))?;
                let vdc_zone = self.vm_create_zone(ctx, vdc_id).await?;
                match zone {
                    Some(zone) if zone != vdc_zone => Err(Error::field(
                        "zone",
                        format!("That VDC is in {vdc_zone}, not {zone}: leave the zone out, or the VDC."),
                    )),
                    _ => Ok((vdc_id, vdc_zone)),
                }
            }
            (None, Some(zone)) => {
                let vdc = self.vdc_default(ctx, zone).await?;
                Ok((vdc.id, vdc.zone))
            }
            (None, None) => Err(Error::field(
                "vdc_id",
                "Choose one of your VDCs, or a zone (its VDC is made for you).",
            )),
        }
    }
}

impl Control {
    /// The create of one of the tenant's VMs, by the VM's id: what an idempotent create answered.
    /// None when there is no such VM.
    pub async fn vm_create_started(&self, ctx: &OpContext, vm_id: Uuid) -> Result<Option<Started>, Error> {
        let tenant = ctx.tenant()?.to_string();
        let Some(vm) = self.store.vm_get(&tenant, &vm_id.to_string()).await? else {
            return Ok(None);
        };
        let jobs = self.store.job_list_for_target(&tenant, vm_id, 1_000).await?;
        let create = jobs
            .iter()
            .filter(|job| job.position.kind == JobKind::VmCreate)
            .min_by_key(|job| job.created_at)
            .ok_or_else(|| Error::internal(format_args!("vm {} has no create job", vm.id)))?;
        Ok(Some(Started {
            vm_id,
            job_id: create.id,
        }))
    }

    /// Destroys a VM once the caller has typed its name, so a slip of the mouse destroys nothing.
    pub async fn vm_destroy_confirmed(
        &self,
        ctx: &OpContext,
        vm_id: VmId,
        confirm_name: &str,
    ) -> Result<Started, Error> {
        let vm = self.vm_row(ctx, &vm_id.to_string()).await?;
        if confirm_name.trim() != vm.name {
            let mut errors = FieldErrors::default();
            errors.push("confirm_name", format!("Type {} to confirm.", vm.name));
            return self
                .audited(ctx, "vm.destroy", &vm.id, async { Err(Error::Invalid(errors)) })
                .await;
        }
        self.vm_destroy(ctx, vm_id).await
    }
}

impl Control {
    /// The zone a latency budget is measured from: the zone itself, or the zone of one of the
    /// tenant's live VMs (`None` for a VM that is not theirs or is gone).
    pub(crate) async fn latency_anchor(&self, tenant: &str, anchor: Anchor) -> Result<Option<ZoneId>, Error> {
        Ok(match anchor {
            Anchor::Zone(zone) => Some(zone),
            Anchor::Vm(vm) => self
                .store
                .vm_get(tenant, &vm.to_string())
                .await?
                .filter(|row| row.state != VmState::Destroyed.as_str())
                .and_then(|row| ZoneId::parse(&row.zone).ok()),
        })
    }

    /// Why each of `zones` misses latency `budget` over today's backbone (empty when all fit);
    /// refused on `latency_of` when the budget is measured from a VM that is not the tenant's.
    /// Stacks and scaling groups check their zones with it.
    pub(crate) async fn latency_misses(
        &self,
        tenant: &str,
        budget: meridian_core::placement::latency::LatencyBudget,
        zones: &[ZoneId],
    ) -> Result<Vec<String>, Error> {
        let Some(from) = self.latency_anchor(tenant, budget.anchor).await? else {
            return Err(Error::field("latency_of", "Choose one of your VMs or a zone."));
        };
        let cut = self.backbone_cut_now().await?;
        Ok(zones
            .iter()
            .filter_map(|zone| zone_fit(&BACKBONE, from, *zone, budget.max_ms, &cut).err())
            .collect())
    }
}

/// The most VMs one bulk action names.
pub const BULK_MAX: usize = 100;

impl Control {
    /// Starts, stops, reboots or destroys each of the tenant's VMs `ids` (`action` names which):
    /// one job per VM, each audited as its own operation. The request is refused whole, with
    /// nothing changed, when the actor may not change the tenant, the action or the list is
    /// wrong, any id is not one of the tenant's VMs (404), or a destroy is not confirmed by
    /// `confirm` holding the number of VMs. Otherwise every VM gets an outcome: a VM whose state
    /// does not allow the action, or that another job holds, is skipped and says why, and the
    /// others go ahead.
    pub async fn vm_bulk(
        &self,
        ctx: &OpContext,
        action: &str,
        ids: &[String],
        confirm: &str,
    ) -> Result<Vec<view::BulkOutcome>, Error> {
        ctx.tenant_for_mutation()?;
        let (action, kind) = match action.trim() {
            "start" => (VmAction::Start, JobKind::VmStart),
            "stop" => (VmAction::Stop, JobKind::VmStop),
            "reboot" => (VmAction::Reboot, JobKind::VmReboot),
            "destroy" => (VmAction::Destroy, JobKind::VmDestroy),
            _ => return Err(Error::field("action", "Choose start, stop, reboot or destroy.")),
        };
        // Bounded before anything is parsed or compared: a long list costs nothing.
        if ids.len() > BULK_MAX {
            return Err(Error::field(
                "ids",
                format!("Choose at most {BULK_MAX} VMs at a time."),
            ));
        }
        let mut wanted: Vec<VmId> = Vec::with_capacity(ids.len());
        for id in ids {
            let id = Error::id(id)?;
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
        if wanted.is_empty() {
            return Err(Error::field("ids", "Choose at least one VM."));
        }
        let mut rows = Vec::with_capacity(wanted.len());
        for id in &wanted {
            rows.push(self.vm_row(ctx, &id.to_string()).await?);
        }
        let count = rows.len().to_string();
        if action == VmAction::Destroy && confirm.trim() != count {
            let noun = if rows.len() == 1 { "VM" } else { "VMs" };
            let refusal = Error::field(
                "confirm",
                format!("Type {count} to confirm destroying {count} {noun}."),
            );
            let target = format!("{count} {noun}");
            return self
                .audited(ctx, "vm.destroy", &target, async { Err(refusal) })
                .await;
        }
        let mut outcomes = Vec::with_capacity(rows.len());
        for (id, row) in wanted.into_iter().zip(rows) {
            let started = self.vm_operate(ctx, &id.to_string(), action, kind).await;
            let (job_id, error_code, error) = match started {
                Ok(started) => (Some(started.job_id.into()), None, None),
                Err(error @ (Error::Forbidden(_) | Error::Busy { .. } | Error::NotFound)) => {
                    (None, Some(error.code().to_owned()), Some(error.to_string()))
                }
                Err(error) => return Err(error),
            };
            outcomes.push(view::BulkOutcome {
                vm_id: id,
                name: row.name,
                job_id,
                error_code,
                error,
            });
        }
        Ok(outcomes)
    }
}

/// The cloud-config a VM boots with: its template's and its own. When both exist they travel as
/// one MIME multi-part document, which cloud-init reads part by part, template first.
/// Gives a stack's members their private addresses as they are accepted (their create jobs'
/// address step then has nothing to do), so that a replica set's first member boots knowing
/// every member's address ([`meridian_core::stack::with_members`]).
async fn stack_addresses_assign(
    tx: &mut crate::store::Tx,
    plan: &StackPlan,
    vms: &mut [VmRow],
) -> Result<(), Error> {
    let Some(set) =
        meridian_core::stack::StackTemplate::find(&plan.stack.template).and_then(|t| t.replica_set)
    else {
        return Ok(());
    };
    use crate::job::StepError;
    let chosen = Control::private_ips_choose(tx, vms)
        .await
        .map_err(|error| match error {
            StepError::Internal(error) => error,
            StepError::Failed(message) => Error::Conflict { field: None, message },
            StepError::Retry(detail) => Error::Transient { detail },
            StepError::LeaseLost => Error::internal("no lease is held while accepting"),
        })?;
    let addresses: Vec<String> = chosen.iter().filter_map(|(_, ip)| ip.clone()).collect();
    for (vm, (_, ip)) in vms.iter_mut().zip(chosen) {
        vm.private_ip = ip;
        vm.user_data = vm
            .user_data
            .as_deref()
            .map(|user_data| meridian_core::stack::with_members(user_data, &set, &addresses));
    }
    Ok(())
}

fn combine_user_data(template: Option<String>, own: Option<String>) -> Option<String> {
    match (template, own) {
        (Some(template), Some(own)) => {
            let boundary = "MERIDIAN-CLOUD-CONFIG";
            Some(format!(
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n\
                 --{boundary}\nContent-Type: text/cloud-config; charset=\"utf-8\"\n\n{template}\n\
                 --{boundary}\nContent-Type: text/cloud-config; charset=\"utf-8\"\n\n{own}\n--{boundary}--\n"
            ))
        }
        (one, other) => one.or(other),
    }
}

#[cfg(test)]
mod tests {
    use super::combine_user_data;

    #[test]
    fn a_template_and_a_vm_cloud_config_travel_as_two_mime_parts_template_first() {
        let both = combine_user_data(
            Some("#cloud-config\na: 1".into()),
            Some("#cloud-config\nb: 2".into()),
        )
        .unwrap();
        assert!(both.starts_with("Content-Type: multipart/mixed; boundary="));
        let template = both.find("a: 1").unwrap();
        let own = both.find("b: 2").unwrap();
        assert!(template < own);
        assert_eq!(both.matches("Content-Type: text/cloud-config").count(), 2);
        assert_eq!(combine_user_data(None, Some("x".into())).as_deref(), Some("x"));
        assert_eq!(combine_user_data(Some("t".into()), None).as_deref(), Some("t"));
        assert_eq!(combine_user_data(None, None), None);
    }
}
