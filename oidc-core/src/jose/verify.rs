//! JWT verification: structure, algorithm policy, key selection, signature, then claims.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

use super::alg::Algorithm;
use once_cell::race::OnceBox;

use super::claims::{ClaimError, ClaimPolicy, PayloadError, RegisteredClaims, ValidityWindow};
use super::json::{self, Object};
use super::jwk::KeySet;
use super::jws::{CompactJws, Header, JwsError, JwsLimits};
use crate::time::UnixTime;

/// Which algorithms a validator accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlgorithmPolicy {
    /// Accepted signing algorithms; empty means every algorithm in [`Algorithm::SIGNED`] (each
    /// still only with a key of its own family).
    pub allowed: Vec<Algorithm>,
    /// Accept unsecured (`alg: none`) tokens. Only for the `accept_none_alg` option on ID tokens;
    /// never for bearer tokens.
    pub allow_none: bool,
}

impl AlgorithmPolicy {
    /// Whether a token with `alg` may be considered at all.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        if alg == Algorithm::None {
            return self.allow_none;
        }
        self.allowed.is_empty() || self.allowed.contains(&alg)
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a well-formed compact JWS with an acceptable header.
    Malformed(JwsError),
    /// The algorithm is outside the policy (this includes `none` unless allowed).
    AlgorithmNotAllowed,
    /// The token names a `kid` that is not in the key set (a refetch may help).
    UnknownKid,
    /// No key in the set may verify this token's algorithm.
    NoSuitableKey,
    /// No candidate key verified the signature.
    BadSignature,
    /// The verified payload is not a JSON object without duplicate members.
    Payload,
    /// A claim check failed.
    Claims(ClaimError),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "malformed token: {e}"),
            Self::AlgorithmNotAllowed => f.write_str("algorithm not allowed"),
            Self::UnknownKid => f.write_str("unknown kid"),
            Self::NoSuitableKey => f.write_str("no key for this algorithm"),
            Self::BadSignature => f.write_str("bad signature"),
            Self::Payload => f.write_str("payload is not a JSON object"),
            Self::Claims(e) => write!(f, "{e}"),
        }
    }
}

impl From<JwsError> for VerifyError {
    fn from(e: JwsError) -> Self {
        Self::Malformed(e)
    }
}

impl From<ClaimError> for VerifyError {
    fn from(e: ClaimError) -> Self {
        Self::Claims(e)
    }
}

/// A token whose signature and claims were accepted.
#[derive(Debug)]
pub struct VerifiedToken {
    header: Header,
    registered: RegisteredClaims,
    /// The whole claims object, parsed on first use (most requests never need it).
    claims: OnceBox<Object>,
    /// The payload in standard base64 (what APISIX sends upstream as `X-Userinfo`), made on
    /// first use and kept, so cache hits do not re-encode it.
    payload_base64: OnceBox<String>,
    payload: Vec<u8>,
    window: ValidityWindow,
    iat_bound: bool,
    key: Option<[u8; 32]>,
}

impl VerifiedToken {
    /// The protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The registered claims (`iss`, `sub`, `aud`, `azp`, `nonce`, `exp`, `nbf`, `iat`).
    pub fn registered(&self) -> &RegisteredClaims {
        &self.registered
    }

    /// The whole claims set, parsed strictly on first use. Fails only if a nested member
    /// repeats a name (the top level was checked during verification).
    pub fn claims(&self) -> Result<&Object, VerifyError> {
        if let Some(c) = self.claims.get() {
            return Ok(c);
        }
        let parsed = json::parse_object(&self.payload).map_err(|_| VerifyError::Payload)?;
        Ok(self.claims.get_or_init(|| alloc::boxed::Box::new(parsed)))
    }

    /// The payload bytes exactly as signed (a JSON object).
    pub fn payload_json(&self) -> &[u8] {
        &self.payload
    }

    /// The payload in standard (padded) base64, computed once.
    pub fn payload_base64(&self) -> &str {
        self.payload_base64.get_or_init(|| {
            use base64::Engine as _;
            alloc::boxed::Box::new(base64::engine::general_purpose::STANDARD.encode(&self.payload))
        })
    }

    /// When the token is valid.
    pub fn window(&self) -> ValidityWindow {
        self.window
    }

