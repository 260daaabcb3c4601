//! HTTP behaviour of the gateway binary over real sockets: limits, request smuggling defences,
//! `Expect: 100-continue`, keep-alive, and IdP traffic through an HTTP CONNECT proxy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::Duration;

use oidc_e2e::client::{Conn, KeepAlive, get};
use oidc_e2e::connect_proxy::ConnectProxy;
use oidc_e2e::gateway::Gateway;
use oidc_e2e::idp::Idp;
use oidc_e2e::recorder::Recorder as Echo;

fn open_route(echo: &Echo) -> String {
    format!(
        "routes:\n  - id: open\n    uri: /open*\n    upstream:\n      nodes:\n        \"{}\": 1\n",
        echo.addr
    )
}

/// Sends raw bytes and returns the first response (the connection is then closed by us).
fn raw(gw: &Gateway, bytes: &[u8]) -> oidc_e2e::client::Response {
    let mut c = Conn::connect(gw.addr);
    c.set_read_timeout(Duration::from_secs(10));
    c.send(bytes).unwrap();
    c.response("GET")
}

#[test]
fn limits_and_smuggling_defences() {
    let echo = Echo::start();
    let gw = Gateway::start_with(&open_route(&echo), None);
    assert_eq!(get(gw.addr, "/open", &[]).status, 200);
    let hits = echo.hits();

    let big = "x".repeat(20 * 1024);
    assert_eq!(
        raw(&gw, format!("GET /open HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\n\r\n").as_bytes())
            .status,
        431
    );
    let long = "a".repeat(9 * 1024);
    assert_eq!(
        raw(&gw, format!("GET /open/{long} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes()).status,
        414
    );
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(
        raw(&gw, format!("GET /open HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes()).status,
        431
    );
    for smuggle in [
        "POST /open HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /open HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        "POST /open HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        "GET /open HTTP/1.1\nHost: a\n\n",
    ] {
        let r = raw(&gw, smuggle.as_bytes());
        assert_eq!(r.status, 400, "{smuggle:?}");
    }
    // Only the chunked body with the bad chunk size got as far as the upstream head (it is
    // rejected while the body streams); none of the others reached the upstream at all.
    assert!(echo.hits() <= hits + 1);

    // Expect: 100-continue gets an interim 100, then the body streams and the final answer comes.
    let mut c = Conn::connect(gw.addr);
    c.set_read_timeout(Duration::from_secs(10));
    c.send(
        b"POST /open/up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let interim = c.response("POST");
    assert_eq!(interim.status, 100);
    assert_eq!(interim.raw_head, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.send(b"hello").unwrap();
    let r = c.response("POST");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body_len"], 5);

    // Keep-alive: several requests on one connection.
    let mut c = Conn::connect(gw.addr);
    c.set_read_timeout(Duration::from_secs(10));
    for i in 0..3 {
        c.send(format!("GET /open/{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes()).unwrap();
        let r = c.response("GET");
        assert_eq!(
            (r.status, r.json()["target"].as_str().unwrap().to_string()),
            (200, format!("/open/{i}"))
        );
    }
}

#[test]
fn idp_traffic_through_a_connect_proxy() {
    let idp = Idp::start();
    let echo = Echo::start();
    let proxy = ConnectProxy::start();
    let routes = format!(
        r#"routes:
  - id: api
    uri: /api
    plugins:
      openid-connect:
        client_id: gateway
        client_secret: gateway-secret-0123456789
        discovery: "{discovery}"
        bearer_only: true
        use_jwks: true
        proxy_opts:
          https_proxy: "http://{proxy}"
    upstream:
      nodes:
        "{echo}": 1
  - id: introspect
    uri: /introspect
    plugins:
      openid-connect:
        client_id: gateway
        client_secret: gateway-secret-0123456789
        discovery: "{discovery}"
        bearer_only: true
        introspection_endpoint_auth_method: client_secret_basic
        proxy_opts:
          https_proxy: "http://{proxy}"
    upstream:
      nodes:
        "{echo}": 1
"#,
        discovery = idp.discovery(),
        proxy = proxy.addr,
        echo = echo.addr
    );
    let gw = Gateway::start(&routes, &idp.ca);
    let token = idp.jwt("read", "https://api.test");
    let r = get(gw.addr, "/api", &[("Authorization", &format!("Bearer {token}"))]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Discovery and JWKS went through a tunnel (TLS end to end inside it).
    assert!(proxy.tunnels() >= 1, "{} tunnels", proxy.tunnels());

    // Introspection through the proxy: on one client connection (one worker), every call
    // after the first reuses the pooled tunnel.
    let mut conn = KeepAlive::connect(gw.addr);
    let first =
        conn.get("/introspect", &[("Authorization", &format!("Bearer {}", idp.opaque("read")))]);
    assert_eq!(first.status, 200, "{}", String::from_utf8_lossy(&first.body));
    let tunnels = proxy.tunnels();
    for _ in 0..4 {
        let token = idp.opaque("read");
        let r = conn.get("/introspect", &[("Authorization", &format!("Bearer {token}"))]);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(proxy.tunnels(), tunnels, "introspection calls opened new tunnels");
}
