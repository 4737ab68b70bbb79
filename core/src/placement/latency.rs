//! Placement by a latency budget: "within 10 ms of Frankfurt", "within 30 ms of my VM db-1". A
//! zone fits when the backbone's modelled round trip from the budget's anchor is within it; a zone
//! that no network could reach that fast (the fibre limit) is told apart from one today's routes
//! do not reach that fast.

use crate::backbone::{Backbone, Cut, pair_fibre_limit_ms};
use crate::field::FieldErrors;
use crate::id::VmId;
use crate::zone::ZoneId;
use serde::{Deserialize, Serialize};

/// The largest budget taken: a round trip around the world is far less.
pub const MAX_BUDGET_MS: f64 = 1_000.0;

/// Where a budget is measured from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Anchor {
    /// A zone.
    Zone(ZoneId),
    /// One of the tenant's VMs: its zone, once the control plane has looked it up.
    Vm(VmId),
}

impl Anchor {
    /// Reads `fra1` (a zone) or `vm:<id>` (a VM), as the create form's select sends them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        match raw.strip_prefix("vm:") {
            Some(id) => id
                .trim()
                .parse()
                .map(Anchor::Vm)
                .map_err(|_| "Choose one of your VMs or a zone.".to_owned()),
            None => ZoneId::parse(raw)
                .map(Anchor::Zone)
                .map_err(|_| "Choose one of your VMs or a zone.".to_owned()),
        }
    }
}

/// At most `max_ms` of round trip from `anchor`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyBudget {
    /// Where it is measured from.
    pub anchor: Anchor,
    /// The round trip allowed, in ms.
    pub max_ms: f64,
}

impl Eq for LatencyBudget {}

impl LatencyBudget {
    /// The two fields on their own: no budget, a budget, or what is wrong with them.
    pub fn parse(max_ms: &str, of: &str) -> Result<Option<LatencyBudget>, FieldErrors> {
        let mut errors = FieldErrors::default();
        let budget = Self::parse_fields(max_ms, of, &mut errors);
        if errors.is_empty() {
            Ok(budget)
        } else {
            Err(errors)
        }
    }

    /// The form's two fields, `latency_ms` and `latency_of`: both empty is no budget; errors are
    /// recorded under those names.
    pub fn parse_fields(max_ms: &str, of: &str, errors: &mut FieldErrors) -> Option<LatencyBudget> {
        if max_ms.trim().is_empty() && of.trim().is_empty() {
            return None;
        }
        let max = match max_ms.trim().parse::<f64>() {
            Ok(ms) if ms > 0.0 && ms <= MAX_BUDGET_MS => Some(ms),
            _ => {
                errors.push(
                    "latency_ms",
                    "Enter a round trip between 0 and 1000 ms, e.g. 10 or 2.5.",
                );
                None
            }
        };
        let anchor = if of.trim().is_empty() {
            errors.push("latency_of", "Choose what the round trip is measured from.");
            None
        } else {
            errors.check("latency_of", Anchor::parse(of))
        };
        Some(LatencyBudget {
            anchor: anchor?,
            max_ms: max?,
        })
    }
}

/// Whether `zone` is within `max_ms` of `from` on `backbone` with `cut` out of service: its
/// modelled round trip, or why not, in words for the form and the API.
pub fn zone_fit(
    backbone: &Backbone,
    from: ZoneId,
    zone: ZoneId,
    max_ms: f64,
    cut: &Cut,
) -> Result<f64, String> {
    let (a, b) = (from.zone().city, zone.zone().city);
    if zone == from {
        return Ok(0.0);
    }
    let fibre = pair_fibre_limit_ms(from, zone);
    if fibre > max_ms {
        return Err(format!(
            "Light in fibre needs {fibre:.1} ms for a round trip between {a} and {b}: no network can do it within {max_ms} ms."
        ));
    }
    match backbone.path(from, zone, cut) {
        None => Err(format!(
            "{b} cannot be reached from {a} while links are cut for maintenance."
        )),
        Some(path) if path.modelled_rtt_ms > max_ms => Err(format!(
            "{b} is {:.1} ms from {a} over the backbone: more than the {max_ms} ms asked.",
            path.modelled_rtt_ms
        )),
        Some(path) => Ok(path.modelled_rtt_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::BACKBONE;

    fn z(id: &str) -> ZoneId {
        ZoneId::parse(id).unwrap()
    }

    #[test]
    fn a_zone_fits_within_the_budget_and_the_others_say_why_not() {
        let none = Cut::none();
        assert_eq!(zone_fit(&BACKBONE, z("fra1"), z("fra1"), 1.0, &none), Ok(0.0));
        let ams = zone_fit(&BACKBONE, z("fra1"), z("ams1"), 10.0, &none).expect("Amsterdam is near");
        assert!(ams > 0.0 && ams <= 10.0);
        let physics = zone_fit(&BACKBONE, z("fra1"), z("hkg1"), 10.0, &none).unwrap_err();
        assert!(physics.starts_with("Light in fibre needs"), "{physics}");
        // Possible in principle, but not over today's routes: a budget just above the fibre limit.
        let limit = pair_fibre_limit_ms(z("lon1"), z("nyc1"));
        let route = zone_fit(&BACKBONE, z("lon1"), z("nyc1"), limit + 0.1, &none).unwrap_err();
        assert!(route.contains("ms from London over the backbone"), "{route}");
    }

    #[test]
    fn the_fields_parse_together_or_say_which_is_wrong() {
        let mut errors = FieldErrors::default();
        assert_eq!(LatencyBudget::parse_fields(" ", "", &mut errors), None);
        assert!(errors.is_empty());
        let budget = LatencyBudget::parse_fields("10", "fra1", &mut errors).unwrap();
        assert_eq!(budget.anchor, Anchor::Zone(z("fra1")));
        assert_eq!(budget.max_ms, 10.0);
        let id = "01234567-89ab-cdef-0123-456789abcdef";
        let budget = LatencyBudget::parse_fields("2.5", &format!("vm:{id}"), &mut errors).unwrap();
        assert_eq!(budget.anchor, Anchor::Vm(id.parse().unwrap()));
        assert!(errors.is_empty());
        for (ms, of, field) in [
            ("0", "fra1", "latency_ms"),
            ("-3", "fra1", "latency_ms"),
            ("fast", "fra1", "latency_ms"),
            ("10", "", "latency_of"),
            ("10", "atlantis", "latency_of"),
            ("10", "vm:nope", "latency_of"),
        ] {
            let mut errors = FieldErrors::default();
            assert_eq!(
                LatencyBudget::parse_fields(ms, of, &mut errors),
                None,
                "{ms} {of}"
            );
            assert!(errors.get(field).is_some(), "{ms} {of}: {errors:?}");
        }
    }
}
