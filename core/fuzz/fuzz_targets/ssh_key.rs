//! Pasted SSH public keys: never a panic; an accepted key has a fingerprint and reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_core::resource::SshPublicKey;

fuzz_target!(|text: &str| {
    if let Ok(key) = SshPublicKey::parse(text) {
        assert!(key.fingerprint().starts_with("SHA256:"));
        assert_eq!(SshPublicKey::parse(&key.to_string()).as_ref(), Ok(&key));
    }
});
