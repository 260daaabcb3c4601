//! JWT verification: oidc-core against the bare signature check of each backend and against
//! `jsonwebtoken`, for RS256, PS256, ES256, EdDSA and HS256.
//!
//! Benchmark ids are `jwt_verify/<alg>/<function>`, so criterion writes its estimates to
//! `target/criterion/jwt_verify/<alg>/<function with '/' as '_'>/new/estimates.json`, which is
//! what `benches/report.py` reads. The functions:
//!
//! - `core/aws-lc`, `core/rustcrypto`: `JwtValidator::verify` (parse, header policy, key
//!   selection, signature, payload JSON, claims) with keys loaded through each provider.
//! - `bare/aws-lc`, `bare/rustcrypto`: only the signature check over the same signing input and
//!   the same (already base64url-decoded) signature, with a key parsed at setup. The bytes-to-
//!   signature conversion a verifier must do (`Signature::try_from`/`from_slice`) is included,
//!   as aws-lc's `verify_sig(&[u8], &[u8])` includes it.
//! - `jsonwebtoken`: `jsonwebtoken::decode::<serde_json::Value>` with a `DecodingKey` built
//!   once and a `Validation` checking the same algorithm, `iss`, `aud` and `exp`.
//! - `cached`: `TokenCache::verify` on a token already in the cache (every iteration a hit).
//!
//! Setup checks that every path accepts the token, so no bench measures an error path.

use std::hint::black_box;

use aws_lc_rs::signature::{self as lc, KeyPair as _, ParsedPublicKey};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit as _, Mac as _};
use jsonwebtoken as jwt;
use oidc_benches as fx;
use oidc_core::crypto::{AWS_LC, CryptoProvider, RUST_CRYPTO};
use oidc_core::jose::{CacheConfig, CacheOutcome, JwkOptions, KeySet, TokenCache, VerifyingKey};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::traits::PublicKeyParts as _;
use sha2::Sha256;

/// The algorithms benched, in report order.
const ALGS: [&str; 5] = ["RS256", "PS256", "ES256", "EdDSA", "HS256"];

/// Bare aws-lc-rs verification with a key parsed at setup.
enum BareAwsLc {
    Signature(ParsedPublicKey),
    /// Boxed (the key is over 1 KiB), as it is behind oidc-core's `Box<dyn Verifier>` too.
    Hmac(Box<aws_lc_rs::hmac::Key>),
}

impl BareAwsLc {
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Signature(key) => key.verify_sig(msg, sig).is_ok(),
            Self::Hmac(key) => aws_lc_rs::hmac::verify(key, msg, sig).is_ok(),
        }
    }
}

/// Bare RustCrypto verification with a key built at setup.
enum BareRustCrypto {
    Rs256(rsa::pkcs1v15::VerifyingKey<Sha256>),
    Ps256(rsa::pss::VerifyingKey<Sha256>),
    Es256(p256::ecdsa::VerifyingKey),
    EdDsa(ed25519_dalek::VerifyingKey),
    /// Keyed once; each check clones the keyed state, as oidc-core does.
    Hs256(Hmac<Sha256>),
}

impl BareRustCrypto {
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Rs256(key) => rsa::pkcs1v15::Signature::try_from(sig)
                .is_ok_and(|s| rsa::signature::Verifier::verify(key, msg, &s).is_ok()),
            Self::Ps256(key) => rsa::pss::Signature::try_from(sig)
                .is_ok_and(|s| rsa::signature::Verifier::verify(key, msg, &s).is_ok()),
            Self::Es256(key) => {
                p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| key.verify(msg, &s).is_ok())
            }
            Self::EdDsa(key) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| key.verify_strict(msg, &s).is_ok()),
            Self::Hs256(key) => {
                let mut mac = key.clone();
                mac.update(msg);
                mac.verify_slice(sig).is_ok()
            }
        }
    }
}

