//! PEM public keys for the `public_key` option: SPKI `PUBLIC KEY` (RSA, EC P-256/384/521,
//! Ed25519) and PKCS#1 `RSA PUBLIC KEY`. Parsed once, at configuration load, into a
//! [`VerifyingKey`].

use der::Decode as _;
use der::asn1::ObjectIdentifier;

use super::alg::Curve;
use super::key::{KeyError, KeyPolicy, VerifyingKey};
use crate::crypto::CryptoProvider;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// Upper bound on a PEM document; an 8192-bit RSA key is about 1.5 KiB.
const MAX_PEM_LEN: usize = 16 * 1024;

/// Loads a PEM-encoded public key.
pub fn parse_public_key_pem(
    pem: &str,
    policy: &KeyPolicy,
    provider: &dyn CryptoProvider,
) -> Result<VerifyingKey, KeyError> {
    let pem = pem.trim();
    if pem.len() > MAX_PEM_LEN {
        return Err(KeyError::Encoding);
    }
    let (label, der) = decode_pem(pem)?;
    match label {
        "PUBLIC KEY" => parse_spki_der(&der, policy, provider),
        "RSA PUBLIC KEY" => parse_pkcs1_der(&der, policy, provider),
        _ => Err(KeyError::Encoding),
    }
}

/// Loads a DER `SubjectPublicKeyInfo`.
pub fn parse_spki_der(
    der: &[u8],
    policy: &KeyPolicy,
    provider: &dyn CryptoProvider,
) -> Result<VerifyingKey, KeyError> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|_| KeyError::Encoding)?;
    let bits = spki.subject_public_key.as_bytes().ok_or(KeyError::Encoding)?;
    let oid = spki.algorithm.oid;
    if oid == RSA_ENCRYPTION {
        parse_pkcs1_der(bits, policy, provider)
    } else if oid == EC_PUBLIC_KEY {
        let curve_oid: ObjectIdentifier = spki
            .algorithm
            .parameters
            .ok_or(KeyError::Encoding)?
            .decode_as()
            .map_err(|_| KeyError::Encoding)?;
        let curve = match curve_oid {
            o if o == SECP256R1 => Curve::P256,
            o if o == SECP384R1 => Curve::P384,
            o if o == SECP521R1 => Curve::P521,
            _ => return Err(KeyError::UnsupportedCurve),
        };
        VerifyingKey::ec_sec1(curve, bits, provider)
    } else if oid == ED25519 {
        VerifyingKey::ed25519(bits, provider)
    } else {
        Err(KeyError::UnsupportedKeyType)
    }
}

/// Loads a DER PKCS#1 `RSAPublicKey`.
pub fn parse_pkcs1_der(
    der: &[u8],
    policy: &KeyPolicy,
    provider: &dyn CryptoProvider,
) -> Result<VerifyingKey, KeyError> {
    let key = pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(der)
        .map_err(|_| KeyError::Encoding)?;
    VerifyingKey::rsa(key.modulus.as_bytes(), key.public_exponent.as_bytes(), policy, provider)
}

/// Decodes one PEM block (RFC 7468), leniently about line length and whitespace: operators paste
/// keys into YAML and JSON with or without line breaks. Returns the label and the DER bytes.
pub fn decode_pem(text: &str) -> Result<(&str, alloc::vec::Vec<u8>), KeyError> {
    use base64::Engine as _;
    let text = text.trim();
    if text.len() > MAX_PEM_LEN {
        return Err(KeyError::Encoding);
    }
    let rest = text.strip_prefix("-----BEGIN ").ok_or(KeyError::Encoding)?;
    let (label, rest) = rest.split_once("-----").ok_or(KeyError::Encoding)?;
    let (body, end) = rest.split_once("-----END ").ok_or(KeyError::Encoding)?;
    if end.trim_end().strip_suffix("-----") != Some(label) {
        return Err(KeyError::Encoding);
    }
    let b64: alloc::vec::Vec<u8> = body.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let der =
        base64::engine::general_purpose::STANDARD.decode(&b64).map_err(|_| KeyError::Encoding)?;
    Ok((label, der))
}
