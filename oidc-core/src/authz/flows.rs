//! The per-flow state cookie: the logins in progress of one browser, sealed into one
//! short-lived cookie next to the session.
//!
//! ```text
//! <session name>_state = base64url(version || key id || nonce || ciphertext || tag)
//! payload = count || count × (created_at i64 || flags || state || [nonce] || [verifier]
//!                             || original_url || redirect_uri), strings u16-length-prefixed
//! ```
//!
//! Keys come from the session's [`Keyring`] derivation with the state cookie's own name in the
//! binding, so a session cookie never opens as a state cookie nor the reverse, and the same
//! secrets (and rotation) serve both. Associated data is `version || key id || binding digest`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use super::request::{FlowState, MAX_ORIGINAL_URL, MAX_REDIRECT_URI};
use crate::config::SessionConfig;
use crate::crypto::{AEAD_NONCE_LEN, AEAD_TAG_LEN, CryptoProvider};
use crate::engine::Entropy;
use crate::jose::base64url;
use crate::session::{
    Binding, CodecError, CookieSettings, KEY_ID_LEN, Keyring, MAX_CLOCK_AHEAD, SealError,
    SessionCookies, SetCookie, WipedBytes,
};
use crate::time::UnixTime;

mod per_flow;

/// Most flows kept at once: enough for a few tabs logging in together; the oldest is dropped
/// first, so an abandoned flow cannot hold a slot for long.
pub const MAX_FLOWS: usize = 4;
/// Default lifetime of a flow, in seconds: a login at the provider that takes longer starts
/// over.
pub const DEFAULT_FLOW_TTL: u64 = 600;
/// Suffix of the state cookie's name after the session cookie's.
pub const STATE_COOKIE_SUFFIX: &str = "_state";

const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + AEAD_NONCE_LEN;
const AAD_LEN: usize = 1 + KEY_ID_LEN + 32;
const FLAG_NONCE: u8 = 1;
const FLAG_VERIFIER: u8 = 2;
/// Longest `state`, nonce or verifier in a payload (ours are 22 to 43 characters).
const MAX_TOKEN: usize = 128;

/// The logins in progress of one browser, oldest first, at most [`MAX_FLOWS`].
#[derive(Debug, Default)]
pub struct FlowSet {
    flows: Vec<FlowState>,
}

impl FlowSet {
    /// No flows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a flow, dropping the oldest beyond [`MAX_FLOWS`].
    pub fn push(&mut self, flow: FlowState) {
        self.flows.push(flow);
        while self.flows.len() > MAX_FLOWS {
            self.flows.remove(0);
        }
    }

    /// Removes and returns the flow whose `state` equals `state`. Every stored state is compared
    /// in constant time, with no early exit, so timing reveals neither which flow matched nor
    /// how much of a guess was right. Taking makes the state single-use once the caller re-seals
    /// the set.
    pub fn take(&mut self, state: &str) -> Option<FlowState> {
        let mut found = None;
        for (i, flow) in self.flows.iter().enumerate() {
            let hit = crate::util::ct_eq(flow.state.as_bytes(), state.as_bytes());
            if hit && found.is_none() {
                found = Some(i);
            }
        }
        found.map(|i| self.flows.remove(i))
    }

    /// The flows, oldest first.
    pub fn flows(&self) -> &[FlowState] {
        &self.flows
    }

    /// How many flows.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

/// Why a request has no flows. Opaque to the client (the engine restarts the login); a code for
/// logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NoFlows {
    /// No state cookie.
    Absent,
    /// Not the shape of a sealed state cookie.
    Malformed,
    /// Longer than one cookie may be.
    Oversized,
    /// A format this build does not know.
    UnsupportedVersion,
    /// Sealed with a key this route does not have (retired secret, other route or client).
    UnknownKey,
    /// Altered or forged.
    Unauthentic,
    /// Authentic but undecodable.
    BadPayload,
    /// Every flow in it is older than the flow lifetime (or dated in the future).
    Expired,
}

