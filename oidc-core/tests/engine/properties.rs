//! Any sequence of inputs — requests with junk or real tokens, browser-login requests (pages,
//! callbacks carrying the cookies and `state` of an earlier redirect or junk, logouts), answers
//! with junk or real documents (including a JWKS moved to another URI, token and userinfo
//! answers), failures, cancels, ticks and reconfigurations between requests — never panics the
//! engine, never decides a request twice
//! or decides one it was not given, and, once the IdP stops answering and time passes, every
//! request that was not cancelled has exactly one decision within a bounded number of steps.

use std::collections::{BTreeMap, BTreeSet};

use oidc_core::engine::{
    Decision, FailureKind, Input, IntentId, Output, Purpose, RequestToken, RequestView,
    ResponseView, RouteHandle,
};
use proptest::prelude::*;
use serde_json::json;

use crate::harness::*;

#[derive(Debug, Clone)]
enum Op {
    /// A request on route `route % n` with a junk header (or a real token when `real`).
    Request {
        route: u8,
        real: bool,
        junk: Vec<u8>,
    },
    /// A browser request on the login route: a page, a callback (with the cookies and `state`
    /// of redirect `pick`, or junk), or a logout; `junk` as an extra cookie.
    Browser {
        kind: u8,
        pick: u8,
        junk: Vec<u8>,
    },
    /// The `i`-th intent answered with document `doc` and `status`.
    Answer {
        i: u8,
        status: u16,
        doc: u8,
    },
    Fail(u8),
    Cancel(u8),
    Advance(u16),
    /// The engine reconfigured with route set `variant`.
    Reconfigure(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(route, real, junk)| Op::Request { route, real, junk }),
        3 => (any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(kind, pick, junk)| Op::Browser { kind, pick, junk }),
        4 => (any::<u8>(), prop_oneof![4 => Just(200u16), 1 => Just(500), 1 => any::<u16>()], any::<u8>())
            .prop_map(|(i, status, doc)| Op::Answer { i, status, doc }),
        1 => any::<u8>().prop_map(Op::Fail),
        1 => any::<u8>().prop_map(Op::Cancel),
        2 => any::<u16>().prop_map(Op::Advance),
        1 => any::<u8>().prop_map(Op::Reconfigure),
    ]
}

/// Route sets a reload may switch between: reordered, a provider replaced (another timeout is
/// another provider), a route removed.
fn variant(v: u8) -> Vec<oidc_core::config::OidcConfig> {
    // Short TTLs, so that time passing refetches documents and a refetched discovery can move
    // the JWKS to another URI.
    let jwks = config(json!({"use_jwks": true, "discovery_expires_in": 5, "jwk_expires_in": 5}));
    let intro = config(json!({"introspection_endpoint": INTROSPECT}));
    // The browser login is always the last route.
    let login = |timeout: u64| {
        config(json!({"bearer_only": false, "client_id": "web", "timeout": timeout,
                      "redirect_uri": "https://app.test/.apisix/redirect",
                      "discovery_expires_in": 5, "jwk_expires_in": 5,
                      "revoke_tokens_on_logout": true,
                      "session": {"secret": "0123456789abcdef0123456789abcdef"}}))
    };
    match v % 4 {
        0 => vec![jwks, intro, login(3)],
        1 => vec![intro, jwks, login(3)],
        2 => vec![
            config(json!({"use_jwks": true, "timeout": 7, "discovery_expires_in": 5})),
            intro,
            login(7),
        ],
        _ => vec![jwks, login(3)],
    }
}

