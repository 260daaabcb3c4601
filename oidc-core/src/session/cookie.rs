//! Cookie attributes and the `Set-Cookie` values the gateway sends.
//!
//! Every attribute comes from the configuration, checked once when the codec is built; the
//! only per-request inputs are whether the request arrived over https and the sealed value
//! (base64url, produced here). Nothing a client sends can reach a `Set-Cookie` header.

use alloc::string::String;
use core::fmt;
use core::fmt::Write as _;

use super::CodecError;
use super::chunk::{CookieLimits, MAX_CHUNKS, chunk_capacity};
use crate::config::{SameSite, SessionConfig};

/// The attributes of the session cookie (APISIX `session.cookie_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// The cookie name (`cookie_name`, default `session`); chunks add `2` .. `9`.
    pub name: String,
    /// `Path` (`cookie_path`, default `/`).
    pub path: String,
    /// `Domain` (`cookie_domain`). Empty or `localhost` sends no `Domain`, as lua-resty-session
    /// does: browsers treat `Domain=localhost` inconsistently.
    pub domain: Option<String>,
    /// `Secure` (`cookie_secure`): `Some` forces it on or off; `None` (the default) sets it
    /// exactly when the request arrived over https. It is on regardless for `SameSite=None`
    /// (browsers refuse such a cookie without it) and for `__Secure-` / `__Host-` names.
    pub secure: Option<bool>,
    /// `HttpOnly` (`cookie_http_only`, default on).
    pub http_only: bool,
    /// `SameSite` (`cookie_same_site`, default `Lax`; `Default` sends no attribute).
    pub same_site: SameSite,
    /// Size budget.
    pub limits: CookieLimits,
}

impl CookieSettings {
    /// APISIX's defaults for a cookie called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path: String::from("/"),
            domain: None,
            secure: None,
            http_only: true,
            same_site: SameSite::Lax,
            limits: CookieLimits::default(),
        }
    }

    /// The `session.cookie_*` options, with the default budget.
    pub fn from_config(config: &SessionConfig) -> Self {
        Self {
            name: config.cookie_name.clone(),
            path: config.cookie_path.clone(),
            domain: config.cookie_domain.clone(),
            secure: config.cookie_secure,
            http_only: config.cookie_http_only,
            same_site: config.cookie_same_site,
            limits: CookieLimits::default(),
        }
    }

    /// Checks every attribute and drops a `Domain` that must not be sent.
    pub(crate) fn validated(mut self) -> Result<Self, CodecError> {
        if self.name.is_empty()
            || self.name.len() > MAX_NAME_LEN
            || !self.name.bytes().all(is_tchar)
        {
            return Err(CodecError::CookieName);
        }
        let path_ok = self.path.starts_with('/')
            && self.path.len() <= MAX_ATTRIBUTE_LEN
            && self.path.bytes().all(|b| b.is_ascii_graphic() && b != b';');
        if !path_ok {
            return Err(CodecError::CookiePath);
        }
        if self
            .domain
            .as_deref()
            .is_some_and(|d| d.is_empty() || d.eq_ignore_ascii_case("localhost"))
        {
            self.domain = None;
        }
        if let Some(domain) = &self.domain {
            let host = domain.strip_prefix('.').unwrap_or(domain);
            let ok = !host.is_empty()
                && host.len() <= 253
                && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !ok {
                return Err(CodecError::CookieDomain);
            }
        }
        // RFC 6265bis §4.1.3.2: a `__Host-` cookie is host-only with `Path=/`, or browsers
        // drop it.
        if self.name.starts_with("__Host-") && (self.domain.is_some() || self.path != "/") {
            return Err(CodecError::HostPrefix);
        }
        let limits = self.limits;
        if limits.max_chunks == 0 || limits.max_chunks > MAX_CHUNKS {
            return Err(CodecError::Limits);
        }
        // Every chunk must hold at least the sealed header, with room to spare.
        if (1..=limits.max_chunks).any(|i| chunk_capacity(&limits, self.name.len(), i) < 32)
            || limits.chunk_bytes > MAX_CHUNK_BYTES
        {
            return Err(CodecError::Limits);
        }
        Ok(self)
    }

    /// Whether a response to a request that did (`https`) or did not arrive over https sets
    /// `Secure`.
    pub fn secure_for(&self, https: bool) -> bool {
        self.same_site == SameSite::None
            || self.name.starts_with("__Secure-")
            || self.name.starts_with("__Host-")
            || self.secure.unwrap_or(https)
    }

    /// Chunk `index`'s name.
    pub(crate) fn write_chunk_name(&self, out: &mut String, index: usize) {
        out.push_str(&self.name);
        if index > 1 {
            // One digit: index is at most MAX_CHUNKS (9).
            let _ = write!(out, "{index}");
        }
    }

    /// `Set-Cookie` for chunk `index` holding `value`, valid for `max_age` seconds (`None`: a
    /// browser-session cookie).
    pub(crate) fn set(
        &self,
        index: usize,
        value: &str,
        max_age: Option<u64>,
        secure: bool,
    ) -> SetCookie {
        let mut out = String::with_capacity(self.name.len() + value.len() + 96);
        self.write_chunk_name(&mut out, index);
        let name_len = out.len();
        out.push('=');
        out.push_str(value);
        let value_end = out.len();
        self.attributes(&mut out, max_age, secure);
        SetCookie { line: out, name_len, value_end }
    }

    /// `Set-Cookie` that deletes chunk `index` (`Max-Age=0`, and an `Expires` in the past for
    /// clients older than `Max-Age`). Path, domain and the other attributes repeat the ones the
    /// cookie was set with: a deletion only matches the same path and domain, and a `__Host-` or
    /// `__Secure-` cookie is only replaced by one with `Secure`.
    pub(crate) fn expire(&self, index: usize, secure: bool) -> SetCookie {
        let mut out = String::with_capacity(self.name.len() + 128);
        self.write_chunk_name(&mut out, index);
        let name_len = out.len();
        out.push('=');
        let value_end = out.len();
        out.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        self.attributes(&mut out, Some(0), secure);
        SetCookie { line: out, name_len, value_end }
    }

    fn attributes(&self, out: &mut String, max_age: Option<u64>, secure: bool) {
        out.push_str("; Path=");
        out.push_str(&self.path);
        if let Some(domain) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        if let Some(age) = max_age {
            let _ = write!(out, "; Max-Age={age}");
        }
        if secure {
            out.push_str("; Secure");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        match self.same_site {
            SameSite::Strict => out.push_str("; SameSite=Strict"),
            SameSite::Lax => out.push_str("; SameSite=Lax"),
            SameSite::None => out.push_str("; SameSite=None"),
            SameSite::Default => {}
        }
    }
}

