//! JWT claims validation (RFC 7519 §4.1, OpenID Connect Core §3.1.3.7, RFC 9068 §4).
//!
//! Every time check reduces to one [`ValidityWindow`], so a token's validity over time is always
//! a single interval: valid at `t` implies valid at every instant between the window's bounds.
//! That is what lets the verified-token cache re-check time alone on a hit.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::json::{Key, SeenKeys};
use super::jws::Header;
use crate::time::UnixTime;

/// The registered claims the checks read, parsed in one pass over the payload: duplicate member
/// names are rejected, the claims used here are type-checked (NumericDates must be JSON
/// numbers), every other member is skipped without being built. The full claims object, when
/// a caller needs it, is parsed lazily by [`super::VerifiedToken::claims`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisteredClaims {
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `aud` (a string is a one-element list).
    pub aud: Vec<String>,
    /// `azp`.
    pub azp: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `exp`, rounded down.
    pub exp: Option<i64>,
    /// `nbf`, rounded up.
    pub nbf: Option<i64>,
    /// `iat`, rounded up.
    pub iat: Option<i64>,
}

/// Why a payload could not be read as a claims set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadError {
    /// Not a JSON object, malformed, or with a duplicate member.
    Json,
    /// A registered claim has the wrong type.
    Claim(ClaimError),
}

impl RegisteredClaims {
    /// Reads the registered claims of a JWT payload.
    pub fn parse(payload: &[u8]) -> Result<Self, PayloadError> {
        serde_json::from_slice::<ClaimsParse>(payload).map_err(|_| PayloadError::Json)?.0
    }
}

struct ClaimsParse(Result<RegisteredClaims, PayloadError>);

impl<'de> serde::Deserialize<'de> for ClaimsParse {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ClaimsVisitor)
    }
}

struct ClaimsVisitor;

impl<'de> serde::de::Visitor<'de> for ClaimsVisitor {
    type Value = ClaimsParse;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<ClaimsParse, A::Error> {
        let mut seen = SeenKeys::default();
        let mut c = RegisteredClaims::default();
        let mut bad: Option<ClaimError> = None;
        while let Some(Key(k)) = m.next_key()? {
            let name: Option<&'static str> = match &*k {
                "iss" => Some("iss"),
                "sub" => Some("sub"),
                "aud" => Some("aud"),
                "azp" => Some("azp"),
                "nonce" => Some("nonce"),
                "exp" => Some("exp"),
                "nbf" => Some("nbf"),
                "iat" => Some("iat"),
                _ => None,
            };
            match name {
                None => {
                    m.next_value::<serde::de::IgnoredAny>()?;
                }
                Some(name) => {
                    let v = m.next_value::<Value>()?;
                    if let Err(e) = c.set(name, v) {
                        bad.get_or_insert(e);
                    }
                }
            }
            if !seen.insert(k) {
                return Err(serde::de::Error::custom("duplicate member"));
            }
        }
        Ok(ClaimsParse(match bad {
            Some(e) => Err(PayloadError::Claim(e)),
            None => Ok(c),
        }))
    }
}

