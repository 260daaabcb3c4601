//! Verification keys: one parsed key, its family, and the policy that decides what it may verify.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use sha2::{Digest, Sha256};

use super::alg::{Algorithm, Curve, KeyFamily};
use super::base64url;
use crate::crypto::{self, BadSignature, CryptoProvider, KeyRejected};

/// Key-strength policy applied when keys are loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Smallest accepted RSA modulus in bits (never below
    /// [`crypto::RSA_MIN_BITS_FLOOR`]). Default 2048.
    pub min_rsa_bits: usize,
}

// RSA moduli with the ROCA fingerprint are always refused (see `roca`): no policy knob, because
// such a key can be factored.

impl KeyPolicy {
    /// 2048-bit RSA minimum.
    pub const DEFAULT: Self = Self { min_rsa_bits: 2048 };
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why key material was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// A required JWK member is absent.
    MissingMember(&'static str),
    /// A JWK member has the wrong JSON type or an invalid value.
    InvalidMember(&'static str),
    /// `kty` is not one this crate uses (RSA, EC, OKP, oct).
    UnsupportedKeyType,
    /// `crv` is not supported for the key type.
    UnsupportedCurve,
    /// The JWK `alg` is not a JWS algorithm this key family can verify.
    UnusableAlgorithm,
    /// `use` is not `sig`.
    NotForSignatures,
    /// `key_ops` is present and does not include `verify`.
    NotForVerification,
    /// An asymmetric key carries private members: a published key set must never do that.
    PrivateKeyMaterial,
    /// The configured client private key cannot sign with the configured algorithm.
    PrivateKey,
    /// A symmetric (`oct`) key where only public keys are allowed (for example in a JWKS
    /// fetched from a provider). HMAC keys come only from explicit configuration.
    SymmetricNotAllowed,
    /// The RSA modulus is smaller than [`KeyPolicy::min_rsa_bits`].
    RsaTooSmall {
        /// The modulus size found.
        bits: usize,
    },
    /// The RSA public exponent is not an odd number of at least 3.
    RsaExponent,
    /// The RSA modulus has the ROCA fingerprint (CVE-2017-15361) and can be factored.
    WeakRsaKey,
    /// The crypto provider refused the key.
    Rejected(KeyRejected),
    /// Malformed PEM or DER.
    Encoding,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingMember(m) => write!(f, "missing member {m}"),
            Self::InvalidMember(m) => write!(f, "invalid member {m}"),
            Self::UnsupportedKeyType => f.write_str("unsupported kty"),
            Self::UnsupportedCurve => f.write_str("unsupported crv"),
            Self::UnusableAlgorithm => f.write_str("alg not usable with this key"),
            Self::NotForSignatures => f.write_str("use is not sig"),
            Self::NotForVerification => f.write_str("key_ops excludes verify"),
            Self::PrivateKeyMaterial => f.write_str("private key material in a public key set"),
            Self::PrivateKey => f.write_str("cannot sign client assertions with this key"),
            Self::SymmetricNotAllowed => f.write_str("symmetric key not allowed here"),
            Self::RsaTooSmall { bits } => write!(f, "RSA key too small ({bits} bits)"),
            Self::RsaExponent => f.write_str("invalid RSA exponent"),
            Self::WeakRsaKey => f.write_str("RSA key with the ROCA fingerprint"),
            Self::Rejected(e) => write!(f, "{e}"),
            Self::Encoding => f.write_str("malformed key encoding"),
        }
    }
}

impl From<KeyRejected> for KeyError {
    fn from(e: KeyRejected) -> Self {
        Self::Rejected(e)
    }
}

/// A loaded key: what it is, what it may verify, and a provider verifier built once.
pub struct VerifyingKey {
    family: KeyFamily,
    kid: Option<String>,
    alg: Option<Algorithm>,
    /// HMAC key length in bytes (HS* needs at least the hash size, RFC 7518 §3.2).
    hmac_len: usize,
    thumbprint: [u8; 32],
    verifier: Box<dyn crypto::Verifier>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("family", &self.family)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// An RSA key from big-endian modulus and exponent.
    pub fn rsa(
        n: &[u8],
        e: &[u8],
        policy: &KeyPolicy,
        provider: &dyn CryptoProvider,
    ) -> Result<Self, KeyError> {
        let n = crypto::strip_leading_zeros(n);
        let e = crypto::strip_leading_zeros(e);
        let bits = crypto::bit_len(n);
        if bits < policy.min_rsa_bits.max(crypto::RSA_MIN_BITS_FLOOR) {
            return Err(KeyError::RsaTooSmall { bits });
        }
        // e = 1 makes every "signature" its own message; even exponents are not RSA.
        let e_is_small = e.len() == 1 && e.first().is_some_and(|&b| b < 3);
        if e.is_empty() || e_is_small || e.last().is_some_and(|b| b & 1 == 0) {
            return Err(KeyError::RsaExponent);
        }
        if super::roca::has_roca_fingerprint(n) {
            return Err(KeyError::WeakRsaKey);
        }
        let verifier = provider.rsa_public_key(n, e)?;
        let thumbprint = thumbprint(&[("e", &b64(e)), ("kty", "RSA"), ("n", &b64(n))]);
        Ok(Self::new(KeyFamily::Rsa, thumbprint, verifier))
    }

