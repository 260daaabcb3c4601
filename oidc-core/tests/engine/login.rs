//! The browser login on the sans-IO contract: a fake provider with authorization, token,
//! userinfo, revocation and end-session endpoints, a cookie jar standing in for the browser,
//! and a virtual clock.

use std::sync::Arc;

use oidc_core::engine::{
    AuthVia, Decision, Input, LedgerClaim, Purpose, Reason, RefreshLedger, Refreshed, RequestToken,
    ResponseView,
};
use serde_json::json;

use crate::harness::ISSUER;
use crate::login_world::*;

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

/// A claim's end (seconds) and, once finished, its result.
type LedgerEntry = (i64, Option<Arc<Refreshed>>);

/// A ledger as a gateway process keeps one: a claim or a result per refresh-token hash.
#[derive(Default)]
struct TestLedger(std::sync::Mutex<std::collections::BTreeMap<[u8; 32], LedgerEntry>>);

impl RefreshLedger for TestLedger {
    fn claim(&self, key: &[u8; 32], now: oidc_core::UnixTime, hold: u64) -> LedgerClaim {
        let mut m = self.0.lock().unwrap();
        match m.get(key) {
            Some((until, Some(done))) if now.as_secs() < *until => LedgerClaim::Done(done.clone()),
            Some((until, None)) if now.as_secs() < *until => LedgerClaim::Busy,
            _ => {
                m.insert(*key, (now.as_secs() + hold as i64, None));
                LedgerClaim::Mine
            }
        }
    }
    fn finish(&self, key: &[u8; 32], result: Option<Arc<Refreshed>>, now: oidc_core::UnixTime) {
        let mut m = self.0.lock().unwrap();
        match result {
            Some(r) => {
                m.insert(*key, (now.as_secs() + 30, Some(r)));
            }
            None => {
                m.remove(key);
            }
        }
    }
}

/// Two engines (workers) sharing a ledger, one browser session whose access token expired, and
/// a provider that holds refresh answers until the test releases them.
fn two_workers_with_an_expired_session() -> (World, World) {
    let ledger: Arc<TestLedger> = Arc::default();
    let mut a = World::new(web_config(json!({})));
    let mut b = World::new(web_config(json!({})));
    a.engine.set_refresh_ledger(ledger.clone());
    b.engine.set_refresh_ledger(ledger);
    a.idp.expires_in = 60;
    a.login("/app");
    // Both workers know the provider (discovery cached), as after earlier traffic.
    b.jar = a.jar.clone();
    b.get("/app");
    a.advance(61);
    b.advance(61);
    a.idp.refresh_mode = TokenMode::Silent;
    (a, b)
}

#[test]
fn two_workers_take_turns_refreshing_one_session() {
    let (mut a, mut b) = two_workers_with_an_expired_session();
    let ta = a.submit("GET", "/app/a", &[]);
    a.drain();
    assert_eq!(a.idp.held.len(), 1, "worker A refreshes");
    let tb = b.submit("GET", "/app/b", &[]);
    b.drain();
    assert_eq!(b.idp.calls(Purpose::Token), 0, "worker B waits for A instead of refreshing");
    assert!(b.decided.is_empty());
    // A's answer arrives; B sees A's result at its next tick and uses it.
    let held = a.idp.held.pop().unwrap();
    let body = a.idp.tokens(None).to_string();
    let now = a.now();
    let resp = ResponseView { status: 200, headers: &[], body: body.as_bytes() };
    a.engine.handle_input(now, &mut a.rng, Input::Response { intent: held.id, resp }).unwrap();
    a.drain();
    let da = a.decided.remove(&ta).unwrap();
    b.mono_us += 100_000;
    let now = b.now();
    b.engine.handle_input(now, &mut b.rng, Input::Tick).unwrap();
    b.drain();
    let db = b.decided.remove(&tb).expect("B decided after the tick");
    assert_eq!(grant_header(&da, "x-access-token"), grant_header(&db, "x-access-token"));
    assert_eq!(grant_header(&db, "x-access-token"), Some("at-2"));
    assert_eq!(b.idp.calls(Purpose::Token), 0, "one refresh for both workers");
}

#[test]
fn a_worker_waiting_on_a_refresh_that_never_finishes_answers_503() {
    let (mut a, mut b) = two_workers_with_an_expired_session();
    a.submit("GET", "/app/a", &[]);
    a.drain();
    let tb = b.submit("GET", "/app/b", &[]);
    b.drain();
    for _ in 0..100 {
        b.mono_us += 100_000;
        let now = b.now();
        b.engine.handle_input(now, &mut b.rng, Input::Tick).unwrap();
        b.drain();
        if !b.decided.is_empty() {
            break;
        }
    }
    let d = b.decided.remove(&tb).expect("decided within the bound");
    assert_eq!(status(&d), (503, "idp_unavailable"));
    assert_eq!(b.engine.pending_requests(), 0);
}
