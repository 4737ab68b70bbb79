//! REST: zones with their backbone latency, the private network, and breakout firewall rules.

use super::{ApiResult, Caller, Page, Paging, body_json, ok};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::{HeaderMap, StatusCode};
use meridian_control::Error;
use meridian_core::backbone::{Backbone, Cut};
use meridian_core::resource::FirewallRuleCreate;
use meridian_core::zone::{ZONES, ZoneId, ZoneStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A zone (Virtual Data Centre location).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Zone {
    /// Id, e.g. `lon1`.
    pub id: String,
    /// City.
    pub city: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Latitude in degrees (north positive).
    pub lat: f64,
    /// Longitude in degrees (east positive).
    pub lon: f64,
    /// `available`, `degraded` or `maintenance` (closed to new resources).
    pub status: String,
}

fn zone_of(id: ZoneId) -> Zone {
    let zone = id.zone();
    Zone {
        id: zone.id.as_str().to_owned(),
        city: zone.city.to_owned(),
        country: zone.country.to_owned(),
        lat: zone.lat,
        lon: zone.lon,
        status: match zone.status {
            ZoneStatus::Available => "available",
            ZoneStatus::Degraded => "degraded",
            ZoneStatus::Maintenance => "maintenance",
        }
        .to_owned(),
    }
}

/// How far another zone is over the backbone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Latency {
    /// The other zone.
    pub zone: String,
    /// Modelled round trip over the backbone's shortest route, in ms.
    pub rtt_ms: f64,
    /// The physical limit for the pair (light in fibre on the great circle), in ms.
    pub fibre_limit_ms: f64,
    /// Backbone links on the route.
    pub hops: usize,
    /// The zones the route passes, start and end included.
    pub route: Vec<String>,
}

/// A backbone link leaving the zone, with its latest probe.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Link {
    /// The zone at the other end.
    pub to: String,
    /// Modelled round trip, in ms.
    pub modelled_rtt_ms: f64,
    /// The latest probe's round trip, in ms (simulated by the simulated driver); none if lost.
    pub live_rtt_ms: Option<f64>,
    /// Capacity in Gb/s.
    pub capacity_gbps: u32,
}

/// A zone with its links and its latency to every other zone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ZoneDetail {
    /// The zone.
    pub zone: Zone,
    /// Whether the live figures come from the simulated zones.
    pub simulated: bool,
    /// Its backbone links.
    pub links: Vec<Link>,
    /// Every other zone, nearest first.
    pub latency: Vec<Latency>,
}

/// Lists the 16 zones with their coordinates.
#[utoipa::path(get, path = "/api/v1/zones", tag = "zones", params(Paging),
    responses((status = 200, body = Page<Zone>), (status = 401, body = super::ApiErrorBody)))]
pub async fn zone_list(Caller(_ctx): Caller, paging: Paging) -> ApiResult<Page<Zone>> {
    ok(paging.page(ZONES.iter().map(|z| zone_of(z.id)).collect())?)
}

/// One zone: its backbone links with their latest probes, and its latency to every other zone.
#[utoipa::path(get, path = "/api/v1/zones/{id}", tag = "zones", params(("id" = String, Path, description = "Zone id, e.g. lon1")),
    responses((status = 200, body = ZoneDetail), (status = 404, body = super::ApiErrorBody)))]
pub async fn zone_view(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<ZoneDetail> {
    let zone = ZoneId::parse(&id).map_err(|_| Error::NotFound)?;
    let map = state.control.map_view(&ctx).await?;
    let backbone = Backbone::new();
    let links = backbone
        .neighbours(zone)
        .iter()
        .filter_map(|(to, edge)| {
            let edge = backbone.edge(*edge)?;
            let live = map.edges.iter().find(|e| e.edge == edge.key());
            Some(Link {
                to: to.as_str().to_owned(),
                modelled_rtt_ms: edge.modelled_rtt_ms,
                live_rtt_ms: live.and_then(|e| e.rtt_ms),
                capacity_gbps: edge.capacity_gbps,
            })
        })
        .collect();
    let mut latency: Vec<Latency> = ZONES
        .iter()
        .filter(|z| z.id != zone)
        .filter_map(|z| {
            let path = backbone.path(zone, z.id, &Cut::none())?;
            Some(Latency {
                zone: z.id.as_str().to_owned(),
                rtt_ms: path.modelled_rtt_ms,
                fibre_limit_ms: path.fibre_limit_ms,
                hops: path.hops,
                route: path.zones.iter().map(|z| z.as_str().to_owned()).collect(),
            })
        })
        .collect();
    latency.sort_by(|a, b| a.rtt_ms.total_cmp(&b.rtt_ms));
    ok(ZoneDetail {
        zone: zone_of(zone),
        simulated: map.simulated,
        links,
        latency,
    })
}

/// One zone of your private network.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Network {
    /// Zone id.
    pub zone: String,
    /// Your subnet there (allocated with your first VM in the zone).
    pub cidr: String,
    /// The VMs holding an address in it.
    pub addresses: Vec<Address>,
}

