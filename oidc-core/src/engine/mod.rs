//! The sans-IO engine: requests and IdP answers in, HTTP intents and decisions out.
//!
//! # The run-loop contract
//!
//! 1. Feed one [`Input`] with [`Engine::handle_input`], passing the current [`Now`] and an
//!    [`Entropy`] source.
//! 2. Drain [`Engine::poll_output`] until it returns [`Output::Idle`]. Execute every
//!    [`Output::Http`] intent and later feed its answer back as [`Input::Response`] or
//!    [`Input::Failed`] (exactly one per intent). Deliver every [`Output::Decision`] to the
//!    request it names.
//! 3. `Idle { next_timeout }` says when to feed [`Input::Tick`] if nothing else arrives first;
//!    ticking early or often is harmless.
//!
//! Every request gets exactly one decision: at once when the answer is known (a cached key, a
//! cached introspection result, a malformed header), or after the intents it waits on complete
//! or time out. Requests waiting on the same discovery, JWKS or introspection fetch share one
//! intent. Answers for unknown or already-finished intents are ignored.
//!
//! ```
//! # use oidc_core::engine::*;
//! # use oidc_core::UnixTime;
//! # struct Rng(u8);
//! # impl Entropy for Rng {
//! #     fn fill_public(&mut self, b: &mut [u8]) { b.fill(self.0) }
//! #     fn fill_secret(&mut self, b: &mut [u8]) { b.fill(self.0) }
//! # }
//! let cfg = oidc_core::config::OidcConfig::from_json(br#"{
//!     "client_id": "api", "client_secret": "s3cret-s3cret-s3cret",
//!     "discovery": "https://idp.example/.well-known/openid-configuration",
//!     "bearer_only": true, "use_jwks": true }"#).unwrap();
//! let mut rng = Rng(7);
//! let mut engine = Engine::new(vec![cfg], Settings::default(), &mut rng).unwrap();
//! // A handle binds requests to this configuration, across any later reconfiguration.
//! let route = engine.route(0).unwrap();
//! let now = Now { mono: Instant::from_micros(0), wall: UnixTime::from_secs(1_700_000_000) };
//!
//! // A request without a token is decided at once.
//! let req = RequestView::new("GET", "/get", &[]);
//! engine.handle_input(now, &mut rng, Input::Request { token: RequestToken(1), route: &route, req }).unwrap();
//! match engine.poll_output() {
//!     Output::Decision { token, decision: Decision::Deny(d) } => {
//!         assert_eq!((token, d.status), (RequestToken(1), 401));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! assert!(matches!(engine.poll_output(), Output::Idle { next_timeout: None }));
//!
//! // A request with a token needs the provider's metadata first: the engine emits an intent.
//! let headers = [("authorization", &b"Bearer eyJ.x.y"[..])];
//! let req = RequestView::new("GET", "/get", &headers);
//! engine.handle_input(now, &mut rng, Input::Request { token: RequestToken(2), route: &route, req }).unwrap();
//! let Output::Http(intent) = engine.poll_output() else { panic!() };
//! assert_eq!(intent.purpose, Purpose::Discovery);
//! // ... the caller performs it; here the IdP is down:
//! engine.handle_input(now, &mut rng, Input::Failed { intent: intent.id, kind: FailureKind::Connect }).unwrap();
//! loop {
//!     match engine.poll_output() {
//!         Output::Event(e) => println!("{e:?}"), // FetchFailed { purpose: Discovery, .. }
//!         Output::Decision { decision: Decision::Deny(d), .. } => break assert_eq!(d.status, 503),
//!         other => panic!("{other:?}"),
//!     }
//! }
//! ```

mod backoff;
mod bearer;
mod client_auth;
mod decision;
mod introspection;
mod io;
mod login;
mod route;
mod settings;
mod signer;
mod slot;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use foldhash::fast::FixedState;
use hashbrown::HashMap;

