//! Typed identifiers: a `TenantId` can never be passed where a `UserId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Declares a UUID-backed id newtype with parsing, display and serde support.
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = "uuid"))]
        pub struct $name(pub Uuid);

        impl $name {
            /// The underlying UUID.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// A tenant: one customer organisation, the unit of isolation and billing.
    TenantId
);
typed_id!(
    /// A user: a person who belongs to exactly one tenant.
    UserId
);
typed_id!(
    /// A member of Meridian's own staff (support or admin), never a tenant user.
    StaffId
);
typed_id!(
    /// A virtual data centre: a tenant's presence in one zone.
    VdcId
);
typed_id!(
    /// A VM template: a built-in image or a tenant's image plus cloud-config.
    TemplateId
);
typed_id!(
    /// An SSH public key a tenant has uploaded for logging in to VMs.
    SshKeyId
);
typed_id!(
    /// A tenant's private network.
    NetworkId
);
typed_id!(
    /// One inbound firewall rule.
    FirewallRuleId
);
typed_id!(
    /// A persisted job (saga) run by the control plane.
    JobId
);
typed_id!(
    /// An anti-affinity group: VMs in it are placed on different hosts.
    GroupId
);
typed_id!(
    /// A virtual machine.
    VmId
);
typed_id!(
    /// A physical host in a zone: the unit of capacity that placement fills.
    HostId
);
typed_id!(
    /// An API key (its id, never its secret).
    ApiKeyId
);
typed_id!(
    /// A stack: many VMs over several zones made in one action.
    StackId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = TenantId(Uuid::from_u128(0x1234));
        let parsed: TenantId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        assert!("not-a-uuid".parse::<UserId>().is_err());
    }
}
