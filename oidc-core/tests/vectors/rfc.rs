//! RFC examples: RFC 7515 Appendix A (+ derived tamper cases), RFC 7519 §3.1/§6.1 (+ clock
//! cases), RFC 7517 examples (+ malformed sets), RFC 7638 thumbprints, RFC 7520 cookbook.

use oidc_core::UnixTime;
use oidc_core::crypto::all_providers;
use oidc_core::jose::verify::{AlgorithmPolicy, verify_signature};
use oidc_core::jose::{
    Algorithm, ClaimError, ClaimPolicy, CompactJws, JwkOptions, JwtValidator, KeySet, VerifyError,
    base64url,
};
use serde_json::{Value, json};

use crate::data;

const PRIVATE: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth"];

/// The public part of a JWK (test inputs often carry the private key too).
fn public(jwk: &Value) -> Value {
    let mut j = jwk.clone();
    if j["kty"] != "oct" {
        for m in PRIVATE {
            j.as_object_mut().unwrap().remove(*m);
        }
    }
    j
}

fn keyset(jwk: &Value, provider: &dyn oidc_core::crypto::CryptoProvider) -> KeySet {
    let jwk = public(jwk);
    let opts = if jwk["kty"] == "oct" { JwkOptions::CONFIGURED } else { JwkOptions::PUBLISHED };
    let set = json!({ "keys": [jwk] }).to_string();
    let keys = KeySet::from_jwks_json(set.as_bytes(), &opts, provider).unwrap();
    assert_eq!(keys.len(), 1, "{:?}", keys.skipped());
    keys
}

fn sig_ok(token: &str, keys: &KeySet) -> bool {
    match CompactJws::parse(token) {
        Ok(jws) => {
            AlgorithmPolicy::default().accepts(jws.header().alg)
                && verify_signature(&jws, keys).is_ok()
        }
        Err(_) => false,
    }
}

#[test]
fn rfc7515_appendix_a() {
    let doc = data("rfc/rfc7515_appendix_a_jws.json");
    for provider in all_providers() {
        let mut n = 0;
        for ex in doc["examples"].as_array().unwrap() {
            let id = ex["id"].as_str().unwrap();
            match id {
                "A.1" | "A.2" | "A.3" | "A.4" => {
                    let jwk = ex.get("public_key_jwk").unwrap_or_else(|| &ex["key_jwk"]);
                    let keys = keyset(jwk, provider);
                    assert!(
                        sig_ok(ex["compact"].as_str().unwrap(), &keys),
                        "{id} on {}",
                        provider.name()
                    );
                    n += 1;
                }
                "A.5" => {
                    // Structurally valid, rejected by default, accepted only when `none` is
                    // explicitly allowed (and then without any key).
                    let token = ex["compact"].as_str().unwrap();
                    let jws = CompactJws::parse(token).unwrap();
                    assert_eq!(jws.header().alg, Algorithm::None);
                    let claims = ClaimPolicy { require_exp: false, ..ClaimPolicy::default() };
                    let strict = JwtValidator::new(AlgorithmPolicy::default(), claims.clone());
                    let empty = KeySet::default();
                    let at = UnixTime::from_secs(1_300_819_000);
                    assert_eq!(
                        strict.verify(token, &empty, at).unwrap_err(),
                        VerifyError::AlgorithmNotAllowed
                    );
                    let lax = JwtValidator::new(
                        AlgorithmPolicy { allowed: vec![], allow_none: true },
                        claims,
                    );
                    assert!(lax.verify(token, &empty, at).is_ok());
                    n += 1;
                }
                // A.6 and A.7 are the JSON serializations, which OpenID Connect never uses: only
                // the compact form is parsed. Their signatures are A.2's and A.3's, checked above.
                "A.6" | "A.7" => {
                    println!("  skipped {id}: JWS JSON serialization is not supported");
                }
                other => panic!("unexpected example {other}"),
            }
        }
        let derived = doc["derived_cases"]["cases"].as_array().unwrap();
        for c in derived {
            let keys = keyset(&c["key_jwk"], provider);
            let token = c["compact"].as_str().unwrap();
            let want = c["expected"]
                .get("signature_valid")
                .or_else(|| c["expected"].get("accept"))
                .unwrap();
            assert_eq!(
                sig_ok(token, &keys),
                want.as_bool().unwrap(),
                "{} on {}",
                c["id"],
                provider.name()
            );
            n += 1;
        }
        println!(
            "RFC 7515 App. A [{}]: {n} cases (A.1-A.5 and {} derived)",
            provider.name(),
            derived.len()
        );
        assert!(n >= 21, "RFC 7515 cases went missing");
    }
}

