//! Private keys from the configuration (`client_rsa_private_key`, `dpop.private_key`), parsed
//! at load so that a key the signers cannot use is refused then, named by its path, instead of
//! failing every request that needs a client assertion.
//!
//! Accepted encodings: PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` and SEC1
//! `EC PRIVATE KEY`. Accepted key types: RSA of [`KeyPolicy::DEFAULT`] size or more (RFC 7518
//! §3.3 requires 2048 bits for RS*/PS*) up to [`RSA_MAX_BITS`], and EC P-256: what the
//! client-assertion signer implements (RS256, RS512, ES256) and what DPoP's algorithms need
//! (ES256, RS256, PS256).
//!
//! [`PrivateKey::parse`] is the one parser; the engine can build its signer from the returned
//! key instead of decoding the PEM again for every assertion.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use der::Decode as _;
use der::asn1::ObjectIdentifier;
use p256::elliptic_curve::sec1::ToSec1Point as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;

use crate::crypto::{RSA_MAX_BITS, bit_len};
use crate::jose::KeyPolicy;
use crate::jose::pem::decode_pem;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");

/// A parsed private key of a type the signers use. Its `Debug` names the type only.
pub(crate) enum PrivateKey {
    /// An RSA key (RS256, RS512, PS256); boxed, it is eight times the size of an EC key.
    Rsa(Box<rsa::PrivateKey>),
    /// An EC key on P-256 (ES256).
    P256(p256::SecretKey),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Why a configured private key cannot be used. Messages name the key's type or encoding,
/// never its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyProblem {
    /// A PEM label other than the three supported ones.
    Label,
    /// The PEM or DER does not decode, or the numbers do not form a key.
    Malformed,
    /// A well-formed key of a type no signer here implements (e.g. "a P-384 EC key").
    Unsupported(&'static str),
    /// An RSA modulus outside the accepted size range.
    RsaSize(usize),
}

impl KeyProblem {
    /// The config error message (after the member's path).
    pub(crate) fn message(self) -> alloc::string::String {
        use alloc::format;
        match self {
            Self::Label => "must be a PKCS#8 \"PRIVATE KEY\", PKCS#1 \"RSA PRIVATE KEY\" or SEC1 \
                            \"EC PRIVATE KEY\" PEM block"
                .into(),
            Self::Malformed => "is not a valid private key (its PEM or DER encoding does not \
                                decode, or its numbers do not form a key)"
                .into(),
            Self::Unsupported(kind) => format!(
                "is {kind}; only RSA keys (RS256, RS512, PS256) and P-256 EC keys (ES256) are \
                 supported"
            ),
            Self::RsaSize(bits) => format!(
                "is a {bits}-bit RSA key; RSA keys must have {} to {RSA_MAX_BITS} bits",
                KeyPolicy::DEFAULT.min_rsa_bits
            ),
        }
    }
}

impl PrivateKey {
    /// Parses a PEM private key (the shape already checked by the caller or not).
    pub(crate) fn parse(pem: &str) -> Result<Self, KeyProblem> {
        let (label, der) = decode_pem(pem).map_err(|_| KeyProblem::Malformed)?;
        let key = match label {
            "PRIVATE KEY" => pkcs8(&der)?,
            "RSA PRIVATE KEY" => {
                let key =
                    rsa::PrivateKey::from_pkcs1_der(&der).map_err(|_| KeyProblem::Malformed)?;
                Self::Rsa(Box::new(key))
            }
            "EC PRIVATE KEY" => sec1(&der)?,
            _ => return Err(KeyProblem::Label),
        };
        if let Self::Rsa(k) = &key {
            let bits = bit_len(&k.n_bytes());
            if !(KeyPolicy::DEFAULT.min_rsa_bits..=RSA_MAX_BITS).contains(&bits) {
                return Err(KeyProblem::RsaSize(bits));
            }
        }
        Ok(key)
    }

    /// "an RSA key" / "a P-256 EC key", for messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Self::Rsa(_) => "an RSA key",
            Self::P256(_) => "a P-256 EC key",
        }
    }

    /// The public half: big-endian `n` and `e` without leading zeros, or the uncompressed
    /// SEC1 point `04 || x || y`.
    pub(crate) fn public(&self) -> PublicParts {
        match self {
            Self::Rsa(k) => PublicParts::Rsa { n: k.n_bytes().into(), e: k.e_bytes().into() },
            Self::P256(k) => {
                PublicParts::Ec { sec1: k.public_key().to_sec1_point(false).as_bytes().to_vec() }
            }
        }
    }
}

/// The public components of a [`PrivateKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicParts {
    /// RSA modulus and exponent, big-endian, no leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed SEC1 point.
    Ec { sec1: Vec<u8> },
}

/// A PKCS#8 `PrivateKeyInfo`: the algorithm identifier names the key type (and curve).
fn pkcs8(der: &[u8]) -> Result<PrivateKey, KeyProblem> {
    let info = rsa::pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|_| KeyProblem::Malformed)?;
    let oid = info.algorithm.oid;
    if oid == RSA_ENCRYPTION {
        rsa::PrivateKey::try_from(info)
            .map(|k| PrivateKey::Rsa(Box::new(k)))
            .map_err(|_| KeyProblem::Malformed)
    } else if oid == EC_PUBLIC_KEY {
        match info.algorithm.parameters_oid().map_err(|_| KeyProblem::Malformed)? {
            c if c == SECP256R1 => p256::SecretKey::try_from(info)
                .map(PrivateKey::P256)
                .map_err(|_| KeyProblem::Malformed),
            c => Err(KeyProblem::Unsupported(curve_name(c))),
        }
    } else if oid == RSASSA_PSS {
        Err(KeyProblem::Unsupported("an RSASSA-PSS-only key (use an rsaEncryption RSA key)"))
    } else if oid == ED25519 {
        Err(KeyProblem::Unsupported("an Ed25519 key"))
    } else if oid == ED448 {
        Err(KeyProblem::Unsupported("an Ed448 key"))
    } else {
        Err(KeyProblem::Unsupported("a key of an unknown type"))
    }
}

/// A SEC1 `ECPrivateKey`. Its curve parameters are optional, so P-256 is tried first and the
/// other NIST curves only to say what the key is.
fn sec1(der: &[u8]) -> Result<PrivateKey, KeyProblem> {
    if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
        return Ok(PrivateKey::P256(k));
    }
    if p384::SecretKey::from_sec1_der(der).is_ok() {
        return Err(KeyProblem::Unsupported(curve_name(SECP384R1)));
    }
    if p521::SecretKey::from_sec1_der(der).is_ok() {
        return Err(KeyProblem::Unsupported(curve_name(SECP521R1)));
    }
    Err(KeyProblem::Malformed)
}

fn curve_name(oid: ObjectIdentifier) -> &'static str {
    match oid {
        o if o == SECP256R1 => "a P-256 EC key",
        o if o == SECP384R1 => "a P-384 EC key",
        o if o == SECP521R1 => "a P-521 EC key",
        o if o == SECP256K1 => "a secp256k1 EC key",
        _ => "an EC key on an unknown curve",
    }
}
