//! Backbone links staff take out of service (a maintenance cut), and what the backbone's
//! controller reads to apply them: in the lab, `meridian-lab links` takes a cut link's taps down,
//! so OSPF routes around it as it would around a cut fibre.

use crate::context::OpContext;
use crate::host::RegisterRefusal;
use crate::store::now_ms;
use crate::{Control, Error};
use meridian_core::agent_api::{self, BACKBONE_CONTROLLER, BackboneIntent};
use meridian_core::backbone::BACKBONE;
use meridian_core::view::BackboneLink;

impl Control {
    /// Every backbone link with whether staff cut it (staff of any role).
    pub async fn backbone_links_view(&self, ctx: &OpContext) -> Result<Vec<BackboneLink>, Error> {
        ctx.staff()?;
        let cuts = self.store.backbone_cuts().await?;
        Ok(BACKBONE
            .edges()
            .iter()
            .map(|edge| {
                let key = edge.key();
                BackboneLink {
                    cut_at: cuts.iter().find(|(cut, _)| *cut == key).map(|(_, at)| *at),
                    name: format!("{} – {}", edge.a.zone().city, edge.b.zone().city),
                    key,
                }
            })
            .collect())
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
