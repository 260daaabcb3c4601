//! Hostile review of the browser login (issue 9): a hostile client, a broken provider, a slow
//! network, an operator reloading. The harness is a copy of `login.rs`'s (its helpers are
//! private there), extended with several routes, settings, a tampering provider and a silent
//! revocation endpoint. Tests named `bug_*` demonstrate a defect and fail today.
#![allow(dead_code)]

use std::collections::BTreeMap;

use base64::Engine as _;
use oidc_core::UnixTime;
use oidc_core::authz::pkce_challenge;
use oidc_core::config::OidcConfig;
use oidc_core::engine::{
    AuthVia, Decision, Engine, FailureKind, HttpIntent, Input, Instant, Now, Output, Purpose,
    Reason, RequestToken, RequestView, ResponseView, Settings,
};
use serde_json::{Value, json};

use crate::harness::{DISCOVERY, ISSUER, JWKS_URI, Rng, Signer, T0};

const AUTH: &str = "https://idp.test/auth";
const TOKEN: &str = "https://idp.test/token";
const USERINFO: &str = "https://idp.test/userinfo";
const REVOKE: &str = "https://idp.test/revoke";
const END_SESSION: &str = "https://idp.test/logout";
const APP: &str = "app.test";

/// What the fake provider does at its token endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TokenMode {
    Ok,
    WrongNonce,
    Refuse,
    Down,
    /// Never answers (the request stays parked).
    Silent,
}

struct Idp {
    key: Signer,
    token_mode: TokenMode,
    refresh_mode: TokenMode,
    userinfo_sub: &'static str,
    expires_in: u64,
    /// code -> (nonce, code_challenge) from the authorization request.
    codes: BTreeMap<String, (Option<String>, Option<String>)>,
    calls: BTreeMap<Purpose, usize>,
    forms: Vec<(Purpose, String)>,
    issued: u32,
    wall: i64,
    held: Vec<HttpIntent>,
    /// Rewrites the ID token claims before signing (a broken or malicious provider).
    tamper: Option<fn(&mut Value)>,
    /// Replaces the whole signed ID token.
    raw_id_token: Option<fn(&Signer, &Value) -> String>,
    revoke_silent: bool,
}

impl Idp {
    fn new() -> Self {
        Self {
            key: Signer::new("k1"),
            token_mode: TokenMode::Ok,
            refresh_mode: TokenMode::Ok,
            userinfo_sub: "alice",
            expires_in: 300,
            codes: BTreeMap::new(),
            calls: BTreeMap::new(),
            forms: Vec::new(),
            issued: 0,
            wall: T0,
            held: Vec::new(),
            tamper: None,
            raw_id_token: None,
            revoke_silent: false,
        }
    }

    fn calls(&self, p: Purpose) -> usize {
        self.calls.get(&p).copied().unwrap_or(0)
    }