/// Where the public half of a case's key ends up.
enum PublicKey {
    /// A JWKS document (`{"keys":[...]}`) with the one public key.
    Jwks(String),
    /// The HS256 secret, loaded with `VerifyingKey::hmac`.
    Hmac(&'static [u8]),
}

/// One algorithm: a signed token and every verifier for it.
struct Case {
    alg: &'static str,
    token: String,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    public: PublicKey,
    bare_aws_lc: BareAwsLc,
    bare_rust_crypto: BareRustCrypto,
    jwt_key: jwt::DecodingKey,
    jwt_validation: jwt::Validation,
}

impl Case {
    /// The key set through `provider`.
    fn keys(&self, provider: &dyn CryptoProvider) -> KeySet {
        match &self.public {
            PublicKey::Jwks(json) => {
                let keys =
                    KeySet::from_jwks_json(json.as_bytes(), &JwkOptions::PUBLISHED, provider)
                        .expect("bench JWKS loads");
                assert!(
                    keys.skipped().is_empty() && keys.len() == 1,
                    "{}: {:?}",
                    self.alg,
                    keys.skipped()
                );
                keys
            }
            PublicKey::Hmac(secret) => {
                let key = VerifyingKey::hmac(secret, provider)
                    .expect("bench HMAC key loads")
                    .with_kid(Some(kid(self.alg)));
                KeySet::from_keys(vec![key])
            }
        }
    }
}

fn kid(alg: &str) -> String {
    format!("{}-2026-01", alg.to_ascii_lowercase())
}

fn jwt_validation(alg: jwt::Algorithm) -> jwt::Validation {
    let mut v = jwt::Validation::new(alg);
    v.leeway = 0;
    v.set_issuer(&[fx::ISSUER]);
    v.set_audience(&[fx::AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v
}

fn rsa_jwks(alg: &str, n: &[u8], e: &[u8]) -> String {
    format!(
        r#"{{"keys":[{{"kty":"RSA","use":"sig","alg":"{alg}","kid":"{kid}","n":"{n}","e":"{e}"}}]}}"#,
        kid = kid(alg),
        n = fx::b64url(n),
        e = fx::b64url(e),
    )
}

/// RS256 or PS256 with the fixed 2048-bit key, signed by aws-lc-rs.
fn rsa_case(alg: &'static str) -> Case {
    let pss = alg == "PS256";
    let pair = lc::RsaKeyPair::from_pkcs8(&fx::b64url_decode(fx::RSA_2048_PKCS8))
        .expect("fixture RSA key");
    let signing_input = fx::signing_input(alg, &kid(alg));
    let mut signature = vec![0; pair.public_modulus_len()];
    let padding: &'static dyn lc::RsaEncoding =
        if pss { &lc::RSA_PSS_SHA256 } else { &lc::RSA_PKCS1_SHA256 };
    pair.sign(
        padding,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .expect("RSA signing");

    // The public key as PKCS#1 `RSAPublicKey` DER: what aws-lc parses, and where n and e
    // come from.
    let pkcs1 = pair.public_key().as_ref();
    let rc_key = rsa::PublicKey::from_pkcs1_der(pkcs1).expect("PKCS#1 public key");
    let (n, e) = (rc_key.n_bytes(), rc_key.e_bytes());
    let (lc_alg, bare_rust_crypto, jwt_alg): (&'static lc::RsaParameters, _, _) = if pss {
        (
            &lc::RSA_PSS_2048_8192_SHA256,
            BareRustCrypto::Ps256(rsa::pss::VerifyingKey::new(rc_key)),
            jwt::Algorithm::PS256,
        )
    } else {
        (
            &lc::RSA_PKCS1_2048_8192_SHA256,
            BareRustCrypto::Rs256(rsa::pkcs1v15::VerifyingKey::new(rc_key)),
            jwt::Algorithm::RS256,
        )
    };
    Case {
        alg,
        token: fx::compact(&signing_input, &signature),
        signing_input: signing_input.into_bytes(),
        signature,
        public: PublicKey::Jwks(rsa_jwks(alg, &n, &e)),
        bare_aws_lc: BareAwsLc::Signature(
            ParsedPublicKey::new(lc_alg, pkcs1).expect("aws-lc RSA key"),
        ),
        bare_rust_crypto,
        jwt_key: jwt::DecodingKey::from_rsa_raw_components(&n, &e),
        jwt_validation: jwt_validation(jwt_alg),
    }
}

/// ES256 with the fixed P-256 scalar, signed by RustCrypto (RFC 6979, so deterministic).
fn es256_case() -> Case {
    let alg = "ES256";
    let signing_key = p256::ecdsa::SigningKey::from_slice(&fx::P256_SCALAR).expect("P-256 key");
    let signing_input = fx::signing_input(alg, &kid(alg));
    let signature: p256::ecdsa::Signature = signing_key.sign(signing_input.as_bytes());
    let signature = signature.to_bytes().to_vec();
    let verifying_key = *signing_key.verifying_key();
    let point = verifying_key.to_sec1_point(false);
    let sec1 = point.as_bytes();
    let (x, y) = sec1[1..].split_at(32);
    let (x, y) = (fx::b64url(x), fx::b64url(y));
    let jwks = format!(
        r#"{{"keys":[{{"kty":"EC","use":"sig","alg":"ES256","kid":"{kid}","crv":"P-256","x":"{x}","y":"{y}"}}]}}"#,
        kid = kid(alg),
    );
    Case {
        alg,
        token: fx::compact(&signing_input, &signature),
        signing_input: signing_input.into_bytes(),
        signature,
        public: PublicKey::Jwks(jwks),
        bare_aws_lc: BareAwsLc::Signature(
            ParsedPublicKey::new(&lc::ECDSA_P256_SHA256_FIXED, sec1).expect("aws-lc P-256 key"),
        ),
        bare_rust_crypto: BareRustCrypto::Es256(verifying_key),
        jwt_key: jwt::DecodingKey::from_ec_components(&x, &y).expect("jsonwebtoken EC key"),
        jwt_validation: jwt_validation(jwt::Algorithm::ES256),
    }
}

/// EdDSA (Ed25519) with the fixed seed, signed by aws-lc-rs.
fn eddsa_case() -> Case {
    let alg = "EdDSA";
    let pair = lc::Ed25519KeyPair::from_seed_unchecked(&fx::ED25519_SEED).expect("Ed25519 seed");
    let signing_input = fx::signing_input(alg, &kid(alg));
    let signature = pair.sign(signing_input.as_bytes()).as_ref().to_vec();
    let public: [u8; 32] = pair.public_key().as_ref().try_into().expect("32-byte Ed25519 key");
    let x = fx::b64url(&public);
    let jwks = format!(
        r#"{{"keys":[{{"kty":"OKP","use":"sig","alg":"EdDSA","kid":"{kid}","crv":"Ed25519","x":"{x}"}}]}}"#,
        kid = kid(alg),
    );
    Case {
        alg,
        token: fx::compact(&signing_input, &signature),
        signing_input: signing_input.into_bytes(),
        signature,
        public: PublicKey::Jwks(jwks),
        bare_aws_lc: BareAwsLc::Signature(
            ParsedPublicKey::new(&lc::ED25519, public).expect("aws-lc Ed25519 key"),
        ),
        bare_rust_crypto: BareRustCrypto::EdDsa(
            ed25519_dalek::VerifyingKey::from_bytes(&public).expect("dalek Ed25519 key"),
        ),
        jwt_key: jwt::DecodingKey::from_ed_components(&x).expect("jsonwebtoken Ed25519 key"),
        jwt_validation: jwt_validation(jwt::Algorithm::EdDSA),
    }
}

/// HS256 with the fixed 32-byte secret, signed by aws-lc-rs.
fn hs256_case() -> Case {
    let alg = "HS256";
    let secret: &'static [u8] = &fx::HMAC_SECRET;
    let lc_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let signing_input = fx::signing_input(alg, &kid(alg));
    let signature = aws_lc_rs::hmac::sign(&lc_key, signing_input.as_bytes()).as_ref().to_vec();
    Case {
        alg,
        token: fx::compact(&signing_input, &signature),
        signing_input: signing_input.into_bytes(),
        signature,
        public: PublicKey::Hmac(secret),
        bare_aws_lc: BareAwsLc::Hmac(Box::new(lc_key)),
        bare_rust_crypto: BareRustCrypto::Hs256(
            Hmac::<Sha256>::new_from_slice(secret).expect("HMAC key"),
        ),
        jwt_key: jwt::DecodingKey::from_secret(secret),
        jwt_validation: jwt_validation(jwt::Algorithm::HS256),
    }
}

fn case(alg: &'static str) -> Case {
    match alg {
        "RS256" | "PS256" => rsa_case(alg),
        "ES256" => es256_case(),
        "EdDSA" => eddsa_case(),
        "HS256" => hs256_case(),
        _ => unreachable!("unknown bench algorithm {alg}"),
    }
}

fn jwt_verify(c: &mut Criterion) {
    // Explicit, so the comparison does not depend on which jsonwebtoken features some other
    // crate in the build turns on. Fails only if already installed, which is fine.
    let _ = jwt::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let validator = fx::validator();
    let now = fx::now();
    let mut group = c.benchmark_group("jwt_verify");
    for alg in ALGS {
        let case = case(alg);
        let token = case.token.as_str();
        let (msg, sig) = (case.signing_input.as_slice(), case.signature.as_slice());
        let keys_aws_lc = case.keys(&AWS_LC);
        let keys_rust_crypto = case.keys(&RUST_CRYPTO);

        // Every path accepts the token before anything is timed.
        let verified = validator
            .verify(token, &keys_aws_lc, now)
            .unwrap_or_else(|e| panic!("{alg} core/aws-lc: {e}"));
        assert_eq!(verified.header().alg.name(), alg);
        assert_eq!(verified.payload_json(), fx::claims_json().as_bytes());
        validator
            .verify(token, &keys_rust_crypto, now)
            .unwrap_or_else(|e| panic!("{alg} core/rustcrypto: {e}"));
        assert!(case.bare_aws_lc.verify(msg, sig), "{alg} bare/aws-lc");
        assert!(case.bare_rust_crypto.verify(msg, sig), "{alg} bare/rustcrypto");
        let mut bad = sig.to_vec();
        bad[0] ^= 1;
        assert!(!case.bare_aws_lc.verify(msg, &bad), "{alg} bare/aws-lc accepts junk");
        assert!(!case.bare_rust_crypto.verify(msg, &bad), "{alg} bare/rustcrypto accepts junk");
        jwt::decode::<serde_json::Value>(token, &case.jwt_key, &case.jwt_validation)
            .unwrap_or_else(|e| panic!("{alg} jsonwebtoken: {e}"));
        let mut cache = TokenCache::new(CacheConfig::default(), 1);
        for expected in [CacheOutcome::Miss, CacheOutcome::Hit] {
            let (_, outcome) = cache
                .verify(&validator, token, &keys_aws_lc, now)
                .unwrap_or_else(|e| panic!("{alg} cached: {e}"));
            assert_eq!(outcome, expected, "{alg} cached");
        }

        group.bench_function(BenchmarkId::new(alg, "core/aws-lc"), |b| {
            b.iter(|| validator.verify(black_box(token), &keys_aws_lc, now));
        });
        group.bench_function(BenchmarkId::new(alg, "core/rustcrypto"), |b| {
            b.iter(|| validator.verify(black_box(token), &keys_rust_crypto, now));
        });
        group.bench_function(BenchmarkId::new(alg, "bare/aws-lc"), |b| {
            b.iter(|| case.bare_aws_lc.verify(black_box(msg), black_box(sig)));
        });
        group.bench_function(BenchmarkId::new(alg, "bare/rustcrypto"), |b| {
            b.iter(|| case.bare_rust_crypto.verify(black_box(msg), black_box(sig)));
        });
        group.bench_function(BenchmarkId::new(alg, "jsonwebtoken"), |b| {
            b.iter(|| {
                jwt::decode::<serde_json::Value>(
                    black_box(token),
                    &case.jwt_key,
                    &case.jwt_validation,
                )
            });
        });
        group.bench_function(BenchmarkId::new(alg, "cached"), |b| {
            b.iter(|| cache.verify(&validator, black_box(token), &keys_aws_lc, now));
        });
        let (hits, misses) = cache.stats();
        assert_eq!(misses, 1, "{alg} cached: {hits} hits, {misses} misses");
    }
    group.finish();
}

criterion_group!(benches, jwt_verify);
criterion_main!(benches);