    /// Thumbprint of the key that verified it (`None` for an allowed `alg: none`).
    pub fn key_thumbprint(&self) -> Option<&[u8; 32]> {
        self.key.as_ref()
    }

    /// Re-checks the time claims at `now`.
    pub fn check_time(&self, now: UnixTime) -> Result<(), ClaimError> {
        self.window.check(now, self.iat_bound)
    }

    /// A string claim, if present and a string.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        match name {
            "iss" => self.registered.iss.as_deref(),
            "sub" => self.registered.sub.as_deref(),
            "azp" => self.registered.azp.as_deref(),
            "nonce" => self.registered.nonce.as_deref(),
            _ => self.claims().ok()?.get(name).and_then(|v| v.as_str()),
        }
    }
}

/// A reusable verifier: algorithm policy, claim policy and limits, with a fingerprint of all
/// of them for cache keys.
#[derive(Debug, Clone)]
pub struct JwtValidator {
    algorithms: AlgorithmPolicy,
    claims: ClaimPolicy,
    limits: JwsLimits,
    fingerprint: [u8; 32],
}

impl JwtValidator {
    /// A validator with default JWS limits.
    pub fn new(algorithms: AlgorithmPolicy, claims: ClaimPolicy) -> Self {
        Self::with_limits(algorithms, claims, JwsLimits::DEFAULT)
    }

    /// A validator with explicit JWS limits.
    pub fn with_limits(
        algorithms: AlgorithmPolicy,
        claims: ClaimPolicy,
        limits: JwsLimits,
    ) -> Self {
        let mut h = Sha256::new();
        h.update(b"oidc-core jwt validator v1");
        h.update((algorithms.allowed.len() as u64).to_le_bytes());
        for a in &algorithms.allowed {
            h.update(a.name().as_bytes());
            h.update([0]);
        }
        h.update([u8::from(algorithms.allow_none)]);
        claims.fingerprint(&mut h);
        h.update((limits.max_token_len as u64).to_le_bytes());
        h.update((limits.max_header_len as u64).to_le_bytes());
        Self { algorithms, claims, limits, fingerprint: h.finalize().into() }
    }

    /// Digest of every validation input (for cache keys).
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// The claim policy.
    pub fn claim_policy(&self) -> &ClaimPolicy {
        &self.claims
    }

    /// The algorithm policy.
    pub fn algorithm_policy(&self) -> &AlgorithmPolicy {
        &self.algorithms
    }

    /// Verifies `token` against `keys` at `now`.
    pub fn verify(
        &self,
        token: &str,
        keys: &KeySet,
        now: UnixTime,
    ) -> Result<VerifiedToken, VerifyError> {
        let jws = CompactJws::parse_with_limits(token, self.limits)?;
        let header = jws.header();
        if !self.algorithms.accepts(header.alg) {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        let key =
            if header.alg == Algorithm::None { None } else { Some(verify_signature(&jws, keys)?) };
        let (header, payload) = jws.into_parts();
        let registered = RegisteredClaims::parse(&payload).map_err(|e| match e {
            PayloadError::Json => VerifyError::Payload,
            PayloadError::Claim(c) => VerifyError::Claims(c),
        })?;
        let (window, iat_bound) = self.claims.validate(&header, &registered, now)?;
        Ok(VerifiedToken {
            header,
            registered,
            claims: OnceBox::new(),
            payload_base64: OnceBox::new(),
            payload,
            window,
            iat_bound,
            key,
        })
    }
}

/// Finds a key for `jws` and checks its signature; returns the key's thumbprint.
pub fn verify_signature(jws: &CompactJws<'_>, keys: &KeySet) -> Result<[u8; 32], VerifyError> {
    let header = jws.header();
    let mut tried = false;
    for key in keys.candidates(header) {
        tried = true;
        if key.verify(header.alg, jws.signing_input(), jws.signature()).is_ok() {
            return Ok(*key.thumbprint());
        }
    }
    if tried {
        return Err(VerifyError::BadSignature);
    }
    match &header.kid {
        Some(kid) if !keys.has_kid(kid) => Err(VerifyError::UnknownKid),
        _ => Err(VerifyError::NoSuitableKey),
    }
}