pub use decision::{
    AuthVia, CookieNames, Decision, Denial, Grant, IDENTITY_HEADERS, Reason, Response,
};
pub use io::{
    Entropy, FailureKind, HttpIntent, Instant, IntentId, Method, Now, Purpose, ResponseView,
};
pub use login::{LedgerClaim, REMEMBER_SECS, RefreshLedger, Refreshed};
pub use route::RouteHandle;
pub use settings::Settings;

use self::introspection::{Active, IntrospectionCache};
use self::route::{ProviderKey, Route};
use self::slot::Slot;
use crate::config::OidcConfig;
use crate::discovery::ProviderMetadata;
use crate::jose::{CacheConfig, KeyError, KeySet, TokenCache};

/// The caller's identifier for one request; every request gets exactly one decision under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestToken(pub u64);

/// The parts of a downstream request the engine looks at (borrowed for one call).
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// Method.
    pub method: &'a str,
    /// Request target (path and query).
    pub target: &'a str,
    /// Headers as received (names in any case).
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The request arrived over https (at the gateway or at a TLS terminator the caller
    /// trusts): session cookies get `Secure`, a derived `redirect_uri` is `https://`.
    pub https: bool,
    /// The request's authority (`host[:port]`) when the caller vouches for it, for example
    /// because it matched one of the route's configured hosts. A `redirect_uri` that is not
    /// configured as an absolute URL is derived from it; without it such a route cannot log
    /// anyone in (500 `misconfigured`). Never take it from a `Host` header nothing checked.
    pub authority: Option<&'a str>,
}

impl<'a> RequestView<'a> {
    /// A plain-http request without a trusted authority.
    pub const fn new(method: &'a str, target: &'a str, headers: &'a [(&'a str, &'a [u8])]) -> Self {
        Self { method, target, headers, https: false, authority: None }
    }
}

/// An input to the engine.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A downstream request on `route`.
    Request {
        /// The caller's id for the request.
        token: RequestToken,
        /// The route's compiled configuration (from [`Engine::routes`]); the request is judged
        /// by it even if the engine is reconfigured before the decision.
        route: &'a RouteHandle,
        /// The request.
        req: RequestView<'a>,
    },
    /// The answer to an intent.
    Response {
        /// The intent answered.
        intent: IntentId,
        /// The answer.
        resp: ResponseView<'a>,
    },
    /// An intent failed without an answer.
    Failed {
        /// The intent that failed.
        intent: IntentId,
        /// How.
        kind: FailureKind,
    },
    /// The caller no longer wants a decision for this request.
    Cancel {
        /// The request.
        token: RequestToken,
    },
    /// Time passed (see [`Output::Idle`]).
    Tick,
}

/// An output of the engine.
#[derive(Debug)]
pub enum Output {
    /// Perform this request to the identity provider.
    Http(HttpIntent),
    /// The decision for a request.
    Decision {
        /// The request.
        token: RequestToken,
        /// What to do with it.
        decision: Decision,
    },
    /// Something worth counting or logging.
    Event(Event),
    /// Nothing more to do now; feed [`Input::Tick`] at `next_timeout` at the latest.
    Idle {
        /// The earliest intent deadline, if any intent is in flight.
        next_timeout: Option<Instant>,
    },
}

/// Observations for metrics and logs (never containing tokens or secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A fetch from the identity provider failed; cached data (if any) keeps serving.
    FetchFailed {
        /// What was fetched.
        purpose: Purpose,
        /// Why it failed (`http_<status>`, `connect`, `timeout`, `invalid_document`, ...).
        cause: String,
    },
    /// A JWKS was loaded, with how many keys were usable and how many skipped.
    JwksLoaded {
        /// Usable keys.
        keys: usize,
        /// Skipped keys.
        skipped: usize,
    },
    /// A browser login step did not go the usual way (fixed codes: the provider's error
    /// code reduced to a known one, a refused ID token, a lost state cookie, ...).
    Login {
        /// `callback`, `id_token`, `userinfo`, `session`, `refresh`.
        step: &'static str,
        /// What happened.
        cause: &'static str,
    },
}

/// A misuse of the engine API by the caller (a bug in the adapter, not bad input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiMisuse {
    /// A request token is already waiting for a decision.
    DuplicateRequest,
}

