//! JWK and JWK Set parsing (RFC 7517, RFC 7518 §6, RFC 8037) into [`VerifyingKey`]s.
//!
//! A set is rejected only when its structure is wrong; a single bad or foreign key is skipped
//! (and reported in [`KeySet::skipped`]) so one odd key published by a provider — an encryption
//! key, an X25519 key, a key type from the future — does not take the whole set down.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use super::alg::{Algorithm, Curve, KeyFamily};
use super::base64url;
use super::json::{self, JsonError, Object};
use super::jws::Header;
use super::key::{KeyError, KeyPolicy, VerifyingKey};
use crate::crypto::CryptoProvider;

/// Upper bound on keys in a set; bounds parsing work and memory for hostile documents.
pub const MAX_KEYS: usize = 64;
/// Upper bound on keys tried for one token (duplicate `kid`s, or no `kid`).
pub const MAX_CANDIDATES: usize = 4;
/// Upper bound on one base64url key member (an 8192-bit modulus is 1366 characters).
const MAX_MEMBER_LEN: usize = 2048;

/// Where a key set comes from, which decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Fetched from a provider's `jwks_uri`: public keys only.
    Published,
    /// Written by the operator: may hold symmetric (`oct`) keys, but then only those, and
    /// `kid`s must be unique.
    Configured,
}

/// Options for loading a key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwkOptions {
    /// Key-strength policy.
    pub policy: KeyPolicy,
    /// Where the set comes from.
    pub source: KeySource,
}

impl JwkOptions {
    /// Options for a provider's published JWKS with the default policy.
    pub const PUBLISHED: Self = Self { policy: KeyPolicy::DEFAULT, source: KeySource::Published };
    /// Options for an operator-configured key set with the default policy.
    pub const CONFIGURED: Self = Self { policy: KeyPolicy::DEFAULT, source: KeySource::Configured };
}

/// Why a whole key set was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// Not a JSON object, or malformed JSON.
    Json(JsonError),
    /// No `keys` member.
    MissingKeys,
    /// `keys` is not an array.
    KeysNotArray,
    /// More than [`MAX_KEYS`] keys.
    TooManyKeys,
    /// A configured set mixes symmetric and asymmetric keys (ambiguous; rejected).
    MixedKeyTypes,
    /// A configured set repeats a `kid`.
    DuplicateKid,
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "JWKS: {e}"),
            Self::MissingKeys => f.write_str("JWKS has no keys member"),
            Self::KeysNotArray => f.write_str("JWKS keys is not an array"),
            Self::TooManyKeys => f.write_str("JWKS has too many keys"),
            Self::MixedKeyTypes => f.write_str("key set mixes symmetric and asymmetric keys"),
            Self::DuplicateKid => f.write_str("key set repeats a kid"),
        }
    }
}

/// A key that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the `keys` array.
    pub index: usize,
    /// The key's `kid`, if it had a string one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: KeyError,
}

/// A set of loaded verification keys.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    skipped: Vec<SkippedKey>,
}

impl KeySet {
    /// A set of already loaded keys (for example one PEM `public_key`).
    pub fn from_keys(keys: Vec<VerifyingKey>) -> Self {
        Self { keys, skipped: Vec::new() }
    }

    /// Parses a JWK Set document.
    pub fn from_jwks_json(
        bytes: &[u8],
        opts: &JwkOptions,
        provider: &dyn CryptoProvider,
    ) -> Result<Self, JwksError> {
        let obj = json::parse_object(bytes).map_err(JwksError::Json)?;
        Self::from_jwks_object(&obj, opts, provider)
    }

    /// Loads a JWK Set from a parsed JSON object.
    pub fn from_jwks_object(
        obj: &Object,
        opts: &JwkOptions,
        provider: &dyn CryptoProvider,
    ) -> Result<Self, JwksError> {
        let keys = match obj.get("keys") {
            None => return Err(JwksError::MissingKeys),
            Some(Value::Array(keys)) => keys,
            Some(_) => return Err(JwksError::KeysNotArray),
        };
        if keys.len() > MAX_KEYS {
            return Err(JwksError::TooManyKeys);
        }
        let mut set = Self::default();
        for (index, jwk) in keys.iter().enumerate() {
            let kid = jwk.get("kid").and_then(Value::as_str).map(String::from);
            let loaded = match jwk {
                Value::Object(o) => parse_jwk(o, opts, provider),
                _ => Err(KeyError::InvalidMember("keys")),
            };
            match loaded {
                Ok(key) => set.keys.push(key),
                Err(reason) => set.skipped.push(SkippedKey { index, kid, reason }),
            }
        }
        if opts.source == KeySource::Configured {
            // Duplicate kids are checked on the input, so that a skipped duplicate still makes
            // the operator's set ambiguous.
            let kids: Vec<&str> = keys.iter().filter_map(|k| k.get("kid")?.as_str()).collect();
            if kids.iter().enumerate().any(|(i, a)| kids.iter().skip(i + 1).any(|b| a == b)) {
                return Err(JwksError::DuplicateKid);
            }
            let symmetric = set.keys.iter().filter(|k| k.family() == KeyFamily::Hmac).count();
            let mixed_in_input =
                keys.iter().any(|k| k.get("kty").and_then(Value::as_str) == Some("oct"))
                    && keys.iter().any(|k| k.get("kty").and_then(Value::as_str) != Some("oct"));
            if mixed_in_input || (symmetric != 0 && symmetric != set.keys.len()) {
                return Err(JwksError::MixedKeyTypes);
            }
        }
        Ok(set)
    }

