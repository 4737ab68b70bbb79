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
mod view;
mod wave;

pub(crate) use spec::{parse_size_key, size_key, vm_quota, vm_spec};
pub(crate) use step::StepError;
pub(crate) use view::job_with_steps;
pub use wave::COHORT_LIMIT;

/// The default claim length: a worker that dies loses its jobs this long after.
pub const LEASE_MS: i64 = 5_000;