impl fmt::Display for ApiMisuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DuplicateRequest => "request token already pending",
        })
    }
}

/// A route configuration that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    /// Index of the route.
    pub route: usize,
    /// What is wrong.
    pub error: CompileError,
}

/// Why a route could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompileError {
    /// An unusable `public_key` or `client_rsa_private_key`.
    Key(KeyError),
    /// The `session` settings cannot build a cookie codec.
    Session(crate::session::CodecError),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            CompileError::Key(KeyError::PrivateKey) => {
                write!(f, "route {}: client_rsa_private_key: {}", self.route, KeyError::PrivateKey)
            }
            CompileError::Key(e) => write!(f, "route {}: public_key: {e}", self.route),
            CompileError::Session(e) => write!(f, "route {}: session: {e}", self.route),
        }
    }
}

/// One identity provider's shared state.
#[derive(Debug, Default)]
struct Provider {
    discovery: Slot<ProviderMetadata>,
    jwks: Slot<KeySet>,
    /// The `jwks_uri` the cached JWKS came from.
    jwks_uri: Option<String>,
}

/// What an in-flight intent is for.
#[derive(Debug)]
enum IntentKind {
    Discovery {
        provider: u32,
    },
    Jwks {
        provider: u32,
        uri: String,
    },
    Introspection {
        key: [u8; 32],
        endpoint: String,
        route: Arc<Route>,
        waiters: Vec<RequestToken>,
    },
    /// The code exchange of one callback.
    Exchange {
        request: RequestToken,
        endpoint: String,
    },
    /// The userinfo fetch of one login.
    Userinfo {
        request: RequestToken,
    },
    /// A refresh, shared by every request of the session that needs it.
    Refresh {
        key: [u8; 32],
        issuer: String,
        endpoint: String,
        waiters: Vec<RequestToken>,
    },
    /// One token revocation of a logout.
    Revocation {
        request: RequestToken,
    },
}

#[derive(Debug)]
struct InFlight {
    kind: IntentKind,
    deadline: Instant,
}

/// A request waiting for the identity provider.
#[derive(Debug)]
struct Pending {
    route: Arc<Route>,
    access_token: String,
    /// `introspection_addon_headers` values from the request.
    addon_headers: Vec<(String, String)>,
}

/// The per-worker engine. See the [module documentation](self) for the run-loop contract.
pub struct Engine {
    settings: Settings,
    routes: Vec<Arc<Route>>,
    provider_ids: BTreeMap<ProviderKey, u32>,
    providers: BTreeMap<u32, Provider>,
    next_provider: u32,
    next_route_uid: u64,
    intents: BTreeMap<IntentId, InFlight>,
    next_intent: u64,
    pending: HashMap<RequestToken, Pending, FixedState>,
    introspection_inflight: HashMap<[u8; 32], IntentId, FixedState>,
    token_cache: TokenCache,
    introspection_cache: IntrospectionCache,
    introspection_backoff: backoff::EndpointBackoff,
    /// Token endpoints (code exchanges and refreshes) that keep failing.
    token_backoff: backoff::EndpointBackoff,
    validators: BTreeMap<u64, (String, Arc<crate::jose::JwtValidator>)>,
    /// Login steps waiting on the provider.
    login_pending: BTreeMap<RequestToken, login::Parked>,
    /// Refreshes in flight, by the hash of their refresh token.
    refresh_inflight: BTreeMap<[u8; 32], IntentId>,
    recent_refreshes: login::RecentRefreshes,
    /// Refreshes shared with the other engines of the process, when the caller gave one.
    refresh_ledger: Option<Arc<dyn RefreshLedger>>,
    /// Requests waiting for another engine's refresh: when to look at the ledger again.
    refresh_waits: BTreeMap<RequestToken, Instant>,
    out: VecDeque<Output>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("routes", &self.routes.len())
            .field("providers", &self.providers.len())
            .field("intents", &self.intents.len())
            .field("pending", &self.pending.len())
            .field("login_pending", &self.login_pending.len())
            .field("token_cache", &self.token_cache)
            .field("introspection_cache", &self.introspection_cache)
            .finish()
    }
}

