//! Wycheproof signature and MAC files for every supported JWS algorithm, through the same key
//! loading (PEM / SPKI) and verification path tokens use.

use oidc_core::crypto::{CryptoProvider, all_providers};
use oidc_core::jose::pem::parse_public_key_pem;
use oidc_core::jose::{Algorithm, KeyPolicy, VerifyingKey};
use serde_json::Value;

use crate::{data, hex};

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

/// Runs one file: `key` loads a group's key, `alg` names the JWS algorithm for the group
/// (`None` = the group's parameters are not a JOSE algorithm), `expect` maps a test to whether
/// it must verify.
fn run(
    file: &str,
    provider: &dyn CryptoProvider,
    key: impl Fn(&Value, &dyn CryptoProvider) -> Option<VerifyingKey>,
    alg: impl Fn(&Value) -> Option<Algorithm>,
    mut expect: impl FnMut(&Value, &Value) -> bool,
) -> Tally {
    let doc = data(&format!("wycheproof/{file}"));
    let mut tally = Tally::default();
    for group in doc["testGroups"].as_array().unwrap() {
        let loaded = key(group, provider);
        let alg = alg(group);
        for t in group["tests"].as_array().unwrap() {
            let id = &t["tcId"];
            let msg = hex(t["msg"].as_str().unwrap());
            let sig = hex(t.get("sig").or_else(|| t.get("tag")).and_then(Value::as_str).unwrap());
            let ok = match (&loaded, alg) {
                (Some(k), Some(a)) => k.verify(a, &msg, &sig).is_ok(),
                _ => false,
            };
            let want = expect(group, t);
            assert_eq!(
                ok,
                want,
                "{file} tcId {id} ({}) on {}: {:?}",
                t["comment"],
                provider.name(),
                t["flags"]
            );
            match t["result"].as_str().unwrap() {
                "valid" => tally.valid += 1,
                "invalid" => tally.invalid += 1,
                _ => tally.acceptable += 1,
            }
        }
    }
    tally
}

fn pem_key(group: &Value, provider: &dyn CryptoProvider) -> Option<VerifyingKey> {
    let pem = group["publicKeyPem"].as_str()?;
    let policy = KeyPolicy { min_rsa_bits: 2048 };
    Some(parse_public_key_pem(pem, &policy, provider).expect("wycheproof key loads"))
}

fn valid(_: &Value, t: &Value) -> bool {
    t["result"] == "valid"
}

fn report(what: &str, provider: &dyn CryptoProvider, t: &Tally) {
    println!(
        "{what} [{}]: {} cases ({} valid verified, {} invalid rejected, {} acceptable)",
        provider.name(),
        t.valid + t.invalid + t.acceptable,
        t.valid,
        t.invalid,
        t.acceptable
    );
    assert!(
        t.valid + t.invalid + t.acceptable >= 50 && t.valid > 0,
        "{what}: too few cases; a test group went missing"
    );
}