/// Documents an answer may carry: discovery pointing at one of two JWKS URIs, a JWKS, an
/// introspection answer, a token answer (its ID token with `nonce`), userinfo, junk. Three
/// times in four the document the intent asked for (so that logins get far), else any.
fn document(doc: u8, purpose: Purpose, nonce: Option<&str>, signer: &Signer) -> Vec<u8> {
    let doc = if !doc.is_multiple_of(4) {
        match purpose {
            Purpose::Discovery => 8 * (doc / 8),
            Purpose::Jwks => 8 * (doc / 8) + 2,
            Purpose::Introspection => 8 * (doc / 8) + 3,
            Purpose::Token => 8 * (doc / 8) + 4,
            Purpose::Userinfo => 8 * (doc / 8) + 5,
            _ => doc,
        }
    } else {
        doc
    };
    let discovery = |jwks_uri: &str| {
        json!({"issuer": ISSUER, "authorization_endpoint": "https://idp.test/auth",
               "token_endpoint": "https://idp.test/token", "jwks_uri": jwks_uri,
               "introspection_endpoint": INTROSPECT, "response_types_supported": ["code"],
               "subject_types_supported": ["public"],
               "id_token_signing_alg_values_supported": ["ES256"]})
        .to_string()
        .into_bytes()
    };
    let id_token = signer.sign_typ(
        &signer.kid,
        "JWT",
        &json!({"iss": ISSUER, "sub": "alice", "aud": "web", "exp": T0 + 600, "iat": T0,
                "nonce": nonce}),
    );
    match doc % 8 {
        0 => discovery(JWKS_URI),
        1 => discovery("https://idp.test/other-jwks"),
        2 => json!({"keys": [signer.jwk()]}).to_string().into_bytes(),
        3 => json!({"active": true, "sub": "alice", "exp": T0 + 600}).to_string().into_bytes(),
        4 => json!({"access_token": format!("at-{doc}"), "token_type": "Bearer",
                    "expires_in": doc % 3, "refresh_token": "rt", "id_token": id_token})
        .to_string()
        .into_bytes(),
        5 => json!({"sub": if doc % 2 == 0 { "alice" } else { "bob" }}).to_string().into_bytes(),
        _ => vec![b'{'; usize::from(doc % 7)],
    }
}

struct Run {
    h: Harness,
    signer: Signer,
    routes: Vec<RouteHandle>,
    next: u64,
    /// Requests given to the engine and not cancelled.
    live: BTreeSet<u64>,
    submitted: BTreeSet<u64>,
    decided: BTreeMap<u64, usize>,
    intents: Vec<(IntentId, Purpose)>,
    open: BTreeSet<IntentId>,
    /// Redirects to the provider: the callback query, the cookies the browser then held, and
    /// the nonce.
    redirects: Vec<(String, String, String)>,
    /// The nonce of the last callback sent (what the provider puts in ID tokens).
    nonce: Option<String>,
    /// Decision reason codes seen, for the coverage check.
    seen: BTreeSet<&'static str>,
    /// The browser's cookies (name → value).
    jar: BTreeMap<String, String>,
}

impl Run {
    fn drain(&mut self) {
        loop {
            match self.h.engine.poll_output() {
                Output::Idle { .. } => break,
                Output::Http(i) => {
                    self.intents.push((i.id, i.purpose));
                    self.open.insert(i.id);
                }
                Output::Decision { token, decision } => {
                    self.observe(&decision);
                    assert!(self.submitted.contains(&token.0), "decision for unknown {token:?}");
                    *self.decided.entry(token.0).or_default() += 1;
                    assert_eq!(self.decided[&token.0], 1, "{token:?} decided twice");
                    self.live.remove(&token.0);
                }
                Output::Event(_) => {}
            }
        }
    }

