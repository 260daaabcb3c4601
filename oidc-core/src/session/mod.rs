//! The browser session: sealed, chunked, stateless cookies.
//!
//! After a login the gateway keeps the user's tokens in a cookie that only it can read or
//! write. [`SessionCodec`] turns a [`Session`] into the `Set-Cookie` values to send
//! ([`SessionCodec::seal`]) and the `Cookie` headers of a later request back into the session
//! ([`SessionCodec::open`]). It is pure: the caller passes the time and the randomness, and
//! gets values back.
//!
//! ```
//! use oidc_core::UnixTime;
//! use oidc_core::crypto::default_provider;
//! use oidc_core::engine::Entropy;
//! use oidc_core::session::{
//!     Binding, CookieContext, CookieSettings, Opened, Session, SessionCodec, SessionTokens,
//!     Timeouts,
//! };
//! # struct Rng(u8);
//! # impl Entropy for Rng {
//! #     fn fill_public(&mut self, b: &mut [u8]) { self.fill_secret(b) }
//! #     fn fill_secret(&mut self, b: &mut [u8]) {
//! #         for x in b { self.0 = self.0.wrapping_add(1); *x = self.0 }
//! #     }
//! # }
//! # let mut rng = Rng(0);
//!
//! let codec = SessionCodec::new(
//!     &[b"a secret of at least 16 bytes".as_slice()],
//!     Binding { issuer: "https://idp.example/.well-known/openid-configuration", client_id: "a" },
//!     CookieSettings::new("session"),
//!     Timeouts::default(),
//!     default_provider(),
//! )?;
//!
//! // After the code exchange: seal the tokens into Set-Cookie values.
//! let login = UnixTime::from_secs(1_800_000_000);
//! let session = Session::start(
//!     &SessionTokens {
//!         access_token: "eyJ...access",
//!         access_token_expires_at: Some(login.saturating_add(300)),
//!         id_token: Some("eyJ...id"),
//!         refresh_token: None,
//!         subject: "alice",
//!         userinfo: None,
//!         scope: None,
//!     },
//!     login,
//! );
//! let set_cookies = codec.seal(&session, login, &mut rng, CookieContext::new(true, 0))?;
//! assert_eq!(set_cookies.len(), 1);
//! let attributes = "; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Lax";
//! assert!(set_cookies[0].as_str().ends_with(attributes));
//!
//! // A later request: the browser sends the cookie back.
//! let header = format!("theme=dark; session={}", set_cookies[0].value());
//! let jar = codec.collect([header.as_bytes()]);
//! match codec.open(&jar, login.saturating_add(30)) {
//!     Opened::Session { session, .. } => assert_eq!(session.subject(), "alice"),
//!     Opened::NoSession(why) => panic!("{}", why.code()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Cookie format
//!
//! ```text
//! <name>=<base64url(version || chunk count || key id || nonce || ciphertext || tag)>
//! ```
//!
//! split over `<name>`, `<name>2`, ... `<name>9` when longer than one cookie may be (see
//! [`CookieLimits`]). The header layout is in the `seal` module, the payload layout in
//! `payload`, chunk naming in `chunk`, key derivation in `keyring`. In short:
//!
//! - **AES-256-GCM**, keyed per route: HKDF-SHA256 from each configured secret and the
//!   [`Binding`] (issuer, client id, cookie name). The first secret seals; every secret opens,
//!   so a new secret is rolled out by putting it first and the old one is retired later. The
//!   4-byte key id in each cookie picks the key without trial decryption.
//! - **Associated data** binds each cookie to its issuer, client id and cookie name (and
//!   authenticates the header): a cookie from another route, client or provider does not open,
//!   even with the same secret (apache/apisix#11229).
//! - **Payload**: the access token and its expiry, the raw ID token, the refresh token, `sub`,
//!   the userinfo JSON if configured, and the three times the timeouts are measured from, in a
//!   small length-prefixed binary encoding. About 2% larger than the tokens themselves before
//!   base64, where a JSON session with decoded claims (the anchor's) is several times that.
//! - **Chunks**: each at most [`CookieLimits::chunk_bytes`] of `name=value`; at most
//!   [`CookieLimits::max_chunks`], a budget derived from the gateway's own request-head limit
//!   so that a session the gateway sets is one it can still read. Sealing more is an error
//!   ([`SealError::TooLarge`]) rather than a cookie the browser or a proxy silently drops.
//!
//! # Threat model
//!
//! The cookie travels through the browser, so the client sees it, stores it, replays it, and
//! may alter it or send someone else's. What the format guarantees:
//!
//! - **Confidentiality and integrity** of the payload and header (AES-256-GCM with a 128-bit
//!   tag). Any change to any chunk, including truncation, re-ordering or dropping a chunk, fails
//!   to open: base64url is decoded strictly, so no two spellings decode to the same bytes.
//! - **Binding**: a cookie opens only under the issuer, client and cookie name it was sealed
//!   for.
//! - **Expiry** enforced by the gateway from the encrypted times (`idling_timeout`,
//!   `rolling_timeout`, `absolute_timeout`), whatever the browser does with `Max-Age`.
//! - **No oracle**: every failure is "no session" with a reason for logs ([`NoSession`]);
//!   the client learns nothing beyond "log in again", and nothing it sends makes the gateway
//!   fail (no panics, bounded allocation, no 500 path).
//!
//! What it does not do, by design of a stateless cookie: revoke a session before it expires
//! (logout clears the browser's copy; a stolen copy lives until its timeouts), or detect a
//! replayed copy. A weak secret can be guessed offline from one captured cookie: configure a
//! long random one. The cookie's size reveals roughly the size of the tokens.
//!
//! # Opening never fails loudly
//!
//! [`SessionCodec::open`] returns [`Opened`], not a `Result`: a tampered, truncated, expired,
//! foreign or unreadable cookie is [`Opened::NoSession`] with a [`NoSession`] reason, which the
//! engine turns into a new login (and a metric), never into a server error. [`NoSession`]
//! deliberately implements no error trait.

