//! Jobs: the persisted sagas that create and operate VMs, and the tenant's view of them.
//!
//! Every step is idempotent and has an undo. After a step's effect, the job's position advances
//! in the same transaction as the step's database changes (driver calls, which are idempotent,
//! happen just before), so a worker killed at any instant leaves a job that the next worker
//! resumes exactly where it stopped: re-running a step whose effect is already there is a no-op.
//!
//! - `step`: what each step does (on the backend, in the database, and the undo of each);
//! - `runner` (one job) and `wave` (cohorts of jobs at one step): claiming, leases, running and
//!   unwinding, retries; they only run steps;
//! - `allocate` and `resize`: the larger database effects the steps use;
//! - `spec`: the VM↔driver mapping.

mod allocate;
mod resize;
mod runner;
mod spec;
mod step;
mod wave;

pub(crate) use spec::{parse_size_key, size_key, vm_quota, vm_spec};
pub(crate) use step::StepError;
pub use wave::COHORT_LIMIT;

use crate::context::OpContext;
use crate::store::job::{JobEvent, JobRow};
use crate::{Control, Error};
use uuid::Uuid;

/// The default claim length: a worker that dies loses its jobs this long after.
pub const LEASE_MS: i64 = 5_000;

impl Control {
    /// One of the tenant's jobs (for API clients polling it); another tenant's is not found.
    pub async fn job_view(&self, ctx: &OpContext, id: &str) -> Result<JobRow, Error> {
        let tenant = ctx.tenant()?;
        let id: Uuid = id.trim().parse().map_err(|_| Error::NotFound)?;
        self.store
            .job_get(&tenant.to_string(), id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// One of the tenant's jobs with its progress events, oldest first.
    pub async fn job_progress(&self, ctx: &OpContext, id: &str) -> Result<(JobRow, Vec<JobEvent>), Error> {
        let job = self.job_view(ctx, id).await?;
        let events = self.store.job_events(job.id, 0).await?;
        Ok((job, events))
    }

    /// The tenant's most recent jobs, newest first.
    pub async fn job_list(&self, ctx: &OpContext, limit: i64) -> Result<Vec<JobRow>, Error> {
        let tenant = ctx.tenant()?;
        Ok(self.store.job_list_tenant(&tenant.to_string(), limit).await?)
    }
}