    /// Keeps what a browser would: cookies, and the `state` of redirects to the provider.
    fn observe(&mut self, d: &Decision) {
        self.seen.insert(match d {
            Decision::Respond(r) => r.reason.code(),
            Decision::Deny(x) => x.reason.code(),
            Decision::Allow(_) => "allow",
            _ => "other",
        });
        let (headers, extra): (Vec<&(&'static str, String)>, Vec<String>) = match d {
            Decision::Respond(r) => (r.headers.iter().collect(), Vec::new()),
            Decision::Deny(x) => (x.headers.iter().collect(), Vec::new()),
            Decision::Allow(g) => (Vec::new(), g.set_cookies.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        let cookies =
            headers.iter().filter(|(n, _)| *n == "set-cookie").map(|(_, v)| v.clone()).chain(extra);
        for c in cookies {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((n, v)) = pair.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.jar.remove(n);
                } else {
                    self.jar.insert(n.into(), v.into());
                }
            }
        }
        if let Some((_, loc)) = headers.iter().find(|(n, _)| *n == "location")
            && let Some(state) = loc.split(['?', '&']).find_map(|kv| kv.strip_prefix("state="))
        {
            let nonce = loc.split(['?', '&']).find_map(|kv| kv.strip_prefix("nonce="));
            let cookie = self.cookie_header();
            let iss = ISSUER.replace(':', "%3A").replace('/', "%2F");
            let query = format!("code=c&state={state}&iss={iss}");
            self.redirects.push((query, cookie, nonce.unwrap_or_default().into()));
        }
    }

    fn cookie_header(&self) -> String {
        self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn apply(&mut self, op: Op) {
        let now = self.h.now();
        match op {
            Op::Browser { kind, pick, junk } => {
                self.next += 1;
                let token = RequestToken(self.next);
                let junk = String::from_utf8_lossy(&junk).into_owned();
                let (target, mut cookie) = match kind % 4 {
                    0 => (String::from("/page"), self.cookie_header()),
                    1 if !self.redirects.is_empty() => {
                        let (q, c, n) = &self.redirects[usize::from(pick) % self.redirects.len()];
                        self.nonce = Some(n.clone());
                        (format!("/.apisix/redirect?{q}"), c.clone())
                    }
                    1 => (format!("/.apisix/redirect?code=c&state={junk}"), self.cookie_header()),
                    2 => (String::from("/logout"), self.cookie_header()),
                    _ => (String::from("/api"), self.cookie_header()),
                };
                cookie.push_str("; ");
                cookie.push_str(&junk);
                let hs = [
                    ("cookie", cookie.as_bytes()),
                    ("sec-fetch-site", b"same-origin".as_slice()),
                    (
                        "accept",
                        if kind % 4 == 3 { b"application/json".as_slice() } else { b"text/html" },
                    ),
                ];
                let req = RequestView::new("GET", &target, &hs);
                let route = self.routes.last().unwrap();
                self.submitted.insert(token.0);
                self.live.insert(token.0);
                self.h
                    .engine
                    .handle_input(now, &mut self.h.rng, Input::Request { token, route, req })
                    .unwrap();
            }
            Op::Request { route, real, junk } => {
                self.next += 1;
                let token = RequestToken(self.next);
                let value = if real {
                    format!("Bearer {}", self.signer.sign(&claims(T0)))
                } else {
                    String::from_utf8_lossy(&junk).into_owned()
                };
                let hs = [("authorization", value.as_bytes())];
                let req = RequestView::new("GET", "/", &hs);
                let route = &self.routes[usize::from(route) % self.routes.len()];
                self.submitted.insert(token.0);
                self.live.insert(token.0);
                self.h
                    .engine
                    .handle_input(now, &mut self.h.rng, Input::Request { token, route, req })
                    .unwrap();
            }
            Op::Answer { i, status, doc } => {
                let (intent, purpose) = self.pick_with_purpose(i);
                let body = document(doc, purpose, self.nonce.as_deref(), &self.signer);
                let resp = ResponseView { status, headers: &[], body: &body };
                self.open.remove(&intent);
                self.h
                    .engine
                    .handle_input(now, &mut self.h.rng, Input::Response { intent, resp })
                    .unwrap();
            }
            Op::Fail(i) => {
                let intent = self.pick(i);
                self.open.remove(&intent);
                let kind = FailureKind::Connect;
                self.h
                    .engine
                    .handle_input(now, &mut self.h.rng, Input::Failed { intent, kind })
                    .unwrap();
            }
            Op::Cancel(t) => {
                let token = 1 + u64::from(t) % self.next.max(1);
                if self.live.remove(&token) {
                    let token = RequestToken(token);
                    self.h
                        .engine
                        .handle_input(now, &mut self.h.rng, Input::Cancel { token })
                        .unwrap();
                }
            }
            Op::Advance(ms) => {
                self.h.mono_us += u64::from(ms) * 1000;
                let now = self.h.now();
                self.h.engine.handle_input(now, &mut self.h.rng, Input::Tick).unwrap();
            }
            Op::Reconfigure(v) => {
                self.h.engine.reconfigure(variant(v)).unwrap();
                // Requests already submitted keep their handles; new ones get the new routes.
                self.routes = self.h.engine.routes();
            }
        }
        self.drain();
    }

    fn pick(&self, i: u8) -> IntentId {
        self.pick_with_purpose(i).0
    }

    fn pick_with_purpose(&self, i: u8) -> (IntentId, Purpose) {
        // Open intents first: answers to finished ones are tested too, but less often.
        let open: Vec<&(IntentId, Purpose)> =
            self.intents.iter().filter(|(id, _)| self.open.contains(id)).collect();
        if !i.is_multiple_of(4) && !open.is_empty() {
            return *open[usize::from(i) % open.len()];
        }
        self.intents
            .get(usize::from(i) % self.intents.len().max(1))
            .copied()
            .unwrap_or((IntentId::from_raw(u64::from(i)), Purpose::Discovery))
    }

    /// The IdP goes silent: every open intent fails or times out. Bounded: a livelock (a
    /// request re-parked on fresh fetches forever) fails the test instead of hanging it.
    fn settle(&mut self) {
        for _ in 0..200 {
            if self.live.is_empty() {
                return;
            }
            let open: Vec<IntentId> = self.open.iter().copied().collect();
            let now = self.h.now();
            for intent in open {
                self.open.remove(&intent);
                let kind = FailureKind::Timeout;
                self.h
                    .engine
                    .handle_input(now, &mut self.h.rng, Input::Failed { intent, kind })
                    .unwrap();
                self.drain();
            }
            self.h.mono_us += 5_000_000;
            let now = self.h.now();
            self.h.engine.handle_input(now, &mut self.h.rng, Input::Tick).unwrap();
            self.drain();
        }
        panic!("requests never decided: {:?}", self.live);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn every_request_gets_exactly_one_decision(ops in proptest::collection::vec(op(), 1..80)) {
        let h = Harness::new(variant(0), FakeIdp::new(&[]));
        let routes = h.engine.routes();
        let mut run = Run {
            h,
            signer: Signer::new("k1"),
            routes,
            next: 0,
            live: BTreeSet::new(),
            submitted: BTreeSet::new(),
            decided: BTreeMap::new(),
            intents: Vec::new(),
            open: BTreeSet::new(),
            redirects: Vec::new(),
            jar: BTreeMap::new(),
            nonce: None,
            seen: BTreeSet::new(),
        };
        for op in ops {
            run.apply(op);
        }
        run.settle();
        SEEN.with(|s| s.borrow_mut().extend(run.seen.iter().copied()));
        prop_assert!(run.live.is_empty());
        prop_assert!(run.h.engine.pending_requests() == 0, "parked requests left behind");
    }
}

thread_local! {
    static SEEN: std::cell::RefCell<BTreeSet<&'static str>> =
        const { std::cell::RefCell::new(BTreeSet::new()) };
}

/// The random drive reaches the login's deep states, not only its first redirect: otherwise
/// the property above says little about them.
#[test]
fn the_drive_reaches_every_login_step() {
    every_request_gets_exactly_one_decision();
    let seen = SEEN.with(|s| s.borrow().clone());
    for code in ["login_redirect", "login_complete", "allow", "logged_out", "login_required"] {
        assert!(seen.contains(code), "{code} never reached; seen: {seen:?}");
    }
}
