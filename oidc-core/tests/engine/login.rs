//! The browser login on the sans-IO contract: a fake provider with authorization, token,
//! userinfo, revocation and end-session endpoints, a cookie jar standing in for the browser,
//! and a virtual clock.

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
        let mut body = json!({"access_token": format!("at-{n}"), "token_type": "Bearer",
               "refresh_token": format!("rt-{n}"), "scope": "openid email",
               "id_token": self.key.sign_typ("k1", "JWT", &claims)});
        if self.expires_in > 0 {
            body["expires_in"] = json!(self.expires_in);
        }
        body
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
        let mut rng = Rng(7);
        let engine = Engine::new(vec![cfg], Settings::default(), &mut rng).unwrap();
        Self {
            engine,
            idp: Idp::new(),
            rng,
            mono_us: 1_000_000,
            wall: T0,
            jar: BTreeMap::new(),
            next: 0,
            decided: BTreeMap::new(),
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
        let route = self.engine.route(0).unwrap();
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

#[test]
fn a_login_lands_on_the_original_url_and_the_session_carries_the_identity() {
    let mut w = World::new(web_config(json!({})));
    let d = w.get("/app/page?x=1&y=2");
    let loc = location(&d).unwrap();
    let q = query(&loc);
    assert_eq!(q["redirect_uri"], "https://app.test/app/page/.apisix/redirect");
    assert_eq!((q["scope"].as_str(), q.contains_key("nonce")), ("openid email", true));
    let flow_cookies = |w: &World| w.jar.keys().filter(|k| k.starts_with("session_state_")).count();
    assert_eq!(flow_cookies(&w), 1, "the flow is kept in its own cookie");
    let cb = w.idp.authorize(&loc);
    let d = w.get(&format!("/app/page/.apisix/redirect?{cb}"));
    assert_eq!(status(&d), (302, "login_complete"));
    assert_eq!(location(&d).as_deref(), Some("/app/page?x=1&y=2"));
    assert!(w.jar.contains_key("session"));
    assert_eq!(flow_cookies(&w), 0, "the flow was consumed");
    // The code exchange authenticated the client as the provider prefers (first listed).
    let (_, form) = w.idp.forms.iter().find(|(p, _)| *p == Purpose::Token).unwrap();
    assert!(form.contains("client_secret=") && form.contains("code_verifier="), "{form}");

    let fetches = w.idp.calls.values().sum::<usize>();
    let d = w.get("/app/page?x=1&y=2");
    assert_eq!(status(&d), (200, "allow"));
    assert_eq!(grant_header(&d, "x-access-token"), Some("at-1"));
    assert_eq!(b64_json(grant_header(&d, "x-id-token").unwrap())["sub"], "alice");
    assert_eq!(b64_json(grant_header(&d, "x-userinfo").unwrap())["email"], "alice@example.test");
    let Decision::Allow(g) = &d else { panic!() };
    assert_eq!(g.via, AuthVia::Session);
    let own = g.own_cookies.as_ref().unwrap();
    assert!(own.is_own(b"session") && own.is_own(b"session2") && own.is_own(b"session_state"));
    assert!(!own.is_own(b"sessionx") && !own.is_own(b"theme"));
    assert_eq!(w.idp.calls.values().sum::<usize>(), fetches, "no provider call with a session");
}

#[test]
fn a_wrong_nonce_is_refused() {
    let mut w = World::new(web_config(json!({})));
    w.idp.token_mode = TokenMode::WrongNonce;
    let d = w.login("/app");
    assert_eq!(status(&d), (401, "id_token_nonce"));
    assert!(!w.jar.contains_key("session"));
    assert_eq!(status(&w.get("/app")).0, 302, "back to the provider");
}

#[test]
fn clock_skew_on_the_id_token_is_bounded_by_iat_slack() {
    let mut w = World::new(web_config(json!({"iat_slack": 30})));
    // The provider's clock runs 20 s ahead: within the slack.
    w.idp.wall = w.wall + 20;
    assert_eq!(status(&w.login("/app")), (302, "login_complete"));
    let mut w = World::new(web_config(json!({"iat_slack": 30})));
    w.idp.wall = w.wall + 120;
    assert_eq!(status(&w.login("/app")).0, 401);
}

#[test]
fn scripts_deny_and_pass() {
    let mut w = World::new(web_config(json!({})));
    let xhr = [("accept", "application/json"), ("sec-fetch-mode", "cors")];
    assert_eq!(status(&w.request("GET", "/app/api", &xhr)), (401, "login_required"));
    assert_eq!(w.idp.calls(Purpose::Discovery), 0, "no provider call for a 401");
    let mut w = World::new(web_config(json!({"redirect_script_requests": true})));
    assert_eq!(status(&w.request("GET", "/app/api", &xhr)).0, 302);
    let mut w = World::new(web_config(json!({"unauth_action": "deny"})));
    assert_eq!(status(&w.get("/app")), (401, "login_required"));
    let mut w = World::new(web_config(json!({"unauth_action": "pass"})));
    let d = w.get("/app");
    assert_eq!(status(&d), (200, "allow"));
    assert!(grant_header(&d, "x-access-token").is_none());
}

#[test]
fn unknown_states_restart_a_bounded_number_of_times() {
    let mut w = World::new(web_config(json!({})));
    let mut state = String::from("forged");
    for attempt in 1..=2 {
        let d = w.get(&format!("/app/.apisix/redirect?code=c&state={state}&iss={}", enc(ISSUER)));
        let loc = location(&d).unwrap_or_else(|| panic!("restart {attempt}: {:?}", status(&d)));
        state = query(&loc)["state"].clone();
        assert!(state.starts_with(&format!("{attempt}~")), "{state}");
        w.jar.clear(); // a browser that keeps no cookies
    }
    let d =
        w.get(&format!("/app/.apisix/redirect?code=c&state={}&iss={}", enc(&state), enc(ISSUER)));
    assert_eq!(status(&d), (401, "login_state_lost"));
    // A replayed callback with a session in place goes home instead.
    let mut w = World::new(web_config(json!({})));
    w.login("/app");
    let d = w.get(&format!("/app/.apisix/redirect?code=c&state=old&iss={}", enc(ISSUER)));
    assert_eq!((status(&d), location(&d).as_deref()), ((302, "login_complete"), Some("/")));
}

#[test]
fn provider_errors_and_mixups_are_pages_not_500s() {
    let mut w = World::new(web_config(json!({})));
    let loc = location(&w.get("/app")).unwrap();
    let state = query(&loc)["state"].clone();
    let d = w.get(&format!(
        "/app/.apisix/redirect?error=access_denied&state={}&iss={}",
        enc(&state),
        enc(ISSUER)
    ));
    assert_eq!(status(&d), (403, "idp_error"));
    let Decision::Respond(r) = &d else { panic!() };
    assert!(r.content_type.starts_with("text/html") && !r.body.contains("access_denied"));

    let loc = location(&w.get("/app")).unwrap();
    let state = query(&loc)["state"].clone();
    let d = w.get(&format!(
        "/app/.apisix/redirect?code=c&state={}&iss=https%3A%2F%2Fevil.test",
        enc(&state)
    ));
    assert_eq!(status(&d), (400, "callback_issuer_mismatch"));
    // The provider announces `iss`: a callback without it is refused too.
    let loc = location(&w.get("/app")).unwrap();
    let state = query(&loc)["state"].clone();
    let d = w.get(&format!("/app/.apisix/redirect?code=c&state={}", enc(&state)));
    assert_eq!(status(&d), (400, "callback_issuer_mismatch"));
    assert_eq!(status(&w.get("/app/.apisix/redirect?%zz")).0, 400);

    let mut w = World::new(web_config(json!({})));
    w.idp.token_mode = TokenMode::Refuse;
    assert_eq!(status(&w.login("/app")), (401, "code_exchange_failed"));
    let mut w = World::new(web_config(json!({})));
    w.idp.token_mode = TokenMode::Down;
    assert_eq!(status(&w.login("/app")), (503, "idp_unavailable"));
    let mut w = World::new(web_config(json!({})));
    w.idp.userinfo_sub = "mallory";
    assert_eq!(status(&w.login("/app")), (403, "userinfo_mismatch"));
}

#[test]
fn two_tabs_log_in_at_once() {
    let mut w = World::new(web_config(json!({})));
    // Both tabs ask before either has the other's answer (the same cookies on both).
    let nav = [("accept", "text/html"), ("sec-fetch-mode", "navigate")];
    let (ta, tb) = (w.submit("GET", "/app/a", &nav), w.submit("GET", "/app/b", &nav));
    w.drain();
    let (da, db) = (w.decided.remove(&ta).unwrap(), w.decided.remove(&tb).unwrap());
    w.store_cookies(&da);
    w.store_cookies(&db);
    let (a, b) = (location(&da).unwrap(), location(&db).unwrap());
    let (ca, cb) = (w.idp.authorize(&a), w.idp.authorize(&b));
    let db = w.get(&format!("/app/.apisix/redirect?{cb}"));
    assert_eq!(location(&db).as_deref(), Some("/app/b"));
    let da = w.get(&format!("/app/.apisix/redirect?{ca}"));
    assert_eq!(location(&da).as_deref(), Some("/app/a"));
}

#[test]
fn abandoned_flows_do_not_pile_up() {
    let mut w = World::new(web_config(json!({})));
    for i in 0..10 {
        w.get(&format!("/app/{i}"));
        let n = w.jar.keys().filter(|k| k.starts_with("session_state_")).count();
        assert!(n <= oidc_core::authz::MAX_FLOWS, "{n} flow cookies");
    }
    // A forged flow cookie is deleted by the next login, not kept.
    w.jar.insert("session_state_AAAAAAAA".into(), "junk".into());
    w.get("/app/x");
    assert!(!w.jar.contains_key("session_state_AAAAAAAA"));
}

#[test]
fn concurrent_requests_share_one_refresh_and_late_cookies_reuse_it() {
    let mut w = World::new(web_config(json!({})));
    w.idp.expires_in = 60;
    w.login("/app");
    let old_cookies = w.jar.clone();
    w.advance(61);
    let refreshes = w.idp.calls(Purpose::Token);
    w.idp.refresh_mode = TokenMode::Silent;
    let t1 = w.submit("GET", "/app/1", &[]);
    let t2 = w.submit("GET", "/app/2", &[]);
    w.drain();
    assert_eq!(w.idp.held.len(), 1, "one refresh for both requests");
    let held = w.idp.held.pop().unwrap();
    assert!(String::from_utf8_lossy(&held.body).contains("refresh_token=rt-1"));
    let body = w.idp.tokens(None).to_string();
    let now = w.now();
    let resp = ResponseView { status: 200, headers: &[], body: body.as_bytes() };
    w.engine.handle_input(now, &mut w.rng, Input::Response { intent: held.id, resp }).unwrap();
    w.drain();
    for t in [t1, t2] {
        let d = w.decided.remove(&t).unwrap();
        assert_eq!(grant_header(&d, "x-access-token"), Some("at-2"));
        let Decision::Allow(g) = &d else { panic!() };
        assert_eq!(g.via, AuthVia::SessionRefreshed);
        assert!(!g.set_cookies.is_empty(), "the refreshed session is re-sealed");
        w.store_cookies(&d);
    }
    assert_eq!(w.idp.calls(Purpose::Token), refreshes + 1);
    // A request still carrying the pre-rotation cookie gets the same new tokens.
    let new_cookies = std::mem::replace(&mut w.jar, old_cookies);
    let d = w.get("/app/3");
    assert_eq!(grant_header(&d, "x-access-token"), Some("at-2"));
    assert_eq!(w.idp.calls(Purpose::Token), refreshes + 1, "no second refresh");
    w.jar = new_cookies;
    assert_eq!(grant_header(&w.get("/app/4"), "x-access-token"), Some("at-2"));
}

#[test]
fn a_refused_refresh_logs_in_again_and_never_forwards_an_expired_token() {
    let mut w = World::new(web_config(json!({})));
    w.idp.expires_in = 60;
    w.login("/app");
    w.advance(61);
    w.idp.refresh_mode = TokenMode::Refuse;
    let d = w.get("/app");
    assert_eq!(status(&d).0, 302);
    assert!(location(&d).unwrap().starts_with(AUTH));
    assert!(!w.jar.contains_key("session"), "the dead session is cleared");
    // A script gets 401 instead.
    let mut w = World::new(web_config(json!({})));
    w.idp.expires_in = 60;
    w.login("/app");
    w.advance(61);
    w.idp.refresh_mode = TokenMode::Down;
    assert_eq!(status(&w.request("GET", "/app", &[("accept", "application/json")])).0, 503);
    // Renewal off: the session ends with its access token.
    let mut w = World::new(web_config(json!({"renew_access_token_on_expiry": false})));
    w.idp.expires_in = 60;
    w.login("/app");
    w.advance(61);
    assert_eq!(status(&w.get("/app")).0, 302);
}

#[test]
fn logout_revokes_clears_and_ends_the_provider_session() {
    let mut w = World::new(web_config(json!({"revoke_tokens_on_logout": true})));
    w.login("/app");
    // From another site: a confirmation page, the session stays.
    let d = w.request("GET", "/logout", &[("sec-fetch-site", "cross-site")]);
    assert_eq!(status(&d), (200, "logout_confirm"));
    assert!(w.jar.contains_key("session"));
    let d = w.request("GET", "/logout", &[("sec-fetch-site", "same-origin")]);
    assert_eq!(status(&d), (302, "logged_out"));
    let loc = location(&d).unwrap();
    assert!(loc.starts_with(END_SESSION));
    let q = query(&loc);
    assert_eq!(q["post_logout_redirect_uri"], "https://app.test/bye");
    assert_eq!(q["client_id"], "web");
    assert!(q["id_token_hint"].starts_with("eyJ"));
    assert!(!w.jar.contains_key("session"));
    let revoked: Vec<&String> =
        w.idp.forms.iter().filter(|(p, _)| *p == Purpose::Revocation).map(|(_, f)| f).collect();
    assert_eq!(revoked.len(), 2);
    assert!(revoked[0].contains("token=rt-1") && revoked[1].contains("token=at-1"));
    assert_eq!(status(&w.get("/app")).0, 302, "logged out");
}

#[test]
fn a_tampered_cookie_means_login() {
    let mut w = World::new(web_config(json!({})));
    w.login("/app");
    let v = w.jar.get_mut("session").unwrap();
    let last = v.pop().unwrap();
    v.push(if last == 'A' { 'B' } else { 'A' });
    let d = w.get("/app");
    assert_eq!(status(&d).0, 302);
    assert!(location(&d).unwrap().starts_with(AUTH));
}

#[test]
fn a_cancelled_login_leaves_nothing_behind() {
    let mut w = World::new(web_config(json!({})));
    let loc = location(&w.get("/app")).unwrap();
    w.idp.token_mode = TokenMode::Silent;
    let cb = w.idp.authorize(&loc);
    let t = w.submit("GET", &format!("/app/.apisix/redirect?{cb}"), &[]);
    w.drain();
    assert_eq!(w.engine.pending_requests(), 1);
    let now = w.now();
    w.engine.handle_input(now, &mut w.rng, Input::Cancel { token: RequestToken(t) }).unwrap();
    assert_eq!(w.engine.pending_requests(), 0);
    // The late answer finds nobody and decides nothing.
    let held = w.idp.held.pop().unwrap();
    let body = w.idp.tokens(None).to_string();
    let resp = ResponseView { status: 200, headers: &[], body: body.as_bytes() };
    w.engine.handle_input(now, &mut w.rng, Input::Response { intent: held.id, resp }).unwrap();
    w.drain();
    assert!(w.decided.is_empty());
    // A token request that never returns times out into a 503.
    w.idp.token_mode = TokenMode::Silent;
    let loc = location(&w.get("/app")).unwrap();
    let cb = w.idp.authorize(&loc);
    let t = w.submit("GET", &format!("/app/.apisix/redirect?{cb}"), &[]);
    w.drain();
    w.advance(10);
    let now = w.now();
    w.engine.handle_input(now, &mut w.rng, Input::Tick).unwrap();
    w.drain();
    assert_eq!(status(&w.decided.remove(&t).unwrap()), (503, "idp_unavailable"));
    let _ = Reason::LoginComplete;
}

#[test]
fn force_reauthorize_and_refresh_session_interval_do_not_loop() {
    let mut w = World::new(web_config(json!({"force_reauthorize": true})));
    assert_eq!(status(&w.login("/app")), (302, "login_complete"));
    // The page the login lands on is served, not sent back to the provider.
    assert_eq!(status(&w.get("/app")), (200, "allow"));
    w.advance(30);
    assert!(location(&w.get("/app")).unwrap().starts_with(AUTH), "every later visit logs in again");
    let mut w = World::new(web_config(json!({"refresh_session_interval": 120})));
    w.login("/app");
    w.advance(60);
    assert_eq!(status(&w.get("/app")), (200, "allow"));
    // Scripts keep the session; navigations go through the provider.
    w.advance(61);
    assert_eq!(
        status(&w.request("GET", "/app", &[("accept", "application/json")])),
        (200, "allow")
    );
    assert!(location(&w.get("/app")).unwrap().starts_with(AUTH));
}

#[test]
fn a_token_response_without_expires_in_lasts_an_hour() {
    let session = json!({"secret": "0123456789abcdef0123456789abcdef", "idling_timeout": 0,
                         "rolling_timeout": 0});
    let mut w = World::new(web_config(json!({ "session": session })));
    w.idp.expires_in = 0;
    w.login("/app");
    w.advance(3599);
    assert_eq!(grant_header(&w.get("/app"), "x-access-token"), Some("at-1"));
    w.advance(2);
    assert_eq!(
        grant_header(&w.get("/app"), "x-access-token"),
        Some("at-2"),
        "refreshed after the hour"
    );
}

#[test]
fn the_page_after_login_is_always_on_this_site() {
    for target in ["/\\evil.test/x", "//evil.test/x"] {
        let mut w = World::new(web_config(json!({})));
        let d = w.get(target);
        let loc = location(&d).unwrap();
        let cb = w.idp.authorize(&loc);
        let d = w.get(&format!("/app/.apisix/redirect?{cb}"));
        assert_eq!(location(&d).as_deref(), Some("/"), "{target}");
    }
}
