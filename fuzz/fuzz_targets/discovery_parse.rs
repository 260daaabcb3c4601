#![no_main]
//! Provider metadata parsing of arbitrary bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = oidc_core::discovery::ProviderMetadata::parse(data);
});
