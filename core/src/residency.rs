//! Data residency: where a tenant allows its VMs and data to live, and the check placement runs.
//!
//! A policy is stored as short text (`anywhere`, `countries:DE,FR`, `zones:fra1,lon1`) and shown to
//! people through [`ResidencyPolicy::label`]. A zone outside the policy is refused with a message that
//! names the rule, so the person who hits it knows what to change and who may change it.

use crate::zone::{EU_COUNTRIES, UnknownZone, ZONES, ZoneId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// An ISO 3166-1 alpha-2 country code, upper case, e.g. `DE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

/// Names of the countries the zones are in, for labels; other codes are shown as their code.
const COUNTRY_NAMES: &[(&str, &str)] = &[
    ("CH", "Switzerland"),
    ("DE", "Germany"),
    ("ES", "Spain"),
    ("FR", "France"),
    ("GB", "United Kingdom"),
    ("HK", "Hong Kong"),
    ("IT", "Italy"),
    ("NL", "Netherlands"),
    ("SG", "Singapore"),
    ("US", "United States"),
];

impl CountryCode {
    /// Parses a two-letter code in either case.
    pub fn parse(raw: &str) -> Result<Self, ResidencyError> {
        let trimmed = raw.trim();
        match trimmed.as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(CountryCode([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(ResidencyError::BadCountry(trimmed.to_owned())),
        }
    }

    /// The country a zone is in.
    pub fn of_zone(zone: ZoneId) -> Self {
        let bytes = zone.zone().country.as_bytes();
        // Catalogue countries are two ASCII letters; the fallback only keeps this total.
        CountryCode([
            bytes.first().copied().unwrap_or(b'?'),
            bytes.get(1).copied().unwrap_or(b'?'),
        ])
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The country's English short name, if it is one Meridian has zones in.
    pub fn name(&self) -> Option<&'static str> {
        COUNTRY_NAMES
            .iter()
            .find(|(code, _)| *code == self.as_str())
            .map(|(_, name)| *name)
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a tenant's VMs may run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ResidencyPolicy {
    /// Any zone.
    #[default]
    Anywhere,
    /// Only zones in these countries.
    Countries(BTreeSet<CountryCode>),
    /// Only these zones.
    Zones(BTreeSet<ZoneId>),
}

/// Why a stored or typed residency policy was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ResidencyError {
    /// Nothing was given.
    #[error("Choose a residency policy.")]
    Empty,
    /// Not one of the known forms.
    #[error("{0:?} is not a residency policy; use “anywhere”, “countries:DE,FR” or “zones:lon1,fra1”.")]
    UnknownKind(String),
    /// A country list with no country in it: it would forbid every zone.
    #[error("List at least one country.")]
    NoCountries,
    /// A zone list with no zone in it: it would forbid every zone.
    #[error("List at least one zone.")]
    NoZones,
    /// Not a two-letter country code.
    #[error("{0:?} is not a two-letter country code such as DE.")]
    BadCountry(String),
    /// A zone that is not in the catalogue.
    #[error(transparent)]
    UnknownZone(#[from] UnknownZone),
}

/// A zone the tenant's residency policy forbids. Its message names the zone, the rule and what is
/// allowed, because the person who meets it is often not the one who set the policy.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error(
    "{} ({}) is outside your residency policy “{}” (allowed: {}). An owner can change it in Settings.",
    .zone.zone().city, .zone.zone().country, .policy.label(), .policy.allowed_summary()
)]
pub struct ResidencyViolation {
    /// The zone that was asked for.
    pub zone: ZoneId,
    /// The policy it breaks.
    pub policy: ResidencyPolicy,
}

impl ResidencyPolicy {
    /// No restriction.
    pub fn anywhere() -> Self {
        ResidencyPolicy::Anywhere
    }

    /// Only zones in the European Union ([`EU_COUNTRIES`]).
    pub fn eu_only() -> Self {
        ResidencyPolicy::Countries(
            EU_COUNTRIES
                .iter()
                .filter_map(|c| CountryCode::parse(c).ok())
                .collect(),
        )
    }

    /// Only zones in one country, e.g. `country("DE")`.
    pub fn country(code: &str) -> Result<Self, ResidencyError> {
        Ok(ResidencyPolicy::Countries(BTreeSet::from([CountryCode::parse(
            code,
        )?])))
    }

    /// Only zones in these countries; at least one.
    pub fn countries(codes: impl IntoIterator<Item = CountryCode>) -> Result<Self, ResidencyError> {
        let codes: BTreeSet<CountryCode> = codes.into_iter().collect();
        if codes.is_empty() {
            return Err(ResidencyError::NoCountries);
        }
        Ok(ResidencyPolicy::Countries(codes))
    }

    /// Only these zones; at least one.
    pub fn zones(zones: impl IntoIterator<Item = ZoneId>) -> Result<Self, ResidencyError> {
        let zones: BTreeSet<ZoneId> = zones.into_iter().collect();
        if zones.is_empty() {
            return Err(ResidencyError::NoZones);
        }
        Ok(ResidencyPolicy::Zones(zones))
    }

    /// Parses the stored form: `anywhere`, `eu` (stored back as its countries),
    /// `countries:DE,FR` or `zones:lon1,fra1`. Case and spaces around items do not matter.
    pub fn parse(raw: &str) -> Result<Self, ResidencyError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(ResidencyError::Empty);
        }
        let (kind, list) = raw.split_once(':').unwrap_or((raw, ""));
        let items = || list.split(',').map(str::trim).filter(|item| !item.is_empty());
        match kind.trim().to_ascii_lowercase().as_str() {
            "anywhere" if list.trim().is_empty() => Ok(ResidencyPolicy::Anywhere),
            "eu" if list.trim().is_empty() => Ok(ResidencyPolicy::eu_only()),
            "countries" => Self::countries(items().map(CountryCode::parse).collect::<Result<Vec<_>, _>>()?),
            "zones" => Self::zones(items().map(ZoneId::parse).collect::<Result<Vec<_>, _>>()?),
            _ => Err(ResidencyError::UnknownKind(raw.to_owned())),
        }
    }

    /// True when a VM may run in `zone`.
    pub fn allows(&self, zone: ZoneId) -> bool {
        match self {
            ResidencyPolicy::Anywhere => true,
            ResidencyPolicy::Countries(codes) => codes.contains(&CountryCode::of_zone(zone)),
            ResidencyPolicy::Zones(zones) => zones.contains(&zone),
        }
    }

    /// Like [`ResidencyPolicy::allows`], with an error that explains the refusal.
    pub fn check(&self, zone: ZoneId) -> Result<(), ResidencyViolation> {
        if self.allows(zone) {
            Ok(())
        } else {
            Err(ResidencyViolation {
                zone,
                policy: self.clone(),
            })
        }
    }

    /// The catalogue's zones this policy allows, in catalogue order.
    pub fn allowed_zones(&self) -> Vec<ZoneId> {
        ZONES.iter().map(|z| z.id).filter(|&id| self.allows(id)).collect()
    }

    /// A short name for people: "Anywhere", "EU only", "Germany only", "London and Paris only".
    pub fn label(&self) -> String {
        match self {
            ResidencyPolicy::Anywhere => "Anywhere".to_owned(),
            ResidencyPolicy::Countries(codes) if *codes == eu_codes() => "EU only".to_owned(),
            ResidencyPolicy::Countries(codes) => {
                let names: Option<Vec<&str>> = countries_in_catalogue_order(codes)
                    .iter()
                    .map(|c| c.name())
                    .collect();
                match names {
                    Some(names) if (1..=3).contains(&names.len()) => format!("{} only", join_and(&names)),
                    _ => "Selected countries".to_owned(),
                }
            }
            ResidencyPolicy::Zones(zones) if (1..=3).contains(&zones.len()) => {
                let cities: Vec<&str> = zones_in_catalogue_order(zones)
                    .iter()
                    .map(|z| z.zone().city)
                    .collect();
                format!("{} only", join_and(&cities))
            }
            ResidencyPolicy::Zones(_) => "Selected zones".to_owned(),
        }
    }

    /// What the policy allows, for messages: "ES, IT, DE, FR, NL" or "London (lon1), Paris (par1)".
    /// Listed in catalogue order, which is how the zone picker shows them.
    pub fn allowed_summary(&self) -> String {
        match self {
            ResidencyPolicy::Anywhere => "every zone".to_owned(),
            ResidencyPolicy::Countries(codes) => countries_in_catalogue_order(codes)
                .iter()
                .map(CountryCode::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            ResidencyPolicy::Zones(zones) => zones_in_catalogue_order(zones)
                .iter()
                .map(|z| format!("{} ({})", z.zone().city, z.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// The EU preset's codes, to recognise it again after a round trip through storage.
fn eu_codes() -> BTreeSet<CountryCode> {
    EU_COUNTRIES
        .iter()
        .filter_map(|c| CountryCode::parse(c).ok())
        .collect()
}

/// Countries ordered as their first zone appears in the catalogue; codes without a zone go last.
fn countries_in_catalogue_order(codes: &BTreeSet<CountryCode>) -> Vec<CountryCode> {
    let mut ordered: Vec<CountryCode> = codes.iter().copied().collect();
    ordered.sort_by_key(|code| {
        ZONES
            .iter()
            .position(|z| z.country == code.as_str())
            .unwrap_or(usize::MAX)
    });
    ordered
}

/// Zones in catalogue order.
fn zones_in_catalogue_order(zones: &BTreeSet<ZoneId>) -> Vec<ZoneId> {
    let mut ordered: Vec<ZoneId> = zones.iter().copied().collect();
    ordered.sort_by_key(|z| z.index());
    ordered
}

/// "A", "A and B", "A, B and C".
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The stored form, which [`ResidencyPolicy::parse`] reads back.
impl fmt::Display for ResidencyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResidencyPolicy::Anywhere => f.write_str("anywhere"),
            ResidencyPolicy::Countries(codes) => {
                let list: Vec<&str> = codes.iter().map(CountryCode::as_str).collect();
                write!(f, "countries:{}", list.join(","))
            }
            ResidencyPolicy::Zones(zones) => {
                let list: Vec<&str> = zones.iter().map(|z| z.as_str()).collect();
                write!(f, "zones:{}", list.join(","))
            }
        }
    }
}

impl FromStr for ResidencyPolicy {
    type Err = ResidencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResidencyPolicy::parse(s)
    }
}

impl TryFrom<String> for ResidencyPolicy {
    type Error = ResidencyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ResidencyPolicy::parse(&value)
    }
}

impl From<ResidencyPolicy> for String {
    fn from(value: ResidencyPolicy) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(id: &str) -> ZoneId {
        ZoneId::parse(id).unwrap()
    }

    #[test]
    fn eu_only_allows_eu_zones_and_nothing_else() {
        let eu = ResidencyPolicy::eu_only();
        for id in ["mad1", "mil1", "ber1", "fra1", "par1", "ams1"] {
            assert!(eu.allows(zone(id)), "{id} is in the EU");
        }
        for id in [
            "lon1", "lon2", "slo1", "gva1", "zrh1", "nyc1", "chi1", "lax1", "hkg1", "sin1",
        ] {
            assert!(!eu.allows(zone(id)), "{id} is outside the EU");
        }
        assert_eq!(eu.allowed_zones().len(), 6);
    }

    #[test]
    fn a_violation_names_the_zone_the_rule_and_who_can_change_it() {
        let error = ResidencyPolicy::eu_only().check(zone("nyc1")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "New York (US) is outside your residency policy “EU only” (allowed: ES, IT, DE, FR, NL). \
             An owner can change it in Settings."
        );
        let germany = ResidencyPolicy::country("de").unwrap();
        assert!(germany.check(zone("fra1")).is_ok());
        assert_eq!(
            germany.check(zone("par1")).unwrap_err().to_string(),
            "Paris (FR) is outside your residency policy “Germany only” (allowed: DE). \
             An owner can change it in Settings."
        );
        let zones = ResidencyPolicy::zones([zone("lon1"), zone("fra1")]).unwrap();
        assert_eq!(
            zones.check(zone("ams1")).unwrap_err().to_string(),
            "Amsterdam (NL) is outside your residency policy “Frankfurt and London only” \
             (allowed: Frankfurt (fra1), London (lon1)). An owner can change it in Settings."
        );
    }

    #[test]
    fn anywhere_allows_every_zone() {
        let policy = ResidencyPolicy::default();
        assert!(ZONES.iter().all(|z| policy.check(z.id).is_ok()));
        assert_eq!(policy.label(), "Anywhere");
    }

    #[test]
    fn labels_read_naturally() {
        assert_eq!(ResidencyPolicy::eu_only().label(), "EU only");
        assert_eq!(
            ResidencyPolicy::parse("countries:GB,CH").unwrap().label(),
            "United Kingdom and Switzerland only"
        );
        assert_eq!(
            ResidencyPolicy::parse("countries:XY").unwrap().label(),
            "Selected countries"
        );
        assert_eq!(
            ResidencyPolicy::parse("countries:DE,FR,IT,NL").unwrap().label(),
            "Selected countries"
        );
        assert_eq!(
            ResidencyPolicy::parse("zones:slo1").unwrap().label(),
            "Slough only"
        );
        assert_eq!(
            ResidencyPolicy::parse("zones:lon1,lon2,slo1,ams1")
                .unwrap()
                .label(),
            "Selected zones"
        );
    }

    #[test]
    fn the_stored_form_round_trips() {
        for policy in [
            ResidencyPolicy::anywhere(),
            ResidencyPolicy::eu_only(),
            ResidencyPolicy::country("CH").unwrap(),
            ResidencyPolicy::zones([zone("lon1"), zone("fra1")]).unwrap(),
        ] {
            let text = policy.to_string();
            assert_eq!(ResidencyPolicy::parse(&text).unwrap(), policy, "{text}");
            let json = serde_json::to_string(&policy).unwrap();
            assert_eq!(
                serde_json::from_str::<ResidencyPolicy>(&json).unwrap(),
                policy,
                "{json}"
            );
        }
        assert_eq!(ResidencyPolicy::eu_only().to_string(), "countries:DE,ES,FR,IT,NL");
        assert_eq!(
            ResidencyPolicy::parse(" Zones: LON1 , fra1 ")
                .unwrap()
                .to_string(),
            "zones:fra1,lon1"
        );
        assert_eq!(ResidencyPolicy::parse("EU").unwrap(), ResidencyPolicy::eu_only());
    }

    #[test]
    fn malformed_policies_get_a_specific_error() {
        assert_eq!(ResidencyPolicy::parse(" "), Err(ResidencyError::Empty));
        assert!(matches!(
            ResidencyPolicy::parse("europe"),
            Err(ResidencyError::UnknownKind(_))
        ));
        assert!(matches!(
            ResidencyPolicy::parse("anywhere:DE"),
            Err(ResidencyError::UnknownKind(_))
        ));
        assert_eq!(
            ResidencyPolicy::parse("countries:"),
            Err(ResidencyError::NoCountries)
        );
        assert_eq!(ResidencyPolicy::parse("zones: , "), Err(ResidencyError::NoZones));
        assert_eq!(
            ResidencyPolicy::parse("countries:DEU"),
            Err(ResidencyError::BadCountry("DEU".into()))
        );
        assert!(matches!(
            ResidencyPolicy::parse("zones:lon9"),
            Err(ResidencyError::UnknownZone(_))
        ));
        assert!(serde_json::from_str::<ResidencyPolicy>("\"countries:\"").is_err());
        assert_eq!(
            ResidencyPolicy::country("D1"),
            Err(ResidencyError::BadCountry("D1".into()))
        );
    }
}
