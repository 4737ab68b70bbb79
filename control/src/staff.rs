//! The staff console: Meridian's own support and admin staff. Staff accounts are created from the
//! command line; staff list and search tenants, inspect one read-only after giving a reason (the
//! tenant's audit log records it), and admins suspend tenants, change quotas, and retry or cancel
//! jobs. Capacity and the job queue are seen across every tenant.

use crate::context::{Actor, OpContext};
use crate::metering::usage_records;
use crate::session_store::{Inspecting, StaffAuth};
use crate::store::job::JobRow;
use crate::store::now_ms;
use crate::store::staff::{StaffJobRow, StaffRow, TenantSummaryRow};
use crate::{Control, Error};
use meridian_core::calendar::month_bounds;
use meridian_core::id::{JobId, StaffId};
use meridian_core::job::{JobKind, JobState};
use meridian_core::pricing::{Invoice, Money};
use meridian_core::resource::{Quota, QuotaUsage, VmAction, VmState};
use meridian_core::staff::{Reason, StaffRole, TENANT_SORTS};
use meridian_core::view;
use meridian_core::view::MeteredHour;
use meridian_core::{Email, FieldErrors, Password, TenantId};
use std::collections::HashMap;
use uuid::Uuid;

/// A staff member as the console shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffAccount {
    /// Their id.
    pub id: StaffId,
    /// Log-in address.
    pub email: String,
    /// What they may do.
    pub role: StaffRole,
}

impl From<StaffRow> for StaffAccount {
    fn from(row: StaffRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            role: row.role,
        }
    }
}

/// One tenant in detail, for staff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantDetail {
    /// The summary.
    pub summary: view::TenantSummary,
    /// Its users as `(id, e-mail, role)`.
    pub users: Vec<(String, String, String)>,
    /// Its quota and what is reserved against it.
    pub quota: (Quota, QuotaUsage),
    /// Its latest audit entries, newest first.
    pub audit: Vec<meridian_core::view::AuditEntry>,
}

/// How many jobs one console page lists.
const PAGE: i64 = 200;

/// How many tenants one page of the console's list shows.
pub const TENANTS_PER_PAGE: i64 = 50;

fn reason_field(raw: &str, field: &str) -> Result<Reason, Error> {
    Reason::parse(raw).map_err(|e| {
        let mut fields = FieldErrors::default();
        fields.push(field, e.to_string());
        Error::Invalid(fields)
    })
}

impl Control {
    /// Creates a staff member (the `meridian staff create` command; there is no sign-up).
    pub async fn staff_create(&self, email: &str, password: &str, role: &str) -> Result<StaffAccount, Error> {
        let mut errors = FieldErrors::default();
        let email = errors.check("email", Email::parse(email));
        let password = errors.check("password", Password::parse(password));
        let role = errors.check("role", StaffRole::parse(role));
        let (Some(email), Some(password), Some(role)) = (email, password, role) else {
            return Err(Error::Invalid(errors));
        };
        let row = StaffRow {
            id: StaffId(Uuid::new_v4()),
            email: email.as_str().to_owned(),
            password_hash: self.passwords.hash(&password).await?,
            role,
        };
        if !self.store.staff_insert(&row, now_ms()).await? {
            return Err(Error::Conflict {
                field: Some("email"),
                message: "A staff member with this e-mail address already exists.".into(),
            });
        }
        tracing::info!(staff.id = %row.id, staff.role = %role, "staff member created");
        Ok(row.into())
    }

    /// Checks a staff member's e-mail and password; unknown address and wrong password fail
    /// alike, in the same time.
    pub async fn staff_login(
        &self,
        ctx: &OpContext,
        email: &str,
        password: &str,
    ) -> Result<StaffAccount, Error> {
        Ok(self.staff_login_on_device(ctx, email, password, None).await?.0)
    }

