//! Inbound firewall rules: protocol, port range and source CIDR.

use super::parse_whole;
use crate::field::FieldErrors;
use crate::zone::ZoneId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
use thiserror::Error;

/// The IP protocol a firewall rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP; needs ports.
    Tcp,
    /// UDP; needs ports.
    Udp,
    /// ICMP (ping); has no ports.
    Icmp,
}

/// A protocol name that is not TCP, UDP or ICMP.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("Choose TCP, UDP or ICMP.")]
pub struct ProtocolError;

impl Protocol {
    /// Every protocol.
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Icmp];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        }
    }

    /// Parses a protocol name, ignoring case.
    pub fn parse(raw: &str) -> Result<Self, ProtocolError> {
        let wanted = raw.trim();
        Protocol::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(wanted))
            .ok_or(ProtocolError)
    }

    /// Whether rules for this protocol have ports.
    pub fn has_ports(self) -> bool {
        self != Protocol::Icmp
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inclusive range of ports, 1–65535, first ≤ last. A single port is a range of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawPortRange")]
pub struct PortRange {
    start: u16,
    end: u16,
}

/// The serialized shape of [`PortRange`], checked on the way in.
#[derive(Deserialize)]
struct RawPortRange {
    start: u16,
    end: u16,
}

impl TryFrom<RawPortRange> for PortRange {
    type Error = PortError;
    fn try_from(raw: RawPortRange) -> Result<Self, Self::Error> {
        Self::new(raw.start, raw.end)
    }
}

/// Why a port or port range was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PortError {
    /// Nothing was typed where a port is needed.
    #[error("Enter a port, for example 443.")]
    Empty,
    /// Not a number from 1 to 65535.
    #[error("Enter a port number from 1 to 65535.")]
    OutOfRange,
    /// The last port is lower than the first.
    #[error("The last port must not be lower than the first.")]
    Reversed,
    /// Ports were given for ICMP.
    #[error("ICMP has no ports; leave the ports empty.")]
    NotForIcmp,
}

impl PortRange {
    /// A range from `start` to `end`, both included.
    pub fn new(start: u16, end: u16) -> Result<Self, PortError> {
        if start == 0 || end == 0 {
            Err(PortError::OutOfRange)
        } else if start > end {
            Err(PortError::Reversed)
        } else {
            Ok(Self { start, end })
        }
    }

    /// A single port.
    pub fn single(port: u16) -> Result<Self, PortError> {
        Self::new(port, port)
    }

    /// The first port.
    pub fn start(self) -> u16 {
        self.start
    }

    /// The last port (equal to the first for a single port).
    pub fn end(self) -> u16 {
        self.end
    }

    /// Whether `port` is in the range.
    pub fn contains(self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// Reads one port typed into a form.
fn parse_port(raw: &str) -> Result<u16, PortError> {
    if raw.trim().is_empty() {
        return Err(PortError::Empty);
    }
    let port = parse_whole(raw).ok_or(PortError::OutOfRange)?;
    match u16::try_from(port) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(PortError::OutOfRange),
    }
}

/// Where traffic may come from: any IPv4 CIDR, including `0.0.0.0/0` for the whole internet.
///
/// Unlike the private ranges of IPAM this accepts any address, but still insists that the host bits
/// are zero: `203.0.113.5/24` is almost always a typo for `203.0.113.0/24` or `203.0.113.5/32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceCidr {
    network: Ipv4Addr,
    prefix: u8,
}

/// Why a source CIDR was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SourceCidrError {
    /// Nothing was typed.
    #[error("Enter a source such as 203.0.113.0/24, or 0.0.0.0/0 for anywhere.")]
    Empty,
    /// Not an IPv4 address with an optional `/prefix`.
    #[error("Enter an IPv4 address or range such as 203.0.113.0/24.")]
    Malformed,
    /// The prefix is above 32.
    #[error("The prefix length after / must be from 0 to 32.")]
    BadPrefix,
    /// Bits are set below the prefix.
    #[error("{given} has host bits set; did you mean {suggestion}?")]
    HostBits {
        /// What was typed.
        given: String,
        /// The network it lies in.
        suggestion: String,
    },
}

impl SourceCidr {
    /// The whole IPv4 internet.
    pub const ANYWHERE: SourceCidr = SourceCidr {
        network: Ipv4Addr::UNSPECIFIED,
        prefix: 0,
    };

