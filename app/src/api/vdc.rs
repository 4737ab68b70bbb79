//! VDC server functions.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;

pub use meridian_core::view::{Vdc, VdcDetail};

/// The tenant's VDCs.
#[server(prefix = "/fn", endpoint = "vdc_list")]
pub async fn vdc_list() -> Result<Vec<Vdc>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.vdc_list(&ctx).await?)
}

/// Creates a VDC in a zone.
#[server(prefix = "/fn", endpoint = "vdc_create")]
pub async fn vdc_create(name: String, zone: String) -> Result<Vdc, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.vdc_create(&ctx, &name, &zone).await?)
}

/// One VDC with its VMs and subnet.
#[server(prefix = "/fn", endpoint = "vdc_view")]
pub async fn vdc_view(id: String) -> Result<VdcDetail, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .vdc_contents(&ctx, meridian_control::Error::id(&id)?)
        .await?)
}