    /// [`Control::staff_login`] from a browser that may hold a known-device token for this staff
    /// account (then only the device's budget is spent, as for tenant users); a success answers
    /// with the browser's fresh token.
    pub async fn staff_login_on_device(
        &self,
        ctx: &OpContext,
        email: &str,
        password: &str,
        device_token: Option<&str>,
    ) -> Result<(StaffAccount, String), Error> {
        let throttle_key = format!("staff:{}", email.trim().to_lowercase());
        let device = self.device_known(&throttle_key, device_token);
        let budgets =
            meridian_core::throttle::login_budgets(&throttle_key, ctx.client.as_deref(), device.as_deref());
        let attempt = self.throttle_admit(ctx, "staff_login", budgets).await?;
        let staff = match Email::parse(email) {
            Ok(email) => self.store.staff_by_email(email.as_str()).await?,
            Err(_) => None,
        };
        let verified = self
            .passwords
            .verify(password, staff.as_ref().map(|s| s.password_hash.as_str()))
            .await?;
        match staff {
            Some(staff) if verified => {
                self.throttle_succeeded(attempt).await?;
                tracing::info!(staff.id = %staff.id, request.id = %ctx.request_id, known_device = device.is_some(), "staff member logged in");
                Ok((staff.into(), self.device_token(&throttle_key, device)))
            }
            _ => {
                tracing::info!(request.id = %ctx.request_id, "staff log-in refused");
                Err(Error::BadCredentials)
            }
        }
    }

    /// The actor a staff session stands for now (a removed staff member is nobody).
    pub async fn actor_for_staff_session(&self, auth: &StaffAuth) -> Result<Actor, Error> {
        Ok(match self.store.staff_by_id(auth.staff_id).await? {
            Some(staff) => Actor::Staff {
                staff_id: staff.id,
                role: staff.role,
                inspecting: auth.inspecting.as_ref().map(|i| i.tenant_id),
            },
            None => Actor::Anonymous,
        })
    }

    /// The signed-in staff member.
    pub async fn staff_view(&self, ctx: &OpContext) -> Result<StaffAccount, Error> {
        let (id, _) = ctx.staff()?;
        Ok(self
            .store
            .staff_by_id(id)
            .await?
            .ok_or(Error::Unauthenticated)?
            .into())
    }

    /// The signed-in staff member and the tenant they inspect, if any, as `(id, name)`.
    pub async fn staff_inspection_view(
        &self,
        ctx: &OpContext,
    ) -> Result<(StaffAccount, Option<(TenantId, String)>), Error> {
        let staff = self.staff_view(ctx).await?;
        let tenant = match ctx.actor {
            Actor::Staff {
                inspecting: Some(tenant),
                ..
            } => {
                let row = self.store.tenant_get(tenant).await?.ok_or(Error::NotFound)?;
                Some((row.id, row.name))
            }
            _ => None,
        };
        Ok((staff, tenant))
    }

    /// Tenants matching `query` (name, a user's e-mail, or id), ordered by `sort` (a key of
    /// [`TENANT_SORTS`]), [`TENANTS_PER_PAGE`] at a time from page `page` (0 first), with totals.
    pub async fn staff_tenants(
        &self,
        ctx: &OpContext,
        query: &str,
        sort: &str,
        page: u32,
        now: i64,
    ) -> Result<view::TenantPage, Error> {
        ctx.staff()?;
        if !TENANT_SORTS.iter().any(|(key, _)| *key == sort) {
            return Err(Error::field("sort", "Sort by newest first or by name."));
        }
        let mut rows = self
            .store
            .tenant_search(
                query,
                sort,
                i64::from(page) * TENANTS_PER_PAGE,
                TENANTS_PER_PAGE + 1,
            )
            .await?;
        let more = rows.len() > TENANTS_PER_PAGE as usize;
        rows.truncate(TENANTS_PER_PAGE as usize);
        // Every listed tenant's month in one query.
        let (start, end) = month_bounds(now);
        let ids = rows.iter().map(|row| row.id.clone()).collect::<Vec<_>>();
        let mut usage: HashMap<String, Vec<MeteredHour>> = HashMap::new();
        for (tenant, hour) in self.store.usage_totals_of_tenants(&ids, start, end).await? {
            usage.entry(tenant).or_default().push(hour);
        }
        let tenants = rows
            .into_iter()
            .map(|row| {
                let spend = spend_of(usage.get(&row.id).map_or(&[], Vec::as_slice))?;
                Ok(tenant_summary(row, spend))
            })
            .collect::<Result<_, Error>>()?;
        Ok(view::TenantPage { tenants, page, more })
    }

    async fn tenant_spend(&self, tenant: &str, now: i64) -> Result<Money, Error> {
        // The whole month: its totals come from the daily sums, however long the month has run.
        let (start, end) = month_bounds(now);
        spend_of(&self.store.usage_totals(tenant, start, end).await?)
    }

