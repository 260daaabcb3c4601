//! Route items for the gateway's YAML file, as the tests write them (one item per call, to be
//! appended under `routes:`).

use std::net::SocketAddr;

/// A bearer-only route verifying JWTs with the provider's JWKS; `extra` is more plugin keys,
/// indented eight spaces (or empty).
pub fn bearer_route(
    id: &str,
    uri: &str,
    discovery: &str,
    upstream: SocketAddr,
    extra: &str,
) -> String {
    let extra = if extra.is_empty() { String::new() } else { format!("{extra}\n") };
    format!(
        r#"  - id: {id}
    uri: "{uri}"
    plugins:
      openid-connect:
        client_id: gateway
        client_secret: gateway-secret-0123456789
        discovery: "{discovery}"
        bearer_only: true
        use_jwks: true
{extra}    upstream:
      nodes:
        "{upstream}": 1
"#
    )
}

/// A route without authentication; `extra` is more route keys, indented four spaces, each line
/// ending in a newline (or empty).
pub fn open_route(id: &str, uri: &str, upstream: SocketAddr, extra: &str) -> String {
    format!(
        "  - id: {id}\n    uri: \"{uri}\"\n{extra}    upstream:\n      nodes:\n        \"{upstream}\": 1\n"
    )
}
