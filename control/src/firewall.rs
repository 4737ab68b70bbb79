//! Internet breakout firewall rules, per zone: what may reach the tenant's public addresses there.

use crate::context::OpContext;
use crate::store::firewall::FirewallRow;
use crate::store::{is_unique_violation, now_ms};
use crate::{Control, Error};
use meridian_core::FieldErrors;
use meridian_core::resource::FirewallRule;
use meridian_core::zone::ZoneId;

impl Control {
    /// Adds an inbound rule to a zone's breakout, in a zone the residency policy allows.
    pub async fn firewall_rule_create(
        &self,
        ctx: &OpContext,
        zone: &str,
        protocol: &str,
        port_from: &str,
        port_to: &str,
        source: &str,
    ) -> Result<FirewallRow, Error> {
        let target = format!("{zone}: {protocol} {port_from}-{port_to} from {source}");
        self.audited(ctx, "firewall.rule_create", &target, async {
            let tenant = ctx.tenant_for_mutation()?;
            let mut errors = FieldErrors::default();
            let zone = errors.check("zone", ZoneId::parse(zone));
            let rule = match FirewallRule::parse(protocol, port_from, port_to, source) {
                Ok(rule) => Some(rule),
                Err(fields) => {
                    errors.0.extend(fields.0);
                    None
                }
            };
            let (Some(zone), Some(rule)) = (zone, rule) else {
                return Err(Error::Invalid(errors));
            };
            if let Err(violation) = self.residency(&tenant).await?.check(zone) {
                errors.push("zone", violation.to_string());
                return Err(Error::Invalid(errors));
            }
            let row = FirewallRow {
                id: uuid::Uuid::new_v4().to_string(),
                zone: zone.as_str().to_owned(),
                protocol: rule.protocol.as_str().to_owned(),
                port_from: rule.ports.map(|p| i64::from(p.start())),
                port_to: rule.ports.map(|p| i64::from(p.end())),
                source: rule.source.to_string(),
            };
            match self.store.firewall_insert(&tenant, &row, now_ms()).await {
                Err(error) if is_unique_violation(&error) => Err(Error::Conflict {
                    field: None,
                    message: "This zone already has exactly this rule.".into(),
                }),
                other => other.map(|()| row).map_err(Error::from),
            }
        })
        .await
    }

    /// The tenant's firewall rules.
    pub async fn firewall_rule_list(&self, ctx: &OpContext) -> Result<Vec<FirewallRow>, Error> {
        let tenant = ctx.tenant()?;
        Ok(self.store.firewall_list(&tenant.to_string()).await?)
    }

    /// Removes one of the tenant's rules.
    pub async fn firewall_rule_delete(&self, ctx: &OpContext, id: &str) -> Result<(), Error> {
        self.audited(ctx, "firewall.rule_delete", id, async {
            let tenant = ctx.tenant_for_mutation()?;
            if self.store.firewall_delete(&tenant, id).await? {
                Ok(())
            } else {
                Err(Error::NotFound)
            }
        })
        .await
    }
}
