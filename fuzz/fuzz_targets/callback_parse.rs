#![no_main]
//! The callback parser on arbitrary request targets, then the state match against a set holding
//! one live flow (whose state inputs may guess) and the RFC 9207 issuer check. It must answer
//! with an outcome, never panic.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oidc_core::UnixTime;
use oidc_core::authz::{
    FlowSet, IssuerCheck, authorization_request, parse_callback, resolve_callback,
};
use oidc_core::config::OidcConfig;
use oidc_core::engine::Entropy;

/// Fixed bytes: the state is then always the same, so the corpus can learn it.
struct Fixed;

impl Entropy for Fixed {
    fn fill_public(&mut self, b: &mut [u8]) {
        b.fill(7);
    }
    fn fill_secret(&mut self, b: &mut [u8]) {
        b.fill(7);
    }
}

fn config() -> &'static OidcConfig {
    static CONFIG: OnceLock<OidcConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        OidcConfig::from_json(
            br#"{"client_id": "app", "client_secret": "0123456789abcdef",
                "discovery": "https://idp.test/.well-known/openid-configuration"}"#,
        )
        .expect("fixed config")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_callback(data);
    let mut set = FlowSet::new();
    let now = UnixTime::from_secs(1_700_000_000);
    if let Ok(req) = authorization_request(
        "https://idp.test/auth",
        config(),
        "https://app/cb",
        "/",
        now,
        &mut Fixed,
    ) {
        set.push(req.flow);
    }
    let check = IssuerCheck { expected: "https://idp.test", required: data.first() == Some(&b'/') };
    let _ = resolve_callback(data, &mut set, Some(check));
});
