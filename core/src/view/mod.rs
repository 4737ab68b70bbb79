//! Views: what the control plane answers about a tenant's resources, defined once for every front
//! door. The dashboard's server functions send them to the browser as they are, the REST API
//! serialises them as its documented JSON (with `openapi` on, each carries its schema), and the
//! CloudStack API reshapes them into that API's envelopes.
//!
//! Views hold typed ids and plain values only; the rows they are made from stay inside the
//! control plane's store.

mod account;
mod billing;
mod catalog;
mod compute;
mod network;
mod scaling;
mod stack;
mod staff;

pub use account::{ApiKey, AuditEntry};
pub use billing::MeteredHour;
pub use catalog::{SshKey, Template};
pub use compute::{BulkOutcome, Job, JobEvent, JobStep, Vdc, VdcDetail, Vm, VmMetricPoint, VmMetrics};
pub use network::FirewallRule;
pub use scaling::{ScalingEvent, ScalingGroup, ScalingGroupDetail, ScalingMember};
pub use stack::{Stack, StackMember};
pub use staff::{AgentHost, BackboneLink, StaffJob, TenantPage, TenantSummary, ZoneCapacity};