    /// Parses `a.b.c.d/n`; a bare address means that one host (`/32`).
    pub fn parse(raw: &str) -> Result<Self, SourceCidrError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(SourceCidrError::Empty);
        }
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => {
                let prefix = parse_whole(prefix).ok_or(SourceCidrError::Malformed)?;
                (addr, u8::try_from(prefix).unwrap_or(u8::MAX))
            }
            None => (text, 32),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| SourceCidrError::Malformed)?;
        if prefix > 32 {
            return Err(SourceCidrError::BadPrefix);
        }
        let network = Ipv4Addr::from(u32::from(addr) & Self::mask(prefix));
        if network != addr {
            return Err(SourceCidrError::HostBits {
                given: text.to_owned(),
                suggestion: format!("{network}/{prefix}"),
            });
        }
        Ok(Self { network, prefix })
    }

    fn mask(prefix: u8) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
    }

    /// The network address.
    pub fn network(self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length, 0–32.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// Whether `addr` lies in the range.
    pub fn contains(self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & Self::mask(self.prefix) == u32::from(self.network)
    }
}

impl fmt::Display for SourceCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl TryFrom<String> for SourceCidr {
    type Error = SourceCidrError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SourceCidr> for String {
    fn from(cidr: SourceCidr) -> Self {
        cidr.to_string()
    }
}

/// One inbound firewall rule: traffic of `protocol` to `ports` from `source` is let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FirewallRule {
    /// The protocol matched.
    pub protocol: Protocol,
    /// The destination ports; always `Some` for TCP and UDP, always `None` for ICMP.
    pub ports: Option<PortRange>,
    /// Where the traffic may come from.
    pub source: SourceCidr,
}

impl FirewallRule {
    /// Validates the firewall-rule form. Field names: `protocol`, `port_from`, `port_to`, `source`.
    /// An empty `port_to` means the single port `port_from`; ICMP takes no ports at all.
    pub fn parse(protocol: &str, port_from: &str, port_to: &str, source: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let protocol = errors.check("protocol", Protocol::parse(protocol));
        let ports = match protocol {
            Some(Protocol::Icmp) => {
                if !port_from.trim().is_empty() {
                    errors.push("port_from", PortError::NotForIcmp.to_string());
                }
                if !port_to.trim().is_empty() {
                    errors.push("port_to", PortError::NotForIcmp.to_string());
                }
                Some(None)
            }
            Some(Protocol::Tcp | Protocol::Udp) => {
                let start = errors.check("port_from", parse_port(port_from));
                let end = if port_to.trim().is_empty() {
                    start
                } else {
                    errors.check("port_to", parse_port(port_to))
                };
                match (start, end) {
                    (Some(start), Some(end)) => errors.check("port_to", PortRange::new(start, end)).map(Some),
                    _ => None,
                }
            }
            // Without a protocol there is no telling whether ports belong; report the protocol only.
            None => None,
        };
        let source = errors.check("source", SourceCidr::parse(source));
        match (protocol, ports, source) {
            (Some(protocol), Some(ports), Some(source)) if errors.is_empty() => Ok(Self {
                protocol,
                ports,
                source,
            }),
            _ => Err(errors),
        }
    }

    /// Whether the rule lets in a packet of `protocol` to `port` from `from`.
    pub fn allows(&self, protocol: Protocol, port: Option<u16>, from: Ipv4Addr) -> bool {
        let port_ok = match (self.ports, port) {
            (None, _) => true,
            (Some(range), Some(port)) => range.contains(port),
            (Some(_), None) => false,
        };
        self.protocol == protocol && port_ok && self.source.contains(from)
    }
}

/// A new rule for one zone's breakout, validated: the zone and the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirewallRuleCreate {
    /// The zone whose breakout it guards.
    pub zone: ZoneId,
    /// What it lets in.
    pub rule: FirewallRule,
}

impl FirewallRuleCreate {
    /// How a rule is named as it was typed, parsed or not (the audit log's target).
    pub fn typed_text(zone: &str, protocol: &str, port_from: &str, port_to: &str, source: &str) -> String {
        format!("{zone}: {protocol} {port_from}-{port_to} from {source}")
    }

