//! JWT verification behaviour: claims, key selection, algorithm confusion, and the
//! verified-token cache. Tokens are signed here with fresh keys (aws-lc-rs) and HMAC.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use oidc_core::UnixTime;
use oidc_core::crypto::all_providers;
use oidc_core::jose::{
    AlgorithmPolicy, CacheConfig, CacheOutcome, ClaimError, ClaimPolicy, JwkOptions, JwtValidator,
    KeySet, TokenCache, TypPolicy, VerifyError, VerifyingKey, base64url,
};
use serde_json::{Value, json};

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://idp.example";

struct EcSigner {
    kid: String,
    key: EcdsaKeyPair,
}

impl EcSigner {
    fn new(kid: &str) -> Self {
        Self {
            kid: kid.into(),
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        }
    }

    fn jwk(&self) -> Value {
        let point = self.key.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
               "x": base64url::encode(&point[1..33]), "y": base64url::encode(&point[33..65])})
    }

    fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            base64url::encode(header.to_string().as_bytes()),
            base64url::encode(claims.to_string().as_bytes())
        );
        let sig = self.key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", base64url::encode(sig.as_ref()))
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(&json!({"alg": "ES256", "kid": self.kid, "typ": "at+jwt"}), claims)
    }
}

fn hs256(secret: &[u8], header: &Value, claims_raw: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let input = format!(
        "{}.{}",
        base64url::encode(header.to_string().as_bytes()),
        base64url::encode(claims_raw.as_bytes())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", base64url::encode(&mac.finalize().into_bytes()))
}

fn keyset(jwks: Vec<Value>) -> KeySet {
    let doc = json!({ "keys": jwks }).to_string();
    KeySet::from_jwks_json(
        doc.as_bytes(),
        &JwkOptions::PUBLISHED,
        oidc_core::crypto::default_provider(),
    )
    .unwrap()
}

fn claims() -> Value {
    json!({"iss": ISS, "sub": "alice", "aud": "api", "exp": NOW + 300, "iat": NOW - 10, "scope": "read"})
}

fn policy() -> ClaimPolicy {
    ClaimPolicy {
        issuers: Some(vec![ISS.into()]),
        audiences: Some(vec!["api".into()]),
        leeway: 30,
        iat_slack: Some(120),
        ..ClaimPolicy::default()
    }
}

fn verify_with(
    p: ClaimPolicy,
    token: &str,
    keys: &KeySet,
) -> Result<oidc_core::jose::VerifiedToken, VerifyError> {
    JwtValidator::new(AlgorithmPolicy::default(), p).verify(token, keys, UnixTime::from_secs(NOW))
}

fn claim_err(e: ClaimError) -> Result<(), VerifyError> {
    Err(VerifyError::Claims(e))
}

#[test]
fn accepts_a_good_token_on_every_provider() {
    let signer = EcSigner::new("k1");
    let token = signer.sign(&claims());
    for provider in all_providers() {
        let doc = json!({ "keys": [signer.jwk()] }).to_string();
        let keys =
            KeySet::from_jwks_json(doc.as_bytes(), &JwkOptions::PUBLISHED, provider).unwrap();
        let t = verify_with(policy(), &token, &keys).unwrap();
        assert_eq!(t.str_claim("sub"), Some("alice"));
        assert_eq!(t.header().kid.as_deref(), Some("k1"));
    }
}

#[test]
fn claim_checks_name_what_failed() {
    let s = EcSigner::new("k1");
    let keys = keyset(vec![s.jwk()]);
    let check = |c: Value, p: ClaimPolicy| verify_with(p, &s.sign(&c), &keys).map(|_| ());
    let with = |k: &str, v: Value| {
        let mut c = claims();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    assert_eq!(
        check(with("iss", json!("https://evil.example")), policy()),
        claim_err(ClaimError::Issuer)
    );
    assert_eq!(check(without("iss"), policy()), claim_err(ClaimError::Missing("iss")));
    assert_eq!(check(with("aud", json!("other")), policy()), claim_err(ClaimError::Audience));
    assert_eq!(check(with("aud", json!(["other", "api"])), policy()), Ok(()));
    assert_eq!(check(with("aud", json!([])), policy()), claim_err(ClaimError::Missing("aud")));
    assert_eq!(check(with("aud", json!(7)), policy()), claim_err(ClaimError::WrongType("aud")));
    assert_eq!(check(without("aud"), policy()), claim_err(ClaimError::Missing("aud")));
    // exp: leeway 30 s; exactly at exp + leeway the token is expired.
    assert_eq!(check(with("exp", json!(NOW - 30)), policy()), claim_err(ClaimError::Expired));
    assert_eq!(check(with("exp", json!(NOW - 29)), policy()), Ok(()));
    assert_eq!(
        check(with("exp", json!(NOW as f64 - 29.5)), policy()),
        claim_err(ClaimError::Expired)
    );
    assert_eq!(
        check(with("exp", json!("1700000300")), policy()),
        claim_err(ClaimError::WrongType("exp"))
    );
    assert_eq!(check(without("exp"), policy()), claim_err(ClaimError::Missing("exp")));
    // nbf and iat.
    assert_eq!(check(with("nbf", json!(NOW + 31)), policy()), claim_err(ClaimError::NotYetValid));
    assert_eq!(check(with("nbf", json!(NOW + 30)), policy()), Ok(()));
    assert_eq!(
        check(with("iat", json!(NOW + 121)), policy()),
        claim_err(ClaimError::IssuedInFuture)
    );
    assert_eq!(check(with("iat", json!(true)), policy()), claim_err(ClaimError::WrongType("iat")));
    // azp (OpenID Connect Core §3.1.3.7) and nonce.
    let oidc =
        ClaimPolicy { authorized_party: Some("api".into()), nonce: Some("n-1".into()), ..policy() };
    let id = |extra: Value| {
        let mut c = claims();
        c["nonce"] = json!("n-1");
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    assert_eq!(check(id(json!({})), oidc.clone()), Ok(()));
    assert_eq!(
        check(id(json!({"aud": ["api", "x"]})), oidc.clone()),
        claim_err(ClaimError::AuthorizedParty)
    );
    assert_eq!(check(id(json!({"aud": ["api", "x"], "azp": "api"})), oidc.clone()), Ok(()));
    assert_eq!(
        check(id(json!({"azp": "x"})), oidc.clone()),
        claim_err(ClaimError::AuthorizedParty)
    );
    assert_eq!(check(id(json!({"nonce": "n-2"})), oidc.clone()), claim_err(ClaimError::Nonce));
    assert_eq!(check(without("nonce"), oidc), claim_err(ClaimError::Nonce));
}

#[test]
fn typ_policy_follows_rfc7515_media_type_rules() {
    let s = EcSigner::new("k1");
    let keys = keyset(vec![s.jwk()]);
    let at = ClaimPolicy { typ: TypPolicy::OneOf(vec!["at+jwt".into()]), ..policy() };
    for (typ, ok) in
        [(json!("at+jwt"), true), (json!("application/AT+JWT"), true), (json!("JWT"), false)]
    {
        let t = s.sign_with_header(&json!({"alg": "ES256", "kid": "k1", "typ": typ}), &claims());
        assert_eq!(verify_with(at.clone(), &t, &keys).is_ok(), ok, "{typ}");
    }
    let t = s.sign_with_header(&json!({"alg": "ES256", "kid": "k1"}), &claims());
    assert_eq!(verify_with(at, &t, &keys).map(|_| ()), claim_err(ClaimError::Type));
    let no_logout = ClaimPolicy { typ: TypPolicy::NoneOf(vec!["logout+jwt".into()]), ..policy() };
    let t =
        s.sign_with_header(&json!({"alg": "ES256", "kid": "k1", "typ": "logout+jwt"}), &claims());
    assert_eq!(verify_with(no_logout, &t, &keys).map(|_| ()), claim_err(ClaimError::Type));
}

#[test]
fn duplicate_claims_are_rejected_after_the_signature() {
    let secret = [9u8; 32];
    let keys = KeySet::from_keys(vec![
        VerifyingKey::hmac(&secret, oidc_core::crypto::default_provider()).unwrap(),
    ]);
    let raw =
        format!(r#"{{"iss":"{ISS}","iss":"https://evil.example","aud":"api","exp":{}}}"#, NOW + 60);
    let t = hs256(&secret, &json!({"alg": "HS256"}), &raw);
    assert_eq!(verify_with(policy(), &t, &keys).unwrap_err(), VerifyError::Payload);
}

#[test]
fn key_selection_and_algorithm_confusion() {
    let a = EcSigner::new("a");
    let b = EcSigner::new("b");
    let keys = keyset(vec![a.jwk(), b.jwk()]);
    assert!(verify_with(policy(), &b.sign(&claims()), &keys).is_ok());
    // A kid the set does not have: the caller may refetch the JWKS.
    let c = EcSigner::new("c");
    assert_eq!(
        verify_with(policy(), &c.sign(&claims()), &keys).unwrap_err(),
        VerifyError::UnknownKid
    );
    // Signed by b but claiming a's kid: a is tried and fails.
    let forged = b.sign_with_header(&json!({"alg": "ES256", "kid": "a"}), &claims());
    assert_eq!(verify_with(policy(), &forged, &keys).unwrap_err(), VerifyError::BadSignature);
    // Duplicate kids in a published set: each compatible key is tried.
    let mut b_as_a = b.jwk();
    b_as_a["kid"] = json!("a");
    let dup = keyset(vec![a.jwk(), b_as_a]);
    assert!(verify_with(policy(), &forged, &dup).is_ok());
    // HS256 "signed" with the EC public key material as the HMAC secret: an EC key never
    // verifies HS*, and published sets never hold HMAC keys.
    let secret = a.key.public_key().as_ref().to_vec();
    let confused = hs256(&secret, &json!({"alg": "HS256", "kid": "a"}), &claims().to_string());
    assert_eq!(verify_with(policy(), &confused, &keys).unwrap_err(), VerifyError::NoSuitableKey);
    // alg none, with or without a kid, is refused by the default policy.
    let none = format!(
        "{}.{}.",
        base64url::encode(br#"{"alg":"none","kid":"a"}"#),
        base64url::encode(claims().to_string().as_bytes())
    );
    assert_eq!(verify_with(policy(), &none, &keys).unwrap_err(), VerifyError::AlgorithmNotAllowed);
    // The algorithm allow-list applies before any key is touched.
    let only_rs = JwtValidator::new(
        AlgorithmPolicy { allowed: vec![oidc_core::jose::Algorithm::RS256], allow_none: false },
        policy(),
    );
    let err = only_rs.verify(&a.sign(&claims()), &keys, UnixTime::from_secs(NOW)).unwrap_err();
    assert_eq!(err, VerifyError::AlgorithmNotAllowed);
}

#[test]
fn candidates_are_bounded() {
    // Six keys without kid, token without kid, signed by the sixth: only four are tried.
    let signers: Vec<EcSigner> = (0..6).map(|i| EcSigner::new(&format!("k{i}"))).collect();
    let jwks = signers
        .iter()
        .map(|s| {
            let mut j = s.jwk();
            j.as_object_mut().unwrap().remove("kid");
            j
        })
        .collect();
    let keys = keyset(jwks);
    let header = json!({"alg": "ES256"});
    assert!(verify_with(policy(), &signers[3].sign_with_header(&header, &claims()), &keys).is_ok());
    let err =
        verify_with(policy(), &signers[5].sign_with_header(&header, &claims()), &keys).unwrap_err();
    assert_eq!(err, VerifyError::BadSignature);
}

#[test]
fn cache_hits_recheck_time_and_key_presence() {
    let s = EcSigner::new("k1");
    let keys = keyset(vec![s.jwk()]);
    let v = JwtValidator::new(AlgorithmPolicy::default(), policy());
    let mut cache = TokenCache::new(CacheConfig { capacity: 16, max_ttl: 3600 }, 42);
    let token = s.sign(&claims());
    let at = UnixTime::from_secs;
    let (first, o1) = cache.verify(&v, &token, &keys, at(NOW)).unwrap();
    let (second, o2) = cache.verify(&v, &token, &keys, at(NOW + 1)).unwrap();
    assert_eq!((o1, o2), (CacheOutcome::Miss, CacheOutcome::Hit));
    assert!(Arc::ptr_eq(&first, &second));
    // Past exp + leeway: expired, and the entry is gone.
    let err = cache.verify(&v, &token, &keys, at(NOW + 330)).unwrap_err();
    assert_eq!(err, VerifyError::Claims(ClaimError::Expired));
    assert_eq!(cache.len(), 0);
    // Another validation policy never shares entries.
    let _ = cache.verify(&v, &token, &keys, at(NOW)).unwrap();
    let other =
        JwtValidator::new(AlgorithmPolicy::default(), ClaimPolicy { leeway: 0, ..policy() });
    assert_eq!(cache.verify(&other, &token, &keys, at(NOW)).unwrap().1, CacheOutcome::Miss);
    let strict = JwtValidator::new(
        AlgorithmPolicy::default(),
        ClaimPolicy { audiences: Some(vec!["x".into()]), ..policy() },
    );
    assert_eq!(
        cache.verify(&strict, &token, &keys, at(NOW)).unwrap_err(),
        VerifyError::Claims(ClaimError::Audience)
    );
    // The verifying key leaves the set (rotation): the entry no longer answers.
    let rotated = keyset(vec![EcSigner::new("k2").jwk()]);
    assert_eq!(cache.verify(&v, &token, &rotated, at(NOW)).unwrap_err(), VerifyError::UnknownKid);
}

#[test]
fn cache_is_bounded_and_honours_max_ttl() {
    let secret = [3u8; 32];
    let keys = KeySet::from_keys(vec![
        VerifyingKey::hmac(&secret, oidc_core::crypto::default_provider()).unwrap(),
    ]);
    let v = JwtValidator::new(AlgorithmPolicy::default(), policy());
    let mut cache = TokenCache::new(CacheConfig { capacity: 100, max_ttl: 60 }, 7);
    for i in 0..1000 {
        let mut c = claims();
        c["jti"] = json!(i);
        let t = hs256(&secret, &json!({"alg": "HS256"}), &c.to_string());
        cache.verify(&v, &t, &keys, UnixTime::from_secs(NOW)).unwrap();
        assert!(cache.len() <= 100);
    }
    let t = hs256(&secret, &json!({"alg": "HS256"}), &claims().to_string());
    assert_eq!(
        cache.verify(&v, &t, &keys, UnixTime::from_secs(NOW)).unwrap().1,
        CacheOutcome::Miss
    );
    assert_eq!(
        cache.verify(&v, &t, &keys, UnixTime::from_secs(NOW + 59)).unwrap().1,
        CacheOutcome::Hit
    );
    // max_ttl reached: verified afresh (still valid until exp).
    assert_eq!(
        cache.verify(&v, &t, &keys, UnixTime::from_secs(NOW + 60)).unwrap().1,
        CacheOutcome::Miss
    );
}