use alloc::vec::Vec;
use core::fmt;

use crate::config::SessionConfig;
use crate::crypto::CryptoProvider;
use crate::engine::Entropy;
use crate::time::UnixTime;

mod chunk;
mod cookie;
mod keyring;
mod payload;
mod seal;
mod wipe;

pub use chunk::{CookieLimits, MAX_CHUNKS, SessionCookies};
pub use cookie::{CookieSettings, SetCookie};
pub use keyring::{Binding, MAX_SECRETS, MIN_SECRET_BYTES};
pub use payload::{Session, SessionTimes, SessionTokens};

pub(crate) use chunk::cookie_pairs;
pub(crate) use keyring::{KEY_ID_LEN, Keyring};
pub(crate) use wipe::WipedBytes;

/// Most seconds a stored time may lie ahead of `now` (clocks of workers or nodes that drift
/// apart). A cookie further in the future was sealed by a clock that was wrong, and would
/// otherwise outlive its timeouts by that error.
pub const MAX_CLOCK_AHEAD: i64 = 300;

/// Longest pause between two re-seals of an active session when only its idle time moves: a
/// session in use is touched (re-sealed with a new `last_seen`) at most once a minute, as
/// lua-resty-session does, or at half the idling timeout when that is shorter.
pub const TOUCH_INTERVAL: u64 = 60;

/// The session timeouts, in seconds; 0 disables one. (APISIX `session.*_timeout`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Ends a session not used for this long (`idling_timeout`, default 900).
    pub idling: u64,
    /// Ends a session not renewed for this long (`rolling_timeout`, default 3600). A session
    /// in use is renewed after three quarters of it.
    pub rolling: u64,
    /// Ends every session this long after login (`absolute_timeout`, default 86400, or the
    /// deprecated `cookie.lifetime`).
    pub absolute: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { idling: 900, rolling: 3600, absolute: 86_400 }
    }
}

impl Timeouts {
    /// The configured timeouts.
    pub fn from_config(config: &SessionConfig) -> Self {
        Self {
            idling: config.idling_timeout,
            rolling: config.rolling_timeout,
            absolute: config.absolute_timeout,
        }
    }