fn seed(rng: &mut dyn Entropy) -> u64 {
    let mut b = [0u8; 8];
    rng.fill_secret(&mut b);
    u64::from_le_bytes(b)
}

impl Engine {
    /// An engine for these route configurations (route `i` is `routes[i]`).
    pub fn new(
        routes: Vec<OidcConfig>,
        settings: Settings,
        rng: &mut dyn Entropy,
    ) -> Result<Self, RouteError> {
        let cache = CacheConfig {
            capacity: settings.token_cache_capacity,
            max_ttl: settings.token_cache_max_ttl_secs,
        };
        let mut engine = Self {
            token_cache: TokenCache::new(cache, seed(rng)),
            introspection_cache: IntrospectionCache::new(
                settings.introspection_cache_capacity,
                seed(rng),
            ),
            pending: HashMap::with_hasher(FixedState::with_seed(seed(rng))),
            introspection_inflight: HashMap::with_hasher(FixedState::with_seed(seed(rng))),
            introspection_backoff: backoff::EndpointBackoff::default(),
            token_backoff: backoff::EndpointBackoff::default(),
            settings,
            routes: Vec::new(),
            provider_ids: BTreeMap::new(),
            providers: BTreeMap::new(),
            next_provider: 0,
            next_route_uid: 0,
            intents: BTreeMap::new(),
            next_intent: 0,
            validators: BTreeMap::new(),
            login_pending: BTreeMap::new(),
            refresh_inflight: BTreeMap::new(),
            recent_refreshes: login::RecentRefreshes::default(),
            refresh_ledger: None,
            refresh_waits: BTreeMap::new(),
            out: VecDeque::new(),
        };
        engine.reconfigure(routes)?;
        Ok(engine)
    }

    /// Replaces the route configurations. Providers still in use keep their cached discovery,
    /// keys and in-flight fetches; requests already waiting finish under the route they were
    /// submitted with. Requests parked on a provider that no route uses any more are answered
    /// 503 ([`Reason::Reconfigured`]): drain [`Engine::poll_output`] afterwards, as after an
    /// input. On error nothing changes.
    pub fn reconfigure(&mut self, configs: Vec<OidcConfig>) -> Result<(), RouteError> {
        let crypto = crate::crypto::default_provider();
        let mut ids = BTreeMap::new();
        let mut routes = Vec::with_capacity(configs.len());
        let mut next_provider = self.next_provider;
        let mut next_uid = self.next_route_uid;
        for (i, cfg) in configs.into_iter().enumerate() {
            let key = ProviderKey::of(&cfg);
            let id = match self.provider_ids.get(&key).or_else(|| ids.get(&key)) {
                Some(&id) => id,
                None => {
                    let id = next_provider;
                    next_provider += 1;
                    id
                }
            };
            ids.insert(key, id);
            next_uid += 1;
            let route = Route::compile(cfg, id, next_uid, crypto)
                .map_err(|error| RouteError { route: i, error })?;
            routes.push(Arc::new(route));
        }
        self.next_provider = next_provider;
        self.next_route_uid = next_uid;
        for id in ids.values() {
            self.providers.entry(*id).or_default();
        }
        let live: Vec<u32> = ids.values().copied().collect();
        let removed: Vec<u32> =
            self.providers.keys().copied().filter(|id| !live.contains(id)).collect();
        for id in removed {
            let Some(mut p) = self.providers.remove(&id) else { continue };
            // Their fetches' answers will find no provider and be dropped: nothing else would
            // ever decide these requests.
            let orphans = core::mem::take(&mut p.discovery.waiters)
                .into_iter()
                .chain(core::mem::take(&mut p.jwks.waiters));
            for token in orphans {
                if self.pending.remove(&token).is_some()
                    || self.login_pending.remove(&token).is_some()
                {
                    self.decide(
                        token,
                        Decision::Deny(Denial::unavailable(Reason::Reconfigured, 1)),
                    );
                }
            }
        }
        self.provider_ids = ids;
        self.routes = routes;
        self.validators.clear();
        Ok(())
    }

