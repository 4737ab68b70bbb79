//! Backbone links staff take out of service (a maintenance cut), and what the backbone's
//! controller reads to apply them: in the lab, `meridian-lab links` takes a cut link's taps down,
//! so OSPF routes around it as it would around a cut fibre.

use crate::context::OpContext;
use crate::host::RegisterRefusal;
use crate::store::now_ms;
use crate::{Control, Error};
use meridian_core::agent_api::{self, BACKBONE_CONTROLLER, BackboneIntent};
use meridian_core::backbone::{BACKBONE, Cut};
use meridian_core::map::{cut_changes, cut_impact, pair_change_text};
use meridian_core::view::BackboneLink;
use meridian_core::zone::ZoneId;

impl Control {
    /// Every backbone link with whether staff cut it (staff of any role).
    pub async fn backbone_links_view(&self, ctx: &OpContext) -> Result<Vec<BackboneLink>, Error> {
        ctx.staff()?;
        let cuts = self.store.backbone_cuts().await?;
        // Each tenant's zones and VMs there, for what cutting each link would do to them.
        let mut tenants: std::collections::BTreeMap<String, Vec<(ZoneId, usize)>> =
            std::collections::BTreeMap::new();
        for (tenant, zone, count) in self.store.vm_counts_all().await? {
            if let Ok(zone) = ZoneId::parse(&zone) {
                let count = usize::try_from(count).unwrap_or(0);
                tenants.entry(tenant).or_default().push((zone, count));
            }
        }
        Ok(BACKBONE
            .edges()
            .iter()
            .map(|edge| {
                let key = edge.key();
                let changes = cut_changes(&BACKBONE, &Cut::none().with_edge(edge.id));
                let (mut tenants_affected, mut vms_affected) = (0, 0);
                // `changes` is sorted worst first, and so is each tenant's part of it.
                let mut worst: Option<usize> = None;
                for zones in tenants.values() {
                    let ids: Vec<ZoneId> = zones.iter().map(|(zone, _)| *zone).collect();
                    let hit = cut_impact(&changes, &ids);
                    if hit.is_empty() {
                        continue;
                    }
                    tenants_affected += 1;
                    vms_affected += zones
                        .iter()
                        .filter(|(zone, _)| hit.iter().any(|p| p.a == *zone || p.b == *zone))
                        .map(|(_, count)| count)
                        .sum::<usize>();
                    let rank = changes.iter().position(|c| *c == hit[0]);
                    worst = worst.into_iter().chain(rank).min();
                }
                BackboneLink {
                    cut_at: cuts.iter().find(|(cut, _)| *cut == key).map(|(_, at)| *at),
                    name: format!("{} – {}", edge.a.zone().city, edge.b.zone().city),
                    key,
                    tenants_affected,
                    vms_affected,
                    worst: worst.and_then(|rank| changes.get(rank)).map(pair_change_text),
                }
            })
            .collect())
    }

    /// The backbone as it is now: the links staff cut for maintenance taken out.
    pub(crate) async fn backbone_cut_now(&self) -> Result<Cut, Error> {
        let cut_keys = self.store.backbone_cuts().await?;
        Ok(BACKBONE
            .edges()
            .iter()
            .filter(|edge| cut_keys.iter().any(|(key, _)| *key == edge.key()))
            .fold(Cut::none(), |cut, edge| cut.with_edge(edge.id)))
    }

    /// Cuts backbone link `edge` for maintenance (`cut`) or returns it to service (admins). The
    /// backbone's controller applies it within seconds.
    pub async fn backbone_link_set(&self, ctx: &OpContext, edge: &str, cut: bool) -> Result<(), Error> {
        let staff = ctx.staff_admin()?;
        let edge = BACKBONE
            .edges()
            .iter()
            .find(|e| e.key() == edge)
            .ok_or(Error::NotFound)?
            .key();
        if cut {
            self.store
                .backbone_cut_put(&edge, now_ms(), &staff.to_string())
                .await?;
        } else if !self.store.backbone_cut_delete(&edge).await? {
            return Err(Error::NotFound);
        }
        tracing::info!(staff.id = %staff, edge = %edge, cut, "backbone link changed by staff");
        Ok(())
    }

    /// The links staff cut, for the backbone's controller (its token: [`BACKBONE_CONTROLLER`]'s).
    pub async fn backbone_intent(&self, token: &str) -> Result<BackboneIntent, RegisterRefusal> {
        let secret = self.agent_secret.as_ref().ok_or(RegisterRefusal::NoAgents)?;
        if !agent_api::host_token_valid(secret, BACKBONE_CONTROLLER, token) {
            return Err(RegisterRefusal::Unauthorized);
        }
        let cuts = self
            .store
            .backbone_cuts()
            .await
            .map_err(|e| RegisterRefusal::Internal(e.into()))?;
        Ok(BackboneIntent {
            cut: cuts.into_iter().map(|(edge, _)| edge).collect(),
        })
    }
}
