//! Deterministic engine tests: a fake IdP and a virtual clock, no sockets, no sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod embedding;
mod harness;
mod introspection;
mod login;
mod login_hostile;
mod login_world;
mod properties;

use harness::*;
use oidc_core::engine::{AuthVia, Decision, Purpose, Reason, Settings};
use oidc_core::jose::VerifyError;
use serde_json::json;

fn jwks_route() -> oidc_core::config::OidcConfig {
    config(json!({"use_jwks": true}))
}

#[test]
fn valid_token_is_allowed_with_identity_headers() {
    let k1 = Signer::new("k1");
    let mut h = Harness::new(vec![jwks_route()], FakeIdp::new(&[&k1]));
    let token = k1.sign(&claims(T0));
    let d = h.bearer(&token);
    assert_eq!(status(&d), 200);
    assert_eq!(header(&d, "x-access-token"), Some(token.as_str()));
    let userinfo = header(&d, "x-userinfo").unwrap();
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD.decode(userinfo).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(v["sub"], "alice");
    let Some(Decision::Allow(g)) = &d else { panic!() };
    assert_eq!(g.via, AuthVia::Jwt);
    assert!(g.remove_headers.contains(&"x-userinfo"));
    // The second time it comes from the verified-token cache, with no IdP traffic.
    let d = h.bearer(&token);
    let Some(Decision::Allow(g)) = &d else { panic!() };
    assert_eq!(g.via, AuthVia::JwtCached);
    assert_eq!((h.idp.calls(Purpose::Discovery), h.idp.calls(Purpose::Jwks)), (1, 1));
}

