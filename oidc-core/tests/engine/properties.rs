//! Any sequence of inputs — requests with junk or real tokens, answers with junk or real
//! documents (including a JWKS moved to another URI), failures, cancels, ticks and
//! reconfigurations between requests — never panics the engine, never decides a request twice
//! or decides one it was not given, and, once the IdP stops answering and time passes, every
//! request that was not cancelled has exactly one decision within a bounded number of steps.

use std::collections::{BTreeMap, BTreeSet};

use oidc_core::engine::{
    FailureKind, Input, IntentId, Output, RequestToken, RequestView, ResponseView, RouteHandle,
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
        4 => (any::<u8>(), prop_oneof![Just(200u16), Just(500), any::<u16>()], any::<u8>())
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
    match v % 4 {
        0 => vec![jwks, intro],
        1 => vec![intro, jwks],
        2 => {
            vec![config(json!({"use_jwks": true, "timeout": 7, "discovery_expires_in": 5})), intro]
        }
        _ => vec![jwks],
    }
}

/// Documents an answer may carry: discovery pointing at one of two JWKS URIs, a JWKS, an
/// introspection answer, junk.
fn document(doc: u8, signer: &Signer) -> Vec<u8> {
    let discovery = |jwks_uri: &str| {
        json!({"issuer": ISSUER, "authorization_endpoint": "https://idp.test/auth",
               "token_endpoint": "https://idp.test/token", "jwks_uri": jwks_uri,
               "introspection_endpoint": INTROSPECT, "response_types_supported": ["code"],
               "subject_types_supported": ["public"],
               "id_token_signing_alg_values_supported": ["ES256"]})
        .to_string()
        .into_bytes()
    };
    match doc % 5 {
        0 => discovery(JWKS_URI),
        1 => discovery("https://idp.test/other-jwks"),
        2 => json!({"keys": [signer.jwk()]}).to_string().into_bytes(),
        3 => json!({"active": true, "sub": "alice", "exp": T0 + 600}).to_string().into_bytes(),
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
    intents: Vec<IntentId>,
    open: BTreeSet<IntentId>,
}

impl Run {
    fn drain(&mut self) {
        loop {
            match self.h.engine.poll_output() {
                Output::Idle { .. } => break,
                Output::Http(i) => {
                    self.intents.push(i.id);
                    self.open.insert(i.id);
                }
                Output::Decision { token, .. } => {
                    assert!(self.submitted.contains(&token.0), "decision for unknown {token:?}");
                    *self.decided.entry(token.0).or_default() += 1;
                    assert_eq!(self.decided[&token.0], 1, "{token:?} decided twice");
                    self.live.remove(&token.0);
                }
                Output::Event(_) => {}
            }
        }
    }

    fn apply(&mut self, op: Op) {
        let now = self.h.now();
        match op {
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
                let intent = self.pick(i);
                let body = document(doc, &self.signer);
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
        self.intents
            .get(usize::from(i) % self.intents.len().max(1))
            .copied()
            .unwrap_or(IntentId::from_raw(u64::from(i)))
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
        };
        for op in ops {
            run.apply(op);
        }
        run.settle();
        prop_assert!(run.live.is_empty());
        prop_assert!(run.h.engine.pending_requests() == 0, "parked requests left behind");
    }
}
