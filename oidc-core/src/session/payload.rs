//! What a session holds, and its compact binary encoding (the plaintext inside the AEAD).
//!
//! Layout (format version 1; integers are LEB128 varints, times zigzag-encoded seconds):
//!
//! ```text
//! flags            u8: 0x01 id_token, 0x02 refresh_token, 0x04 access expiry, 0x08 userinfo,
//!                      0x10 scope
//! created          varint (zigzag i64)
//! renewed          varint (zigzag i64)   rolling-timeout base
//! last_seen        varint (zigzag i64)   idling-timeout base
//! [access_expiry]  varint (zigzag i64)   if flag 0x04
//! access_token     varint length, bytes
//! [id_token]       varint length, bytes  if flag 0x01
//! [refresh_token]  varint length, bytes  if flag 0x02
//! subject          varint length, bytes
//! [userinfo]       varint length, bytes  if flag 0x08
//! [scope]          varint length, bytes  if flag 0x10 (the scopes the provider granted)
//! ```
//!
//! Nothing else: no JSON, no field names, no claims the gateway can re-read from the ID token
//! it keeps. A hand-rolled length-prefixed format costs a few bytes per field where JSON costs
//! tens, parses in one pass without allocating per field, and has no number or escaping
//! ambiguities. Unknown flag bits, trailing bytes, non-minimal lengths running past the end, and
//! text that is not UTF-8 are refused.
//!
//! An opened [`Session`] keeps all its text in one buffer: decryption happens in place, the
//! strings are moved to the front of that same buffer and it becomes the session's `String`
//! after one UTF-8 check. Opening a cookie therefore allocates once, and the buffer that held
//! plaintext is the one that is wiped when the session is dropped.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use zeroize::Zeroize as _;

use super::wipe::{WipedBytes, WipedText};

use crate::time::UnixTime;

const F_ID_TOKEN: u8 = 0x01;
const F_REFRESH_TOKEN: u8 = 0x02;
const F_ACCESS_EXPIRY: u8 = 0x04;
const F_USERINFO: u8 = 0x08;
const F_SCOPE: u8 = 0x10;
const F_KNOWN: u8 = F_ID_TOKEN | F_REFRESH_TOKEN | F_ACCESS_EXPIRY | F_USERINFO | F_SCOPE;

/// The tokens and identity a session carries, borrowed: what the engine fills in after a code
/// exchange or a refresh, and what [`Session::tokens`] gives back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionTokens<'a> {
    /// The access token, as the token endpoint returned it.
    pub access_token: &'a str,
    /// When the access token expires (`expires_in` added to the time of the token response).
    pub access_token_expires_at: Option<UnixTime>,
    /// The raw ID token (for `id_token_hint`, `X-ID-Token` and `X-Raw-ID-Token`).
    pub id_token: Option<&'a str>,
    /// The refresh token.
    pub refresh_token: Option<&'a str>,
    /// The ID token's `sub`.
    pub subject: &'a str,
    /// The userinfo response (JSON text), when `set_userinfo_header` asks for it.
    pub userinfo: Option<&'a str>,
    /// The scopes the provider granted (space-separated), which every request's
    /// `required_scopes` are checked against.
    pub scope: Option<&'a str>,
}

impl fmt::Debug for SessionTokens<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTokens")
            .field("subject", &self.subject)
            .field("access_token", &Redacted(Some(self.access_token)))
            .field("access_token_expires_at", &self.access_token_expires_at)
            .field("id_token", &Redacted(self.id_token))
            .field("refresh_token", &Redacted(self.refresh_token))
            .field("userinfo", &Redacted(self.userinfo))
            .field("scope", &self.scope)
            .finish()
    }
}

/// The three times the session timeouts are measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    /// When the user logged in (`absolute_timeout` counts from here).
    pub created: UnixTime,
    /// When the cookie was last renewed (`rolling_timeout` counts from here).
    pub renewed: UnixTime,
    /// When the session was last seen in use (`idling_timeout` counts from here).
    pub last_seen: UnixTime,
}

impl SessionTimes {
    /// All three at `now`: a session that starts now.
    pub const fn starting(now: UnixTime) -> Self {
        Self { created: now, renewed: now, last_seen: now }
    }
}