/// Longest cookie name: it is repeated in every chunk and eats into each chunk's 4 KiB.
const MAX_NAME_LEN: usize = 64;
/// Browsers ignore attribute values longer than this (RFC 6265bis §5.7).
const MAX_ATTRIBUTE_LEN: usize = 1024;
/// Largest chunk: browsers keep at least 4096 bytes of name and value per cookie.
const MAX_CHUNK_BYTES: usize = 4096;

/// RFC 9110 `tchar`: what a cookie name may consist of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// One `Set-Cookie` header value.
///
/// `Debug` and [`Display`](fmt::Display) show the name and attributes, never the value: the
/// value is the sealed session, a bearer credential for as long as it is valid.
#[derive(Clone, PartialEq, Eq)]
pub struct SetCookie {
    line: String,
    name_len: usize,
    value_end: usize,
}

impl SetCookie {
    /// The header value to send (`Set-Cookie: <this>`).
    pub fn as_str(&self) -> &str {
        &self.line
    }

    /// The header value, owned.
    pub fn into_string(self) -> String {
        self.line
    }

    /// The cookie name.
    pub fn name(&self) -> &str {
        self.line.get(..self.name_len).unwrap_or_default()
    }

    /// The cookie value (empty for a deletion).
    pub fn value(&self) -> &str {
        self.line.get(self.name_len + 1..self.value_end).unwrap_or_default()
    }

    /// Whether this deletes the cookie (`Max-Age=0`).
    pub fn is_deletion(&self) -> bool {
        self.value_end == self.name_len + 1
    }
}

impl fmt::Debug for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SetCookie({self})")
    }
}

