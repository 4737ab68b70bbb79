//! Private addressing (IPAM): validated RFC 1918 networks, per-zone subnets carved from a tenant's
//! supernet, and host addresses inside a subnet.
//!
//! Each tenant has one private routing domain spanning every zone (an MPLS VPN per tenant), so two
//! tenants may use the same addresses; within a tenant every subnet and address is unique. Everything
//! here is a plain function over plain data: the caller loads what is taken, calls, and persists the
//! result in one transaction, with a UNIQUE index as the backstop against a racing allocation.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use thiserror::Error;

/// Longest prefix accepted: a /29 still leaves five VM addresses after network, gateway and broadcast.
pub const MAX_PREFIX_LEN: u8 = 29;

/// A tenant's supernet unless it chose another: 256 zone subnets of /24, far more than there are zones.
pub const DEFAULT_SUPERNET: Cidr = Cidr(Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 16));

/// Prefix length of a zone subnet unless the tenant chose another: 253 VM addresses per zone.
pub const DEFAULT_SUBNET_PREFIX_LEN: u8 = 24;

/// The three private blocks of RFC 1918, the only space a tenant network may use.
const RFC1918: [Ipv4Net; 3] = [
    Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16),
];

/// A private IPv4 network in CIDR notation: RFC 1918, written with its network address, at most /29.
///
/// Ordered by network address first, so a sorted set of subnets is in address order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr(Ipv4Net);

/// Why a network was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CidrError {
    /// Nothing was typed.
    #[error("Enter a network such as 10.0.0.0/16.")]
    Empty,
    /// Not of the form `a.b.c.d/n`.
    #[error("Write the network as an address and a prefix length, such as 10.0.0.0/16.")]
    Malformed,
    /// An IPv6 network: private networks are IPv4 for now.
    #[error("Private networks use IPv4; write one such as 10.0.0.0/16.")]
    NotIpv4,
    /// Outside the RFC 1918 private blocks.
    #[error("Use a private range: inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16.")]
    NotPrivate,
    /// Too small to hold a VM besides the network, gateway and broadcast addresses.
    #[error("A network needs a prefix of /{MAX_PREFIX_LEN} or shorter to leave room for VMs.")]
    PrefixTooLong,
    /// Host bits are set: `10.0.1.7/24` where `10.0.1.0/24` was meant.
    #[error("{given} is not the start of its network; did you mean {suggestion}?")]
    NotNetworkAddress {
        /// What was typed, normalised.
        given: String,
        /// The network that contains it.
        suggestion: Cidr,
    },
}

impl Cidr {
    /// Parses `a.b.c.d/n` typed by a person or read back from storage.
    pub fn parse(raw: &str) -> Result<Self, CidrError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(CidrError::Empty);
        }
        let (addr, prefix) = raw.split_once('/').ok_or(CidrError::Malformed)?;
        // std's parser rejects leading zeros ("010.0.0.0"), which some tools read as octal.
        let addr: IpAddr = addr.parse().map_err(|_| CidrError::Malformed)?;
        let IpAddr::V4(addr) = addr else {
            return Err(CidrError::NotIpv4);
        };
        // u8::from_str would accept "+16"; only plain digits are a prefix length.
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidrError::Malformed);
        }
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::Malformed)?;
        let net = Ipv4Net::new(addr, prefix).map_err(|_| CidrError::Malformed)?;
        Self::from_net(net)
    }

    /// Checks an `ipnet` network against the same rules as [`Cidr::parse`].
    pub fn from_net(net: Ipv4Net) -> Result<Self, CidrError> {
        if !RFC1918.iter().any(|block| block.contains(&net)) {
            return Err(CidrError::NotPrivate);
        }
        if net.prefix_len() > MAX_PREFIX_LEN {
            return Err(CidrError::PrefixTooLong);
        }
        if net.trunc() != net {
            return Err(CidrError::NotNetworkAddress {
                given: net.to_string(),
                suggestion: Cidr(net.trunc()),
            });
        }
        Ok(Cidr(net))
    }

    /// The network as an `ipnet` value, for arithmetic this type does not wrap.
    pub fn net(self) -> Ipv4Net {
        self.0
    }

    /// The first address of the network.
    pub fn network(self) -> Ipv4Addr {
        self.0.network()
    }

    /// The last address of the network.
    pub fn broadcast(self) -> Ipv4Addr {
        self.0.broadcast()
    }

    /// The prefix length, e.g. 24 for a /24.
    pub fn prefix_len(self) -> u8 {
        self.0.prefix_len()
    }

    /// How many addresses the network spans, reserved ones included.
    pub fn address_count(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix_len()))
    }

    /// True when `addr` lies in this network.
    pub fn contains(self, addr: Ipv4Addr) -> bool {
        self.0.contains(&addr)
    }

    /// True when `other` lies wholly inside this network (or is it).
    pub fn contains_cidr(self, other: Cidr) -> bool {
        self.0.contains(&other.0)
    }

    /// True when the two networks share at least one address. CIDR blocks either nest or are
    /// disjoint, so this is containment one way or the other.
    pub fn overlaps(self, other: Cidr) -> bool {
        self.0.contains(&other.0) || other.0.contains(&self.0)
    }

    /// The network, gateway, broadcast and assignable host range of this network as a subnet.
    pub fn plan(self) -> SubnetPlan {
        SubnetPlan::new(self)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cidr::parse(s)
    }
}

