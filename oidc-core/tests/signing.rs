//! Client-assertion signing through the crypto-provider seam: every provider signs with every
//! key encoding, and the signature verifies under the key's public half (checked with
//! aws-lc-rs directly, independent of the provider under test).

use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, KeyPair as _, RsaKeyPair, UnparsedPublicKey,
};
use oidc_core::crypto::{PrivateKeyDer, SigningAlg, all_providers};

fn der(name: &str) -> (String, Vec<u8>) {
    let pem = std::fs::read_to_string(format!(
        "{}/tests/data/config-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let label = pem.lines().next().unwrap().trim_matches('-').trim_start_matches("BEGIN ").into();
    use base64::Engine as _;
    (label, base64::engine::general_purpose::STANDARD.decode(b64).unwrap())
}

#[test]
fn every_provider_signs_with_every_encoding() {
    let msg = b"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJjIn0";
    let mut checked = 0;
    for provider in all_providers() {
        for (file, alg) in [
            ("rsa2048.pkcs8.pem", SigningAlg::Rs256),
            ("rsa2048.pkcs1.pem", SigningAlg::Rs256),
            ("rsa2048.pkcs8.pem", SigningAlg::Rs512),
            ("p256.pkcs8.pem", SigningAlg::Es256),
            ("p256.sec1.pem", SigningAlg::Es256),
        ] {
            let (label, bytes) = der(file);
            let key = match label.as_str() {
                "PRIVATE KEY" => PrivateKeyDer::Pkcs8(&bytes),
                "RSA PRIVATE KEY" => PrivateKeyDer::RsaPkcs1(&bytes),
                _ => PrivateKeyDer::EcSec1(&bytes),
            };
            let signer = provider.signing_key(alg, key).unwrap();
            assert_eq!(signer.alg(), alg);
            let signature = signer.sign(msg).unwrap();
            let (public, verify): (Vec<u8>, &dyn sig::VerificationAlgorithm) = match alg {
                SigningAlg::Es256 => {
                    let pair = match key {
                        PrivateKeyDer::Pkcs8(d) => {
                            EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, d)
                        }
                        _ => EcdsaKeyPair::from_private_key_der(
                            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                            &bytes,
                        ),
                    }
                    .unwrap();
                    (pair.public_key().as_ref().to_vec(), &sig::ECDSA_P256_SHA256_FIXED)
                }
                _ => {
                    let pair = match key {
                        PrivateKeyDer::Pkcs8(d) => RsaKeyPair::from_pkcs8(d),
                        _ => RsaKeyPair::from_der(&bytes),
                    }
                    .unwrap();
                    let v: &dyn sig::VerificationAlgorithm = if alg == SigningAlg::Rs512 {
                        &sig::RSA_PKCS1_2048_8192_SHA512
                    } else {
                        &sig::RSA_PKCS1_2048_8192_SHA256
                    };
                    (pair.public_key().as_ref().to_vec(), v)
                }
            };
            UnparsedPublicKey::new(verify, &public)
                .verify(msg, &signature)
                .unwrap_or_else(|_| panic!("{} {file} {alg:?}", provider.name()));
            checked += 1;
        }
        // A key of the other family is refused, never used for a different algorithm.
        let (_, rsa) = der("rsa2048.pkcs8.pem");
        assert!(provider.signing_key(SigningAlg::Es256, PrivateKeyDer::Pkcs8(&rsa)).is_err());
        let (_, ec) = der("p256.sec1.pem");
        assert!(provider.signing_key(SigningAlg::Rs256, PrivateKeyDer::EcSec1(&ec)).is_err());
    }
    assert!(checked >= 10, "both providers, five keys each");
}