impl fmt::Display for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attributes = self.line.get(self.value_end..).unwrap_or_default();
        if self.is_deletion() {
            write!(f, "{}={attributes}", self.name())
        } else {
            write!(f, "{}=<redacted {} bytes>{attributes}", self.name(), self.value().len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(s: CookieSettings) -> CookieSettings {
        s.validated().unwrap()
    }

    #[test]
    fn set_cookie_lines() {
        let s = valid(CookieSettings {
            domain: Some("example.com".into()),
            ..CookieSettings::new("session")
        });
        let c = s.set(2, "AAAA", Some(900), true);
        assert_eq!(
            c.as_str(),
            "session2=AAAA; Path=/; Domain=example.com; Max-Age=900; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!((c.name(), c.value(), c.is_deletion()), ("session2", "AAAA", false));
        assert_eq!(
            alloc::format!("{c:?}"),
            "SetCookie(session2=<redacted 4 bytes>; Path=/; Domain=example.com; Max-Age=900; \
             Secure; HttpOnly; SameSite=Lax)"
        );
        let d = s.expire(1, false);
        assert_eq!(
            d.as_str(),
            "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=example.com; \
             Max-Age=0; HttpOnly; SameSite=Lax"
        );
        assert!(d.is_deletion());
        assert_eq!(d.value(), "");
        let plain = valid(CookieSettings {
            http_only: false,
            same_site: SameSite::Default,
            ..CookieSettings::new("s")
        });
        assert_eq!(plain.set(1, "x", None, false).as_str(), "s=x; Path=/");
    }

    #[test]
    fn secure_rules() {
        let s = CookieSettings::new("session");
        assert!(s.secure_for(true));
        assert!(!s.secure_for(false));
        let off = CookieSettings { secure: Some(false), ..CookieSettings::new("session") };
        assert!(!off.secure_for(true));
        let on = CookieSettings { secure: Some(true), ..CookieSettings::new("session") };
        assert!(on.secure_for(false));
        let none = CookieSettings {
            secure: Some(false),
            same_site: SameSite::None,
            ..CookieSettings::new("session")
        };
        assert!(none.secure_for(false));
        assert!(
            CookieSettings { secure: Some(false), ..CookieSettings::new("__Host-s") }
                .secure_for(false)
        );
        assert!(CookieSettings::new("__Secure-s").secure_for(false));
    }

    #[test]
    fn refuses_unsafe_attributes() {
        let bad = |s: CookieSettings| s.validated().unwrap_err();
        assert_eq!(bad(CookieSettings::new("")), CodecError::CookieName);
        assert_eq!(bad(CookieSettings::new("a b")), CodecError::CookieName);
        assert_eq!(bad(CookieSettings::new("a;b")), CodecError::CookieName);
        assert_eq!(bad(CookieSettings::new("a=b")), CodecError::CookieName);
        assert_eq!(bad(CookieSettings::new("x".repeat(65))), CodecError::CookieName);
        let path = |p: &str| CookieSettings { path: p.into(), ..CookieSettings::new("s") };
        assert_eq!(bad(path("app")), CodecError::CookiePath);
        assert_eq!(bad(path("/a;b")), CodecError::CookiePath);
        assert_eq!(bad(path("/a b")), CodecError::CookiePath);
        assert_eq!(bad(path("/a\r\nX: y")), CodecError::CookiePath);
        let domain =
            |d: &str| CookieSettings { domain: Some(d.into()), ..CookieSettings::new("s") };
        assert_eq!(bad(domain("a.com; Secure")), CodecError::CookieDomain);
        assert_eq!(bad(domain(".")), CodecError::CookieDomain);
        assert_eq!(valid(domain(".example.com")).domain.as_deref(), Some(".example.com"));
        assert_eq!(valid(domain("localhost")).domain, None);
        assert_eq!(valid(domain("")).domain, None);
        let host = |p: &str, d: Option<&str>| CookieSettings {
            path: p.into(),
            domain: d.map(Into::into),
            ..CookieSettings::new("__Host-s")
        };
        assert_eq!(bad(host("/app", None)), CodecError::HostPrefix);
        assert_eq!(bad(host("/", Some("a.com"))), CodecError::HostPrefix);
        assert!(host("/", None).validated().is_ok());
        let limits = |chunk_bytes, max_chunks| CookieSettings {
            limits: CookieLimits { chunk_bytes, max_chunks },
            ..CookieSettings::new("session")
        };
        assert_eq!(bad(limits(4000, 0)), CodecError::Limits);
        assert_eq!(bad(limits(4000, 10)), CodecError::Limits);
        assert_eq!(bad(limits(40, 2)), CodecError::Limits);
        assert_eq!(bad(limits(5000, 2)), CodecError::Limits);
        assert!(limits(42, 9).validated().is_ok());
    }
}
