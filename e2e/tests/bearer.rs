//! The gateway binary in front of an echo upstream, protecting routes with bearer tokens from a
//! real OpenID Provider over TLS. Assertions are what a user sees: statuses, headers, and what
//! the upstream received (or that it received nothing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use oidc_e2e::client::{Response, get, request};
use oidc_e2e::gateway::{Gateway, Reload};
use oidc_e2e::idp::Idp;
use oidc_e2e::recorder::Recorder as Echo;
use serde_json::{Value, json};

const RESOURCE: &str = "https://api.test";

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn route(id: &str, uri: &str, idp: &Idp, echo: &Echo, extra: &str) -> String {
    format!(
        r#"  - id: {id}
    uri: "{uri}"
    plugins:
      openid-connect:
        client_id: gateway
        client_secret: gateway-secret-0123456789
        discovery: "{}"
        bearer_only: true
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

fn routes(idp: &Idp, echo: &Echo) -> String {
    let mut y = String::from("routes:\n");
    y += &route("jwt", "/jwt*", idp, echo, "        use_jwks: true");
    y += &route(
        "scoped",
        "/admin",
        idp,
        echo,
        "        use_jwks: true\n        required_scopes: [admin]",
    );
    y += &route(
        "aud",
        "/aud",
        idp,
        echo,
        "        use_jwks: true\n        claim_validator:\n          audience: {claim: aud, match_with_client_id: true}",
    );
    y += &route(
        "schema",
        "/schema",
        idp,
        echo,
        "        use_jwks: true\n        claim_schema:\n          type: object\n          required: [email]\n          properties: {email: {type: string, pattern: '@'}}",
    );
    y += &route(
        "introspect",
        "/introspect",
        idp,
        echo,
        "        introspection_endpoint_auth_method: client_secret_basic",
    );
    y
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn call(gw: &Gateway, path: &str, token: &str) -> Response {
    get(gw.addr, path, &[("Authorization", &bearer(token))])
}

fn claims(idp: &Idp) -> Value {
    let t = now();
    json!({"iss": idp.issuer, "sub": "e2e-user", "aud": RESOURCE, "exp": t + 300, "iat": t, "scope": "read"})
}

#[test]
fn jwt_access_tokens() {
    let idp = Idp::start();
    let echo = Echo::start();
    let gw = Gateway::start(&routes(&idp, &echo), &idp.ca);

    // A real RFC 9068 token from a client_credentials grant.
    let token = idp.jwt("read", RESOURCE);
    let r = get(
        gw.addr,
        "/jwt/orders?x=1",
        &[("Authorization", &bearer(&token)), ("X-Userinfo", "spoofed"), ("X-ID-Token", "spoofed")],
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let seen = r.json();
    assert_eq!(seen["target"], "/jwt/orders?x=1");
    assert_eq!(seen["headers"]["x-access-token"], token.as_str());
    let userinfo = base64::engine::general_purpose::STANDARD
        .decode(seen["headers"]["x-userinfo"].as_str().unwrap())
        .unwrap();
    let userinfo: Value = serde_json::from_slice(&userinfo).unwrap();
    assert_eq!(userinfo["iss"], idp.issuer.as_str());
    assert_eq!(userinfo["client_id"], "jwt-client");
    assert!(
        seen["headers"].get("x-id-token").is_none(),
        "client identity headers never reach the upstream"
    );
    assert_eq!(seen["headers"]["x-forwarded-for"], "127.0.0.1");
    // RS256 tokens from the same provider.
    assert_eq!(call(&gw, "/jwt", &idp.jwt("read", "https://rs256.test")).status, 200);

    // Every one of these is 401 with a challenge, and the upstream never sees it.
    let hits = echo.hits();
    let base = claims(&idp);
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    let mut tampered = idp.sign(base.clone(), "ES256", json!({}));
    {
        let parts: Vec<&str> = tampered.split('.').collect();
        let mut payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
        let i = payload.iter().position(|&b| b == b'e').unwrap();
        payload[i] = b'E';
        tampered = format!(
            "{}.{}.{}",
            parts[0],
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload),
            parts[2]
        );
    }
    let jwks_secret = format!("{}-rs-1-public-key", idp.issuer);
    let hs256_confusion = {
        use hmac::{Hmac, KeyInit, Mac};
        let h = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"HS256","kid":"rs-1","typ":"at+jwt"}"#);
        let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(base.to_string());
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(jwks_secret.as_bytes()).unwrap();
        m.update(format!("{h}.{p}").as_bytes());
        format!(
            "{h}.{p}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
        )
    };
    let cases = [
        ("expired", idp.sign(with("exp", json!(now() - 600)), "ES256", json!({}))),
        ("not yet valid", idp.sign(with("nbf", json!(now() + 600)), "ES256", json!({}))),
        ("tampered", tampered),
        ("wrong key", idp.sign(base.clone(), "ES256", json!({"untrusted": true}))),
        ("wrong issuer", idp.sign(with("iss", json!("https://evil.test")), "RS256", json!({}))),
        ("alg none", idp.sign(base.clone(), "none", json!({}))),
        ("HS256 with the RSA key's kid", hs256_confusion),
        ("garbage", "not.a.token".to_string()),
    ];
    for (name, token) in &cases {
        let r = call(&gw, "/jwt", token);
        assert_eq!(r.status, 401, "{name}: {}", String::from_utf8_lossy(&r.body));
        let challenge = r.header("www-authenticate").unwrap();
        assert!(challenge.starts_with("Bearer realm=\"apisix\""), "{name}: {challenge}");
    }
    let r = get(gw.addr, "/jwt", &[]);
    assert_eq!((r.status, r.header("www-authenticate")), (401, Some("Bearer realm=\"apisix\"")));
    assert_eq!(get(gw.addr, "/jwt", &[("Authorization", "foo")]).status, 400);

    // Scope and audience rules: 403.
    let r = call(&gw, "/admin", &idp.jwt("read", RESOURCE));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "required scopes admin not present");
    assert_eq!(call(&gw, "/admin", &idp.jwt("read admin", RESOURCE)).status, 200);
    let hits_before_aud = echo.hits();
    assert_eq!(
        call(&gw, "/aud", &idp.jwt("read", RESOURCE)).status,
        403,
        "aud is the resource, not the client id"
    );
    assert_eq!(echo.hits(), hits_before_aud);
    assert_eq!(echo.hits(), hits + 1, "only the admin-scoped request reached the upstream");

    // claim_schema is enforced (APISIX: 401 invalid_token), after the signature.
    let hits = echo.hits();
    let r = call(&gw, "/schema", &idp.sign(base.clone(), "ES256", json!({})));
    assert_eq!(r.status, 401, "a token without the required claim");
    assert!(r.header("www-authenticate").unwrap().contains("invalid_token"));
    let r = call(&gw, "/schema", &idp.sign(with("email", json!(42)), "ES256", json!({})));
    assert_eq!(r.status, 401, "a claim of the wrong type");
    assert_eq!(echo.hits(), hits, "nothing reached the upstream");
    let r = call(&gw, "/schema", &idp.sign(with("email", json!("a@b.test")), "ES256", json!({})));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // Bearer tokens have their own clock skew (bearer_clock_skew, default 10 s), not the ID
    // token's 120 s iat_slack.
    let r = call(&gw, "/jwt", &idp.sign(with("exp", json!(now() - 60)), "ES256", json!({})));
    assert_eq!(r.status, 401, "expired a minute ago");
    let r = call(&gw, "/jwt", &idp.sign(with("exp", json!(now() - 2)), "ES256", json!({})));
    assert_eq!(r.status, 200, "within the clock skew");

    // The access log has a line per request, with no token in it.
    let log = std::fs::read_to_string(&gw.access_log).unwrap();
    assert!(log.lines().count() >= 12);
    assert!(!log.contains(&token[..40]), "the access log must never contain a token");
    assert!(log.contains("\"reason\":\"token_expired\""));
    assert!(log.contains("\"reason\":\"claim_schema_violation\""));
}

#[test]
fn introspection() {
    let idp = Idp::start();
    let echo = Echo::start();
    let gw = Gateway::start(&routes(&idp, &echo), &idp.ca);
    let token = idp.opaque("read");
    let r = call(&gw, "/introspect", &token);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let seen = r.json();
    let userinfo = base64::engine::general_purpose::STANDARD
        .decode(seen["headers"]["x-userinfo"].as_str().unwrap())
        .unwrap();
    let userinfo: Value = serde_json::from_slice(&userinfo).unwrap();
    assert_eq!(userinfo["active"], true);
    assert_eq!(userinfo["client_id"], "opaque-client");
    // Unknown and revoked tokens are inactive: 401. (A fresh gateway, so nothing is cached.)
    assert_eq!(call(&gw, "/introspect", "no-such-token").status, 401);
    let revoked = idp.opaque("read");
    idp.revoke(&revoked);
    assert_eq!(call(&gw, "/introspect", &revoked).status, 401);
}

#[test]
fn idp_outage_rotation_large_bodies_and_reload() {
    let mut idp = Idp::start();
    let echo = Echo::start();
    let gw = Gateway::start(&routes(&idp, &echo), &idp.ca);

    // Rotation: a token signed with a key published after the JWKS was cached is accepted
    // (one refetch for its new kid).
    assert_eq!(call(&gw, "/jwt", &idp.jwt("read", RESOURCE)).status, 200);
    let kid = idp.rotate();
    let rotated = idp.jwt("read", RESOURCE);
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(rotated.split('.').next().unwrap())
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&header).unwrap()["kid"], kid.as_str());
    // Both workers may need to refetch; each does so once. Enough connections that the
    // kernel's SO_REUSEPORT hashing reaches both workers (all 16 on one: p = 2^-15).
    for _ in 0..16 {
        assert_eq!(call(&gw, "/jwt", &rotated).status, 200);
    }

    // A 10 MiB body streams through.
    let body: Vec<u8> = (0..10 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let r = request(gw.addr, "POST", "/jwt/upload", &[("Authorization", &bearer(&rotated))], &body);
    assert_eq!(r.status, 200);
    let seen = r.json();
    assert_eq!(seen["body_len"], body.len());
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(seen["body_sha256"], digest.as_str());

    // The IdP goes away: tokens signed with known keys keep working on the cached keys.
    let fresh = idp.jwt("read", RESOURCE);
    idp.stop();
    for _ in 0..4 {
        let r = call(&gw, "/jwt", &fresh);
        let log = std::fs::read_to_string(&gw.access_log).unwrap_or_default();
        assert_eq!(r.status, 200, "{}", log.lines().last().unwrap_or(""));
    }
    // Introspection needs the IdP: 503 with Retry-After, not 401.
    let r = call(&gw, "/introspect", "some-opaque-token");
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());

    // SIGHUP: a new route appears; a broken file is refused and the old config stays.
    assert_eq!(get(gw.addr, "/new", &[]).status, 404);
    let mut routes = routes(&idp, &echo);
    routes += &format!(
        "  - id: new\n    uri: /new\n    upstream:\n      nodes:\n        \"{}\": 1\n",
        echo.addr
    );
    assert_eq!(gw.reload(&routes), Reload::Applied, "{}", gw.stderr());
    let until = Instant::now() + Duration::from_secs(10);
    while get(gw.addr, "/new", &[]).status != 200 {
        assert!(Instant::now() < until, "reload not picked up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let refused = gw.reload("routes: [{uri: 5}]\n");
    assert!(matches!(refused, Reload::Refused(_)), "a bad file must be refused: {refused:?}");
    assert_eq!(
        get(gw.addr, "/new", &[]).status,
        200,
        "a bad config must not replace the running one"
    );

    // SIGTERM drains and exits cleanly.
    let status = gw.terminate();
    assert!(status.success(), "{status:?}");
}
