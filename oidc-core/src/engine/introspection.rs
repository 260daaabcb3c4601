//! RFC 7662 token introspection: request building, response checking, and the result cache.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use foldhash::fast::FixedState;
use hashbrown::HashMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::OidcConfig;
use crate::jose::json::{self, Object};
use crate::time::UnixTime;

/// An active introspection result: the response object and its raw bytes (sent upstream in
/// `X-Userinfo` exactly as the IdP wrote it).
#[derive(Debug)]
pub(crate) struct Active {
    pub(crate) claims: Object,
    pub(crate) raw: Vec<u8>,
}

/// What an introspection response said.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// `active: true`.
    Active(Arc<Active>),
    /// `active: false` (or anything but the JSON boolean `true`).
    Inactive,
    /// Not a usable response (non-200 status, not a JSON object).
    Unusable,
}

/// Checks an introspection response (RFC 7662 §2.2): `active` must be the JSON boolean `true`.
pub(crate) fn parse_response(status: u16, body: &[u8]) -> Verdict {
    if status != 200 {
        return Verdict::Unusable;
    }
    let Ok(obj) = json::parse_object(body) else {
        return Verdict::Unusable;
    };
    match obj.get("active") {
        Some(Value::Bool(true)) => {
            Verdict::Active(Arc::new(Active { claims: obj, raw: body.to_vec() }))
        }
        Some(_) | None => Verdict::Inactive,
    }
}

/// The cache lifetime of an active result, seconds, per APISIX semantics: from the expiry
/// claim (`exp` is an absolute time; any other claim is read as a TTL in seconds), capped by
/// `introspection_interval` when that is positive and by `max_ttl`. `None`: do not cache.
pub(crate) fn ttl_secs(
    cfg: &OidcConfig,
    claims: &Object,
    now: UnixTime,
    max_ttl: u64,
) -> Option<u64> {
    let claim = claims.get(cfg.introspection_expiry_claim.as_str())?;
    let value = claim.as_i64().or_else(|| {
        claim.as_f64().map(|f| {
            // Truncation towards zero is the conservative direction for both readings.
            #[allow(clippy::cast_possible_truncation)]
            let t = f as i64;
            t
        })
    })?;
    let ttl = if cfg.introspection_expiry_claim == "exp" {
        value.saturating_sub(now.as_secs())
    } else {
        value
    };
    let mut ttl = u64::try_from(ttl).ok().filter(|t| *t > 0)?;
    if cfg.introspection_interval > 0 {
        ttl = ttl.min(cfg.introspection_interval);
    }
    Some(ttl.min(max_ttl))
}

/// The cache key: a digest of everything that scopes a result (segment, endpoint, client) and
/// of the token, so the token itself is never stored.
pub(crate) fn cache_key(cfg: &OidcConfig, endpoint: &str, token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [
        cfg.cache_segment.as_deref().unwrap_or("DEFAULT"),
        endpoint,
        cfg.client_id.as_str(),
        if cfg.client_secret.is_some() { "secret" } else { "no-client_secret" },
        token,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

struct Entry {
    expires_at: i64,
    /// `None`: the IdP said the token is not active (a short negative entry, so a replayed
    /// junk token does not reach the IdP again).
    result: Option<Arc<Active>>,
}

/// A cached introspection answer.
#[derive(Debug)]
pub(crate) enum Cached {
    Active(Arc<Active>),
    Inactive,
}

/// Bounded cache of introspection results, active and (briefly) inactive (wall-clock expiry).
pub(crate) struct IntrospectionCache {
    map: HashMap<[u8; 32], Entry, FixedState>,
    capacity: usize,
    inserts_since_purge: usize,
}

impl core::fmt::Debug for IntrospectionCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IntrospectionCache").field("len", &self.map.len()).finish()
    }
}

impl IntrospectionCache {
    pub(crate) fn new(capacity: usize, seed: u64) -> Self {
        Self {
            map: HashMap::with_hasher(FixedState::with_seed(seed)),
            capacity,
            inserts_since_purge: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn get(&mut self, key: &[u8; 32], now: UnixTime) -> Option<Cached> {
        let e = self.map.get(key)?;
        if now.as_secs() >= e.expires_at {
            self.map.remove(key);
            return None;
        }
        Some(match &e.result {
            Some(a) => Cached::Active(Arc::clone(a)),
            None => Cached::Inactive,
        })
    }

    pub(crate) fn insert(
        &mut self,
        key: [u8; 32],
        result: Option<Arc<Active>>,
        ttl: u64,
        now: UnixTime,
    ) {
        if self.capacity == 0 {
            return;
        }
        self.inserts_since_purge += 1;
        if self.inserts_since_purge >= self.capacity {
            self.inserts_since_purge = 0;
            let t = now.as_secs();
            self.map.retain(|_, e| e.expires_at > t);
        }
        if self.map.len() >= self.capacity && !self.map.contains_key(&key) {
            let victim = self.map.keys().next().copied();
            if let Some(v) = victim {
                self.map.remove(&v);
            }
        }
        let expires_at = now.as_secs().saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
        self.map.insert(key, Entry { expires_at, result });
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 Appendix B).
pub(crate) fn form_encode(out: &mut String, value: &str) {
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(hex_digit(b >> 4));
                out.push(hex_digit(b & 15));
            }
        }
    }
}

/// Appends `name=value` to a form body.
pub(crate) fn form_pair(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    form_encode(out, name);
    out.push('=');
    form_encode(out, value);
}

fn hex_digit(n: u8) -> char {
    char::from(if n < 10 { b'0' + n } else { b'A' + (n - 10) })
}
