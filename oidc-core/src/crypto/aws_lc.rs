//! The aws-lc-rs backend (feature `aws-lc`): the same library rustls uses by default.
//!
//! Keys are parsed once into `ParsedPublicKey`s, one per algorithm the key may serve, so a
//! verification does no key parsing. RSA keys below 2048 bits (allowed only when the key policy
//! is lowered on purpose) are delegated to RustCrypto, because aws-lc-rs only offers its
//! sub-2048 algorithms for PKCS#1 v1.5 with some hashes.

use alloc::boxed::Box;

use aws_lc_rs::signature::{self as sig, ParsedPublicKey};
use aws_lc_rs::{aead, hmac};
use der::Encode as _;

use super::{
    AEAD_KEY_LEN, AEAD_NONCE_LEN, AEAD_TAG_LEN, AeadError, AeadKey, BadSignature, CryptoProvider,
    KeyRejected, RSA_MAX_BITS, RSA_MIN_BITS_FLOOR, RUST_CRYPTO, Verifier, bit_len, sec1_shape_ok,
    strip_leading_zeros,
};
use crate::jose::{Algorithm, Curve};

/// The aws-lc-rs provider.
pub static AWS_LC: AwsLc = AwsLc;

/// Provider built on aws-lc-rs.
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsLc;

impl CryptoProvider for AwsLc {
    fn name(&self) -> &'static str {
        "aws-lc-rs"
    }

    fn rsa_public_key(&self, n: &[u8], e: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_len(n);
        if !(RSA_MIN_BITS_FLOOR..=RSA_MAX_BITS).contains(&bits) {
            return Err(KeyRejected::UnsupportedSize);
        }
        if bits < 2048 {
            return RUST_CRYPTO.rsa_public_key(n, e);
        }
        // Same exponent bounds as RustCrypto (and ring): small odd, at most 2^33 - 1.
        if e.is_empty() || e.len() > 5 || e.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyRejected::Invalid);
        }
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyRejected::Invalid);
        }
        let der = pkcs1::RsaPublicKey {
            modulus: der::asn1::UintRef::new(n).map_err(|_| KeyRejected::Invalid)?,
            public_exponent: der::asn1::UintRef::new(e).map_err(|_| KeyRejected::Invalid)?,
        }
        .to_der()
        .map_err(|_| KeyRejected::Invalid)?;
        let parse = |alg: &'static sig::RsaParameters| {
            ParsedPublicKey::new(alg, &der).map_err(|_| KeyRejected::Invalid)
        };
        Ok(Box::new(RsaKey {
            modulus_len: n.len(),
            rs256: parse(&sig::RSA_PKCS1_2048_8192_SHA256)?,
            rs384: parse(&sig::RSA_PKCS1_2048_8192_SHA384)?,
            rs512: parse(&sig::RSA_PKCS1_2048_8192_SHA512)?,
            ps256: parse(&sig::RSA_PSS_2048_8192_SHA256)?,
            ps384: parse(&sig::RSA_PSS_2048_8192_SHA384)?,
            ps512: parse(&sig::RSA_PSS_2048_8192_SHA512)?,
        }))
    }

    fn ec_public_key(&self, curve: Curve, sec1: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected> {
        if !sec1_shape_ok(curve, sec1) {
            return Err(KeyRejected::Invalid);
        }
        let alg: &'static sig::EcdsaVerificationAlgorithm = match curve {
            Curve::P256 => &sig::ECDSA_P256_SHA256_FIXED,
            Curve::P384 => &sig::ECDSA_P384_SHA384_FIXED,
            Curve::P521 => &sig::ECDSA_P521_SHA512_FIXED,
        };
        let key = ParsedPublicKey::new(alg, sec1).map_err(|_| KeyRejected::Invalid)?;
        Ok(Box::new(EcKey { curve, key }))
    }

    fn ed25519_public_key(&self, key: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected> {
        if key.len() != 32 {
            return Err(KeyRejected::Invalid);
        }
        // aws-lc accepts any 32 bytes here; reject what the strict RustCrypto check rejects
        // (non-canonical or small-order points), so both backends agree on every key.
        RUST_CRYPTO.ed25519_public_key(key)?;
        let key = ParsedPublicKey::new(&sig::ED25519, key).map_err(|_| KeyRejected::Invalid)?;
        Ok(Box::new(Ed25519Key(key)))
    }

    fn hmac_key(&self, key: &[u8]) -> Result<Box<dyn Verifier>, KeyRejected> {
        if key.is_empty() {
            return Err(KeyRejected::Empty);
        }
        Ok(Box::new(HmacKey {
            hs256: hmac::Key::new(hmac::HMAC_SHA256, key),
            hs384: hmac::Key::new(hmac::HMAC_SHA384, key),
            hs512: hmac::Key::new(hmac::HMAC_SHA512, key),
        }))
    }

    fn signing_key(
        &self,
        alg: super::SigningAlg,
        der: super::PrivateKeyDer<'_>,
    ) -> Result<Box<dyn super::SigningKey>, KeyRejected> {
        super::aws_lc_sign::signing_key(alg, der)
    }

    fn aes256_gcm_key(&self, key: &[u8; AEAD_KEY_LEN]) -> Result<Box<dyn AeadKey>, KeyRejected> {
        let key =
            aead::UnboundKey::new(&aead::AES_256_GCM, key).map_err(|_| KeyRejected::Invalid)?;
        // `LessSafeKey` because the nonce is the caller's (random, from the session sealer);
        // aws-lc wipes the key schedule when the context is freed.
        Ok(Box::new(Aes256GcmKey(aead::LessSafeKey::new(key))))
    }
}