    /// When each enabled timeout ends the session: `(deadline, reason)`.
    fn deadlines(&self, t: &SessionTimes) -> [(Option<i64>, NoSession); 3] {
        let at = |base: UnixTime, secs: u64| {
            (secs > 0)
                .then(|| base.as_secs().saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)))
        };
        [
            (at(t.created, self.absolute), NoSession::AbsoluteTimeout),
            (at(t.renewed, self.rolling), NoSession::RollingTimeout),
            (at(t.last_seen, self.idling), NoSession::IdleTimeout),
        ]
    }

    /// Whether a session with these times is still valid at `now`, and whether it should be
    /// re-sealed. A session ends at its deadline (`now == deadline` is expired, as for JWT
    /// `exp`).
    pub fn check(&self, t: &SessionTimes, now: UnixTime) -> Result<Reissue, NoSession> {
        let now_s = now.as_secs();
        let ahead = now_s.saturating_add(MAX_CLOCK_AHEAD);
        if [t.created, t.renewed, t.last_seen].iter().any(|x| x.as_secs() > ahead) {
            return Err(NoSession::FromTheFuture);
        }
        for (deadline, reason) in self.deadlines(t) {
            if deadline.is_some_and(|d| now_s >= d) {
                return Err(reason);
            }
        }
        let since = |base: UnixTime| now_s.saturating_sub(base.as_secs()).max(0).cast_unsigned();
        if self.rolling > 0 && since(t.renewed) >= self.rolling - self.rolling / 4 {
            return Ok(Reissue::Renew);
        }
        if self.idling > 0 && since(t.last_seen) >= TOUCH_INTERVAL.min(self.idling / 2) {
            return Ok(Reissue::Touch);
        }
        Ok(Reissue::Keep)
    }

    /// Seconds until the first enabled timeout ends the session (the cookie's `Max-Age`), or
    /// `None` when none is enabled (a browser-session cookie).
    pub fn remaining(&self, t: &SessionTimes, now: UnixTime) -> Option<i64> {
        self.deadlines(t)
            .iter()
            .filter_map(|(d, _)| *d)
            .min()
            .map(|d| d.saturating_sub(now.as_secs()))
    }
}

/// What to do with a valid session after it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reissue {
    /// Nothing: the cookie the browser holds is current.
    Keep,
    /// Re-seal with a new `last_seen` ([`Session::touch`]), so the idling timeout restarts.
    Touch,
    /// Re-seal as renewed ([`Session::renew`]): three quarters of the rolling timeout passed.
    Renew,
}

impl Reissue {
    /// Updates `session` for this decision; `true` when it must be sealed and sent again.
    pub fn apply(self, session: &mut Session, now: UnixTime) -> bool {
        match self {
            Self::Keep => false,
            Self::Touch => {
                session.touch(now);
                true
            }
            Self::Renew => {
                session.renew(now);
                true
            }
        }
    }
}

/// Why a request has no usable session. Opaque to the client (it is sent to log in); a code for
/// logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NoSession {
    /// No session cookie: the normal case before a login.
    Absent,
    /// Not the shape of a sealed cookie (bad base64url, too short, impossible header).
    Malformed,
    /// More chunks, or longer ones, than the configured budget allows.
    Oversized,
    /// The header announces more chunks than the request carried.
    MissingChunk,
    /// The request carried chunks beyond the ones the header announces (a leftover of an
    /// earlier, larger session; the next seal expires it).
    ExtraChunk,
    /// A cookie format this build does not know (older or newer gateway).
    UnsupportedVersion,
    /// Sealed with a key this route does not have: a retired secret, or another route, client
    /// or provider.
    UnknownKey,
    /// Failed authentication: altered, truncated inside, or forged.
    Unauthentic,
    /// Authentic but undecodable (a bug, or the key used by something else).
    BadPayload,
    /// `idling_timeout` passed since the session was last used.
    IdleTimeout,
    /// `rolling_timeout` passed since the session was last renewed.
    RollingTimeout,
    /// `absolute_timeout` passed since the login.
    AbsoluteTimeout,
    /// A stored time lies more than [`MAX_CLOCK_AHEAD`] seconds after now.
    FromTheFuture,
}

impl NoSession {
    /// A stable snake_case code for logs and metrics.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::Malformed => "malformed",
            Self::Oversized => "oversized",
            Self::MissingChunk => "missing_chunk",
            Self::ExtraChunk => "extra_chunk",
            Self::UnsupportedVersion => "unsupported_version",
            Self::UnknownKey => "unknown_key",
            Self::Unauthentic => "unauthentic",
            Self::BadPayload => "bad_payload",
            Self::IdleTimeout => "idle_timeout",
            Self::RollingTimeout => "rolling_timeout",
            Self::AbsoluteTimeout => "absolute_timeout",
            Self::FromTheFuture => "future_time",
        }
    }

    /// Whether the session simply ended or never existed (absent, expired), as opposed to a
    /// cookie that was damaged, foreign or forged — the ones worth an operator's attention.
    pub const fn is_expected(self) -> bool {
        matches!(
            self,
            Self::Absent | Self::IdleTimeout | Self::RollingTimeout | Self::AbsoluteTimeout
        )
    }
}

