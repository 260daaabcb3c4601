//! One cached document fetched from the identity provider (discovery or JWKS): freshness,
//! single-flight, stale-if-error and retry backoff in one place.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::RequestToken;
use super::io::{Instant, IntentId};
use super::settings::Settings;

/// What a caller can do with a slot right now.
#[derive(Debug)]
pub(crate) enum SlotState<T> {
    /// A usable value (fresh, or stale within the allowed bound).
    Ready(Arc<T>),
    /// A fetch is in flight (or must be started); wait for it.
    Wait,
    /// Nothing usable and no fetch allowed yet: answer 503, retry after this many seconds.
    Unavailable { retry_after_secs: u64 },
}

/// A cached IdP document.
#[derive(Debug)]
pub(crate) struct Slot<T> {
    value: Option<Arc<T>>,
    /// When the value was fetched.
    fetched_at: Instant,
    /// Fresh until then; afterwards refreshed in the background while it keeps serving.
    fresh_until: Instant,
    /// The in-flight fetch, if any (single-flight).
    pub(crate) inflight: Option<IntentId>,
    /// Requests waiting for the in-flight fetch.
    pub(crate) waiters: Vec<RequestToken>,
    /// Consecutive failures.
    failures: u32,
    /// No new fetch before this instant (backoff after failures).
    retry_at: Instant,
    /// The last forced refresh (unknown `kid`), for the minimum refetch interval.
    last_forced: Option<Instant>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            value: None,
            fetched_at: Instant::default(),
            fresh_until: Instant::default(),
            inflight: None,
            waiters: Vec::new(),
            failures: 0,
            retry_at: Instant::default(),
            last_forced: None,
        }
    }
}

/// Whether a fetch should start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresh {
    /// Nothing to do.
    No,
    /// Start a fetch (the caller creates the intent and calls [`Slot::started`]).
    Start,
}

impl<T> Slot<T> {
    /// The cached value, however old (for checks that may fall back when it is absent).
    pub(crate) fn cached_value(&self) -> Option<Arc<T>> {
        self.value.clone()
    }

    fn usable(&self, now: Instant, settings: &Settings) -> Option<&Arc<T>> {
        let v = self.value.as_ref()?;
        if now < self.fresh_until.plus_secs(settings.max_stale_secs) { Some(v) } else { None }
    }

    /// Decides what a request needing this document gets, and whether a fetch must start.
    pub(crate) fn poll(&self, now: Instant, settings: &Settings) -> (SlotState<T>, Refresh) {
        let may_fetch = self.inflight.is_none() && now >= self.retry_at;
        let stale = now >= self.fresh_until;
        match self.usable(now, settings) {
            Some(v) => {
                // Stale-while-revalidate: serve it, and refresh in the background.
                let refresh = if stale && may_fetch { Refresh::Start } else { Refresh::No };
                (SlotState::Ready(Arc::clone(v)), refresh)
            }
            None if self.inflight.is_some() => (SlotState::Wait, Refresh::No),
            None if may_fetch => (SlotState::Wait, Refresh::Start),
            None => {
                let wait = self.retry_at.as_micros().saturating_sub(now.as_micros()) / 1_000_000;
                (SlotState::Unavailable { retry_after_secs: wait.max(1) }, Refresh::No)
            }
        }
    }

    /// As [`Self::poll`], for a caller that cannot use the cached value (it came from another
    /// URI): wait for the fetch in flight, start one if the backoff allows, or answer 503.
    pub(crate) fn poll_replacement(&self, now: Instant) -> (SlotState<T>, Refresh) {
        if self.inflight.is_some() {
            (SlotState::Wait, Refresh::No)
        } else if now >= self.retry_at {
            (SlotState::Wait, Refresh::Start)
        } else {
            let wait = self.retry_at.as_micros().saturating_sub(now.as_micros()) / 1_000_000;
            (SlotState::Unavailable { retry_after_secs: wait.max(1) }, Refresh::No)
        }
    }

    /// Whether an unknown `kid` may force a refetch now, at most once per interval.
    pub(crate) fn may_force(&self, now: Instant, settings: &Settings) -> bool {
        self.inflight.is_some()
            || (now >= self.retry_at
                && self
                    .last_forced
                    .is_none_or(|t| now.secs_since(t) >= settings.jwks_refetch_min_interval_secs))
    }

    /// Records a forced refetch.
    pub(crate) fn forced(&mut self, now: Instant) {
        self.last_forced = Some(now);
    }

    /// Records that `intent` now fetches this document.
    pub(crate) fn started(&mut self, intent: IntentId) {
        self.inflight = Some(intent);
    }

    /// Stores a fetched value; returns the waiters to resume.
    pub(crate) fn succeeded(&mut self, value: T, ttl_secs: u64, now: Instant) -> Vec<RequestToken> {
        self.value = Some(Arc::new(value));
        self.fetched_at = now;
        self.fresh_until = now.plus_secs(ttl_secs);
        self.failures = 0;
        self.retry_at = now;
        self.inflight = None;
        core::mem::take(&mut self.waiters)
    }

    /// Records a failed fetch (the old value keeps serving while within `max_stale`); returns
    /// the waiters to resume. Retries back off exponentially up to `max_backoff`.
    pub(crate) fn failed(&mut self, now: Instant, settings: &Settings) -> Vec<RequestToken> {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(16);
        let backoff =
            settings.backoff_base_ms.saturating_mul(1u64 << exp).min(settings.backoff_max_ms);
        self.retry_at = now.plus_millis(backoff);
        self.inflight = None;
        core::mem::take(&mut self.waiters)
    }
}