    /// Validates the whole form at once. Field names: `zone` and those of [`FirewallRule::parse`].
    pub fn parse(
        zone: &str,
        protocol: &str,
        port_from: &str,
        port_to: &str,
        source: &str,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let zone = errors.check("zone", ZoneId::parse(zone));
        let rule = match FirewallRule::parse(protocol, port_from, port_to, source) {
            Ok(rule) => Some(rule),
            Err(fields) => {
                errors.0.extend(fields.0);
                None
            }
        };
        match (zone, rule) {
            (Some(zone), Some(rule)) => Ok(Self { zone, rule }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_cidrs() {
        assert_eq!(SourceCidr::parse("0.0.0.0/0"), Ok(SourceCidr::ANYWHERE));
        assert_eq!(
            SourceCidr::parse(" 203.0.113.0/24 ").unwrap().to_string(),
            "203.0.113.0/24"
        );
        assert_eq!(
            SourceCidr::parse("198.51.100.7").unwrap().to_string(),
            "198.51.100.7/32"
        );
        assert_eq!(SourceCidr::parse("10.0.0.0/8").unwrap().prefix(), 8);
        assert_eq!(SourceCidr::parse(""), Err(SourceCidrError::Empty));
        for bad in [
            "256.0.0.0/8",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/x",
            "fe80::/10",
            "10.0.0.0/8/8",
        ] {
            assert_eq!(SourceCidr::parse(bad), Err(SourceCidrError::Malformed), "{bad}");
        }
        assert_eq!(SourceCidr::parse("10.0.0.0/33"), Err(SourceCidrError::BadPrefix));
        assert_eq!(
            SourceCidr::parse("203.0.113.5/24").unwrap_err().to_string(),
            "203.0.113.5/24 has host bits set; did you mean 203.0.113.0/24?"
        );
        let net = SourceCidr::parse("192.168.4.0/22").unwrap();
        assert!(net.contains(Ipv4Addr::new(192, 168, 7, 255)));
        assert!(!net.contains(Ipv4Addr::new(192, 168, 8, 0)));
        assert!(SourceCidr::ANYWHERE.contains(Ipv4Addr::new(8, 8, 8, 8)));
        assert_eq!(serde_json::to_string(&net).unwrap(), "\"192.168.4.0/22\"");
    }

    #[test]
    fn port_ranges() {
        assert_eq!(PortRange::new(1, 65535).unwrap().to_string(), "1-65535");
        assert_eq!(PortRange::single(443).unwrap().to_string(), "443");
        assert_eq!(PortRange::new(0, 10), Err(PortError::OutOfRange));
        assert_eq!(PortRange::new(10, 9), Err(PortError::Reversed));
        assert!(serde_json::from_str::<PortRange>(r#"{"start":10,"end":9}"#).is_err());
        let range: PortRange = serde_json::from_str(r#"{"start":8000,"end":8080}"#).unwrap();
        assert!(range.contains(8080) && !range.contains(8081));
    }

    #[test]
    fn firewall_rule_form() {
        let ssh = FirewallRule::parse("tcp", "22", "", "0.0.0.0/0").unwrap();
        assert_eq!(ssh.ports, Some(PortRange::single(22).unwrap()));
        assert!(ssh.allows(Protocol::Tcp, Some(22), Ipv4Addr::new(1, 2, 3, 4)));
        assert!(!ssh.allows(Protocol::Udp, Some(22), Ipv4Addr::new(1, 2, 3, 4)));
        assert!(!ssh.allows(Protocol::Tcp, Some(23), Ipv4Addr::new(1, 2, 3, 4)));

        let ping = FirewallRule::parse("ICMP", "", "", "203.0.113.0/24").unwrap();
        assert_eq!(ping.ports, None);
        assert!(ping.allows(Protocol::Icmp, None, Ipv4Addr::new(203, 0, 113, 9)));
        assert!(!ping.allows(Protocol::Icmp, None, Ipv4Addr::new(203, 0, 114, 9)));

        let range = FirewallRule::parse("udp", "60000", "61000", "10.1.0.0/16").unwrap();
        assert_eq!(range.ports.map(|p| (p.start(), p.end())), Some((60000, 61000)));

        let errors = FirewallRule::parse("sctp", "22", "", "nope").unwrap_err();
        assert_eq!(errors.get("protocol"), Some("Choose TCP, UDP or ICMP."));
        assert!(errors.get("source").is_some());

        let errors = FirewallRule::parse("tcp", "", "", "0.0.0.0/0").unwrap_err();
        assert_eq!(errors.get("port_from"), Some("Enter a port, for example 443."));
        let errors = FirewallRule::parse("tcp", "0", "70000", "0.0.0.0/0").unwrap_err();
        assert_eq!(
            errors.get("port_from"),
            Some("Enter a port number from 1 to 65535.")
        );
        assert_eq!(
            errors.get("port_to"),
            Some("Enter a port number from 1 to 65535.")
        );
        let errors = FirewallRule::parse("tcp", "443", "80", "0.0.0.0/0").unwrap_err();
        assert_eq!(
            errors.get("port_to"),
            Some("The last port must not be lower than the first.")
        );
        let errors = FirewallRule::parse("icmp", "8", "", "0.0.0.0/0").unwrap_err();
        assert_eq!(
            errors.get("port_from"),
            Some("ICMP has no ports; leave the ports empty.")
        );
    }
}
