//! CloudStack API requests: any parameters, signed or not, never panic the signature check, and
//! any ISO time that parses (1970-9999) prints back to the same instant.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_core::api_key::{cloudstack_sign, cloudstack_verify};
use meridian_core::calendar::{format_iso, parse_iso};

fuzz_target!(|text: &str| {
    let params: Vec<(String, String)> = text
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (pair.to_owned(), String::new()),
        })
        .collect();
    let _ = cloudstack_verify(&params, "secret", 0);
    // What Meridian signs itself always verifies (unless the parameters carry an expired or
    // unreadable `signatureVersion=3` time, which must then be refused).
    let mut signed: Vec<(String, String)> =
        params.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("signature")).cloned().collect();
    let signature = cloudstack_sign(&signed, "secret");
    signed.push(("signature".to_owned(), signature));
    let version_3 = signed
        .iter()
        .any(|(name, value)| name.eq_ignore_ascii_case("signatureVersion") && value == "3");
    if !version_3 {
        assert_eq!(cloudstack_verify(&signed, "secret", 0), Ok(()), "{text:?}");
    }
    // Between 1970 and 9999, the years four digits can write.
    if let Some(at) = parse_iso(text).filter(|at| (0..253_402_300_800_000).contains(at)) {
        assert_eq!(parse_iso(&format_iso(at)), Some(at), "{text:?}");
    }
});
