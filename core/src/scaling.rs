//! Autoscaling groups: the form, its checks, and the decision a group takes from what its members
//! measured — pure, so the same rules hold in tests, in the control plane and in the browser.
//!
//! A group keeps between `min` and `max` members of one VM template, spread over its zones. Its
//! `desired` size follows a target on a metric: above the target it scales out at once to the
//! size that would bring the average back to it (`ceil(members × value / target)`); below 70 % of
//! the target it scales in by one (the newest member goes). After any change it holds for its
//! cooldown. Members count toward the metric only once their grace period is over, so booting
//! VMs neither drag the average down nor get replaced while they boot.

use crate::field::FieldErrors;
use crate::resource::{Name, VmCreate, VmCreateForm};
use crate::zone::ZoneId;
use serde::{Deserialize, Serialize};

/// The most members a group may have.
pub const MAX_GROUP_SIZE: u32 = 50;
/// Below this share of the target (in %), a group scales in.
pub const SCALE_IN_SHARE: u32 = 70;
/// How many minutes of figures a decision averages.
pub const WINDOW_MINUTES: i64 = 3;

/// What a group scales on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Average CPU of its members, in % of their vCPUs.
    Cpu,
    /// Average network (received + sent) per member, in KiB/s.
    Network,
}

impl Metric {
    /// `cpu` or `network`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "cpu" => Some(Metric::Cpu),
            "network" => Some(Metric::Network),
            _ => None,
        }
    }

    /// As stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Network => "network",
        }
    }

    /// "CPU 82 %", "network 1,200 KiB/s".
    pub fn describe(self, value: u64) -> String {
        match self {
            Metric::Cpu => format!("CPU {value} %"),
            Metric::Network => format!("network {value} KiB/s"),
        }
    }
}

/// The group form as sent: every field text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScalingGroupForm {
    /// Its name; members are named `<name>-<n>`.
    pub name: String,
    /// A built-in template's slug or one of the tenant's templates' ids.
    pub template: String,
    /// A size code.
    pub size: String,
    /// Zone ids, one per entry.
    pub zones: Vec<String>,
    /// The fewest members.
    pub min: String,
    /// The most members.
    pub max: String,
    /// How many to start with (default: `min`).
    pub desired: String,
    /// `cpu` or `network`.
    pub metric: String,
    /// The target: CPU % (1–100) or KiB/s per member.
    pub target: String,
    /// Seconds to hold after a change (default 180).
    pub cooldown_secs: String,
    /// Seconds a new member has to boot before it counts or may be replaced (default 300).
    pub grace_secs: String,
    /// Cloud-config for every member.
    pub user_data: String,
    /// Checkbox: every member gets a public address.
    pub breakout: String,
    /// Optional latency budget: every zone within this round trip (ms) of `latency_of`.
    pub latency_ms: String,
    /// A zone id, or `vm:<id>` for one of the tenant's VMs.
    pub latency_of: String,
}

/// A checked group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingGroupCreate {
    /// Its name.
    pub name: Name,
    /// Its members' template (still to be looked up when it is a tenant's).
    pub template: String,
    /// Its members' size code.
    pub size: String,
    /// Its zones, without duplicates.
    pub zones: Vec<ZoneId>,
    /// Its policy.
    pub policy: Policy,
    /// How many members to start with.
    pub desired: u32,
    /// Cloud-config.
    pub user_data: Option<String>,
    /// Public addresses.
    pub breakout: bool,
    /// Every zone must be within it.
    pub latency: Option<crate::placement::latency::LatencyBudget>,
}

/// How a group scales.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The fewest members.
    pub min: u32,
    /// The most members.
    pub max: u32,
    /// What it scales on.
    pub metric: Metric,
    /// The target value.
    pub target: u32,
    /// Hold this long after a change, in seconds.
    pub cooldown_secs: u32,
    /// A new member's grace period, in seconds.
    pub grace_secs: u32,
}

