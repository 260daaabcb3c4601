//! Configuration loading and validation, mirroring APISIX's `openid-connect` schema tests
//! (`t/plugin/openid-connect*.t`, reference §d.1) plus the loader's own guarantees: every
//! problem is reported, each by its full path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use oidc_core::claim_schema::{ClaimSchema, SchemaCompiler, SchemaViolation};
use oidc_core::config::{
    AuthMethod, ConfigError, ConfigErrors, OidcConfig, SameSite, SessionStorage, UnauthAction,
};
use serde_json::{Value, json};

const DISCOVERY: &str = "https://idp.example/.well-known/openid-configuration";
const SECRET: &str = "a-session-secret-of-32-characters";
/// Test keys made with openssl; `data/config-keys/README.md` says how.
const PEM_KEY: &str = include_str!("data/config-keys/rsa2048.pkcs8.pem");
const RSA_PKCS1: &str = include_str!("data/config-keys/rsa2048.pkcs1.pem");
const RSA_OTHER: &str = include_str!("data/config-keys/rsa2048-other.pkcs8.pem");
const RSA_1024: &str = include_str!("data/config-keys/rsa1024.pkcs1.pem");
const RSA_4096: &str = include_str!("data/config-keys/rsa4096.pkcs8.pem");
const RSA_PSS: &str = include_str!("data/config-keys/rsapss.pkcs8.pem");
const P256_KEY: &str = include_str!("data/config-keys/p256.pkcs8.pem");
const P256_SEC1: &str = include_str!("data/config-keys/p256.sec1.pem");
const P256_OTHER: &str = include_str!("data/config-keys/p256-other.pkcs8.pem");
const P384_KEY: &str = include_str!("data/config-keys/p384.pkcs8.pem");
const P384_SEC1: &str = include_str!("data/config-keys/p384.sec1.pem");
const ED25519_KEY: &str = include_str!("data/config-keys/ed25519.pkcs8.pem");

/// The public JWKs of the test keys, derived by openssl (`public-jwks.json`).
fn public_jwk(name: &str) -> Value {
    let all: Value =
        serde_json::from_str(include_str!("data/config-keys/public-jwks.json")).unwrap();
    all[name].clone()
}

fn load(v: Value) -> Result<OidcConfig, ConfigErrors> {
    OidcConfig::from_value(&v, "")
}

fn ok(v: Value) -> OidcConfig {
    match load(v) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

fn errors(v: Value) -> Vec<ConfigError> {
    match load(v) {
        Ok(_) => panic!("expected the config to be refused"),
        Err(e) => e.0,
    }
}

fn err(path: &str, message: &str) -> ConfigError {
    ConfigError { path: path.into(), message: message.into() }
}

fn paths(errs: &[ConfigError]) -> Vec<&str> {
    errs.iter().map(|e| e.path.as_str()).collect()
}

/// The single error of a refused config.
fn only_error(v: Value) -> ConfigError {
    let errs = errors(v);
    assert_eq!(errs.len(), 1, "expected exactly one error, got {errs:?}");
    errs.into_iter().next().unwrap()
}

/// `{client_id, client_secret, discovery, session.secret}` merged with `extra`.
fn base(extra: Value) -> Value {
    let mut v = json!({
        "client_id": "kbyuFDidLLm280LIwVFiazOqjO3ty8KH",
        "client_secret": "60Op4HFM0I8ajz0WdiStAbziZ-VFQttXuxixHHs2R7r7-CW8GR79l-mmLqMhc-Sa",
        "discovery": DISCOVERY,
        "session": {"secret": SECRET},
    });
    merge(&mut v, extra);
    v
}

/// A bearer_only config without a secret, merged with `extra`.
fn bearer(extra: Value) -> Value {
    let mut v = json!({"client_id": "gateway", "discovery": DISCOVERY, "bearer_only": true});
    merge(&mut v, extra);
    v
}

fn merge(v: &mut Value, extra: Value) {
    for (k, x) in extra.as_object().unwrap() {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x.clone();
        }
    }
}

// --- basic schema (openid-connect.t 1-4) ---

#[test]
fn minimal_config_is_valid() {
    let c = ok(base(json!({})));
    assert_eq!(c.client_id, "kbyuFDidLLm280LIwVFiazOqjO3ty8KH");
    assert_eq!(c.discovery, DISCOVERY);
    assert_eq!(c.session.unwrap().secret.expose(), SECRET);
}

#[test]
fn debug_output_never_contains_a_secret() {
    let c = ok(base(json!({
        "client_rsa_private_key": PEM_KEY,
        "dpop": {"private_key": P256_KEY},
        "proxy_opts": {
            "https_proxy": "http://proxy.example:3128",
            "https_proxy_authorization": "Basic cHJveHktdXNlcjpwcm94eS1wYXNz",
        },
        "session": {"secret": SECRET, "storage": "redis", "redis": {"password": "redis-pass-0123"}},
    })));
    let printed = format!("{c:?}");
    let key_body = |pem: &'static str| pem.lines().nth(1).unwrap();
    for secret in [
        "60Op4HFM0I8ajz0WdiStAbziZ",
        SECRET,
        "cHJveHktdXNlcjpwcm94eS1wYXNz",
        "redis-pass-0123",
        key_body(PEM_KEY),
        key_body(P256_KEY),
    ] {
        assert!(!printed.contains(secret), "{secret} printed by Debug");
    }
    assert!(printed.contains("Secret(<redacted>)"));
    assert!(printed.contains("proxy.example"), "non-secret members still print");
}

#[test]
fn missing_client_id_is_required() {
    assert_eq!(only_error(base(json!({"client_id": null}))), err("client_id", "is required"));
}

#[test]
fn missing_discovery_is_required() {
    assert_eq!(only_error(base(json!({"discovery": null}))), err("discovery", "is required"));
}

#[test]
fn client_id_as_a_number_is_a_type_error() {
    assert_eq!(
        only_error(base(json!({"client_id": 123}))),
        err("client_id", "wrong type: expected string, got integer")
    );
}

#[test]
fn root_must_be_an_object() {
    let e = OidcConfig::from_value(&json!([1, 2]), "").unwrap_err();
    assert_eq!(e.0, vec![err("", "wrong type: expected object, got array")]);
    assert_eq!(e.to_string(), "wrong type: expected object, got array");
    let e = OidcConfig::from_value(&json!("x"), "routes[1].plugins.openid-connect").unwrap_err();
    assert_eq!(e.0[0].path, "routes[1].plugins.openid-connect");
}

#[test]
fn from_json_is_strict() {
    let dup = br#"{"client_id":"a","client_id":"b","discovery":"https://x","bearer_only":true}"#;
    let e = OidcConfig::from_json(dup).unwrap_err();
    assert_eq!(e.0, vec![err("", "duplicate JSON member name")]);
    let e = OidcConfig::from_json(b"{\"client_id\":").unwrap_err();
    assert_eq!(e.0, vec![err("", "malformed JSON")]);
}

// --- session requirement (openid-connect.t, openid-connect10.t) ---

