//! Memory per cached token and per provider, measured with a counting allocator.
//!
//! `cargo run --release -p oidc-benches --bin memory`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use oidc_benches as fx;
use oidc_core::config::OidcConfig;
use oidc_core::engine::{
    Decision, Engine, Input, Instant, Now, Output, RequestToken, RequestView, ResponseView,
    Settings,
};
use p256::ecdsa::signature::Signer as _;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: delegates to the system allocator and only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` was allocated by `System` with `l`.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

use oidc_benches::BenchRng as Rng;

fn now() -> Now {
    Now { mono: Instant::from_micros(1_000_000), wall: fx::now() }
}

fn route(discovery: &str) -> OidcConfig {
    let v = serde_json::json!({"client_id": "c", "client_secret": "s", "discovery": discovery, "bearer_only": true, "use_jwks": true});
    OidcConfig::from_json(v.to_string().as_bytes()).unwrap()
}

fn run(
    engine: &mut Engine,
    rng: &mut Rng,
    n: u64,
    token: &str,
    discovery: &[u8],
    jwks: &[u8],
) -> Decision {
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_bytes())];
    let req = RequestView::new("GET", "/", &headers);
    let routes = engine.routes();
    let route = &routes[usize::try_from(n % routes.len() as u64).unwrap()];
    engine.handle_input(now(), rng, Input::Request { token: RequestToken(n), route, req }).unwrap();
    let mut out = None;
    loop {
        match engine.poll_output() {
            Output::Idle { .. } => return out.unwrap(),
            Output::Decision { decision, .. } => out = Some(decision),
            Output::Http(i) => {
                let body = if i.url.ends_with("/jwks") { jwks } else { discovery };
                let resp = ResponseView { status: 200, headers: &[], body };
                engine.handle_input(now(), rng, Input::Response { intent: i.id, resp }).unwrap();
            }
            Output::Event(_) => {}
        }
    }
}

fn main() {
    let key = p256::ecdsa::SigningKey::from_slice(&fx::P256_SCALAR).unwrap();
    let point = key.verifying_key().to_sec1_point(false);
    let point = point.as_bytes();
    let jwks = format!(
        r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"es256-2026-01","x":"{}","y":"{}"}}]}}"#,
        fx::b64url(&point[1..33]),
        fx::b64url(&point[33..65])
    );
    let discovery = serde_json::json!({
        "issuer": fx::ISSUER, "authorization_endpoint": "https://idp/a", "jwks_uri": "https://idp/jwks",
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    })
    .to_string();
    let sign = |i: u64| {
        let mut claims: serde_json::Value = serde_json::from_str(&fx::claims_json()).unwrap();
        claims["jti"] = serde_json::json!(format!("token-{i}"));
        let header = fx::header_json("ES256", "es256-2026-01");
        let input = format!(
            "{}.{}",
            fx::b64url(header.as_bytes()),
            fx::b64url(claims.to_string().as_bytes())
        );
        let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
        format!("{input}.{}", fx::b64url(&sig.to_bytes()))
    };

    // Per cached token.
    const N: u64 = 10_000;
    let tokens: Vec<String> = (0..N).map(sign).collect();
    let token_len = tokens[0].len();
    let mut rng = Rng(1);
    let mut engine = Engine::new(
        vec![route("https://idp/.well-known/openid-configuration")],
        Settings::default(),
        &mut rng,
    )
    .unwrap();
    run(&mut engine, &mut rng, 0, &tokens[0], discovery.as_bytes(), jwks.as_bytes());
    let before = LIVE.load(Ordering::Relaxed);
    for (i, t) in tokens.iter().enumerate() {
        let d = run(&mut engine, &mut rng, i as u64 + 1, t, discovery.as_bytes(), jwks.as_bytes());
        assert!(matches!(d, Decision::Allow(_)));
    }
    let per_token = (LIVE.load(Ordering::Relaxed) - before) as f64 / N as f64;
    println!(
        "verified-token cache: {per_token:.0} bytes per cached token ({token_len}-byte token, {} entries)",
        engine.cache_sizes().0
    );

    // Per provider: P routes, each its own discovery URL, discovery and a 1-key JWKS loaded.
    const P: u64 = 200;
    let routes: Vec<OidcConfig> = (0..P)
        .map(|i| route(&format!("https://idp{i}/.well-known/openid-configuration")))
        .collect();
    let before = LIVE.load(Ordering::Relaxed);
    let mut engine =
        Engine::new(routes, Settings { token_cache_capacity: 0, ..Settings::default() }, &mut rng)
            .unwrap();
    for i in 0..P {
        run(&mut engine, &mut rng, i, &tokens[0], discovery.as_bytes(), jwks.as_bytes());
    }
    let per_provider = (LIVE.load(Ordering::Relaxed) - before) as f64 / P as f64;
    println!(
        "provider state: {per_provider:.0} bytes per route with its own provider (route config, discovery document, 1-key JWKS, validator)"
    );
}