impl TryFrom<String> for Cidr {
    type Error = CidrError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Cidr::parse(&value)
    }
}

impl From<Cidr> for String {
    fn from(value: Cidr) -> Self {
        value.to_string()
    }
}

/// The addresses of a subnet that matter to a VM network: the gateway is the first host address
/// (`.1` in a /24) and VMs get the addresses between it and the broadcast address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubnetPlan {
    cidr: Cidr,
    gateway: Ipv4Addr,
    first_host: Ipv4Addr,
    last_host: Ipv4Addr,
}

impl SubnetPlan {
    /// Lays out `cidr`. Every [`Cidr`] is at most a /29, so the host range is never empty.
    pub fn new(cidr: Cidr) -> Self {
        let network = u32::from(cidr.network());
        let broadcast = u32::from(cidr.broadcast());
        SubnetPlan {
            cidr,
            gateway: Ipv4Addr::from(network + 1),
            first_host: Ipv4Addr::from(network + 2),
            last_host: Ipv4Addr::from(broadcast - 1),
        }
    }

    /// The subnet itself.
    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    /// The network address; never given to a VM.
    pub fn network(&self) -> Ipv4Addr {
        self.cidr.network()
    }

    /// The gateway (the zone router's address in this subnet); never given to a VM.
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// The broadcast address; never given to a VM.
    pub fn broadcast(&self) -> Ipv4Addr {
        self.cidr.broadcast()
    }

    /// The lowest address a VM can get.
    pub fn first_host(&self) -> Ipv4Addr {
        self.first_host
    }

    /// The highest address a VM can get.
    pub fn last_host(&self) -> Ipv4Addr {
        self.last_host
    }

    /// How many VM addresses the subnet holds (253 in a /24).
    pub fn host_capacity(&self) -> u32 {
        u32::from(self.last_host) - u32::from(self.first_host) + 1
    }

    /// True when `addr` may be given to a VM: inside the subnet and not a reserved address.
    pub fn is_assignable(&self, addr: Ipv4Addr) -> bool {
        (self.first_host..=self.last_host).contains(&addr)
    }
}

/// Why a subnet or address could not be allocated.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum IpamError {
    /// The subnet size asked for does not fit the supernet.
    #[error("Zone subnets of {supernet} must have a prefix between /{} and /{MAX_PREFIX_LEN}; /{prefix_len} \
             is not.", .supernet.prefix_len())]
    SubnetPrefixOutOfRange {
        /// The tenant's supernet.
        supernet: Cidr,
        /// The prefix length asked for.
        prefix_len: u8,
    },
    /// Every subnet of the requested size in the supernet overlaps one already in use.
    #[error(
        "Your private network {supernet} has no free /{prefix_len} left for another zone. Remove an \
             unused zone network or choose a larger range."
    )]
    SupernetExhausted {
        /// The tenant's supernet.
        supernet: Cidr,
        /// The subnet size that did not fit.
        prefix_len: u8,
    },
    /// Every VM address in the subnet is taken.
    #[error("Every address in {subnet} is in use. Delete a VM in this zone to free one.")]
    SubnetExhausted {
        /// The full subnet.
        subnet: Cidr,
    },
    /// Fewer addresses are free than a batch needs.
    #[error("{subnet} has {free} free addresses, but {requested} are needed.")]
    NotEnoughAddresses {
        /// The subnet.
        subnet: Cidr,
        /// How many were asked for.
        requested: usize,
        /// How many are free.
        free: usize,
    },
}

