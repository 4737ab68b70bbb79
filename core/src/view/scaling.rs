//! Views of autoscaling groups: the group, its members with their health, and what it did.

use super::Vm;
use serde::{Deserialize, Serialize};

/// An autoscaling group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScalingGroup {
    /// Id.
    pub id: String,
    /// Name; members are `<name>-<n>`.
    pub name: String,
    /// Its members' template.
    pub template: String,
    /// Its members' size code.
    pub size: String,
    /// Its zones; members are spread over them.
    pub zones: Vec<String>,
    /// The fewest members.
    pub min: u32,
    /// The most members.
    pub max: u32,
    /// How many members it wants now.
    pub desired: u32,
    /// `cpu` or `network`.
    pub metric: String,
    /// The target: CPU % or KiB/s per member.
    pub target: u32,
    /// Seconds it holds after a change.
    pub cooldown_secs: u32,
    /// Seconds a new member has to boot before it counts or may be replaced.
    pub grace_secs: u32,
    /// Members get public addresses.
    pub breakout: bool,
    /// The simulated load its members follow (CPU %), when set; the simulator's own curve
    /// otherwise. Simulated zones only.
    pub simulated_cpu: Option<u32>,
    /// Members that exist (booting, running or being replaced).
    pub members: u32,
    /// Being deleted: its members are destroyed, then it goes.
    pub deleting: bool,
    /// Created (Unix ms).
    pub created_at: i64,
}

/// A member and how it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScalingMember {
    /// The VM.
    pub vm: Vm,
    /// `healthy` (running), `booting` (within its grace period) or `unhealthy` (not running past
    /// it: it is replaced).
    pub health: String,
    /// When it joined (Unix ms).
    pub joined_at: i64,
}

/// Something the group did, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScalingEvent {
    /// When (Unix ms).
    pub at: i64,
    /// Its desired size from then on.
    pub size: u32,
    /// "Scaled out to 5: CPU 82 % > 60 % over the last 3 min."
    pub message: String,
}

/// A group with its members, its recent events and where it stands now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScalingGroupDetail {
    /// The group.
    pub group: ScalingGroup,
    /// Its members, oldest first.
    pub members: Vec<ScalingMember>,
    /// What it did, newest last (the last 200).
    pub events: Vec<ScalingEvent>,
    /// The metric now, over its settled members (CPU % or KiB/s), if measured.
    pub value: Option<u64>,
    /// What it would decide now, in a sentence.
    pub status: String,
    /// True when the members' figures are the simulation's.
    pub simulated: bool,
}