/// What [`SessionCodec::open`] found.
#[derive(Debug)]
#[must_use]
pub enum Opened {
    /// A valid session.
    Session {
        /// The session.
        session: Session,
        /// Whether to re-seal it on this response.
        reissue: Reissue,
    },
    /// No usable session, and why.
    NoSession(NoSession),
}

/// What a response that sets or clears the session needs to know about its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieContext {
    /// The request arrived over https (sets `Secure` unless `cookie_secure` says otherwise).
    pub https: bool,
    /// The highest session chunk the request carried ([`SessionCookies::carried`]); chunks up
    /// to it that the new value does not use are expired.
    pub carried: usize,
}

impl CookieContext {
    /// A context for a request that did or did not arrive over https and carried chunks up to
    /// `carried`.
    pub const fn new(https: bool, carried: usize) -> Self {
        Self { https, carried }
    }

    /// The context of a request whose session cookies were collected into `jar`.
    pub fn of(jar: &SessionCookies<'_>, https: bool) -> Self {
        Self { https, carried: jar.carried() }
    }
}

/// Why a session could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The sealed session needs `needed` chunks; the budget is `max`. The tokens (or the
    /// userinfo) are too large for a cookie session.
    TooLarge {
        /// Chunks the session would need.
        needed: usize,
        /// Chunks allowed.
        max: usize,
    },
    /// The session's timeouts have already ended it.
    Expired,
    /// The entropy source returned only zeros.
    Entropy,
    /// The AEAD backend failed.
    Crypto,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { needed, max } => write!(
                f,
                "session cookie too large: needs {needed} chunks, the budget is {max} \
                 (store fewer tokens, e.g. no userinfo, or raise the request head limit)"
            ),
            Self::Expired => f.write_str("session already expired"),
            Self::Entropy => f.write_str("entropy source returned zeros"),
            Self::Crypto => f.write_str("session encryption failed"),
        }
    }
}

/// Why a codec could not be built from its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// No secret.
    NoSecret,
    /// The secret at `index` is shorter than [`MIN_SECRET_BYTES`].
    WeakSecret {
        /// Position in the list (0: the sealing secret).
        index: usize,
    },
    /// More than [`MAX_SECRETS`] secrets.
    TooManySecrets,
    /// The cookie name is empty, too long or not an HTTP token.
    CookieName,
    /// The cookie path does not start with `/`, or holds `;`, spaces or control characters.
    CookiePath,
    /// The cookie domain is not a host name.
    CookieDomain,
    /// A `__Host-` cookie with a domain or a path other than `/` (browsers would drop it).
    HostPrefix,
    /// Chunk limits outside 1..=9 chunks, or chunks too small to hold a sealed header.
    Limits,
    /// The crypto provider refused the derived key.
    Crypto,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSecret => f.write_str("no session secret"),
            Self::WeakSecret { index } => {
                write!(f, "session secret #{index} is shorter than {MIN_SECRET_BYTES} bytes")
            }
            Self::TooManySecrets => write!(f, "more than {MAX_SECRETS} session secrets"),
            Self::CookieName => {
                f.write_str("cookie name must be a non-empty HTTP token of at most 64 bytes")
            }
            Self::CookiePath => f.write_str(
                "cookie path must start with '/' and hold no ';', space or control character",
            ),
            Self::CookieDomain => f.write_str("cookie domain must be a host name"),
            Self::HostPrefix => f.write_str("a __Host- cookie must have path '/' and no domain"),
            Self::Limits => {
                f.write_str("cookie limits must allow 1 to 9 chunks of 32 to 4096 bytes")
            }
            Self::Crypto => f.write_str("the crypto provider refused the session key"),
        }
    }
}

/// Seals and opens one route's session cookies.
///
/// Built once per route configuration (key derivation is the expensive part), then shared:
/// every method takes `&self`.
pub struct SessionCodec {
    ring: Keyring,
    cookie: CookieSettings,
    timeouts: Timeouts,
}