    /// Shares session refreshes with the other engines of the process (see
    /// [`RefreshLedger`]): without it, two workers that each get a request of one session
    /// whose access token expired both refresh, and a provider that rotates refresh tokens
    /// refuses the second.
    pub fn set_refresh_ledger(&mut self, ledger: Arc<dyn RefreshLedger>) {
        self.refresh_ledger = Some(ledger);
    }

    /// Handles of the current routes (route `i` is the `i`-th configuration given to
    /// [`Engine::new`] or [`Engine::reconfigure`]).
    pub fn routes(&self) -> Vec<RouteHandle> {
        self.routes.iter().map(|r| RouteHandle(Arc::clone(r))).collect()
    }

    /// The handle of current route `i`.
    pub fn route(&self, i: usize) -> Option<RouteHandle> {
        self.routes.get(i).map(|r| RouteHandle(Arc::clone(r)))
    }

    /// Number of configured routes.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// Feeds one input. See the [module documentation](self).
    pub fn handle_input(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        input: Input<'_>,
    ) -> Result<(), ApiMisuse> {
        match input {
            Input::Request { token, route, req } => {
                let route = Arc::clone(&route.0);
                if self.pending.contains_key(&token) || self.login_pending.contains_key(&token) {
                    return Err(ApiMisuse::DuplicateRequest);
                }
                self.on_request(now, rng, token, route, &req);
            }
            Input::Response { intent, resp } => {
                if let Some(f) = self.intents.remove(&intent) {
                    self.on_answer(now, rng, intent, f.kind, Ok(resp));
                }
            }
            Input::Failed { intent, kind } => {
                if let Some(f) = self.intents.remove(&intent) {
                    self.on_answer(now, rng, intent, f.kind, Err(kind));
                }
            }
            Input::Cancel { token } => {
                self.pending.remove(&token);
                self.login_pending.remove(&token);
                self.refresh_waits.remove(&token);
            }
            Input::Tick => self.expire_intents(now, rng),
        }
        Ok(())
    }

    /// The next output; call until [`Output::Idle`] after every input.
    pub fn poll_output(&mut self) -> Output {
        self.out.pop_front().unwrap_or_else(|| Output::Idle {
            next_timeout: self
                .intents
                .values()
                .map(|f| f.deadline)
                .chain(self.refresh_waits.values().copied())
                .min(),
        })
    }

    /// Requests waiting for the identity provider.
    pub fn pending_requests(&self) -> usize {
        self.pending.len() + self.login_pending.len()
    }

    /// Intents in flight.
    pub fn intents_in_flight(&self) -> usize {
        self.intents.len()
    }

    /// Entries in the verified-token and introspection caches.
    pub fn cache_sizes(&self) -> (usize, usize) {
        (self.token_cache.len(), self.introspection_cache.len())
    }

    fn decide(&mut self, token: RequestToken, decision: Decision) {
        self.out.push_back(Output::Decision { token, decision });
    }

    fn new_intent(&mut self) -> IntentId {
        self.next_intent += 1;
        IntentId(self.next_intent)
    }

    fn expire_intents(&mut self, now: Now, rng: &mut dyn Entropy) {
        let overdue: Vec<IntentId> = self
            .intents
            .iter()
            .filter(|(_, f)| f.deadline <= now.mono)
            .map(|(id, _)| *id)
            .collect();
        for id in overdue {
            if let Some(f) = self.intents.remove(&id) {
                self.on_answer(now, rng, id, f.kind, Err(FailureKind::Timeout));
            }
        }
        let due: Vec<RequestToken> =
            self.refresh_waits.iter().filter(|(_, at)| **at <= now.mono).map(|(t, _)| *t).collect();
        for token in due {
            self.refresh_waits.remove(&token);
            if let Some(p) = self.login_pending.remove(&token) {
                self.advance(now, rng, token, p);
            }
        }
    }