#[test]
fn rfc7519_examples_and_clock() {
    let doc = data("rfc/rfc7519_jwt_examples.json");
    let ex = &doc["examples"][0];
    let token = ex["jwt"].as_str().unwrap();
    for provider in all_providers() {
        let keys = keyset(&ex["key_jwk"], provider);
        let mut n = 0;
        for case in doc["derived_claim_checks"]["cases"].as_array().unwrap() {
            let policy = ClaimPolicy {
                issuers: Some(vec!["joe".into()]),
                leeway: case["leeway"].as_u64().unwrap(),
                ..ClaimPolicy::default()
            };
            let v = JwtValidator::new(AlgorithmPolicy::default(), policy);
            let got = v.verify(token, &keys, UnixTime::from_secs(case["now"].as_i64().unwrap()));
            match case["expected"].as_str().unwrap() {
                "valid" => {
                    let t = got.unwrap();
                    assert_eq!(
                        Value::Object(t.claims().unwrap().clone()),
                        ex["expected"]["claims"]
                    );
                }
                "expired" => assert_eq!(got.unwrap_err(), VerifyError::Claims(ClaimError::Expired)),
                other => panic!("{other}"),
            }
            n += 1;
        }
        // §6.1: the unsecured JWT is rejected by default.
        let unsecured = doc["examples"][1]["jwt"].as_str().unwrap();
        let v = JwtValidator::new(AlgorithmPolicy::default(), ClaimPolicy::default());
        assert_eq!(
            v.verify(unsecured, &keys, UnixTime::EPOCH).unwrap_err(),
            VerifyError::AlgorithmNotAllowed
        );
        println!("RFC 7519 [{}]: {} cases", provider.name(), n + 2);
        assert!(n + 2 >= 8, "RFC 7519 cases went missing");
    }
}

#[test]
fn rfc7517_examples_and_malformed_sets() {
    let doc = data("rfc/rfc7517_jwk_examples.json");
    for provider in all_providers() {
        // A.1: an EC `use: enc` key (skipped: not for signatures) and an RS256 key.
        let a1 = doc["examples"][0]["jwks"].to_string();
        let set = KeySet::from_jwks_json(a1.as_bytes(), &JwkOptions::PUBLISHED, provider).unwrap();
        assert_eq!((set.len(), set.skipped().len()), (1, 1));
        assert_eq!(set.keys()[0].kid(), Some("2011-04-29"));
        assert_eq!(set.keys()[0].alg(), Some(Algorithm::RS256));
        // A.2: private keys in a published set are refused key by key.
        let a2 = doc["examples"][1]["jwks"].to_string();
        let set = KeySet::from_jwks_json(a2.as_bytes(), &JwkOptions::PUBLISHED, provider).unwrap();
        assert_eq!(set.len(), 0);
        // A.3: symmetric keys: refused from a provider; as configuration, the A128KW key is not a
        // JWS key and the HMAC key loads.
        let a3 = doc["examples"][2]["jwks"].to_string();
        let set = KeySet::from_jwks_json(a3.as_bytes(), &JwkOptions::PUBLISHED, provider).unwrap();
        assert_eq!(set.len(), 0);
        let set = KeySet::from_jwks_json(a3.as_bytes(), &JwkOptions::CONFIGURED, provider).unwrap();
        assert_eq!(set.len(), 1);
        // B: x5c is ignored; n and e make the key.
        let b = json!({ "keys": [doc["examples"][3]["jwk"]] }).to_string();
        let set = KeySet::from_jwks_json(b.as_bytes(), &JwkOptions::PUBLISHED, provider).unwrap();
        assert_eq!(set.len(), 1);
        let mut n = 4;
        for c in doc["derived_invalid_jwks"]["cases"].as_array().unwrap() {
            let text = c["jwks"].to_string();
            let got = KeySet::from_jwks_json(text.as_bytes(), &JwkOptions::PUBLISHED, provider);
            let id = c["id"].as_str().unwrap();
            let input_keys = c["jwks"]["keys"].as_array().map_or(0, Vec::len);
            match c["expected"].as_str().unwrap() {
                "reject_set" => assert!(got.is_err(), "{id}"),
                "reject_key" => {
                    // The bad key is skipped (others in the set would still load).
                    let set = got.unwrap();
                    let bad = set.skipped().len();
                    assert!(bad >= 1 && set.len() + bad == input_keys, "{id}: {:?}", set.skipped());
                }
                "skip_unknown_keep_others" => {
                    let set = got.unwrap();
                    assert_eq!(set.len(), 1, "{id}");
                    assert_eq!(set.skipped().len(), 1, "{id}");
                }
                "ambiguous_kid" => {
                    // Published sets keep both keys and a token with that kid tries each
                    // (bounded); configured sets refuse duplicate kids.
                    assert_eq!(got.unwrap().len(), 2, "{id}");
                    let conf =
                        KeySet::from_jwks_json(text.as_bytes(), &JwkOptions::CONFIGURED, provider);
                    assert!(conf.is_err(), "{id}");
                }
                other => panic!("{other}"),
            }
            n += 1;
        }
        println!("RFC 7517 [{}]: {n} cases", provider.name());
        assert!(n >= 13, "RFC 7517 cases went missing");
    }
}