#[test]
fn non_bearer_without_session_names_session_secret() {
    assert_eq!(
        only_error(base(json!({"session": null}))),
        err("session.secret", "is required when \"bearer_only\" is false")
    );
    // Explicit bearer_only=false, and a session object without a secret: same error.
    assert_eq!(
        only_error(base(json!({"bearer_only": false, "session": {"cookie_name": "s"}}))),
        err("session.secret", "is required when \"bearer_only\" is false")
    );
}

#[test]
fn short_session_secret_is_refused() {
    assert_eq!(
        only_error(base(json!({"session": {"secret": "too-short"}}))),
        err("session.secret", "must be at least 16 characters long")
    );
    // minLength counts characters: 16 two-byte characters pass.
    ok(base(json!({"session": {"secret": "éééééééééééééééé"}})));
}

#[test]
fn bearer_only_without_session_is_valid() {
    let c = ok(base(json!({"bearer_only": true, "session": null})));
    assert!(c.bearer_only);
    assert_eq!(c.session, None, "no session is generated");
}

#[test]
fn session_unknown_key_is_refused() {
    let e = only_error(base(json!({"session": {"secret": SECRET, "remember": true}})));
    assert_eq!(e.path, "session.remember");
    assert!(e.message.contains("not allowed"), "{e}");
}

#[test]
fn session_flat_options_are_read() {
    let c = ok(base(json!({"session": {
        "secret": SECRET, "cookie_name": "custom_session", "cookie_path": "/app",
        "cookie_domain": "example.com", "cookie_secure": true, "cookie_http_only": false,
        "cookie_same_site": "Strict", "idling_timeout": 0, "rolling_timeout": 60,
        "absolute_timeout": 5,
    }})));
    let s = c.session.unwrap();
    assert_eq!(s.cookie_name, "custom_session");
    assert_eq!(s.cookie_path, "/app");
    assert_eq!(s.cookie_domain.as_deref(), Some("example.com"));
    assert_eq!(s.cookie_secure, Some(true));
    assert!(!s.cookie_http_only);
    assert_eq!(s.cookie_same_site, SameSite::Strict);
    assert_eq!((s.idling_timeout, s.rolling_timeout, s.absolute_timeout), (0, 60, 5));
}

#[test]
fn deprecated_cookie_lifetime_maps_to_absolute_timeout() {
    let s = ok(base(json!({"session": {"secret": SECRET, "cookie": {"lifetime": 7200}}})))
        .session
        .unwrap();
    assert_eq!(s.absolute_timeout, 7200);
    // absolute_timeout wins over lifetime.
    let s = ok(base(json!({"session": {
        "secret": SECRET, "absolute_timeout": 60, "cookie": {"lifetime": 7200}
    }})))
    .session
    .unwrap();
    assert_eq!(s.absolute_timeout, 60);
    // A missing cookie table: the default.
    let s = ok(base(json!({}))).session.unwrap();
    assert_eq!(s.absolute_timeout, 86_400);
}

#[test]
fn string_cookie_lifetime_is_a_type_error() {
    assert_eq!(
        only_error(base(json!({"session": {"secret": SECRET, "cookie": {"lifetime": "7200"}}}))),
        err("session.cookie.lifetime", "wrong type: expected integer, got string")
    );
}

#[test]
fn bogus_cookie_same_site_is_refused() {
    assert_eq!(
        only_error(base(json!({"session": {"secret": SECRET, "cookie_same_site": "bogus"}}))),
        err("session.cookie_same_site", "must be one of: Strict, Lax, None, Default")
    );
}

// --- redis (openid-connect-redis.t) ---

#[test]
fn redis_storage_without_redis_object_is_refused() {
    assert_eq!(
        only_error(base(json!({"session": {"secret": SECRET, "storage": "redis"}}))),
        err("session.redis", "is required when \"storage\" is \"redis\"")
    );
}

#[test]
fn valid_redis_config_is_read_with_defaults() {
    let s = ok(base(json!({"session": {
        "secret": SECRET, "storage": "redis",
        "redis": {"host": "10.0.0.5", "port": 6380, "password": "pw", "database": 2, "ssl": true}
    }})))
    .session
    .unwrap();
    assert_eq!(s.storage, SessionStorage::Redis);
    let r = s.redis.unwrap();
    assert_eq!((r.host.as_str(), r.port, r.database), ("10.0.0.5", 6380, 2));
    assert_eq!(r.password.as_deref(), Some("pw"));
    assert!(r.ssl && r.ssl_verify);
    assert_eq!(r.prefix, "sessions");
    assert_eq!(
        (r.connect_timeout, r.send_timeout, r.read_timeout, r.keepalive_timeout),
        (1000, 1000, 1000, 10_000)
    );
}

#[test]
fn redis_field_types_are_checked() {
    let errs = errors(base(json!({"session": {
        "secret": SECRET, "storage": "redis",
        "redis": {"host": 1, "port": "6379", "database": -1, "ssl": "yes"}
    }})));
    assert_eq!(
        errs,
        vec![
            err("session.redis.host", "wrong type: expected string, got integer"),
            err("session.redis.port", "wrong type: expected integer, got string"),
            err("session.redis.database", "must be at least 0"),
            err("session.redis.ssl", "wrong type: expected boolean, got string"),
        ]
    );
    assert_eq!(
        only_error(base(json!({"session": {"secret": SECRET, "redis": {"port": 0}}}))),
        err("session.redis.port", "must be at least 1")
    );
    assert_eq!(
        only_error(base(json!({"session": {"secret": SECRET, "redis": {"port": 65536}}}))),
        err("session.redis.port", "must be at most 65535")
    );
}

// --- client_secret requirement (openid-connect.t 42-50) ---

#[test]
fn client_secret_optional_cases() {
    // 42: bearer + public_key.
    ok(bearer(json!({"public_key": "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----"})));
    // 43: bearer + use_jwks.
    ok(bearer(json!({"use_jwks": true})));
    // 45: bearer + introspection private_key_jwt (we also need the key it signs with).
    ok(bearer(json!({
        "introspection_endpoint_auth_method": "private_key_jwt",
        "client_rsa_private_key": PEM_KEY,
    })));
    // 46: non-bearer, token endpoint private_key_jwt.
    ok(base(json!({
        "client_secret": null, "use_pkce": false,
        "token_endpoint_auth_method": "private_key_jwt",
        "client_rsa_private_key": PEM_KEY,
    })));
    // 48: non-bearer + use_pkce.
    ok(base(json!({"client_secret": null, "use_pkce": true})));
    // Our default use_pkce=true makes a non-bearer config without a secret a public client.
    let c = ok(base(json!({"client_secret": null})));
    assert!(c.use_pkce && c.client_secret.is_none());
}