    fn on_answer(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        id: IntentId,
        kind: IntentKind,
        answer: Result<ResponseView<'_>, FailureKind>,
    ) {
        match kind {
            IntentKind::Discovery { provider } => self.on_discovery(now, rng, id, provider, answer),
            IntentKind::Jwks { provider, uri } => self.on_jwks(now, rng, id, provider, uri, answer),
            IntentKind::Introspection { key, endpoint, route, waiters } => {
                self.on_introspection(now, id, key, &endpoint, &route, waiters, answer);
            }
            IntentKind::Exchange { request, endpoint } => {
                self.token_call_result(&endpoint, now, &answer);
                self.on_exchange_answer(now, rng, request, answer);
            }
            IntentKind::Userinfo { request } => self.on_userinfo_answer(now, rng, request, answer),
            IntentKind::Refresh { key, issuer, endpoint, waiters } => {
                self.token_call_result(&endpoint, now, &answer);
                self.on_refresh_answer(now, rng, id, key, &issuer, waiters, answer);
            }
            IntentKind::Revocation { request } => {
                self.on_revocation_answer(now, rng, request, answer);
            }
        }
    }

    fn fetch_failed(&mut self, purpose: Purpose, cause: String) {
        self.out.push_back(Output::Event(Event::FetchFailed { purpose, cause }));
    }

    fn on_discovery(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        id: IntentId,
        provider: u32,
        answer: Result<ResponseView<'_>, FailureKind>,
    ) {
        let settings = self.settings.clone();
        let Some(p) = self.providers.get_mut(&provider) else {
            return;
        };
        if p.discovery.inflight != Some(id) {
            return;
        }
        // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched
        // for, or whoever serves it could vouch for another issuer's tokens. Routes that list
        // `valid_issuers` (Entra ID's multi-tenant `common` document names a template) say
        // themselves which issuers they accept.
        let expected_issuer = self
            .routes
            .iter()
            .find(|r| r.provider == provider)
            .filter(|r| r.cfg.claim_validator.valid_issuers.is_empty())
            .and_then(|r| crate::discovery::issuer_of_discovery_url(&r.cfg.discovery));
        let parsed = match answer {
            Ok(r) if r.status == 200 => ProviderMetadata::parse(r.body)
                .map_err(|_| String::from("invalid_document"))
                .and_then(|m| match &expected_issuer {
                    Some(iss)
                        if crate::discovery::discovery_url(&m.issuer)
                            != crate::discovery::discovery_url(iss) =>
                    {
                        Err(String::from("issuer_mismatch"))
                    }
                    _ => Ok(m),
                }),
            Ok(r) => Err(alloc::format!("http_{}", r.status)),
            Err(k) => Err(String::from(k.as_str())),
        };
        let ttl = self
            .routes
            .iter()
            .filter(|r| r.provider == provider)
            .map(|r| r.cfg.discovery_expires_in)
            .min()
            .unwrap_or(86_400);
        let waiters = match parsed {
            Ok(meta) => p.discovery.succeeded(meta, ttl, now.mono),
            Err(cause) => {
                let w = p.discovery.failed(now.mono, &settings);
                self.fetch_failed(Purpose::Discovery, cause);
                w
            }
        };
        self.resume(now, rng, waiters);
    }

    fn on_jwks(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        id: IntentId,
        provider: u32,
        uri: String,
        answer: Result<ResponseView<'_>, FailureKind>,
    ) {
        let settings = self.settings.clone();
        let ttl = self
            .routes
            .iter()
            .filter(|r| r.provider == provider)
            .map(|r| r.cfg.jwk_expires_in)
            .min()
            .unwrap_or(86_400);
        let Some(p) = self.providers.get_mut(&provider) else {
            return;
        };
        if p.jwks.inflight != Some(id) {
            return;
        }
        let crypto = crate::crypto::default_provider();
        let parsed = match answer {
            Ok(r) if r.status == 200 => {
                KeySet::from_jwks_json(r.body, &crate::jose::JwkOptions::PUBLISHED, crypto)
                    .map_err(|_| String::from("invalid_document"))
            }
            Ok(r) => Err(alloc::format!("http_{}", r.status)),
            Err(k) => Err(String::from(k.as_str())),
        };
        let (waiters, event) = match parsed {
            Ok(keys) => {
                let event = Event::JwksLoaded { keys: keys.len(), skipped: keys.skipped().len() };
                p.jwks_uri = Some(uri);
                (p.jwks.succeeded(keys, ttl, now.mono), event)
            }
            Err(cause) => (
                p.jwks.failed(now.mono, &settings),
                Event::FetchFailed { purpose: Purpose::Jwks, cause },
            ),
        };
        self.out.push_back(Output::Event(event));
        self.resume(now, rng, waiters);
    }