/// Where each part lives in [`Session::text`].
#[derive(Clone, Default, PartialEq, Eq)]
struct Spans {
    access_token: Range<usize>,
    id_token: Option<Range<usize>>,
    refresh_token: Option<Range<usize>>,
    subject: Range<usize>,
    userinfo: Option<Range<usize>>,
    scope: Option<Range<usize>>,
}

/// A browser session: tokens, identity and the times its timeouts are measured from.
///
/// Not `Clone`: it holds credentials, and its one buffer is wiped when it is dropped. `Debug`
/// shows the subject and the times, never a token or the userinfo.
pub struct Session {
    text: WipedText,
    spans: Spans,
    access_token_expires_at: Option<UnixTime>,
    times: SessionTimes,
}

impl Session {
    /// A session holding `tokens`, with the given times.
    pub fn new(tokens: &SessionTokens<'_>, times: SessionTimes) -> Self {
        let parts = [
            Some(tokens.access_token),
            tokens.id_token,
            tokens.refresh_token,
            Some(tokens.subject),
            tokens.userinfo,
            tokens.scope,
        ];
        // Exact capacity: the string never reallocates (which would leave a copy unwiped).
        let mut text = String::with_capacity(parts.iter().flatten().map(|p| p.len()).sum());
        let mut push = |part: Option<&str>| {
            part.map(|p| {
                let start = text.len();
                text.push_str(p);
                start..text.len()
            })
        };
        let [access, id, refresh, subject, userinfo, scope] = parts.map(&mut push);
        let spans = Spans {
            access_token: access.unwrap_or_default(),
            id_token: id,
            refresh_token: refresh,
            subject: subject.unwrap_or_default(),
            userinfo,
            scope,
        };
        Self {
            text: WipedText::new(text),
            spans,
            access_token_expires_at: tokens.access_token_expires_at,
            times,
        }
    }

    /// A session that starts at `now` (after a login).
    pub fn start(tokens: &SessionTokens<'_>, now: UnixTime) -> Self {
        Self::new(tokens, SessionTimes::starting(now))
    }

    /// The same session with new tokens (after a refresh), keeping its times.
    #[must_use]
    pub fn with_tokens(&self, tokens: &SessionTokens<'_>) -> Self {
        Self::new(tokens, self.times)
    }

