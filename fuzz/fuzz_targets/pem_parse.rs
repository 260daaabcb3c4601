#![no_main]
//! PEM and DER public-key parsing of arbitrary input.
use libfuzzer_sys::fuzz_target;
use oidc_core::jose::KeyPolicy;
use oidc_core::jose::pem::{parse_pkcs1_der, parse_public_key_pem, parse_spki_der};

fuzz_target!(|data: &[u8]| {
    let p = &oidc_core::crypto::RUST_CRYPTO;
    let _ = parse_spki_der(data, &KeyPolicy::DEFAULT, p);
    let _ = parse_pkcs1_der(data, &KeyPolicy::DEFAULT, p);
    if let Ok(s) = core::str::from_utf8(data) {
        let _ = parse_public_key_pem(s, &KeyPolicy::DEFAULT, p);
    }
});