impl NoFlows {
    /// A stable snake_case code for logs and metrics.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::Malformed => "malformed",
            Self::Oversized => "oversized",
            Self::UnsupportedVersion => "unsupported_version",
            Self::UnknownKey => "unknown_key",
            Self::Unauthentic => "unauthentic",
            Self::BadPayload => "bad_payload",
            Self::Expired => "expired",
        }
    }
}

/// What [`FlowCodec::open`] found.
#[derive(Debug)]
#[must_use]
pub enum OpenedFlows {
    /// At least one live flow.
    Flows(FlowSet),
    /// None, and why.
    NoFlows(NoFlows),
}

impl OpenedFlows {
    /// The flows, or an empty set: what to add a new flow to.
    pub fn into_set(self) -> FlowSet {
        match self {
            Self::Flows(set) => set,
            Self::NoFlows(_) => FlowSet::new(),
        }
    }
}

/// Seals and opens one route's state cookie.
pub struct FlowCodec {
    ring: Keyring,
    cookie: CookieSettings,
    ttl: u64,
}

impl fmt::Debug for FlowCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowCodec")
            .field("keys", &self.ring.len())
            .field("cookie", &self.cookie)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl FlowCodec {
    /// A codec for the state cookie that goes with a session cookie configured as `session`:
    /// same attributes, name `<session name>_state`, keys derived from the same secrets
    /// (`secrets[0]` seals) for `binding` and that name. Flows live [`DEFAULT_FLOW_TTL`].
    pub fn new(
        secrets: &[&[u8]],
        binding: Binding<'_>,
        session: &CookieSettings,
        provider: &dyn CryptoProvider,
    ) -> Result<Self, CodecError> {
        let mut cookie = session.clone();
        cookie.name.push_str(STATE_COOKIE_SUFFIX);
        // The callback is a cross-site navigation from the provider: a `Strict` state cookie
        // would never come back with it.
        if cookie.same_site == crate::config::SameSite::Strict {
            cookie.same_site = crate::config::SameSite::Lax;
        }
        let cookie = cookie.validated()?;
        let ring = Keyring::derive(secrets, &binding, &cookie.name, provider)?;
        Ok(Self { ring, cookie, ttl: DEFAULT_FLOW_TTL })
    }

    /// A codec for a route's `session` configuration.
    pub fn from_config(
        config: &SessionConfig,
        binding: Binding<'_>,
        provider: &dyn CryptoProvider,
    ) -> Result<Self, CodecError> {
        // The same rotation as the session: logins in flight when `secret` changes still open.
        Self::new(&config.secrets(), binding, &CookieSettings::from_config(config), provider)
    }

    /// The same codec with flows living `secs` seconds (at least 1).
    pub fn with_ttl(mut self, secs: u64) -> Self {
        self.ttl = secs.max(1);
        self
    }

    /// The state cookie's name (the gateway removes it from the `Cookie` header it forwards).
    pub fn cookie_name(&self) -> &str {
        &self.cookie.name
    }

    /// The live flows a request's `Cookie` header values carry at `now`. Expired flows are
    /// dropped one by one; a cookie that does not open is [`OpenedFlows::NoFlows`], never an
    /// error.
    pub fn open<'a, I>(&self, cookie_headers: I, now: UnixTime) -> OpenedFlows
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let jar = SessionCookies::collect(&self.cookie.name, cookie_headers);
        match self.open_value(jar.chunk(1), now) {
            Ok(set) => OpenedFlows::Flows(set),
            Err(why) => OpenedFlows::NoFlows(why),
        }
    }

    fn open_value(&self, value: Option<&[u8]>, now: UnixTime) -> Result<FlowSet, NoFlows> {
        let value = value.ok_or(NoFlows::Absent)?;
        if self.cookie.name.len() + 1 + value.len() > self.cookie.limits.chunk_bytes {
            return Err(NoFlows::Oversized);
        }
        let mut buf = WipedBytes::with_capacity(base64url::decoded_len_estimate(value.len()));
        base64url::decode_into(value, &mut buf).map_err(|_| NoFlows::Malformed)?;
        if buf.len() < HEADER_LEN + AEAD_TAG_LEN {
            return Err(NoFlows::Malformed);
        }
        let tag_at = buf.len() - AEAD_TAG_LEN;
        let tag: [u8; AEAD_TAG_LEN] =
            buf.get(tag_at..).and_then(|t| t.try_into().ok()).ok_or(NoFlows::Malformed)?;
        buf.truncate(tag_at);
        let header: [u8; HEADER_LEN] =
            buf.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or(NoFlows::Malformed)?;
        let [version, k0, k1, k2, k3, nonce @ ..] = header;
        if version != VERSION {
            return Err(NoFlows::UnsupportedVersion);
        }
        let key_id = [k0, k1, k2, k3];
        let aad = aad(&key_id, self.ring.binding_digest());
        let body = buf.get_mut(HEADER_LEN..).ok_or(NoFlows::Malformed)?;
        let candidates = self.ring.by_id(&key_id).count();
        if candidates == 0 {
            return Err(NoFlows::UnknownKey);
        }
        // A failed open leaves the buffer unspecified: a second candidate (a 32-bit key-id
        // collision) gets a fresh copy.
        let backup = (candidates > 1).then(|| WipedBytes(body.to_vec()));
        let mut opened = false;
        for (i, key) in self.ring.by_id(&key_id).enumerate() {
            if let (true, Some(copy)) = (i > 0, &backup) {
                body.copy_from_slice(copy);
            }
            if key.open_in_place(&nonce, &aad, body, &tag).is_ok() {
                opened = true;
                break;
            }
        }
        if !opened {
            return Err(NoFlows::Unauthentic);
        }
        let flows = decode(body).ok_or(NoFlows::BadPayload)?;
        let mut set = FlowSet::new();
        for flow in flows {
            if self.is_live(&flow, now) {
                set.push(flow);
            }
        }
        if set.is_empty() { Err(NoFlows::Expired) } else { Ok(set) }
    }

    fn is_live(&self, flow: &FlowState, now: UnixTime) -> bool {
        let created = flow.created_at.as_secs();
        let ttl = i64::try_from(self.ttl).unwrap_or(i64::MAX);
        created <= now.as_secs().saturating_add(MAX_CLOCK_AHEAD)
            && now.as_secs() < created.saturating_add(ttl)
    }

    /// The `Set-Cookie` value that stores `flows` at `now`: the live ones, newest kept first
    /// when they do not all fit in one cookie (the oldest are dropped from `flows` too). An
    /// empty set is a deletion of the cookie. `https`: the request arrived over https.
    pub fn seal(
        &self,
        flows: &mut FlowSet,
        now: UnixTime,
        rng: &mut dyn Entropy,
        https: bool,
    ) -> Result<SetCookie, SealError> {
        flows.flows.retain(|f| self.is_live(f, now));
        let secure = self.cookie.secure_for(https);
        loop {
            if flows.is_empty() {
                return Ok(self.cookie.expire(1, secure));
            }
            let value = self.seal_value(flows, rng)?;
            if self.cookie.name.len() + 1 + value.len() <= self.cookie.limits.chunk_bytes {
                return Ok(self.cookie.set(1, &value, Some(self.ttl), secure));
            }
            if flows.len() == 1 {
                return Err(SealError::TooLarge { needed: 2, max: 1 });
            }
            flows.flows.remove(0);
        }
    }

    /// The `Set-Cookie` value that deletes the state cookie.
    pub fn clear(&self, https: bool) -> SetCookie {
        self.cookie.expire(1, self.cookie.secure_for(https))
    }

    fn seal_value(&self, flows: &FlowSet, rng: &mut dyn Entropy) -> Result<String, SealError> {
        let (key_id, key) = self.ring.sealing().ok_or(SealError::Crypto)?;
        let mut nonce = [0u8; AEAD_NONCE_LEN];
        rng.fill_secret(&mut nonce);
        if nonce == [0u8; AEAD_NONCE_LEN] {
            return Err(SealError::Entropy);
        }
        let mut buf = WipedBytes::with_capacity(512);
        buf.push(VERSION);
        buf.extend_from_slice(key_id);
        buf.extend_from_slice(&nonce);
        encode(&flows.flows, &mut buf);
        let aad = aad(key_id, self.ring.binding_digest());
        let body = buf.get_mut(HEADER_LEN..).ok_or(SealError::Crypto)?;
        let tag = key.seal_in_place(&nonce, &aad, body).map_err(|_| SealError::Crypto)?;
        buf.extend_from_slice(&tag);
        Ok(base64url::encode(&buf))
    }
}

