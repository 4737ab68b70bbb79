//! Anti-affinity groups: VMs placement keeps on different hosts.

use super::{Name, NameError};
use serde::{Deserialize, Serialize};

/// A named set of VMs that placement puts on different hosts, so one host failure takes down at
/// most one of them. Groups belong to a tenant; the name is unique within it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AntiAffinityGroup {
    /// The group's name.
    pub name: Name,
}

impl AntiAffinityGroup {
    /// Parses a group name typed by a person.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        Name::parse(raw).map(|name| Self { name })
    }
}
