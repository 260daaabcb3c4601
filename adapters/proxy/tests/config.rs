//! The gateway configuration file: APISIX route objects load as is; every error is named by
//! path; lint finds the known traps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use oidc_proxy::config::{GatewayConfig, PassHost};

/// The route of the seed documents, unchanged.
const SEED: &str = r#"
routes:
  - uri: /get
    plugins:
      openid-connect:
        client_id: "my-client"
        client_secret: "my-secret-my-secret"
        discovery: "https://idp.example/realms/demo/.well-known/openid-configuration"
        bearer_only: true
    upstream:
      type: roundrobin
      nodes:
        "127.0.0.1:8080": 1
"#;

#[test]
fn seed_route_loads_as_is() {
    let c = GatewayConfig::from_yaml(SEED).unwrap();
    assert_eq!(c.routes.len(), 1);
    let r = &c.routes[0];
    assert_eq!(r.uris, ["/get"]);
    let oidc = r.oidc.as_ref().unwrap();
    assert!(oidc.bearer_only && oidc.bearer_branch());
    assert_eq!(r.upstream.nodes[0].addr.to_string(), "127.0.0.1:8080");
    assert_eq!(r.upstream.pass_host, PassHost::Pass);
    assert_eq!(c.gateway.listen[0].to_string(), "0.0.0.0:9080");
    // And the same as JSON.
    let json = r#"{"routes":[{"uri":"/get","upstream":{"nodes":[{"host":"127.0.0.1","port":8080,"weight":1}]}}]}"#;
    assert_eq!(GatewayConfig::from_yaml(json).unwrap().routes[0].upstream.nodes[0].port, 8080);
}

#[test]
fn every_error_is_named_by_path() {
    let yaml = r#"
gateway:
  listen: "nowhere"
  workers: 0
  colour: blue
routes:
  - uri: get
    methods: [FETCH]
    plugins:
      openid-connect:
        client_id: 5
        discovery: "https://idp/.well-known/openid-configuration"
        bearer_only: false
        session: {secret: short}
      rate-limit: {}
    upstream:
      type: chash
      nodes: {"127.0.0.1:8080": -1}
      timeout: {connect: 0}
  - id: dup
    uris: ["/a", "/b*c"]
    upstream: {nodes: {"127.0.0.1:1": 1}}
  - id: dup
    uri: /c
"#;
    let errors = GatewayConfig::from_yaml(yaml).unwrap_err();
    let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
    for want in [
        "gateway.listen",
        "gateway.workers",
        "gateway.colour",
        "routes[0].uri",
        "routes[0].methods[0]",
        "routes[0].plugins.openid-connect.client_id",
        "routes[0].plugins.openid-connect.session.secret",
        "routes[0].plugins.rate-limit",
        "routes[0].upstream.type",
        "routes[0].upstream.nodes.127.0.0.1:8080",
        "routes[0].upstream.timeout.connect",
        "routes[1].uris[1]",
        "routes[2].upstream",
    ] {
        assert!(paths.contains(&want), "missing {want} in:\n{errors}");
    }
    let text = errors.to_string();
    assert!(
        text.contains(
            "routes[0].plugins.openid-connect.session.secret: must be at least 16 characters"
        ),
        "{text}"
    );
}

#[test]
fn not_yaml_is_one_clear_error() {
    let e = GatewayConfig::from_yaml("routes: [").unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert!(e.0[0].message.starts_with("not valid YAML"));
}

