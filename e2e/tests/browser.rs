//! The browser login end to end: headless Chromium (driven through `e2e/browser/driver.mjs`)
//! against gateway-monoio and the real `oidc-provider`, over real sockets. What is asserted is
//! what a user and an upstream see: the pages the browser lands on, the IdP's login form, the
//! headers and cookies the upstream received, the provider's call counters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use oidc_e2e::browser::Browser;
use oidc_e2e::gateway::{self, Gateway, Options};
use oidc_e2e::idp::Idp;
use oidc_e2e::recorder::{Recorded, Recorder};
use serde_json::{Value, json};

const SECRET: &str = "web-secret-0123456789";

struct Setup {
    idp: Idp,
    echo: Recorder,
    gw: Gateway,
    browser: Browser,
}

impl Setup {
    fn base(&self) -> String {
        format!("http://{}", self.gw.addr)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// What the upstream received for requests whose path starts with `prefix`.
    fn upstream(&self, prefix: &str) -> Vec<Recorded> {
        self.echo.requests().into_iter().filter(|r| r.path().starts_with(prefix)).collect()
    }

    fn stat(&self, name: &str) -> u64 {
        self.idp.stats()[name].as_u64().unwrap_or(0)
    }
}

fn login_route(
    id: &str,
    uri: &str,
    client: &str,
    idp: &Idp,
    echo: &Recorder,
    extra: &str,
) -> String {
    format!(
        r#"  - id: {id}
    uri: "{uri}"
    hosts: ["127.0.0.1"]
    plugins:
      openid-connect:
        client_id: {client}
        client_secret: {SECRET}
        discovery: "{}"
        scope: "openid email profile"
{extra}
    upstream:
      type: roundrobin
      nodes:
        "{}": 1
"#,
        idp.discovery(),
        echo.addr
    )
}

/// The IdP, an upstream, the gateway with two login routes (`/app/*` for client `web`,
/// `/tamper/*` for a client whose ID tokens carry a wrong nonce), and a browser.
fn setup(access_token_ttl: u64) -> Setup {
    let idp = Idp::start();
    let echo = Recorder::start();
    let addr: SocketAddr = gateway::free_addr();
    let base = format!("http://{addr}");
    for (client, callback, tamper) in [
        ("web", "/app/callback", Value::Null),
        ("tamper", "/tamper/callback", json!("nonce")),
        ("strict", "/strict/callback", Value::Null),
    ] {
        idp.register_client(json!({
            "client_id": client,
            "client_secret": SECRET,
            "redirect_uris": [format!("{base}{callback}")],
            "post_logout_redirect_uris": [format!("{base}/bye")],
            "require_pkce": true,
            "access_token_ttl": access_token_ttl,
            "id_token_tamper": tamper,
        }));
    }
    let mut y = String::from("routes:\n");
    y += &login_route(
        "app",
        "/app/*",
        "web",
        &idp,
        &echo,
        &format!(
            "        redirect_uri: /app/callback\n        logout_path: /app/logout\n        \
             post_logout_redirect_uri: \"{base}/bye\"\n        session:\n          \
             secret: 0123456789abcdef0123456789abcdef"
        ),
    );
    y += &login_route(
        "tamper",
        "/tamper/*",
        "tamper",
        &idp,
        &echo,
        "        redirect_uri: /tamper/callback\n        session:\n          \
         secret: fedcba9876543210fedcba9876543210\n          cookie_name: tamper",
    );
    y += &login_route(
        "strict",
        "/strict/*",
        "strict",
        &idp,
        &echo,
        "        redirect_uri: /strict/callback\n        session:\n          \
         secret: 0123456789abcdef0123456789abcdef\n          cookie_name: strict\n          \
         cookie_same_site: Strict",
    );
    y += &format!(
        "  - id: bye\n    uri: /bye\n    upstream:\n      type: roundrobin\n      nodes:\n        \"{}\": 1\n",
        echo.addr
    );
    let opts = Options { ca: Some(idp.ca.clone()), listen: Some(addr), ..Options::default() };
    let gw = Gateway::start_opts(&y, &opts);
    let browser = Browser::start();
    Setup { idp, echo, gw, browser }
}

fn b64_json(v: &str) -> Value {
    serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(v).unwrap()).unwrap()
}

fn cookie_names(r: &Recorded) -> Vec<String> {
    r.headers_named("cookie")
        .iter()
        .flat_map(|c| c.split(';'))
        .filter_map(|kv| kv.trim().split_once('=').map(|(k, _)| k.to_string()))
        .collect()
}

fn print_upstream(what: &str, r: &Recorded) {
    println!("upstream received ({what}): {} {}", r.method, r.target);
    for (n, v) in &r.headers {
        let shown =
            if v.len() > 72 { format!("{}… ({} bytes)", &v[..72], v.len()) } else { v.clone() };
        println!("    {n}: {shown}");
    }
}

