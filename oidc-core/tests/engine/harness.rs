//! A sans-IO fake identity provider and a virtual clock driving the engine: no sockets, no
//! sleeps.

use std::collections::{BTreeMap, VecDeque};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use oidc_core::UnixTime;
use oidc_core::config::OidcConfig;
use oidc_core::engine::{
    Decision, Engine, Entropy, FailureKind, HttpIntent, Input, Instant, Now, Output, Purpose,
    RequestToken, RequestView, ResponseView, Settings,
};
use oidc_core::jose::base64url;
use serde_json::{Value, json};

pub(crate) const ISSUER: &str = "https://idp.test";
pub(crate) const DISCOVERY: &str = "https://idp.test/.well-known/openid-configuration";
pub(crate) const JWKS_URI: &str = "https://idp.test/jwks";
pub(crate) const INTROSPECT: &str = "https://idp.test/introspect";
pub(crate) const T0: i64 = 1_700_000_000;

/// Deterministic randomness.
pub(crate) struct Rng(pub(crate) u64);

impl Entropy for Rng {
    fn fill_public(&mut self, buf: &mut [u8]) {
        self.fill_secret(buf);
    }
    fn fill_secret(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *b = (self.0 >> 56) as u8;
        }
    }
}

pub(crate) struct Signer {
    pub(crate) kid: String,
    key: EcdsaKeyPair,
}

impl Signer {
    pub(crate) fn new(kid: &str) -> Self {
        Self {
            kid: kid.into(),
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        }
    }

    pub(crate) fn jwk(&self) -> Value {
        let p = self.key.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
               "x": base64url::encode(&p[1..33]), "y": base64url::encode(&p[33..65])})
    }

    pub(crate) fn sign_kid(&self, kid: &str, claims: &Value) -> String {
        self.sign_typ(kid, "at+jwt", claims)
    }

    pub(crate) fn sign_typ(&self, kid: &str, typ: &str, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "kid": kid, "typ": typ});
        let input = format!(
            "{}.{}",
            base64url::encode(header.to_string().as_bytes()),
            base64url::encode(claims.to_string().as_bytes())
        );
        let sig = self.key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", base64url::encode(sig.as_ref()))
    }

    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_kid(&self.kid, claims)
    }
}

pub(crate) fn claims(now: i64) -> Value {
    json!({"iss": ISSUER, "sub": "alice", "aud": "api", "exp": now + 600, "iat": now, "scope": "read write"})
}

/// How the fake IdP behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Answers every request.
    Up,
    /// Every connection fails.
    Down,
    /// Never answers (intents time out).
    Silent,
}

pub(crate) struct FakeIdp {
    pub(crate) mode: Mode,
    pub(crate) discovery: Vec<u8>,
    pub(crate) jwks: Vec<u8>,
    /// token -> introspection response body (absent tokens are inactive).
    pub(crate) introspection: BTreeMap<String, Value>,
    pub(crate) introspection_status: u16,
    pub(crate) calls: BTreeMap<Purpose, usize>,
    pub(crate) last_introspection: Option<HttpIntent>,
    /// URLs whose fetches fail (connection refused).
    pub(crate) failing_urls: Vec<String>,
}

impl FakeIdp {
    pub(crate) fn new(keys: &[&Signer]) -> Self {
        let mut idp = Self {
            mode: Mode::Up,
            discovery: json!({
                "issuer": ISSUER,
                "authorization_endpoint": "https://idp.test/auth",
                "token_endpoint": "https://idp.test/token",
                "jwks_uri": JWKS_URI,
                "introspection_endpoint": INTROSPECT,
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256", "RS256"],
            })
            .to_string()
            .into_bytes(),
            jwks: Vec::new(),
            introspection: BTreeMap::new(),
            introspection_status: 200,
            calls: BTreeMap::new(),
            last_introspection: None,
            failing_urls: Vec::new(),
        };
        idp.set_keys(keys);
        idp
    }

    pub(crate) fn set_keys(&mut self, keys: &[&Signer]) {
        let jwks: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
        self.jwks = json!({ "keys": jwks }).to_string().into_bytes();
    }

    pub(crate) fn calls(&self, p: Purpose) -> usize {
        self.calls.get(&p).copied().unwrap_or(0)
    }

    /// The answer to an intent, or `None` to stay silent.
    fn answer(&mut self, intent: &HttpIntent) -> Option<Result<(u16, Vec<u8>), FailureKind>> {
        let calls = self.calls.entry(intent.purpose).or_default();
        *calls += 1;
        // A livelock shows up as a failure, not as a test that never ends.
        assert!(*calls < 10_000, "the engine hammers the IdP with {:?} fetches", intent.purpose);
        if self.failing_urls.contains(&intent.url) {
            return Some(Err(FailureKind::Connect));
        }
        match self.mode {
            Mode::Down => return Some(Err(FailureKind::Connect)),
            Mode::Silent => return None,
            Mode::Up => {}
        }
        Some(Ok(match intent.purpose {
            Purpose::Discovery => (200, self.discovery.clone()),
            Purpose::Jwks => (200, self.jwks.clone()),
            Purpose::Introspection => {
                self.last_introspection = Some(intent.clone());
                let body = String::from_utf8(intent.body.clone()).unwrap();
                let token = body
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("token="))
                    .map(|t| t.replace("%2E", ".").replace("%2D", "-").replace("%5F", "_"))
                    .unwrap_or_default();
                let resp =
                    self.introspection.get(&token).cloned().unwrap_or(json!({"active": false}));
                (self.introspection_status, resp.to_string().into_bytes())
            }
            _ => (404, Vec::new()),
        }))
    }
}

