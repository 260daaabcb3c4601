//! Where `JwtValidator::verify` spends the time that is not the signature check: each stage of
//! verification on its own, over the same HS256 access token as `jwt_verify` (the header and
//! payload of every `jwt_verify` token differ only in `alg` and `kid`).
//!
//! Ids are `jwt_breakdown/<stage>`. This bench exists to explain the `core` vs `bare` gap in
//! `jwt_verify`; it is not part of `report.py`'s table.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use oidc_benches as fx;
use oidc_core::crypto::AWS_LC;
use oidc_core::jose::jws::CompactJws;
use oidc_core::jose::{KeySet, VerifyingKey, base64url, json, verify};

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
        .validate(jws.header(), &claims, now)
        .expect("claims validate");

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
    g.bench_function("claims/ClaimPolicy::validate", |b| {
        b.iter(|| policy.validate(jws.header(), black_box(&claims), now));
    });
    g.bench_function("claims/ClaimPolicy::window", |b| {
        b.iter(|| policy.window(black_box(&claims)));
    });
    g.bench_function("drop/claims clone+drop", |b| {
        b.iter(|| black_box(&claims).clone());
    });
    g.finish();
}

criterion_group!(benches, jwt_breakdown);
criterion_main!(benches);
