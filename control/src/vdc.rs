//! VDCs: a tenant's data centre in one zone.

use crate::context::OpContext;
use crate::store::vdc::VdcRow;
use crate::store::{is_unique_violation, now_ms};
use crate::{Control, Error};
use meridian_core::FieldErrors;
use meridian_core::id::VdcId;
use meridian_core::residency::ResidencyPolicy;
use meridian_core::resource::Name;
use meridian_core::view;
use meridian_core::zone::ZoneId;

impl Control {
    /// Creates a VDC in a zone the tenant's residency policy allows.
    pub async fn vdc_create(&self, ctx: &OpContext, name: &str, zone: &str) -> Result<view::Vdc, Error> {
        self.vdc_create_as(ctx, name, zone, None).await
    }

    /// [`Control::vdc_create`] giving the VDC the id `id` (see
    /// [`Control::idempotency_resource_id`]); creating the same id twice makes one VDC.
    pub async fn vdc_create_as(
        &self,
        ctx: &OpContext,
        name: &str,
        zone: &str,
        id: Option<uuid::Uuid>,
    ) -> Result<view::Vdc, Error> {
        self.audited(
            ctx,
            "vdc.create",
            &format!("{name} in {zone}"),
            self.vdc_create_unaudited(ctx, name, zone, id),
        )
        .await
        .map(view::Vdc::from)
    }

    async fn vdc_create_unaudited(
        &self,
        ctx: &OpContext,
        name: &str,
        zone: &str,
        id: Option<uuid::Uuid>,
    ) -> Result<VdcRow, Error> {
        let tenant = ctx.tenant_for_mutation()?;
        self.tenant_active(&tenant).await?;
        let mut errors = FieldErrors::default();
        let name = errors.check("name", Name::parse(name));
        let zone = errors.check("zone", ZoneId::parse(zone));
        let (Some(name), Some(zone)) = (name, zone) else {
            return Err(Error::Invalid(errors));
        };
        self.residency(&tenant).await?.check(zone).map_err(|violation| {
            let mut errors = FieldErrors::default();
            errors.push("zone", violation.to_string());
            Error::Invalid(errors)
        })?;
        let vdc = VdcRow {
            id: id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
            tenant_id: tenant.clone(),
            name: name.as_str().to_owned(),
            zone: zone.as_str().to_owned(),
            created_at: now_ms(),
        };
        let mut tx = self.store.begin_write().await?;
        match crate::store::Store::vdc_insert(&mut tx, &vdc).await {
            Err(error) if is_unique_violation(&error) => {
                return Err(Error::Conflict {
                    field: Some("name"),
                    message: "You already have a VDC with this name.".into(),
                });
            }
            other => other?,
        }
        tx.commit().await?;
        Ok(vdc)
    }

    /// The tenant's VDC in `zone`: its oldest there, or when it has none a new one named
    /// `default-<zone>` (audited, and refused where the tenant's residency rules out the zone,
    /// as any VDC is). Two requests at once make one.
    pub async fn vdc_default(&self, ctx: &OpContext, zone: &str) -> Result<view::Vdc, Error> {
        let zone = ZoneId::parse(zone).map_err(|e| Error::field("zone", e.to_string()))?;
        let oldest = || async {
            let mut in_zone: Vec<view::Vdc> = self
                .vdc_list(ctx)
                .await?
                .into_iter()
                .filter(|vdc| vdc.zone == zone.as_str())
                .collect();
            in_zone.sort_by_key(|vdc| (vdc.created_at, vdc.id.to_string()));
            Ok::<_, Error>(in_zone.into_iter().next())
        };
        if let Some(vdc) = oldest().await? {
            return Ok(vdc);
        }
        // A name the tenant may already use elsewhere: the next one.
        for attempt in 1..=5 {
            let name = match attempt {
                1 => format!("default-{zone}"),
                n => format!("default-{zone}-{n}"),
            };
            match self.vdc_create(ctx, &name, zone.as_str()).await {
                Err(Error::Conflict { .. }) => {
                    // Made by a request that raced this one, or the name is taken in another zone.
                    if let Some(vdc) = oldest().await? {
                        return Ok(vdc);
                    }
                }
                other => return other,
            }
        }
        Err(Error::Conflict {
            field: Some("zone"),
            message: "Your VDC names default-<zone> are taken: create a VDC in this zone first.".into(),
        })
    }