#[test]
fn client_secret_required_cases() {
    let required = |v: Value| {
        let e = only_error(v);
        assert_eq!(e.path, "client_secret");
        assert!(e.message.starts_with("is required"), "{e}");
    };
    // 44: bearer with introspection (default client_secret_basic).
    required(bearer(json!({"introspection_endpoint": "https://idp.example/introspect"})));
    // 47: non-bearer default (APISIX's use_pkce=false).
    required(base(json!({"client_secret": null, "use_pkce": false})));
    // 49: bearer introspection with only the *token* method set to private_key_jwt.
    required(bearer(json!({
        "token_endpoint_auth_method": "private_key_jwt",
        "client_rsa_private_key": PEM_KEY,
    })));
    // 50: non-bearer with only the *introspection* method set to private_key_jwt.
    required(base(json!({
        "client_secret": null, "use_pkce": false,
        "introspection_endpoint_auth_method": "private_key_jwt",
        "client_rsa_private_key": PEM_KEY,
    })));
}

// --- client authentication credentials and assertion algorithm (71-72, 78, 81) ---

#[test]
fn private_key_jwt_needs_a_key_on_reachable_endpoints() {
    assert_eq!(
        only_error(base(json!({"token_endpoint_auth_method": "private_key_jwt"}))),
        err(
            "client_rsa_private_key",
            "is required when \"token_endpoint_auth_method\" is \"private_key_jwt\""
        )
    );
    assert_eq!(
        only_error(bearer(json!({"introspection_endpoint_auth_method": "private_key_jwt"}))),
        err(
            "client_rsa_private_key",
            "is required when \"introspection_endpoint_auth_method\" is \"private_key_jwt\""
        )
    );
    // Never reached: the token endpoint of a bearer_only route, introspection of a route that
    // verifies locally.
    ok(bearer(json!({"token_endpoint_auth_method": "private_key_jwt", "use_jwks": true})));
    ok(base(json!({"introspection_endpoint_auth_method": "private_key_jwt"})));
}

#[test]
fn client_secret_jwt_needs_the_secret() {
    assert_eq!(
        only_error(base(
            json!({"client_secret": null, "token_endpoint_auth_method": "client_secret_jwt"})
        )),
        err(
            "client_secret",
            "is required when \"token_endpoint_auth_method\" is \"client_secret_jwt\""
        )
    );
}

#[test]
fn client_private_key_must_be_pem() {
    assert_eq!(
        only_error(base(json!({"client_rsa_private_key": "not a key"}))),
        err(
            "client_rsa_private_key",
            "must be a PEM private key (\"-----BEGIN ... PRIVATE KEY-----\")"
        )
    );
    // A malformed key is reported once, not again as missing.
    assert_eq!(
        paths(&errors(base(json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "client_rsa_private_key": "-----BEGIN PUBLIC KEY-----\nAA\n-----END PUBLIC KEY-----",
        })))),
        vec!["client_rsa_private_key"]
    );
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA\n-----END ENCRYPTED PRIVATE KEY-----";
    assert_eq!(
        only_error(base(json!({"client_rsa_private_key": encrypted}))).message,
        "encrypted PEM private keys are not supported"
    );
    // Line endings from Windows editors are fine; the text is kept as given.
    let rsa = RSA_PKCS1.replace('\n', "\r\n");
    assert_eq!(
        ok(base(json!({"client_rsa_private_key": rsa}))).client_rsa_private_key.as_deref(),
        Some(rsa.as_str())
    );
}

#[test]
fn assertion_alg_enum_and_family() {
    // 63: PS256 is not in the enum.
    assert_eq!(
        only_error(base(json!({"client_jwt_assertion_alg": "PS256"}))),
        err("client_jwt_assertion_alg", "must be one of: HS256, HS512, RS256, RS512, ES256")
    );
    // 71: a symmetric alg with private_key_jwt ...
    let e = only_error(base(json!({
        "token_endpoint_auth_method": "private_key_jwt",
        "client_rsa_private_key": PEM_KEY,
        "client_jwt_assertion_alg": "HS256",
    })));
    assert_eq!(e.path, "client_jwt_assertion_alg");
    assert!(e.message.contains("private_key_jwt"), "{e}");
    // ... an asymmetric alg with client_secret_jwt ...
    let e = only_error(base(json!({
        "token_endpoint_auth_method": "client_secret_jwt",
        "client_jwt_assertion_alg": "ES256",
    })));
    assert_eq!(e.path, "client_jwt_assertion_alg");
    // ... and both families reachable at once.
    let both = json!({
        "introspection_endpoint": "https://idp.example/introspect",
        "token_endpoint_auth_method": "private_key_jwt",
        "client_rsa_private_key": PEM_KEY,
        "introspection_endpoint_auth_method": "client_secret_jwt",
        "client_jwt_assertion_alg": "RS256",
    });
    assert_eq!(paths(&errors(base(both.clone()))), vec!["client_jwt_assertion_alg"]);
    // 72: with no alg set both families are allowed.
    let mut no_alg = both;
    no_alg["client_jwt_assertion_alg"] = Value::Null;
    ok(base(no_alg));
    // 78/81: an endpoint never reached cannot conflict (bearer_only: no token endpoint).
    ok(bearer(json!({
        "client_secret": "s",
        "introspection_endpoint_auth_method": "client_secret_jwt",
        "token_endpoint_auth_method": "private_key_jwt",
        "client_jwt_assertion_alg": "HS512",
    })));
}

// --- refused at load because they cannot work at request time ---

/// The message for an https:// proxy URL.
const HTTPS_PROXY: &str = "must be an http:// URL: the connection to the proxy is plain HTTP \
     (requests to https identity providers still go through it in an end-to-end TLS tunnel)";

#[test]
fn proxy_urls_must_be_http_host_port() {
    for key in ["http_proxy", "https_proxy"] {
        let path = format!("proxy_opts.{key}");
        for (url, message) in [
            ("proxy:3128", "must be a URL of the form http://host[:port] (the scheme is missing)"),
            ("garbage", "must be a URL of the form http://host[:port] (the scheme is missing)"),
            ("https://proxy:3128", HTTPS_PROXY),
            (
                "socks5://proxy:1080",
                "must be a URL of the form http://host[:port] (only the http scheme is supported)",
            ),
            (
                "HTTP://proxy:3128",
                "must be a URL of the form http://host[:port] (write the scheme in lower case)",
            ),
            (
                "http://user:pass@proxy:3128",
                "must not contain credentials (user:password@); set http_proxy_authorization / \
                 https_proxy_authorization instead",
            ),
            (
                "http://proxy:3128/squid",
                "must be a URL of the form http://host[:port] (no path, query or fragment)",
            ),
            ("http://:3128", "must be a URL of the form http://host[:port] (the host is missing)"),
            ("http://proxy:0", "has an invalid port (expected 1-65535)"),
            ("http://proxy:65536", "has an invalid port (expected 1-65535)"),
            ("http://pro xy:3128", "has an invalid host name"),
            ("http://[fe80::1%eth0]:3128", "has an invalid IPv6 address between [ and ]"),
        ] {
            assert_eq!(
                only_error(base(json!({"proxy_opts": {key: url}}))),
                err(&path, message),
                "{url}"
            );
        }
    }
    let c = ok(base(json!({"proxy_opts": {
        "http_proxy": "http://10.0.0.1:3128",
        "https_proxy": "http://[2001:db8::1]:8080/",
        "no_proxy": "localhost,.internal",
    }})));
    let p = c.proxy_opts.unwrap();
    assert_eq!(p.http_proxy.as_deref(), Some("http://10.0.0.1:3128"));
    assert_eq!(p.https_proxy.as_deref(), Some("http://[2001:db8::1]:8080/"));
    ok(base(json!({"proxy_opts": {"https_proxy": "http://proxy.corp.example"}})));
}

