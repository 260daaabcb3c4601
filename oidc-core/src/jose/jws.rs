//! JWS compact serialization (RFC 7515 §7.1): parsing and header policy.
//!
//! Parsing is separate from verification: [`CompactJws::parse`] checks structure and the
//! protected header and decodes the three segments, and nothing more. What a header says is
//! never used to find or trust a key: `jku`, `x5u`, `jwk` and `x5c` are ignored entirely, and
//! the key (chosen by `kid` from configured or discovered keys) decides the algorithm family.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use super::alg::Algorithm;
use super::base64url::{self, Base64Error};
use super::json::{JsonError, Key, SeenKeys};

/// Size limits applied before any decoding or allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwsLimits {
    /// Maximum length of the whole compact token, in bytes.
    pub max_token_len: usize,
    /// Maximum length of the encoded protected header, in bytes.
    pub max_header_len: usize,
}

impl JwsLimits {
    /// Defaults sized for access and ID tokens from common providers (Entra ID tokens with many
    /// group claims reach about 8 KiB).
    pub const DEFAULT: Self = Self { max_token_len: 32 * 1024, max_header_len: 2 * 1024 };
}

impl Default for JwsLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Which segment of a compact JWS an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The protected header.
    Header,
    /// The payload.
    Payload,
    /// The signature.
    Signature,
}

/// Why a compact JWS was rejected before any signature check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwsError {
    /// The token or its header exceeds [`JwsLimits`].
    TooLarge,
    /// Not exactly three `.`-separated segments (a JWE has five).
    SegmentCount,
    /// A segment is not strict unpadded base64url.
    Base64(Segment, Base64Error),
    /// The protected header is not a JSON object (or has duplicate members).
    HeaderJson(JsonError),
    /// The header has no `alg`, or `alg` is not a string.
    MissingAlg,
    /// `alg` names an algorithm this crate does not implement.
    UnsupportedAlg,
    /// A header member has the wrong JSON type (`kid`, `typ`, `cty`, `crit`, `b64`).
    InvalidHeaderMember(&'static str),
    /// `crit` lists extensions; none are understood here (RFC 7515 §4.1.11).
    UnsupportedCritical,
    /// `b64: false` (RFC 7797 unencoded payload), which tokens never use.
    UnencodedPayload,
    /// The signature segment is empty for a signed algorithm, or not empty for `none`.
    SignatureShape,
}

impl fmt::Display for JwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("token too large"),
            Self::SegmentCount => f.write_str("not a compact JWS (segment count)"),
            Self::Base64(seg, e) => write!(f, "{seg:?} segment: {e}"),
            Self::HeaderJson(e) => write!(f, "header: {e}"),
            Self::MissingAlg => f.write_str("header has no alg"),
            Self::UnsupportedAlg => f.write_str("unsupported alg"),
            Self::InvalidHeaderMember(m) => write!(f, "header member {m} has the wrong type"),
            Self::UnsupportedCritical => f.write_str("unsupported crit header"),
            Self::UnencodedPayload => f.write_str("b64:false is not supported"),
            Self::SignatureShape => f.write_str("signature segment does not fit alg"),
        }
    }
}

/// The protected header members this crate acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The signing algorithm.
    pub alg: Algorithm,
    /// Key id, used only to select among trusted keys.
    pub kid: Option<String>,
    /// Media type of the whole JWS (`JWT`, `at+jwt`, ...).
    pub typ: Option<String>,
    /// Content type of the payload.
    pub cty: Option<String>,
}

impl Header {
    /// Parses a protected header in one pass without building a map: duplicate member names
    /// are rejected, the members this crate acts on are type-checked, the rest are skipped.
    fn parse(json: &[u8]) -> Result<Self, JwsError> {
        let parsed = serde_json::from_slice::<HeaderParse>(json).map_err(|e| {
            use alloc::string::ToString;
            JwsError::HeaderJson(match e.classify() {
                serde_json::error::Category::Data if e.to_string().starts_with("duplicate") => {
                    JsonError::DuplicateMember
                }
                serde_json::error::Category::Data => JsonError::NotAnObject,
                _ => JsonError::Syntax,
            })
        })?;
        parsed.0
    }
}

struct HeaderParse(Result<Header, JwsError>);

impl<'de> serde::Deserialize<'de> for HeaderParse {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> serde::de::Visitor<'de> for HeaderVisitor {
    type Value = HeaderParse;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<HeaderParse, A::Error> {
        let mut seen = SeenKeys::default();
        let mut alg: Option<Value> = None;
        let (mut kid, mut typ, mut cty, mut crit, mut b64) = (None, None, None, None, None);
        while let Some(Key(k)) = m.next_key()? {
            let slot = match &*k {
                "alg" => &mut alg,
                "kid" => &mut kid,
                "typ" => &mut typ,
                "cty" => &mut cty,
                "crit" => &mut crit,
                "b64" => &mut b64,
                _ => {
                    m.next_value::<serde::de::IgnoredAny>()?;
                    if !seen.insert(k) {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                    continue;
                }
            };
            *slot = Some(m.next_value::<Value>()?);
            if !seen.insert(k) {
                return Err(serde::de::Error::custom("duplicate member"));
            }
        }
        Ok(HeaderParse(build_header(alg, kid, typ, cty, crit, b64)))
    }
}

fn build_header(
    alg: Option<Value>,
    kid: Option<Value>,
    typ: Option<Value>,
    cty: Option<Value>,
    crit: Option<Value>,
    b64: Option<Value>,
) -> Result<Header, JwsError> {
    let alg = match alg {
        Some(Value::String(s)) => Algorithm::from_name(&s).ok_or(JwsError::UnsupportedAlg)?,
        _ => return Err(JwsError::MissingAlg),
    };
    if let Some(crit) = crit {
        // Whatever `crit` contains, we understand no extension, so the token must be rejected;
        // an ill-formed `crit` is rejected as well (RFC 7515 §4.1.11).
        return Err(match crit {
            Value::Array(_) => JwsError::UnsupportedCritical,
            _ => JwsError::InvalidHeaderMember("crit"),
        });
    }
    match b64 {
        None | Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Err(JwsError::UnencodedPayload),
        Some(_) => return Err(JwsError::InvalidHeaderMember("b64")),
    }
    let string = |v: Option<Value>, name: &'static str| match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwsError::InvalidHeaderMember(name)),
    };
    Ok(Header { alg, kid: string(kid, "kid")?, typ: string(typ, "typ")?, cty: string(cty, "cty")? })
}

