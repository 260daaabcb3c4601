//! Introspection through the engine: verdicts, client authentication, cache TTL rules and
//! coalescing.

use oidc_core::engine::{AuthVia, Decision, Purpose};
use serde_json::json;

use crate::harness::*;

fn route(extra: serde_json::Value) -> oidc_core::config::OidcConfig {
    let mut base = json!({"introspection_endpoint": INTROSPECT});
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    config(base)
}

fn active(exp: i64) -> serde_json::Value {
    json!({"active": true, "sub": "bob", "scope": "read", "exp": exp, "client_id": "api"})
}

fn via(d: &Option<Decision>) -> Option<AuthVia> {
    match d {
        Some(Decision::Allow(g)) => Some(g.via),
        _ => None,
    }
}

#[test]
fn active_inactive_and_malformed() {
    let mut idp = FakeIdp::new(&[]);
    idp.introspection.insert("good".into(), active(T0 + 300));
    idp.introspection.insert("str".into(), json!({"active": "true"}));
    let mut h = Harness::new(vec![route(json!({}))], idp);
    let d = h.bearer("good");
    assert_eq!(status(&d), 200);
    assert_eq!(via(&d), Some(AuthVia::Introspection));
    assert_eq!(status(&h.bearer("revoked")), 401);
    // `active` must be the JSON boolean true.
    assert_eq!(status(&h.bearer("str")), 401);
    // An inactive answer is remembered briefly: the same junk token does not reach the IdP
    // again.
    let calls = h.idp.calls.get(&Purpose::Introspection).copied();
    assert_eq!(status(&h.bearer("revoked")), 401);
    assert_eq!(h.idp.calls.get(&Purpose::Introspection).copied(), calls);
    // A 4xx about one token does not touch other tokens.
    h.idp.introspection_status = 400;
    assert_eq!(status(&h.bearer("junk-1")), 502);
    assert_eq!(status(&h.bearer("junk-2")), 502);
    assert_eq!(status(&h.bearer("junk-3")), 502);
    h.idp.introspection_status = 200;
    h.idp.introspection.insert("fresh".into(), active(T0 + 300));
    assert_eq!(status(&h.bearer("fresh")), 200, "introspection still works for everyone");
    h.idp.introspection_status = 500;
    for t in ["other", "other-a", "other-c"] {
        assert_eq!(status(&h.bearer(t)), 503);
    }
    // Three failures in a row: the endpoint is left alone until its backoff ends.
    let calls = h.idp.calls.get(&Purpose::Introspection).copied();
    assert_eq!(status(&h.bearer("other-b")), 503);
    assert_eq!(h.idp.calls.get(&Purpose::Introspection).copied(), calls);
    // A 5xx could be one token's doing: the backoff does not escalate, and after it three new
    // failures are needed before the next one.
    h.advance_secs(2);
    h.idp.introspection_status = 200;
    h.idp.introspection.insert("after".into(), active(T0 + 300));
    assert_eq!(status(&h.bearer("after")), 200, "one short backoff, then service again");
    // A 429 asks for fewer calls: it counts, and the client gets a 503 to retry.
    h.idp.introspection_status = 429;
    for t in ["limited-1", "limited-2", "limited-3"] {
        assert_eq!(status(&h.bearer(t)), 503);
    }
    let calls = h.idp.calls.get(&Purpose::Introspection).copied();
    assert_eq!(status(&h.bearer("limited-4")), 503);
    assert_eq!(h.idp.calls.get(&Purpose::Introspection).copied(), calls, "backing off");
    h.advance_secs(2);
    h.idp.introspection_status = 401;
    assert_eq!(status(&h.bearer("other2")), 502);
    h.advance_secs(3);
    h.idp.introspection_status = 200;
    h.idp.mode = Mode::Down;
    assert_eq!(status(&h.bearer("other3")), 503);
    // The cached active result still answers while the IdP is down.
    assert_eq!(via(&h.bearer("good")), Some(AuthVia::IntrospectionCached));
}

