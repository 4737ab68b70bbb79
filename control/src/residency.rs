//! Data residency evidence: every resource the tenant has, where it is, and whether that is
//! inside the tenant's policy, on screen and as a download.

use crate::context::OpContext;
use crate::{Control, Error};
use meridian_core::calendar::format_utc;
use meridian_core::zone::ZoneId;

/// One resource and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidencyItem {
    /// "VDC", "VM", "Subnet" or "Public IP".
    pub kind: &'static str,
    /// Its name (or address).
    pub name: String,
    /// Zone id.
    pub zone: String,
    /// The zone's city.
    pub city: String,
    /// ISO country code.
    pub country: String,
    /// Inside the policy.
    pub within_policy: bool,
}

/// The evidence at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidencyEvidence {
    /// The policy, as people read it.
    pub policy: String,
    /// When it was drawn up (Unix ms).
    pub at: i64,
    /// Every resource.
    pub rows: Vec<ResidencyItem>,
}

impl Control {
    /// Every VDC, VM (not destroyed), subnet and public address of the tenant, with its zone and
    /// country, checked against the residency policy.
    pub async fn residency_evidence(&self, ctx: &OpContext, now: i64) -> Result<ResidencyEvidence, Error> {
        let policy = self.residency_view(ctx).await?;
        let mut rows = Vec::new();
        let mut add = |kind: &'static str, name: String, zone: &str| {
            let (city, country, within) = ZoneId::parse(zone).map_or_else(
                |_| (String::new(), String::new(), false),
                |z| {
                    (
                        z.zone().city.to_owned(),
                        z.zone().country.to_owned(),
                        policy.allows(z),
                    )
                },
            );
            rows.push(ResidencyItem {
                kind,
                name,
                zone: zone.to_owned(),
                city,
                country,
                within_policy: within,
            });
        };
        for vdc in self.vdc_list(ctx).await? {
            add("VDC", vdc.name, &vdc.zone);
        }
        let vms = self.vm_rows(ctx).await?;
        for vm in vms.iter().filter(|vm| vm.state != "destroyed") {
            add("VM", vm.name.clone(), &vm.zone);
        }
        for (zone, cidr) in self.network_subnets(ctx).await? {
            add("Subnet", cidr, &zone);
        }
        for vm in vms.iter().filter(|vm| vm.state != "destroyed") {
            if let Some(ip) = &vm.public_ip {
                add("Public IP", format!("{ip} ({})", vm.name), &vm.zone);
            }
        }
        Ok(ResidencyEvidence {
            policy: policy.label(),
            at: now,
            rows,
        })
    }

    /// The evidence as CSV: the policy and the time first, then one row per resource.
    pub async fn residency_evidence_csv(&self, ctx: &OpContext, now: i64) -> Result<String, Error> {
        let evidence = self.residency_evidence(ctx, now).await?;
        let mut csv = format!(
            "# Residency policy: {}; drawn up {}\nkind,name,zone,city,country,within_policy\n",
            evidence.policy,
            format_utc(evidence.at)
        );
        for row in evidence.rows {
            csv.push_str(&format!(
                "{},\"{}\",{},\"{}\",{},{}\n",
                row.kind,
                row.name.replace('"', "\"\""),
                row.zone,
                row.city,
                row.country,
                if row.within_policy { "yes" } else { "no" }
            ));
        }
        Ok(csv)
    }
}
