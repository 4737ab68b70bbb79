//! Views of the network: the inbound firewall rules of a tenant's internet breakout.

use crate::id::FirewallRuleId;
use serde::{Deserialize, Serialize};

/// An inbound rule of a zone's breakout: what may reach the tenant's public addresses there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FirewallRule {
    /// Id.
    pub id: FirewallRuleId,
    /// Zone id.
    pub zone: String,
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// First port (none for ICMP).
    pub port_from: Option<i64>,
    /// Last port.
    pub port_to: Option<i64>,
    /// Source CIDR, e.g. `0.0.0.0/0`.
    pub source: String,
}

impl FirewallRule {
    /// What it allows, as people read it: `TCP 443 from 0.0.0.0/0`.
    #[must_use]
    pub fn describe(&self) -> String {
        let ports = match (self.port_from, self.port_to) {
            (Some(a), Some(b)) if a == b => format!(" {a}"),
            (Some(a), Some(b)) => format!(" {a}–{b}"),
            _ => String::new(),
        };
        format!("{}{ports} from {}", self.protocol.to_uppercase(), self.source)
    }
}
