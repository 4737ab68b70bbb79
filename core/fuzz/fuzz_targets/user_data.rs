//! Cloud-config user data: never a panic, and nothing over the size limit is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_core::resource::{USER_DATA_MAX_BYTES, UserData};

fuzz_target!(|text: &str| {
    if let Ok(data) = UserData::parse(text) {
        assert!(data.as_str().len() <= USER_DATA_MAX_BYTES);
    }
});
