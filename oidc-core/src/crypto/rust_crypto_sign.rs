//! Client-assertion signing on RustCrypto: RS256/RS512 as deterministic PKCS#1 v1.5 and ES256
//! as deterministic ECDSA (RFC 6979), so no randomness is needed. RustCrypto's RSA signing
//! without an RNG has no blinding; the gateways sign with aws-lc-rs, which blinds.

use alloc::boxed::Box;
use alloc::vec::Vec;

use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use sha2::{Sha256, Sha512};

use super::{KeyRejected, PrivateKeyDer, SigningAlg, SigningFailed, SigningKey};

enum Key {
    Rs256(rsa::pkcs1v15::SigningKey<Sha256>),
    Rs512(rsa::pkcs1v15::SigningKey<Sha512>),
    Es256(p256::ecdsa::SigningKey),
}

pub(super) fn signing_key(
    alg: SigningAlg,
    der: PrivateKeyDer<'_>,
) -> Result<Box<dyn SigningKey>, KeyRejected> {
    let rsa = |der: PrivateKeyDer<'_>| {
        match der {
            PrivateKeyDer::Pkcs8(d) => rsa::PrivateKey::from_pkcs8_der(d).ok(),
            PrivateKeyDer::RsaPkcs1(d) => rsa::PrivateKey::from_pkcs1_der(d).ok(),
            PrivateKeyDer::EcSec1(_) => None,
        }
        .ok_or(KeyRejected::Invalid)
    };
    let key = match alg {
        SigningAlg::Rs256 => Key::Rs256(rsa::pkcs1v15::SigningKey::new(rsa(der)?)),
        SigningAlg::Rs512 => Key::Rs512(rsa::pkcs1v15::SigningKey::new(rsa(der)?)),
        SigningAlg::Es256 => {
            let secret = match der {
                PrivateKeyDer::Pkcs8(d) => p256::SecretKey::from_pkcs8_der(d).ok(),
                PrivateKeyDer::EcSec1(d) => p256::SecretKey::from_sec1_der(d).ok(),
                PrivateKeyDer::RsaPkcs1(_) => None,
            }
            .ok_or(KeyRejected::Invalid)?;
            Key::Es256(p256::ecdsa::SigningKey::from(secret))
        }
    };
    Ok(Box::new(key))
}

impl SigningKey for Key {
    fn alg(&self) -> SigningAlg {
        match self {
            Self::Rs256(_) => SigningAlg::Rs256,
            Self::Rs512(_) => SigningAlg::Rs512,
            Self::Es256(_) => SigningAlg::Es256,
        }
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SigningFailed> {
        Ok(match self {
            Self::Rs256(k) => k.try_sign(msg).map_err(|_| SigningFailed)?.to_vec(),
            Self::Rs512(k) => k.try_sign(msg).map_err(|_| SigningFailed)?.to_vec(),
            Self::Es256(k) => {
                let sig: p256::ecdsa::Signature = k.try_sign(msg).map_err(|_| SigningFailed)?;
                sig.to_bytes().to_vec()
            }
        })
    }
}
