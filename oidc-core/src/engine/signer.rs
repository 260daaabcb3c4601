//! Signing client assertions for `private_key_jwt` with the configured private key
//! (`client_rsa_private_key`: PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or SEC1
//! `EC PRIVATE KEY`). RS256/RS512 use deterministic PKCS#1 v1.5 and ES256 deterministic ECDSA
//! (RFC 6979), so no randomness is needed.

use alloc::vec::Vec;

use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use sha2::{Sha256, Sha512};

/// A loaded client signing key.
pub(crate) enum ClientSigner {
    Rs256(rsa::pkcs1v15::SigningKey<Sha256>),
    Rs512(rsa::pkcs1v15::SigningKey<Sha512>),
    Es256(p256::ecdsa::SigningKey),
}

impl ClientSigner {
    /// Loads `pem`; `alg` is `client_jwt_assertion_alg` (RS256 by default for RSA keys, ES256
    /// for P-256 keys).
    pub(crate) fn from_pem(pem: &str, alg: Option<&str>) -> Result<Self, ()> {
        let (label, doc) = crate::jose::pem::decode_pem(pem).map_err(|_| ())?;
        let rsa_key = match label {
            "PRIVATE KEY" => match rsa::PrivateKey::from_pkcs8_der(&doc) {
                Ok(k) => Some(k),
                Err(_) => {
                    let k = p256::SecretKey::from_pkcs8_der(&doc).map_err(|_| ())?;
                    return Self::ec(k, alg);
                }
            },
            "RSA PRIVATE KEY" => Some(rsa::PrivateKey::from_pkcs1_der(&doc).map_err(|_| ())?),
            "EC PRIVATE KEY" => {
                let k = p256::SecretKey::from_sec1_der(&doc).map_err(|_| ())?;
                return Self::ec(k, alg);
            }
            _ => None,
        };
        let key = rsa_key.ok_or(())?;
        match alg {
            None | Some("RS256") => Ok(Self::Rs256(rsa::pkcs1v15::SigningKey::new(key))),
            Some("RS512") => Ok(Self::Rs512(rsa::pkcs1v15::SigningKey::new(key))),
            Some(_) => Err(()),
        }
    }

    fn ec(key: p256::SecretKey, alg: Option<&str>) -> Result<Self, ()> {
        match alg {
            None | Some("ES256") => Ok(Self::Es256(p256::ecdsa::SigningKey::from(key))),
            Some(_) => Err(()),
        }
    }

    /// The JWS `alg`.
    pub(crate) fn alg(&self) -> &'static str {
        match self {
            Self::Rs256(_) => "RS256",
            Self::Rs512(_) => "RS512",
            Self::Es256(_) => "ES256",
        }
    }

    /// Signs `msg` (a JWS signing input).
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ()> {
        Ok(match self {
            Self::Rs256(k) => k.try_sign(msg).map_err(|_| ())?.to_vec(),
            Self::Rs512(k) => k.try_sign(msg).map_err(|_| ())?.to_vec(),
            Self::Es256(k) => {
                let sig: p256::ecdsa::Signature = k.try_sign(msg).map_err(|_| ())?;
                sig.to_bytes().to_vec()
            }
        })
    }
}
