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
#[non_exhaustive]
pub enum Decision {
    /// Forward the request upstream with these header changes.
    Allow(Grant),
    /// Answer the client directly: the request is refused.
    Deny(Denial),
    /// Answer the client directly with a response of the login flow: a redirect to the
    /// identity provider or back to the page the user asked for, or a gateway page (logged
    /// out, a login that failed). Usually sets or clears cookies.
    Respond(Response),
}

/// A response the gateway generates itself in the browser login flow.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status (302 for redirects).
    pub status: u16,
    /// What happened, as a fixed code.
    pub reason: Reason,
    /// Response headers: `location`, one `set-cookie` per cookie, `cache-control`.
    pub headers: Vec<(&'static str, String)>,
    /// `Content-Type` of `body`.
    pub content_type: &'static str,
    /// Body (a small HTML page built from fixed strings; empty for redirects).
    pub body: String,
}

impl core::fmt::Debug for Response {
    // `Location` can carry an `id_token_hint`; cookies are sealed sessions: never printed.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("headers", &names)
            .finish_non_exhaustive()
    }
}

/// The names of a route's own cookies (the session's chunks and the login state cookie),
/// which the gateway removes from the `Cookie` header it forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieNames {
    session: String,
    state: String,
}

impl CookieNames {
    pub(crate) fn new(session: &str, state: &str) -> Self {
        Self { session: session.into(), state: state.into() }
    }

    /// Whether the cookie called `name` belongs to the gateway: `<session>`, `<session>2` to
    /// `<session>9`, `<session>_state`, or a per-flow `<session>_state_<tag>`.
    pub fn is_own(&self, name: &[u8]) -> bool {
        if name == self.state.as_bytes() || name == self.session.as_bytes() {
            return true;
        }
        if name
            .strip_prefix(self.state.as_bytes())
            .and_then(|rest| rest.strip_prefix(b"_"))
            .is_some_and(|tag| !tag.is_empty())
        {
            return true;
        }
        match name.strip_prefix(self.session.as_bytes()) {
            Some([d]) => (b'2'..=b'9').contains(d),
            _ => false,
        }
    }
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
    /// `Set-Cookie` values to add to the upstream's response (a renewed or refreshed session).
    pub set_cookies: Vec<String>,
    /// The route's own cookies, to remove from the forwarded `Cookie` header.
    pub own_cookies: Option<alloc::sync::Arc<CookieNames>>,
}

impl core::fmt::Debug for Grant {
    // Header values include the access token: never printed.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names: Vec<&str> = self.set_headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Grant")
            .field("remove_headers", &self.remove_headers)
            .field("set_headers", &names)
            .field("via", &self.via)
            .field("set_cookies", &self.set_cookies.len())
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
    /// The browser session cookie.
    Session,
    /// The browser session, after its access token was renewed with the refresh token.
    SessionRefreshed,
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
    /// No session: the browser is sent to the identity provider (302).
    LoginRedirect,
    /// No session on a request that cannot follow a redirect (a script), or `unauth_action:
    /// deny` (401).
    LoginRequired,
    /// The login finished: back to the page the user asked for, with the session (302).
    LoginComplete,
    /// The callback's query is not a usable authorization response (400).
    CallbackMalformed,
    /// The callback's `state` matches no login in progress, repeatedly (401 page).
    LoginStateLost,
    /// The authorization response names another issuer (RFC 9207) (400 page).
    CallbackIssuerMismatch,
    /// The identity provider answered the authorization request with an error (401 or 403
    /// page; the error code is logged, never shown).
    IdpError,
    /// The token endpoint refused the authorization code (401 page).
    CodeExchangeFailed,
    /// The ID token failed validation (401 page).
    IdTokenInvalid(VerifyError),
    /// The userinfo `sub` differs from the ID token's (403 page).
    UserinfoMismatch,
    /// The tokens do not fit the session cookie budget (500 page).
    SessionTooLarge,
    /// The session's refresh token was refused; the browser logs in again.
    RefreshFailed,
    /// Logout done: to the provider's end-session endpoint, the post-logout URI or a page.
    LoggedOut,
    /// A logout request that may come from another site: a confirmation page.
    LogoutConfirm,
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
            Self::LoginRedirect => "login_redirect",
            Self::LoginRequired => "login_required",
            Self::LoginComplete => "login_complete",
            Self::CallbackMalformed => "callback_malformed",
            Self::LoginStateLost => "login_state_lost",
            Self::CallbackIssuerMismatch => "callback_issuer_mismatch",
            Self::IdpError => "idp_error",
            Self::CodeExchangeFailed => "code_exchange_failed",
            Self::IdTokenInvalid(e) => match e {
                VerifyError::Claims(ClaimError::Nonce) => "id_token_nonce",
                VerifyError::Claims(ClaimError::Expired) => "id_token_expired",
                VerifyError::Claims(ClaimError::Audience) => "id_token_audience",
                VerifyError::Claims(ClaimError::Issuer) => "id_token_issuer",
                VerifyError::BadSignature => "id_token_bad_signature",
                _ => "id_token_invalid",
            },
            Self::UserinfoMismatch => "userinfo_mismatch",
            Self::SessionTooLarge => "session_too_large",
            Self::RefreshFailed => "refresh_failed",
            Self::LoggedOut => "logged_out",
            Self::LogoutConfirm => "logout_confirm",
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