#[test]
fn proxy_url_errors_are_path_named_and_never_show_credentials() {
    let e = OidcConfig::from_value(
        &bearer(json!({"use_jwks": true,
                       "proxy_opts": {"https_proxy": "http://alice:s3cr3t-pw@proxy:3128"}})),
        "routes[2].plugins.openid-connect",
    )
    .unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].path, "routes[2].plugins.openid-connect.proxy_opts.https_proxy");
    let text = e.to_string();
    assert!(!text.contains("s3cr3t-pw") && !text.contains("alice"), "{text}");
}

#[test]
fn bearer_clock_skew_defaults_to_10_seconds_and_is_bounded() {
    let c = ok(base(json!({})));
    assert_eq!((c.bearer_clock_skew, c.iat_slack), (10, 120));
    assert_eq!(oidc_core::config::BEARER_CLOCK_SKEW_DEFAULT, 10);
    assert_eq!(oidc_core::config::BEARER_CLOCK_SKEW_MAX, 300);
    let b = |skew: Value| bearer(json!({"use_jwks": true, "bearer_clock_skew": skew}));
    assert_eq!(ok(b(json!(0))).bearer_clock_skew, 0);
    assert_eq!(ok(b(json!(300))).bearer_clock_skew, 300);
    // Independent of iat_slack, in both directions.
    let c = ok(bearer(json!({"use_jwks": true, "iat_slack": 5, "bearer_clock_skew": 30})));
    assert_eq!((c.bearer_clock_skew, c.iat_slack), (30, 5));
    assert_eq!(only_error(b(json!(301))), err("bearer_clock_skew", "must be at most 300"));
    assert_eq!(only_error(b(json!(-1))), err("bearer_clock_skew", "must be at least 0"));
    assert_eq!(
        only_error(b(json!("10"))),
        err("bearer_clock_skew", "wrong type: expected integer, got string")
    );
    assert_eq!(
        only_error(b(json!(1.5))),
        err("bearer_clock_skew", "wrong type: expected integer, got number")
    );
}

const NOT_A_KEY: &str = "is not a valid private key (its PEM or DER encoding does not decode, or \
     its numbers do not form a key)";
const ONLY_RSA_P256: &str =
    "only RSA keys (RS256, RS512, PS256) and P-256 EC keys (ES256) are supported";

#[test]
fn client_private_key_must_parse_as_a_usable_key() {
    let key_error = |pem: &str| only_error(base(json!({"client_rsa_private_key": pem})));
    let at = |message: String| err("client_rsa_private_key", &message);
    // The right shape, but a truncated body: what config accepted before.
    let truncated = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n\
                     -----END PRIVATE KEY-----\n";
    assert_eq!(key_error(truncated), at(NOT_A_KEY.into()));
    assert_eq!(
        key_error("-----BEGIN RSA PRIVATE KEY-----\n!!!!\n-----END RSA PRIVATE KEY-----"),
        at(NOT_A_KEY.into())
    );
    // A PKCS#1 label around a PKCS#8 body.
    let relabelled = PEM_KEY.replace("PRIVATE KEY", "RSA PRIVATE KEY");
    assert_eq!(key_error(&relabelled), at(NOT_A_KEY.into()));
    assert_eq!(
        key_error("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----"),
        at("must be a PKCS#8 \"PRIVATE KEY\", PKCS#1 \"RSA PRIVATE KEY\" or SEC1 \
            \"EC PRIVATE KEY\" PEM block"
            .into())
    );
    for (pem, kind) in [
        (P384_KEY, "a P-384 EC key"),
        (P384_SEC1, "a P-384 EC key"),
        (ED25519_KEY, "an Ed25519 key"),
        (RSA_PSS, "an RSASSA-PSS-only key (use an rsaEncryption RSA key)"),
    ] {
        assert_eq!(key_error(pem), at(format!("is {kind}; {ONLY_RSA_P256}")), "{kind}");
    }
    assert_eq!(
        key_error(RSA_1024),
        at("is a 1024-bit RSA key; RSA keys must have 2048 to 8192 bits".into())
    );
    // Usable keys, in every supported encoding; the text is kept as given.
    for pem in [PEM_KEY, RSA_PKCS1, RSA_4096, P256_KEY, P256_SEC1] {
        let c = ok(base(json!({"client_rsa_private_key": pem})));
        assert_eq!(c.client_rsa_private_key.as_deref(), Some(pem));
    }
    // A key that cannot work is refused even while no endpoint uses private_key_jwt, and the
    // error never shows key material.
    let e = key_error(truncated);
    assert!(!e.message.contains("MIGHAgEA"), "{e}");
}

#[test]
fn assertion_alg_must_be_implemented_and_fit_the_key() {
    let with = |alg: &str, key: &str| {
        base(json!({"token_endpoint_auth_method": "private_key_jwt",
                    "client_rsa_private_key": key, "client_jwt_assertion_alg": alg}))
    };
    assert_eq!(
        only_error(with("ES256", PEM_KEY)),
        err(
            "client_rsa_private_key",
            "is an RSA key, but client_jwt_assertion_alg \"ES256\" needs a P-256 EC key"
        )
    );
    for alg in ["RS256", "RS512"] {
        assert_eq!(
            only_error(with(alg, P256_KEY)),
            err(
                "client_rsa_private_key",
                &format!(
                    "is a P-256 EC key, but client_jwt_assertion_alg \"{alg}\" needs an RSA key"
                )
            )
        );
    }
    // ES256 with a P-384 key: the key itself is refused, once.
    assert_eq!(
        only_error(with("ES256", P384_KEY)),
        err("client_rsa_private_key", &format!("is a P-384 EC key; {ONLY_RSA_P256}"))
    );
    // APISIX's ES512: the signer does not implement it.
    assert_eq!(
        only_error(with("ES512", P256_KEY)),
        err(
            "client_jwt_assertion_alg",
            "\"ES512\" is not supported: client assertions are signed with RS256, RS512 or ES256 \
             (P-256), or HS256 or HS512 for client_secret_jwt"
        )
    );
    // Not in the enum at all (no silent HS256 fallback).
    assert_eq!(
        only_error(base(json!({"token_endpoint_auth_method": "client_secret_jwt",
                               "client_jwt_assertion_alg": "HS384"}))),
        err("client_jwt_assertion_alg", "must be one of: HS256, HS512, RS256, RS512, ES256")
    );
    // A key/alg contradiction is refused even when no endpoint signs with it yet.
    assert_eq!(
        only_error(base(json!({"client_rsa_private_key": P256_KEY,
                               "client_jwt_assertion_alg": "RS256"})))
        .path,
        "client_rsa_private_key"
    );
    // Fitting pairs, and no alg (the signer takes the key's own).
    for (alg, key) in [
        ("ES256", P256_KEY),
        ("ES256", P256_SEC1),
        ("RS256", PEM_KEY),
        ("RS512", RSA_PKCS1),
        ("RS256", RSA_4096),
    ] {
        ok(with(alg, key));
    }
    for key in [PEM_KEY, P256_SEC1] {
        let mut v = with("RS256", key);
        v["client_jwt_assertion_alg"] = Value::Null;
        merge(&mut v, json!({"client_jwt_assertion_alg": null}));
        ok(v);
    }
    // HS* with a staged key and client_secret_jwt: the key is not used, so it may be any type.
    ok(base(json!({"token_endpoint_auth_method": "client_secret_jwt",
                   "client_rsa_private_key": P256_KEY, "client_jwt_assertion_alg": "HS512"})));
}