impl RegisteredClaims {
    fn set(&mut self, name: &'static str, v: Value) -> Result<(), ClaimError> {
        let string = |v: Value| match v {
            Value::String(s) => Ok(Some(s)),
            _ => Err(ClaimError::WrongType(name)),
        };
        match name {
            "iss" => self.iss = string(v)?,
            "sub" => self.sub = string(v)?,
            "azp" => self.azp = string(v)?,
            "nonce" => self.nonce = string(v)?,
            "aud" => {
                self.aud = match v {
                    Value::String(s) => alloc::vec![s],
                    Value::Array(items) => items
                        .into_iter()
                        .map(|i| match i {
                            Value::String(s) => Ok(s),
                            _ => Err(ClaimError::WrongType("aud")),
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err(ClaimError::WrongType("aud")),
                }
            }
            "exp" => self.exp = Some(numeric_date(&v, name, Round::Down)?),
            "nbf" => self.nbf = Some(numeric_date(&v, name, Round::Up)?),
            _ => self.iat = Some(numeric_date(&v, name, Round::Up)?),
        }
        Ok(())
    }
}

/// Which claims must be present and what they must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPolicy {
    /// Accepted `iss` values, exact match. `None` skips the check; the engine always sets it.
    pub issuers: Option<Vec<String>>,
    /// Accepted audiences: `aud` (string or array) must contain one of them. `None` skips it.
    pub audiences: Option<Vec<String>>,
    /// Seconds of clock skew tolerated on `exp` and `nbf`.
    pub leeway: u64,
    /// `iat` may be at most this many seconds in the future (APISIX `iat_slack`). `None` skips
    /// the check.
    pub iat_slack: Option<u64>,
    /// Reject tokens without `exp`.
    pub require_exp: bool,
    /// Reject tokens without `iat`.
    pub require_iat: bool,
    /// Reject tokens without `sub`.
    pub require_sub: bool,
    /// The `nonce` sent in the authorization request (ID tokens).
    pub nonce: Option<String>,
    /// The client id, for the `azp` rule of OpenID Connect Core §3.1.3.7: if `azp` is present it
    /// must equal this, and a token with several audiences must carry it.
    pub authorized_party: Option<String>,
    /// What the header `typ` must be.
    pub typ: TypPolicy,
}

impl Default for ClaimPolicy {
    fn default() -> Self {
        Self {
            issuers: None,
            audiences: None,
            leeway: 0,
            iat_slack: None,
            require_exp: true,
            require_iat: false,
            require_sub: false,
            nonce: None,
            authorized_party: None,
            typ: TypPolicy::Any,
        }
    }
}

/// Policy for the JOSE header `typ`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TypPolicy {
    /// Any or no `typ`.
    #[default]
    Any,
    /// `typ` must be present and one of these media types. Compared as RFC 7515 §4.1.9 says:
    /// case-insensitively, with an omitted `application/` prefix (so `at+jwt` matches
    /// `application/at+jwt`).
    OneOf(Vec<String>),
    /// `typ`, if present, must not be one of these (for example `logout+jwt`, so a logout token
    /// can never pass as an access token).
    NoneOf(Vec<String>),
}

/// Which claim check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimError {
    /// The payload is not a JSON object.
    NotAnObject,
    /// A required claim is absent.
    Missing(&'static str),
    /// A claim has the wrong JSON type (NumericDates must be JSON numbers).
    WrongType(&'static str),
    /// `exp` (plus leeway) is not after now.
    Expired,
    /// `nbf` (minus leeway) is after now.
    NotYetValid,
    /// `iat` is further in the future than `iat_slack` allows.
    IssuedInFuture,
    /// `iss` is not one of the accepted issuers.
    Issuer,
    /// `aud` contains none of the accepted audiences.
    Audience,
    /// `azp` is absent where required, or not the client id.
    AuthorizedParty,
    /// `nonce` is absent or differs from the one sent.
    Nonce,
    /// The header `typ` does not satisfy the policy.
    Type,
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("claims are not a JSON object"),
            Self::Missing(c) => write!(f, "missing claim {c}"),
            Self::WrongType(c) => write!(f, "claim {c} has the wrong type"),
            Self::Expired => f.write_str("token expired"),
            Self::NotYetValid => f.write_str("token not yet valid"),
            Self::IssuedInFuture => f.write_str("token issued in the future"),
            Self::Issuer => f.write_str("issuer not accepted"),
            Self::Audience => f.write_str("audience not accepted"),
            Self::AuthorizedParty => f.write_str("authorized party mismatch"),
            Self::Nonce => f.write_str("nonce mismatch"),
            Self::Type => f.write_str("token type not accepted"),
        }
    }
}

