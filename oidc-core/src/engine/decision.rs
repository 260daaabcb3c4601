//! What the engine decides about a request.
//!
//! A denial carries a [`Reason`] (a fixed machine code for logs and metrics) and a complete
//! response: status, headers and body, all built from fixed strings and configuration. Nothing a
//! client or a token controls is ever copied into a header or body.

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::jose::{ClaimError, VerifyError};

/// Headers the gateway sets for the upstream; the same names coming from a client are always
/// removed, so an upstream can trust them.
pub const IDENTITY_HEADERS: [&str; 5] =
    ["x-access-token", "x-id-token", "x-userinfo", "x-refresh-token", "x-raw-id-token"];

/// The engine's verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Forward the request upstream with these header changes.
    Allow(Grant),
    /// Answer the client directly.
    Deny(Denial),
}

/// Header changes for an allowed request.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    /// Remove these request headers (lower-case names) before forwarding.
    pub remove_headers: Vec<&'static str>,
    /// Then set these (replacing any existing value).
    pub set_headers: Vec<(&'static str, String)>,
    /// The authenticated subject, for the access log.
    pub subject: Option<String>,
    /// How the request was authenticated.
    pub via: AuthVia,
}

impl core::fmt::Debug for Grant {
    // Header values include the access token: never printed.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names: Vec<&str> = self.set_headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Grant")
            .field("remove_headers", &self.remove_headers)
            .field("set_headers", &names)
            .field("via", &self.via)
            .finish_non_exhaustive()
    }
}

/// How an allowed request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVia {
    /// A JWT verified locally, answered from the verified-token cache.
    JwtCached,
    /// A JWT verified locally.
    Jwt,
    /// RFC 7662 introspection, answered from the cache.
    IntrospectionCached,
    /// RFC 7662 introspection.
    Introspection,
    /// `unauth_action: pass`: no identity.
    Anonymous,
}

/// A response to send instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// HTTP status.
    pub status: u16,
    /// Why, as a fixed code.
    pub reason: Reason,
    /// Response headers.
    pub headers: Vec<(&'static str, String)>,
    /// Response body.
    pub body: String,
}

/// The machine-readable reason for a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// No bearer token (401).
    MissingToken,
    /// `Authorization` is not `<scheme> <credentials>` (400).
    MalformedAuthorization,
    /// The JWT failed verification (401).
    InvalidToken(VerifyError),
    /// Introspection says the token is not active (401).
    InactiveToken,
    /// A required scope is missing (403).
    InsufficientScope,
    /// The audience claim is missing where required (403).
    AudienceMissing,
    /// The audience does not match (403).
    AudienceMismatch,
    /// The identity provider is unreachable or failing, and nothing cached can answer (503).
    IdpUnavailable,
    /// The identity provider answered with something unusable (502).
    IdpBadResponse,
    /// The route needs the browser session flow, which this engine does not run (501).
    SessionFlowUnavailable,
    /// The route's configuration cannot serve this request (500).
    Misconfigured,
    /// Too many requests are already waiting on the identity provider (503).
    Overloaded,
    /// The request waited on a provider that a reconfiguration removed (503, retry at once).
    Reconfigured,
    /// The token's claims do not satisfy the route's `claim_schema` (401).
    ClaimSchemaViolation,
    /// More than one credential: several `Authorization` or `X-Access-Token` fields, or both
    /// carrying different tokens (400).
    ConflictingCredentials,
}

