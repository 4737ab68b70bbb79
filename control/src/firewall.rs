//! Internet breakout firewall rules, per zone: what may reach the tenant's public addresses there.

use crate::context::OpContext;
use crate::store::firewall::FirewallRow;
use crate::store::{is_unique_violation, now_ms};
use crate::{Control, Error};
use meridian_core::FieldErrors;
use meridian_core::id::FirewallRuleId;
use meridian_core::resource::{FirewallRuleCreate, PortRange};
use meridian_core::view;

impl Control {
    /// Adds an inbound rule to a zone's breakout, in a zone the residency policy allows.
    pub async fn firewall_rule_create(
        &self,
        ctx: &OpContext,
        create: FirewallRuleCreate,
    ) -> Result<view::FirewallRule, Error> {
        let FirewallRuleCreate { zone, rule } = create;
        let port = |end: fn(PortRange) -> u16| rule.ports.map(|p| end(p).to_string()).unwrap_or_default();
        let target = FirewallRuleCreate::typed_text(
            zone.as_str(),
            rule.protocol.as_str(),
            &port(PortRange::start),
            &port(PortRange::end),
            &rule.source.to_string(),
        );
        self.audited(ctx, "firewall.rule_create", &target, async {
            let tenant = ctx.tenant_for_mutation()?;
            if let Err(violation) = self.residency(&tenant).await?.check(zone) {
                let mut errors = FieldErrors::default();
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
                other => other.map(|()| row.into()).map_err(Error::from),
            }
        })
        .await
        .inspect(|_| self.network_apply(ctx))
    }

    /// Hands the tenant's changed network settings (firewall rules, rate caps) to the backend, in
    /// the background: the change is recorded, and a host that cannot be reached now gets it at
    /// the next change of the network.
    pub(crate) fn network_apply(&self, ctx: &OpContext) {
        let Ok(tenant) = ctx.tenant() else { return };
        let driver = self.driver.clone();
        tokio::spawn(async move {
            if let Err(error) = driver.network_refresh(tenant.0).await {
                tracing::warn!(tenant.id = %tenant, error = %error, "network settings not applied on every host yet");
            }
        });
    }

    /// The tenant's firewall rules.
    pub async fn firewall_rule_list(&self, ctx: &OpContext) -> Result<Vec<view::FirewallRule>, Error> {
        let tenant = ctx.tenant()?;
        let rows = self.store.firewall_list(&tenant.to_string()).await?;
        Ok(rows.into_iter().map(view::FirewallRule::from).collect())
    }

    /// Removes one of the tenant's rules.
    pub async fn firewall_rule_delete(&self, ctx: &OpContext, id: FirewallRuleId) -> Result<(), Error> {
        let id = id.to_string();
        self.audited(ctx, "firewall.rule_delete", &id, async {
            let tenant = ctx.tenant_for_mutation()?;
            if self.store.firewall_delete(&tenant, &id).await? {
                Ok(())
            } else {
                Err(Error::NotFound)
            }
        })
        .await
        .inspect(|()| self.network_apply(ctx))
    }
}
