//! The crypto-provider seam.
//!
//! Everything above this module (JWS, JWK, claims, the engine) is backend-neutral: it hands raw
//! key components to a [`CryptoProvider`] once, when a key is loaded, and keeps the returned
//! [`Verifier`] for every later signature check. Two providers exist:
//!
//! - [`RUST_CRYPTO`]: pure Rust (RustCrypto crates), `no_std`, always compiled. The default.
//! - `AWS_LC` (feature `aws-lc`): aws-lc-rs, the backend rustls uses; several times faster for
//!   RSA and ECDSA. The gateway binaries enable it.
//!
//! A provider never decides which algorithm a key may verify: callers check
//! [`Algorithm::is_verified_by`](crate::jose::Algorithm::is_verified_by) before calling
//! [`Verifier::verify`], and providers reject any algorithm outside the key's family anyway.
//!
//! Providers also build the AES-256-GCM keys that seal session cookies ([`AeadKey`]). As with
//! verifiers, a key is expanded once (when the configuration is loaded) and reused for every
//! cookie; nonces and associated data are the caller's business (see [`crate::session`]).

use alloc::boxed::Box;
use core::fmt;

use crate::jose::{Algorithm, Curve};

mod rust_crypto;
mod rust_crypto_sign;
pub use rust_crypto::RUST_CRYPTO;

#[cfg(feature = "aws-lc")]
mod aws_lc;
#[cfg(feature = "aws-lc")]
mod aws_lc_sign;
#[cfg(feature = "aws-lc")]
pub use aws_lc::AWS_LC;

/// Smallest RSA modulus, in bits, that any provider accepts. A configurable policy above this
/// floor (2048 by default) lives in [`crate::jose::KeyPolicy`].
pub const RSA_MIN_BITS_FLOOR: usize = 1024;
/// Largest RSA modulus, in bits, that any provider accepts. Bounds the work per verification.
pub const RSA_MAX_BITS: usize = 8192;

/// A backend that turns raw public-key components into ready-to-use verifiers.
pub trait CryptoProvider: Send + Sync + fmt::Debug {
    /// A short name for logs and benchmarks.
    fn name(&self) -> &'static str;

    /// An RSA public key from its big-endian modulus (no leading zero bytes) and exponent.
    fn rsa_public_key(&self, n: &[u8], e: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected>;

    /// An EC public key from its SEC1 encoding (uncompressed `04 || x || y`, or compressed). The
    /// point must be on the curve and not the identity.
    fn ec_public_key(&self, curve: Curve, sec1: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected>;

    /// An Ed25519 public key (32 bytes).
    fn ed25519_public_key(&self, key: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected>;

    /// An HMAC key (HS256/384/512).
    fn hmac_key(&self, key: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected>;
    /// A private key for signing client assertions with `alg`, from its DER encoding. Built
    /// once per route at compile time; the returned signer is used for every assertion.
    fn signing_key(
        &self,
        alg: SigningAlg,
        der: PrivateKeyDer<'_>,
    ) -> Result<Box<dyn SigningKey>, KeyRejected>;

    /// An AES-256-GCM key (96-bit nonces, 128-bit tags), expanded once for every later seal and
    /// open.
    fn aes256_gcm_key(&self, key: &[u8; AEAD_KEY_LEN]) -> Result<Box<dyn AeadKey>, KeyRejected>;
}

/// AES-256-GCM key length, in bytes.
pub const AEAD_KEY_LEN: usize = 32;
/// AES-GCM nonce length, in bytes: the 96-bit nonce for which GCM needs no extra GHASH pass
/// (other lengths are legal in GCM but slower and easier to get wrong, so the seam has none).
pub const AEAD_NONCE_LEN: usize = 12;
/// AES-GCM tag length, in bytes. Only full-length tags: truncated GCM tags weaken forgery bounds
/// far more than their size suggests.
pub const AEAD_TAG_LEN: usize = 16;

/// An expanded AES-256-GCM key.
///
/// The caller owns nonce uniqueness: a nonce must never be used twice with one key for two
/// different messages. Both operations work in place and keep the tag detached, so a sealed
/// form can place header, ciphertext and tag where it likes without copying.
pub trait AeadKey: Send + Sync {
    /// Encrypts `in_out` in place, authenticating it and `aad`; returns the tag.
    fn seal_in_place(
        &self,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<[u8; AEAD_TAG_LEN], AeadError>;

    /// Checks `tag` over `in_out` (ciphertext) and `aad`, and decrypts `in_out` in place. On
    /// error the contents of `in_out` are unspecified and must be discarded.
    fn open_in_place(
        &self,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; AEAD_TAG_LEN],
    ) -> Result<(), AeadError>;
}

impl fmt::Debug for dyn AeadKey {
    // Key material is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AeadKey(AES-256-GCM)")
    }
}

/// Sealing or opening failed: for opening, the ciphertext, tag, nonce or associated data is not
/// what was sealed (deliberately opaque, like [`BadSignature`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AeadError;

impl fmt::Display for AeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("authenticated encryption failed")
    }
}

/// Algorithms a client assertion (`private_key_jwt`) is signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// ECDSA P-256 with SHA-256 (fixed-length `r || s`).
    Es256,
}

