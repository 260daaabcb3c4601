#![no_main]
//! Compact JWS parsing of arbitrary strings.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = core::str::from_utf8(data) {
        let _ = oidc_core::jose::CompactJws::parse(s);
    }
});
