//! The browser login's test world: a sans-IO fake provider with authorization, token,
//! userinfo, revocation and end-session endpoints (and knobs to break it), a cookie jar
//! standing in for the browser, a virtual clock, and several routes.
#![allow(dead_code)]

use std::collections::BTreeMap;

use base64::Engine as _;
use oidc_core::UnixTime;
use oidc_core::authz::pkce_challenge;
use oidc_core::config::OidcConfig;
use oidc_core::engine::{
    Decision, Engine, FailureKind, HttpIntent, Input, Instant, Now, Output, Purpose, RequestToken,
    RequestView, ResponseView, Settings,
};
use serde_json::{Value, json};

use crate::harness::{DISCOVERY, ISSUER, JWKS_URI, Rng, Signer, T0};

pub(crate) const AUTH: &str = "https://idp.test/auth";
pub(crate) const TOKEN: &str = "https://idp.test/token";
pub(crate) const USERINFO: &str = "https://idp.test/userinfo";
pub(crate) const REVOKE: &str = "https://idp.test/revoke";
pub(crate) const END_SESSION: &str = "https://idp.test/logout";
pub(crate) const APP: &str = "app.test";

/// What the fake provider does at its token endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TokenMode {
    Ok,
    WrongNonce,
    Refuse,
    Down,
    /// Never answers (the request stays parked).
    Silent,
}

pub(crate) struct Idp {
    pub(crate) key: Signer,
    pub(crate) token_mode: TokenMode,
    pub(crate) refresh_mode: TokenMode,
    pub(crate) userinfo_sub: &'static str,
    pub(crate) expires_in: u64,
    /// code -> (nonce, code_challenge) from the authorization request.
    pub(crate) codes: BTreeMap<String, (Option<String>, Option<String>)>,
    pub(crate) calls: BTreeMap<Purpose, usize>,
    pub(crate) forms: Vec<(Purpose, String)>,
    pub(crate) issued: u32,
    pub(crate) wall: i64,
    pub(crate) held: Vec<HttpIntent>,
    /// Rewrites the ID token claims before signing (a broken or malicious provider).
    pub(crate) tamper: Option<fn(&mut Value)>,
    /// Replaces the whole signed ID token.
    pub(crate) raw_id_token: Option<fn(&Signer, &Value) -> String>,
    pub(crate) revoke_silent: bool,
}

impl Idp {
    pub(crate) fn new() -> Self {
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

    pub(crate) fn calls(&self, p: Purpose) -> usize {
        self.calls.get(&p).copied().unwrap_or(0)
    }

    /// The provider's side of a browser at the authorization endpoint: remembers the request
    /// and returns the callback query (`code`, `state`, `iss`).
    pub(crate) fn authorize(&mut self, location: &str) -> String {
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

    pub(crate) fn tokens(&mut self, nonce: Option<&str>) -> Value {
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
        let mut body = json!({"access_token": format!("at-{n}"), "token_type": "Bearer",
               "refresh_token": format!("rt-{n}"), "scope": "openid email", "id_token": id_token});
        // 0: the answer has no `expires_in`.
        if self.expires_in > 0 {
            body["expires_in"] = json!(self.expires_in);
        }
        body
    }

    pub(crate) fn answer(
        &mut self,
        intent: &HttpIntent,
    ) -> Option<Result<(u16, Vec<u8>), FailureKind>> {
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

pub(crate) fn enc(s: &str) -> String {
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

pub(crate) fn dec(s: &str) -> String {
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

pub(crate) fn form_map(s: &str) -> BTreeMap<String, String> {
    s.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (dec(k), dec(v))).collect()
}

pub(crate) fn query(url: &str) -> BTreeMap<String, String> {
    form_map(url.split_once('?').map_or("", |(_, q)| q))
}

/// The engine, the provider, a browser's cookie jar and a clock.
pub(crate) struct World {
    pub(crate) engine: Engine,
    pub(crate) idp: Idp,
    pub(crate) rng: Rng,
    pub(crate) mono_us: u64,
    pub(crate) wall: i64,
    pub(crate) jar: BTreeMap<String, String>,
    pub(crate) next: u64,
    pub(crate) decided: BTreeMap<u64, Decision>,
    /// The route requests go to.
    pub(crate) route: usize,
}

pub(crate) fn web_config(extra: Value) -> OidcConfig {
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
    pub(crate) fn new(cfg: OidcConfig) -> Self {
        Self::multi(vec![cfg], Settings::default())
    }

    pub(crate) fn multi(cfgs: Vec<OidcConfig>, settings: Settings) -> Self {
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

    pub(crate) fn now(&self) -> Now {
        Now { mono: Instant::from_micros(self.mono_us), wall: UnixTime::from_secs(self.wall) }
    }

    pub(crate) fn advance(&mut self, secs: u64) {
        self.mono_us += secs * 1_000_000;
        self.wall += secs as i64;
        self.idp.wall = self.wall;
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Submits a request carrying the jar; returns its token without driving the provider.
    pub(crate) fn submit(&mut self, method: &str, target: &str, extra: &[(&str, &str)]) -> u64 {
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

    pub(crate) fn drain(&mut self) {
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
    pub(crate) fn get(&mut self, target: &str) -> Decision {
        self.request("GET", target, &[("accept", "text/html"), ("sec-fetch-mode", "navigate")])
    }

    pub(crate) fn request(
        &mut self,
        method: &str,
        target: &str,
        extra: &[(&str, &str)],
    ) -> Decision {
        let t = self.submit(method, target, extra);
        self.drain();
        let d = self.decided.remove(&t).expect("a decision");
        self.store_cookies(&d);
        d
    }

    pub(crate) fn store_cookies(&mut self, d: &Decision) {
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
    pub(crate) fn login(&mut self, target: &str) -> Decision {
        let d = self.get(target);
        let location = location(&d).expect("a redirect to the provider");
        assert!(location.starts_with(AUTH), "{location}");
        let cb = self.idp.authorize(&location);
        self.get(&format!("/app/.apisix/redirect?{cb}"))
    }
}

pub(crate) fn set_cookies(headers: &[(&'static str, String)]) -> Vec<String> {
    headers.iter().filter(|(n, _)| *n == "set-cookie").map(|(_, v)| v.clone()).collect()
}

pub(crate) fn location(d: &Decision) -> Option<String> {
    match d {
        Decision::Respond(r) if r.status == 302 => {
            r.headers.iter().find(|(n, _)| *n == "location").map(|(_, v)| v.clone())
        }
        _ => None,
    }
}

pub(crate) fn status(d: &Decision) -> (u16, &'static str) {
    match d {
        Decision::Allow(_) => (200, "allow"),
        Decision::Deny(x) => (x.status, x.reason.code()),
        Decision::Respond(x) => (x.status, x.reason.code()),
        _ => (0, "?"),
    }
}

pub(crate) fn grant_header<'a>(d: &'a Decision, name: &str) -> Option<&'a str> {
    match d {
        Decision::Allow(g) => {
            g.set_headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
        }
        _ => None,
    }
}

pub(crate) fn b64_json(v: &str) -> Value {
    serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(v).unwrap()).unwrap()
}

pub(crate) fn nav() -> [(&'static str, &'static str); 2] {
    [("accept", "text/html"), ("sec-fetch-mode", "navigate")]
}

pub(crate) fn flow_state(location: &str) -> String {
    query(location)["state"].clone()
}
