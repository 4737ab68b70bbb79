//! Reading jobs: one job with how far each step got, and a tenant's recent jobs.

use crate::context::OpContext;
use crate::store::job::{JobEvent, JobRow};
use crate::{Control, Error};
use meridian_core::id::JobId;
use meridian_core::view;

impl Control {
    /// One of the tenant's jobs with how far each of its steps got (for API clients polling it);
    /// another tenant's is not found.
    pub async fn job_view(&self, ctx: &OpContext, id: JobId) -> Result<view::Job, Error> {
        let tenant = ctx.tenant()?;
        let job = self
            .store
            .job_get(&tenant.to_string(), id.uuid())
            .await?
            .ok_or(Error::NotFound)?;
        let events = self.store.job_events(job.id, 0).await?;
        Ok(job_with_steps(job, &events))
    }

    /// The tenant's most recent jobs, newest first, without their steps.
    pub async fn job_list(&self, ctx: &OpContext, limit: i64) -> Result<Vec<view::Job>, Error> {
        let tenant = ctx.tenant()?;
        let rows = self.store.job_list_tenant(&tenant.to_string(), limit).await?;
        Ok(rows.into_iter().map(view::Job::from).collect())
    }
}

/// A job with each step of its kind marked by its events: failed, undone, done or waiting.
pub(crate) fn job_with_steps(job: JobRow, events: &[JobEvent]) -> view::Job {
    let status = |step: &str| {
        let seen = |wanted: &str| events.iter().any(|e| e.step == step && e.status == wanted);
        if job.failed_step.as_deref() == Some(step) {
            "failed"
        } else if seen("undone") {
            "undone"
        } else if seen("done") {
            "done"
        } else {
            "waiting"
        }
    };
    let steps = job
        .position
        .kind
        .steps()
        .iter()
        .map(|s| view::JobStep {
            step: s.as_str().to_owned(),
            label: s.label().to_owned(),
            status: status(s.as_str()).to_owned(),
        })
        .collect();
    view::Job {
        steps: Some(steps),
        ..view::Job::from(job)
    }
}