/// A structurally valid compact JWS whose signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct CompactJws<'a> {
    header: Header,
    signing_input: &'a [u8],
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> CompactJws<'a> {
    /// Parses `token` with [`JwsLimits::DEFAULT`].
    pub fn parse(token: &'a str) -> Result<Self, JwsError> {
        Self::parse_with_limits(token, JwsLimits::DEFAULT)
    }

    /// Parses `token`, refusing anything over `limits` before decoding it.
    pub fn parse_with_limits(token: &'a str, limits: JwsLimits) -> Result<Self, JwsError> {
        let bytes = token.as_bytes();
        if bytes.len() > limits.max_token_len {
            return Err(JwsError::TooLarge);
        }
        let mut parts = bytes.splitn(4, |&b| b == b'.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::SegmentCount);
        };
        if h.len() > limits.max_header_len {
            return Err(JwsError::TooLarge);
        }
        let header_json = base64url::decode(h).map_err(|e| JwsError::Base64(Segment::Header, e))?;
        let header = Header::parse(&header_json)?;
        let payload = base64url::decode(p).map_err(|e| JwsError::Base64(Segment::Payload, e))?;
        let signature =
            base64url::decode(s).map_err(|e| JwsError::Base64(Segment::Signature, e))?;
        if (header.alg == Algorithm::None) != signature.is_empty() {
            return Err(JwsError::SignatureShape);
        }
        let signing_input = bytes.get(..h.len() + 1 + p.len()).ok_or(JwsError::SegmentCount)?;
        Ok(Self { header, signing_input, payload, signature })
    }

    /// The parsed protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: the bytes the signature covers.
    pub fn signing_input(&self) -> &'a [u8] {
        self.signing_input
    }

    /// The decoded payload (not yet authenticated).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Moves the payload out (for callers that parse it after verification).
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// Moves the header and payload out.
    pub fn into_parts(self) -> (Header, Vec<u8>) {
        (self.header, self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn tok(header: &str, payload: &str, sig: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            base64url::encode(header.as_bytes()),
            base64url::encode(payload.as_bytes()),
            base64url::encode(sig)
        )
    }

    #[test]
    fn parses_a_signed_token() {
        let t = tok(r#"{"alg":"ES256","kid":"k1","typ":"at+jwt"}"#, "{}", &[1; 64]);
        let jws = CompactJws::parse(&t).unwrap();
        assert_eq!(jws.header().alg, Algorithm::ES256);
        assert_eq!(jws.header().kid.as_deref(), Some("k1"));
        assert_eq!(jws.payload(), b"{}");
        assert_eq!(jws.signature().len(), 64);
        assert!(t.as_bytes().starts_with(jws.signing_input()));
    }

    #[test]
    fn structure_errors() {
        assert_eq!(CompactJws::parse("a.b").unwrap_err(), JwsError::SegmentCount);
        assert_eq!(CompactJws::parse("a.b.c.d.e").unwrap_err(), JwsError::SegmentCount);
        let long = "a".repeat(40_000);
        assert_eq!(CompactJws::parse(&long).unwrap_err(), JwsError::TooLarge);
        let t = tok(r#"{"kid":"x"}"#, "{}", &[1]);
        assert_eq!(CompactJws::parse(&t).unwrap_err(), JwsError::MissingAlg);
        let t = tok(r#"{"alg":"HS257"}"#, "{}", &[1]);
        assert_eq!(CompactJws::parse(&t).unwrap_err(), JwsError::UnsupportedAlg);
        let t = tok(r#"{"alg":"HS256","alg":"none"}"#, "{}", &[1]);
        assert!(matches!(CompactJws::parse(&t).unwrap_err(), JwsError::HeaderJson(_)));
    }

    #[test]
    fn crit_and_b64() {
        let t = tok(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, "{}", &[1]);
        assert_eq!(CompactJws::parse(&t).unwrap_err(), JwsError::UnsupportedCritical);
        let t = tok(r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#, "{}", &[1]);
        assert_eq!(CompactJws::parse(&t).unwrap_err(), JwsError::UnsupportedCritical);
        let t = tok(r#"{"alg":"HS256","b64":false}"#, "{}", &[1]);
        assert_eq!(CompactJws::parse(&t).unwrap_err(), JwsError::UnencodedPayload);
    }

    #[test]
    fn none_must_have_empty_signature_and_others_not() {
        let t = tok(r#"{"alg":"none"}"#, "{}", &[]);
        assert_eq!(CompactJws::parse(&t).unwrap().header().alg, Algorithm::None);
        let t = tok(r#"{"alg":"none"}"#, "{}", &[1]);
        assert_eq!(CompactJws::parse(&t).unwrap_err(), JwsError::SignatureShape);
        let t = tok(r#"{"alg":"RS256"}"#, "{}", &[]);
        assert_eq!(CompactJws::parse(&t).unwrap_err(), JwsError::SignatureShape);
    }
}