/// Picks the lowest subnet of length `prefix_len` inside `supernet` that overlaps nothing in `taken`.
///
/// `taken` may hold subnets of any size, including ones outside the supernet (they are ignored).
/// Runs in one pass over `taken`, which a `BTreeSet` keeps in address order.
pub fn allocate_subnet(supernet: Cidr, prefix_len: u8, taken: &BTreeSet<Cidr>) -> Result<Cidr, IpamError> {
    if prefix_len < supernet.prefix_len() || prefix_len > MAX_PREFIX_LEN {
        return Err(IpamError::SubnetPrefixOutOfRange { supernet, prefix_len });
    }
    let exhausted = IpamError::SupernetExhausted { supernet, prefix_len };
    let last = supernet.broadcast();
    // The candidate is always an aligned block of the wanted size; it only moves forwards.
    let mut candidate = Ipv4Net::new(supernet.network(), prefix_len).map_err(|_| exhausted.clone())?;
    for used in taken {
        if used.broadcast() < candidate.network() {
            continue;
        }
        if used.network() > candidate.broadcast() {
            // Later entries start even further on, so nothing else can overlap the candidate.
            break;
        }
        // `used` overlaps the candidate: jump to the first aligned block after its last address.
        let containing_end = Ipv4Net::new(used.broadcast(), prefix_len)
            .map_err(|_| exhausted.clone())?
            .trunc();
        let next = u32::from(containing_end.broadcast())
            .checked_add(1)
            .ok_or_else(|| exhausted.clone())?;
        candidate = Ipv4Net::new(Ipv4Addr::from(next), prefix_len).map_err(|_| exhausted.clone())?;
        if candidate.network() > last {
            return Err(exhausted);
        }
    }
    if candidate.broadcast() > last {
        return Err(exhausted);
    }
    Ok(Cidr(candidate))
}

/// Returns the lowest address of `subnet` that is neither reserved (network, gateway, broadcast)
/// nor in `taken`.
///
/// Releasing an address is removing it from the taken set: there is no other state. The walk stops
/// at the first gap, so a sparse subnet answers at once; a densely filled /16 costs one ordered pass.
/// To hand out many addresses at once use [`allocate_addresses`], which is a single pass for all.
pub fn allocate_address(subnet: Cidr, taken: &BTreeSet<Ipv4Addr>) -> Result<Ipv4Addr, IpamError> {
    let plan = subnet.plan();
    let mut candidate = u32::from(plan.first_host);
    for &used in taken.range(plan.first_host..=plan.last_host) {
        if u32::from(used) != candidate {
            break;
        }
        candidate += 1;
    }
    if candidate > u32::from(plan.last_host) {
        return Err(IpamError::SubnetExhausted { subnet });
    }
    Ok(Ipv4Addr::from(candidate))
}

