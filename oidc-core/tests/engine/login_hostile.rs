//! Hostile review of the browser login (issue 9): a hostile client, a broken provider, a slow
//! network, an operator reloading. The harness is a copy of `login.rs`'s (its helpers are
//! private there), extended with several routes, settings, a tampering provider and a silent
//! revocation endpoint. The `holds_*` tests are attacks that never worked.
#![allow(dead_code)]

use oidc_core::engine::{AuthVia, Decision, Input, Purpose, Settings};
use serde_json::{Value, json};

use crate::harness::{ISSUER, Signer, T0};
use crate::login_world::*;

// ---------------------------------------------------------------------------------------------
// Findings of the review, fixed
// ---------------------------------------------------------------------------------------------

/// A session minted on a lax route opens on a stricter route of the same client (same cookie):
/// the strict route's `required_scopes` are checked against the scopes the session was granted.
#[test]
fn a_session_from_a_lax_route_must_meet_the_strict_routes_required_scopes() {
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

/// `required_scopes` tightened by a reload apply to sessions sealed before it.
#[test]
fn tightened_required_scopes_apply_to_existing_sessions() {
    let mut w = World::new(web_config(json!({})));
    assert_eq!(status(&w.login("/app")).0, 302);
    assert_eq!(status(&w.get("/app")), (200, "allow"));
    w.engine.reconfigure(vec![web_config(json!({"required_scopes": ["admin"]}))]).unwrap();
    let d = w.get("/app");
    assert_ne!(status(&d), (200, "allow"), "the reloaded rule is not applied to the session");
}

/// A client replaying its own flow cookie with made-up codes while the token endpoint is slow
/// parks at most `max_pending_requests` callbacks, each one token POST.
#[test]
fn callbacks_respect_the_pending_cap() {
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

/// Replayed logouts with `revoke_tokens_on_logout` park at most `max_pending_requests`
/// requests; beyond it they log out without revoking.
#[test]
fn logouts_respect_the_pending_cap() {
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

/// A token endpoint that keeps failing is left alone after three failures in a row: requests
/// get 503 without a POST each.
#[test]
fn a_failing_token_endpoint_backs_off_for_refreshes() {
    let mut w = World::new(web_config(json!({})));
    w.idp.expires_in = 60;
    w.login("/app");
    w.advance(61);
    w.idp.refresh_mode = TokenMode::Down;
    let before = w.idp.calls(Purpose::Token);
    for _ in 0..20 {
        assert_eq!(status(&w.get("/app")).0, 503);
    }
    // Three failures in a row start the endpoint's backoff (as for introspection).
    let posts = w.idp.calls(Purpose::Token) - before;
    assert!(
        posts <= 3,
        "{posts} refresh POSTs for 20 requests in the same second to a down endpoint"
    );
}

/// The same backoff for code exchanges.
#[test]
fn a_failing_token_endpoint_backs_off_for_callbacks() {
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
        posts <= 3,
        "{posts} token POSTs for 20 callbacks in the same second to a down endpoint"
    );
}

/// `unauth_action: pass` with `access_token_in_authorization_header`: the upstream reads the
/// gateway's token from `Authorization`, so a client's own never reaches it.
#[test]
fn anonymous_pass_drops_a_client_authorization_on_an_authorization_route() {
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

/// The same on a session request when the gateway sets no token header.
#[test]
fn a_session_request_drops_a_client_authorization() {
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

/// Browsers read `/\\host` in `Location` as `//host`: such an original URL becomes `/` (the
/// HTTP/1 proxy refuses backslashes anyway; this holds for other callers of the engine).
#[test]
fn a_backslash_original_url_never_leaves_the_site() {
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
    type Tamper = (&'static str, fn(&mut Value));
    let tampers: [Tamper; 6] = [
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

/// `session.previous_secrets` opens the per-flow state cookies too: a login in flight when
/// the secret rotates completes and lands on the page it started from.
#[test]
fn logins_in_flight_survive_a_secret_rotation() {
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
