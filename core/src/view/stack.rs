//! Views of stacks: many VMs over several zones made in one action, and each VM's timeline.

use super::{JobEvent, Vm};
use crate::id::StackId;
use crate::stack::Container;
use serde::{Deserialize, Serialize};

/// A stack as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stack {
    /// Id.
    pub id: StackId,
    /// Name, also the prefix of its VMs' names.
    pub name: String,
    /// The stack template's slug.
    pub template: String,
    /// `deploying`, `ready`, `failed`, `deleting` or `deleted`.
    pub state: String,
    /// Created (Unix ms): when the stopwatch starts.
    pub created_at: i64,
    /// When its last VM came up (Unix ms): the measured spin-up ends here.
    pub ready_at: Option<i64>,
}

/// One VM of a stack with its provisioning and its containers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackMember {
    /// The VM.
    pub vm: Vm,
    /// Its create job's events, in order (the timeline).
    pub events: Vec<JobEvent>,
    /// What runs in it.
    pub containers: Vec<Container>,
}