    /// One tenant in detail: users, quota, latest audit entries.
    pub async fn staff_tenant_view(
        &self,
        ctx: &OpContext,
        id: TenantId,
        now: i64,
    ) -> Result<TenantDetail, Error> {
        ctx.staff()?;
        let row = self
            .store
            .tenant_search(&id.to_string(), TENANT_SORTS[0].0, 0, 1)
            .await?
            .into_iter()
            .find(|t| t.id == id.to_string())
            .ok_or(Error::NotFound)?;
        let spend = self.tenant_spend(&row.id, now).await?;
        let tenant = row.id.clone();
        Ok(TenantDetail {
            summary: tenant_summary(row, spend),
            users: self.store.user_list(&tenant).await?,
            quota: self
                .store
                .quota_get(&tenant)
                .await?
                .ok_or_else(|| Error::internal(format_args!("tenant {tenant} has no quota")))?,
            audit: self
                .audit_named(&tenant, self.store.audit_list(&tenant, 20).await?)
                .await?,
        })
    }

    /// Starts a read-only inspection of a tenant: the reason is required and goes into the
    /// tenant's audit log with who and when. The caller renews the session id and keeps the
    /// returned inspection in the session.
    pub async fn staff_inspect_start(
        &self,
        ctx: &OpContext,
        tenant_id: TenantId,
        reason: &str,
    ) -> Result<Inspecting, Error> {
        ctx.staff()?;
        let reason = reason_field(reason, "reason")?;
        if self.store.tenant_get(tenant_id).await?.is_none() {
            return Err(Error::NotFound);
        }
        self.audit_record(ctx, tenant_id, "support.inspect_start", reason.as_str(), None)
            .await;
        tracing::info!(tenant.id = %tenant_id, request.id = %ctx.request_id, "support inspection started");
        Ok(Inspecting {
            tenant_id,
            reason: reason.as_str().to_owned(),
            since: now_ms(),
        })
    }

    /// Ends an inspection, recording it in the tenant's audit log.
    pub async fn staff_inspect_end(&self, ctx: &OpContext, inspecting: &Inspecting) -> Result<(), Error> {
        ctx.staff()?;
        let minutes = (now_ms() - inspecting.since).max(0) / 60_000;
        let target = format!("after {minutes} min: {}", inspecting.reason);
        self.audit_record(ctx, inspecting.tenant_id, "support.inspect_end", &target, None)
            .await;
        Ok(())
    }

    /// Suspends a tenant (admins): its users' sessions end at once, they can log in only to a
    /// notice, nothing new is created for it; its VMs keep running. Every user is logged out, so
    /// the admin confirms by typing the tenant's name (`confirm_name`). Returns the sessions ended.
    pub async fn tenant_suspend(
        &self,
        ctx: &OpContext,
        tenant_id: TenantId,
        reason: &str,
        confirm_name: &str,
    ) -> Result<u64, Error> {
        // Only staff reach the tenant's audit log: anyone else's attempt is not its history.
        ctx.staff()?;
        let work = async {
            ctx.staff_admin()?;
            let reason = reason_field(reason, "suspend_reason")?;
            let name = self
                .store
                .tenant_get(tenant_id)
                .await?
                .ok_or(Error::NotFound)?
                .name;
            if confirm_name.trim() != name {
                return Err(Error::field("confirm_name", format!("Type {name} to confirm.")));
            }
            self.store
                .tenant_suspension_set(&tenant_id.to_string(), Some((now_ms(), reason.as_str())))
                .await?
                .ok_or(Error::NotFound)
        };
        let ended = self
            .audited_for(ctx, tenant_id, "tenant.suspend", reason, work)
            .await?;
        tracing::info!(tenant.id = %tenant_id, sessions.ended = ended, "tenant suspended");
        Ok(ended)
    }

    /// Lifts a suspension (admins).
    pub async fn tenant_unsuspend(&self, ctx: &OpContext, tenant_id: TenantId) -> Result<(), Error> {
        // Only staff reach the tenant's audit log: anyone else's attempt is not its history.
        ctx.staff()?;
        let work = async {
            ctx.staff_admin()?;
            self.store
                .tenant_suspension_set(&tenant_id.to_string(), None)
                .await?
                .ok_or(Error::NotFound)
                .map(|_| ())
        };
        self.audited_for(ctx, tenant_id, "tenant.unsuspend", "access restored", work)
            .await
    }

