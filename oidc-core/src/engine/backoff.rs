//! Backoff per endpoint (introspection; the token endpoint for code exchanges and refreshes):
//! once it fails several calls in a row, the engine answers 503 at once until the retry time
//! instead of sending every waiting request to a failing IdP.
//!
//! Only failures of the endpoint count (no connection, TLS, timeout, 5xx, 429), never a 4xx
//! about one token, and only several in a row: a client must not be able to switch
//! introspection off for everyone with a few tokens the IdP chokes on. Failures a token could
//! provoke (a timeout, a 5xx) give one short backoff and then need as many again; only
//! failures no token can cause (no connection, TLS) escalate the backoff.

use alloc::collections::BTreeMap;
use alloc::string::String;

use super::io::Instant;
use super::settings::Settings;

/// Endpoints remembered at most (they come from configuration and discovery, so a handful in
/// practice); beyond it the table starts over rather than grow.
const MAX_ENDPOINTS: usize = 256;

/// Consecutive failures before the endpoint is left alone.
const FAILURES_BEFORE_BACKOFF: u32 = 3;

#[derive(Debug, Default)]
pub(crate) struct EndpointBackoff {
    failing: BTreeMap<String, (u32, Instant)>,
}

impl EndpointBackoff {
    /// Seconds to wait when `endpoint` may not be called yet.
    pub(crate) fn blocked(&self, endpoint: &str, now: Instant) -> Option<u64> {
        let (_, retry_at) = self.failing.get(endpoint)?;
        (now < *retry_at)
            .then(|| (retry_at.as_micros().saturating_sub(now.as_micros()) / 1_000_000).max(1))
    }

    /// Records a failed call. From the third in a row: a backoff of `backoff_base_ms`, doubling
    /// per further failure up to `backoff_max_ms` when `escalate` (the endpoint is unreachable);
    /// otherwise the base once, and the count starts over.
    pub(crate) fn failed(
        &mut self,
        endpoint: &str,
        now: Instant,
        settings: &Settings,
        escalate: bool,
    ) {
        if self.failing.len() >= MAX_ENDPOINTS && !self.failing.contains_key(endpoint) {
            self.failing.clear();
        }
        let entry = self.failing.entry(String::from(endpoint)).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        if entry.0 < FAILURES_BEFORE_BACKOFF {
            return;
        }
        let exp =
            if escalate { entry.0.saturating_sub(FAILURES_BEFORE_BACKOFF).min(16) } else { 0 };
        let backoff =
            settings.backoff_base_ms.saturating_mul(1u64 << exp).min(settings.backoff_max_ms);
        entry.1 = now.plus_millis(backoff);
        if !escalate {
            entry.0 = 0;
        }
    }

    /// Records an answer: the endpoint works again.
    pub(crate) fn succeeded(&mut self, endpoint: &str) {
        self.failing.remove(endpoint);
    }
}
