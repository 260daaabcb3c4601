//! The client-assertion signer of a route (`private_key_jwt`), built once when the route is
//! compiled, on the engine's crypto provider: no PEM parsing or key setup per assertion.
//!
//! `client_rsa_private_key` is PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or SEC1
//! `EC PRIVATE KEY`; `client_jwt_assertion_alg` picks RS256 (the default for RSA keys), RS512
//! or ES256 (the default, and only choice, for P-256 keys). Configuration loading has already
//! refused keys and algorithms that do not fit; a failure here is a hand-built config.

use alloc::sync::Arc;

use crate::config::OidcConfig;
use crate::config::private_key::PrivateKey;
use crate::crypto::{CryptoProvider, KeyRejected, PrivateKeyDer, SigningAlg, SigningKey};
use crate::jose::pem::decode_pem;

/// The route's signer, if it has a `client_rsa_private_key`.
pub(crate) fn compile(
    cfg: &OidcConfig,
    crypto: &dyn CryptoProvider,
) -> Result<Option<Arc<dyn SigningKey>>, KeyRejected> {
    let Some(pem) = cfg.client_rsa_private_key.as_deref() else { return Ok(None) };
    let ec = match PrivateKey::parse(pem).map_err(|_| KeyRejected::Invalid)? {
        PrivateKey::Rsa(_) => false,
        PrivateKey::P256(_) => true,
    };
    let (label, der) = decode_pem(pem).map_err(|_| KeyRejected::Invalid)?;
    let der = match label {
        "PRIVATE KEY" => PrivateKeyDer::Pkcs8(&der),
        "RSA PRIVATE KEY" => PrivateKeyDer::RsaPkcs1(&der),
        "EC PRIVATE KEY" => PrivateKeyDer::EcSec1(&der),
        _ => return Err(KeyRejected::Invalid),
    };
    let alg = match (cfg.client_jwt_assertion_alg.as_deref(), ec) {
        (None | Some("ES256"), true) => SigningAlg::Es256,
        (None | Some("RS256"), false) => SigningAlg::Rs256,
        (Some("RS512"), false) => SigningAlg::Rs512,
        _ => return Err(KeyRejected::Invalid),
    };
    crypto.signing_key(alg, der).map(Arc::from).map(Some)
}