    /// Re-evaluates requests that waited on a discovery or JWKS fetch.
    fn resume(&mut self, now: Now, rng: &mut dyn Entropy, waiters: Vec<RequestToken>) {
        for token in waiters {
            if let Some(p) = self.pending.remove(&token) {
                self.evaluate(now, rng, token, p);
            } else if let Some(p) = self.login_pending.remove(&token) {
                self.advance(now, rng, token, p);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_introspection(
        &mut self,
        now: Now,
        id: IntentId,
        key: [u8; 32],
        endpoint: &str,
        route: &Route,
        waiters: Vec<RequestToken>,
        answer: Result<ResponseView<'_>, FailureKind>,
    ) {
        if self.introspection_inflight.get(&key) == Some(&id) {
            self.introspection_inflight.remove(&key);
        }
        let verdict = match answer {
            Ok(r) => introspection::parse_response(r.status, r.body),
            Err(kind) => {
                self.fetch_failed(Purpose::Introspection, String::from(kind.as_str()));
                // Only an unreachable endpoint escalates; a timeout could be one token's doing.
                let escalate = matches!(kind, FailureKind::Connect | FailureKind::Tls);
                self.introspection_backoff.failed(endpoint, now.mono, &self.settings, escalate);
                for token in waiters {
                    if self.pending.remove(&token).is_some() {
                        self.decide(
                            token,
                            Decision::Deny(Denial::unavailable(Reason::IdpUnavailable, 1)),
                        );
                    }
                }
                return;
            }
        };
        let result: Result<Arc<Active>, Denial> = match verdict {
            introspection::Verdict::Active(active) => {
                let max = self.settings.introspection_cache_max_ttl_secs;
                self.introspection_backoff.succeeded(endpoint);
                if let Some(ttl) =
                    introspection::ttl_secs(&route.cfg, &active.claims, now.wall, max)
                {
                    self.introspection_cache.insert(key, Some(Arc::clone(&active)), ttl, now.wall);
                }
                Ok(active)
            }
            introspection::Verdict::Inactive => {
                self.introspection_backoff.succeeded(endpoint);
                let ttl = self.settings.introspection_negative_ttl_secs;
                if ttl > 0 {
                    self.introspection_cache.insert(key, None, ttl, now.wall);
                }
                Err(Denial::unauthorized(&route.cfg.realm, Reason::InactiveToken))
            }
            introspection::Verdict::Unusable => {
                let status = match answer {
                    Ok(r) => r.status,
                    Err(_) => 0,
                };
                self.fetch_failed(Purpose::Introspection, alloc::format!("http_{status}"));
                // A 4xx is the IdP's answer about this token (one a client chose); a 5xx or a
                // 429 (rate limited) says the endpoint is failing or wants fewer calls.
                if status >= 500 || status == 429 {
                    self.introspection_backoff.failed(endpoint, now.mono, &self.settings, false);
                } else {
                    self.introspection_backoff.succeeded(endpoint);
                }
                // A 5xx is the IdP failing (503); anything else it said is unusable (502).
                Err(if status >= 500 || status == 429 {
                    Denial::unavailable(Reason::IdpUnavailable, 1)
                } else {
                    Denial::bad_gateway(Reason::IdpBadResponse)
                })
            }
        };
        for token in waiters {
            let Some(p) = self.pending.remove(&token) else {
                continue;
            };
            let decision = match &result {
                Ok(active) => bearer::grant(
                    &p.route,
                    &p.access_token,
                    bearer::Claims::Object(&active.claims),
                    &active.raw,
                    AuthVia::Introspection,
                ),
                Err(denial) => Decision::Deny(denial.clone()),
            };
            self.decide(token, decision);
        }
    }
}
