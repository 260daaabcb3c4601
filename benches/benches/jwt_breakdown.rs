//! Where `JwtValidator::verify` spends the time that is not the signature check: each stage of
//! verification on its own, over the same HS256 access token as `jwt_verify` (the header and
//! payload of every `jwt_verify` token differ only in `alg` and `kid`).
//!
//! It also times loading a one-key RSA JWKS through each provider (the cost of a JWKS refresh,
//! not of a request).
//!
//! The `what-if/` entries are not oidc-core code: they time cheaper ways to read the same
//! payload (a syntax-only scan, and a typed parse of the registered claims with borrowed
//! strings), as lower bounds for what a different claims representation could cost.
//!
//! Ids are `jwt_breakdown/<stage>`. This bench exists to explain the `core` vs `bare` gap in
//! `jwt_verify`; it is not part of `report.py`'s table.

use std::hint::black_box;

use aws_lc_rs::signature::KeyPair as _;
use criterion::{Criterion, criterion_group, criterion_main};
use oidc_benches as fx;
use oidc_core::crypto::{AWS_LC, CryptoProvider, RUST_CRYPTO};
use oidc_core::jose::jws::CompactJws;
use oidc_core::jose::{JwkOptions, KeySet, VerifyingKey, base64url, json, verify};
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::traits::PublicKeyParts as _;

/// The claims `ClaimPolicy` reads, borrowed from the payload (a what-if, not oidc-core's model).
/// serde's derive rejects a repeated known member; unknown members are skipped unchecked.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Registered<'a> {
    #[serde(borrow)]
    iss: Option<&'a str>,
    #[serde(borrow)]
    sub: Option<&'a str>,
    #[serde(borrow)]
    aud: Option<Audience<'a>>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    #[serde(borrow)]
    azp: Option<&'a str>,
    #[serde(borrow)]
    scope: Option<&'a str>,
    #[serde(borrow)]
    client_id: Option<&'a str>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
#[allow(dead_code)]
enum Audience<'a> {
    One(&'a str),
    #[serde(borrow)]
    Many(Vec<&'a str>),
}

fn jwt_breakdown(c: &mut Criterion) {
    let alg = "HS256";
    let kid = "hs256-2026-01";
    let signing_input = fx::signing_input(alg, kid);
    let lc_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &fx::HMAC_SECRET);
    let tag = aws_lc_rs::hmac::sign(&lc_key, signing_input.as_bytes());
    let token = fx::compact(&signing_input, tag.as_ref());
    let token = token.as_str();
    let key = VerifyingKey::hmac(&fx::HMAC_SECRET, &AWS_LC)
        .expect("HMAC key")
        .with_kid(Some(kid.to_owned()));
    let keys = KeySet::from_keys(vec![key]);
    let validator = fx::validator();
    let policy = fx::claim_policy();
    let now = fx::now();

    let header_b64 = fx::b64url(fx::header_json(alg, kid).as_bytes());
    let payload_b64 = fx::b64url(fx::claims_json().as_bytes());
    let header_json = fx::header_json(alg, kid);
    let payload = fx::claims_json();
    let jws = CompactJws::parse(token).expect("token parses");
    let claims = json::parse_object(payload.as_bytes()).expect("claims parse");
    validator.verify(token, &keys, now).expect("token verifies");
    policy
        .validate(
            jws.header(),
            &oidc_core::jose::RegisteredClaims::parse(payload.as_bytes()).expect("claims"),
            now,
        )
        .expect("claims validate");
    let typed: Registered<'_> =
        serde_json::from_slice(payload.as_bytes()).expect("typed claims parse");
    assert_eq!(typed.iss, Some(fx::ISSUER));
    assert!(matches!(typed.aud, Some(Audience::One(fx::AUDIENCE))));

    let mut g = c.benchmark_group("jwt_breakdown");
    g.bench_function("total/JwtValidator::verify", |b| {
        b.iter(|| validator.verify(black_box(token), &keys, now));
    });
    g.bench_function("jws/CompactJws::parse", |b| {
        b.iter(|| CompactJws::parse(black_box(token)));
    });
    g.bench_function("jws/base64url::decode(header)", |b| {
        b.iter(|| base64url::decode(black_box(header_b64.as_bytes())));
    });
    g.bench_function("jws/base64url::decode(payload)", |b| {
        b.iter(|| base64url::decode(black_box(payload_b64.as_bytes())));
    });
    g.bench_function("jws/json::parse_object(header)", |b| {
        b.iter(|| json::parse_object(black_box(header_json.as_bytes())));
    });
    g.bench_function("signature/verify_signature", |b| {
        b.iter(|| verify::verify_signature(black_box(&jws), &keys));
    });
    g.bench_function("signature/bare aws-lc hmac::verify", |b| {
        b.iter(|| {
            aws_lc_rs::hmac::verify(
                &lc_key,
                black_box(signing_input.as_bytes()),
                black_box(tag.as_ref()),
            )
        });
    });
    g.bench_function("claims/json::parse_object(payload)", |b| {
        b.iter(|| json::parse_object(black_box(payload.as_bytes())));
    });
    g.bench_function("claims/serde_json::from_slice::<Value>(payload)", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(payload.as_bytes())));
    });
    g.bench_function("what-if/serde_json IgnoredAny(payload)", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(payload.as_bytes())));
    });
    g.bench_function("what-if/typed borrowed registered claims(payload)", |b| {
        b.iter(|| serde_json::from_slice::<Registered<'_>>(black_box(payload.as_bytes())));
    });
    let registered = oidc_core::jose::RegisteredClaims::parse(payload.as_bytes()).expect("claims");
    g.bench_function("claims/RegisteredClaims::parse(payload)", |b| {
        b.iter(|| oidc_core::jose::RegisteredClaims::parse(black_box(payload.as_bytes())));
    });
    g.bench_function("claims/ClaimPolicy::validate", |b| {
        b.iter(|| policy.validate(jws.header(), black_box(&registered), now));
    });
    g.bench_function("claims/ClaimPolicy::window", |b| {
        b.iter(|| policy.window(black_box(&registered)));
    });
    g.bench_function("drop/claims clone+drop", |b| {
        b.iter(|| black_box(&claims).clone());
    });
    let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&fx::b64url_decode(fx::RSA_2048_PKCS8))
        .expect("fixture RSA key");
    let rsa = rsa::PublicKey::from_pkcs1_der(pair.public_key().as_ref()).expect("PKCS#1 key");
    let jwks = format!(
        r#"{{"keys":[{{"kty":"RSA","use":"sig","kid":"rsa-1","n":"{}","e":"{}"}}]}}"#,
        fx::b64url(&rsa.n_bytes()),
        fx::b64url(&rsa.e_bytes()),
    );
    for (name, provider) in
        [("aws-lc", &AWS_LC as &dyn CryptoProvider), ("rustcrypto", &RUST_CRYPTO)]
    {
        let loaded = KeySet::from_jwks_json(jwks.as_bytes(), &JwkOptions::PUBLISHED, provider)
            .expect("JWKS loads");
        assert_eq!(loaded.len(), 1);
        g.bench_function(format!("keys/KeySet::from_jwks_json(RSA-2048) {name}"), |b| {
            b.iter(|| {
                KeySet::from_jwks_json(black_box(jwks.as_bytes()), &JwkOptions::PUBLISHED, provider)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, jwt_breakdown);
criterion_main!(benches);