    /// Everything the session carries, borrowed.
    pub fn tokens(&self) -> SessionTokens<'_> {
        SessionTokens {
            access_token: self.access_token(),
            access_token_expires_at: self.access_token_expires_at,
            id_token: self.id_token(),
            refresh_token: self.refresh_token(),
            subject: self.subject(),
            userinfo: self.userinfo(),
            scope: self.scope(),
        }
    }

    /// The access token.
    pub fn access_token(&self) -> &str {
        self.part(&self.spans.access_token)
    }

    /// When the access token expires, if the token endpoint said.
    pub fn access_token_expires_at(&self) -> Option<UnixTime> {
        self.access_token_expires_at
    }

    /// The raw ID token.
    pub fn id_token(&self) -> Option<&str> {
        self.spans.id_token.as_ref().map(|r| self.part(r))
    }

    /// The refresh token.
    pub fn refresh_token(&self) -> Option<&str> {
        self.spans.refresh_token.as_ref().map(|r| self.part(r))
    }

    /// The subject (`sub`).
    pub fn subject(&self) -> &str {
        self.part(&self.spans.subject)
    }

    /// The userinfo JSON.
    pub fn userinfo(&self) -> Option<&str> {
        self.spans.userinfo.as_ref().map(|r| self.part(r))
    }

    /// The granted scopes (space-separated), if the session recorded them.
    pub fn scope(&self) -> Option<&str> {
        self.spans.scope.as_ref().map(|r| self.part(r))
    }

    /// The timeout bases.
    pub fn times(&self) -> SessionTimes {
        self.times
    }

    /// Records use at `now` (the idling timeout restarts).
    pub fn touch(&mut self, now: UnixTime) {
        self.times.last_seen = now;
    }

    /// Renews the session at `now` (the rolling and idling timeouts restart; the absolute one
    /// does not).
    pub fn renew(&mut self, now: UnixTime) {
        self.times.renewed = now;
        self.times.last_seen = now;
    }

    fn part(&self, range: &Range<usize>) -> &str {
        // Spans are char boundaries inside `text` by construction (checked when decoding), so
        // this never falls back.
        self.text.get(range.clone()).unwrap_or_default()
    }

    /// Exact length of [`Self::encode_into`]'s output.
    pub(crate) fn encoded_len(&self) -> usize {
        let t = &self.times;
        let mut n = 1
            + varint_len(zigzag(t.created))
            + varint_len(zigzag(t.renewed))
            + varint_len(zigzag(t.last_seen));
        if let Some(exp) = self.access_token_expires_at {
            n += varint_len(zigzag(exp));
        }
        for part in self.parts().into_iter().flatten() {
            n += varint_len(part.len() as u64) + part.len();
        }
        n
    }

    /// Appends the version-1 encoding.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        let mut flags = 0;
        let parts = self.parts();
        for (part, flag) in [(1, F_ID_TOKEN), (2, F_REFRESH_TOKEN), (4, F_USERINFO), (5, F_SCOPE)] {
            if parts.get(part).is_some_and(Option::is_some) {
                flags |= flag;
            }
        }
        if self.access_token_expires_at.is_some() {
            flags |= F_ACCESS_EXPIRY;
        }
        out.push(flags);
        for t in [self.times.created, self.times.renewed, self.times.last_seen] {
            put_varint(out, zigzag(t));
        }
        if let Some(exp) = self.access_token_expires_at {
            put_varint(out, zigzag(exp));
        }
        for part in parts.into_iter().flatten() {
            put_varint(out, part.len() as u64);
            out.extend_from_slice(part.as_bytes());
        }
    }

    /// The strings in encoding order (access, id, refresh, subject, userinfo, scope).
    fn parts(&self) -> [Option<&str>; 6] {
        [
            Some(self.access_token()),
            self.id_token(),
            self.refresh_token(),
            Some(self.subject()),
            self.userinfo(),
            self.scope(),
        ]
    }

    /// Decodes the plaintext at `buf[start..]` and takes `buf` over as the session's text.
    /// `buf` is wiped on every error path (the caller keeps it, and it wipes itself).
    pub(crate) fn decode_from(buf: &mut WipedBytes, start: usize) -> Result<Self, PayloadError> {
        let layout = Layout::parse(buf.get(start..).ok_or(PayloadError)?, start)?;
        // Move the strings to the front of the buffer, in order; each source lies at or after
        // its destination, so forward copies never overwrite unread bytes.
        let mut write = 0;
        let mut spans: [Option<Range<usize>>; 6] = Default::default();
        for (slot, src) in spans.iter_mut().zip(layout.parts) {
            let Some(src) = src else { continue };
            if src.end > buf.len() || src.start < write {
                return Err(PayloadError);
            }
            let len = src.len();
            buf.copy_within(src, write);
            *slot = Some(write..write + len);
            write += len;
        }
        // What lies past the strings (stale copies of them, the header, the tag) is wiped
        // before truncation: the session's text keeps this allocation, spare capacity and all.
        buf.get_mut(write..).unwrap_or_default().zeroize();
        buf.truncate(write);
        let bytes = core::mem::take(&mut buf.0);
        let text = match String::from_utf8(bytes) {
            Ok(text) => WipedText::new(text),
            Err(e) => {
                buf.0 = e.into_bytes();
                return Err(PayloadError);
            }
        };
        // One multi-byte character split across two parts would pass the check above.
        let boundaries_ok = spans
            .iter()
            .flatten()
            .all(|r| text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
        if !boundaries_ok {
            return Err(PayloadError);
        }
        let [access, id, refresh, subject, userinfo, scope] = spans;
        Ok(Self {
            text,
            spans: Spans {
                access_token: access.ok_or(PayloadError)?,
                id_token: id,
                refresh_token: refresh,
                subject: subject.ok_or(PayloadError)?,
                userinfo,
                scope,
            },
            access_token_expires_at: layout.access_token_expires_at,
            times: layout.times,
        })
    }
}

impl PartialEq for Session {
    fn eq(&self, other: &Self) -> bool {
        self.times == other.times && self.tokens() == other.tokens()
    }
}

impl Eq for Session {}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("subject", &self.subject())
            .field("access_token", &Redacted(Some(self.access_token())))
            .field("access_token_expires_at", &self.access_token_expires_at)
            .field("id_token", &Redacted(self.id_token()))
            .field("refresh_token", &Redacted(self.refresh_token()))
            .field("userinfo", &Redacted(self.userinfo()))
            .field("scope", &self.scope())
            .field("times", &self.times)
            .finish()
    }
}