#[test]
fn client_authentication_placement() {
    let mut idp = FakeIdp::new(&[]);
    for t in ["t0", "t1", "t2"] {
        idp.introspection.insert(t.into(), active(T0 + 300));
    }
    let mut h = Harness::new(
        vec![
            route(json!({"client_secret": "p@ss word"})),
            route(json!({"introspection_endpoint_auth_method": "client_secret_post"})),
            route(json!({"introspection_endpoint_auth_method": "client_secret_jwt"})),
        ],
        idp,
    );
    assert_eq!(status(&h.request(0, &[("Authorization", "Bearer t0")])), 200);
    let i = h.idp.last_introspection.take().unwrap();
    let auth =
        i.headers.iter().find(|(n, _)| n == "Authorization").map(|(_, v)| v.clone()).unwrap();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.strip_prefix("Basic ").unwrap())
        .unwrap();
    // RFC 6749 §2.3.1: form-urlencoded before Basic encoding.
    assert_eq!(String::from_utf8(decoded).unwrap(), "api:p%40ss+word");
    assert!(!String::from_utf8_lossy(&i.body).contains("client_secret"));

    assert_eq!(status(&h.request(1, &[("Authorization", "Bearer t1")])), 200);
    let i = h.idp.last_introspection.take().unwrap();
    let body = String::from_utf8(i.body.clone()).unwrap();
    assert!(
        body.contains("client_id=api") && body.contains("client_secret=secret-secret-secret"),
        "{body}"
    );
    assert!(i.headers.iter().all(|(n, _)| n != "Authorization"));

    assert_eq!(status(&h.request(2, &[("Authorization", "Bearer t2")])), 200);
    let i = h.idp.last_introspection.take().unwrap();
    let body = String::from_utf8(i.body.clone()).unwrap();
    assert!(
        body.contains(
            "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        ),
        "{body}"
    );
    assert!(!body.contains("client_secret="));
}

#[test]
fn addon_headers_are_forwarded() {
    let mut idp = FakeIdp::new(&[]);
    idp.introspection.insert("t".into(), active(T0 + 300));
    let mut h =
        Harness::new(vec![route(json!({"introspection_addon_headers": ["X-Tenant"]}))], idp);
    assert_eq!(status(&h.request(0, &[("Authorization", "Bearer t"), ("x-tenant", "blue")])), 200);
    let i = h.idp.last_introspection.take().unwrap();
    assert!(i.headers.iter().any(|(n, v)| n == "X-Tenant" && v == "blue"));
}

#[test]
fn cache_ttl_follows_the_expiry_claim_and_interval() {
    let mut idp = FakeIdp::new(&[]);
    idp.introspection.insert("exp60".into(), active(T0 + 60));
    idp.introspection.insert("noexp".into(), json!({"active": true, "sub": "x"}));
    idp.introspection.insert("ttl".into(), json!({"active": true, "expires_in": 10}));
    let mut h = Harness::new(
        vec![
            route(json!({})),
            route(json!({"introspection_interval": 5})),
            route(json!({"introspection_expiry_claim": "expires_in"})),
        ],
        idp,
    );
    let call = |h: &mut Harness, r: usize, t: &str| {
        via(&h.request(r, &[("Authorization", &format!("Bearer {t}"))]))
    };
    // exp-driven: cached until exp.
    assert_eq!(call(&mut h, 0, "exp60"), Some(AuthVia::Introspection));
    h.advance_secs(59);
    assert_eq!(call(&mut h, 0, "exp60"), Some(AuthVia::IntrospectionCached));
    h.advance_secs(1);
    assert_eq!(call(&mut h, 0, "exp60"), Some(AuthVia::Introspection));
    // No expiry claim: not cached.
    assert_eq!(call(&mut h, 0, "noexp"), Some(AuthVia::Introspection));
    assert_eq!(call(&mut h, 0, "noexp"), Some(AuthVia::Introspection));
    // introspection_interval caps the TTL.
    h.idp.introspection.insert("exp-far".into(), active(h.wall + 3600));
    assert_eq!(call(&mut h, 1, "exp-far"), Some(AuthVia::Introspection));
    h.advance_secs(4);
    assert_eq!(call(&mut h, 1, "exp-far"), Some(AuthVia::IntrospectionCached));
    h.advance_secs(1);
    assert_eq!(call(&mut h, 1, "exp-far"), Some(AuthVia::Introspection));
    // Another expiry claim is a TTL in seconds.
    assert_eq!(call(&mut h, 2, "ttl"), Some(AuthVia::Introspection));
    h.advance_secs(9);
    assert_eq!(call(&mut h, 2, "ttl"), Some(AuthVia::IntrospectionCached));
    h.advance_secs(1);
    assert_eq!(call(&mut h, 2, "ttl"), Some(AuthVia::Introspection));
}

#[test]
fn concurrent_misses_for_one_token_are_coalesced() {
    let mut idp = FakeIdp::new(&[]);
    idp.introspection.insert("t".into(), json!({"active": true, "sub": "x"}));
    idp.mode = Mode::Silent;
    let mut h = Harness::new(vec![route(json!({}))], idp);
    let tokens: Vec<u64> =
        (0..100).map(|_| h.submit(0, &[("Authorization", "Bearer t")])).collect();
    h.drain();
    assert_eq!(h.idp.calls(Purpose::Introspection), 1);
    let intent = h.silent.pop_front().unwrap();
    let now = h.now();
    let body = json!({"active": true, "sub": "x"}).to_string();
    let resp = oidc_core::engine::ResponseView { status: 200, headers: &[], body: body.as_bytes() };
    h.engine
        .handle_input(
            now,
            &mut h.rng,
            oidc_core::engine::Input::Response { intent: intent.id, resp },
        )
        .unwrap();
    h.drain();
    for t in tokens {
        assert_eq!(status(&h.decisions.remove(&t)), 200);
    }
}