    /// Changes a tenant's quota (admins). A limit below what is in use is refused, by field.
    pub async fn staff_quota_set(
        &self,
        ctx: &OpContext,
        tenant_id: TenantId,
        quota: Quota,
    ) -> Result<(), Error> {
        ctx.staff()?;
        let work = async {
            ctx.staff_admin()?;
            let (_, used) = self
                .store
                .quota_get(&tenant_id.to_string())
                .await?
                .ok_or(Error::NotFound)?;
            quota.check_covers(&used).map_err(Error::Invalid)?;
            self.store
                .quota_set_limits(&tenant_id.to_string(), &quota)
                .await?;
            Ok(())
        };
        let target = format!(
            "{} VMs, {} vCPUs, {} MiB, {} public IPs",
            quota.max_vms, quota.max_vcpus, quota.max_memory_mib, quota.max_public_ips
        );
        self.audited_for(ctx, tenant_id, "quota.set", &target, work).await
    }

    /// Every zone's capacity: hosts, vCPU/RAM/disk in use and free, VMs, dedicated hosts.
    pub async fn capacity_view(&self, ctx: &OpContext) -> Result<Vec<view::ZoneCapacity>, Error> {
        ctx.staff()?;
        Ok(self.store.capacity_by_zone().await?)
    }

    /// The job queue across tenants for one of [`meridian_core::staff::JOB_LISTS`], newest first.
    pub async fn staff_jobs(&self, ctx: &OpContext, filter: &str) -> Result<Vec<view::StaffJob>, Error> {
        ctx.staff()?;
        let states: &[&str] = match filter {
            "live" => &["queued", "running", "unwinding"],
            "failed" => &["failed"],
            "cancelled" => &["cancelled"],
            "all" => &[
                "queued",
                "running",
                "unwinding",
                "succeeded",
                "failed",
                "cancelled",
            ],
            _ => {
                let mut fields = FieldErrors::default();
                fields.push("state", "Choose one of the lists offered.");
                return Err(Error::Invalid(fields));
            }
        };
        let rows = self.store.job_list_staff(states, PAGE).await?;
        let now = now_ms();
        Ok(rows.into_iter().map(|row| staff_job(row, now)).collect())
    }

    /// Asks for a live job to be cancelled (admins). The worker stops it at the next step
    /// boundary and undoes everything it did; the job then ends cancelled.
    pub async fn staff_job_cancel(&self, ctx: &OpContext, job_id: JobId) -> Result<(), Error> {
        ctx.staff()?;
        let job = self.staff_job(job_id).await?;
        let work = async {
            let admin = ctx.staff_admin()?;
            if job.position.kind == JobKind::VmDestroy {
                // Half a teardown undone would rebuild what the customer asked to be rid of; a
                // destroy runs to its end (and a failed one can be retried).
                return Err(Error::Conflict {
                    field: None,
                    message:
                        "A destroy is not cancelled: it runs to its end, and if it fails it can be retried."
                            .into(),
                });
            }
            let who = self.staff_by_id_email(admin).await?;
            let reason = format!("Cancelled by Meridian admin {who}.");
            if !self.store.job_cancel_request(job.id, &reason, now_ms()).await? {
                return Err(Error::Conflict {
                    field: None,
                    message: "This job is no longer queued or running (or a cancel is already under way)."
                        .into(),
                });
            }
            self.jobs_queued.notify_one();
            Ok(())
        };
        match job_tenant(&job) {
            Some(tenant) => {
                self.audited_for(ctx, tenant, "job.cancel", &job_label(&job), work)
                    .await
            }
            None => work.await,
        }
    }

    /// Runs a failed or cancelled job again from its first step, as a new job (admins): a failed
    /// create goes back to pending; another operation needs its VM in a state that allows it and
    /// no other operation in progress. Returns the new job's id.
    pub async fn staff_job_retry(&self, ctx: &OpContext, job_id: JobId) -> Result<JobId, Error> {
        ctx.staff()?;
        let job = self.staff_job(job_id).await?;
        let work = async {
            ctx.staff_admin()?;
            self.job_retry(&job).await.map(JobId::from)
        };
        match job_tenant(&job) {
            Some(tenant) => {
                self.audited_for(ctx, tenant, "job.retry", &job_label(&job), work)
                    .await
            }
            None => work.await,
        }
    }