#[test]
fn missing_and_malformed_credentials() {
    let k1 = Signer::new("k1");
    let mut h = Harness::new(
        vec![config(json!({"use_jwks": true, "realm": "my \"realm\""}))],
        FakeIdp::new(&[&k1]),
    );
    let d = h.request(0, &[]);
    assert_eq!(status(&d), 401);
    assert_eq!(header(&d, "www-authenticate"), Some(r#"Bearer realm="my \"realm\"""#));
    assert_eq!(status(&h.request(0, &[("Authorization", "foo")])), 400);
    assert_eq!(status(&h.request(0, &[("Authorization", "Bearer a b")])), 400);
    // Another scheme is no bearer token.
    assert_eq!(status(&h.request(0, &[("Authorization", "Basic YTpi")])), 401);
    // The scheme is case-insensitive, and X-Access-Token is a fallback source.
    let token = k1.sign(&claims(T0));
    assert_eq!(status(&h.request(0, &[("authorization", &format!("bEaReR {token}"))])), 200);
    assert_eq!(status(&h.request(0, &[("X-Access-Token", &token)])), 200);
    // No IdP traffic was needed for the malformed ones.
    assert_eq!(h.idp.calls(Purpose::Discovery), 1);
}

#[test]
fn invalid_tokens_get_401_with_fixed_text() {
    let k1 = Signer::new("k1");
    let mut h = Harness::new(vec![jwks_route()], FakeIdp::new(&[&k1]));
    let mut expired = claims(T0);
    expired["exp"] = json!(T0 - 1000);
    let mut evil_iss = claims(T0);
    evil_iss["iss"] = json!("https://evil.test\", error=\"x");
    for (token, code) in [
        (k1.sign(&expired), "token_expired"),
        (k1.sign(&evil_iss), "token_issuer"),
        ("not-a-jwt".to_string(), "token_malformed"),
    ] {
        let d = h.bearer(&token);
        assert_eq!(status(&d), 401, "{code}");
        let Some(Decision::Deny(den)) = &d else { panic!() };
        assert_eq!(den.reason.code(), code);
        let challenge = header(&d, "www-authenticate").unwrap();
        assert!(
            challenge.starts_with(r#"Bearer realm="apisix", error="invalid_token""#),
            "{challenge}"
        );
        assert!(!challenge.contains("evil"));
    }
}

#[test]
fn key_rotation_costs_exactly_one_refetch() {
    let k1 = Signer::new("k1");
    let k2 = Signer::new("k2");
    let mut h = Harness::new(vec![jwks_route()], FakeIdp::new(&[&k1]));
    assert_eq!(status(&h.bearer(&k1.sign(&claims(T0)))), 200);
    assert_eq!(h.idp.calls(Purpose::Jwks), 1);
    h.idp.set_keys(&[&k1, &k2]);
    h.advance_secs(1);
    // The first k2 token triggers one refetch, then verifies; later ones use the new set.
    assert_eq!(status(&h.bearer(&k2.sign(&claims(h.wall)))), 200);
    assert_eq!(h.idp.calls(Purpose::Jwks), 2);
    for _ in 0..50 {
        assert_eq!(status(&h.bearer(&k2.sign(&claims(h.wall)))), 200);
        assert_eq!(status(&h.bearer(&k1.sign(&claims(h.wall)))), 200);
    }
    assert_eq!(h.idp.calls(Purpose::Jwks), 2);
}

#[test]
fn unknown_kid_flood_is_rate_limited() {
    let k1 = Signer::new("k1");
    let mut h = Harness::new(vec![jwks_route()], FakeIdp::new(&[&k1]));
    assert_eq!(status(&h.bearer(&k1.sign(&claims(T0)))), 200);
    let interval = Settings::default().jwks_refetch_min_interval_secs;
    let mut seconds = 0;
    for i in 0..10_000u32 {
        if i % 200 == 0 {
            h.advance_secs(1);
            seconds += 1;
        }
        let t = k1.sign_kid(&format!("random-{i}"), &claims(h.wall));
        let d = h.bearer(&t);
        assert_eq!(status(&d), 401);
        let Some(Decision::Deny(den)) = &d else { panic!() };
        assert_eq!(den.reason, Reason::InvalidToken(VerifyError::UnknownKid));
    }
    let refetches = h.idp.calls(Purpose::Jwks) - 1;
    let allowed = seconds / interval + 1;
    assert!(
        refetches as u64 <= allowed,
        "{refetches} refetches in {seconds} s (allowed {allowed})"
    );
    assert!(refetches >= 1);
    // Known keys kept working throughout.
    assert_eq!(status(&h.bearer(&k1.sign(&claims(h.wall)))), 200);
}

#[test]
fn idp_down_after_warm_up_keeps_serving_cached_keys() {
    let k1 = Signer::new("k1");
    let mut h = Harness::new(
        vec![config(json!({"use_jwks": true, "jwk_expires_in": 60}))],
        FakeIdp::new(&[&k1]),
    );
    assert_eq!(status(&h.bearer(&k1.sign(&claims(T0)))), 200);
    h.idp.mode = Mode::Down;
    // Past the JWKS and discovery TTLs: stale keys keep serving; refreshes are attempted in the
    // background with backoff, never once per request.
    for _ in 0..20 {
        h.advance_secs(30);
        for _ in 0..10 {
            assert_eq!(status(&h.bearer(&k1.sign(&claims(h.wall)))), 200);
        }
    }
    let attempts = h.idp.calls(Purpose::Jwks) - 1;
    assert!((1..=20).contains(&attempts), "{attempts} JWKS attempts while down");
    h.idp.mode = Mode::Up;
    h.advance_secs(120);
    assert_eq!(status(&h.bearer(&k1.sign(&claims(h.wall)))), 200);
}

#[test]
fn idp_down_at_cold_start_is_503_with_retry_after() {
    let k1 = Signer::new("k1");
    let mut idp = FakeIdp::new(&[&k1]);
    idp.mode = Mode::Down;
    let mut h = Harness::new(vec![jwks_route()], idp);
    let d = h.bearer(&k1.sign(&claims(T0)));
    assert_eq!(status(&d), 503);
    assert!(header(&d, "retry-after").is_some());
    // Within the backoff no new attempt is made.
    assert_eq!(status(&h.bearer(&k1.sign(&claims(T0)))), 503);
    assert_eq!(h.idp.calls(Purpose::Discovery), 1);
    h.idp.mode = Mode::Up;
    h.advance_secs(2);
    assert_eq!(status(&h.bearer(&k1.sign(&claims(h.wall)))), 200);
}

#[test]
fn slow_idp_hits_the_deadline() {
    let k1 = Signer::new("k1");
    let mut idp = FakeIdp::new(&[&k1]);
    idp.mode = Mode::Silent;
    let mut h = Harness::new(vec![config(json!({"use_jwks": true, "timeout": 2}))], idp);
    let t = h.submit(0, &[("Authorization", &format!("Bearer {}", k1.sign(&claims(T0))))]);
    h.drain();
    assert!(!h.decisions.contains_key(&t));
    h.advance_secs(1);
    assert!(!h.decisions.contains_key(&t));
    h.advance_secs(1);
    assert_eq!(status(&h.decisions.remove(&t)), 503);
    // A late answer for the timed-out intent is ignored.
    let late = h.silent.pop_front().unwrap();
    let now = h.now();
    let resp = oidc_core::engine::ResponseView { status: 200, headers: &[], body: b"{}" };
    h.engine
        .handle_input(now, &mut h.rng, oidc_core::engine::Input::Response { intent: late.id, resp })
        .unwrap();
    h.drain();
    assert_eq!(h.engine.pending_requests(), 0);
}

#[test]
fn malformed_documents_are_denied_not_panicked() {
    let k1 = Signer::new("k1");
    for (discovery, jwks) in [
        (b"{not json".to_vec(), b"{}".to_vec()),
        (br#"{"issuer": 5}"#.to_vec(), b"{}".to_vec()),
        (FakeIdp::new(&[&k1]).discovery, b"[1,2]".to_vec()),
        (FakeIdp::new(&[&k1]).discovery, br#"{"keys": {"kty": "EC"}}"#.to_vec()),
        (
            FakeIdp::new(&[&k1]).discovery,
            br#"{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}"#.to_vec(),
        ),
    ] {
        let mut idp = FakeIdp::new(&[&k1]);
        idp.discovery = discovery;
        idp.jwks = jwks;
        let mut h = Harness::new(vec![jwks_route()], idp);
        let d = h.bearer(&k1.sign(&claims(T0)));
        assert!(matches!(status(&d), 401 | 503), "{:?}", d);
    }
}

#[test]
fn requests_during_one_discovery_fetch_share_one_intent() {
    let k1 = Signer::new("k1");
    let mut idp = FakeIdp::new(&[&k1]);
    idp.mode = Mode::Silent;
    let mut h = Harness::new(vec![jwks_route()], idp);
    let token = k1.sign(&claims(T0));
    let tokens: Vec<u64> =
        (0..1000).map(|_| h.submit(0, &[("Authorization", &format!("Bearer {token}"))])).collect();
    h.drain();
    assert_eq!(h.idp.calls(Purpose::Discovery), 1);
    assert_eq!(h.silent.len(), 1);
    // The IdP answers the one intent; all 1000 proceed (sharing one JWKS fetch) and pass.
    h.idp.mode = Mode::Up;
    let intent = h.silent.pop_front().unwrap();
    let body = h.idp.discovery.clone();
    let now = h.now();
    let resp = oidc_core::engine::ResponseView { status: 200, headers: &[], body: &body };
    h.engine
        .handle_input(
            now,
            &mut h.rng,
            oidc_core::engine::Input::Response { intent: intent.id, resp },
        )
        .unwrap();
    h.drain();
    assert_eq!(h.idp.calls(Purpose::Jwks), 1);
    for t in tokens {
        assert_eq!(status(&h.decisions.remove(&t)), 200);
    }
}

#[test]
fn routes_sharing_a_provider_share_its_state_and_reconfigure_keeps_it() {
    let k1 = Signer::new("k1");
    let routes =
        vec![jwks_route(), config(json!({"use_jwks": true, "required_scopes": ["admin"]}))];
    let mut h = Harness::new(routes.clone(), FakeIdp::new(&[&k1]));
    let token = k1.sign(&claims(T0));
    assert_eq!(status(&h.bearer(&token)), 200);
    let d = h.request(1, &[("Authorization", &format!("Bearer {token}"))]);
    assert_eq!(status(&d), 403);
    assert_eq!(
        header(&d, "www-authenticate").map(|v| v.contains("insufficient_scope")),
        Some(true)
    );
    assert_eq!((h.idp.calls(Purpose::Discovery), h.idp.calls(Purpose::Jwks)), (1, 1));
    h.engine.reconfigure(routes).unwrap();
    assert_eq!(status(&h.bearer(&token)), 200);
    assert_eq!((h.idp.calls(Purpose::Discovery), h.idp.calls(Purpose::Jwks)), (1, 1));
}

#[test]
fn static_public_key_with_configured_issuers_needs_no_idp() {
    let k1 = Signer::new("k1");
    let jwk = k1.jwk();
    let x = oidc_core::jose::base64url::decode(jwk["x"].as_str().unwrap().as_bytes()).unwrap();
    let y = oidc_core::jose::base64url::decode(jwk["y"].as_str().unwrap().as_bytes()).unwrap();
    // SPKI for a P-256 key: fixed prefix + uncompressed point.
    let mut der = hex_prefix();
    der.push(4);
    der.extend_from_slice(&x);
    der.extend_from_slice(&y);
    use base64::Engine as _;
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let cfg = config(
        json!({"public_key": pem, "claim_validator": {"issuer": {"valid_issuers": [ISSUER]}}}),
    );
    let mut idp = FakeIdp::new(&[]);
    idp.mode = Mode::Down;
    let mut h = Harness::new(vec![cfg], idp);
    assert_eq!(status(&h.bearer(&k1.sign(&claims(T0)))), 200);
    assert_eq!(h.idp.calls(Purpose::Discovery), 0);
}

fn hex_prefix() -> Vec<u8> {
    // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes) }
    let hex = "3059301306072a8648ce3d020106082a8648ce3d030107034200";
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn audience_rules() {
    let k1 = Signer::new("k1");
    let cfg = |aud: serde_json::Value| {
        config(json!({"use_jwks": true, "claim_validator": {"audience": aud}}))
    };
    let mut h = Harness::new(
        vec![
            cfg(json!({"match_with_client_id": true})),
            cfg(json!({"claim": "custom", "required": true})),
        ],
        FakeIdp::new(&[&k1]),
    );
    let with_aud = |aud: serde_json::Value| {
        let mut c = claims(T0);
        c["aud"] = aud;
        k1.sign(&c)
    };
    let req = |h: &mut Harness, route: usize, t: &str| {
        status(&h.request(route, &[("Authorization", &format!("Bearer {t}"))]))
    };
    assert_eq!(req(&mut h, 0, &with_aud(json!("api"))), 200);
    assert_eq!(req(&mut h, 0, &with_aud(json!(["x", "api"]))), 200);
    assert_eq!(req(&mut h, 0, &with_aud(json!("other"))), 403);
    assert_eq!(req(&mut h, 1, &with_aud(json!("api"))), 403);
}

#[test]
fn caches_stay_bounded_under_distinct_tokens() {
    let k1 = Signer::new("k1");
    let settings = Settings { token_cache_capacity: 64, ..Settings::default() };
    let mut h = Harness::with_settings(vec![jwks_route()], FakeIdp::new(&[&k1]), settings);
    for i in 0..1000 {
        let mut c = claims(T0);
        c["jti"] = json!(i);
        assert_eq!(status(&h.bearer(&k1.sign(&c))), 200);
        assert!(h.engine.cache_sizes().0 <= 64);
    }
    assert_eq!(h.engine.pending_requests(), 0);
    assert_eq!(h.engine.intents_in_flight(), 0);
}

#[test]
fn a_jwks_moved_to_a_failing_uri_backs_off_instead_of_looping() {
    let k1 = Signer::new("k1");
    let mut h = Harness::new(
        vec![config(json!({"use_jwks": true, "discovery_expires_in": 1}))],
        FakeIdp::new(&[&k1]),
    );
    let token = k1.sign(&claims(T0));
    assert_eq!(status(&h.bearer(&token)), 200);
    // The provider publishes a new jwks_uri that does not answer.
    let moved = "https://idp.test/moved-jwks";
    let mut doc: serde_json::Value = serde_json::from_slice(&h.idp.discovery).unwrap();
    doc["jwks_uri"] = moved.into();
    h.idp.discovery = doc.to_string().into_bytes();
    h.idp.failing_urls.push(moved.into());
    h.advance_secs(2);
    // The stale discovery serves this request and is refreshed behind it.
    let _ = h.bearer(&token);
    let before = h.idp.calls(Purpose::Jwks);
    assert_eq!(status(&h.bearer(&token)), 503, "the new URI fails: 503, not a hang");
    assert_eq!(h.idp.calls(Purpose::Jwks), before + 1, "one fetch of the new URI");
    assert_eq!(status(&h.bearer(&token)), 503);
    assert_eq!(h.idp.calls(Purpose::Jwks), before + 1, "no refetch before the backoff ends");
    h.idp.failing_urls.clear();
    h.advance_secs(2);
    assert_eq!(status(&h.bearer(&token)), 200, "the new URI works again");
}
