//! Subnet and firewall-source CIDRs: never a panic, and what parses prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_core::ipam::Cidr;
use meridian_core::resource::SourceCidr;

fuzz_target!(|text: &str| {
    if let Ok(cidr) = Cidr::parse(text) {
        let printed = cidr.to_string();
        assert_eq!(Cidr::parse(&printed).as_ref(), Ok(&cidr), "{text:?} printed as {printed:?}");
    }
    if let Ok(source) = SourceCidr::parse(text) {
        let printed = source.to_string();
        assert_eq!(SourceCidr::parse(&printed).as_ref(), Ok(&source), "{text:?} printed as {printed:?}");
    }
});