#[test]
fn dpop_private_key_and_public_jwk_must_be_one_pair() {
    let dpop = |alg: &str, key: &str, jwk: Value| {
        base(json!({"dpop": {"enabled": true, "signing_alg": alg, "private_key": key,
                             "public_jwk": jwk}}))
    };
    const MISMATCH: &str = "does not match dpop.private_key: it must be that key's public half";
    // Matching pairs, in each encoding and algorithm.
    ok(dpop("ES256", P256_KEY, public_jwk("p256")));
    ok(dpop("ES256", P256_SEC1, public_jwk("p256")));
    ok(dpop("RS256", PEM_KEY, public_jwk("rsa2048")));
    ok(dpop("PS256", RSA_PKCS1, public_jwk("rsa2048")));
    ok(dpop("RS256", RSA_OTHER, public_jwk("rsa2048-other")));
    ok(dpop("ES256", P256_OTHER, public_jwk("p256-other")));
    // Two keys of the right type that are not one pair.
    assert_eq!(
        only_error(dpop("ES256", P256_KEY, public_jwk("p256-other"))),
        err("dpop.public_jwk", MISMATCH)
    );
    assert_eq!(
        only_error(dpop("RS256", PEM_KEY, public_jwk("rsa2048-other"))),
        err("dpop.public_jwk", MISMATCH)
    );
    let mut swapped = public_jwk("p256");
    let x = swapped["x"].clone();
    swapped["x"] = swapped["y"].clone();
    swapped["y"] = x;
    assert_eq!(only_error(dpop("ES256", P256_KEY, swapped)), err("dpop.public_jwk", MISMATCH));
    let mut other_e = public_jwk("rsa2048");
    other_e["e"] = json!("Aw");
    assert_eq!(only_error(dpop("RS256", PEM_KEY, other_e)), err("dpop.public_jwk", MISMATCH));
    // The private key's type must fit the algorithm.
    assert_eq!(
        only_error(dpop("ES256", PEM_KEY, public_jwk("p256"))),
        err("dpop.private_key", "is an RSA key, but signing_alg ES256 needs a P-256 EC key")
    );
    assert_eq!(
        only_error(dpop("PS256", P256_KEY, public_jwk("rsa2048"))),
        err("dpop.private_key", "is a P-256 EC key, but signing_alg PS256 needs an RSA key")
    );
    // Undecodable members.
    let mut bad = public_jwk("p256");
    bad["x"] = json!("not base64url!");
    assert_eq!(
        only_error(dpop("ES256", P256_KEY, bad)),
        err("dpop.public_jwk.x", "is not valid base64url")
    );
    // A private key that does not parse is refused even while DPoP is disabled; a mismatched
    // pair may be staged (APISIX checks pairs once enabled).
    assert_eq!(
        only_error(base(json!({"dpop": {"enabled": false, "private_key": P384_KEY}}))),
        err("dpop.private_key", &format!("is a P-384 EC key; {ONLY_RSA_P256}"))
    );
    ok(base(json!({"dpop": {"enabled": false, "signing_alg": "ES256", "private_key": P256_KEY,
                            "public_jwk": public_jwk("p256-other")}})));
}

#[test]
fn unknown_auth_method_is_refused() {
    for key in ["token_endpoint_auth_method", "introspection_endpoint_auth_method"] {
        assert_eq!(
            only_error(base(json!({key: "tls_client_auth"}))),
            err(
                key,
                "must be one of: client_secret_basic, client_secret_post, private_key_jwt, client_secret_jwt"
            )
        );
    }
}

// --- PAR and DPoP (51a-55e, 67-79) ---

#[test]
fn flat_par_and_dpop_names_are_refused() {
    let cases = [
        ("use_par", json!(true), "par.enabled"),
        ("pushed_authorization_request_endpoint", json!("https://idp.example/par"), "par.endpoint"),
        (
            "pushed_authorization_request_endpoint_auth_method",
            json!("client_secret_post"),
            "par.endpoint_auth_method",
        ),
        ("use_dpop", json!(true), "dpop.enabled"),
        ("dpop_signing_alg", json!("ES256"), "dpop.signing_alg"),
        ("dpop_private_key", json!(PEM_KEY), "dpop.private_key"),
        ("dpop_public_jwk", json!({"kty": "EC"}), "dpop.public_jwk"),
    ];
    for (name, value, nested) in cases {
        assert_eq!(
            only_error(base(json!({name: value}))),
            err(name, &format!("is not allowed, use {nested} instead"))
        );
    }
}

/// The public JWK of `P256_KEY`.
fn ec_jwk() -> Value {
    public_jwk("p256")
}

#[test]
fn full_par_and_dpop_combination_is_accepted() {
    let c = ok(base(json!({
        "par": {"enabled": true, "endpoint": "https://idp.example/par",
                "endpoint_auth_method": "client_secret_post"},
        "dpop": {"enabled": true, "signing_alg": "ES256", "private_key": P256_KEY,
                 "public_jwk": ec_jwk()},
    })));
    let par = c.par.unwrap();
    assert!(par.enabled);
    assert_eq!(par.endpoint_auth_method, Some(AuthMethod::ClientSecretPost));
    let dpop = c.dpop.unwrap();
    assert!(dpop.enabled);
    assert_eq!(dpop.signing_alg, "ES256");
    assert_eq!(dpop.public_jwk, Some(ec_jwk()));
    // par.enabled without an endpoint (taken from discovery) is valid.
    let par = ok(base(json!({"par": {"enabled": true}}))).par.unwrap();
    assert_eq!((par.endpoint, par.endpoint_auth_method), (None, None));
}

#[test]
fn dpop_hs256_is_refused() {
    assert_eq!(
        only_error(base(json!({"dpop": {"signing_alg": "HS256"}}))),
        err("dpop.signing_alg", "must be one of: ES256, RS256, PS256")
    );
}