/// The interval in which a token is valid: `from <= now < until` (either bound may be open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidityWindow {
    /// First valid second (from `nbf` and `iat`, leeways applied).
    pub from: Option<i64>,
    /// First invalid second (from `exp`, leeway applied).
    pub until: Option<i64>,
}

impl ValidityWindow {
    /// Checks `now` against the window, naming the bound that failed.
    pub fn check(&self, now: UnixTime, iat_bound: bool) -> Result<(), ClaimError> {
        let now = now.as_secs();
        if let Some(until) = self.until
            && now >= until
        {
            return Err(ClaimError::Expired);
        }
        if let Some(from) = self.from
            && now < from
        {
            return Err(if iat_bound {
                ClaimError::IssuedInFuture
            } else {
                ClaimError::NotYetValid
            });
        }
        Ok(())
    }

    /// Whether `now` is inside the window.
    pub fn contains(&self, now: UnixTime) -> bool {
        self.check(now, false).is_ok()
    }
}

fn sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl ClaimPolicy {
    /// Validates `claims` (and the header's `typ`) at `now`; returns the token's validity window.
    pub fn validate(
        &self,
        header: &Header,
        claims: &RegisteredClaims,
        now: UnixTime,
    ) -> Result<(ValidityWindow, bool), ClaimError> {
        self.check_typ(header)?;
        let (window, from_is_iat) = self.window(claims)?;
        window.check(now, from_is_iat)?;
        if let Some(issuers) = &self.issuers {
            let iss = claims.iss.as_deref().ok_or(ClaimError::Missing("iss"))?;
            if !issuers.iter().any(|i| i == iss) {
                return Err(ClaimError::Issuer);
            }
        }
        if self.require_sub && claims.sub.is_none() {
            return Err(ClaimError::Missing("sub"));
        }
        let auds = &claims.aud;
        if let Some(accepted) = &self.audiences {
            if auds.is_empty() {
                return Err(ClaimError::Missing("aud"));
            }
            if !auds.iter().any(|a| accepted.iter().any(|x| x == a)) {
                return Err(ClaimError::Audience);
            }
        }
        if let Some(client_id) = &self.authorized_party {
            match &claims.azp {
                Some(azp) if azp != client_id => return Err(ClaimError::AuthorizedParty),
                None if auds.len() > 1 => return Err(ClaimError::AuthorizedParty),
                _ => {}
            }
        }
        if let Some(expected) = &self.nonce {
            let nonce = claims.nonce.as_deref().ok_or(ClaimError::Nonce)?;
            if !crate::util::ct_eq(nonce.as_bytes(), expected.as_bytes()) {
                return Err(ClaimError::Nonce);
            }
        }
        Ok((window, from_is_iat))
    }

    /// The validity window from `exp`, `nbf` and `iat`, and whether its lower bound comes from
    /// `iat` (for the error name).
    pub fn window(&self, claims: &RegisteredClaims) -> Result<(ValidityWindow, bool), ClaimError> {
        // Fractional NumericDates were rounded towards the stricter side when parsed.
        let (exp, nbf, iat) = (claims.exp, claims.nbf, claims.iat);
        if self.require_exp && exp.is_none() {
            return Err(ClaimError::Missing("exp"));
        }
        if self.require_iat && iat.is_none() {
            return Err(ClaimError::Missing("iat"));
        }
        let leeway = sat(self.leeway);
        let until = exp.map(|e| e.saturating_add(leeway));
        let from_nbf = nbf.map(|n| n.saturating_sub(leeway));
        let from_iat = match (iat, self.iat_slack) {
            (Some(i), Some(slack)) => Some(i.saturating_sub(sat(slack))),
            _ => None,
        };
        let (from, from_is_iat) = match (from_nbf, from_iat) {
            (Some(n), Some(i)) if i > n => (Some(i), true),
            (Some(n), _) => (Some(n), false),
            (None, Some(i)) => (Some(i), true),
            (None, None) => (None, false),
        };
        Ok((ValidityWindow { from, until }, from_is_iat))
    }

    fn check_typ(&self, header: &Header) -> Result<(), ClaimError> {
        match &self.typ {
            TypPolicy::Any => Ok(()),
            TypPolicy::OneOf(list) => match &header.typ {
                Some(t) if list.iter().any(|x| media_type_eq(x, t)) => Ok(()),
                _ => Err(ClaimError::Type),
            },
            TypPolicy::NoneOf(list) => match &header.typ {
                Some(t) if list.iter().any(|x| media_type_eq(x, t)) => Err(ClaimError::Type),
                _ => Ok(()),
            },
        }
    }

    /// Feeds every field of the policy into `h`, for cache keys: two policies that could decide
    /// differently never produce the same digest.
    pub fn fingerprint(&self, h: &mut Sha256) {
        fn list(h: &mut Sha256, tag: u8, l: Option<&[String]>) {
            h.update([tag]);
            match l {
                None => h.update([0]),
                Some(items) => {
                    h.update([1]);
                    h.update((items.len() as u64).to_le_bytes());
                    for i in items {
                        h.update((i.len() as u64).to_le_bytes());
                        h.update(i.as_bytes());
                    }
                }
            }
        }
        list(h, 1, self.issuers.as_deref());
        list(h, 2, self.audiences.as_deref());
        h.update([3]);
        h.update(self.leeway.to_le_bytes());
        h.update([4]);
        h.update(self.iat_slack.map_or([0xff; 8], u64::to_le_bytes));
        h.update([5, u8::from(self.iat_slack.is_some()), u8::from(self.require_exp)]);
        h.update([u8::from(self.require_iat), u8::from(self.require_sub)]);
        list(h, 6, self.nonce.as_ref().map(core::slice::from_ref));
        list(h, 7, self.authorized_party.as_ref().map(core::slice::from_ref));
        match &self.typ {
            TypPolicy::Any => list(h, 8, None),
            TypPolicy::OneOf(l) => list(h, 9, Some(l)),
            TypPolicy::NoneOf(l) => list(h, 10, Some(l)),
        }
    }
}