fn aad(key_id: &[u8; KEY_ID_LEN], binding: &[u8; 32]) -> [u8; AAD_LEN] {
    let mut aad = [0u8; AAD_LEN];
    let (head, digest) = aad.split_at_mut(1 + KEY_ID_LEN);
    let (v, kid) = head.split_at_mut(1);
    v.copy_from_slice(&[VERSION]);
    kid.copy_from_slice(key_id);
    digest.copy_from_slice(binding);
    aad
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Every string was bounded when its flow was built (at most MAX_ORIGINAL_URL bytes).
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes().get(..usize::from(len)).unwrap_or_default());
}

fn encode(flows: &[FlowState], out: &mut Vec<u8>) {
    // At most MAX_FLOWS, so the count fits a byte.
    out.push(u8::try_from(flows.len()).unwrap_or(u8::MAX));
    for flow in flows {
        out.extend_from_slice(&flow.created_at.as_secs().to_be_bytes());
        let flags = if flow.nonce.is_some() { FLAG_NONCE } else { 0 }
            | if flow.verifier.is_some() { FLAG_VERIFIER } else { 0 };
        out.push(flags);
        put_str(out, &flow.state);
        if let Some(n) = &flow.nonce {
            put_str(out, n);
        }
        if let Some(v) = &flow.verifier {
            put_str(out, v);
        }
        put_str(out, &flow.original_url);
        put_str(out, &flow.redirect_uri);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn string(&mut self, max: usize) -> Option<String> {
        let len = usize::from(u16::from_be_bytes(self.take::<2>()?));
        if len > max {
            return None;
        }
        let (s, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        String::from_utf8(s.to_vec()).ok()
    }
}

fn decode(bytes: &[u8]) -> Option<Vec<FlowState>> {
    let mut r = Reader(bytes);
    let [count] = r.take::<1>()?;
    let count = usize::from(count);
    if count > MAX_FLOWS {
        return None;
    }
    let mut flows = Vec::with_capacity(count);
    for _ in 0..count {
        let created_at = UnixTime::from_secs(i64::from_be_bytes(r.take::<8>()?));
        let [flags] = r.take::<1>()?;
        if flags & !(FLAG_NONCE | FLAG_VERIFIER) != 0 {
            return None;
        }
        let state = r.string(MAX_TOKEN)?;
        let nonce =
            if flags & FLAG_NONCE != 0 { Some(Zeroizing::new(r.string(MAX_TOKEN)?)) } else { None };
        let verifier = if flags & FLAG_VERIFIER != 0 {
            Some(Zeroizing::new(r.string(MAX_TOKEN)?))
        } else {
            None
        };
        let original_url = r.string(MAX_ORIGINAL_URL)?;
        let redirect_uri = r.string(MAX_REDIRECT_URI)?;
        flows.push(FlowState { state, nonce, verifier, original_url, created_at, redirect_uri });
    }
    r.0.is_empty().then_some(flows)
}
