//! VDC server functions.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::api::vm::Vm;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A VDC as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vdc {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Zone id.
    pub zone: String,
}

/// A VDC with its VMs and its zone's subnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VdcDetail {
    /// The VDC.
    pub vdc: Vdc,
    /// Its VMs.
    pub vms: Vec<Vm>,
    /// The tenant's subnet in the VDC's zone, once it has one.
    pub subnet: Option<String>,
}

#[cfg(feature = "ssr")]
fn vdc_from(row: meridian_control::store::vdc::VdcRow) -> Vdc {
    Vdc {
        id: row.id,
        name: row.name,
        zone: row.zone,
    }
}

/// The tenant's VDCs.
#[server(prefix = "/fn", endpoint = "vdc_list")]
pub async fn vdc_list() -> Result<Vec<Vdc>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.vdc_list(&ctx).await?.into_iter().map(vdc_from).collect())
}

/// Creates a VDC in a zone.
#[server(prefix = "/fn", endpoint = "vdc_create")]
pub async fn vdc_create(name: String, zone: String) -> Result<Vdc, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(vdc_from(control.vdc_create(&ctx, &name, &zone).await?))
}

/// One VDC with its VMs and subnet.
#[server(prefix = "/fn", endpoint = "vdc_view")]
pub async fn vdc_view(id: String) -> Result<VdcDetail, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let contents = control.vdc_contents(&ctx, &id).await?;
    Ok(VdcDetail {
        vdc: vdc_from(contents.vdc),
        vms: contents.vms.into_iter().map(Vm::from).collect(),
        subnet: contents.subnet,
    })
}