    /// The provider's side of a browser at the authorization endpoint: remembers the request
    /// and returns the callback query (`code`, `state`, `iss`).
    fn authorize(&mut self, location: &str) -> String {
        let q = query(location);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "web");
        assert_eq!(q["code_challenge_method"], "S256");
        let code = format!("code-{}", self.codes.len() + 1);
        self.codes
            .insert(code.clone(), (q.get("nonce").cloned(), q.get("code_challenge").cloned()));
        let state = &q["state"];
        format!("code={code}&state={}&iss={}", enc(state), enc(ISSUER))
    }

    fn tokens(&mut self, nonce: Option<&str>) -> Value {
        self.issued += 1;
        let n = self.issued;
        let mut claims = json!({"iss": ISSUER, "sub": "alice", "aud": "web", "exp": self.wall + 600,
                                "iat": self.wall, "email": "alice@example.test"});
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        if let Some(t) = self.tamper {
            t(&mut claims);
        }
        let id_token = match self.raw_id_token {
            Some(f) => f(&self.key, &claims),
            None => self.key.sign_typ("k1", "JWT", &claims),
        };
        json!({"access_token": format!("at-{n}"), "token_type": "Bearer", "expires_in": self.expires_in,
               "refresh_token": format!("rt-{n}"), "scope": "openid email",
               "id_token": id_token})
    }

    fn answer(&mut self, intent: &HttpIntent) -> Option<Result<(u16, Vec<u8>), FailureKind>> {
        *self.calls.entry(intent.purpose).or_default() += 1;
        let form = String::from_utf8(intent.body.clone()).unwrap();
        self.forms.push((intent.purpose, form.clone()));
        let f = form_map(&form);
        let ok = |v: Value| Some(Ok((200, v.to_string().into_bytes())));
        match intent.url.as_str() {
            DISCOVERY => ok(json!({
                "issuer": ISSUER, "authorization_endpoint": AUTH, "token_endpoint": TOKEN,
                "userinfo_endpoint": USERINFO, "jwks_uri": JWKS_URI,
                "revocation_endpoint": REVOKE, "end_session_endpoint": END_SESSION,
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "authorization_response_iss_parameter_supported": true,
            })),
            JWKS_URI => ok(json!({"keys": [self.key.jwk()]})),
            TOKEN if f.get("grant_type").map(String::as_str) == Some("authorization_code") => {
                match self.token_mode {
                    TokenMode::Down => return Some(Err(FailureKind::Connect)),
                    TokenMode::Silent => return None,
                    TokenMode::Refuse => {
                        return Some(Ok((400, br#"{"error":"invalid_grant"}"#.to_vec())));
                    }
                    _ => {}
                }
                let (nonce, challenge) = self.codes.remove(&f["code"]).expect("a code we issued");
                // PKCE: the verifier must hash to the challenge of the authorization request.
                assert_eq!(Some(pkce_challenge(&f["code_verifier"])), challenge);
                let nonce = match self.token_mode {
                    TokenMode::WrongNonce => Some(String::from("another-nonce")),
                    _ => nonce,
                };
                ok(self.tokens(nonce.as_deref()))
            }
            TOKEN => match self.refresh_mode {
                TokenMode::Refuse => Some(Ok((400, br#"{"error":"invalid_grant"}"#.to_vec()))),
                TokenMode::Down => Some(Err(FailureKind::Connect)),
                TokenMode::Silent => None,
                _ => ok(self.tokens(None)),
            },
            USERINFO => ok(json!({"sub": self.userinfo_sub, "email": "alice@example.test"})),
            REVOKE if self.revoke_silent => None,
            REVOKE => Some(Ok((200, Vec::new()))),
            other => panic!("unexpected fetch {other}"),
        }
    }
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn dec(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn form_map(s: &str) -> BTreeMap<String, String> {
    s.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (dec(k), dec(v))).collect()
}

fn query(url: &str) -> BTreeMap<String, String> {
    form_map(url.split_once('?').map_or("", |(_, q)| q))
}

/// The engine, the provider, a browser's cookie jar and a clock.
struct World {
    engine: Engine,
    idp: Idp,
    rng: Rng,
    mono_us: u64,
    wall: i64,
    jar: BTreeMap<String, String>,
    next: u64,
    decided: BTreeMap<u64, Decision>,
    /// The route requests go to.
    route: usize,
}

fn web_config(extra: Value) -> OidcConfig {
    let mut base = json!({
        "client_id": "web",
        "client_secret": "web-secret-web-secret",
        "discovery": DISCOVERY,
        "scope": "openid email",
        "session": {"secret": "0123456789abcdef0123456789abcdef"},
        "logout_path": "/logout",
        "post_logout_redirect_uri": "https://app.test/bye",
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    OidcConfig::from_json(base.to_string().as_bytes()).unwrap()
}

impl World {
    fn new(cfg: OidcConfig) -> Self {
        Self::multi(vec![cfg], Settings::default())
    }

    fn multi(cfgs: Vec<OidcConfig>, settings: Settings) -> Self {
        let mut rng = Rng(7);
        let engine = Engine::new(cfgs, settings, &mut rng).unwrap();
        Self {
            engine,
            idp: Idp::new(),
            rng,
            mono_us: 1_000_000,
            wall: T0,
            jar: BTreeMap::new(),
            next: 0,
            decided: BTreeMap::new(),
            route: 0,
        }
    }

    fn now(&self) -> Now {
        Now { mono: Instant::from_micros(self.mono_us), wall: UnixTime::from_secs(self.wall) }
    }

    fn advance(&mut self, secs: u64) {
        self.mono_us += secs * 1_000_000;
        self.wall += secs as i64;
        self.idp.wall = self.wall;
    }

    fn cookie_header(&self) -> String {
        self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Submits a request carrying the jar; returns its token without driving the provider.
    fn submit(&mut self, method: &str, target: &str, extra: &[(&str, &str)]) -> u64 {
        self.next += 1;
        let cookie = self.cookie_header();
        let mut hs: Vec<(&str, &[u8])> = extra.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        if !cookie.is_empty() {
            hs.push(("cookie", cookie.as_bytes()));
        }
        let req = RequestView {
            authority: Some(APP),
            https: true,
            ..RequestView::new(method, target, &hs)
        };
        let now = self.now();
        let route = self.engine.route(self.route).unwrap();
        let input = Input::Request { token: RequestToken(self.next), route: &route, req };
        self.engine.handle_input(now, &mut self.rng, input).unwrap();
        self.next
    }

    fn drain(&mut self) {
        loop {
            match self.engine.poll_output() {
                Output::Idle { .. } => break,
                Output::Event(_) => {}
                Output::Decision { token, decision } => {
                    assert!(self.decided.insert(token.0, decision).is_none(), "decided twice");
                }
                Output::Http(intent) => {
                    let now = self.now();
                    let input = match self.idp.answer(&intent) {
                        None => {
                            self.idp.held.push(intent);
                            continue;
                        }
                        Some(Ok((status, body))) => {
                            let resp = ResponseView { status, headers: &[], body: &body };
                            self.engine
                                .handle_input(
                                    now,
                                    &mut self.rng,
                                    Input::Response { intent: intent.id, resp },
                                )
                                .unwrap();
                            continue;
                        }
                        Some(Err(kind)) => Input::Failed { intent: intent.id, kind },
                    };
                    self.engine.handle_input(now, &mut self.rng, input).unwrap();
                }
            }
        }
    }

    /// A navigation (or any request): the decision, with its cookies stored in the jar.
    fn get(&mut self, target: &str) -> Decision {
        self.request("GET", target, &[("accept", "text/html"), ("sec-fetch-mode", "navigate")])
    }

    fn request(&mut self, method: &str, target: &str, extra: &[(&str, &str)]) -> Decision {
        let t = self.submit(method, target, extra);
        self.drain();
        let d = self.decided.remove(&t).expect("a decision");
        self.store_cookies(&d);
        d
    }

    fn store_cookies(&mut self, d: &Decision) {
        let cookies: Vec<String> = match d {
            Decision::Respond(r) => set_cookies(&r.headers),
            Decision::Deny(den) => set_cookies(&den.headers),
            Decision::Allow(g) => g.set_cookies.clone(),
            _ => Vec::new(),
        };
        for c in cookies {
            let (pair, attrs) = c.split_once(';').unwrap_or((&c, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || value.is_empty() {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.into(), value.into());
            }
        }
    }

    /// Logs in from `target`: the redirect, the provider, the callback. Returns the callback's
    /// decision.
    fn login(&mut self, target: &str) -> Decision {
        let d = self.get(target);
        let location = location(&d).expect("a redirect to the provider");
        assert!(location.starts_with(AUTH), "{location}");
        let cb = self.idp.authorize(&location);
        self.get(&format!("/app/.apisix/redirect?{cb}"))
    }
}

fn set_cookies(headers: &[(&'static str, String)]) -> Vec<String> {
    headers.iter().filter(|(n, _)| *n == "set-cookie").map(|(_, v)| v.clone()).collect()
}

fn location(d: &Decision) -> Option<String> {
    match d {
        Decision::Respond(r) if r.status == 302 => {
            r.headers.iter().find(|(n, _)| *n == "location").map(|(_, v)| v.clone())
        }
        _ => None,
    }
}

fn status(d: &Decision) -> (u16, &'static str) {
    match d {
        Decision::Allow(_) => (200, "allow"),
        Decision::Deny(x) => (x.status, x.reason.code()),
        Decision::Respond(x) => (x.status, x.reason.code()),
        _ => (0, "?"),
    }
}

fn grant_header<'a>(d: &'a Decision, name: &str) -> Option<&'a str> {
    match d {
        Decision::Allow(g) => {
            g.set_headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
        }
        _ => None,
    }
}

fn b64_json(v: &str) -> Value {
    serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(v).unwrap()).unwrap()
}

fn nav() -> [(&'static str, &'static str); 2] {
    [("accept", "text/html"), ("sec-fetch-mode", "navigate")]
}

fn flow_state(location: &str) -> String {
    query(location)["state"].clone()
}

// ---------------------------------------------------------------------------------------------
// Findings (fail today)
// ---------------------------------------------------------------------------------------------

/// Issue 9 §4: "`required_scopes` and `claim_validator` apply here too" (on authenticated
/// requests). A session cookie is bound only to discovery URL, client id and cookie name, so a
/// session minted on a lax route opens on a strict route of the same client, and the strict
/// route's `required_scopes` is never checked for it: the login on route 1 would have been
/// refused with 403 `insufficient_scope`, yet the cookie from route 0 walks straight in.
#[test]
fn bug_required_scopes_of_a_strict_route_are_not_applied_to_a_session_from_a_lax_route() {
    let lax = web_config(json!({}));
    let strict = web_config(json!({"required_scopes": ["admin"]}));
    let mut w = World::multi(vec![lax, strict], Settings::default());
    // Control: logging in on the strict route itself is refused (the provider grants no admin).
    w.route = 1;
    let d = w.login("/admin");
    assert_eq!(status(&d), (403, "insufficient_scope"));
    // Log in on the lax route, then use the same cookie on the strict one.
    w.route = 0;
    assert_eq!(status(&w.login("/app")).0, 302);
    w.route = 1;
    let d = w.get("/admin");
    assert_ne!(
        status(&d),
        (200, "allow"),
        "a session without the `admin` scope reached a route that requires it"
    );
}

/// The same hole over time: an operator tightens `required_scopes` by a reload; every session
/// sealed before the reload keeps passing until it expires.
#[test]
fn bug_tightening_required_scopes_by_reload_does_not_apply_to_existing_sessions() {
    let mut w = World::new(web_config(json!({})));
    assert_eq!(status(&w.login("/app")).0, 302);
    assert_eq!(status(&w.get("/app")), (200, "allow"));
    w.engine.reconfigure(vec![web_config(json!({"required_scopes": ["admin"]}))]).unwrap();
    let d = w.get("/app");
    assert_ne!(status(&d), (200, "allow"), "the reloaded rule is not applied to the session");
}

/// DESIGN.md: "Every resource a client can make the gateway hold is bounded". The callback
/// sends the code exchange without looking at `max_pending_requests`: a client replays its own
/// (stateless, reusable) flow cookie with made-up codes while the token endpoint is slow, and
/// every one of those callbacks parks and costs one POST to the provider.
#[test]
fn bug_callbacks_park_without_the_pending_cap() {
    let settings = Settings { max_pending_requests: 8, ..Settings::default() };
    let mut w = World::multi(vec![web_config(json!({}))], settings);
    let loc = location(&w.get("/app")).unwrap();
    let state = enc(&flow_state(&loc));
    w.idp.token_mode = TokenMode::Silent;
    for i in 0..100 {
        w.submit(
            "GET",
            &format!("/app/.apisix/redirect?code=forged-{i}&state={state}&iss={}", enc(ISSUER)),
            &nav(),
        );
    }
    w.drain();
    let parked = w.engine.pending_requests();
    let posts = w.idp.calls(Purpose::Token);
    assert!(
        parked <= 8 && posts <= 8,
        "{parked} callbacks parked and {posts} token POSTs with max_pending_requests = 8"
    );
}

/// The same for logout with `revoke_tokens_on_logout`: one replayed session cookie (a logout
/// only clears it in the browser) makes two revocation POSTs per request, parked without a cap.
#[test]
fn bug_logouts_park_without_the_pending_cap_and_double_the_provider_traffic() {
    let settings = Settings { max_pending_requests: 8, ..Settings::default() };
    let cfg = web_config(json!({"revoke_tokens_on_logout": true}));
    let mut w = World::multi(vec![cfg], settings);
    w.login("/app");
    let jar = w.jar.clone();
    w.idp.revoke_silent = true;
    for _ in 0..50 {
        w.jar = jar.clone();
        w.submit("POST", "/logout", &[("sec-fetch-site", "same-origin")]);
    }
    w.drain();
    let parked = w.engine.pending_requests();
    let posts = w.idp.calls(Purpose::Revocation);
    assert!(
        parked <= 8 && posts <= 16,
        "{parked} logouts parked and {posts} revocation POSTs with max_pending_requests = 8"
    );
}

/// DESIGN.md: "Everything that reaches the IdP passes admission control (caps, backoff,
/// negative caches)". A failing token endpoint is retried by every request of a session whose
/// access token expired: no backoff, one POST per client request.
#[test]
fn bug_a_failing_refresh_is_retried_by_every_request_without_backoff() {
    let mut w = World::new(web_config(json!({})));
    w.idp.expires_in = 60;
    w.login("/app");
    w.advance(61);
    w.idp.refresh_mode = TokenMode::Down;
    let before = w.idp.calls(Purpose::Token);
    for _ in 0..20 {
        assert_eq!(status(&w.get("/app")).0, 503);
    }
    let posts = w.idp.calls(Purpose::Token) - before;
    assert!(
        posts <= 2,
        "{posts} refresh POSTs for 20 requests in the same second to a down endpoint"
    );
}

/// The same with a failing code exchange: each callback replay goes to the token endpoint
/// although it has just failed (no backoff).
#[test]
fn bug_a_failing_token_endpoint_is_hit_by_every_callback_without_backoff() {
    let mut w = World::new(web_config(json!({})));
    let loc = location(&w.get("/app")).unwrap();
    let state = enc(&flow_state(&loc));
    w.idp.token_mode = TokenMode::Down;
    for i in 0..20 {
        let d =
            w.get(&format!("/app/.apisix/redirect?code=c{i}&state={state}&iss={}", enc(ISSUER)));
        assert_eq!(status(&d).0, 503, "callback {i}: {:?} jar {:?}", status(&d), w.jar.keys());
    }
    let posts = w.idp.calls(Purpose::Token);
    assert!(
        posts <= 2,
        "{posts} token POSTs for 20 callbacks in the same second to a down endpoint"
    );
}

/// `unauth_action: pass` with `access_token_in_authorization_header`: the upstream is told
/// that `Authorization` carries the gateway's access token, yet an anonymous request keeps the
/// client's own `Authorization` (only the `X-*` identity headers are removed), so a client
/// forges the identity the upstream trusts.
#[test]
fn bug_anonymous_pass_keeps_a_client_authorization_header_on_an_authorization_route() {
    let cfg =
        web_config(json!({"unauth_action": "pass", "access_token_in_authorization_header": true}));
    let mut w = World::new(cfg);
    let d = w.request("GET", "/app", &[("authorization", "Bearer forged-admin-token")]);
    let Decision::Allow(g) = &d else { panic!("{d:?}") };
    assert_eq!(g.via, AuthVia::Anonymous);
    assert!(
        g.remove_headers.iter().any(|h| h.eq_ignore_ascii_case("authorization")),
        "the client's Authorization goes upstream on a route whose upstream reads the gateway's \
         token from Authorization: {:?}",
        g.remove_headers
    );
}

/// With a session on a route that forwards the token in `Authorization` but does not set it
/// (`set_access_token_header: false`), a client's `Authorization` rides along an authenticated
/// request.
#[test]
fn bug_a_session_request_keeps_a_client_authorization_when_the_gateway_sets_none() {
    let cfg = web_config(json!({"set_access_token_header": false,
                                "access_token_in_authorization_header": true}));
    let mut w = World::new(cfg);
    w.login("/app");
    let d = w.request("GET", "/app", &[("authorization", "Basic Zm9yZ2VkOng=")]);
    let Decision::Allow(g) = &d else { panic!("{d:?}") };
    assert_eq!(g.via, AuthVia::Session);
    assert!(
        g.remove_headers.iter().any(|h| h.eq_ignore_ascii_case("authorization"))
            || g.set_headers.iter().any(|(h, _)| h.eq_ignore_ascii_case("authorization")),
        "a client Authorization passes on an authenticated session request"
    );
}

/// The engine trusts the caller's canonicalisation for the original URL: `/\evil.test` starts
/// with `/` and not `//`, so it is kept, and browsers read `/\host` in `Location` as
/// `//host` (WHATWG URL: `\` is a path separator for special schemes). The HTTP/1 proxy
/// refuses backslashes before the engine sees them, so this is defence in depth for other
/// callers of the public engine API.
#[test]
fn bug_a_backslash_original_url_becomes_an_open_redirect_at_the_engine() {
    let mut w = World::new(web_config(json!({})));
    let d = w.get("/\\evil.test/x");
    let Some(loc) = location(&d) else { return };
    let cb = w.idp.authorize(&loc);
    let d = w.get(&format!("/app/.apisix/redirect?{cb}"));
    let back = location(&d).unwrap();
    assert!(
        !back.starts_with("/\\") && !back.contains('\\'),
        "after login the browser is sent to {back:?} (= //evil.test/x)"
    );
}

// ---------------------------------------------------------------------------------------------
// Attacks that hold (regression tests)
// ---------------------------------------------------------------------------------------------

#[test]
fn holds_id_tokens_from_a_broken_provider_are_refused() {
    fn unsigned(_: &Signer, claims: &Value) -> String {
        let b = |v: &Value| oidc_core::jose::base64url::encode(v.to_string().as_bytes());
        format!("{}.{}.", b(&json!({"alg": "none", "typ": "JWT"})), b(claims))
    }
    fn hs256_header(k: &Signer, claims: &Value) -> String {
        // An ES256 signature presented as HS256 (alg confusion): never verified as HMAC.
        let t = k.sign_typ("k1", "JWT", claims);
        let mut parts = t.splitn(2, '.');
        let _ = parts.next();
        let h = oidc_core::jose::base64url::encode(br#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#);
        format!("{h}.{}", parts.next().unwrap())
    }
    let tampers: [(&str, fn(&mut Value)); 6] = [
        ("iss", |c| c["iss"] = json!("https://evil.test")),
        ("aud", |c| c["aud"] = json!("someone-else")),
        ("azp", |c| {
            c["aud"] = json!(["web", "other"]);
            c["azp"] = json!("other");
        }),
        ("exp", |c| c["exp"] = json!(T0 - 3600)),
        ("sub", |c| {
            c.as_object_mut().unwrap().remove("sub");
        }),
        ("iat future", |c| c["iat"] = json!(T0 + 3600)),
    ];
    for (what, t) in tampers {
        let mut w = World::new(web_config(json!({})));
        w.idp.tamper = Some(t);
        let d = w.login("/app");
        assert_eq!(status(&d).0, 401, "{what}: {:?}", status(&d));
        assert!(!w.jar.contains_key("session"), "{what}");
    }
    for raw in [unsigned as fn(&Signer, &Value) -> String, hs256_header] {
        let mut w = World::new(web_config(json!({})));
        w.idp.raw_id_token = Some(raw);
        let d = w.login("/app");
        assert_eq!(status(&d).0, 401, "{:?}", status(&d));
        assert!(!w.jar.contains_key("session"));
    }
}

#[test]
fn holds_userinfo_about_someone_else_is_refused() {
    let mut w = World::new(web_config(json!({})));
    w.idp.userinfo_sub = "mallory";
    let d = w.login("/app");
    assert_eq!(status(&d), (403, "userinfo_mismatch"));
    assert!(!w.jar.contains_key("session"));
}

#[test]
fn holds_a_refresh_that_changes_the_subject_ends_the_session() {
    let mut w = World::new(web_config(json!({})));
    w.idp.expires_in = 60;
    w.login("/app");
    w.advance(61);
    w.idp.tamper = Some(|c| c["sub"] = json!("mallory"));
    let d = w.get("/app");
    assert_ne!(status(&d).0, 200, "a refresh for another subject was accepted");
    assert_ne!(grant_header(&d, "x-access-token"), Some("at-2"));
}

#[test]
fn holds_original_urls_that_leave_the_site_become_slash() {
    for target in ["//evil.test/x", "http://evil.test/x", "evil.test"] {
        let mut w = World::new(web_config(json!({})));
        let d = w.get(target);
        let Some(loc) = location(&d) else { continue };
        let cb = w.idp.authorize(&loc);
        let d = w.get(&format!("/app/.apisix/redirect?{cb}"));
        assert_eq!(location(&d).as_deref(), Some("/"), "{target}");
    }
}

#[test]
fn holds_a_replayed_or_forged_callback_with_a_session_goes_home() {
    let mut w = World::new(web_config(json!({})));
    w.login("/app");
    for q in ["code=x&state=forged", "code=x&state=//evil.test", "state=a&state=b&code=1&code=2"] {
        let d = w.get(&format!("/app/.apisix/redirect?{q}"));
        let s = status(&d);
        assert!(s == (302, "login_complete") || s.0 == 400, "{q}: {s:?}");
        if s.0 == 302 {
            assert_eq!(location(&d).as_deref(), Some("/"));
        }
    }
}

#[test]
fn holds_duplicate_and_huge_callback_parameters_are_400_or_restart_not_500() {
    let mut w = World::new(web_config(json!({})));
    let loc = location(&w.get("/app")).unwrap();
    let state = enc(&flow_state(&loc));
    let huge = "A".repeat(64 * 1024);
    for q in [
        format!("code=a&code=b&state={state}"),
        format!("code=a&state={state}&state={state}"),
        format!("code={huge}&state={state}"),
        format!("code=a&state={huge}"),
        format!("code=a&state={state}&iss=https%3A%2F%2Fevil.test"),
        format!("code=a&state={state}&iss=https%3A%2F%2Fidp.test&iss=https%3A%2F%2Fevil.test"),
        format!("error=access_denied%0d%0aSet-Cookie:%20x=1&state={state}"),
        String::from("code=%ZZ&state=%"),
    ] {
        let d = w.get(&format!("/app/.apisix/redirect?{q}"));
        let (code, reason) = status(&d);
        assert!(code != 500 && code != 200, "{}: {code} {reason}", &q[..q.len().min(80)]);
        if let Decision::Respond(r) = &d {
            for (_, v) in &r.headers {
                assert!(!v.contains('\r') && !v.contains('\n'));
            }
        }
    }
    assert_eq!(w.engine.pending_requests(), 0);
}

#[test]
fn holds_many_forged_flow_cookies_are_bounded_and_expired() {
    let mut w = World::new(web_config(json!({})));
    for i in 0..500 {
        w.jar.insert(format!("session_state_{i:08}"), "Zm9yZ2Vk".repeat(8));
    }
    w.jar.insert("session".into(), "x".repeat(4000));
    w.jar.insert("session2".into(), "y".repeat(4000));
    let d = w.get("/app");
    assert_eq!(status(&d).0, 302);
    let Decision::Respond(r) = &d else { panic!() };
    let n = set_cookies(&r.headers).len();
    assert!(n <= 64, "{n} Set-Cookie headers for one redirect");
}

#[test]
fn holds_logout_from_another_site_only_gets_a_confirmation() {
    let mut w = World::new(web_config(json!({})));
    w.login("/app");
    for (method, headers) in [
        ("GET", vec![]),
        ("GET", vec![("sec-fetch-site", "cross-site")]),
        ("GET", vec![("sec-fetch-site", "same-site")]),
        ("POST", vec![("sec-fetch-site", "cross-site")]),
        ("POST", vec![("origin", "https://evil.test"), ("host", "app.test")]),
        ("POST", vec![("origin", "null"), ("host", "app.test")]),
        ("POST", vec![("origin", "https://app.test.evil.test"), ("host", "app.test")]),
        ("HEAD", vec![]),
        ("OPTIONS", vec![]),
    ] {
        let d = w.request(method, "/logout", &headers);
        assert_eq!(status(&d), (200, "logout_confirm"), "{method} {headers:?}");
        assert!(w.jar.contains_key("session"), "{method} {headers:?} ended the session");
    }
}

#[test]
fn holds_client_identity_headers_are_replaced_on_a_session_route() {
    let mut w = World::new(web_config(json!({})));
    w.login("/app");
    let d = w.request(
        "GET",
        "/app",
        &[("x-userinfo", "eyJzdWIiOiJhZG1pbiJ9"), ("x-id-token", "forged")],
    );
    let Decision::Allow(g) = &d else { panic!("{d:?}") };
    for h in ["x-access-token", "x-id-token", "x-userinfo", "x-refresh-token", "x-raw-id-token"] {
        assert!(g.remove_headers.contains(&h), "{h}");
    }
    assert_eq!(b64_json(grant_header(&d, "x-userinfo").unwrap())["sub"], "alice");
}

#[test]
fn holds_a_cookie_from_another_client_does_not_open() {
    let mut a = World::new(web_config(json!({})));
    a.login("/app");
    let jar = a.jar.clone();
    let mut b = World::new(web_config(json!({"client_id": "other"})));
    b.jar = jar;
    assert_eq!(status(&b.get("/app")).0, 302);
}

#[test]
fn holds_previous_secrets_open_sessions_across_rotation() {
    let old = "0123456789abcdef0123456789abcdef";
    let new = "fedcba9876543210fedcba9876543210";
    let mut w = World::new(web_config(json!({})));
    w.login("/app");
    let rotated = web_config(json!({"session": {"secret": new, "previous_secrets": [old]}}));
    w.engine.reconfigure(vec![rotated]).unwrap();
    assert_eq!(status(&w.get("/app")), (200, "allow"));
    // Without the previous secret, old cookies are just "no session".
    let other = web_config(json!({"session": {"secret": "another-secret-another-secret!!"}}));
    w.engine.reconfigure(vec![other]).unwrap();
    assert_eq!(status(&w.get("/app")).0, 302);
}

/// `session.previous_secrets` opens old sessions, but the per-flow state cookies are sealed
/// and opened with `session.secret` only (`FlowCodec::from_config`): every login in flight
/// when the operator rotates the secret comes back to an unknown state, restarts (one more
/// round trip to the provider) and lands on `/` instead of the page the user asked for.
#[test]
fn bug_logins_in_flight_across_a_secret_rotation_lose_their_flow() {
    let old = "0123456789abcdef0123456789abcdef";
    let new = "fedcba9876543210fedcba9876543210";
    let mut w = World::new(web_config(json!({})));
    let loc = location(&w.get("/app/deep/page?x=1")).unwrap();
    let rotated = web_config(json!({"session": {"secret": new, "previous_secrets": [old]}}));
    w.engine.reconfigure(vec![rotated]).unwrap();
    let cb = w.idp.authorize(&loc);
    let d = w.get(&format!("/app/deep/page/.apisix/redirect?{cb}"));
    assert_eq!(status(&d), (302, "login_complete"), "the flow sealed before the rotation");
    assert_eq!(location(&d).as_deref(), Some("/app/deep/page?x=1"));
}

/// An operator renames the session cookie (`session.cookie_name`) by a reload: the browsers'
/// existing `session`, `session2`, ... cookies are no longer recognised as the gateway's, so
/// they are forwarded to the upstream (sealed, but the gateway's cookies must never reach it)
/// and never deleted.
#[test]
fn bug_after_a_cookie_name_change_the_old_session_cookies_go_upstream() {
    let mut w = World::new(web_config(json!({})));
    w.login("/app");
    let renamed = web_config(json!({"session": {"secret": "0123456789abcdef0123456789abcdef",
                                                "cookie_name": "sid"}}));
    w.engine.reconfigure(vec![renamed]).unwrap();
    let d = w.get("/app");
    let own = match &d {
        Decision::Allow(g) => g.own_cookies.clone(),
        Decision::Respond(_) => {
            // A new login: the old cookies must at least be deleted by it.
            let Decision::Respond(r) = &d else { unreachable!() };
            let deletes_old = set_cookies(&r.headers)
                .iter()
                .any(|c| c.starts_with("session=") && c.contains("Max-Age=0"));
            assert!(deletes_old, "the old session cookie is neither recognised nor deleted");
            return;
        }
        other => panic!("{other:?}"),
    };
    assert!(own.unwrap().is_own(b"session"), "the old session cookie is forwarded upstream");
}

#[test]
fn holds_a_hanging_refresh_parks_the_session_requests_and_times_them_out() {
    let mut w = World::new(web_config(json!({})));
    w.idp.expires_in = 60;
    w.login("/app");
    w.advance(61);
    w.idp.refresh_mode = TokenMode::Silent;
    let before = w.idp.calls(Purpose::Token);
    let ts: Vec<u64> = (0..20).map(|i| w.submit("GET", &format!("/app/{i}"), &nav())).collect();
    w.drain();
    assert_eq!(w.idp.calls(Purpose::Token), before + 1, "one refresh for all");
    assert_eq!(w.engine.pending_requests(), 20);
    w.advance(10);
    let now = w.now();
    w.engine.handle_input(now, &mut w.rng, Input::Tick).unwrap();
    w.drain();
    for t in ts {
        assert_eq!(status(&w.decided.remove(&t).unwrap()).0, 503);
    }
    assert_eq!(w.engine.pending_requests(), 0);
    // Cancelled waiters are forgotten, the next refresh starts afresh.
    w.idp.refresh_mode = TokenMode::Ok;
    assert_eq!(status(&w.get("/app")), (200, "allow"));
}
