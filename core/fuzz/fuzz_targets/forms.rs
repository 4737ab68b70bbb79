//! Form bodies as a browser (or anyone) posts them, decoded the way server functions decode them
//! (`serde_qs`) and then validated: never a panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_core::resource::{FirewallRule, TemplateCreate, VmCreate, VmCreateForm};
use std::collections::HashMap;

fuzz_target!(|body: &[u8]| {
    if let Ok(form) = serde_qs::from_bytes::<VmCreateForm>(body) {
        let _ = VmCreate::parse(&form);
    }
    if let Ok(fields) = serde_qs::from_bytes::<HashMap<String, String>>(body) {
        let field = |name: &str| fields.get(name).map_or("", String::as_str);
        let _ = FirewallRule::parse(field("protocol"), field("port_from"), field("port_to"), field("source"));
        let _ = TemplateCreate::parse(field("name"), field("base"), field("user_data"));
        let _ = meridian_core::Signup::parse(field("tenant_name"), field("email"), field("password"));
        let _ = meridian_core::residency::ResidencyPolicy::parse(field("policy"));
        let _ = meridian_core::calendar::parse_month(field("month"));
        let _ = meridian_core::bandwidth::parse_cap_mbps(field("mbps"));
        let _ = meridian_core::staff::Reason::parse(field("reason"));
    }
});