pub(crate) struct Harness {
    pub(crate) engine: Engine,
    pub(crate) idp: FakeIdp,
    pub(crate) rng: Rng,
    pub(crate) mono_us: u64,
    pub(crate) wall: i64,
    pub(crate) decisions: BTreeMap<u64, Decision>,
    /// Intents the IdP left unanswered (Silent mode).
    pub(crate) silent: VecDeque<HttpIntent>,
    next_token: u64,
}

pub(crate) fn config(extra: Value) -> OidcConfig {
    let mut base = json!({
        "client_id": "api",
        "client_secret": "secret-secret-secret",
        "discovery": DISCOVERY,
        "bearer_only": true,
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    OidcConfig::from_json(base.to_string().as_bytes()).unwrap()
}

impl Harness {
    pub(crate) fn new(routes: Vec<OidcConfig>, idp: FakeIdp) -> Self {
        Self::with_settings(routes, idp, Settings::default())
    }

    pub(crate) fn with_settings(routes: Vec<OidcConfig>, idp: FakeIdp, settings: Settings) -> Self {
        let mut rng = Rng(1);
        let engine = Engine::new(routes, settings, &mut rng).unwrap();
        Self {
            engine,
            idp,
            rng,
            mono_us: 1_000_000,
            wall: T0,
            decisions: BTreeMap::new(),
            silent: VecDeque::new(),
            next_token: 0,
        }
    }

    pub(crate) fn now(&self) -> Now {
        Now { mono: Instant::from_micros(self.mono_us), wall: UnixTime::from_secs(self.wall) }
    }

    pub(crate) fn advance_secs(&mut self, s: u64) {
        self.mono_us += s * 1_000_000;
        self.wall += s as i64;
        let now = self.now();
        self.engine.handle_input(now, &mut self.rng, Input::Tick).unwrap();
        self.drain();
    }

    /// Sends a request without driving the IdP answers (they queue up as intents).
    pub(crate) fn submit(&mut self, route: usize, headers: &[(&str, &str)]) -> u64 {
        self.next_token += 1;
        let token = self.next_token;
        let hs: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        let req = RequestView::new("GET", "/api", &hs);
        let now = self.now();
        let route = self.engine.route(route).expect("route");
        self.engine
            .handle_input(
                now,
                &mut self.rng,
                Input::Request { token: RequestToken(token), route: &route, req },
            )
            .unwrap();
        token
    }

    /// Sends a request, lets the fake IdP answer everything, and returns the decision.
    pub(crate) fn request(&mut self, route: usize, headers: &[(&str, &str)]) -> Option<Decision> {
        let t = self.submit(route, headers);
        self.drain();
        self.decisions.remove(&t)
    }

    pub(crate) fn bearer(&mut self, token: &str) -> Option<Decision> {
        let h = format!("Bearer {token}");
        self.request(0, &[("Authorization", &h)])
    }

    /// Drains outputs, answering intents from the fake IdP, until idle.
    pub(crate) fn drain(&mut self) {
        loop {
            match self.engine.poll_output() {
                Output::Idle { .. } => break,
                Output::Decision { token, decision } => {
                    assert!(
                        self.decisions.insert(token.0, decision).is_none(),
                        "two decisions for one request"
                    );
                }
                Output::Event(_) => {}
                Output::Http(intent) => {
                    let now = self.now();
                    match self.idp.answer(&intent) {
                        None => self.silent.push_back(intent),
                        Some(Ok((status, body))) => {
                            let resp = ResponseView { status, headers: &[], body: &body };
                            self.engine
                                .handle_input(
                                    now,
                                    &mut self.rng,
                                    Input::Response { intent: intent.id, resp },
                                )
                                .unwrap();
                        }
                        Some(Err(kind)) => {
                            self.engine
                                .handle_input(
                                    now,
                                    &mut self.rng,
                                    Input::Failed { intent: intent.id, kind },
                                )
                                .unwrap();
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn status(d: &Option<Decision>) -> u16 {
    match d {
        Some(Decision::Allow(_)) => 200,
        Some(Decision::Deny(d)) => d.status,
        Some(Decision::Respond(r)) => r.status,
        Some(_) | None => 0,
    }
}

pub(crate) fn header<'a>(d: &'a Option<Decision>, name: &str) -> Option<&'a str> {
    match d {
        Some(Decision::Allow(g)) => {
            g.set_headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
        }
        Some(Decision::Deny(d)) => {
            d.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
        }
        Some(Decision::Respond(r)) => {
            r.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
        }
        Some(_) | None => None,
    }
}
