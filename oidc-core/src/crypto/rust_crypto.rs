//! The RustCrypto backend: pure Rust, `no_std`.

use alloc::boxed::Box;

use aes_gcm::AeadInOut as _;
use hmac::{Hmac, KeyInit, Mac};
use rsa::BoxedUint;
use rsa::signature::Verifier as _;
use sha2::{Sha256, Sha384, Sha512};

use super::{
    AEAD_KEY_LEN, AEAD_NONCE_LEN, AEAD_TAG_LEN, AeadError, AeadKey, BadSignature, CryptoProvider,
    KeyRejected, RSA_MAX_BITS, RSA_MIN_BITS_FLOOR, Verifier, bit_len, sec1_shape_ok,
    strip_leading_zeros,
};
use crate::jose::{Algorithm, Curve};

/// The RustCrypto provider.
pub static RUST_CRYPTO: RustCrypto = RustCrypto;

/// Pure-Rust provider built on the RustCrypto crates (`rsa`, `p256`, `p384`, `p521`,
/// `ed25519-dalek`, `hmac`, `sha2`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

impl CryptoProvider for RustCrypto {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn rsa_public_key(&self, n: &[u8], e: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_len(n);
        if !(RSA_MIN_BITS_FLOOR..=RSA_MAX_BITS).contains(&bits) {
            return Err(KeyRejected::UnsupportedSize);
        }
        if e.is_empty() || e.len() > 8 {
            return Err(KeyRejected::Invalid);
        }
        let n = BoxedUint::from_be_slice_vartime(n);
        let e = BoxedUint::from_be_slice_vartime(e);
        let key = rsa::PublicKey::new_with_size_limits(n, e, RSA_MIN_BITS_FLOOR..=RSA_MAX_BITS)
            .map_err(|_| KeyRejected::Invalid)?;
        Ok(Box::new(RsaKey {
            rs256: rsa::pkcs1v15::VerifyingKey::new(key.clone()),
            rs384: rsa::pkcs1v15::VerifyingKey::new(key.clone()),
            rs512: rsa::pkcs1v15::VerifyingKey::new(key.clone()),
            ps256: rsa::pss::VerifyingKey::new(key.clone()),
            ps384: rsa::pss::VerifyingKey::new(key.clone()),
            ps512: rsa::pss::VerifyingKey::new(key),
        }))
    }

    fn ec_public_key(&self, curve: Curve, sec1: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected> {
        if !sec1_shape_ok(curve, sec1) {
            return Err(KeyRejected::Invalid);
        }
        Ok(match curve {
            Curve::P256 => Box::new(EcKey::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
                    .map_err(|_| KeyRejected::Invalid)?,
            )),
            Curve::P384 => Box::new(EcKey::P384(
                p384::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
                    .map_err(|_| KeyRejected::Invalid)?,
            )),
            Curve::P521 => Box::new(EcKey::P521(
                p521::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
                    .map_err(|_| KeyRejected::Invalid)?,
            )),
        })
    }

    fn ed25519_public_key(&self, key: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected> {
        let bytes: &[u8; 32] = key.try_into().map_err(|_| KeyRejected::Invalid)?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyRejected::Invalid)?;
        Ok(Box::new(Ed25519Key(key)))
    }

