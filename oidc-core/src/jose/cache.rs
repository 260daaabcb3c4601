//! The verified-token cache.
//!
//! A hit skips signature verification and claim parsing, not the time check: every hit
//! re-checks the token's [validity window](super::claims::ValidityWindow) against the caller's
//! `now`, and that the key which verified it is still in the current key set.
//!
//! Keys are the validator's [fingerprint](super::verify::JwtValidator::fingerprint) (a digest
//! of every validation input) plus the whole token. The full token is stored and compared on
//! lookup, so no hash collision — however the table's keyed hash is attacked — can make one
//! token's entry answer for another. The table is bounded: when full, an arbitrary entry is
//! evicted, and expired entries are purged every `capacity` insertions (amortised O(1)).

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::hash::{Hash, Hasher};

use foldhash::fast::FixedState;
use hashbrown::{Equivalent, HashMap};

use super::jwk::KeySet;
use super::verify::{JwtValidator, VerifiedToken, VerifyError};
use crate::time::UnixTime;

/// Cache sizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Maximum number of entries.
    pub capacity: usize,
    /// Longest an entry lives, in seconds, whatever the token's `exp` (and the whole lifetime
    /// of tokens without `exp`).
    pub max_ttl: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self { capacity: 10_000, max_ttl: 3600 }
    }
}

#[derive(PartialEq, Eq)]
struct OwnedKey {
    fingerprint: [u8; 32],
    token: Box<[u8]>,
}

#[derive(Clone, Copy)]
struct KeyRef<'a> {
    fingerprint: &'a [u8; 32],
    token: &'a [u8],
}

// `OwnedKey` and `KeyRef` must hash identically.
impl Hash for OwnedKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        KeyRef { fingerprint: &self.fingerprint, token: &self.token }.hash(state);
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.fingerprint);
        state.write(self.token);
    }
}

impl Equivalent<OwnedKey> for KeyRef<'_> {
    fn equivalent(&self, key: &OwnedKey) -> bool {
        *self.fingerprint == key.fingerprint && *self.token == *key.token
    }
}

struct Entry {
    /// Absolute expiry of the entry: at most the token's `exp` (plus leeway) and insertion plus
    /// `max_ttl`.
    expires_at: i64,
    token: Arc<VerifiedToken>,
}

/// A bounded cache of verified tokens. One per worker; not shared across threads.
pub struct TokenCache {
    map: HashMap<OwnedKey, Entry, FixedState>,
    config: CacheConfig,
    inserts_since_purge: usize,
    hits: u64,
    misses: u64,
}

impl core::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenCache")
            .field("len", &self.map.len())
            .field("capacity", &self.config.capacity)
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

/// Whether a verification was answered from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Answered from the cache.
    Hit,
    /// Verified now (and cached if it passed).
    Miss,
}

impl TokenCache {
    /// An empty cache. `seed` keys the table's hash function; give it fresh randomness so that
    /// bucket placement cannot be predicted from outside.
    pub fn new(config: CacheConfig, seed: u64) -> Self {
        Self {
            map: HashMap::with_capacity_and_hasher(0, FixedState::with_seed(seed)),
            config,
            inserts_since_purge: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Verifies `token` with `validator` and `keys`, answering from the cache when it can.
    pub fn verify(
        &mut self,
        validator: &JwtValidator,
        token: &str,
        keys: &KeySet,
        now: UnixTime,
    ) -> Result<(Arc<VerifiedToken>, CacheOutcome), VerifyError> {
        let key = KeyRef { fingerprint: validator.fingerprint(), token: token.as_bytes() };
        if let Some(found) = self.lookup(key, keys, now)? {
            self.hits += 1;
            return Ok((found, CacheOutcome::Hit));
        }
        self.misses += 1;
        let verified = Arc::new(validator.verify(token, keys, now)?);
        self.insert(key, &verified, now);
        Ok((verified, CacheOutcome::Miss))
    }

    fn lookup(
        &mut self,
        key: KeyRef<'_>,
        keys: &KeySet,
        now: UnixTime,
    ) -> Result<Option<Arc<VerifiedToken>>, VerifyError> {
        let Some(entry) = self.map.get(&key) else {
            return Ok(None);
        };
        let key_gone = entry.token.key_thumbprint().is_some_and(|t| !keys.contains_thumbprint(t));
        if now.as_secs() >= entry.expires_at || key_gone {
            self.map.remove(&key);
            return Ok(None);
        }
        // Inside the entry's life but outside the token's window (for example before `nbf`):
        // the same answer verification would give.
        entry.token.check_time(now)?;
        Ok(Some(Arc::clone(&entry.token)))
    }

    fn insert(&mut self, key: KeyRef<'_>, token: &Arc<VerifiedToken>, now: UnixTime) {
        if self.config.capacity == 0 {
            return;
        }
        let max_ttl = i64::try_from(self.config.max_ttl).unwrap_or(i64::MAX);
        let cap = now.as_secs().saturating_add(max_ttl);
        let expires_at = token.window().until.map_or(cap, |u| u.min(cap));
        if expires_at <= now.as_secs() {
            return;
        }
        self.inserts_since_purge += 1;
        if self.inserts_since_purge >= self.config.capacity {
            self.inserts_since_purge = 0;
            let t = now.as_secs();
            self.map.retain(|_, e| e.expires_at > t);
        }
        if self.map.len() >= self.config.capacity {
            // Evict an arbitrary entry: iteration order follows the keyed hash, so an attacker
            // cannot aim evictions at particular tokens.
            let victim = self.map.keys().next().map(|k| (k.fingerprint, k.token.clone()));
            if let Some((fingerprint, token)) = victim {
                self.map.remove(&KeyRef { fingerprint: &fingerprint, token: &token });
            }
        }
        let owned = OwnedKey { fingerprint: *key.fingerprint, token: key.token.into() };
        self.map.insert(owned, Entry { expires_at, token: Arc::clone(token) });
    }
}