    /// The tenant's VDCs.
    pub async fn vdc_list(&self, ctx: &OpContext) -> Result<Vec<view::Vdc>, Error> {
        let tenant = ctx.tenant()?;
        let rows = self.store.vdc_list(&tenant.to_string()).await?;
        Ok(rows.into_iter().map(view::Vdc::from).collect())
    }

    /// The tenant's residency policy.
    pub(crate) async fn residency(&self, tenant: &str) -> Result<ResidencyPolicy, Error> {
        let stored = self
            .store
            .tenant_residency(tenant)
            .await?
            .ok_or(Error::NotFound)?;
        residency_parse(&stored)
    }

    /// The tenant's residency policy, read inside the caller's transaction (a write holding a
    /// connection must not wait for a second one).
    pub(crate) async fn residency_tx(
        tx: &mut crate::store::Tx,
        tenant: &str,
    ) -> Result<ResidencyPolicy, Error> {
        let stored = crate::store::Store::tenant_residency_tx(tx, tenant)
            .await?
            .ok_or(Error::NotFound)?;
        residency_parse(&stored)
    }
}

fn residency_parse(stored: &str) -> Result<ResidencyPolicy, Error> {
    ResidencyPolicy::parse(stored)
        .map_err(|e| Error::internal(format_args!("stored residency {stored:?}: {e}")))
}

impl Control {
    /// One of the tenant's VDCs; another tenant's is not found.
    pub async fn vdc_view(&self, ctx: &OpContext, vdc_id: VdcId) -> Result<view::Vdc, Error> {
        let tenant = ctx.tenant()?;
        self.store
            .vdc_get(&tenant.to_string(), &vdc_id.to_string())
            .await?
            .map(view::Vdc::from)
            .ok_or(Error::NotFound)
    }
}

/// One zone of the tenant's private network: its subnet and the VMs holding addresses in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneNetwork {
    /// Zone id text.
    pub zone: String,
    /// Subnet CIDR.
    pub cidr: String,
    /// `(name, id, private address)` of the VMs holding one.
    pub addresses: Vec<(String, String, String)>,
}

impl Control {
    /// One of the tenant's VDCs with its VMs and subnet.
    pub async fn vdc_contents(&self, ctx: &OpContext, vdc_id: VdcId) -> Result<view::VdcDetail, Error> {
        let vdc = self.vdc_view(ctx, vdc_id).await?;
        let vms = self
            .vm_list(ctx)
            .await?
            .into_iter()
            .filter(|vm| vm.vdc_id == vdc.id)
            .collect();
        let subnet = self
            .network_subnets(ctx)
            .await?
            .into_iter()
            .find(|(zone, _)| *zone == vdc.zone)
            .map(|(_, c)| c);
        Ok(view::VdcDetail { vdc, subnet, vms })
    }

    /// The tenant's private network, zone by zone.
    pub async fn network_view(&self, ctx: &OpContext) -> Result<Vec<ZoneNetwork>, Error> {
        let vms = self.vm_rows(ctx).await?;
        Ok(self
            .network_subnets(ctx)
            .await?
            .into_iter()
            .map(|(zone, cidr)| ZoneNetwork {
                addresses: vms
                    .iter()
                    .filter(|vm| vm.zone == zone)
                    .filter_map(|vm| Some((vm.name.clone(), vm.id.clone(), vm.private_ip.clone()?)))
                    .collect(),
                zone,
                cidr,
            })
            .collect())
    }
}