#[test]
fn introspection_cache_is_bounded() {
    let mut idp = FakeIdp::new(&[]);
    for i in 0..500 {
        idp.introspection.insert(format!("t{i}"), active(T0 + 600));
    }
    let settings =
        oidc_core::engine::Settings { introspection_cache_capacity: 50, ..Default::default() };
    let mut h = Harness::with_settings(vec![route(json!({}))], idp, settings);
    for i in 0..500 {
        assert_eq!(status(&h.bearer(&format!("t{i}"))), 200);
        assert!(h.engine.cache_sizes().1 <= 50);
    }
}

/// `private_key_jwt`: the client assertion is signed with the configured key and verifies with
/// its public half; header `kid` and claims follow RFC 7523.
#[test]
fn private_key_jwt_assertion_verifies() {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use oidc_core::UnixTime;
    use oidc_core::jose::{
        AlgorithmPolicy, ClaimPolicy, JwtValidator, KeySet, VerifyingKey, base64url,
    };

    let pkcs8 = EcdsaKeyPair::generate_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    use base64::Engine as _;
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
    );
    let mut idp = FakeIdp::new(&[]);
    idp.introspection.insert("t".into(), active(T0 + 300));
    let cfg = route(json!({
        "introspection_endpoint_auth_method": "private_key_jwt",
        "client_rsa_private_key": pem,
        "client_rsa_private_key_id": "client-key-1",
    }));
    let mut h = Harness::new(vec![cfg], idp);
    assert_eq!(status(&h.bearer("t")), 200);
    let i = h.idp.last_introspection.take().unwrap();
    let body = String::from_utf8(i.body).unwrap();
    let assertion = body.split('&').find_map(|kv| kv.strip_prefix("client_assertion=")).unwrap();
    let point = pair.public_key().as_ref();
    let key = VerifyingKey::ec(
        oidc_core::jose::Curve::P256,
        &point[1..33],
        &point[33..65],
        oidc_core::crypto::default_provider(),
    )
    .unwrap();
    let keys = KeySet::from_keys(vec![key.with_kid(Some("client-key-1".into()))]);
    let policy = ClaimPolicy {
        issuers: Some(vec!["api".into()]),
        audiences: Some(vec![INTROSPECT.into()]),
        ..ClaimPolicy::default()
    };
    let v = JwtValidator::new(AlgorithmPolicy::default(), policy);
    let t = v.verify(assertion, &keys, UnixTime::from_secs(T0)).unwrap();
    assert_eq!(t.header().kid.as_deref(), Some("client-key-1"));
    assert_eq!(t.str_claim("sub"), Some("api"));
    assert_eq!(t.claims().unwrap()["exp"], json!(T0 + 60));
    assert!(base64url::decode(t.str_claim("jti").unwrap().as_bytes()).unwrap().len() == 16);
}

/// The APISIX default assertion algorithm: RS256 with an RSA PKCS#8 key.
#[test]
fn private_key_jwt_rs256() {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;
    use oidc_core::UnixTime;
    use oidc_core::jose::{AlgorithmPolicy, ClaimPolicy, JwtValidator, KeyPolicy, KeySet};

    let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&pair).unwrap();
    use base64::Engine as _;
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    let mut idp = FakeIdp::new(&[]);
    idp.introspection.insert("t".into(), active(T0 + 300));
    let cfg = route(
        json!({"introspection_endpoint_auth_method": "private_key_jwt", "client_rsa_private_key": pem}),
    );
    let mut h = Harness::new(vec![cfg], idp);
    assert_eq!(status(&h.bearer("t")), 200);
    let body = String::from_utf8(h.idp.last_introspection.take().unwrap().body).unwrap();
    let assertion = body.split('&').find_map(|kv| kv.strip_prefix("client_assertion=")).unwrap();
    let public = pair.public_key();
    let key = oidc_core::jose::pem::parse_pkcs1_der(
        public.as_ref(),
        &KeyPolicy::DEFAULT,
        oidc_core::crypto::default_provider(),
    )
    .unwrap();
    let v = JwtValidator::new(
        AlgorithmPolicy { allowed: vec![oidc_core::jose::Algorithm::RS256], allow_none: false },
        ClaimPolicy::default(),
    );
    v.verify(assertion, &KeySet::from_keys(vec![key]), UnixTime::from_secs(T0)).unwrap();
}
