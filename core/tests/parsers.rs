//! Property tests for every parser of untrusted input: whatever text arrives, parsing answers
//! (never panics), and what it accepts reads back as itself. `scripts/fuzz.sh` runs the same
//! parsers under libFuzzer for longer.

use meridian_core::ipam::Cidr;
use meridian_core::resource::{
    FirewallRule, SourceCidr, SshPublicKey, USER_DATA_MAX_BYTES, UserData, VmCreate, VmCreateForm,
};
use proptest::prelude::*;

/// Text near what the parsers expect, so accepted values are found too, not only refusals.
fn cidr_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9./ ]{0,24}",
        (any::<[u8; 4]>(), 0u8..40).prop_map(|(a, p)| format!("{}.{}.{}.{}/{p}", a[0], a[1], a[2], a[3])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn cidrs_print_back_to_themselves(text in cidr_like()) {
        if let Ok(cidr) = Cidr::parse(&text) {
            prop_assert_eq!(Cidr::parse(&cidr.to_string()), Ok(cidr));
        }
        if let Ok(source) = SourceCidr::parse(&text) {
            prop_assert_eq!(SourceCidr::parse(&source.to_string()), Ok(source));
        }
    }

    #[test]
    fn ssh_keys_never_panic_and_accepted_keys_read_back(
        kind in prop_oneof![Just("ssh-ed25519".to_owned()), Just("ssh-rsa".to_owned()), Just("ecdsa-sha2-nistp256".to_owned()), "[a-z0-9-]{0,20}"],
        blob in "[A-Za-z0-9+/=]{0,120}",
        tail in any::<String>(),
    ) {
        let line = format!("{kind} {blob} {tail}");
        if let Ok(key) = SshPublicKey::parse(&line) {
            prop_assert_eq!(SshPublicKey::parse(&key.to_string()), Ok(key));
        }
        let _ = SshPublicKey::parse(&tail);
    }

    #[test]
    fn user_data_is_never_accepted_over_the_limit(body in any::<String>(), repeat in 1usize..2_000) {
        let text = format!("#cloud-config\n{}", body.repeat(repeat));
        if let Ok(data) = UserData::parse(&text) {
            prop_assert!(data.as_str().len() <= USER_DATA_MAX_BYTES);
        }
    }

    #[test]
    fn forms_never_panic(fields in proptest::collection::vec(any::<String>(), 8)) {
        let form = VmCreateForm {
            name: fields[0].clone(),
            zone: fields[1].clone(),
            template: fields[2].clone(),
            size: fields[3].clone(),
            breakout: fields[4].clone(),
            ..VmCreateForm::default()
        };
        let _ = VmCreate::parse(&form);
        let _ = FirewallRule::parse(&fields[4], &fields[5], &fields[6], &fields[7]);
        let _ = meridian_core::Signup::parse(&fields[0], &fields[1], &fields[2]);
        let _ = meridian_core::residency::ResidencyPolicy::parse(&fields[3]);
        let _ = meridian_core::calendar::parse_month(&fields[5]);
        let _ = meridian_core::staff::Reason::parse(&fields[6]);
    }
}
