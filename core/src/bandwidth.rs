//! Bandwidth: never charged, shared fairly, and shapeable by the tenant.
//!
//! Meridian meters every byte but rates it at $0 (see [`crate::pricing`]). In return each tenant
//! has a fair-use allowance per month, may cap the rate of a VM or of a zone pair, and may ask for
//! an alert at a share of the allowance. This module holds those rules and, for the page that
//! shows what the same traffic would cost elsewhere, two published egress price models.

use crate::field::FieldErrors;
use crate::pricing::Money;
use crate::zone::ZoneId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Traffic a tenant may send in a month (backbone and internet together) before we talk: 50 TB.
pub const FAIR_USE_BYTES_PER_MONTH: u64 = 50_000_000_000_000;

/// The highest rate cap anyone can set, in Mb/s: a backbone link's capacity.
pub const MAX_CAP_MBPS: u32 = 100_000;

/// A rate cap and what it applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CapScope {
    /// One VM's traffic, all destinations together.
    Vm(String),
    /// Everything the tenant sends between two zones over the backbone (in either direction).
    Pair(ZoneId, ZoneId),
}

/// A rate cap as stored: what it applies to, by its stored key (see [`CapScope::key`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cap {
    /// "vm" or "pair".
    pub scope: String,
    /// The VM id, or the zone pair "ams1-lon1".
    pub target: String,
    /// The cap in Mb/s.
    pub mbps: i64,
}

/// A tenant's allowance alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// The share of the allowance that fires it, in percent.
    pub threshold_pct: i64,
    /// The month it last fired, "2026-11".
    pub fired_month: Option<String>,
    /// When it last fired (Unix ms).
    pub fired_at: Option<i64>,
}

impl CapScope {
    /// Stored form: ("vm", id) or ("pair", "ams1-lon1"), the zones in alphabetical order so
    /// one pair has one name.
    pub fn key(&self) -> (&'static str, String) {
        match self {
            CapScope::Vm(id) => ("vm", id.clone()),
            CapScope::Pair(a, b) => {
                let (first, second) = if a.as_str() <= b.as_str() { (a, b) } else { (b, a) };
                ("pair", format!("{first}-{second}"))
            }
        }
    }

    /// The stored form back.
    pub fn from_key(scope: &str, target: &str) -> Option<CapScope> {
        match scope {
            "vm" => Some(CapScope::Vm(target.to_owned())),
            "pair" => {
                let (a, b) = target.split_once('-')?;
                Some(CapScope::Pair(ZoneId::parse(a).ok()?, ZoneId::parse(b).ok()?))
            }
            _ => None,
        }
    }
}

/// Why a cap or an alert was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum BandwidthError {
    /// Not a whole number of Mb/s in range.
    #[error("Enter a rate between 1 and {MAX_CAP_MBPS} Mb/s.")]
    Rate,
    /// A pair of one zone with itself.
    #[error("Choose two different zones: traffic inside a zone never crosses the backbone.")]
    SameZone,
    /// Not a percentage in range.
    #[error("Enter a share between 1 and 100 %.")]
    Threshold,
}

/// Parses a rate cap typed by a person, in Mb/s.
pub fn parse_cap_mbps(raw: &str) -> Result<u32, BandwidthError> {
    match raw.trim().parse::<u32>() {
        Ok(mbps) if (1..=MAX_CAP_MBPS).contains(&mbps) => Ok(mbps),
        _ => Err(BandwidthError::Rate),
    }
}

/// A zone pair for a cap: two different zones.
pub fn cap_pair(a: ZoneId, b: ZoneId) -> Result<CapScope, BandwidthError> {
    if a == b {
        return Err(BandwidthError::SameZone);
    }
    Ok(CapScope::Pair(a, b))
}

/// Parses an alert threshold, a share of the allowance in whole percent.
pub fn parse_threshold_pct(raw: &str) -> Result<u8, BandwidthError> {
    match raw.trim().trim_end_matches('%').trim().parse::<u8>() {
        Ok(pct) if (1..=100).contains(&pct) => Ok(pct),
        _ => Err(BandwidthError::Threshold),
    }
}

/// Reads the rate-cap form: `scope` "vm" with `vm_id`, or "pair" with two zones, and the rate.
/// Every problem is reported against its field.
pub fn parse_cap_form(
    scope: &str,
    vm_id: &str,
    zone_a: &str,
    zone_b: &str,
    mbps: &str,
) -> Result<(CapScope, u32), FieldErrors> {
    let mut fields = FieldErrors::default();
    let rate = fields.check("mbps", parse_cap_mbps(mbps));
    let target = match scope {
        "vm" if vm_id.is_empty() => {
            fields.push("vm_id", "Choose one of your VMs.");
            None
        }
        "vm" => Some(CapScope::Vm(vm_id.to_owned())),
        "pair" => {
            let a = fields.check("zone_a", ZoneId::parse(zone_a));
            let b = fields.check("zone_b", ZoneId::parse(zone_b));
            match (a, b) {
                (Some(a), Some(b)) => fields.check("zone_b", cap_pair(a, b)),
                _ => None,
            }
        }
        _ => {
            fields.push("scope", "Cap a VM or a zone pair.");
            None
        }
    };
    match (target, rate) {
        (Some(target), Some(rate)) if fields.is_empty() => Ok((target, rate)),
        _ => Err(fields),
    }
}

