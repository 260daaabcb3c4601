//! The process-wide [`RefreshLedger`]: the workers' engines take turns refreshing a session,
//! so a provider that rotates refresh tokens never sees one used twice by this gateway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use oidc_core::UnixTime;
use oidc_core::engine::{LedgerClaim, REMEMBER_SECS, RefreshLedger, Refreshed};

/// Sessions tracked at once; beyond it the oldest entries are dropped (a dropped claim only
/// means two workers may refresh the same session).
const CAPACITY: usize = 16_384;

enum Entry {
    /// A worker is refreshing until this second.
    Claimed(i64),
    /// Refreshed; the result serves the others until this second.
    Done(Arc<Refreshed>, i64),
}

impl Entry {
    fn until(&self) -> i64 {
        match self {
            Self::Claimed(t) | Self::Done(_, t) => *t,
        }
    }
}

/// A mutex-protected map from refresh-token hash to claim or result. The lock is held for a
/// lookup or an insert only, never across I/O.
#[derive(Default)]
pub struct MemoryLedger {
    map: Mutex<HashMap<[u8; 32], Entry>>,
}

impl std::fmt::Debug for MemoryLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.map.lock().map_or(0, |m| m.len());
        f.debug_struct("MemoryLedger").field("entries", &n).finish()
    }
}

fn secs(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl RefreshLedger for MemoryLedger {
    fn claim(&self, key: &[u8; 32], now: UnixTime, hold_secs: u64) -> LedgerClaim {
        let now = now.as_secs();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(key) {
            Some(Entry::Done(done, until)) if now < *until => {
                return LedgerClaim::Done(Arc::clone(done));
            }
            Some(Entry::Claimed(until)) if now < *until => return LedgerClaim::Busy,
            _ => {}
        }
        if map.len() >= CAPACITY {
            map.retain(|_, e| now < e.until());
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        map.insert(*key, Entry::Claimed(now.saturating_add(secs(hold_secs))));
        LedgerClaim::Mine
    }

    fn finish(&self, key: &[u8; 32], result: Option<Arc<Refreshed>>, now: UnixTime) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Some(done) => {
                let until = now.as_secs().saturating_add(secs(REMEMBER_SECS));
                map.insert(*key, Entry::Done(done, until));
            }
            None => {
                map.remove(key);
            }
        }
    }
}

/// The ledger every engine of this process shares.
pub fn process_ledger() -> Arc<MemoryLedger> {
    static LEDGER: OnceLock<Arc<MemoryLedger>> = OnceLock::new();
    Arc::clone(LEDGER.get_or_init(Arc::default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_at_a_time_then_free_again() {
        let l = MemoryLedger::default();
        let (k, t) = ([1u8; 32], UnixTime::from_secs(100));
        assert!(matches!(l.claim(&k, t, 4), LedgerClaim::Mine));
        assert!(matches!(l.claim(&k, t, 4), LedgerClaim::Busy));
        // A claim that ran out (its worker died or hung) is taken over.
        assert!(matches!(l.claim(&k, UnixTime::from_secs(104), 4), LedgerClaim::Mine));
        l.finish(&k, None, t);
        assert!(matches!(l.claim(&k, t, 4), LedgerClaim::Mine));
    }
}