#[test]
fn lint_finds_known_traps() {
    let yaml = r#"
routes:
  - uri: /app/*
    plugins:
      openid-connect:
        client_id: c
        client_secret: "0123456789abcdef"
        discovery: "http://idp/.well-known/openid-configuration"
        redirect_uri: "https://gw.example/app/callback"
        session: {secret: "0123456789abcdef"}
    upstream: {nodes: {"127.0.0.1:1": 1}}
  - uri: /api
    plugins:
      openid-connect:
        client_id: c
        client_secret: s
        discovery: "https://idp/.well-known/openid-configuration"
        bearer_only: true
        use_jwks: true
    upstream: {nodes: {"127.0.0.1:1": 1}}
"#;
    let c = GatewayConfig::from_yaml(yaml).unwrap();
    let lint: Vec<String> = c.lint().iter().map(ToString::to_string).collect();
    let all = lint.join("\n");
    assert!(all.contains("routes[0].plugins.openid-connect.discovery"), "{all}");
    assert!(
        all.contains("routes[0].plugins.openid-connect.logout_path: /logout is outside"),
        "{all}"
    );
    assert!(
        all.contains("routes[1].plugins.openid-connect: bearer tokens are checked without"),
        "{all}"
    );
}

/// One bearer route whose `openid-connect` object gets `extra` (YAML lines, indented 8).
fn bearer_route(extra: &str) -> String {
    format!(
        r#"
routes:
  - uri: /api
    plugins:
      openid-connect:
        client_id: api
        discovery: "https://idp.example/.well-known/openid-configuration"
        bearer_only: true
        use_jwks: true
{extra}
    upstream: {{nodes: {{"127.0.0.1:8080": 1}}}}
"#
    )
}

fn only_error(yaml: &str) -> String {
    let e = GatewayConfig::from_yaml(yaml).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    e.to_string()
}

#[test]
fn claim_schema_is_compiled_at_load_and_kept_with_the_route() {
    let yaml = bearer_route(
        r#"        claim_schema:
          type: object
          required: [email]
          properties:
            email: {type: string, format: email}"#,
    );
    let c = GatewayConfig::from_yaml(&yaml).unwrap();
    let oidc = c.routes[0].oidc.as_ref().unwrap();
    assert!(oidc.claim_schema.is_some());
    let schema = oidc.compiled_claim_schema.as_ref().expect("compiled with the route");
    let claims = |v: serde_json::Value| v.as_object().unwrap().clone();
    assert_eq!(schema.check(&claims(serde_json::json!({"email": "a@b.example"}))), Ok(()));
    let v = schema.check(&claims(serde_json::json!({"sub": "x"}))).unwrap_err();
    assert_eq!((v.keyword.as_str(), v.schema_path.as_str()), ("required", "/required"));
    // A clone of the config (what each worker gets) shares the compiled schema.
    assert_eq!(c.clone().routes[0].oidc.as_ref().unwrap(), oidc);
    // Without a claim_schema nothing is compiled.
    let c = GatewayConfig::from_yaml(&bearer_route("")).unwrap();
    assert!(c.routes[0].oidc.as_ref().unwrap().compiled_claim_schema.is_none());
}

#[test]
fn a_claim_schema_that_cannot_be_enforced_refuses_the_file() {
    assert_eq!(
        only_error(&bearer_route("        claim_schema: {requierd: [email]}")),
        "routes[0].plugins.openid-connect.claim_schema: \"requierd\" at / is not a draft 2020-12 \
         keyword, so it would be ignored, not enforced"
    );
    assert_eq!(
        only_error(&bearer_route(
            "        claim_schema: {$ref: \"https://schemas.example/claims.json\"}"
        )),
        "routes[0].plugins.openid-connect.claim_schema: is not a usable JSON Schema (at /): \
         Resource 'https://schemas.example/claims.json' is not present in a registry and \
         retrieving it failed: Retrieval is disabled, cannot fetch \
         https://schemas.example/claims.json"
    );
    assert_eq!(
        only_error(&bearer_route("        claim_schema: {type: object, required: email}")),
        "routes[0].plugins.openid-connect.claim_schema: is not a usable JSON Schema (at \
         /required): \"email\" is not of type \"array\""
    );
    assert_eq!(
        only_error(&bearer_route("        claim_schema: [email]")),
        "routes[0].plugins.openid-connect.claim_schema: wrong type: expected object, got array"
    );
}

#[test]
fn options_that_cannot_work_are_refused_with_their_route_path() {
    let cases = [
        (
            "        proxy_opts: {https_proxy: \"proxy.internal:3128\"}",
            "routes[0].plugins.openid-connect.proxy_opts.https_proxy: must be a URL of the form \
             http://host[:port] (the scheme is missing)",
        ),
        (
            "        proxy_opts: {http_proxy: \"http://user:pw@proxy.internal:3128\"}",
            "routes[0].plugins.openid-connect.proxy_opts.http_proxy: must not contain \
             credentials (user:password@); set http_proxy_authorization / \
             https_proxy_authorization instead",
        ),
        (
            "        bearer_clock_skew: 600",
            "routes[0].plugins.openid-connect.bearer_clock_skew: must be at most 300",
        ),
        (
            "        client_jwt_assertion_alg: ES512",
            "routes[0].plugins.openid-connect.client_jwt_assertion_alg: \"ES512\" is not \
             supported: client assertions are signed with RS256, RS512 or ES256 (P-256), or \
             HS256 or HS512 for client_secret_jwt",
        ),
    ];
    for (extra, message) in cases {
        assert_eq!(only_error(&bearer_route(extra)), message);
    }
    let c = GatewayConfig::from_yaml(&bearer_route(
        "        proxy_opts: {https_proxy: \"http://proxy.internal:3128\"}\n        \
         bearer_clock_skew: 30",
    ))
    .unwrap();
    let oidc = c.routes[0].oidc.as_ref().unwrap();
    assert_eq!(oidc.bearer_clock_skew, 30);
    assert_eq!(
        oidc.proxy_opts.as_ref().unwrap().https_proxy.as_deref(),
        Some("http://proxy.internal:3128")
    );
}

fn login_route(hosts: &str, extra: &str) -> String {
    format!(
        r#"
routes:
  - uri: /*
{hosts}
    plugins:
      openid-connect:
        client_id: web
        client_secret: web-secret-web-secret
        discovery: "https://idp.example/.well-known/openid-configuration"
        session:
          secret: 0123456789abcdef0123456789abcdef
{extra}
    upstream:
      nodes:
        "127.0.0.1:8080": 1
"#
    )
}

#[test]
fn login_routes_never_derive_their_callback_from_an_unchecked_host() {
    let e = only_error(&login_route("", ""));
    assert!(e.starts_with("routes[0].plugins.openid-connect.redirect_uri:"), "{e}");
    let e = only_error(&login_route("", "        redirect_uri: /callback"));
    assert!(e.starts_with("routes[0].plugins.openid-connect.redirect_uri:"), "{e}");
    // An absolute redirect_uri, or hosts that vouch for the Host header, are fine.
    let absolute = login_route("", "        redirect_uri: https://app.example/callback");
    GatewayConfig::from_yaml(&absolute).unwrap();
    GatewayConfig::from_yaml(&login_route("    hosts: [app.example]", "")).unwrap();
}

#[test]
fn redis_sessions_are_refused_not_silently_replaced() {
    let extra = "          storage: redis\n          redis: {host: 127.0.0.1}";
    let yaml = login_route("    hosts: [app.example]", "").replace(
        "          secret: 0123456789abcdef0123456789abcdef",
        &format!("          secret: 0123456789abcdef0123456789abcdef\n{extra}"),
    );
    let e = only_error(&yaml);
    assert!(e.starts_with("routes[0].plugins.openid-connect.session.storage:"), "{e}");
}

#[test]
fn login_callbacks_must_reach_the_route_and_not_be_a_protected_page() {
    let hosts = "    hosts: [app.example]";
    let outside =
        login_route(hosts, "        redirect_uri: /elsewhere/cb").replace("uri: /*", "uri: /app/*");
    let e = only_error(&outside);
    assert!(
        e.starts_with("routes[0].plugins.openid-connect.redirect_uri: its path /elsewhere/cb"),
        "{e}"
    );
    let exact = login_route(hosts, "        redirect_uri: /app").replace("uri: /*", "uri: /app");
    let e = only_error(&exact);
    assert!(e.contains("must not be the page the route protects"), "{e}");
    // Listing the callback as one more exact uri is how it reaches an exact route.
    let listed = login_route(hosts, "        redirect_uri: /app/cb")
        .replace("uri: /*", "uris: [/app, /app/cb]");
    GatewayConfig::from_yaml(&listed).unwrap();
    // An exact uri without redirect_uri: the default callback <uri>/.apisix/redirect is outside.
    let e = only_error(&login_route(hosts, "").replace("uri: /*", "uri: /app"));
    assert!(e.contains("the default callback /app/.apisix/redirect is outside"), "{e}");
    let bad_name = login_route(hosts, "").replace(
        "          secret: 0123456789abcdef0123456789abcdef",
        "          secret: 0123456789abcdef0123456789abcdef\n          cookie_name: \"a;b\"",
    );
    let e = only_error(&bad_name);
    assert!(e.starts_with("routes[0].plugins.openid-connect.session.cookie_name:"), "{e}");
}

#[test]
fn login_options_not_implemented_are_refused() {
    let hosts = "    hosts: [app.example]";
    let e = only_error(&login_route(hosts, "        par: {enabled: true}"));
    assert!(e.starts_with("routes[0].plugins.openid-connect.par.enabled:"), "{e}");
}