    fn hmac_key(&self, key: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected> {
        if key.is_empty() {
            return Err(KeyRejected::Empty);
        }
        let invalid = |_| KeyRejected::Invalid;
        Ok(Box::new(HmacKey {
            hs256: Hmac::<Sha256>::new_from_slice(key).map_err(invalid)?,
            hs384: Hmac::<Sha384>::new_from_slice(key).map_err(invalid)?,
            hs512: Hmac::<Sha512>::new_from_slice(key).map_err(invalid)?,
        }))
    }

    fn signing_key(
        &self,
        alg: super::SigningAlg,
        der: super::PrivateKeyDer<'_>,
    ) -> Result<Box<dyn super::SigningKey>, KeyRejected> {
        super::rust_crypto_sign::signing_key(alg, der)
    }

    fn aes256_gcm_key(&self, key: &[u8; AEAD_KEY_LEN]) -> Result<Box<dyn AeadKey>, KeyRejected> {
        // Boxed by the seam anyway; the expanded key schedule and GHASH key are wiped on drop
        // (the crate's `zeroize` feature).
        Ok(Box::new(Aes256GcmKey(aes_gcm::Aes256Gcm::new(&(*key).into()))))
    }
}

struct Aes256GcmKey(aes_gcm::Aes256Gcm);

impl AeadKey for Aes256GcmKey {
    fn seal_in_place(
        &self,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<[u8; AEAD_TAG_LEN], AeadError> {
        let tag = self
            .0
            .encrypt_inout_detached(&(*nonce).into(), aad, in_out.into())
            .map_err(|_| AeadError)?;
        Ok(tag.into())
    }

    fn open_in_place(
        &self,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; AEAD_TAG_LEN],
    ) -> Result<(), AeadError> {
        // The tag comparison inside is constant-time.
        self.0
            .decrypt_inout_detached(&(*nonce).into(), aad, in_out.into(), &(*tag).into())
            .map_err(|_| AeadError)
    }
}

struct RsaKey {
    rs256: rsa::pkcs1v15::VerifyingKey<Sha256>,
    rs384: rsa::pkcs1v15::VerifyingKey<Sha384>,
    rs512: rsa::pkcs1v15::VerifyingKey<Sha512>,
    // `pss::VerifyingKey::new` fixes the salt length to the digest size, as RFC 7518 §3.5
    // requires; other salt lengths do not verify.
    ps256: rsa::pss::VerifyingKey<Sha256>,
    ps384: rsa::pss::VerifyingKey<Sha384>,
    ps512: rsa::pss::VerifyingKey<Sha512>,
}

impl Verifier for RsaKey {
    fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        // RFC 8017 §8.2.2 step 1: the signature is exactly as long as the modulus.
        if sig.len() != rsa::traits::PublicKeyParts::size(self.rs256.as_ref()) {
            return Err(BadSignature);
        }
        let ok = match alg {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
                let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(|_| BadSignature)?;
                match alg {
                    Algorithm::RS256 => self.rs256.verify(msg, &sig),
                    Algorithm::RS384 => self.rs384.verify(msg, &sig),
                    _ => self.rs512.verify(msg, &sig),
                }
            }
            Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => {
                let sig = rsa::pss::Signature::try_from(sig).map_err(|_| BadSignature)?;
                match alg {
                    Algorithm::PS256 => self.ps256.verify(msg, &sig),
                    Algorithm::PS384 => self.ps384.verify(msg, &sig),
                    _ => self.ps512.verify(msg, &sig),
                }
            }
            _ => return Err(BadSignature),
        };
        ok.map_err(|_| BadSignature)
    }
}

enum EcKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

impl Verifier for EcKey {
    fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        // JWS ECDSA signatures are the fixed-width `r || s` (RFC 7518 §3.4), never DER.
        let ok = match (self, alg) {
            (Self::P256(k), Algorithm::ES256) if sig.len() == 64 => {
                let s = p256::ecdsa::Signature::from_slice(sig).map_err(|_| BadSignature)?;
                k.verify(msg, &s)
            }
            (Self::P384(k), Algorithm::ES384) if sig.len() == 96 => {
                let s = p384::ecdsa::Signature::from_slice(sig).map_err(|_| BadSignature)?;
                k.verify(msg, &s)
            }
            (Self::P521(k), Algorithm::ES512) if sig.len() == 132 => {
                let s = p521::ecdsa::Signature::from_slice(sig).map_err(|_| BadSignature)?;
                k.verify(msg, &s)
            }
            _ => return Err(BadSignature),
        };
        ok.map_err(|_| BadSignature)
    }
}

struct Ed25519Key(ed25519_dalek::VerifyingKey);

impl Verifier for Ed25519Key {
    fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        if alg != Algorithm::EdDSA {
            return Err(BadSignature);
        }
        let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|_| BadSignature)?;
        // Strict verification rejects small-order keys and non-canonical encodings, which would
        // otherwise let one message carry several valid signatures.
        self.0.verify_strict(msg, &sig).map_err(|_| BadSignature)
    }
}

struct HmacKey {
    hs256: Hmac<Sha256>,
    hs384: Hmac<Sha384>,
    hs512: Hmac<Sha512>,
}

impl Verifier for HmacKey {
    fn verify(&self, alg: Algorithm, msg: &[u8], tag: &[u8]) -> Result<(), BadSignature> {
        // `verify_slice` compares in constant time and requires the full tag length: JWS never
        // truncates HMAC tags (RFC 7518 §3.2).
        let ok = match alg {
            Algorithm::HS256 => {
                let mut m = self.hs256.clone();
                m.update(msg);
                m.verify_slice(tag)
            }
            Algorithm::HS384 => {
                let mut m = self.hs384.clone();
                m.update(msg);
                m.verify_slice(tag)
            }
            Algorithm::HS512 => {
                let mut m = self.hs512.clone();
                m.update(msg);
                m.verify_slice(tag)
            }
            _ => return Err(BadSignature),
        };
        ok.map_err(|_| BadSignature)
    }
}