impl SigningAlg {
    /// The JWS `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs512 => "RS512",
            Self::Es256 => "ES256",
        }
    }
}

/// A private key's DER encoding, by container.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum PrivateKeyDer<'a> {
    /// PKCS#8 `PrivateKeyInfo` (PEM `PRIVATE KEY`).
    Pkcs8(&'a [u8]),
    /// PKCS#1 `RSAPrivateKey` (PEM `RSA PRIVATE KEY`).
    RsaPkcs1(&'a [u8]),
    /// SEC1 `ECPrivateKey` (PEM `EC PRIVATE KEY`).
    EcSec1(&'a [u8]),
}

impl fmt::Debug for PrivateKeyDer<'_> {
    // Key material is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pkcs8(_) => "PrivateKeyDer::Pkcs8(..)",
            Self::RsaPkcs1(_) => "PrivateKeyDer::RsaPkcs1(..)",
            Self::EcSec1(_) => "PrivateKeyDer::EcSec1(..)",
        })
    }
}

/// A loaded private key that signs with one algorithm.
pub trait SigningKey: Send + Sync {
    /// The algorithm it signs with.
    fn alg(&self) -> SigningAlg;
    /// Signs `message` (a JWS signing input); the JWS signature bytes.
    fn sign(&self, message: &[u8]) -> Result<alloc::vec::Vec<u8>, SigningFailed>;
}

impl fmt::Debug for dyn SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.alg().name())
    }
}

/// Signing failed (a backend error; deliberately opaque).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningFailed;

/// A parsed public (or HMAC) key, ready to check signatures.
pub trait Verifier: Send + Sync {
    /// Checks `signature` over `message` with `alg`. Returns an error for a bad signature and for
    /// any algorithm outside this key's family.
    fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), BadSignature>;
}

impl fmt::Debug for dyn Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Verifier")
    }
}

/// The signature did not verify (deliberately opaque: which step failed is no one's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadSignature;

impl fmt::Display for BadSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("signature verification failed")
    }
}

/// Why a provider refused key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyRejected {
    /// The components do not form a valid key (point not on the curve, even modulus, ...).
    Invalid,
    /// The RSA modulus is outside the supported size range.
    UnsupportedSize,
    /// The HMAC key is empty.
    Empty,
}

impl fmt::Display for KeyRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Invalid => "invalid key material",
            Self::UnsupportedSize => "unsupported key size",
            Self::Empty => "empty key",
        })
    }
}

/// The provider the gateway uses when nothing else is chosen: aws-lc-rs when compiled in,
/// otherwise RustCrypto.
pub fn default_provider() -> &'static dyn CryptoProvider {
    #[cfg(feature = "aws-lc")]
    {
        &AWS_LC
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        &RUST_CRYPTO
    }
}

/// Every provider compiled into this build, for tests that must pass on each of them.
pub fn all_providers() -> alloc::vec::Vec<&'static dyn CryptoProvider> {
    #[allow(unused_mut)]
    let mut v: alloc::vec::Vec<&'static dyn CryptoProvider> = alloc::vec![&RUST_CRYPTO];
    #[cfg(feature = "aws-lc")]
    v.push(&AWS_LC);
    v
}

/// Number of significant bits of a big-endian unsigned integer.
pub(crate) fn bit_len(be: &[u8]) -> usize {
    let trimmed = strip_leading_zeros(be);
    match trimmed.first() {
        None => 0,
        Some(&top) => trimmed.len() * 8 - top.leading_zeros() as usize,
    }
}

/// `be` without its leading zero bytes.
pub(crate) fn strip_leading_zeros(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    be.get(start..).unwrap_or_default()
}

/// Whether `sec1` has the length of an uncompressed (`04`) or compressed (`02`/`03`) point on
/// `curve`. Whether the point is on the curve is for the provider to check.
pub(crate) fn sec1_shape_ok(curve: Curve, sec1: &[u8]) -> bool {
    let l = curve.coordinate_len();
    match sec1.first() {
        Some(4) => sec1.len() == 1 + 2 * l,
        Some(2 | 3) => sec1.len() == 1 + l,
        _ => false,
    }
}
