#![no_main]
//! The session cookie opener on arbitrary `Cookie` header bytes: collecting the chunks,
//! base64url, the header, the key id, and (for inputs derived from a sealed seed cookie) the
//! AEAD and the payload decoder. It must answer "no session" with a reason, never panic.
use libfuzzer_sys::fuzz_target;
use oidc_core::UnixTime;
use oidc_core::crypto::RUST_CRYPTO;
use oidc_core::session::{Binding, CookieSettings, SessionCodec, Timeouts};

fuzz_target!(|data: &[u8]| {
    let binding = Binding { issuer: "https://idp.test/.well-known/openid-configuration", client_id: "app" };
    let Ok(codec) = SessionCodec::new(
        &[b"fuzzing-secret-0123456789abcdef".as_slice()],
        binding,
        CookieSettings::new("session"),
        Timeouts::default(),
        &RUST_CRYPTO,
    ) else {
        return;
    };
    let jar = codec.collect([data]);
    let _ = codec.open(&jar, UnixTime::from_secs(1_700_000_000));
});
