//! The authorization request: the `Location` of the 302 to the identity provider, and the
//! flow it starts.

use alloc::string::String;
use core::fmt;

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::encode::{query_encode, query_pair};
use crate::config::OidcConfig;
use crate::engine::Entropy;
use crate::jose::base64url;
use crate::time::UnixTime;

/// Random bytes in `state` (22 base64url characters): unguessable per flow, short in a URL.
pub const STATE_BYTES: usize = 16;
/// Random bytes in `nonce`.
pub const NONCE_BYTES: usize = 16;
/// Random bytes in the PKCE verifier: 32 give the 43 characters RFC 7636 §4.1 asks at least.
pub const VERIFIER_BYTES: usize = 32;
/// Longest original URL remembered for a flow. A longer one would crowd other tabs' flows out
/// of the state cookie; the caller sends such a request back to `/` or refuses it.
pub const MAX_ORIGINAL_URL: usize = 1536;
/// Longest redirect URI accepted (it travels in the state cookie too).
pub const MAX_REDIRECT_URI: usize = 512;

/// Parameters this module sets itself. An `authorization_params` entry with one of these names
/// is dropped: APISIX lets them override `state` or `redirect_uri` (reference §a), which turns a
/// configuration typo into a CSRF hole or a code sent elsewhere. `scope` has its own option.
pub const RESERVED_PARAMS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// One login in progress: what the callback needs to finish it.
///
/// Secrets (`nonce`, the PKCE verifier) are wiped on drop and never printed.
pub struct FlowState {
    pub(crate) state: String,
    pub(crate) nonce: Option<Zeroizing<String>>,
    pub(crate) verifier: Option<Zeroizing<String>>,
    pub(crate) original_url: String,
    pub(crate) created_at: UnixTime,
    pub(crate) redirect_uri: String,
}

impl fmt::Debug for FlowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowState")
            .field("original_url", &self.original_url)
            .field("created_at", &self.created_at)
            .field("redirect_uri", &self.redirect_uri)
            .field("nonce", &self.nonce.as_ref().map(|_| "<redacted>"))
            .field("verifier", &self.verifier.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl FlowState {
    /// The `state` sent to the provider (public: it is in the browser's URL bar).
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The `nonce` the ID token must carry, when `use_nonce` was on.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_ref().map(|n| n.as_str())
    }

    /// The PKCE `code_verifier` for the code exchange, when `use_pkce` was on.
    pub fn code_verifier(&self) -> Option<&str> {
        self.verifier.as_ref().map(|v| v.as_str())
    }

    /// Where to send the browser after the login.
    pub fn original_url(&self) -> &str {
        &self.original_url
    }

    /// When the flow started.
    pub fn created_at(&self) -> UnixTime {
        self.created_at
    }

    /// The `redirect_uri` of the authorization request, which the code exchange must repeat.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}

/// The 302 to send and the flow to remember.
#[derive(Debug)]
pub struct AuthorizationRequest {
    /// The `Location` header value.
    pub location: String,
    /// The flow; add it to the state cookie ([`super::FlowSet::push`]).
    pub flow: FlowState,
}

/// Why no authorization request could be built. Configuration or caller errors, never client
/// input: the caller checks the original URL's length first if it wants another answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthzError {
    /// The authorization endpoint is empty, has a fragment, or contains spaces or control
    /// characters.
    BadEndpoint,
    /// The original URL is longer than [`MAX_ORIGINAL_URL`] or holds control characters.
    OriginalUrl,
    /// The redirect URI is empty, longer than [`MAX_REDIRECT_URI`] or holds control characters.
    RedirectUri,
    /// The entropy source returned only zeros.
    Entropy,
}

impl fmt::Display for AuthzError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadEndpoint => "authorization_endpoint is not a usable URL",
            Self::OriginalUrl => "original URL too long or not printable",
            Self::RedirectUri => "redirect_uri empty, too long or not printable",
            Self::Entropy => "entropy source returned zeros",
        })
    }
}

/// The path APISIX uses as `redirect_uri` when none is configured: the request's path with one
/// trailing `/` removed and `/.apisix/redirect` appended, or the path itself when it already
/// ends so (it is then the callback). `path` is the normalised path without the query. The
/// scheme and host in front of it are the caller's to choose, from trusted sources only (an
/// absolute configured `redirect_uri` is safer still: reference §f.6).
pub fn default_redirect_path(path: &str) -> String {
    const SUFFIX: &str = "/.apisix/redirect";
    if path.ends_with(SUFFIX) {
        return String::from(path);
    }
    let base = path.strip_suffix('/').unwrap_or(path);
    let mut out = String::with_capacity(base.len() + SUFFIX.len());
    out.push_str(base);
    out.push_str(SUFFIX);
    out
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2): `BASE64URL(SHA256(verifier))`.
pub fn pkce_challenge(verifier: &str) -> String {
    base64url::encode(&Sha256::digest(verifier.as_bytes()))
}

fn random_token(rng: &mut dyn Entropy, buf: &mut [u8]) -> Result<Zeroizing<String>, AuthzError> {
    rng.fill_secret(buf);
    // A source that fills nothing would hand every browser the same state and verifier.
    if buf.iter().all(|&b| b == 0) {
        return Err(AuthzError::Entropy);
    }
    let token = Zeroizing::new(base64url::encode(buf));
    zeroize::Zeroize::zeroize(buf);
    Ok(token)
}