fn on_idp_login_form(page: &Value, idp: &Idp) -> bool {
    page["url"].as_str().unwrap_or_default().starts_with(&idp.issuer)
        && page["text"].as_str().unwrap_or_default().to_lowercase().contains("password")
}

#[test]
fn a_browser_logs_in_and_the_upstream_sees_the_identity_and_none_of_the_gateway_cookies() {
    let mut s = setup(600);
    let base = s.base();
    // A cookie of the application's own, which must reach the upstream untouched.
    s.browser.add_cookies(json!([{ "name": "theme", "value": "dark", "url": base }]));

    let page = s.browser.open("tab", &s.url("/app/page?q=1&r=two"));
    assert!(on_idp_login_form(&page, &s.idp), "not the IdP login form: {page}");
    assert!(s.upstream("/app").is_empty(), "nothing reaches the upstream before the login");
    let authorize = page["chain"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|u| u.as_str().filter(|u| u.starts_with(&format!("{}/auth?", s.idp.issuer))));
    let authorize = authorize.expect("the browser went through the authorization endpoint");
    for p in ["code_challenge_method=S256", "nonce=", "state=", "client_id=web"] {
        assert!(authorize.contains(p), "{p} missing in {authorize}");
    }

    let page = s.browser.login("tab", "alice", "alice-password");
    assert_eq!(page["url"], s.url("/app/page?q=1&r=two"), "lands on the original URL: {page}");
    assert_eq!(page["status"], 200);
    let got = s.upstream("/app");
    assert_eq!(got.len(), 1, "exactly the original request reached the upstream");
    let r = &got[0];
    print_upstream("after login", r);
    assert_eq!(r.target, "/app/page?q=1&r=two");
    let at = r.header("x-access-token").expect("X-Access-Token");
    assert!(!at.is_empty());
    assert_eq!(b64_json(r.header("x-id-token").unwrap())["sub"], "alice");
    let userinfo = b64_json(r.header("x-userinfo").expect("X-Userinfo"));
    assert_eq!(
        (userinfo["sub"].as_str(), userinfo["email"].as_str()),
        (Some("alice"), Some("alice@example.test"))
    );
    assert_eq!(cookie_names(r), vec!["theme"], "the gateway's cookies never reach the upstream");

    let cookies = s.browser.cookies();
    let session = cookies.iter().find(|c| c["name"] == "session").expect("session cookie");
    assert_eq!(
        (session["httpOnly"].as_bool(), session["sameSite"].as_str()),
        (Some(true), Some("Lax"))
    );

    // The next request makes no IdP call.
    let before = s.idp.stats();
    let page = s.browser.open("tab", &s.url("/app/other"));
    assert_eq!(page["status"], 200);
    assert_eq!(s.idp.stats()["token_authorization_code"], before["token_authorization_code"]);
    assert_eq!(s.idp.stats()["authorization"], before["authorization"]);
    assert_eq!(s.idp.stats()["userinfo"], before["userinfo"]);
    let r = s.upstream("/app/other").pop().unwrap();
    print_upstream("next request", &r);
    assert_eq!(r.header("x-access-token"), Some(at));

    // A script without a session gets 401, not the IdP's login page.
    s.browser.clear_cookies();
    let xhr = s.browser.fetch("tab", &s.url("/app/api"), json!({"Accept": "application/json"}));
    assert_eq!(xhr["status"], 401, "{xhr}");
    // A client that forges identity headers gets nothing through either.
    assert!(s.upstream("/app/api").is_empty());
}

#[test]
fn an_expired_access_token_is_refreshed_and_the_upstream_sees_the_new_one() {
    let mut s = setup(5);
    s.browser.open("tab", &s.url("/app/one"));
    let page = s.browser.login("tab", "alice", "alice-password");
    assert_eq!(page["url"], s.url("/app/one"));
    let first = s.upstream("/app/one").pop().unwrap().header("x-access-token").unwrap().to_string();
    assert_eq!(s.stat("token_refresh_token"), 0);
    std::thread::sleep(Duration::from_secs(6));
    let page = s.browser.open("tab", &s.url("/app/two"));
    assert_eq!(page["url"], s.url("/app/two"), "no new login: {page}");
    let r = s.upstream("/app/two").pop().unwrap();
    print_upstream("after refresh", &r);
    let second = r.header("x-access-token").unwrap().to_string();
    assert_ne!(first, second, "the upstream sees the refreshed token");
    assert_eq!(s.stat("token_refresh_token"), 1);
    // The re-sealed cookie carries the new tokens: the next request needs no refresh.
    let page = s.browser.open("tab", &s.url("/app/three"));
    assert_eq!(page["status"], 200);
    assert_eq!(
        s.upstream("/app/three").pop().unwrap().header("x-access-token"),
        Some(second.as_str())
    );
    assert_eq!(s.stat("token_refresh_token"), 1);
}

