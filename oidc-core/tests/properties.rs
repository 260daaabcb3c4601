//! Property tests: no input panics a parser, base64url round-trips, and a token's validity over
//! time is one interval.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::OnceLock;

use oidc_core::UnixTime;
use oidc_core::crypto::RUST_CRYPTO;
use oidc_core::jose::claims::ClaimPolicy;
use oidc_core::jose::json::{parse_object, parse_value};
use oidc_core::jose::pem::{parse_public_key_pem, parse_spki_der};
use oidc_core::jose::{
    AlgorithmPolicy, CompactJws, JwkOptions, JwtValidator, KeyPolicy, KeySet, VerifyingKey,
    base64url,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn hmac_keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = VerifyingKey::hmac(&[7; 32], &RUST_CRYPTO).unwrap();
        KeySet::from_keys(vec![key])
    })
}

/// Signs `claims` with HS256 under the test key, so that only the claims decide validity.
fn hs256_token(claims: &Value) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let header = base64url::encode(br#"{"alg":"HS256"}"#);
    let payload = base64url::encode(claims.to_string().as_bytes());
    let input = format!("{header}.{payload}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&[7; 32]).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", base64url::encode(&mac.finalize().into_bytes()))
}

/// Any short string of JSON-ish and token-ish characters.
fn tokenish() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9_\\-.=+/{}\":,\\[\\] ]{0,200}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn base64url_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let encoded = base64url::encode(&bytes);
        prop_assert!(!encoded.contains('='));
        prop_assert_eq!(base64url::decode(encoded.as_bytes()).unwrap(), bytes);
    }

    #[test]
    fn base64url_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(decoded) = base64url::decode(&bytes) {
            // Strict: whatever decodes re-encodes to exactly the input.
            let again = base64url::encode(&decoded);
            prop_assert_eq!(again.as_bytes(), &bytes[..]);
        }
    }

    #[test]
    fn json_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_value(&bytes);
        let _ = parse_object(&bytes);
    }

    #[test]
    fn jws_parser_never_panics(s in tokenish()) {
        let _ = CompactJws::parse(&s);
    }

    #[test]
    fn jws_parser_never_panics_on_encoded_garbage(
        h in proptest::collection::vec(any::<u8>(), 0..100),
        p in proptest::collection::vec(any::<u8>(), 0..100),
        s in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let t = format!("{}.{}.{}", base64url::encode(&h), base64url::encode(&p), base64url::encode(&s));
        let _ = CompactJws::parse(&t);
        let v = JwtValidator::new(AlgorithmPolicy::default(), ClaimPolicy::default());
        let _ = v.verify(&t, hmac_keys(), UnixTime::from_secs(0));
    }

    #[test]
    fn jwks_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = KeySet::from_jwks_json(&bytes, &JwkOptions::PUBLISHED, &RUST_CRYPTO);
        let _ = KeySet::from_jwks_json(&bytes, &JwkOptions::CONFIGURED, &RUST_CRYPTO);
    }

    #[test]
    fn jwk_members_never_panic(
        kty in prop_oneof![Just("RSA"), Just("EC"), Just("OKP"), Just("oct"), Just("x")],
        crv in prop_oneof![Just("P-256"), Just("P-384"), Just("P-521"), Just("Ed25519"), Just("X25519")],
        a in proptest::collection::vec(any::<u8>(), 0..140),
        b in proptest::collection::vec(any::<u8>(), 0..140),
    ) {
        let jwk = json!({"kty": kty, "crv": crv, "n": base64url::encode(&a), "e": base64url::encode(&b),
            "x": base64url::encode(&a), "y": base64url::encode(&b), "k": base64url::encode(&a)});
        let set = json!({"keys": [jwk]}).to_string();
        let _ = KeySet::from_jwks_json(set.as_bytes(), &JwkOptions::CONFIGURED, &RUST_CRYPTO);
    }

    #[test]
    fn pem_and_der_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_spki_der(&bytes, &KeyPolicy::DEFAULT, &RUST_CRYPTO);
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_public_key_pem(&text, &KeyPolicy::DEFAULT, &RUST_CRYPTO);
        let wrapped = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----", base64url::encode(&bytes));
        let _ = parse_public_key_pem(&wrapped, &KeyPolicy::DEFAULT, &RUST_CRYPTO);
    }

    /// Validity over time is an interval: if a token is valid at `t`, it is valid at every `t'`
    /// between its lower bound (nbf − leeway, iat − iat_slack) and its upper bound (exp + leeway).
    #[test]
    fn validity_is_an_interval(
        exp in proptest::option::of(0i64..2000),
        nbf in proptest::option::of(0i64..2000),
        iat in proptest::option::of(0i64..2000),
        leeway in 0u64..100,
        slack in proptest::option::of(0u64..200),
        probes in proptest::collection::vec(-200i64..2300, 1..40),
    ) {
        let mut claims = Map::new();
        for (name, v) in [("exp", exp), ("nbf", nbf), ("iat", iat)] {
            if let Some(v) = v {
                claims.insert(name.into(), json!(v));
            }
        }
        let token = hs256_token(&Value::Object(claims));
        let policy = ClaimPolicy { leeway, iat_slack: slack, require_exp: false, ..ClaimPolicy::default() };
        let v = JwtValidator::new(AlgorithmPolicy::default(), policy);
        let valid_at = |t: i64| v.verify(&token, hmac_keys(), UnixTime::from_secs(t)).is_ok();
        let valid: Vec<i64> = probes.iter().copied().filter(|&t| valid_at(t)).collect();
        if let (Some(&lo), Some(&hi)) = (valid.iter().min(), valid.iter().max()) {
            for t in lo..=hi {
                prop_assert!(valid_at(t), "valid at {lo} and {hi} but not at {t}");
            }
        }
        // And the bounds are where the claims say.
        let lower = [nbf.map(|n| n - leeway as i64), iat.zip(slack).map(|(i, s)| i - s as i64)]
            .into_iter().flatten().max();
        let upper = exp.map(|e| e + leeway as i64);
        for t in probes {
            let expected = lower.is_none_or(|l| t >= l) && upper.is_none_or(|u| t < u);
            prop_assert_eq!(valid_at(t), expected, "t={}", t);
        }
    }
}