/// Returns the `count` lowest free addresses of `subnet`, in ascending order, or an error without a
/// partial result when fewer are free. One pass over `taken`, however many addresses are wanted.
pub fn allocate_addresses(
    subnet: Cidr,
    taken: &BTreeSet<Ipv4Addr>,
    count: usize,
) -> Result<Vec<Ipv4Addr>, IpamError> {
    let plan = subnet.plan();
    let last = u32::from(plan.last_host);
    let mut found = Vec::with_capacity(count.min(plan.host_capacity() as usize));
    let mut candidate = u32::from(plan.first_host);
    let mut used = taken
        .range(plan.first_host..=plan.last_host)
        .map(|&a| u32::from(a))
        .peekable();
    while found.len() < count && candidate <= last {
        if used.peek() == Some(&candidate) {
            used.next();
        } else {
            found.push(Ipv4Addr::from(candidate));
        }
        candidate += 1;
    }
    if found.len() < count {
        let taken_inside = taken.range(plan.first_host..=plan.last_host).count();
        let free = plan.host_capacity() as usize - taken_inside;
        return Err(if free == 0 {
            IpamError::SubnetExhausted { subnet }
        } else {
            IpamError::NotEnoughAddresses {
                subnet,
                requested: count,
                free,
            }
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cidr(raw: &str) -> Cidr {
        Cidr::parse(raw).unwrap()
    }

    fn ip(raw: &str) -> Ipv4Addr {
        raw.parse().unwrap()
    }

    #[test]
    fn private_networks_parse_and_print_canonically() {
        assert_eq!(cidr(" 10.0.0.0/16 ").to_string(), "10.0.0.0/16");
        assert_eq!(cidr("172.16.4.0/22").prefix_len(), 22);
        assert_eq!(cidr("192.168.1.0/29").address_count(), 8);
        assert_eq!(DEFAULT_SUPERNET, cidr("10.0.0.0/16"));
    }

    #[test]
    fn networks_outside_the_rules_get_a_specific_error() {
        assert_eq!(Cidr::parse(""), Err(CidrError::Empty));
        assert_eq!(Cidr::parse("10.0.0.0"), Err(CidrError::Malformed));
        assert_eq!(Cidr::parse("10.0.0.0/+8"), Err(CidrError::Malformed));
        assert_eq!(Cidr::parse("10.0.0.0/33"), Err(CidrError::Malformed));
        assert_eq!(Cidr::parse("010.0.0.0/8"), Err(CidrError::Malformed));
        assert_eq!(Cidr::parse("fd00::/8"), Err(CidrError::NotIpv4));
        assert_eq!(Cidr::parse("8.8.8.0/24"), Err(CidrError::NotPrivate));
        // 10.0.0.0/7 reaches into public 11.0.0.0/8.
        assert_eq!(Cidr::parse("10.0.0.0/7"), Err(CidrError::NotPrivate));
        assert_eq!(Cidr::parse("172.32.0.0/16"), Err(CidrError::NotPrivate));
        assert_eq!(Cidr::parse("10.0.0.0/30"), Err(CidrError::PrefixTooLong));
        let error = Cidr::parse("10.0.1.7/24").unwrap_err();
        assert_eq!(
            error.to_string(),
            "10.0.1.7/24 is not the start of its network; did you mean 10.0.1.0/24?"
        );
    }

    #[test]
    fn cidr_serialises_as_text_and_validates_on_the_way_in() {
        let json = serde_json::to_string(&cidr("10.1.0.0/16")).unwrap();
        assert_eq!(json, "\"10.1.0.0/16\"");
        assert_eq!(serde_json::from_str::<Cidr>(&json).unwrap(), cidr("10.1.0.0/16"));
        assert!(serde_json::from_str::<Cidr>("\"8.8.8.0/24\"").is_err());
    }

    #[test]
    fn a_subnet_plan_reserves_network_gateway_and_broadcast() {
        let plan = cidr("10.0.3.0/24").plan();
        assert_eq!(plan.network(), ip("10.0.3.0"));
        assert_eq!(plan.gateway(), ip("10.0.3.1"));
        assert_eq!(plan.first_host(), ip("10.0.3.2"));
        assert_eq!(plan.last_host(), ip("10.0.3.254"));
        assert_eq!(plan.broadcast(), ip("10.0.3.255"));
        assert_eq!(plan.host_capacity(), 253);
        assert!(!plan.is_assignable(ip("10.0.3.1")));
        assert!(plan.is_assignable(ip("10.0.3.2")));
    }

    #[test]
    fn subnets_are_handed_out_in_address_order_around_used_ones() {
        let mut taken = BTreeSet::new();
        let first = allocate_subnet(DEFAULT_SUPERNET, 24, &taken).unwrap();
        assert_eq!(first, cidr("10.0.0.0/24"));
        taken.insert(first);
        // A larger block someone chose by hand is skipped as a whole.
        taken.insert(cidr("10.0.2.0/23"));
        assert_eq!(
            allocate_subnet(DEFAULT_SUPERNET, 24, &taken).unwrap(),
            cidr("10.0.1.0/24")
        );
        taken.insert(cidr("10.0.1.0/24"));
        assert_eq!(
            allocate_subnet(DEFAULT_SUPERNET, 24, &taken).unwrap(),
            cidr("10.0.4.0/24")
        );
        // A small block in the way blocks the whole /24 that contains it.
        taken.insert(cidr("10.0.4.64/26"));
        assert_eq!(
            allocate_subnet(DEFAULT_SUPERNET, 24, &taken).unwrap(),
            cidr("10.0.5.0/24")
        );
    }

    #[test]
    fn a_full_supernet_and_a_bad_prefix_are_typed_errors() {
        let supernet = cidr("192.168.0.0/23");
        let taken: BTreeSet<Cidr> = [cidr("192.168.0.0/24"), cidr("192.168.1.0/24")].into();
        assert_eq!(
            allocate_subnet(supernet, 24, &taken),
            Err(IpamError::SupernetExhausted {
                supernet,
                prefix_len: 24
            })
        );
        assert!(matches!(
            allocate_subnet(supernet, 22, &BTreeSet::new()),
            Err(IpamError::SubnetPrefixOutOfRange { .. })
        ));
        assert!(matches!(
            allocate_subnet(supernet, 30, &BTreeSet::new()),
            Err(IpamError::SubnetPrefixOutOfRange { .. })
        ));
    }

    #[test]
    fn addresses_start_after_the_gateway_and_fill_gaps_first() {
        let subnet = cidr("10.0.7.0/24");
        let mut taken = BTreeSet::new();
        assert_eq!(allocate_address(subnet, &taken).unwrap(), ip("10.0.7.2"));
        taken.extend([ip("10.0.7.2"), ip("10.0.7.3"), ip("10.0.7.5")]);
        assert_eq!(allocate_address(subnet, &taken).unwrap(), ip("10.0.7.4"));
        assert_eq!(
            allocate_addresses(subnet, &taken, 3).unwrap(),
            vec![ip("10.0.7.4"), ip("10.0.7.6"), ip("10.0.7.7")]
        );
    }

    #[test]
    fn a_full_subnet_is_a_typed_error() {
        let subnet = cidr("10.0.0.0/29");
        let taken: BTreeSet<Ipv4Addr> = (2..=6).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect();
        assert_eq!(
            allocate_address(subnet, &taken),
            Err(IpamError::SubnetExhausted { subnet })
        );
        let some: BTreeSet<Ipv4Addr> = (2..=4).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect();
        assert_eq!(
            allocate_addresses(subnet, &some, 3),
            Err(IpamError::NotEnoughAddresses {
                subnet,
                requested: 3,
                free: 2
            })
        );
    }

    /// A supernet between /16 and /26 somewhere in 10.0.0.0/8, and a subnet length that fits it.
    fn supernet_and_prefix() -> impl Strategy<Value = (Cidr, u8)> {
        (16u8..=26, any::<u16>(), 0u8..=5).prop_map(|(len, bits, extra)| {
            let raw = Ipv4Addr::from(0x0A00_0000 | (u32::from(bits) << 8));
            let net = Ipv4Net::new(raw, len).unwrap().trunc();
            (Cidr::from_net(net).unwrap(), (len + extra).min(MAX_PREFIX_LEN))
        })
    }

    /// Pre-existing subnets of assorted sizes near the supernet, some outside it, some overlapping.
    fn taken_near(supernet: Cidr) -> impl Strategy<Value = BTreeSet<Cidr>> {
        let base = u32::from(supernet.network());
        let span = supernet.address_count() as u32;
        proptest::collection::btree_set(
            (0..span.saturating_mul(2), supernet.prefix_len()..=MAX_PREFIX_LEN).prop_map(
                move |(off, len)| {
                    let addr = Ipv4Addr::from((base.wrapping_add(off) & 0x00FF_FFFF) | 0x0A00_0000);
                    Cidr::from_net(Ipv4Net::new(addr, len).unwrap().trunc()).unwrap()
                },
            ),
            0..12,
        )
    }

    /// The obvious, slow answer: try every aligned block in order.
    fn first_free_subnet(supernet: Cidr, prefix_len: u8, taken: &BTreeSet<Cidr>) -> Option<Cidr> {
        supernet
            .net()
            .subnets(prefix_len)
            .unwrap()
            .map(|net| Cidr::from_net(net).unwrap())
            .find(|c| !taken.iter().any(|t| t.overlaps(*c)))
    }

    proptest! {
        #[test]
        fn allocated_subnets_never_overlap_and_stay_inside_the_supernet(
            (supernet, prefix_len, taken) in supernet_and_prefix()
                .prop_flat_map(|(s, p)| (Just(s), Just(p), taken_near(s)))
        ) {
            let mut taken = taken;
            let mut allocated = Vec::new();
            // A /26 supernet cut into /29s is 8 subnets; 70 rounds always reach exhaustion.
            for _ in 0..70 {
                let expected = first_free_subnet(supernet, prefix_len, &taken);
                match allocate_subnet(supernet, prefix_len, &taken) {
                    Ok(subnet) => {
                        prop_assert_eq!(Some(subnet), expected);
                        prop_assert!(supernet.contains_cidr(subnet));
                        prop_assert_eq!(subnet.prefix_len(), prefix_len);
                        prop_assert!(taken.iter().all(|t| !t.overlaps(subnet)));
                        taken.insert(subnet);
                        allocated.push(subnet);
                    }
                    Err(error) => {
                        prop_assert_eq!(expected, None);
                        prop_assert_eq!(error, IpamError::SupernetExhausted { supernet, prefix_len });
                        break;
                    }
                }
            }
            for (i, a) in allocated.iter().enumerate() {
                for b in &allocated[i + 1..] {
                    prop_assert!(!a.overlaps(*b));
                }
            }
        }

        #[test]
        fn addresses_are_never_reserved_duplicated_or_outside_and_exhaust_cleanly(
            len in 23u8..=MAX_PREFIX_LEN,
            third in any::<u8>(),
            seed_taken in proptest::collection::btree_set(any::<u16>(), 0..300),
        ) {
            let subnet = Cidr::from_net(
                Ipv4Net::new(Ipv4Addr::new(10, 9, third, 0), len).unwrap().trunc()
            ).unwrap();
            let plan = subnet.plan();
            let base = u32::from(subnet.network());
            // Offsets beyond the subnet land outside it on purpose: they must simply be ignored.
            let mut taken: BTreeSet<Ipv4Addr> =
                seed_taken.iter().map(|&o| Ipv4Addr::from(base + u32::from(o) % 1024)).collect();
            let free_at_start = plan.host_capacity() as usize
                - taken.iter().filter(|a| plan.is_assignable(**a)).count();
            let mut handed_out = 0usize;
            loop {
                let oracle = (u32::from(plan.first_host())..=u32::from(plan.last_host()))
                    .map(Ipv4Addr::from)
                    .find(|a| !taken.contains(a));
                match allocate_address(subnet, &taken) {
                    Ok(addr) => {
                        prop_assert_eq!(Some(addr), oracle);
                        prop_assert!(subnet.contains(addr));
                        prop_assert!(addr != plan.network() && addr != plan.gateway());
                        prop_assert!(addr != plan.broadcast());
                        prop_assert!(taken.insert(addr), "handed out twice: {}", addr);
                        handed_out += 1;
                    }
                    Err(error) => {
                        prop_assert_eq!(oracle, None);
                        prop_assert_eq!(error, IpamError::SubnetExhausted { subnet });
                        break;
                    }
                }
            }
            prop_assert_eq!(handed_out, free_at_start);
        }

        #[test]
        fn allocate_then_release_restores_the_state(
            len in 22u8..=MAX_PREFIX_LEN,
            seed_taken in proptest::collection::btree_set(2u32..1000, 0..200),
        ) {
            let subnet = Cidr::from_net(Ipv4Net::new(Ipv4Addr::new(10, 1, 0, 0), len).unwrap()).unwrap();
            let base = u32::from(subnet.network());
            let taken: BTreeSet<Ipv4Addr> = seed_taken.iter().map(|&o| Ipv4Addr::from(base + o)).collect();
            let before = taken.clone();
            let first = allocate_address(subnet, &taken);
            if let Ok(addr) = first {
                let mut after = taken.clone();
                after.insert(addr);
                prop_assert_ne!(allocate_address(subnet, &after), Ok(addr));
                after.remove(&addr);
                prop_assert_eq!(&after, &before);
                prop_assert_eq!(allocate_address(subnet, &after), Ok(addr));
            }
        }

        #[test]
        fn a_batch_equals_one_address_at_a_time(
            len in 24u8..=MAX_PREFIX_LEN,
            count in 0usize..300,
            seed_taken in proptest::collection::btree_set(0u32..256, 0..120),
        ) {
            let subnet = Cidr::from_net(Ipv4Net::new(Ipv4Addr::new(10, 2, 0, 0), len).unwrap()).unwrap();
            let base = u32::from(subnet.network());
            let taken: BTreeSet<Ipv4Addr> = seed_taken.iter().map(|&o| Ipv4Addr::from(base + o)).collect();
            let mut one_by_one = Vec::new();
            let mut growing = taken.clone();
            while one_by_one.len() < count {
                match allocate_address(subnet, &growing) {
                    Ok(addr) => {
                        growing.insert(addr);
                        one_by_one.push(addr);
                    }
                    Err(_) => break,
                }
            }
            match allocate_addresses(subnet, &taken, count) {
                Ok(batch) => prop_assert_eq!(batch, one_by_one),
                Err(IpamError::SubnetExhausted { .. }) => prop_assert!(one_by_one.is_empty() && count > 0),
                Err(IpamError::NotEnoughAddresses { free, requested, .. }) => {
                    prop_assert_eq!(free, one_by_one.len());
                    prop_assert_eq!(requested, count);
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