    /// An EC key from its affine coordinates (each exactly the curve's coordinate size).
    pub fn ec(
        curve: Curve,
        x: &[u8],
        y: &[u8],
        provider: &dyn CryptoProvider,
    ) -> Result<Self, KeyError> {
        let len = curve.coordinate_len();
        if x.len() != len {
            return Err(KeyError::InvalidMember("x"));
        }
        if y.len() != len {
            return Err(KeyError::InvalidMember("y"));
        }
        let mut sec1 = alloc::vec::Vec::with_capacity(1 + 2 * len);
        sec1.push(4);
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        let verifier = provider.ec_public_key(curve, &sec1)?;
        let thumbprint =
            thumbprint(&[("crv", curve.name()), ("kty", "EC"), ("x", &b64(x)), ("y", &b64(y))]);
        Ok(Self::new(KeyFamily::Ec(curve), thumbprint, verifier))
    }

    /// An EC key from a SEC1 uncompressed point (`04 || x || y`), as found in SPKI.
    pub fn ec_sec1(
        curve: Curve,
        sec1: &[u8],
        provider: &dyn CryptoProvider,
    ) -> Result<Self, KeyError> {
        let len = curve.coordinate_len();
        match sec1.split_first() {
            Some((4, xy)) if xy.len() == 2 * len => {
                let (x, y) = xy.split_at(len);
                Self::ec(curve, x, y, provider)
            }
            _ => Err(KeyError::Encoding),
        }
    }

    /// An Ed25519 key (32 bytes).
    pub fn ed25519(x: &[u8], provider: &dyn CryptoProvider) -> Result<Self, KeyError> {
        if x.len() != 32 {
            return Err(KeyError::InvalidMember("x"));
        }
        let verifier = provider.ed25519_public_key(x)?;
        let thumbprint = thumbprint(&[("crv", "Ed25519"), ("kty", "OKP"), ("x", &b64(x))]);
        Ok(Self::new(KeyFamily::Ed25519, thumbprint, verifier))
    }

    /// An HMAC key. Only configuration may create one: token headers and fetched key sets never
    /// do, which is what makes RS/HS algorithm confusion impossible.
    pub fn hmac(secret: &[u8], provider: &dyn CryptoProvider) -> Result<Self, KeyError> {
        let verifier = provider.hmac_key(secret)?;
        let thumbprint = thumbprint(&[("k", &b64(secret)), ("kty", "oct")]);
        let mut key = Self::new(KeyFamily::Hmac, thumbprint, verifier);
        key.hmac_len = secret.len();
        Ok(key)
    }

    fn new(family: KeyFamily, thumbprint: [u8; 32], verifier: Box<dyn crypto::Verifier>) -> Self {
        Self { family, kid: None, alg: None, hmac_len: 0, thumbprint, verifier }
    }

    /// Sets the key id.
    #[must_use]
    pub fn with_kid(mut self, kid: Option<String>) -> Self {
        self.kid = kid;
        self
    }

    /// Restricts the key to one algorithm (the JWK `alg` member). Fails if the algorithm is not
    /// of this key's family.
    pub fn with_alg(mut self, alg: Option<Algorithm>) -> Result<Self, KeyError> {
        if let Some(a) = alg
            && !a.is_verified_by(self.family)
        {
            return Err(KeyError::UnusableAlgorithm);
        }
        self.alg = alg;
        Ok(self)
    }

    /// The key family, which alone decides the algorithms this key may verify.
    pub fn family(&self) -> KeyFamily {
        self.family
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the key is restricted to, if any.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// The RFC 7638 JWK thumbprint (SHA-256), the key's identity.
    pub fn thumbprint(&self) -> &[u8; 32] {
        &self.thumbprint
    }

    /// Whether this key may verify a token signed with `alg`: the family must match, a JWK
    /// `alg` must equal it, and an HMAC key must be at least as long as the hash output.
    pub fn permits(&self, alg: Algorithm) -> bool {
        if !alg.is_verified_by(self.family) || self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        match (self.family, alg.hash()) {
            (KeyFamily::Hmac, Some(h)) => self.hmac_len >= h.output_len(),
            _ => true,
        }
    }

    /// Verifies `signature` over `message`, after checking [`Self::permits`].
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), BadSignature> {
        if !self.permits(alg) {
            return Err(BadSignature);
        }
        self.verifier.verify(alg, message, signature)
    }
}

fn b64(bytes: &[u8]) -> String {
    base64url::encode(bytes)
}

/// SHA-256 over the RFC 7638 canonical JSON of `members` (already in lexicographic order; every
/// value is a base64url or registered name, so no JSON escaping is needed).
fn thumbprint(members: &[(&str, &str)]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"{");
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            h.update(b",");
        }
        h.update(b"\"");
        h.update(name.as_bytes());
        h.update(b"\":\"");
        h.update(value.as_bytes());
        h.update(b"\"");
    }
    h.update(b"}");
    h.finalize().into()
}
