//! What crosses the engine boundary: the caller's clock and randomness, HTTP intents for the
//! identity provider, and the provider's answers.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::config::ProxyOpts;
use crate::time::UnixTime;

/// A monotonic instant in microseconds, from the caller's clock. Only differences matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// `micros` microseconds after the caller's arbitrary origin.
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// Microseconds since the caller's origin.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// This instant plus `ms` milliseconds, saturating.
    #[must_use]
    pub const fn plus_millis(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms.saturating_mul(1000)))
    }

    /// This instant plus `s` seconds, saturating.
    #[must_use]
    pub const fn plus_secs(self, s: u64) -> Self {
        self.plus_millis(s.saturating_mul(1000))
    }

    /// Whole seconds from `earlier` to `self` (0 if `earlier` is later).
    pub const fn secs_since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0) / 1_000_000
    }
}

/// The caller's time, passed with every input: monotonic for deadlines and cache ages, wall
/// clock for token claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub mono: Instant,
    /// Wall-clock time.
    pub wall: UnixTime,
}

/// The caller's randomness. `fill_secret` is for values that must stay unpredictable (state,
/// nonce, PKCE verifier, cache hash keys); `fill_public` for values that only need to be unique.
pub trait Entropy {
    /// Fills `buf` with random bytes that may become public (identifiers).
    fn fill_public(&mut self, buf: &mut [u8]);
    /// Fills `buf` with cryptographically secure random bytes.
    fn fill_secret(&mut self, buf: &mut [u8]);
}

/// Identifies one HTTP intent; echo it back in [`super::Input::Response`] or
/// [`super::Input::Failed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntentId(pub(crate) u64);

impl IntentId {
    /// An id from its raw value (for tests and callers that keep ids as integers). Ids the
    /// engine did not issue are ignored when answered.
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw value (for logs and maps in the caller).
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for IntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "intent-{}", self.0)
    }
}

/// HTTP method of an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST (form-encoded body).
    Post,
}

impl Method {
    /// The method token.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// Why the engine wants the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Purpose {
    /// The provider's discovery document.
    Discovery,
    /// The provider's JWK Set.
    Jwks,
    /// RFC 7662 token introspection.
    Introspection,
    /// The token endpoint: an authorization code or a refresh token exchanged for tokens.
    Token,
    /// The UserInfo endpoint.
    Userinfo,
    /// RFC 7009 token revocation (logout).
    Revocation,
}

impl Purpose {
    /// A short name for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
            Self::Introspection => "introspection",
            Self::Token => "token",
            Self::Userinfo => "userinfo",
            Self::Revocation => "revocation",
        }
    }
}

/// An HTTP request the caller must perform for the engine, then report with
/// [`super::Input::Response`] or [`super::Input::Failed`] (exactly one of them).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpIntent {
    /// Echo this back with the answer.
    pub id: IntentId,
    /// GET or POST.
    pub method: Method,
    /// Absolute `http://` or `https://` URL.
    pub url: String,
    /// Request headers (besides `Host`, `Content-Length` and `Connection`, which the caller
    /// sets).
    pub headers: Vec<(String, String)>,
    /// Request body (form-urlencoded for POST).
    pub body: Vec<u8>,
    /// Give up at this instant and report [`FailureKind::Timeout`].
    pub deadline: Instant,
    /// Refuse bodies larger than this and report [`FailureKind::TooLarge`].
    pub max_response_bytes: usize,
    /// Why the engine wants it.
    pub purpose: Purpose,
    /// Verify the server's TLS certificate (`ssl_verify`).
    pub tls_verify: bool,
    /// Forward proxy settings (`proxy_opts`).
    pub proxy: Option<ProxyOpts>,
}

impl fmt::Debug for HttpIntent {
    // Bodies and headers can hold client credentials and tokens: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpIntent")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("purpose", &self.purpose)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// The identity provider's answer to an intent.
#[derive(Debug, Clone, Copy)]
pub struct ResponseView<'a> {
    /// Status code.
    pub status: u16,
    /// Response headers (names in any case).
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The whole body (at most the intent's `max_response_bytes`).
    pub body: &'a [u8],
}

/// Why an intent produced no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// TCP connect (or DNS) failed.
    Connect,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// The deadline passed.
    Timeout,
    /// The response exceeded `max_response_bytes`.
    TooLarge,
    /// The response was not valid HTTP.
    Protocol,
}

impl FailureKind {
    /// A short name for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::TooLarge => "too_large",
            Self::Protocol => "protocol",
        }
    }
}
