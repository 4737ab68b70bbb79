//! The sixteen zones (Virtual Data Centres) Meridian runs in, from `docs/ZONES.md`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use thiserror::Error;

/// Whether a zone takes new resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneStatus {
    /// Open for new resources.
    Available,
    /// Running, but new resources may be slower to provision.
    Degraded,
    /// Closed to new resources; existing ones keep running.
    Maintenance,
}

/// One zone of the platform.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Zone {
    /// Short id, e.g. `lon1`.
    pub id: ZoneId,
    /// City name as customers know it.
    pub city: &'static str,
    /// ISO 3166-1 alpha-2 country code.
    pub country: &'static str,
    /// Latitude in degrees (north positive).
    pub lat: f64,
    /// Longitude in degrees (east positive).
    pub lon: f64,
    /// Whether it takes new resources.
    pub status: ZoneStatus,
    /// Installed RAM across the zone's hosts, in TiB (docs/ZONES.md: 5–10 TB per 20–40 Gb/s of backbone).
    pub ram_tib: u32,
}

/// A zone's id. Only ids in the catalogue exist: [`ZoneId::parse`] is the way in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneId(&'static str);

/// A zone id that is not in the catalogue.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("There is no zone {0:?}.")]
pub struct UnknownZone(pub String);

impl ZoneId {
    /// Looks an id up in the catalogue (case-insensitive).
    pub fn parse(raw: &str) -> Result<Self, UnknownZone> {
        let wanted = raw.trim().to_ascii_lowercase();
        ZONES
            .iter()
            .map(|z| z.id)
            .find(|id| id.0 == wanted)
            .ok_or_else(|| UnknownZone(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The zone's catalogue entry.
    pub fn zone(self) -> &'static Zone {
        // Every ZoneId comes from the catalogue, so the lookup cannot miss.
        ZONES.iter().find(|z| z.id == self).unwrap_or(&ZONES[0])
    }

    /// The zone's position in [`ZONES`], a dense index for tables and graphs.
    pub fn index(self) -> usize {
        ZONES.iter().position(|z| z.id == self).unwrap_or(0)
    }
}

impl fmt::Display for ZoneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for ZoneId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for ZoneId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        ZoneId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

const fn zone(
    id: &'static str,
    city: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
    ram_tib: u32,
) -> Zone {
    Zone {
        id: ZoneId(id),
        city,
        country,
        lat,
        lon,
        status: ZoneStatus::Available,
        ram_tib,
    }
}

/// Every zone, in the order of `docs/ZONES.md`.
pub static ZONES: [Zone; 16] = [
    zone("mad1", "Madrid", "ES", 40.4168, -3.7038, 5),
    zone("mil1", "Milan", "IT", 45.4642, 9.1900, 5),
    zone("ber1", "Berlin", "DE", 52.5200, 13.4050, 5),
    zone("fra1", "Frankfurt", "DE", 50.1109, 8.6821, 10),
    zone("lon1", "London", "GB", 51.5074, -0.1278, 10),
    zone("lon2", "London 2 (Docklands)", "GB", 51.5054, -0.0235, 5),
    zone("slo1", "Slough", "GB", 51.5105, -0.5950, 5),
    zone("par1", "Paris", "FR", 48.8566, 2.3522, 5),
    zone("ams1", "Amsterdam", "NL", 52.3676, 4.9041, 10),
    zone("gva1", "Geneva", "CH", 46.2044, 6.1432, 5),
    zone("zrh1", "Zurich", "CH", 47.3769, 8.5417, 5),
    zone("nyc1", "New York", "US", 40.7128, -74.0060, 10),
    zone("chi1", "Chicago", "US", 41.8781, -87.6298, 5),
    zone("lax1", "Los Angeles", "US", 34.0522, -118.2437, 10),
    zone("hkg1", "Hong Kong", "HK", 22.3193, 114.1694, 5),
    zone("sin1", "Singapore", "SG", 1.3521, 103.8198, 5),
];

/// Countries of the European Union among the zones' countries (for "EU only" residency).
pub const EU_COUNTRIES: &[&str] = &["ES", "IT", "DE", "FR", "NL"];

/// A zone as people read it, e.g. "Hong Kong (hkg1), HK"; text that is not a zone id is shown as it is.
pub fn zone_label(zone: &str) -> String {
    ZoneId::parse(zone).map_or_else(
        |_| zone.to_owned(),
        |id| format!("{} ({id}), {}", id.zone().city, id.zone().country),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_sixteen_unique_zones() {
        let mut ids: Vec<&str> = ZONES.iter().map(|z| z.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 16);
        for (i, zone) in ZONES.iter().enumerate() {
            assert_eq!(zone.id.index(), i);
            assert_eq!(zone.id.zone().city, zone.city);
        }
    }

    #[test]
    fn zone_ids_parse_only_from_the_catalogue() {
        assert_eq!(ZoneId::parse(" LON1 ").unwrap().zone().city, "London");
        assert!(ZoneId::parse("lon3").is_err());
        assert_eq!(ZoneId::parse("hkg1").unwrap().to_string(), "hkg1");
    }
}
