//! Hostile review of the browser login (issue 9) over real sockets: gateway-monoio, the real
//! `oidc-provider` for discovery, a recording upstream, and a raw HTTP client that sends what a
//! browser never would. `holds_*` tests are attacks that never worked; the others reproduce
//! what the review found, fixed since.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::net::SocketAddr;

use oidc_e2e::client::{Conn, request, request_bytes};
use oidc_e2e::gateway::{self, Gateway, Options, Reload};
use oidc_e2e::idp::Idp;
use oidc_e2e::recorder::Recorder;
use oidc_e2e::wire::Response;

const SECRET: &str = "web-secret-0123456789";
const SESSION_SECRET: &str = "0123456789abcdef0123456789abcdef";

fn route(id: &str, uri: &str, idp: &Idp, echo: &Recorder, extra: &str) -> String {
    // The login's paths live under the route's prefix (`/app/*` → `/app/callback`).
    let base = uri.trim_end_matches('*');
    format!(
        r#"  - id: {id}
    uri: "{uri}"
    hosts: ["127.0.0.1"]
    plugins:
      openid-connect:
        client_id: web
        client_secret: {SECRET}
        discovery: "{}"
        scope: "openid email"
        redirect_uri: {base}callback
        logout_path: {base}logout
        session:
          secret: {SESSION_SECRET}
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

struct Setup {
    idp: Idp,
    echo: Recorder,
    gw: Gateway,
}

fn setup(extra_app: &str) -> Setup {
    let idp = Idp::start();
    let echo = Recorder::start();
    let addr: SocketAddr = gateway::free_addr();
    let mut y = String::from("routes:\n");
    y += &route("app", "/app/*", &idp, &echo, extra_app);
    y += &route(
        "pass",
        "/open/*",
        &idp,
        &echo,
        "        unauth_action: pass\n        access_token_in_authorization_header: true",
    );
    let opts = Options { ca: Some(idp.ca.clone()), listen: Some(addr), ..Options::default() };
    let gw = Gateway::start_opts(&y, &opts);
    Setup { idp, echo, gw }
}

fn headers<'a>(r: &'a Response, name: &str) -> Vec<&'a str> {
    r.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
}

fn nav() -> Vec<(&'static str, &'static str)> {
    vec![("Accept", "text/html"), ("Sec-Fetch-Mode", "navigate")]
}