/// Prints a credential's presence and length, never its value.
struct Redacted<'a>(Option<&'a str>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "<redacted {} bytes>", s.len()),
            None => f.write_str("None"),
        }
    }
}

/// The plaintext did not decode (never expected: it was authenticated, so this means a bug or
/// a key used by something else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PayloadError;

/// Positions of the parts inside the buffer, found in one pass.
struct Layout {
    times: SessionTimes,
    access_token_expires_at: Option<UnixTime>,
    /// Absolute ranges in the caller's buffer, in encoding order.
    parts: [Option<Range<usize>>; 6],
}

impl Layout {
    fn parse(input: &[u8], base: usize) -> Result<Self, PayloadError> {
        let mut r = Reader { input, pos: 0 };
        let flags = r.byte()?;
        if flags & !F_KNOWN != 0 {
            return Err(PayloadError);
        }
        let times = SessionTimes { created: r.time()?, renewed: r.time()?, last_seen: r.time()? };
        let access_token_expires_at =
            if flags & F_ACCESS_EXPIRY != 0 { Some(r.time()?) } else { None };
        let mut parts: [Option<Range<usize>>; 6] = Default::default();
        let present = [
            true,
            flags & F_ID_TOKEN != 0,
            flags & F_REFRESH_TOKEN != 0,
            true,
            flags & F_USERINFO != 0,
            flags & F_SCOPE != 0,
        ];
        for (slot, present) in parts.iter_mut().zip(present) {
            if present {
                let range = r.bytes()?;
                *slot = Some(base + range.start..base + range.end);
            }
        }
        if r.pos != input.len() {
            return Err(PayloadError);
        }
        Ok(Self { times, access_token_expires_at, parts })
    }
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, PayloadError> {
        let b = *self.input.get(self.pos).ok_or(PayloadError)?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, PayloadError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                // The tenth byte may only carry the top bit of a u64.
                if shift == 63 && b > 1 {
                    return Err(PayloadError);
                }
                return Ok(value);
            }
        }
        Err(PayloadError)
    }

    fn time(&mut self) -> Result<UnixTime, PayloadError> {
        Ok(unzigzag(self.varint()?))
    }

    /// A length-prefixed byte string: its range within the input.
    fn bytes(&mut self) -> Result<Range<usize>, PayloadError> {
        let len = usize::try_from(self.varint()?).map_err(|_| PayloadError)?;
        let start = self.pos;
        let end = start.checked_add(len).filter(|&e| e <= self.input.len()).ok_or(PayloadError)?;
        self.pos = end;
        Ok(start..end)
    }
}

fn zigzag(t: UnixTime) -> u64 {
    let v = t.as_secs();
    ((v << 1) ^ (v >> 63)).cast_unsigned()
}

fn unzigzag(v: u64) -> UnixTime {
    UnixTime::from_secs((v >> 1).cast_signed() ^ -((v & 1).cast_signed()))
}

