//! Client authentication at IdP endpoints (RFC 6749 §2.3.1, RFC 7523 §2.2 / OpenID Connect
//! Core §9).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::{Sha256, Sha512};

use super::introspection::{form_encode, form_pair};
use super::io::{Entropy, Now};
use crate::config::{AuthMethod, OidcConfig};
use crate::jose::base64url;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Why client authentication could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuthError {
    /// The method needs a credential the configuration lacks.
    MissingCredential,
    /// The private key could not be used.
    BadKey,
}

/// Adds client authentication for `endpoint` to a request: a header and/or form fields.
pub(crate) fn apply(
    route: &super::route::Route,
    method: AuthMethod,
    endpoint: &str,
    now: Now,
    rng: &mut dyn Entropy,
    headers: &mut Vec<(String, String)>,
    form: &mut String,
) -> Result<(), ClientAuthError> {
    let cfg: &OidcConfig = &route.cfg;
    match method {
        AuthMethod::ClientSecretBasic => {
            // RFC 6749 §2.3.1: each part form-urlencoded before the Basic encoding.
            let mut user_pass = String::new();
            form_encode(&mut user_pass, &cfg.client_id);
            user_pass.push(':');
            form_encode(&mut user_pass, cfg.client_secret.as_deref().unwrap_or(""));
            let b64 = base64::engine::general_purpose::STANDARD.encode(user_pass.as_bytes());
            headers.push(("Authorization".into(), format!("Basic {b64}")));
        }
        AuthMethod::ClientSecretPost => {
            form_pair(form, "client_id", &cfg.client_id);
            if let Some(secret) = &cfg.client_secret {
                form_pair(form, "client_secret", secret);
            }
        }
        AuthMethod::ClientSecretJwt => {
            let secret = cfg.client_secret.as_deref().ok_or(ClientAuthError::MissingCredential)?;
            let alg = match cfg.client_jwt_assertion_alg.as_deref() {
                Some("HS512") => "HS512",
                _ => "HS256",
            };
            let input = assertion_input(cfg, alg, None, endpoint, now, rng);
            let tag = match alg {
                "HS512" => {
                    let mut m = Hmac::<Sha512>::new_from_slice(secret.as_bytes())
                        .map_err(|_| ClientAuthError::BadKey)?;
                    m.update(input.as_bytes());
                    m.finalize().into_bytes().to_vec()
                }
                _ => {
                    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                        .map_err(|_| ClientAuthError::BadKey)?;
                    m.update(input.as_bytes());
                    m.finalize().into_bytes().to_vec()
                }
            };
            form_pair(form, "client_id", &cfg.client_id);
            form_pair(form, "client_assertion_type", ASSERTION_TYPE);
            form_pair(form, "client_assertion", &format!("{input}.{}", base64url::encode(&tag)));
        }
        AuthMethod::PrivateKeyJwt => {
            let signer = route.signer.as_deref().ok_or(ClientAuthError::MissingCredential)?;
            let kid = cfg.client_rsa_private_key_id.as_deref();
            let input = assertion_input(cfg, signer.alg().name(), kid, endpoint, now, rng);
            let sig = signer.sign(input.as_bytes()).map_err(|_| ClientAuthError::BadKey)?;
            form_pair(form, "client_id", &cfg.client_id);
            form_pair(form, "client_assertion_type", ASSERTION_TYPE);
            form_pair(form, "client_assertion", &format!("{input}.{}", base64url::encode(&sig)));
        }
    }
    Ok(())
}

/// `BASE64URL(header) . BASE64URL(claims)` of a client assertion (RFC 7523 §3).
fn assertion_input(
    cfg: &OidcConfig,
    alg: &str,
    kid: Option<&str>,
    endpoint: &str,
    now: Now,
    rng: &mut dyn Entropy,
) -> String {
    let header = match kid {
        Some(kid) => json!({ "typ": "JWT", "alg": alg, "kid": kid }),
        None => json!({ "typ": "JWT", "alg": alg }),
    };
    let mut jti = [0u8; 16];
    rng.fill_public(&mut jti);
    let iat = now.wall.as_secs();
    let exp = iat.saturating_add(i64::try_from(cfg.client_jwt_assertion_expires_in).unwrap_or(60));
    let aud = cfg.client_jwt_assertion_audience.as_deref().unwrap_or(endpoint);
    let claims = json!({
        "iss": cfg.client_id, "sub": cfg.client_id, "aud": aud,
        "jti": base64url::encode(&jti), "iat": iat, "exp": exp,
    });
    format!(
        "{}.{}",
        base64url::encode(header.to_string().as_bytes()),
        base64url::encode(claims.to_string().as_bytes())
    )
}