#[test]
fn dpop_enabled_needs_key_material() {
    assert_eq!(
        errors(base(json!({"dpop": {"enabled": true}}))),
        vec![
            err("dpop.private_key", "is required when \"dpop.enabled\" is true"),
            err("dpop.public_jwk", "is required when \"dpop.enabled\" is true"),
        ]
    );
    // Staged material while disabled is fine, and the default alg is ES256.
    let d = ok(base(json!({"dpop": {"enabled": false, "private_key": PEM_KEY}}))).dpop.unwrap();
    assert_eq!(d.signing_alg, "ES256");
}

#[test]
fn dpop_public_jwk_with_private_member_is_refused() {
    let mut jwk = ec_jwk();
    jwk["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    let e = only_error(base(json!({"dpop": {"enabled": false, "public_jwk": jwk}})));
    assert_eq!(e.path, "dpop.public_jwk.d");
    assert!(e.message.contains("private"), "{e}");
}

#[test]
fn dpop_public_jwk_must_fit_the_alg() {
    let dpop = |alg: &str, jwk: Value| {
        let key = if alg == "ES256" { P256_KEY } else { PEM_KEY };
        base(json!({"dpop": {"enabled": true, "signing_alg": alg, "private_key": key,
                             "public_jwk": jwk}}))
    };
    // RS256 needs an RSA key.
    assert_eq!(only_error(dpop("RS256", ec_jwk())).path, "dpop.public_jwk.kty");
    ok(dpop("PS256", public_jwk("rsa2048")));
    // ES256 needs P-256.
    let mut p384 = ec_jwk();
    p384["crv"] = json!("P-384");
    assert_eq!(only_error(dpop("ES256", p384)).path, "dpop.public_jwk.crv");
    // OKP is unsupported.
    assert_eq!(
        only_error(dpop("ES256", json!({"kty": "OKP", "crv": "Ed25519", "x": "AA"}))).path,
        "dpop.public_jwk.kty"
    );
    // Members are non-empty strings.
    assert_eq!(
        errors(dpop("RS256", json!({"kty": "RSA", "n": "", "e": 65537}))),
        vec![
            err("dpop.public_jwk.n", "must not be empty"),
            err("dpop.public_jwk.e", "wrong type: expected string, got integer"),
        ]
    );
    // Not an object at all.
    assert_eq!(
        only_error(base(json!({"dpop": {"public_jwk": "{}"}}))),
        err("dpop.public_jwk", "wrong type: expected object, got string")
    );
}

#[test]
fn par_explicit_method_needs_its_credential() {
    assert_eq!(
        only_error(base(
            json!({"par": {"enabled": true, "endpoint_auth_method": "private_key_jwt"}})
        )),
        err(
            "client_rsa_private_key",
            "is required when \"par.endpoint_auth_method\" is \"private_key_jwt\""
        )
    );
    assert_eq!(
        only_error(base(json!({
            "client_secret": null,
            "par": {"enabled": true, "endpoint_auth_method": "client_secret_jwt"},
        }))),
        err(
            "client_secret",
            "is required when \"par.endpoint_auth_method\" is \"client_secret_jwt\""
        )
    );
    // Disabled PAR: nothing is reached.
    ok(base(json!({"par": {"enabled": false, "endpoint_auth_method": "private_key_jwt"}})));
    // An invalid enum.
    assert_eq!(
        only_error(base(json!({"par": {"endpoint_auth_method": "none"}}))).path,
        "par.endpoint_auth_method"
    );
}

// --- other members ---

#[test]
fn valid_issuers_must_be_an_array_of_strings() {
    assert_eq!(
        only_error(base(json!({"claim_validator": {"issuer": {"valid_issuers": 123}}}))),
        err("claim_validator.issuer.valid_issuers", "wrong type: expected array, got integer")
    );
    assert_eq!(
        only_error(base(json!({"claim_validator": {"issuer": {"valid_issuers": ["a", 2]}}}))),
        err("claim_validator.issuer.valid_issuers[1]", "wrong type: expected string, got integer")
    );
    let c = ok(base(json!({"claim_validator": {
        "issuer": {"valid_issuers": ["https://a", "https://b"]},
        "audience": {"match_with_client_id": true},
    }})));
    assert_eq!(c.claim_validator.valid_issuers, ["https://a", "https://b"]);
    let aud = c.claim_validator.audience.unwrap();
    assert_eq!(aud.claim, "aud");
    assert!(!aud.required && aud.match_with_client_id);
}

#[test]
fn audience_members_are_type_checked() {
    assert_eq!(
        errors(base(json!({"claim_validator": {"audience": {"claim": 1, "required": "yes"}}}))),
        vec![
            err("claim_validator.audience.claim", "wrong type: expected string, got integer"),
            err("claim_validator.audience.required", "wrong type: expected boolean, got string"),
        ]
    );
}

#[test]
fn timeout_is_converted_to_milliseconds() {
    assert_eq!(ok(base(json!({"timeout": 3}))).timeout_ms, 3000);
    // A legacy, already-multiplied value.
    assert_eq!(ok(base(json!({"timeout": 2000}))).timeout_ms, 2000);
    assert_eq!(ok(base(json!({"timeout": 1500}))).timeout_ms, 1_500_000);
    assert_eq!(only_error(base(json!({"timeout": 0}))), err("timeout", "must be at least 1"));
    assert_eq!(
        only_error(base(json!({"timeout": 2.5}))),
        err("timeout", "wrong type: expected integer, got number")
    );
    assert_eq!(only_error(base(json!({"timeout": u64::MAX - 1}))), err("timeout", "is too large"));
}

#[test]
fn ssl_verify_legacy_no_means_false() {
    let c = ok(base(json!({"ssl_verify": "no"})));
    assert!(!c.ssl_verify);
    assert!(ok(base(json!({"ssl_verify": true}))).ssl_verify);
    assert_eq!(
        only_error(base(json!({"ssl_verify": "yes"}))),
        err("ssl_verify", "wrong type: expected boolean, got string")
    );
}

#[test]
fn token_signing_algs_accept_a_string_or_a_list() {
    assert_eq!(
        ok(base(json!({"token_signing_alg_values_expected": "RS256"})))
            .token_signing_alg_values_expected,
        ["RS256"]
    );
    assert_eq!(
        ok(base(json!({"token_signing_alg_values_expected": ["ES256", "EdDSA"]})))
            .token_signing_alg_values_expected,
        ["ES256", "EdDSA"]
    );
    assert_eq!(
        errors(base(json!({"token_signing_alg_values_expected": ["RS256", "none", "rs256", 1]}))),
        vec![
            err("token_signing_alg_values_expected[3]", "wrong type: expected string, got integer"),
            err("token_signing_alg_values_expected[1]", "\"none\" is not a signing algorithm"),
            err("token_signing_alg_values_expected[2]", "\"rs256\" is not a known JWS algorithm"),
        ]
    );
    assert_eq!(
        only_error(base(json!({"token_signing_alg_values_expected": []}))).path,
        "token_signing_alg_values_expected"
    );
    assert_eq!(
        only_error(base(json!({"token_signing_alg_values_expected": {"alg": "RS256"}}))),
        err(
            "token_signing_alg_values_expected",
            "wrong type: expected string or array, got object"
        )
    );
}

#[test]
fn introspection_addon_headers_are_header_names() {
    assert_eq!(
        ok(base(json!({"introspection_addon_headers": ["X-Tenant", "X-Request-Id"]})))
            .introspection_addon_headers,
        ["X-Tenant", "X-Request-Id"]
    );
    assert_eq!(
        only_error(base(json!({"introspection_addon_headers": []}))),
        err("introspection_addon_headers", "must have at least 1 item")
    );
    assert_eq!(
        errors(base(json!({"introspection_addon_headers": ["ok", "bad: header", ""]}))),
        vec![
            err("introspection_addon_headers[1]", "must match pattern \"^[^:]+$\""),
            err("introspection_addon_headers[2]", "must match pattern \"^[^:]+$\""),
        ]
    );
}

#[test]
fn enums_and_passthrough_members() {
    let c = ok(base(json!({
        "unauth_action": "pass", "required_scopes": ["profile"],
        "discovery_expires_in": 60, "introspection_expiry_claim": "ttl",
        "authorization_params": {"prompt": "login", "max_age": 0},
        "proxy_opts": {"https_proxy": "http://proxy:3128", "no_proxy": "localhost"},
        // Unknown root members pass through silently, as in APISIX.
        "session_contents": {"id_token": true}, "keepalive": "no",
    })));
    assert_eq!(c.unauth_action, UnauthAction::Pass);
    assert_eq!(c.required_scopes, ["profile"]);
    assert_eq!(c.discovery_expires_in, 60);
    assert_eq!(c.introspection_expiry_claim, "ttl");
    assert_eq!(c.authorization_params["max_age"], json!(0));
    assert_eq!(c.proxy_opts.unwrap().https_proxy.as_deref(), Some("http://proxy:3128"));
    assert_eq!(
        only_error(base(json!({"unauth_action": "redirect"}))),
        err("unauth_action", "must be one of: auth, deny, pass")
    );
    assert_eq!(only_error(base(json!({"iat_slack": -5}))), err("iat_slack", "must be at least 0"));
}

// --- claim_schema: compiled through the embedder's SchemaCompiler ---

/// A toy compiler for the seam's contract: it understands exactly `{"required": [names]}` and
/// refuses everything else, as a real one must refuse what it would not enforce.
#[derive(Debug)]
struct RequiredOnly;

#[derive(Debug)]
struct Required(Vec<String>);

impl ClaimSchema for Required {
    fn check(&self, claims: &serde_json::Map<String, Value>) -> Result<(), SchemaViolation> {
        match self.0.iter().position(|name| !claims.contains_key(name)) {
            None => Ok(()),
            Some(_) => Err(SchemaViolation::new("required", "/required")),
        }
    }
}

impl SchemaCompiler for RequiredOnly {
    fn compile(&self, schema: &Value) -> Result<Arc<dyn ClaimSchema>, String> {
        let obj = schema.as_object().unwrap();
        if let Some(k) = obj.keys().find(|k| *k != "required") {
            return Err(format!("uses \"{k}\", which this compiler does not enforce"));
        }
        let names = obj.get("required").and_then(Value::as_array).ok_or("needs \"required\"")?;
        Ok(Arc::new(Required(names.iter().filter_map(Value::as_str).map(String::from).collect())))
    }
}

fn with_schemas(v: Value, base: &str) -> Result<OidcConfig, ConfigErrors> {
    OidcConfig::from_value_with(&v, base, &RequiredOnly)
}

#[test]
fn claim_schema_is_compiled_and_kept_with_its_source() {
    let schema = json!({"required": ["email"]});
    let c = with_schemas(base(json!({"claim_schema": schema})), "").unwrap();
    assert_eq!(c.claim_schema, Some(schema));
    let compiled = c.compiled_claim_schema.as_ref().unwrap();
    let claims = |v: Value| v.as_object().unwrap().clone();
    assert_eq!(compiled.check(&claims(json!({"sub": "a", "email": "a@example"}))), Ok(()));
    let violation = compiled.check(&claims(json!({"sub": "a"}))).unwrap_err();
    assert_eq!(violation, SchemaViolation::new("required", "/required"));
    assert_eq!(
        violation.to_string(),
        "claims do not satisfy claim_schema: \"required\" at /required"
    );
    // A clone shares the compiled schema and compares equal; another compilation does not.
    assert_eq!(c.clone(), c);
    let again = with_schemas(base(json!({"claim_schema": {"required": ["email"]}})), "").unwrap();
    assert_ne!(again, c);
    // Without a claim_schema nothing is compiled.
    let c = with_schemas(base(json!({})), "").unwrap();
    assert_eq!((c.claim_schema, c.compiled_claim_schema), (None, None));
}

#[test]
fn claim_schema_refusals_are_path_named() {
    let base_path = "routes[0].plugins.openid-connect";
    let e = with_schemas(base(json!({"claim_schema": {"requierd": ["email"]}})), base_path)
        .unwrap_err();
    assert_eq!(
        e.0,
        vec![err(
            &format!("{base_path}.claim_schema"),
            "uses \"requierd\", which this compiler does not enforce"
        )]
    );
    assert_eq!(
        with_schemas(base(json!({"claim_schema": "object"})), "").unwrap_err().0,
        vec![err("claim_schema", "wrong type: expected object, got string")]
    );
    // No compiler: refused, never accepted and ignored.
    assert_eq!(
        only_error(base(json!({"claim_schema": {"required": ["email"]}}))),
        err(
            "claim_schema",
            "cannot be enforced: this loader has no JSON Schema compiler (OidcConfig::from_value_with)"
        )
    );
    let e = OidcConfig::from_json(
        br#"{"client_id":"a","discovery":"https://x","bearer_only":true,"use_jwks":true,
             "claim_schema":{"required":["email"]}}"#,
    )
    .unwrap_err();
    assert_eq!(paths(&e.0), vec!["claim_schema"]);
}

