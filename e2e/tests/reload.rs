//! Reloads (SIGHUP) against open keep-alive connections and parked requests (issue 8): a
//! request is bound to the configuration it arrived under, and every request gets an answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oidc_e2e::client::{Conn, ReadError, request_bytes};
use oidc_e2e::gateway::{Gateway, Reload};
use oidc_e2e::idp::Idp;
use oidc_e2e::recorder::Recorder;
use oidc_e2e::routes::bearer_route;
use oidc_e2e::slow_idp::SlowDiscovery;
use serde_json::json;

const RESOURCE: &str = "https://api.test";

#[test]
fn a_reload_that_reorders_routes_keeps_each_routes_rules() {
    let idp = Idp::start();
    let rec = Recorder::start();
    let a = bearer_route(
        "a",
        "/a/*",
        &idp.discovery(),
        rec.addr,
        "        required_scopes: [admin-only-scope]",
    );
    let b = bearer_route("b", "/b/*", &idp.discovery(), rec.addr, "");
    let gw = Gateway::start(&format!("routes:\n{a}{b}"), &idp.ca);
    let token = idp.jwt("read", RESOURCE);
    let auth = format!("Bearer {token}");
    let h = [("Authorization", auth.as_str())];

    let mut kept = Conn::connect(gw.addr);
    let check = |c: &mut Conn, when: &str| {
        let (ra, rb) = (c.get("/a/x", &h), c.get("/b/x", &h));
        assert_eq!(
            (ra.status, rb.status),
            (403, 200),
            "{when}: /a/x needs a scope the token lacks (403), /b/x needs none (200); got /a/x {}, /b/x {}",
            ra.summary(),
            rb.summary()
        );
    };
    check(&mut kept, "before the reload");

    // The same routes, reordered: /b first.
    assert_eq!(gw.reload(&format!("routes:\n{b}{a}")), Reload::Applied, "{}", gw.stderr());
    check(&mut kept, "after the reload, on the connection opened before it");
    check(&mut Conn::connect(gw.addr), "after the reload, on a new connection");

    // A bad file is refused, says so, and changes nothing.
    match gw.reload("routes: [{uri: 5}]\n") {
        Reload::Refused(line) => assert!(line.contains("reload refused"), "{line}"),
        Reload::Applied => panic!("a bad file was applied; stderr:\n{}", gw.stderr()),
    }
    assert!(gw.stderr().contains("reload refused"));
    check(&mut kept, "after a refused reload, on the old connection");
    check(&mut Conn::connect(gw.addr), "after a refused reload, on a new connection");
    let leaked: Vec<String> = rec
        .requests()
        .iter()
        .filter(|r| r.path().starts_with("/a"))
        .map(|r| r.target.clone())
        .collect();
    assert!(leaked.is_empty(), "/a requests reached the upstream: {leaked:?}");
}

#[test]
fn a_request_parked_on_discovery_is_answered_across_a_reload() {
    let idp = Idp::start();
    let rec = Recorder::start();
    // Discovery takes 4 s; the keys are the real IdP's.
    let slow = SlowDiscovery::start(Duration::from_secs(4), &format!("{}/jwks", idp.issuer));
    let routes = |timeout: u32| {
        format!(
            "routes:\n{}",
            bearer_route(
                "slow",
                "/slow/*",
                &slow.discovery(),
                rec.addr,
                &format!("        timeout: {timeout}")
            )
        )
    };
    let gw = Gateway::start(&routes(10), &idp.ca);
    let t = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
    let token = idp.sign(
        json!({"iss": slow.issuer(), "sub": "e2e-user", "aud": RESOURCE, "exp": t + 300, "iat": t, "scope": "read"}),
        "ES256",
        json!({}),
    );

    let mut c = Conn::connect(gw.addr);
    c.set_read_timeout(Duration::from_secs(25));
    let sent = Instant::now();
    c.send(&request_bytes(
        "GET",
        "/slow/x",
        "gw.test",
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
        false,
    ))
    .unwrap();
    // Parked: the discovery fetch has started and will take 4 s.
    while slow.fetches() == 0 {
        assert!(sent.elapsed() < Duration::from_secs(5), "the gateway never fetched discovery");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The route's timeout changes (10 -> 9) while the request waits.
    assert_eq!(gw.reload(&routes(9)), Reload::Applied, "{}", gw.stderr());
    match c.try_response("GET") {
        Ok(r) => {
            assert!(matches!(r.status, 200 | 401 | 503), "{} {}", r.status, r.text());
            assert!(
                sent.elapsed() <= Duration::from_secs(10 + 5),
                "answered only after {:?} (route timeout 10 s)",
                sent.elapsed()
            );
        }
        Err(ReadError::Timeout { .. }) => panic!(
            "a request parked on discovery during a reload got no answer in {:?}; stderr:\n{}",
            sent.elapsed(),
            gw.stderr()
        ),
        Err(err) => panic!("after {:?}: {err}", sent.elapsed()),
    }
    // The setup is sound: once discovery has answered, the token verifies.
    let mut c = Conn::connect(gw.addr);
    c.set_read_timeout(Duration::from_secs(25));
    let r = c.get("/slow/y", &[("Authorization", &format!("Bearer {token}"))]);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn the_next_request_on_an_idle_connection_uses_the_reloaded_rules() {
    let idp = Idp::start();
    let rec = Recorder::start();
    let open = bearer_route("api", "/api/*", &idp.discovery(), rec.addr, "");
    let gw = Gateway::start(&format!("routes:\n{open}"), &idp.ca);
    let auth = format!("Bearer {}", idp.jwt("read", RESOURCE));
    let h = [("Authorization", auth.as_str())];
    let mut kept = Conn::connect(gw.addr);
    assert_eq!(kept.get("/api/x", &h).status, 200);
    // The connection now waits idle for its next request while the rules tighten.
    let scoped = bearer_route(
        "api",
        "/api/*",
        &idp.discovery(),
        rec.addr,
        "        required_scopes: [admin]",
    );
    assert_eq!(gw.reload(&format!("routes:\n{scoped}")), Reload::Applied, "{}", gw.stderr());
    let r = kept.get("/api/x", &h);
    assert_eq!(r.status, 403, "the first request after the reload: {}", r.summary());
    // A reload that replaces the provider (another timeout) must not leave idle connections
    // on a handle whose provider is gone.
    let retimed = bearer_route(
        "api",
        "/api/*",
        &idp.discovery(),
        rec.addr,
        "        required_scopes: [admin]\n        timeout: 4",
    );
    assert_eq!(gw.reload(&format!("routes:\n{retimed}")), Reload::Applied, "{}", gw.stderr());
    let r = kept.get("/api/x", &h);
    assert_eq!(r.status, 403, "after a provider change: {}", r.summary());
}