/// A VM's private address.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Address {
    /// VM id.
    pub vm_id: String,
    /// VM name.
    pub vm_name: String,
    /// The address.
    pub ip: String,
}

/// Your private network: one subnet per zone you use, all reaching each other over the
/// backbone with no set-up.
#[utoipa::path(get, path = "/api/v1/networks", tag = "network", params(Paging),
    responses((status = 200, body = Page<Network>), (status = 401, body = super::ApiErrorBody)))]
pub async fn network_list(
    state: State<AppState>,
    Caller(ctx): Caller,
    paging: Paging,
) -> ApiResult<Page<Network>> {
    let zones = state.control.network_view(&ctx).await?;
    let networks = zones
        .into_iter()
        .map(|z| Network {
            zone: z.zone,
            cidr: z.cidr,
            addresses: z
                .addresses
                .into_iter()
                .map(|(vm_name, vm_id, ip)| Address { vm_id, vm_name, ip })
                .collect(),
        })
        .collect();
    ok(paging.page(networks)?)
}

pub use meridian_core::view::FirewallRule;

/// A new inbound rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirewallRuleNew {
    /// Zone id.
    pub zone: String,
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// First port (leave out for ICMP).
    #[serde(default)]
    pub port_from: Option<u32>,
    /// Last port (default: the first).
    #[serde(default)]
    pub port_to: Option<u32>,
    /// Source CIDR, e.g. `0.0.0.0/0`.
    pub source: String,
}

/// Lists your breakout firewall rules.
#[utoipa::path(get, path = "/api/v1/firewall-rules", tag = "network", params(Paging),
    responses((status = 200, body = Page<FirewallRule>), (status = 401, body = super::ApiErrorBody)))]
pub async fn firewall_rule_list(
    state: State<AppState>,
    Caller(ctx): Caller,
    paging: Paging,
) -> ApiResult<Page<FirewallRule>> {
    let rules = state.control.firewall_rule_list(&ctx).await?;
    ok(paging.page(rules)?)
}

/// Adds an inbound rule to a zone's breakout.
#[utoipa::path(post, path = "/api/v1/firewall-rules", tag = "network", request_body = FirewallRuleNew,
    responses((status = 201, body = FirewallRule), (status = 422, body = super::ApiErrorBody), (status = 409, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody)))]
pub async fn firewall_rule_create(
    state: State<AppState>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<FirewallRule> {
    let input: FirewallRuleNew = body_json(&headers, &body)?;
    let port = |p: Option<u32>| p.map(|p| p.to_string()).unwrap_or_default();
    let port_to = input.port_to.or(input.port_from);
    let (from, to) = (port(input.port_from), port(port_to));
    let create = match FirewallRuleCreate::parse(&input.zone, &input.protocol, &from, &to, &input.source) {
        Ok(create) => create,
        Err(errors) => {
            let target =
                FirewallRuleCreate::typed_text(&input.zone, &input.protocol, &from, &to, &input.source);
            let refusal = state
                .control
                .audit_invalid(&ctx, "firewall.rule_create", &target, errors)
                .await;
            return Err(refusal.into());
        }
    };
    let rule = state.control.firewall_rule_create(&ctx, create).await?;
    Ok((StatusCode::CREATED, axum::Json(rule)))
}

/// Removes a firewall rule.
#[utoipa::path(delete, path = "/api/v1/firewall-rules/{id}", tag = "network", params(("id" = String, Path, description = "Rule id")),
    responses((status = 204, description = "Removed."), (status = 404, body = super::ApiErrorBody), (status = 403, body = super::ApiErrorBody)))]
pub async fn firewall_rule_delete(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, super::ApiError> {
    state
        .control
        .firewall_rule_delete(&ctx, meridian_control::Error::id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