    /// The loaded keys.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// The keys that were skipped, with reasons (for logs).
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// Number of loaded keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key was loaded.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether some loaded key has this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// Whether some loaded key has this thumbprint.
    pub fn contains_thumbprint(&self, thumbprint: &[u8; 32]) -> bool {
        self.keys.iter().any(|k| k.thumbprint() == thumbprint)
    }

    /// The keys to try for a token with this header, best first, at most [`MAX_CANDIDATES`]:
    /// keys that [permit](VerifyingKey::permits) the token's `alg` and whose `kid` equals the
    /// token's, then keys without a `kid` (a single configured key, say). A token without a
    /// `kid` may be tried against every permitting key.
    pub fn candidates<'s>(
        &'s self,
        header: &'s Header,
    ) -> impl Iterator<Item = &'s VerifyingKey> + 's {
        let alg = header.alg;
        let kid = header.kid.as_deref();
        let permitted = move |k: &&VerifyingKey| alg != Algorithm::None && k.permits(alg);
        let exact =
            self.keys.iter().filter(permitted).filter(move |k| kid.is_some() && k.kid() == kid);
        let loose =
            self.keys.iter().filter(permitted).filter(move |k| kid.is_none() || k.kid().is_none());
        exact.chain(loose).take(MAX_CANDIDATES)
    }
}

/// Loads one JWK.
pub fn parse_jwk(
    jwk: &Object,
    opts: &JwkOptions,
    provider: &dyn CryptoProvider,
) -> Result<VerifyingKey, KeyError> {
    let kty = str_member(jwk, "kty")?.ok_or(KeyError::MissingMember("kty"))?;
    if let Some(u) = str_member(jwk, "use")?
        && u != "sig"
    {
        return Err(KeyError::NotForSignatures);
    }
    if let Some(ops) = jwk.get("key_ops") {
        let Value::Array(ops) = ops else {
            return Err(KeyError::InvalidMember("key_ops"));
        };
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Err(KeyError::NotForVerification);
        }
    }
    let alg = match str_member(jwk, "alg")? {
        None => None,
        Some(name) => match Algorithm::from_name(name) {
            Some(Algorithm::None) | None => return Err(KeyError::UnusableAlgorithm),
            Some(a) => Some(a),
        },
    };
    let kid = str_member(jwk, "kid")?.map(String::from);
    let has_private = |names: &[&str]| names.iter().any(|n| jwk.contains_key(*n));
    let key = match kty {
        "RSA" => {
            if has_private(&["d", "p", "q", "dp", "dq", "qi", "oth"]) {
                return Err(KeyError::PrivateKeyMaterial);
            }
            let n = b64_member(jwk, "n")?;
            let e = b64_member(jwk, "e")?;
            // RFC 7518 §6.3.1.1 asks for minimal octets, but providers publish moduli with a
            // leading zero (Yahoo does); the value is unambiguous, so the zeros are stripped.
            VerifyingKey::rsa(&n, &e, &opts.policy, provider)?
        }
        "EC" => {
            if has_private(&["d"]) {
                return Err(KeyError::PrivateKeyMaterial);
            }
            let crv = str_member(jwk, "crv")?.ok_or(KeyError::MissingMember("crv"))?;
            let curve = Curve::from_name(crv).ok_or(KeyError::UnsupportedCurve)?;
            let x = b64_member(jwk, "x")?;
            let y = b64_member(jwk, "y")?;
            VerifyingKey::ec(curve, &x, &y, provider)?
        }
        "OKP" => {
            if has_private(&["d"]) {
                return Err(KeyError::PrivateKeyMaterial);
            }
            let crv = str_member(jwk, "crv")?.ok_or(KeyError::MissingMember("crv"))?;
            if crv != "Ed25519" {
                return Err(KeyError::UnsupportedCurve);
            }
            VerifyingKey::ed25519(&b64_member(jwk, "x")?, provider)?
        }
        "oct" => {
            if opts.source != KeySource::Configured {
                return Err(KeyError::SymmetricNotAllowed);
            }
            VerifyingKey::hmac(&b64_member(jwk, "k")?, provider)?
        }
        _ => return Err(KeyError::UnsupportedKeyType),
    };
    key.with_kid(kid).with_alg(alg)
}

fn str_member<'a>(jwk: &'a Object, name: &'static str) -> Result<Option<&'a str>, KeyError> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KeyError::InvalidMember(name)),
    }
}

fn b64_member(jwk: &Object, name: &'static str) -> Result<Vec<u8>, KeyError> {
    let s = str_member(jwk, name)?.ok_or(KeyError::MissingMember(name))?;
    base64url::decode_limited(s.as_bytes(), MAX_MEMBER_LEN)
        .map_err(|_| KeyError::InvalidMember(name))
}