fn number(
    errors: &mut FieldErrors,
    field: &str,
    raw: &str,
    default: Option<u32>,
    range: (u32, u32),
) -> Option<u32> {
    let raw = raw.trim();
    let value = if raw.is_empty() {
        default
    } else {
        raw.parse::<u32>().ok()
    };
    match value {
        Some(value) if (range.0..=range.1).contains(&value) => Some(value),
        _ => {
            errors.push(
                field,
                format!("Enter a whole number from {} to {}.", range.0, range.1),
            );
            None
        }
    }
}

impl ScalingGroupCreate {
    /// Checks every field at once; errors are keyed by the form's field names. The members'
    /// template, size and cloud-config are checked as a VM create would check them.
    pub fn parse(form: &ScalingGroupForm) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", Name::parse(&form.name));
        if let Some(name) = &name
            && name.as_str().len() + 4 > crate::resource::NAME_MAX_CHARS
        {
            errors.push("name", "Choose a shorter name: members add a number to it.");
        }
        let mut zones: Vec<ZoneId> = Vec::new();
        for raw in form.zones.iter().map(|z| z.trim()).filter(|z| !z.is_empty()) {
            match ZoneId::parse(raw) {
                Ok(zone) if !zones.contains(&zone) => zones.push(zone),
                Ok(_) => {}
                Err(error) => errors.push("zones", error.to_string()),
            }
        }
        if zones.is_empty() && errors.get("zones").is_none() {
            errors.push("zones", "Choose at least one zone.");
        }
        let min = number(&mut errors, "min", &form.min, None, (0, MAX_GROUP_SIZE));
        let max = number(&mut errors, "max", &form.max, None, (1, MAX_GROUP_SIZE));
        let desired = number(&mut errors, "desired", &form.desired, min, (0, MAX_GROUP_SIZE));
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            errors.push("max", "The most must be at least the fewest.");
        }
        if let (Some(min), Some(max), Some(desired)) = (min, max, desired)
            && min <= max
            && !(min..=max).contains(&desired)
        {
            errors.push("desired", format!("Start with {min} to {max} members."));
        }
        let metric = Metric::parse(&form.metric);
        if metric.is_none() {
            errors.push("metric", "Choose CPU or network.");
        }
        let target = match metric {
            Some(Metric::Cpu) => number(&mut errors, "target", &form.target, None, (1, 100)),
            _ => number(&mut errors, "target", &form.target, None, (1, 10_000_000)),
        };
        let cooldown_secs = number(
            &mut errors,
            "cooldown_secs",
            &form.cooldown_secs,
            Some(180),
            (30, 86_400),
        );
        let grace_secs = number(
            &mut errors,
            "grace_secs",
            &form.grace_secs,
            Some(300),
            (30, 86_400),
        );
        let latency = crate::placement::latency::LatencyBudget::parse_fields(
            &form.latency_ms,
            &form.latency_of,
            &mut errors,
        );
        // The members as a VM create would have them.
        let member = VmCreateForm {
            name: format!("{}-1", form.name.trim()),
            zone: zones
                .first()
                .map(|z| z.to_string())
                .unwrap_or_else(|| "lon1".into()),
            template: form.template.clone(),
            size: form.size.clone(),
            breakout: form.breakout.clone(),
            user_data: form.user_data.clone(),
            ..VmCreateForm::default()
        };
        let member = match VmCreate::parse(&member) {
            Ok(member) => Some(member),
            Err(vm_errors) => {
                for field in ["template", "size", "user_data", "breakout"] {
                    if let Some(message) = vm_errors.get(field) {
                        errors.push(field, message.to_owned());
                    }
                }
                None
            }
        };
        match (
            name,
            min,
            max,
            desired,
            metric,
            target,
            cooldown_secs,
            grace_secs,
            member,
        ) {
            (
                Some(name),
                Some(min),
                Some(max),
                Some(desired),
                Some(metric),
                Some(target),
                Some(cooldown_secs),
                Some(grace_secs),
                Some(member),
            ) if errors.is_empty() => Ok(ScalingGroupCreate {
                name,
                template: form.template.trim().to_owned(),
                size: form.size.trim().to_owned(),
                zones,
                policy: Policy {
                    min,
                    max,
                    metric,
                    target,
                    cooldown_secs,
                    grace_secs,
                },
                desired,
                user_data: member.user_data.map(|u| u.as_str().to_owned()),
                breakout: member.breakout,
                latency,
            }),
            _ => Err(errors),
        }
    }
}