impl Reason {
    /// A stable snake_case code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MalformedAuthorization => "malformed_authorization",
            Self::InvalidToken(e) => match e {
                VerifyError::Malformed(_) => "token_malformed",
                VerifyError::AlgorithmNotAllowed => "token_alg_not_allowed",
                VerifyError::UnknownKid => "token_unknown_kid",
                VerifyError::NoSuitableKey => "token_no_suitable_key",
                VerifyError::BadSignature => "token_bad_signature",
                VerifyError::Payload => "token_bad_payload",
                VerifyError::Claims(c) => match c {
                    ClaimError::Expired => "token_expired",
                    ClaimError::NotYetValid => "token_not_yet_valid",
                    ClaimError::IssuedInFuture => "token_issued_in_future",
                    ClaimError::Issuer => "token_issuer",
                    ClaimError::Audience => "token_audience",
                    ClaimError::Type => "token_type",
                    _ => "token_claims",
                },
            },
            Self::InactiveToken => "token_inactive",
            Self::InsufficientScope => "insufficient_scope",
            Self::AudienceMissing => "audience_missing",
            Self::AudienceMismatch => "audience_mismatch",
            Self::IdpUnavailable => "idp_unavailable",
            Self::IdpBadResponse => "idp_bad_response",
            Self::SessionFlowUnavailable => "session_flow_unavailable",
            Self::Misconfigured => "misconfigured",
            Self::Overloaded => "overloaded",
            Self::Reconfigured => "reconfigured",
            Self::ClaimSchemaViolation => "claim_schema_violation",
            Self::ConflictingCredentials => "conflicting_credentials",
        }
    }
}

/// Quotes `s` as an HTTP quoted-string (RFC 9110 §5.6.4), dropping control characters.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `WWW-Authenticate: Bearer realm="..."[, error="...", error_description="..."]` (RFC 6750 §3).
/// `error` and `description` are fixed strings chosen by the engine.
pub(crate) fn www_authenticate(realm: &str, error: Option<(&'static str, &'static str)>) -> String {
    let mut v = String::from("Bearer realm=");
    v.push_str(&quoted(realm));
    if let Some((code, description)) = error {
        v.push_str(", error=\"");
        v.push_str(code);
        v.push_str("\", error_description=\"");
        v.push_str(description);
        v.push('"');
    }
    v
}

impl Denial {
    /// 401 with a bearer challenge.
    pub(crate) fn unauthorized(realm: &str, reason: Reason) -> Self {
        let error = match reason {
            Reason::MissingToken => None,
            Reason::InactiveToken => Some(("invalid_token", "the access token is not active")),
            Reason::InvalidToken(VerifyError::Claims(ClaimError::Expired)) => {
                Some(("invalid_token", "the access token expired"))
            }
            _ => Some(("invalid_token", "the access token is invalid")),
        };
        Self {
            status: 401,
            reason,
            headers: alloc::vec![("www-authenticate", www_authenticate(realm, error))],
            body: json_error("unauthorized"),
        }
    }

    /// 403 with an RFC 6750 `insufficient_scope` challenge where it applies.
    pub(crate) fn forbidden(realm: &str, reason: Reason, message: &str) -> Self {
        let mut headers = Vec::new();
        if reason == Reason::InsufficientScope {
            let challenge = www_authenticate(
                realm,
                Some(("insufficient_scope", "the access token lacks a required scope")),
            );
            headers.push(("www-authenticate", challenge));
        }
        Self { status: 403, reason, headers, body: json_error(message) }
    }

    /// 400 for a malformed request.
    pub(crate) fn bad_request(reason: Reason) -> Self {
        Self { status: 400, reason, headers: Vec::new(), body: json_error("bad request") }
    }

    /// 503 with `Retry-After`.
    pub(crate) fn unavailable(reason: Reason, retry_after_secs: u64) -> Self {
        Self {
            status: 503,
            reason,
            headers: alloc::vec![("retry-after", alloc::format!("{}", retry_after_secs.max(1)))],
            body: json_error("identity provider unavailable"),
        }
    }

    /// 502: the identity provider answered with something unusable.
    pub(crate) fn bad_gateway(reason: Reason) -> Self {
        Self {
            status: 502,
            reason,
            headers: Vec::new(),
            body: json_error("bad identity provider response"),
        }
    }

    /// Another status with a fixed message.
    pub(crate) fn other(status: u16, reason: Reason, message: &str) -> Self {
        Self { status, reason, headers: Vec::new(), body: json_error(message) }
    }
}

/// `{"error":"<message>"}` for messages built from fixed strings and configuration.
pub(crate) fn json_error(message: &str) -> String {
    let mut v = serde_json::Map::new();
    v.insert("error".to_owned(), serde_json::Value::String(message.to_owned()));
    serde_json::Value::Object(v).to_string()
}
