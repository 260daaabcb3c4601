#![no_main]
//! The callback parser on arbitrary request targets, then the state match against a live flow
//! set and the RFC 9207 issuer check. It must answer with an outcome, never panic.
use libfuzzer_sys::fuzz_target;
use oidc_core::authz::{FlowSet, IssuerCheck, parse_callback, resolve_callback};

fuzz_target!(|data: &[u8]| {
    let _ = parse_callback(data);
    let check = IssuerCheck { expected: "https://idp.test", required: data.first() == Some(&b'/') };
    let _ = resolve_callback(data, &mut FlowSet::new(), Some(check));
});
