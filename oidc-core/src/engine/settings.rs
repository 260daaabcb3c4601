//! Engine-wide limits and intervals. Per-route behaviour comes from the route configuration.

/// Engine settings: cache sizes, refetch and backoff intervals. The defaults suit a gateway
/// worker; every bound here caps memory or IdP traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Verified-token cache entries (per worker).
    pub token_cache_capacity: usize,
    /// Longest a verified token stays cached, seconds (never past its `exp`).
    pub token_cache_max_ttl_secs: u64,
    /// Introspection cache entries (per worker).
    pub introspection_cache_capacity: usize,
    /// Longest an introspection result stays cached, seconds.
    pub introspection_cache_max_ttl_secs: u64,
    /// Minimum seconds between two JWKS refetches forced by unknown `kid`s, per provider.
    pub jwks_refetch_min_interval_secs: u64,
    /// How long cached discovery and JWKS keep serving past their TTL while the IdP fails.
    pub max_stale_secs: u64,
    /// First retry delay after a failed fetch, milliseconds (doubles per failure).
    pub backoff_base_ms: u64,
    /// Largest retry delay, milliseconds.
    pub backoff_max_ms: u64,
    /// Requests that may wait on one fetch; beyond it they get 503.
    pub max_waiters_per_fetch: usize,
    /// Largest discovery or JWKS document accepted, bytes.
    pub max_document_bytes: usize,
    /// Largest introspection response accepted, bytes.
    pub max_introspection_bytes: usize,
    /// Seconds an "inactive" introspection answer is remembered, so a replayed bad token does
    /// not reach the IdP again (0: not remembered).
    pub introspection_negative_ttl_secs: u64,
    /// Introspection calls in flight at once (per engine); beyond it requests get 503.
    pub max_introspections_in_flight: usize,
    /// Requests parked on the identity provider at once (per engine); beyond it they get 503.
    pub max_pending_requests: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token_cache_capacity: 10_000,
            token_cache_max_ttl_secs: 3600,
            introspection_cache_capacity: 10_000,
            introspection_cache_max_ttl_secs: 86_400,
            jwks_refetch_min_interval_secs: 30,
            max_stale_secs: 86_400,
            backoff_base_ms: 1000,
            backoff_max_ms: 60_000,
            max_waiters_per_fetch: 4096,
            max_document_bytes: 512 * 1024,
            max_introspection_bytes: 64 * 1024,
            introspection_negative_ttl_secs: 10,
            max_introspections_in_flight: 64,
            max_pending_requests: 4096,
        }
    }
}
