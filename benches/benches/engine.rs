//! Engine decisions: a bearer token already in the verified-token cache, and a fresh RS256
//! token (cache bypassed) beside the bare aws-lc signature check on the same token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use aws_lc_rs::signature::{self as lc, KeyPair as _, ParsedPublicKey};
use criterion::{Criterion, criterion_group, criterion_main};
use oidc_benches as fx;
use oidc_core::config::OidcConfig;
use oidc_core::engine::{
    Decision, Engine, Input, Instant, Now, Output, RequestToken, RequestView, ResponseView,
    Settings,
};

use oidc_benches::BenchRng as Rng;

fn now() -> Now {
    Now { mono: Instant::from_micros(1_000_000), wall: fx::now() }
}

struct Fixture {
    token: String,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    bare: ParsedPublicKey,
    discovery: Vec<u8>,
    jwks: Vec<u8>,
}

fn fixture() -> Fixture {
    let pair = lc::RsaKeyPair::from_pkcs8(&fx::b64url_decode(fx::RSA_2048_PKCS8)).unwrap();
    let signing_input = fx::signing_input("RS256", "rs256-2026-01");
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &lc::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    let pkcs1 = pair.public_key().as_ref();
    let rc = <rsa::PublicKey as rsa::pkcs1::DecodeRsaPublicKey>::from_pkcs1_der(pkcs1).unwrap();
    let (n, e) =
        (rsa::traits::PublicKeyParts::n_bytes(&rc), rsa::traits::PublicKeyParts::e_bytes(&rc));
    let jwks = format!(
        r#"{{"keys":[{{"kty":"RSA","use":"sig","alg":"RS256","kid":"rs256-2026-01","n":"{}","e":"{}"}}]}}"#,
        fx::b64url(&n),
        fx::b64url(&e)
    );
    let discovery = serde_json::json!({
        "issuer": fx::ISSUER,
        "authorization_endpoint": "https://idp.bench/authorize",
        "jwks_uri": "https://idp.bench/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    Fixture {
        token: fx::compact(&signing_input, &signature),
        signing_input: signing_input.into_bytes(),
        bare: ParsedPublicKey::new(&lc::RSA_PKCS1_2048_8192_SHA256, pkcs1).unwrap(),
        signature,
        discovery: discovery.to_string().into_bytes(),
        jwks: jwks.into_bytes(),
    }
}

/// One request through the engine: submit, then drain to the decision.
fn decide(
    engine: &mut Engine,
    rng: &mut Rng,
    token: u64,
    headers: &[(&str, &[u8])],
    fx: &Fixture,
) -> Decision {
    let req = RequestView::new("GET", "/orders", headers);
    engine
        .handle_input(
            now(),
            rng,
            Input::Request { token: RequestToken(token), route: &engine.route(0).unwrap(), req },
        )
        .unwrap();
    let mut decision = None;
    loop {
        match engine.poll_output() {
            Output::Idle { .. } => break,
            Output::Decision { decision: d, .. } => decision = Some(d),
            Output::Http(i) => {
                let body = if i.url.ends_with("/jwks") { &fx.jwks } else { &fx.discovery };
                let resp = ResponseView { status: 200, headers: &[], body };
                engine.handle_input(now(), rng, Input::Response { intent: i.id, resp }).unwrap();
            }
            Output::Event(_) => {}
        }
    }
    decision.expect("a decision")
}

fn engine(cache: bool) -> (Engine, Rng) {
    let cfg = OidcConfig::from_json(
        serde_json::json!({
            "client_id": "orders", "client_secret": "orders-secret-000",
            "discovery": "https://idp.bench/.well-known/openid-configuration",
            "bearer_only": true, "use_jwks": true,
            "jwt_verification_cache_ignore": !cache,
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let mut rng = Rng(7);
    let engine = Engine::new(vec![cfg], Settings::default(), &mut rng).unwrap();
    (engine, rng)
}

fn benches(c: &mut Criterion) {
    let fx = fixture();
    let auth = format!("Bearer {}", fx.token);
    let headers =
        [("host", &b"api.bench"[..]), ("authorization", auth.as_bytes()), ("accept", b"*/*")];
    let mut g = c.benchmark_group("engine");

    let (mut cached, mut rng) = engine(true);
    assert!(matches!(decide(&mut cached, &mut rng, 0, &headers, &fx), Decision::Allow(_)));
    let mut n = 1;
    g.bench_function("decision/cached-jwt", |b| {
        b.iter(|| {
            n += 1;
            black_box(decide(&mut cached, &mut rng, n, black_box(&headers), &fx))
        });
    });

    let (mut fresh, mut rng2) = engine(false);
    assert!(matches!(decide(&mut fresh, &mut rng2, 0, &headers, &fx), Decision::Allow(_)));
    g.bench_function("decision/fresh-rs256", |b| {
        b.iter(|| {
            n += 1;
            black_box(decide(&mut fresh, &mut rng2, n, black_box(&headers), &fx))
        });
    });
    g.bench_function("bare/aws-lc-rs256", |b| {
        b.iter(|| {
            fx.bare.verify_sig(black_box(&fx.signing_input), black_box(&fx.signature)).unwrap();
        });
    });
    g.finish();
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