#[test]
fn ecdsa_p1363() {
    for provider in all_providers() {
        for (file, alg) in [
            ("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::ES256),
            ("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::ES384),
            ("ecdsa_secp521r1_sha512_p1363_test.json", Algorithm::ES512),
        ] {
            let t = run(file, provider, pem_key, |_| Some(alg), valid);
            assert_eq!(t.acceptable, 0);
            report(file, provider, &t);
        }
    }
}

fn rsa_alg(prefix: &str, sha: &str) -> Option<Algorithm> {
    Algorithm::from_name(&format!("{prefix}{}", sha.strip_prefix("SHA-")?))
}

#[test]
fn rsa_pkcs1v15() {
    for provider in all_providers() {
        for bits in [2048, 3072, 4096] {
            for sha in [256, 384, 512] {
                let file = format!("rsa_signature_{bits}_sha{sha}_test.json");
                // The one `acceptable` case per file is a DigestInfo without the NULL parameter
                // (flag MissingNull). RFC 8017 §9.2 encodes the NULL; we reject the variant, as
                // both backends' strict encoders do, so there is one byte string per signature.
                let t = run(
                    &file,
                    provider,
                    pem_key,
                    |g| rsa_alg("RS", g["sha"].as_str().unwrap()),
                    valid,
                );
                report(&file, provider, &t);
            }
        }
    }
}

#[test]
fn rsa_pss() {
    for provider in all_providers() {
        for file in [
            "rsa_pss_2048_sha256_mgf1_32_test.json",
            "rsa_pss_2048_sha384_mgf1_48_test.json",
            "rsa_pss_3072_sha256_mgf1_32_test.json",
            "rsa_pss_4096_sha256_mgf1_32_test.json",
            "rsa_pss_4096_sha384_mgf1_48_test.json",
            "rsa_pss_4096_sha512_mgf1_64_test.json",
        ] {
            let t =
                run(file, provider, pem_key, |g| rsa_alg("PS", g["sha"].as_str().unwrap()), valid);
            report(file, provider, &t);
        }
    }
}

/// RFC 7518 §3.5: PS256/384/512 use MGF1 with the same hash and a salt as long as the hash.
/// Of the 150 valid signatures with other parameter sets, exactly the JOSE ones may verify.
#[test]
fn rsa_pss_misc_only_jose_parameters_verify() {
    for provider in all_providers() {
        let jose = |g: &Value| {
            let sha = g["sha"].as_str().unwrap();
            let len = match sha {
                "SHA-256" => 32,
                "SHA-384" => 48,
                "SHA-512" => 64,
                _ => return false,
            };
            g["mgfSha"] == sha && g["sLen"] == len
        };
        let mut verified = 0;
        let t = run(
            "rsa_pss_misc_test.json",
            provider,
            pem_key,
            |g| rsa_alg("PS", g["sha"].as_str().unwrap()),
            |g, t| {
                let v = t["result"] == "valid" && jose(g);
                verified += usize::from(v);
                v
            },
        );
        assert!(verified > 0, "some JOSE parameter set must be in the misc file");
        report("rsa_pss_misc_test.json", provider, &t);
        println!(
            "  of which {verified} use a JOSE parameter set and verified; the rest were rejected"
        );
    }
}

#[test]
fn ed25519() {
    for provider in all_providers() {
        let key = |g: &Value, p: &dyn CryptoProvider| {
            VerifyingKey::ed25519(&hex(g["publicKey"]["pk"].as_str().unwrap()), p).ok()
        };
        let t = run("ed25519_test.json", provider, key, |_| Some(Algorithm::EdDSA), valid);
        report("ed25519_test.json", provider, &t);
    }
}

/// HMAC: groups with full-length tags are what JWS uses and must match Wycheproof exactly.
/// Groups with truncated tags are out of JOSE's scope (RFC 7518 §3.2 has no truncation): every
/// truncated tag, even a correct one, must be rejected.
#[test]
fn hmac() {
    for provider in all_providers() {
        for (file, alg, full) in [
            ("hmac_sha256_test.json", Algorithm::HS256, 256),
            ("hmac_sha384_test.json", Algorithm::HS384, 384),
            ("hmac_sha512_test.json", Algorithm::HS512, 512),
        ] {
            let doc = data(&format!("wycheproof/{file}"));
            let (mut checked, mut truncated) = (0, 0);
            for group in doc["testGroups"].as_array().unwrap() {
                let is_full = group["tagSize"] == full;
                for t in group["tests"].as_array().unwrap() {
                    let key = hex(t["key"].as_str().unwrap());
                    let msg = hex(t["msg"].as_str().unwrap());
                    let tag = hex(t["tag"].as_str().unwrap());
                    // Provider level: the HS* minimum key length is a key-policy matter tested
                    // with the JWK vectors.
                    let ok = provider
                        .hmac_key(&key)
                        .map(|k| k.verify(alg, &msg, &tag).is_ok())
                        .unwrap_or(false);
                    let want = is_full && t["result"] == "valid";
                    assert_eq!(ok, want, "{file} tcId {} on {}", t["tcId"], provider.name());
                    checked += 1;
                    truncated += usize::from(!is_full);
                }
            }
            println!(
                "{file} [{}]: {checked} cases ({truncated} with truncated tags, all rejected)",
                provider.name()
            );
            assert!(checked >= 50, "{file}: too few cases; a test group went missing");
        }
    }
}