/// Reads the allowance-alert form: a share in percent, or "off" (None).
pub fn parse_alert_form(threshold: &str) -> Result<Option<u8>, FieldErrors> {
    if threshold == "off" {
        return Ok(None);
    }
    let mut fields = FieldErrors::default();
    match fields.check("threshold", parse_threshold_pct(threshold)) {
        Some(pct) => Ok(Some(pct)),
        None => Err(fields),
    }
}

/// Bytes a cap lets through in `seconds`: Mb/s are 125,000 bytes a second.
pub fn cap_bytes(mbps: u32, seconds: u64) -> u64 {
    u64::from(mbps).saturating_mul(125_000).saturating_mul(seconds)
}

/// Share of the allowance used, in whole percent (rounded down), capped at 999.
pub fn allowance_used_pct(bytes: u64) -> u32 {
    u32::try_from((u128::from(bytes) * 100 / u128::from(FAIR_USE_BYTES_PER_MONTH)).min(999)).unwrap_or(999)
}

/// A month's traffic, as the comparison models need it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthTraffic {
    /// Bytes between the tenant's zones over the private backbone.
    pub backbone: u64,
    /// Bytes to and from the internet through breakouts.
    pub internet: u64,
    /// VMs the tenant ran this month (a pooled allowance grows with them).
    pub vms: u32,
}

/// A published price model for the same traffic elsewhere, with where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EgressModel {
    /// What the model is, in a few words.
    pub name: &'static str,
    /// How it charges, in a sentence, with the assumptions we make.
    pub terms: &'static str,
    /// Where the prices are published.
    pub source: &'static str,
    /// When the figures here were noted from the source.
    pub noted: &'static str,
    /// The rule.
    pub rule: EgressRule,
}

/// How a model turns traffic into money.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EgressRule {
    /// A pooled allowance of `per_vm_gib` per VM, then a flat price per GiB beyond it; all
    /// traffic between data centres counts.
    PooledThenPerGib {
        /// Allowance each VM adds to the pool, in GiB.
        per_vm_gib: u64,
        /// Price per GiB beyond the pool.
        per_gib: Money,
    },
    /// Internet egress in tiers per GB after a free amount, plus a flat price per GB between
    /// regions.
    Tiered {
        /// Free internet egress per month, in GB.
        free_gb: u64,
        /// `(tier size in GB, price per GB)`, in order; the last tier is open-ended.
        tiers: &'static [(u64, Money)],
        /// Price per GB between regions.
        inter_region_per_gb: Money,
    },
}

/// The two models the bandwidth page compares against.
pub const EGRESS_MODELS: [EgressModel; 2] = [
    EgressModel {
        name: "Pooled allowance, then $0.01 per GiB",
        terms: "Each VM adds 500 GiB a month (the smallest plan's allowance) to a pool shared by the \
                account; outbound transfer beyond the pool costs $0.01 per GiB. Traffic between \
                data centres leaves the private network, so it counts.",
        source: "https://docs.digitalocean.com/products/billing/bandwidth/",
        noted: "2026-11-26",
        rule: EgressRule::PooledThenPerGib {
            per_vm_gib: 500,
            per_gib: Money::from_micros(10_000),
        },
    },
    EgressModel {
        name: "Tiered egress per GB, inter-region extra",
        terms: "Internet egress: the first 100 GB a month free, then $0.09 per GB up to 10 TB, \
                $0.085 for the next 40 TB, $0.07 for the next 100 TB, $0.05 beyond; traffic \
                between regions $0.02 per GB (US East prices).",
        source: "https://aws.amazon.com/ec2/pricing/on-demand/",
        noted: "2026-11-26",
        rule: EgressRule::Tiered {
            free_gb: 100,
            tiers: &[
                (10_000, Money::from_micros(90_000)),
                (40_000, Money::from_micros(85_000)),
                (100_000, Money::from_micros(70_000)),
                (u64::MAX, Money::from_micros(50_000)),
            ],
            inter_region_per_gb: Money::from_micros(20_000),
        },
    },
];

const GIB: u128 = 1 << 30;
const GB: u128 = 1_000_000_000;