/// `unauth_action: pass` with `access_token_in_authorization_header: true`: the upstream
/// reads the user's token from `Authorization`, and an anonymous request carries the
/// client's own `Authorization` to it unchanged: anyone can forge the identity the upstream
/// trusts on the routes that let anonymous users through.
#[test]
fn anonymous_pass_never_forwards_a_client_authorization() {
    let s = setup("");
    let r = request(
        s.gw.addr,
        "GET",
        "/open/page",
        &[("Authorization", "Bearer forged-admin-token"), ("X-Access-Token", "forged")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.summary());
    let got = s.echo.requests();
    let up = got.iter().find(|r| r.path().starts_with("/open")).expect("forwarded");
    assert_eq!(up.header("x-access-token"), None, "X-Access-Token is stripped");
    assert_eq!(
        up.header("authorization"),
        None,
        "the client's Authorization reached an upstream that reads the gateway's token there"
    );
}

/// Open-redirect and header-injection attempts through the original URL: every answer is a
/// 302 to the provider, or a 4xx, never a redirect elsewhere and never a 500.
#[test]
fn holds_hostile_targets_never_redirect_off_site_nor_500() {
    let s = setup("");
    let auth = format!("{}/auth", s.idp.issuer);
    for target in [
        "//evil.test/app/x",
        "/app//evil.test",
        "/\\evil.test/app",
        "/app/\\evil.test",
        "/app/%5C%5Cevil.test",
        "/app/..%2F..%2Fevil.test",
        "/app/%2e%2e/%2e%2e/evil",
        "http://evil.test/app/x",
        "/app/x?next=%0d%0aSet-Cookie:%20pwn=1",
        "/app/x#frag",
    ] {
        let mut c = Conn::connect(s.gw.addr);
        let h = nav();
        c.send(&request_bytes("GET", target, "127.0.0.1", &h, b"", true)).unwrap();
        let r = c.response("GET");
        assert_ne!(r.status, 500, "{target}: {}", r.summary());
        if (300..400).contains(&r.status) {
            let loc = headers(&r, "location");
            assert_eq!(loc.len(), 1, "{target}");
            assert!(loc[0].starts_with(&auth), "{target} -> {}", loc[0]);
        } else {
            assert!((400..500).contains(&r.status), "{target}: {}", r.summary());
        }
        for (n, v) in &r.headers {
            assert!(!n.contains("pwn") && !v.contains("pwn=1"), "{target}: {n}: {v}");
        }
    }
}

/// Forged and oversized cookies, many flow cookies over several `Cookie` headers, a session
/// cookie split over duplicate names: a login redirect with a bounded number of `Set-Cookie`
/// deletions (or 431), never a 500.
#[test]
fn holds_forged_cookie_floods_are_bounded() {
    let s = setup("");
    let flows: Vec<String> =
        (0..120).map(|i| format!("session_state_{i:08}=Zm9yZ2VkZm9yZ2Vk")).collect();
    let c1 = flows[..40].join("; ");
    let c2 = flows[40..80].join("; ");
    let c3 =
        format!("{}; session=AAAA; session=BBBB; session2=CC; session9=x", flows[80..].join("; "));
    let mut h = nav();
    h.extend([("Cookie", c1.as_str()), ("Cookie", c2.as_str()), ("Cookie", c3.as_str())]);
    let r = request(s.gw.addr, "GET", "/app/x", &h, b"");
    assert!(r.status == 302 || r.status == 431, "{}", r.summary());
    if r.status == 302 {
        let n = headers(&r, "set-cookie").len();
        assert!(n <= 64, "{n} Set-Cookie headers");
    }
    assert!(s.echo.requests().is_empty(), "nothing upstream");
}

/// The callback with odd methods, duplicated and huge parameters, no flow cookie: a restart, a
/// 400 page, or 414/431, never 500, and nothing reaches the token endpoint without a flow.
#[test]
fn holds_odd_callbacks_are_pages_not_500s() {
    let s = setup("");
    s.idp.reset_stats();
    let huge = "A".repeat(7000);
    let targets = [
        String::from("/app/callback"),
        String::from("/app/callback?code=a&code=b&state=x&state=y"),
        format!("/app/callback?code={huge}&state=s"),
        String::from("/app/callback?error=access_denied&error_description=%3Cscript%3E"),
        String::from("/app/callback?state=%00%0d%0a&code=%ff"),
    ];
    for method in ["GET", "HEAD", "POST", "OPTIONS"] {
        for t in &targets {
            let r = request(s.gw.addr, method, t, &nav(), b"");
            assert!(
                r.status != 500 && r.status != 200,
                "{method} {}: {}",
                &t[..t.len().min(60)],
                r.summary()
            );
        }
    }
    let stats = s.idp.stats();
    assert!(s.echo.requests().is_empty(), "a callback never goes upstream");
    println!("IdP stats after odd callbacks: {stats}");
}

/// Logout from another site: a confirmation page (HTML, no script, not frameable); the
/// session is not cleared.
#[test]
fn holds_cross_site_logout_gets_a_confirmation_page() {
    let s = setup("");
    for (method, h) in [
        ("GET", vec![("Sec-Fetch-Site", "cross-site")]),
        ("GET", vec![]),
        ("POST", vec![("Origin", "http://evil.test")]),
        ("POST", vec![("Origin", "null")]),
        ("POST", vec![("Sec-Fetch-Site", "same-site")]),
    ] {
        let r = request(s.gw.addr, method, "/app/logout", &h, b"");
        assert_eq!(r.status, 200, "{method} {h:?}: {}", r.summary());
        assert!(headers(&r, "set-cookie").is_empty(), "{method} {h:?} cleared cookies");
        let csp = headers(&r, "content-security-policy");
        assert!(csp.first().is_some_and(|c| c.contains("frame-ancestors 'none'")));
    }
}

/// Behind a TLS terminator listed in `trusted_addresses`, a request it marks
/// `X-Forwarded-Proto: https` gets `Secure` login cookies and the upstream is told https; the
/// same header from a peer that is not trusted changes nothing.
#[test]
fn a_trusted_tls_terminator_makes_the_login_cookies_secure() {
    let run = |trusted: bool| {
        let idp = Idp::start();
        let echo = Recorder::start();
        let mut y = String::from("routes:\n");
        y += &route("app", "/app/*", &idp, &echo, "");
        y += &route("pass", "/open/*", &idp, &echo, "        unauth_action: pass");
        let settings =
            if trusted { vec![String::from("trusted_addresses: [127.0.0.0/8]")] } else { vec![] };
        let opts = Options { ca: Some(idp.ca.clone()), settings, ..Options::default() };
        let gw = Gateway::start_opts(&y, &opts);
        let mut h = nav();
        h.push(("X-Forwarded-Proto", "https"));
        let r = request(gw.addr, "GET", "/app/x", &h, b"");
        assert_eq!(r.status, 302, "{}", r.summary());
        let cookies: Vec<String> =
            headers(&r, "set-cookie").iter().map(|c| c.to_string()).collect();
        let location = r.header("location").unwrap_or_default().to_string();
        let r = request(gw.addr, "GET", "/open/x", &h, b"");
        assert_eq!(r.status, 200, "{}", r.summary());
        let proto = echo.requests().last().unwrap().header("x-forwarded-proto").map(String::from);
        (cookies, location, proto)
    };
    let (cookies, location, proto) = run(true);
    assert!(!cookies.is_empty());
    for c in &cookies {
        assert!(c.contains("; Secure"), "behind a trusted https front, without Secure: {c}");
    }
    assert!(location.contains("redirect_uri=https%3A%2F%2F127.0.0.1"), "{location}");
    assert_eq!(proto.as_deref(), Some("https"));
    let (cookies, _, proto) = run(false);
    for c in &cookies {
        assert!(!c.contains("; Secure"), "an untrusted peer's header was believed: {c}");
    }
    assert_eq!(proto.as_deref(), Some("http"));
}

/// Configurations that cannot work must be refused at load, each error named by its path
/// (DESIGN.md: "redirect_uri equal to the protected URI, missing session secret,
/// redirect_uri outside the route ... are caught here").
#[test]
fn bad_login_configs_are_refused_with_their_path() {
    let s = setup("");
    let addr = s.echo.addr;
    let disc = s.idp.discovery();
    let cfg = |uri: &str, oidc: &str| {
        format!(
            "routes:\n  - id: r\n    uri: \"{uri}\"\n    hosts: [\"127.0.0.1\"]\n    plugins:\n      openid-connect:\n        client_id: web\n        client_secret: {SECRET}\n        discovery: \"{disc}\"\n{oidc}\n    upstream:\n      nodes:\n        \"{addr}\": 1\n"
        )
    };
    let session = format!("        session:\n          secret: {SESSION_SECRET}");
    let cases = [
        (
            "no session secret",
            cfg("/app/*", "        redirect_uri: /app/cb"),
            "routes[0].plugins.openid-connect.session.secret",
        ),
        (
            "short secret",
            cfg(
                "/app/*",
                "        redirect_uri: /app/cb\n        session:\n          secret: short",
            ),
            "routes[0].plugins.openid-connect.session.secret",
        ),
        (
            "cookie name with a separator",
            cfg(
                "/app/*",
                &format!(
                    "        redirect_uri: /app/cb\n{session}\n          cookie_name: \"a;b\""
                ),
            ),
            "routes[0].plugins.openid-connect.session.cookie_name",
        ),
        (
            "cookie path with an attribute",
            cfg(
                "/app/*",
                &format!(
                    "        redirect_uri: /app/cb\n{session}\n          cookie_path: \"/; Domain=evil.test\""
                ),
            ),
            "routes[0].plugins.openid-connect.session.cookie_path",
        ),
        (
            "redirect_uri outside the route",
            cfg("/app/*", &format!("        redirect_uri: /elsewhere/cb\n{session}")),
            "routes[0].plugins.openid-connect.redirect_uri",
        ),
        (
            "redirect_uri equal to the protected uri",
            cfg("/app", &format!("        redirect_uri: /app\n{session}")),
            "routes[0].plugins.openid-connect.redirect_uri",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, yaml, path) in cases {
        let seen = s.gw.stderr().len();
        let outcome = s.gw.reload(&yaml);
        // The refusal names the errors on the lines after "reload refused".
        std::thread::sleep(std::time::Duration::from_millis(200));
        let said = s.gw.stderr()[seen..].to_string();
        match outcome {
            Reload::Refused(_) if said.contains(path) => {}
            Reload::Refused(_) => wrong.push(format!("{what}: refused without {path}: {said}")),
            Reload::Applied => {
                wrong.push(format!("{what}: applied"));
                // Back to a good configuration for the next case.
                let good = cfg("/app/*", &format!("        redirect_uri: /app/cb\n{session}"));
                assert!(matches!(s.gw.reload(&good), Reload::Applied));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Refresh races across workers: "concurrent requests of one session in one worker share one
/// refresh", but a browser spreads a page's requests over several connections, and
/// gateway-monoio spreads connections over its workers. With a provider that rotates refresh
/// tokens (oidc-provider, Okta, Auth0, Keycloak with rotation on), the second worker presents
/// the refresh token the first one just used: `invalid_grant`, so that request is sent to the
/// login with the session cookie cleared, and a provider with reuse detection revokes the
/// whole grant, so the first worker's fresh session dies at its next refresh as well.
#[test]
fn a_page_whose_requests_land_on_two_workers_keeps_its_session_at_refresh() {
    use oidc_e2e::browser::Browser;
    use serde_json::json;
    let idp = Idp::start();
    let echo = Recorder::start();
    let addr: SocketAddr = gateway::free_addr();
    let base = format!("http://{addr}");
    idp.register_client(json!({
        "client_id": "web",
        "client_secret": SECRET,
        "redirect_uris": [format!("{base}/app/callback")],
        "post_logout_redirect_uris": [format!("{base}/bye")],
        "require_pkce": true,
        "access_token_ttl": 4,
    }));
    let y = format!("routes:\n{}", route("app", "/app/*", &idp, &echo, ""));
    let opts =
        Options { ca: Some(idp.ca.clone()), listen: Some(addr), workers: 2, ..Options::default() };
    let gw = Gateway::start_opts(&y, &opts);
    let mut browser = Browser::start();
    browser.open("tab", &format!("{base}/app/start"));
    let page = browser.login("tab", "alice", "alice-password");
    assert_eq!(page["url"], format!("{base}/app/start"), "{page}");
    let cookie = browser
        .cookies()
        .iter()
        .filter(|c| c["name"].as_str().is_some_and(|n| n.starts_with("session")))
        .map(|c| format!("{}={}", c["name"].as_str().unwrap(), c["value"].as_str().unwrap()))
        .collect::<Vec<_>>()
        .join("; ");
    std::thread::sleep(std::time::Duration::from_secs(5));
    // A page's subresources: several connections at once, as a browser opens them.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let cookie = cookie.clone();
            let barrier = std::sync::Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut c = Conn::connect(addr);
                let h = [
                    ("Cookie", cookie.as_str()),
                    ("Accept", "text/html"),
                    ("Sec-Fetch-Mode", "navigate"),
                ];
                let bytes =
                    request_bytes("GET", &format!("/app/asset-{i}"), "127.0.0.1", &h, b"", true);
                barrier.wait();
                c.send(&bytes).unwrap();
                c.response("GET")
            })
        })
        .collect();
    let answers: Vec<Response> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let refreshes = idp.stats()["token_refresh_token"].as_u64().unwrap_or(0);
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    let cleared = answers
        .iter()
        .flat_map(|r| headers(r, "set-cookie"))
        .filter(|c| c.starts_with("session=") && c.contains("Max-Age=0"))
        .count();
    println!("statuses {statuses:?}, refresh calls {refreshes}, session deletions {cleared}");
    // A response that carries a renewed session is never for a shared cache.
    for r in answers.iter().filter(|r| !headers(r, "set-cookie").is_empty()) {
        assert_eq!(headers(r, "cache-control"), vec!["private, no-store"], "{}", r.summary());
    }
    assert!(answers.iter().any(|r| !headers(r, "set-cookie").is_empty()), "no renewed session");
    assert!(
        statuses.iter().all(|s| *s == 200) && cleared == 0,
        "one page's requests after the access token expired: statuses {statuses:?}, \
         {refreshes} refresh calls, {cleared} responses delete the session cookie; gateway log:\n{}",
        gw.stderr()
            .lines()
            .filter(|l| l.contains("refresh"))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
