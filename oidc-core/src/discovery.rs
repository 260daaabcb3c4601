//! OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, §4; RFC 8414 members).
//!
//! [`ProviderMetadata::parse`] accepts a discovery document only with every REQUIRED member of
//! §3 present and well typed; unknown members are ignored. [`ProviderMetadata::check_issuer`]
//! applies §4.3: the document's `issuer` must be identical to the configured one.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use crate::jose::json::{self, JsonError, Object};

/// Upper bound on a discovery document (Keycloak's, the largest common one, is about 6 KiB).
pub const MAX_DOCUMENT_LEN: usize = 256 * 1024;

/// Why a discovery document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Larger than [`MAX_DOCUMENT_LEN`].
    TooLarge,
    /// Not a JSON object without duplicate members.
    Json(JsonError),
    /// A REQUIRED member is absent.
    Missing(&'static str),
    /// A member has the wrong JSON type.
    WrongType(&'static str),
    /// The document's `issuer` is not identical to the expected issuer (§4.3).
    IssuerMismatch,
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("discovery document too large"),
            Self::Json(e) => write!(f, "discovery document: {e}"),
            Self::Missing(m) => write!(f, "discovery document lacks {m}"),
            Self::WrongType(m) => write!(f, "discovery member {m} has the wrong type"),
            Self::IssuerMismatch => {
                f.write_str("discovery issuer differs from the configured issuer")
            }
        }
    }
}

/// The provider metadata members the gateway uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// Issuer identifier.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint (absent for implicit-only providers).
    pub token_endpoint: Option<String>,
    /// UserInfo endpoint.
    pub userinfo_endpoint: Option<String>,
    /// JWK Set document URL.
    pub jwks_uri: String,
    /// RFC 7662 introspection endpoint.
    pub introspection_endpoint: Option<String>,
    /// RFC 7009 revocation endpoint.
    pub revocation_endpoint: Option<String>,
    /// RP-Initiated Logout endpoint.
    pub end_session_endpoint: Option<String>,
    /// RFC 9126 pushed authorization request endpoint.
    pub pushed_authorization_request_endpoint: Option<String>,
    /// Supported `response_type` values.
    pub response_types_supported: Vec<String>,
    /// Supported subject identifier types.
    pub subject_types_supported: Vec<String>,
    /// ID token signing algorithms.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Client authentication methods at the token endpoint.
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// PKCE methods.
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Scopes.
    pub scopes_supported: Option<Vec<String>>,
    /// RFC 9207: the provider puts `iss` in every authorization response, so a callback
    /// without it is refused.
    pub authorization_response_iss_parameter_supported: bool,
}

impl ProviderMetadata {
    /// Parses and checks a discovery document.
    pub fn parse(bytes: &[u8]) -> Result<Self, DiscoveryError> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(DiscoveryError::TooLarge);
        }
        let doc = json::parse_object(bytes).map_err(DiscoveryError::Json)?;
        Ok(Self {
            issuer: required_str(&doc, "issuer")?,
            authorization_endpoint: required_str(&doc, "authorization_endpoint")?,
            token_endpoint: opt_str(&doc, "token_endpoint")?,
            userinfo_endpoint: opt_str(&doc, "userinfo_endpoint")?,
            jwks_uri: required_str(&doc, "jwks_uri")?,
            introspection_endpoint: opt_str(&doc, "introspection_endpoint")?,
            revocation_endpoint: opt_str(&doc, "revocation_endpoint")?,
            end_session_endpoint: opt_str(&doc, "end_session_endpoint")?,
            pushed_authorization_request_endpoint: opt_str(
                &doc,
                "pushed_authorization_request_endpoint",
            )?,
            response_types_supported: required_list(&doc, "response_types_supported")?,
            subject_types_supported: required_list(&doc, "subject_types_supported")?,
            id_token_signing_alg_values_supported: required_list(
                &doc,
                "id_token_signing_alg_values_supported",
            )?,
            token_endpoint_auth_methods_supported: opt_list(
                &doc,
                "token_endpoint_auth_methods_supported",
            )?,
            code_challenge_methods_supported: opt_list(&doc, "code_challenge_methods_supported")?,
            scopes_supported: opt_list(&doc, "scopes_supported")?,
            authorization_response_iss_parameter_supported: match doc
                .get("authorization_response_iss_parameter_supported")
            {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(DiscoveryError::WrongType(
                        "authorization_response_iss_parameter_supported",
                    ));
                }
            },
        })
    }

    /// OpenID Connect Discovery §4.3: the `issuer` must be identical (exact string comparison,
    /// no normalisation) to the issuer the document was fetched for.
    pub fn check_issuer(&self, expected: &str) -> Result<(), DiscoveryError> {
        if self.issuer == expected { Ok(()) } else { Err(DiscoveryError::IssuerMismatch) }
    }
}

/// The discovery URL for an issuer (§4.1): any trailing `/` removed, then
/// `/.well-known/openid-configuration` appended.
pub fn discovery_url(issuer: &str) -> String {
    let mut url = String::from(issuer.trim_end_matches('/'));
    url.push_str("/.well-known/openid-configuration");
    url
}

/// The issuer a discovery URL belongs to: the URL without its `/.well-known/openid-configuration`
/// suffix (§4.1), or for the RFC 8414 form `https://host/.well-known/openid-configuration/path`,
/// `https://host/path`. `None` for a URL of another shape (nothing to compare against).
pub fn issuer_of_discovery_url(url: &str) -> Option<String> {
    const SUFFIX: &str = "/.well-known/openid-configuration";
    if let Some(issuer) = url.strip_suffix(SUFFIX) {
        return Some(String::from(issuer));
    }
    let (base, path) = url.split_once(SUFFIX)?;
    path.starts_with('/').then(|| alloc::format!("{base}{path}"))
}

fn opt_str(doc: &Object, name: &'static str) -> Result<Option<String>, DiscoveryError> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(DiscoveryError::WrongType(name)),
    }
}

fn required_str(doc: &Object, name: &'static str) -> Result<String, DiscoveryError> {
    opt_str(doc, name)?.ok_or(DiscoveryError::Missing(name))
}

fn opt_list(doc: &Object, name: &'static str) -> Result<Option<Vec<String>>, DiscoveryError> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(String::from).ok_or(DiscoveryError::WrongType(name)))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(DiscoveryError::WrongType(name)),
    }
}

fn required_list(doc: &Object, name: &'static str) -> Result<Vec<String>, DiscoveryError> {
    opt_list(doc, name)?.ok_or(DiscoveryError::Missing(name))
}