fn varint_len(v: u64) -> usize {
    // 7 payload bits per byte; at least one byte.
    (64 - v.leading_zeros() as usize).div_ceil(7).max(1)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        // Seven bits per byte, low first; `to_le_bytes` takes the low byte without a cast.
        let [low, ..] = v.to_le_bytes();
        v >>= 7;
        if v == 0 {
            out.push(low & 0x7f);
            return;
        }
        out.push(low | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> SessionTokens<'static> {
        SessionTokens {
            access_token: "at.at.at",
            access_token_expires_at: Some(UnixTime::from_secs(1_800_000_000)),
            id_token: Some("id.id.id"),
            refresh_token: None,
            subject: "alice",
            userinfo: Some(r#"{"sub":"alice","name":"Ålice"}"#),
            scope: Some("openid email"),
        }
    }

    fn round_trip(s: &Session) -> Session {
        let mut buf = WipedBytes(alloc::vec![0xAA; 7]);
        s.encode_into(&mut buf);
        assert_eq!(buf.len(), 7 + s.encoded_len());
        Session::decode_from(&mut buf, 7).unwrap()
    }

    #[test]
    fn encodes_and_decodes() {
        let times = SessionTimes {
            created: UnixTime::from_secs(-5),
            renewed: UnixTime::from_secs(0),
            last_seen: UnixTime::from_secs(i64::MAX),
        };
        let s = Session::new(&tokens(), times);
        let back = round_trip(&s);
        assert_eq!(back, s);
        assert_eq!(back.userinfo(), tokens().userinfo);
        assert_eq!(back.refresh_token(), None);
        assert_eq!(back.times().last_seen, UnixTime::from_secs(i64::MAX));
        let empty = SessionTokens {
            access_token: "",
            access_token_expires_at: None,
            id_token: None,
            refresh_token: None,
            subject: "",
            userinfo: None,
            scope: None,
        };
        let e = Session::start(&empty, UnixTime::from_secs(i64::MIN));
        assert_eq!(round_trip(&e), e);
    }

    #[test]
    fn varints_and_zigzag() {
        for v in [0, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            let mut r = Reader { input: &out, pos: 0 };
            assert_eq!(r.varint(), Ok(v));
        }
        for t in [0, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(UnixTime::from_secs(t))), UnixTime::from_secs(t));
        }
        // Eleven bytes, or a tenth byte above 1, overflow a u64.
        let mut r = Reader { input: &[0xff; 11], pos: 0 };
        assert_eq!(r.varint(), Err(PayloadError));
        let mut over = [0xff_u8; 10];
        over[9] = 0x02;
        assert_eq!(Reader { input: &over, pos: 0 }.varint(), Err(PayloadError));
    }

    #[test]
    fn refuses_malformed_payloads() {
        let s = Session::start(&tokens(), UnixTime::from_secs(1));
        let mut good = Vec::new();
        s.encode_into(&mut good);
        let decode = |bytes: &[u8]| Session::decode_from(&mut WipedBytes(bytes.to_vec()), 0);
        assert!(decode(&good).is_ok());
        // Every truncation fails, and so does a trailing byte.
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(decode(&long).is_err());
        // Unknown flags.
        let mut flags = good.clone();
        flags[0] |= 0x80;
        assert!(decode(&flags).is_err());
        // Not UTF-8.
        let mut bad = Vec::new();
        Session::start(&SessionTokens { subject: "\u{e9}", ..tokens() }, UnixTime::EPOCH)
            .encode_into(&mut bad);
        let pos = bad.iter().position(|&b| b == 0xc3).unwrap();
        bad[pos] = 0xff;
        assert!(decode(&bad).is_err());
    }

    #[test]
    fn a_character_split_across_parts_is_refused() {
        // "é" is c3 a9: put c3 at the end of the access token and a9 at the start of the
        // subject; the concatenation is valid UTF-8, the parts are not.
        let mut buf = alloc::vec![0u8];
        for _ in 0..3 {
            put_varint(&mut buf, 0);
        }
        buf.extend_from_slice(&[1, 0xc3, 1, 0xa9]);
        assert!(Session::decode_from(&mut WipedBytes(buf), 0).is_err());
    }

    #[test]
    fn debug_redacts_credentials() {
        let s = Session::start(&tokens(), UnixTime::from_secs(1));
        let dbg = alloc::format!("{s:?} {:?}", s.tokens());
        assert!(dbg.contains("alice"));
        assert!(!dbg.contains("at.at"), "{dbg}");
        assert!(!dbg.contains("id.id"), "{dbg}");
        assert!(!dbg.contains("name"), "{dbg}");
        assert!(dbg.contains("<redacted 8 bytes>"), "{dbg}");
    }

    #[test]
    fn touch_and_renew() {
        let mut s = Session::start(&tokens(), UnixTime::from_secs(10));
        s.touch(UnixTime::from_secs(20));
        assert_eq!(s.times().renewed, UnixTime::from_secs(10));
        assert_eq!(s.times().last_seen, UnixTime::from_secs(20));
        s.renew(UnixTime::from_secs(30));
        assert_eq!(
            s.times(),
            SessionTimes {
                created: UnixTime::from_secs(10),
                renewed: UnixTime::from_secs(30),
                last_seen: UnixTime::from_secs(30),
            }
        );
        let refreshed = s.with_tokens(&SessionTokens { access_token: "new", ..tokens() });
        assert_eq!(refreshed.access_token(), "new");
        assert_eq!(refreshed.times(), s.times());
    }
}
