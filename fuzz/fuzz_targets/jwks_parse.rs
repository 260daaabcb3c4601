#![no_main]
//! JWK Set loading (published and configured) of arbitrary bytes.
use libfuzzer_sys::fuzz_target;
use oidc_core::jose::{JwkOptions, KeySet};

fuzz_target!(|data: &[u8]| {
    let p = &oidc_core::crypto::RUST_CRYPTO;
    let _ = KeySet::from_jwks_json(data, &JwkOptions::PUBLISHED, p);
    let _ = KeySet::from_jwks_json(data, &JwkOptions::CONFIGURED, p);
});