// --- reporting ---

#[test]
fn every_problem_is_reported_with_its_path() {
    let e = load(json!({
        "client_id": 7,
        "use_par": true,
        "timeout": "3",
        "unauth_action": "bogus",
        "token_endpoint_auth_method": "private_key_jwt",
        "claim_validator": {"issuer": {"valid_issuers": [1]}, "audience": {"claim": false}},
        "dpop": {"signing_alg": "HS256"},
        "session": {"secret": "short", "cookie_same_site": "lax", "extra": 1},
    }))
    .unwrap_err();
    assert_eq!(
        paths(&e.0),
        vec![
            "use_par",
            "client_id",
            "discovery",
            "timeout",
            "unauth_action",
            "dpop.signing_alg",
            "claim_validator.issuer.valid_issuers[0]",
            "claim_validator.audience.claim",
            "session.extra",
            "session.secret",
            "session.cookie_same_site",
            "client_rsa_private_key",
        ]
    );
    let text = e.to_string();
    assert_eq!(text.lines().count(), e.0.len());
    assert!(text.starts_with("use_par: is not allowed, use par.enabled instead\nclient_id: "));
}

#[test]
fn from_value_prefixes_paths_with_base() {
    let base_path = "routes[0].plugins.openid-connect";
    let e = OidcConfig::from_value(
        &json!({"client_id": "c", "discovery": DISCOVERY, "session": {"secret": "x"},
                "dpop": {"enabled": true}}),
        base_path,
    )
    .unwrap_err();
    assert_eq!(
        paths(&e.0),
        vec![
            "routes[0].plugins.openid-connect.dpop.private_key",
            "routes[0].plugins.openid-connect.dpop.public_jwk",
            "routes[0].plugins.openid-connect.session.secret",
        ]
    );
    let e = OidcConfig::from_value(&json!({"discovery": DISCOVERY}), base_path).unwrap_err();
    assert_eq!(
        e.0,
        vec![
            err(&format!("{base_path}.client_id"), "is required"),
            err(
                &format!("{base_path}.session.secret"),
                "is required when \"bearer_only\" is false"
            ),
        ]
    );
}