struct Aes256GcmKey(aead::LessSafeKey);

impl AeadKey for Aes256GcmKey {
    fn seal_in_place(
        &self,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<[u8; AEAD_TAG_LEN], AeadError> {
        let nonce = aead::Nonce::assume_unique_for_key(*nonce);
        let tag = self
            .0
            .seal_in_place_separate_tag(nonce, aead::Aad::from(aad), in_out)
            .map_err(|_| AeadError)?;
        tag.as_ref().try_into().map_err(|_| AeadError)
    }

    fn open_in_place(
        &self,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; AEAD_TAG_LEN],
    ) -> Result<(), AeadError> {
        let nonce = aead::Nonce::assume_unique_for_key(*nonce);
        self.0
            .open_in_place_separate_tag(nonce, aead::Aad::from(aad), tag, in_out)
            .map(|_| ())
            .map_err(|_| AeadError)
    }
}

struct RsaKey {
    modulus_len: usize,
    rs256: ParsedPublicKey,
    rs384: ParsedPublicKey,
    rs512: ParsedPublicKey,
    ps256: ParsedPublicKey,
    ps384: ParsedPublicKey,
    ps512: ParsedPublicKey,
}

impl Verifier for RsaKey {
    fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        if sig.len() != self.modulus_len {
            return Err(BadSignature);
        }
        let key = match alg {
            Algorithm::RS256 => &self.rs256,
            Algorithm::RS384 => &self.rs384,
            Algorithm::RS512 => &self.rs512,
            Algorithm::PS256 => &self.ps256,
            Algorithm::PS384 => &self.ps384,
            Algorithm::PS512 => &self.ps512,
            _ => return Err(BadSignature),
        };
        key.verify_sig(msg, sig).map_err(|_| BadSignature)
    }
}

struct EcKey {
    curve: Curve,
    key: ParsedPublicKey,
}

impl Verifier for EcKey {
    fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        let expected = match alg {
            Algorithm::ES256 => Curve::P256,
            Algorithm::ES384 => Curve::P384,
            Algorithm::ES512 => Curve::P521,
            _ => return Err(BadSignature),
        };
        if expected != self.curve || sig.len() != 2 * self.curve.coordinate_len() {
            return Err(BadSignature);
        }
        self.key.verify_sig(msg, sig).map_err(|_| BadSignature)
    }
}

struct Ed25519Key(ParsedPublicKey);

impl Verifier for Ed25519Key {
    fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        if alg != Algorithm::EdDSA || sig.len() != 64 {
            return Err(BadSignature);
        }
        self.0.verify_sig(msg, sig).map_err(|_| BadSignature)
    }
}

struct HmacKey {
    hs256: hmac::Key,
    hs384: hmac::Key,
    hs512: hmac::Key,
}

impl Verifier for HmacKey {
    fn verify(&self, alg: Algorithm, msg: &[u8], tag: &[u8]) -> Result<(), BadSignature> {
        // `hmac::verify` compares in constant time and requires the full tag length.
        let key = match alg {
            Algorithm::HS256 => &self.hs256,
            Algorithm::HS384 => &self.hs384,
            Algorithm::HS512 => &self.hs512,
            _ => return Err(BadSignature),
        };
        hmac::verify(key, msg, tag).map_err(|_| BadSignature)
    }
}
