//! Client-assertion signing on aws-lc-rs: RSA with blinding, ECDSA P-256 with a fresh nonce.

use alloc::boxed::Box;
use alloc::vec::Vec;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, RsaKeyPair};

use super::{KeyRejected, PrivateKeyDer, SigningAlg, SigningFailed, SigningKey};

enum Key {
    Rsa(RsaKeyPair, SigningAlg),
    Es256(EcdsaKeyPair),
}

pub(super) fn signing_key(
    alg: SigningAlg,
    der: PrivateKeyDer<'_>,
) -> Result<Box<dyn SigningKey>, KeyRejected> {
    let key = match alg {
        SigningAlg::Rs256 | SigningAlg::Rs512 => {
            let pair = match der {
                PrivateKeyDer::Pkcs8(d) => RsaKeyPair::from_pkcs8(d),
                PrivateKeyDer::RsaPkcs1(d) => RsaKeyPair::from_der(d),
                PrivateKeyDer::EcSec1(_) => return Err(KeyRejected::Invalid),
            }
            .map_err(|_| KeyRejected::Invalid)?;
            Key::Rsa(pair, alg)
        }
        SigningAlg::Es256 => {
            let signing = &sig::ECDSA_P256_SHA256_FIXED_SIGNING;
            let pair = match der {
                PrivateKeyDer::Pkcs8(d) => EcdsaKeyPair::from_pkcs8(signing, d),
                PrivateKeyDer::EcSec1(d) => EcdsaKeyPair::from_private_key_der(signing, d),
                PrivateKeyDer::RsaPkcs1(_) => return Err(KeyRejected::Invalid),
            }
            .map_err(|_| KeyRejected::Invalid)?;
            Key::Es256(pair)
        }
    };
    Ok(Box::new(key))
}

impl SigningKey for Key {
    fn alg(&self) -> SigningAlg {
        match self {
            Self::Rsa(_, alg) => *alg,
            Self::Es256(_) => SigningAlg::Es256,
        }
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SigningFailed> {
        let rng = SystemRandom::new();
        match self {
            Self::Rsa(pair, alg) => {
                let padding: &dyn sig::RsaEncoding = match alg {
                    SigningAlg::Rs512 => &sig::RSA_PKCS1_SHA512,
                    _ => &sig::RSA_PKCS1_SHA256,
                };
                let mut out = alloc::vec![0u8; pair.public_modulus_len()];
                pair.sign(padding, &rng, msg, &mut out).map_err(|_| SigningFailed)?;
                Ok(out)
            }
            Self::Es256(pair) => {
                Ok(pair.sign(&rng, msg).map_err(|_| SigningFailed)?.as_ref().to_vec())
            }
        }
    }
}