fn printable(s: &str) -> bool {
    s.bytes().all(|b| b > 0x20 && b != 0x7f)
}

/// How many times the login that produced this `state` was already restarted (0 for a
/// state this module did not prefix, or any other text).
pub fn restart_count(state: &str) -> u8 {
    match state.split_once('~') {
        Some((n, _)) if n.len() == 1 => n.parse().unwrap_or(0),
        _ => 0,
    }
}

/// Builds the authorization request for a browser that needs to log in.
///
/// `redirect_uri` is the absolute callback URL already resolved by the caller (from the
/// configuration, or derived from trusted host information); `original_url` is where the
/// browser goes after the login. The query carries `response_type=code`, `client_id`,
/// `redirect_uri`, `scope`, `state`, then `nonce` and `code_challenge` with
/// `code_challenge_method=S256` when enabled, then `authorization_params` minus
/// [`RESERVED_PARAMS`] (string, number and boolean values; others are skipped).
pub fn authorization_request(
    authorization_endpoint: &str,
    config: &OidcConfig,
    redirect_uri: &str,
    original_url: &str,
    now: UnixTime,
    rng: &mut dyn Entropy,
) -> Result<AuthorizationRequest, AuthzError> {
    restarted_authorization_request(
        authorization_endpoint,
        config,
        redirect_uri,
        original_url,
        now,
        rng,
        0,
    )
}

/// Most restarts of a login whose callback matched no flow (a lost or blocked state cookie):
/// after that the browser gets a page instead of another round trip to the provider.
pub const MAX_RESTARTS: u8 = 2;

/// As [`authorization_request`], for the `attempt`-th restart of a login whose callback
/// matched no flow. The count travels in the `state` itself (`<attempt>~<random>`), since the
/// usual reason for the restart is a cookie the browser did not keep; [`restart_count`] reads
/// it back from the next callback.
pub fn restarted_authorization_request(
    authorization_endpoint: &str,
    config: &OidcConfig,
    redirect_uri: &str,
    original_url: &str,
    now: UnixTime,
    rng: &mut dyn Entropy,
    attempt: u8,
) -> Result<AuthorizationRequest, AuthzError> {
    if authorization_endpoint.is_empty()
        || !printable(authorization_endpoint)
        || authorization_endpoint.contains('#')
    {
        return Err(AuthzError::BadEndpoint);
    }
    if original_url.len() > MAX_ORIGINAL_URL || !printable(original_url) {
        return Err(AuthzError::OriginalUrl);
    }
    if redirect_uri.is_empty() || redirect_uri.len() > MAX_REDIRECT_URI || !printable(redirect_uri)
    {
        return Err(AuthzError::RedirectUri);
    }
    let mut state = random_token(rng, &mut [0u8; STATE_BYTES])?;
    if attempt > 0 {
        let mut prefixed = Zeroizing::new(alloc::format!("{attempt}~"));
        prefixed.push_str(&state);
        state = prefixed;
    }
    let nonce =
        if config.use_nonce { Some(random_token(rng, &mut [0u8; NONCE_BYTES])?) } else { None };
    let verifier =
        if config.use_pkce { Some(random_token(rng, &mut [0u8; VERIFIER_BYTES])?) } else { None };

    let mut location = String::with_capacity(authorization_endpoint.len() + 256);
    location.push_str(authorization_endpoint);
    if !authorization_endpoint.contains('?') {
        location.push('?');
    } else if !authorization_endpoint.ends_with(['?', '&']) {
        location.push('&');
    }
    let mut first = true;
    let mut pair = |out: &mut String, name: &str, value: &str| {
        if !first {
            out.push('&');
        }
        first = false;
        query_pair(out, name, value);
    };
    pair(&mut location, "response_type", "code");
    pair(&mut location, "client_id", &config.client_id);
    pair(&mut location, "redirect_uri", redirect_uri);
    pair(&mut location, "scope", &config.scope);
    pair(&mut location, "state", &state);
    if let Some(nonce) = &nonce {
        pair(&mut location, "nonce", nonce);
    }
    if let Some(verifier) = &verifier {
        pair(&mut location, "code_challenge", &pkce_challenge(verifier));
        pair(&mut location, "code_challenge_method", "S256");
    }
    for (name, value) in &config.authorization_params {
        if RESERVED_PARAMS.contains(&name.as_str()) {
            continue;
        }
        let text;
        let value = match value {
            Value::String(s) => s.as_str(),
            Value::Number(n) => {
                text = alloc::format!("{n}");
                text.as_str()
            }
            Value::Bool(true) => "true",
            Value::Bool(false) => "false",
            Value::Null | Value::Array(_) | Value::Object(_) => continue,
        };
        if !first {
            location.push('&');
        }
        first = false;
        query_encode(&mut location, name);
        location.push('=');
        query_encode(&mut location, value);
    }

    let flow = FlowState {
        state: String::from(state.as_str()),
        nonce,
        verifier,
        original_url: String::from(original_url),
        created_at: now,
        redirect_uri: String::from(redirect_uri),
    };
    Ok(AuthorizationRequest { location, flow })
}