    async fn job_retry(&self, job: &JobRow) -> Result<Uuid, Error> {
        let refuse = |message: &str| Error::Conflict {
            field: None,
            message: message.to_owned(),
        };
        if !matches!(job.position.state, JobState::Failed | JobState::Cancelled) {
            return Err(refuse("Only a failed or cancelled job can be retried."));
        }
        let tenant = job
            .tenant_id
            .clone()
            .ok_or_else(|| refuse("This job belongs to no tenant."))?;
        self.tenant_active(&tenant).await?;
        let params = self.store.job_params(job.id).await?;
        let mut tx = self.store.begin_write().await?;
        let vm_id = job.target_id.to_string();
        let vm = crate::store::Store::vm_by_id_tx(&mut tx, &vm_id)
            .await?
            .ok_or_else(|| refuse("The job's VM no longer exists."))?;
        let state = VmState::parse(&vm.state).map_err(Error::internal)?;
        let kind = job.position.kind;
        let action = match kind {
            JobKind::VmCreate => None,
            JobKind::VmStop => Some(VmAction::Stop),
            JobKind::VmStart => Some(VmAction::Start),
            JobKind::VmReboot => Some(VmAction::Reboot),
            JobKind::VmDestroy => Some(VmAction::Destroy),
            JobKind::VmResize => Some(VmAction::Resize),
            JobKind::VmBreakoutOpen => Some(VmAction::OpenBreakout),
            JobKind::VmBreakoutClose => Some(VmAction::CloseBreakout),
        };
        let params = match action {
            None if state == VmState::Failed => {
                crate::store::Store::vm_set_state(&mut tx, &vm.id, VmState::Pending.as_str()).await?;
                String::new()
            }
            None => {
                return Err(refuse(
                    "The VM is no longer failed: there is nothing to create again.",
                ));
            }
            Some(action) => {
                action
                    .allowed_for(state, vm.breakout)
                    .map_err(|why| refuse(&why))?;
                if action == VmAction::OpenBreakout {
                    Self::breakout_within_residency(&mut tx, &vm).await?;
                }
                // A destroy that unwinds returns the VM to the state it is in now.
                match kind {
                    JobKind::VmResize => params.unwrap_or_default(),
                    _ => vm.state.clone(),
                }
            }
        };
        let new_job = self
            .vm_job_queue(tx, job.target_id, &tenant, kind, &params)
            .await?;
        tracing::info!(job.id = %new_job, job.retry_of = %job.id, "job retried");
        Ok(new_job)
    }

    async fn staff_job(&self, job_id: JobId) -> Result<JobRow, Error> {
        self.store
            .job_get_any(job_id.uuid())
            .await?
            .ok_or(Error::NotFound)
    }

    async fn staff_by_id_email(&self, id: StaffId) -> Result<String, Error> {
        Ok(self
            .store
            .staff_by_id(id)
            .await?
            .map_or_else(|| id.to_string(), |s| s.email))
    }
}

/// A tenant's summary from its row and its spend this month.
/// What a tenant's usage totals cost.
fn spend_of(totals: &[MeteredHour]) -> Result<Money, Error> {
    Ok(Invoice::from_records(&usage_records(totals)?)
        .map_err(Error::internal)?
        .total())
}

fn tenant_summary(row: TenantSummaryRow, spend: Money) -> view::TenantSummary {
    view::TenantSummary {
        id: crate::store::id_of(&row.id),
        name: row.name,
        owner_email: row.owner_email,
        created_at: row.created_at,
        vms: row.vms,
        zones: row.zones,
        spend,
        suspended: row.suspended_at.map(|_| row.suspended_reason.unwrap_or_default()),
    }
}

/// A job as the staff queue shows it: the step it is at while live, the failed one after.
fn staff_job(row: StaffJobRow, now: i64) -> view::StaffJob {
    let job = row.job;
    let step = match job.position.state {
        JobState::Queued | JobState::Running => job
            .position
            .kind
            .steps()
            .get(job.position.step)
            .map(|s| s.as_str().to_owned()),
        _ => job.failed_step.clone(),
    };
    view::StaffJob {
        id: job.id.into(),
        created_at: job.created_at,
        tenant: row.tenant_name.unwrap_or_default(),
        tenant_id: job.tenant_id.clone(),
        vm: (job.target_id.into(), row.vm_name.unwrap_or_default()),
        duration_ms: job
            .finished_at
            .unwrap_or(now)
            .saturating_sub(job.created_at)
            .max(0),
        kind: job.position.kind.as_str().to_owned(),
        state: job.position.state.as_str().to_owned(),
        step,
        error: job.error,
        cancel_requested: row.cancel_requested_at.is_some() && !job.position.state.is_terminal(),
    }
}

fn job_tenant(job: &JobRow) -> Option<TenantId> {
    job.tenant_id.as_deref()?.parse().ok()
}

fn job_label(job: &JobRow) -> String {
    format!(
        "{} job {} on VM {}",
        job.position.kind.as_str(),
        job.id,
        job.target_id
    )
}