/// `bytes` priced at `price` per `unit` bytes, rounded up to the micro-dollar.
fn per_unit(bytes: u128, unit: u128, price: Money) -> Money {
    let micros = u128::try_from(price.micros()).unwrap_or(0);
    let total = (bytes * micros).div_ceil(unit);
    Money::from_micros(i64::try_from(total).unwrap_or(i64::MAX))
}

impl EgressModel {
    /// What `traffic` would cost under this model.
    pub fn cost(&self, traffic: MonthTraffic) -> Money {
        match self.rule {
            EgressRule::PooledThenPerGib { per_vm_gib, per_gib } => {
                let pool = u128::from(per_vm_gib) * GIB * u128::from(traffic.vms);
                let used = u128::from(traffic.backbone) + u128::from(traffic.internet);
                per_unit(used.saturating_sub(pool), GIB, per_gib)
            }
            EgressRule::Tiered {
                free_gb,
                tiers,
                inter_region_per_gb,
            } => {
                let mut left = u128::from(traffic.internet).saturating_sub(u128::from(free_gb) * GB);
                let mut total = per_unit(u128::from(traffic.backbone), GB, inter_region_per_gb);
                for &(size_gb, price) in tiers {
                    if left == 0 {
                        break;
                    }
                    let in_tier = left.min(u128::from(size_gb).saturating_mul(GB));
                    total = total
                        .checked_add(per_unit(in_tier, GB, price))
                        .unwrap_or(Money::MAX);
                    left -= in_tier;
                }
                total
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(id: &str) -> ZoneId {
        ZoneId::parse(id).unwrap()
    }

    #[test]
    fn caps_and_thresholds_are_validated() {
        assert_eq!(parse_cap_mbps(" 250 "), Ok(250));
        assert_eq!(parse_cap_mbps("0"), Err(BandwidthError::Rate));
        assert_eq!(parse_cap_mbps("100001"), Err(BandwidthError::Rate));
        assert_eq!(parse_cap_mbps("fast"), Err(BandwidthError::Rate));
        assert_eq!(
            cap_pair(zone("lon1"), zone("lon1")),
            Err(BandwidthError::SameZone)
        );
        assert_eq!(parse_threshold_pct("80 %"), Ok(80));
        assert_eq!(parse_threshold_pct("0"), Err(BandwidthError::Threshold));
        assert_eq!(parse_threshold_pct("101"), Err(BandwidthError::Threshold));
    }

    #[test]
    fn a_zone_pair_has_one_name_whichever_way_round() {
        let one = cap_pair(zone("lon1"), zone("ams1")).unwrap().key();
        let other = cap_pair(zone("ams1"), zone("lon1")).unwrap().key();
        assert_eq!(one, other);
        assert_eq!(one, ("pair", "ams1-lon1".to_owned()));
        assert_eq!(
            CapScope::from_key("pair", "ams1-lon1"),
            Some(CapScope::Pair(zone("ams1"), zone("lon1")))
        );
    }

    #[test]
    fn caps_turn_into_bytes_and_the_allowance_into_a_share() {
        assert_eq!(cap_bytes(8, 10), 10_000_000, "8 Mb/s is a megabyte a second");
        assert_eq!(allowance_used_pct(FAIR_USE_BYTES_PER_MONTH / 2), 50);
        assert_eq!(allowance_used_pct(u64::MAX), 999);
    }

    #[test]
    fn the_pooled_model_charges_only_beyond_the_pool() {
        let model = &EGRESS_MODELS[0];
        let pool = 2 * 500 * (1_u64 << 30);
        let within = MonthTraffic {
            backbone: pool / 2,
            internet: pool / 2,
            vms: 2,
        };
        assert_eq!(model.cost(within), Money::ZERO);
        let over = MonthTraffic {
            backbone: pool,
            internet: 100 * (1 << 30),
            vms: 2,
        };
        assert_eq!(
            model.cost(over),
            Money::from_micros(1_000_000),
            "100 GiB at $0.01"
        );
    }

    #[test]
    fn the_tiered_model_walks_its_tiers() {
        let model = &EGRESS_MODELS[1];
        assert_eq!(
            model.cost(MonthTraffic {
                internet: 100_000_000_000,
                ..MonthTraffic::default()
            }),
            Money::ZERO
        );
        // 10 TB beyond the free 100 GB: all in the first tier at $0.09.
        let ten_tb = MonthTraffic {
            internet: 10_100_000_000_000,
            ..MonthTraffic::default()
        };
        assert_eq!(model.cost(ten_tb), Money::from_micros(900_000_000));
        // One more GB falls in the second tier; backbone traffic is inter-region at $0.02.
        let more = MonthTraffic {
            internet: 10_101_000_000_000,
            backbone: 1_000_000_000,
            vms: 1,
        };
        assert_eq!(
            model.cost(more),
            Money::from_micros(900_000_000 + 85_000 + 20_000)
        );
    }
}