#[test]
fn rfc7638_thumbprints() {
    let doc = data("rfc/rfc7638_jwk_thumbprint.json");
    let mut cases: Vec<(Value, String)> = vec![(
        doc["example"]["input_jwk"].clone(),
        doc["example"]["expected"]["thumbprint_b64u"].as_str().unwrap().into(),
    )];
    for c in doc["more_thumbprints"]["cases"].as_array().unwrap() {
        cases.push((c["jwk"].clone(), c["thumbprint_b64u"].as_str().unwrap().into()));
    }
    for provider in all_providers() {
        for (jwk, want) in &cases {
            // `use` does not enter the thumbprint; drop it so that `enc` keys load.
            let mut jwk = jwk.clone();
            jwk.as_object_mut().unwrap().remove("use");
            let keys = keyset(&jwk, provider);
            assert_eq!(&base64url::encode(keys.keys()[0].thumbprint()), want, "{jwk}");
        }
        println!("RFC 7638 [{}]: {} thumbprints", provider.name(), cases.len());
        assert!(cases.len() >= 5, "RFC 7638 cases went missing");
    }
}

#[test]
fn rfc7520_cookbook() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/rfc7520-cookbook/jws");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for provider in all_providers() {
        let mut n = 0;
        for path in &files {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            match doc["output"].get("compact").and_then(Value::as_str) {
                // §4.5 detaches the payload: the compact form has an empty payload segment, so
                // put the encoded payload back, as a receiver of detached content would.
                Some(compact) if name.starts_with("4_5") => {
                    let payload =
                        base64url::encode(doc["input"]["payload"].as_str().unwrap().as_bytes());
                    let mut parts: Vec<&str> = compact.split('.').collect();
                    parts[1] = &payload;
                    assert!(
                        sig_ok(&parts.join("."), &keyset(&doc["input"]["key"], provider)),
                        "{name}"
                    );
                    n += 1;
                }
                Some(compact) => {
                    assert!(sig_ok(compact, &keyset(&doc["input"]["key"], provider)), "{name}");
                    n += 1;
                }
                // §4.6-4.8 exist only as JSON serializations (unprotected headers, several
                // signatures), which are not supported.
                None => println!("  skipped {name}: JSON serialization only"),
            }
        }
        println!("RFC 7520 cookbook [{}]: {n} compact signatures verified", provider.name());
        assert!(n >= 5, "RFC 7520 cases went missing");
    }
}

#[test]
fn oidc_discovery() {
    use oidc_core::discovery::{DiscoveryError, ProviderMetadata, discovery_url};
    let doc = data("rfc/oidc_discovery_example.json");
    let mut n = 0;
    for text in ["current_text", "older_text"] {
        let body = doc["provider_configuration_response"][text].to_string();
        let meta = ProviderMetadata::parse(body.as_bytes()).unwrap();
        let want = &doc["provider_configuration_response"]["expected"];
        assert_eq!(meta.issuer, want["issuer"].as_str().unwrap());
        assert_eq!(meta.jwks_uri, want["jwks_uri"].as_str().unwrap());
        assert_eq!(
            Value::from(meta.id_token_signing_alg_values_supported.clone()),
            want["id_token_signing_alg_values_supported"]
        );
        n += 1;
    }
    let derived = &doc["derived_cases"];
    for c in derived["discovery_url"].as_array().unwrap() {
        assert_eq!(
            discovery_url(c["issuer"].as_str().unwrap()),
            c["expected_url"].as_str().unwrap()
        );
        n += 1;
    }
    let body = doc["provider_configuration_response"]["current_text"].clone();
    for c in derived["issuer_match"].as_array().unwrap() {
        let mut d = body.clone();
        d["issuer"] = c["document_issuer"].clone();
        let meta = ProviderMetadata::parse(d.to_string().as_bytes()).unwrap();
        let got = meta.check_issuer(c["discovery_issuer"].as_str().unwrap());
        assert_eq!(got.is_ok(), c["expected"] == "accept", "{c}");
        n += 1;
    }
    for c in derived["missing_required_member"].as_array().unwrap() {
        let missing = c["missing"].as_str().unwrap();
        let got = ProviderMetadata::parse(c["document"].to_string().as_bytes());
        assert!(
            matches!(got, Err(DiscoveryError::Missing(m)) if m == missing),
            "{missing}: {got:?}"
        );
        n += 1;
    }
    println!("OIDC Discovery: {n} cases");
    assert!(n >= 16, "discovery cases went missing");
}