impl fmt::Debug for SessionCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCodec")
            .field("keys", &self.ring.len())
            .field("cookie", &self.cookie)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl SessionCodec {
    /// A codec sealing with `secrets[0]` and opening with any of `secrets`, bound to `binding`
    /// and the cookie name.
    pub fn new(
        secrets: &[&[u8]],
        binding: Binding<'_>,
        cookie: CookieSettings,
        timeouts: Timeouts,
        provider: &dyn CryptoProvider,
    ) -> Result<Self, CodecError> {
        let cookie = cookie.validated()?;
        let ring = Keyring::derive(secrets, &binding, &cookie.name, provider)?;
        Ok(Self { ring, cookie, timeouts })
    }

    /// A codec for a route's `session` configuration (`secret` seals, `previous_secrets` still
    /// open; its cookie options and timeouts; the default budget). This is cookie storage whatever `session.storage` says:
    /// refusing or implementing `redis` is the caller's decision.
    pub fn from_config(
        config: &SessionConfig,
        binding: Binding<'_>,
        provider: &dyn CryptoProvider,
    ) -> Result<Self, CodecError> {
        Self::new(
            &config.secrets(),
            binding,
            CookieSettings::from_config(config),
            Timeouts::from_config(config),
            provider,
        )
    }

    /// The cookie settings in force (validated; an ignored `Domain` removed).
    pub fn cookie(&self) -> &CookieSettings {
        &self.cookie
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// Whether a cookie called `name` is one of this session's chunks (the gateway removes
    /// these from the `Cookie` header it forwards).
    pub fn is_session_cookie(&self, name: &[u8]) -> bool {
        chunk::chunk_index(self.cookie.name.as_bytes(), name).is_some()
    }

    /// Collects this session's chunks from a request's `Cookie` header values.
    pub fn collect<'a, I>(&self, cookie_headers: I) -> SessionCookies<'a>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        SessionCookies::collect(&self.cookie.name, cookie_headers)
    }

    /// Opens the session a request carried, checking its timeouts at `now`.
    pub fn open(&self, jar: &SessionCookies<'_>, now: UnixTime) -> Opened {
        let opened = seal::open(&self.ring, jar, &self.cookie)
            .and_then(|s| self.timeouts.check(&s.times(), now).map(|r| (s, r)));
        match opened {
            Ok((session, reissue)) => Opened::Session { session, reissue },
            Err(reason) => Opened::NoSession(reason),
        }
    }

    /// Seals `session` at `now`: the `Set-Cookie` values to send, chunks first, then the
    /// deletions of chunks the request carried that the new value no longer uses. `Max-Age` is
    /// the time until the first timeout ends the session.
    pub fn seal(
        &self,
        session: &Session,
        now: UnixTime,
        rng: &mut dyn Entropy,
        ctx: CookieContext,
    ) -> Result<Vec<SetCookie>, SealError> {
        let max_age = match self.timeouts.remaining(&session.times(), now) {
            Some(left) if left <= 0 => return Err(SealError::Expired),
            left => left.map(i64::cast_unsigned),
        };
        let (text, count) = seal::seal(&self.ring, session, &self.cookie, rng)?;
        let secure = self.cookie.secure_for(ctx.https);
        let name_len = self.cookie.name.len();
        let mut out = Vec::with_capacity(count.max(ctx.carried));
        let mut rest = text.as_str();
        for index in 1..=count {
            let cap = chunk::chunk_capacity(&self.cookie.limits, name_len, index);
            let (value, tail) = rest.split_at_checked(cap.min(rest.len())).unwrap_or((rest, ""));
            out.push(self.cookie.set(index, value, max_age, secure));
            rest = tail;
        }
        for index in count + 1..=ctx.carried.min(MAX_CHUNKS) {
            out.push(self.cookie.expire(index, secure));
        }
        Ok(out)
    }

    /// The `Set-Cookie` values that end the session in the browser (logout): a deletion for
    /// every chunk the request carried, and for `<name>` at least.
    pub fn clear(&self, ctx: CookieContext) -> Vec<SetCookie> {
        let secure = self.cookie.secure_for(ctx.https);
        (1..=ctx.carried.clamp(1, MAX_CHUNKS)).map(|i| self.cookie.expire(i, secure)).collect()
    }
}

#[cfg(test)]
mod tests;