#[test]
fn two_tabs_log_in_at_once() {
    let mut s = setup(600);
    let (a, b) = (s.url("/app/tab-a?x=1"), s.url("/app/tab-b?y=2"));
    let pages = s.browser.parallel(vec![
        json!({"op": "open", "page": "a", "url": a}),
        json!({"op": "open", "page": "b", "url": b}),
    ]);
    for p in &pages {
        assert!(on_idp_login_form(p, &s.idp), "{p}");
    }
    let pages = s.browser.parallel(vec![
        json!({"op": "login", "page": "a", "username": "alice", "password": "alice-password"}),
        json!({"op": "login", "page": "b", "username": "alice", "password": "alice-password"}),
    ]);
    assert_eq!(pages[0]["url"], a, "{}", pages[0]);
    assert_eq!(pages[1]["url"], b, "{}", pages[1]);
    assert_eq!(s.upstream("/app/tab-a").len(), 1);
    assert_eq!(s.upstream("/app/tab-b").len(), 1);
}

#[test]
fn logout_ends_the_idp_session_and_lands_on_the_post_logout_uri() {
    let mut s = setup(600);
    s.browser.open("tab", &s.url("/app/home"));
    s.browser.login("tab", "alice", "alice-password");
    assert!(s.browser.cookie("session").is_some());
    let page = s.browser.open("tab", &s.url("/app/logout"));
    assert_eq!(page["url"], s.url("/bye"), "{page}");
    assert_eq!(s.stat("end_session"), 1);
    assert!(s.browser.cookie("session").is_none(), "the session cookie is gone");
    let bye = s.upstream("/bye").pop().unwrap();
    assert!(bye.header("x-access-token").is_none());
    // The IdP session ended too: the next visit shows the login form again.
    let page = s.browser.open("tab", &s.url("/app/home"));
    assert!(on_idp_login_form(&page, &s.idp), "{page}");
}

#[test]
fn a_tampered_cookie_leads_back_to_login_and_a_wrong_nonce_is_refused() {
    let mut s = setup(600);
    s.browser.open("tab", &s.url("/app/x"));
    s.browser.login("tab", "alice", "alice-password");
    let mut c = s.browser.cookie("session").unwrap();
    let v = c["value"].as_str().unwrap().to_string();
    let flipped = if v.ends_with('A') { "B" } else { "A" };
    c["value"] = json!(format!("{}{flipped}", &v[..v.len() - 1]));
    s.browser.add_cookies(json!([c]));
    let authorizations = s.stat("authorization");
    let page = s.browser.open("tab", &s.url("/app/y"));
    // Back through the provider (whose own session signs the user in again at once).
    assert_eq!(s.stat("authorization"), authorizations + 1, "{page}");
    assert_eq!(page["url"], s.url("/app/y"));
    assert_eq!(s.upstream("/app/y").len(), 1);

    // The `tamper` client's ID tokens carry another nonce: the login is refused.
    let page = s.browser.open("tamper", &s.url("/tamper/page"));
    let page = if on_idp_login_form(&page, &s.idp) {
        s.browser.login("tamper", "alice", "alice-password")
    } else {
        page
    };
    assert_eq!(page["status"], 401, "{page}");
    assert!(page["text"].as_str().unwrap().contains("Sign-in failed"), "{page}");
    assert!(s.upstream("/tamper").is_empty(), "nothing reaches the upstream");
    assert!(s.browser.cookie("tamper").is_none(), "no session from a refused ID token");
    let log = std::fs::read_to_string(&s.gw.access_log).unwrap_or_default();
    assert!(log.contains("id_token_nonce"), "the access log names the reason");
}

#[test]
fn a_strict_session_cookie_still_logs_in() {
    let mut s = setup(600);
    let page = s.browser.open("tab", &s.url("/strict/page?k=v"));
    assert!(on_idp_login_form(&page, &s.idp), "{page}");
    let page = s.browser.login("tab", "alice", "alice-password");
    assert_eq!(page["url"], s.url("/strict/page?k=v"), "{page}");
    assert_eq!(page["status"], 200);
    let cookie = s.browser.cookie("strict").expect("the session cookie");
    assert_eq!(cookie["sameSite"], "Strict");
    let got = s.upstream("/strict/page");
    assert_eq!(got.len(), 1, "one request upstream, no login loop");
    assert_eq!(b64_json(got[0].header("x-id-token").unwrap())["sub"], "alice");
    assert_eq!(s.stat("authorization"), 1);
}