#[test]
fn defaults_match_apisix_test_25_except_safer_ones() {
    let c = ok(base(json!({})));
    assert!(!c.accept_none_alg);
    assert_eq!(c.access_token_expires_leeway, 0);
    assert!(!c.access_token_in_authorization_header);
    assert!(!c.bearer_only);
    assert_eq!(c.client_jwt_assertion_expires_in, 60);
    assert!(!c.force_reauthorize);
    assert_eq!(c.iat_slack, 120);
    assert_eq!(c.introspection_endpoint_auth_method, AuthMethod::ClientSecretBasic);
    assert_eq!(c.introspection_interval, 0);
    assert_eq!(c.jwk_expires_in, 86_400);
    assert!(!c.jwt_verification_cache_ignore);
    assert_eq!(c.logout_path, "/logout");
    assert_eq!(c.realm, "apisix");
    assert!(c.renew_access_token_on_expiry);
    assert!(!c.revoke_tokens_on_logout);
    assert_eq!(c.scope, "openid");
    assert!(c.set_access_token_header);
    assert!(c.set_id_token_header);
    assert!(!c.set_raw_id_token_header);
    assert!(!c.set_refresh_token_header);
    assert!(c.set_userinfo_header);
    assert!(c.ssl_verify);
    assert_eq!(c.timeout_ms, 3000, "timeout=3 s");
    assert_eq!(c.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
    assert_eq!(c.unauth_action, UnauthAction::Auth);
    assert!(!c.use_jwks);
    let s = c.session.as_ref().unwrap();
    assert_eq!(s.storage, SessionStorage::Cookie);
    // Our safer defaults (APISIX: use_nonce=false, use_pkce=false, accept_unsupported_alg=true).
    assert!(c.use_nonce);
    assert!(c.use_pkce);
    assert!(!c.accept_unsupported_alg);
    // The rest of model.rs's documented defaults.
    assert_eq!(c.discovery_expires_in, 86_400);
    assert_eq!(c.introspection_expiry_claim, "exp");
    assert!(c.token_signing_alg_values_expected.is_empty());
    assert!(c.required_scopes.is_empty() && c.introspection_addon_headers.is_empty());
    assert!(c.authorization_params.is_empty());
    assert_eq!((c.par.as_ref(), c.dpop.as_ref(), c.proxy_opts.as_ref()), (None, None, None));
    assert_eq!(
        (s.cookie_name.as_str(), s.cookie_path.as_str(), s.cookie_secure),
        ("session", "/", None)
    );
    assert!(s.cookie_http_only);
    assert_eq!(s.cookie_same_site, SameSite::Lax);
    assert_eq!((s.idling_timeout, s.rolling_timeout, s.absolute_timeout), (900, 3600, 86_400));
    assert!(!c.bearer_branch());
}

#[test]
fn seed_route_config_loads() {
    let seed = br#"{"client_id":"apisix","client_secret":"secret-of-the-seed-route","discovery":"https://idp.example/realms/demo/.well-known/openid-configuration","bearer_only":true}"#;
    let c = OidcConfig::from_json(seed).unwrap();
    assert!(c.bearer_only && c.bearer_branch());
    assert_eq!(c.client_secret.as_deref(), Some("secret-of-the-seed-route"));
    assert!(c.warnings().is_empty());
}

#[test]
fn bearer_branch_follows_apisix() {
    assert!(!ok(base(json!({}))).bearer_branch());
    assert!(ok(base(json!({"use_jwks": true}))).bearer_branch());
    assert!(ok(base(json!({"public_key": "k"}))).bearer_branch());
    assert!(ok(base(json!({"introspection_endpoint": "https://i"}))).bearer_branch());
}

#[test]
fn warnings_flag_plain_http_and_disabled_tls_checks() {
    let c = ok(base(json!({
        "discovery": "http://idp.example/.well-known/openid-configuration",
        "introspection_endpoint": "http://idp.example/introspect",
        "redirect_uri": "http://app.example/callback",
        "post_logout_redirect_uri": "/bye",
        "par": {"enabled": true, "endpoint": "HTTPS://idp.example/par"},
        "proxy_opts": {"http_proxy": "http://proxy:3128", "https_proxy": "http://proxy:3129",
                       "https_proxy_authorization": "Basic dTpw"},
        "ssl_verify": false,
    })));
    assert_eq!(
        paths(&c.warnings()),
        vec![
            "discovery",
            "introspection_endpoint",
            "redirect_uri",
            "proxy_opts.https_proxy_authorization",
            "ssl_verify",
        ]
    );
    // A proxy URL is always http:// here, so it is no warning by itself.
    assert!(
        ok(base(json!({"proxy_opts": {"http_proxy": "http://proxy:3128"}}))).warnings().is_empty()
    );
    assert!(ok(base(json!({}))).warnings().is_empty());
}

// --- session.previous_secrets (an extension for secret rotation) ---

#[test]
fn previous_secrets_are_strings_as_long_as_a_secret() {
    let c = ok(base(
        json!({"session": {"secret": SECRET, "previous_secrets": ["an-older-secret-0123456789"]}}),
    ));
    let s = c.session.unwrap();
    assert_eq!(s.previous_secrets.len(), 1);
    assert_eq!(s.previous_secrets[0].expose(), "an-older-secret-0123456789");
    assert!(ok(base(json!({}))).session.unwrap().previous_secrets.is_empty());
    let errs =
        errors(base(json!({"session": {"secret": SECRET, "previous_secrets": ["short", 5]}})));
    assert_eq!(
        errs,
        vec![
            err("session.previous_secrets[0]", "must be at least 16 characters long"),
            err("session.previous_secrets[1]", "must be a string"),
        ]
    );
    assert_eq!(
        only_error(base(json!({"session": {"secret": SECRET, "previous_secrets": "x"}}))),
        err("session.previous_secrets", "must be an array of strings")
    );
}