/// What a group knows when it decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observation {
    /// Now, Unix ms.
    pub now: i64,
    /// Its desired size.
    pub desired: u32,
    /// When it last scaled, Unix ms.
    pub last_scaled_at: Option<i64>,
    /// The metric's average over its settled members for the last [`WINDOW_MINUTES`] (CPU in
    /// %, network in KiB/s); None without figures.
    pub value: Option<u64>,
    /// How many members the value was measured over (running, past their grace).
    pub settled: u32,
}

/// What a group does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Keep the desired size; why, for its page.
    Hold(String),
    /// Change the desired size to `to`, for `reason`.
    Scale {
        /// The new desired size.
        to: u32,
        /// "scaled out to 5: CPU 82 % > 60 % over the last 3 min".
        reason: String,
    },
}

/// The decision of a group with `policy` that observed `seen` (see the module's description).
pub fn decide(policy: &Policy, seen: &Observation) -> Decision {
    if let Some(last) = seen.last_scaled_at {
        let until = last + i64::from(policy.cooldown_secs) * 1000;
        if seen.now < until {
            return Decision::Hold(format!(
                "Cooling down after the last change, for {} s more.",
                (until - seen.now + 999) / 1000
            ));
        }
    }
    let (Some(value), settled) = (seen.value, seen.settled) else {
        return Decision::Hold("No figures yet: members count once their grace period is over.".into());
    };
    if settled == 0 {
        return Decision::Hold("No figures yet: members count once their grace period is over.".into());
    }
    let target = u64::from(policy.target.max(1));
    let window = format!("over the last {WINDOW_MINUTES} min");
    if value > target {
        let wanted = (u64::from(settled) * value).div_ceil(target);
        let to = u32::try_from(wanted)
            .unwrap_or(u32::MAX)
            .clamp(policy.min, policy.max);
        if to > seen.desired {
            return Decision::Scale {
                to,
                reason: format!(
                    "Scaled out to {to}: {} > {target}{} {window}.",
                    policy.metric.describe(value),
                    unit(policy.metric)
                ),
            };
        }
        return Decision::Hold(format!(
            "{} is above the {target}{} target, but the group is at its most, {}.",
            policy.metric.describe(value),
            unit(policy.metric),
            policy.max
        ));
    }
    let floor = target * u64::from(SCALE_IN_SHARE) / 100;
    // One fewer must not push the rest over the target (two at 41 % of 60 % would make one at
    // 82 %, and the group would go in and out in a loop).
    let after_one_fewer = (value * u64::from(seen.desired)).div_ceil(u64::from(seen.desired.max(2) - 1));
    if value < floor && seen.desired > policy.min && after_one_fewer <= target {
        let to = seen.desired - 1;
        return Decision::Scale {
            to,
            reason: format!(
                "Scaled in to {to}: {} < {floor}{} ({SCALE_IN_SHARE} % of the {target}{} target) {window}.",
                policy.metric.describe(value),
                unit(policy.metric),
                unit(policy.metric)
            ),
        };
    }
    Decision::Hold(format!(
        "{} is within the target's band ({floor}–{target}{}).",
        policy.metric.describe(value),
        unit(policy.metric)
    ))
}

fn unit(metric: Metric) -> &'static str {
    match metric {
        Metric::Cpu => " %",
        Metric::Network => " KiB/s",
    }
}

