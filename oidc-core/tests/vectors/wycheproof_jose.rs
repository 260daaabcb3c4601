//! Wycheproof `json_web_signature_test.json` and `json_web_key_test.json`: whole JWS
//! verification with JWK / JWKS keys.

use oidc_core::crypto::{CryptoProvider, all_providers};
use oidc_core::jose::verify::{AlgorithmPolicy, verify_signature};
use oidc_core::jose::{Algorithm, CompactJws, JwkOptions, KeySet};
use serde_json::{Value, json};

use crate::data;

/// Cases whose Wycheproof verdict we deliberately do not reproduce, with the reason.
const DEVIATIONS: &[(&str, u64, &str)] = &[
    (
        "json_web_signature_test.json",
        347,
        "the JWK says alg \"ES521\", which is not a JWS algorithm (RFC 7520 §3.1 says ES512); \
         a JWK alg must equal the token's alg, so the key is unusable and the token is rejected",
    ),
    (
        "json_web_signature_test.json",
        346,
        "a PS384 token checked with a JWK whose alg is PS256: a JWK alg must equal the token's \
         alg (RFC 7517 §4.4), so the key is not used and the token is rejected",
    ),
    (
        "json_web_signature_test.json",
        350,
        "same PS256-JWK / PS384-token pairing as tcId 346 (with key_ops); rejected",
    ),
    (
        "json_web_signature_test.json",
        351,
        "same JWK alg \"ES521\" typo as tcId 347 (with key_ops); rejected",
    ),
    (
        "json_web_signature_test.json",
        367,
        "\"invalidBase64Padding\": in this copy the token is byte-for-byte tcId 357's valid \
         token (the padding it names is absent), so it verifies",
    ),
    (
        "json_web_signature_test.json",
        370,
        "\"invalidBase64PaddingInPayload\": byte-for-byte tcId 357's valid token, as for tcId 367",
    ),
    (
        "json_web_signature_test.json",
        372,
        "marked valid although a '?' sits inside the header's base64url: strict base64url \
         (RFC 7515 §2) rejects any character outside the alphabet",
    ),
    (
        "json_web_signature_test.json",
        373,
        "marked valid although a '?' sits inside the payload's base64url; rejected as for 372",
    ),
];

/// Loads a group's key (a JWK or a JWKS) as the gateway would: public sets as published keys,
/// sets containing `oct` keys as configured keys.
fn load(key: &Value, provider: &dyn CryptoProvider) -> Option<KeySet> {
    let set = if key.get("keys").is_some() { key.clone() } else { json!({ "keys": [key] }) };
    let has_oct = set["keys"].as_array()?.iter().any(|k| k["kty"] == "oct");
    let opts = if has_oct { JwkOptions::CONFIGURED } else { JwkOptions::PUBLISHED };
    KeySet::from_jwks_json(set.to_string().as_bytes(), &opts, provider).ok()
}

/// Signature-level verification of a compact JWS (the payloads here are not JWT claims).
fn accepts(token: &str, keys: Option<&KeySet>) -> bool {
    let Ok(jws) = CompactJws::parse(token) else {
        return false;
    };
    if !AlgorithmPolicy::default().accepts(jws.header().alg) || jws.header().alg == Algorithm::None
    {
        return false;
    }
    keys.is_some_and(|k| verify_signature(&jws, k).is_ok())
}

fn run(file: &str) {
    let doc = data(&format!("wycheproof/{file}"));
    for provider in all_providers() {
        let (mut checked, mut skipped) = (0, Vec::new());
        for group in doc["testGroups"].as_array().unwrap() {
            let key = group.get("public").or_else(|| group.get("private")).unwrap();
            let keys = load(key, provider);
            for t in group["tests"].as_array().unwrap() {
                let id = t["tcId"].as_u64().unwrap();
                let token = t["jws"].as_str().unwrap_or_default();
                let got = accepts(token, keys.as_ref());
                let want = t["result"] == "valid";
                if let Some((_, _, why)) =
                    DEVIATIONS.iter().find(|(f, i, _)| *f == file && *i == id)
                {
                    assert_ne!(
                        got, want,
                        "{file} tcId {id}: documented deviation no longer deviates"
                    );
                    skipped.push(format!("tcId {id}: {why}"));
                    continue;
                }
                assert_eq!(got, want, "{file} tcId {id} ({}) on {}", t["comment"], provider.name());
                checked += 1;
            }
        }
        println!(
            "{file} [{}]: {checked} cases as expected; {} deviations:",
            provider.name(),
            skipped.len()
        );
        assert!(checked >= 20, "{file}: too few cases ({checked}); a test group went missing");
        for s in &skipped {
            println!("  {s}");
        }
    }
}

#[test]
fn json_web_signature() {
    run("json_web_signature_test.json");
}

#[test]
fn json_web_key() {
    run("json_web_key_test.json");
}
