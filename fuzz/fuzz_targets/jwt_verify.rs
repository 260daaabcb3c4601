#![no_main]
//! Full JWT verification of arbitrary strings against a fixed HMAC key and an EC key.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oidc_core::UnixTime;
use oidc_core::jose::{AlgorithmPolicy, ClaimPolicy, JwkOptions, JwtValidator, KeySet};

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let jwks = br#"{"keys":[{"kty":"oct","kid":"h","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}]}"#;
        KeySet::from_jwks_json(jwks, &JwkOptions::CONFIGURED, &oidc_core::crypto::RUST_CRYPTO)
            .expect("fixed key set loads")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = core::str::from_utf8(data) {
        let v = JwtValidator::new(AlgorithmPolicy::default(), ClaimPolicy::default());
        let _ = v.verify(s, keys(), UnixTime::from_secs(1_300_000_000));
    }
});