/// RFC 7515 §4.1.9 media-type comparison.
fn media_type_eq(a: &str, b: &str) -> bool {
    fn strip(s: &str) -> &str {
        match s.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("application/") => s.get(12..).unwrap_or(""),
            _ => s,
        }
    }
    strip(a).eq_ignore_ascii_case(strip(b))
}

#[derive(Clone, Copy)]
enum Round {
    Up,
    Down,
}

/// A NumericDate claim, which must be a JSON number (RFC 7519 §2).
fn numeric_date(v: &Value, name: &'static str, round: Round) -> Result<i64, ClaimError> {
    let Value::Number(n) = v else { return Err(ClaimError::WrongType(name)) };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    if n.as_u64().is_some() {
        return Ok(i64::MAX);
    }
    let f = n.as_f64().filter(|f| f.is_finite()).ok_or(ClaimError::WrongType(name))?;
    let r = match round {
        Round::Up => libm_ceil(f),
        Round::Down => libm_floor(f),
    };
    // `as` saturates for out-of-range floats, which is the intent here.
    #[allow(clippy::cast_possible_truncation)]
    Ok(r as i64)
}

// `f64::floor` needs std; these are exact for the magnitudes that matter (|f| < 2^52), and
// anything larger is already an integer.
fn libm_floor(f: f64) -> f64 {
    if f.abs() >= 4_503_599_627_370_496.0 {
        return f;
    }
    #[allow(clippy::cast_possible_truncation)]
    let t = f as i64 as f64;
    if t > f { t - 1.0 } else { t }
}

fn libm_ceil(f: f64) -> f64 {
    -libm_floor(-f)
}