/// The zone a new member goes to: the one of `zones` with the fewest of `live` (the zones of
/// the members there are), the first listed on a tie.
pub fn zone_for_new_member(zones: &[ZoneId], live: &[ZoneId]) -> Option<ZoneId> {
    zones
        .iter()
        .min_by_key(|zone| live.iter().filter(|z| z == zone).count())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            min: 2,
            max: 5,
            metric: Metric::Cpu,
            target: 60,
            cooldown_secs: 180,
            grace_secs: 120,
        }
    }

    fn seen(desired: u32, value: Option<u64>, settled: u32) -> Observation {
        Observation {
            now: 1_000_000,
            desired,
            last_scaled_at: None,
            value,
            settled,
        }
    }

    #[test]
    fn above_the_target_it_scales_out_to_what_brings_the_average_back() {
        assert_eq!(
            decide(&policy(), &seen(2, Some(82), 2)),
            Decision::Scale {
                to: 3,
                reason: "Scaled out to 3: CPU 82 % > 60 % over the last 3 min.".into()
            }
        );
        // Far above: straight to what is needed, never past the most.
        assert!(matches!(
            decide(&policy(), &seen(2, Some(100), 2)),
            Decision::Scale { to: 4, .. }
        ));
        assert!(matches!(
            decide(&policy(), &seen(4, Some(100), 4)),
            Decision::Scale { to: 5, .. }
        ));
        assert!(
            matches!(decide(&policy(), &seen(5, Some(100), 5)), Decision::Hold(why) if why.contains("at its most, 5"))
        );
    }

    #[test]
    fn below_most_of_the_target_it_scales_in_by_one_and_never_below_the_fewest() {
        assert_eq!(
            decide(&policy(), &seen(4, Some(20), 4)),
            Decision::Scale {
                to: 3,
                reason: "Scaled in to 3: CPU 20 % < 42 % (70 % of the 60 % target) over the last 3 min."
                    .into()
            }
        );
        assert!(matches!(
            decide(&policy(), &seen(2, Some(5), 2)),
            Decision::Hold(_)
        ));
        assert!(
            matches!(decide(&policy(), &seen(3, Some(50), 3)), Decision::Hold(why) if why.contains("within"))
        );
        // Two at 41 % of a 60 % target would leave one at 82 %: no.
        let small = Policy { min: 1, ..policy() };
        assert!(matches!(decide(&small, &seen(2, Some(41), 2)), Decision::Hold(_)));
        assert!(matches!(
            decide(&small, &seen(2, Some(25), 2)),
            Decision::Scale { to: 1, .. }
        ));
    }

    #[test]
    fn a_cooldown_and_booting_members_hold_it() {
        let mut cooling = seen(2, Some(95), 2);
        cooling.last_scaled_at = Some(1_000_000 - 60_000);
        assert_eq!(
            decide(&policy(), &cooling),
            Decision::Hold("Cooling down after the last change, for 120 s more.".into())
        );
        cooling.last_scaled_at = Some(1_000_000 - 180_000);
        assert!(matches!(decide(&policy(), &cooling), Decision::Scale { .. }));
        assert!(
            matches!(decide(&policy(), &seen(2, None, 0)), Decision::Hold(why) if why.starts_with("No figures"))
        );
    }

    #[test]
    fn new_members_go_where_the_group_has_fewest() {
        let zones: Vec<ZoneId> = ["lon1", "fra1"]
            .iter()
            .map(|z| ZoneId::parse(z).unwrap())
            .collect();
        assert_eq!(zone_for_new_member(&zones, &[]), Some(zones[0]));
        assert_eq!(zone_for_new_member(&zones, &[zones[0]]), Some(zones[1]));
        assert_eq!(
            zone_for_new_member(&zones, &[zones[0], zones[1], zones[1]]),
            Some(zones[0])
        );
    }

    #[test]
    fn the_form_is_checked_field_by_field() {
        let form = ScalingGroupForm {
            name: "web".into(),
            template: "debian-12".into(),
            size: "xs".into(),
            zones: vec!["lon1".into(), "fra1".into(), "lon1".into()],
            min: "2".into(),
            max: "5".into(),
            metric: "cpu".into(),
            target: "60".into(),
            ..ScalingGroupForm::default()
        };
        let group = ScalingGroupCreate::parse(&form).unwrap();
        assert_eq!(group.zones.len(), 2, "a zone once");
        assert_eq!(group.desired, 2, "starts at the fewest");
        assert_eq!((group.policy.cooldown_secs, group.policy.grace_secs), (180, 300));
        let bad = ScalingGroupForm {
            min: "6".into(),
            target: "250".into(),
            size: "huge".into(),
            zones: Vec::new(),
            ..form
        };
        let errors = ScalingGroupCreate::parse(&bad).unwrap_err();
        for field in ["max", "target", "size", "zones"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
    }
}
