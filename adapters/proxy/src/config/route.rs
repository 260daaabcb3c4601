//! APISIX route objects.

use oidc_core::config::OidcConfig;
use serde_json::Value;

use super::reader::Reader;
use super::upstream::UpstreamConfig;
use crate::schema::JsonSchemaCompiler;

const METHODS: [&str; 9] =
    ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE"];

/// One route.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// `id` (a string or number in the file); `route-<index>` when absent.
    pub id: String,
    /// `uri` / `uris`: exact paths, or prefixes when they end in `*`.
    pub uris: Vec<String>,
    /// `methods`; empty = any.
    pub methods: Vec<String>,
    /// `host` / `hosts` (lower-case; `*.example.com` wildcards allowed); empty = any.
    pub hosts: Vec<String>,
    /// `priority`: higher wins among routes that match equally well. Default 0.
    pub priority: i64,
    /// `plugins.openid-connect`, validated by oidc-core, its `claim_schema` compiled by
    /// [`JsonSchemaCompiler`] into `compiled_claim_schema`, the schema for the token claims.
    pub oidc: Option<OidcConfig>,
    /// `upstream`.
    pub upstream: UpstreamConfig,
    /// `enable_websocket`: a client's `Upgrade` request (after the route's checks) is
    /// forwarded, and the upstream's `101` turns the connection into a tunnel. Default false:
    /// `Upgrade` is not forwarded, and a `101` from the upstream is answered 502.
    pub enable_websocket: bool,
}

impl RouteConfig {
    pub(crate) fn read(r: &mut Reader, v: &Value, path: &str) -> Option<Self> {
        let obj = r.object(v, path)?;
        let index = path.trim_start_matches("routes[").trim_end_matches(']');
        let mut route = Self {
            id: format!("route-{index}"),
            uris: Vec::new(),
            methods: Vec::new(),
            hosts: Vec::new(),
            priority: 0,
            oidc: None,
            upstream: UpstreamConfig::default(),
            enable_websocket: false,
        };
        let mut upstream = None;
        for (key, value) in obj {
            let p = format!("{path}.{key}");
            match key.as_str() {
                "id" => match value {
                    Value::String(s) if !s.is_empty() => route.id = s.clone(),
                    Value::Number(n) => route.id = n.to_string(),
                    other => r.type_error(&p, "non-empty string or integer", other),
                },
                "name" | "desc" | "labels" | "status" => {}
                "uri" | "uris" => {
                    for (i, u) in r.strings(value, &p).into_iter().enumerate() {
                        let up = if key == "uris" { format!("{p}[{i}]") } else { p.clone() };
                        if !u.starts_with('/') {
                            r.error(&up, "must start with /");
                        } else if u[..u.len() - 1].contains('*') {
                            r.error(&up, "* is only allowed at the end (prefix match)");
                        } else {
                            route.uris.push(u);
                        }
                    }
                }
                "methods" => {
                    for (i, m) in r.strings(value, &p).into_iter().enumerate() {
                        if METHODS.contains(&m.as_str()) {
                            route.methods.push(m);
                        } else {
                            r.error(
                                &format!("{p}[{i}]"),
                                format!("must be one of {}", METHODS.join(", ")),
                            );
                        }
                    }
                }
                "host" | "hosts" => {
                    for (i, h) in r.strings(value, &p).into_iter().enumerate() {
                        let hp = if key == "hosts" { format!("{p}[{i}]") } else { p.clone() };
                        let valid = !h.is_empty()
                            && h.trim_start_matches("*.")
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                        if valid {
                            route.hosts.push(h.to_ascii_lowercase());
                        } else {
                            r.error(&hp, "must be a host name, optionally starting with *.");
                        }
                    }
                }
                "enable_websocket" => match value.as_bool() {
                    Some(b) => route.enable_websocket = b,
                    None => r.type_error(&p, "boolean", value),
                },
                "priority" => match value.as_i64() {
                    Some(n) => route.priority = n,
                    None => r.type_error(&p, "integer", value),
                },
                "plugins" => {
                    let Some(plugins) = r.object(value, &p) else { continue };
                    for (name, conf) in plugins {
                        let pp = format!("{p}.{name}");
                        if name == "openid-connect" {
                            route.oidc = read_oidc(r, conf, &pp);
                        } else {
                            r.error(
                                &pp,
                                "plugin not supported by this gateway (only openid-connect)",
                            );
                        }
                    }
                }
                "upstream" => upstream = UpstreamConfig::read(r, value, &p),
                "upstream_id" | "service_id" | "plugin_config_id" => {
                    r.error(
                        &p,
                        "references to other objects are not supported; inline the upstream",
                    );
                }
                _ => r.error(&p, "unknown route option"),
            }
        }
        if route.uris.is_empty()
            && !r.has_error_at(&format!("{path}.uri"))
            && !r.has_error_at(&format!("{path}.uris"))
        {
            r.error(&format!("{path}.uri"), "is required (uri or uris)");
        }
        // A login's callback URL is where the provider sends the browser with a code: never
        // built from a Host header that no configured host vouched for.
        if let Some(oidc) = &route.oidc {
            let absolute = oidc
                .redirect_uri
                .as_deref()
                .is_some_and(|u| u.starts_with("https://") || u.starts_with("http://"));
            if !oidc.bearer_only
                && oidc
                    .session
                    .as_ref()
                    .is_some_and(|s| s.storage == oidc_core::config::SessionStorage::Redis)
            {
                r.error(
                    &format!("{path}.plugins.openid-connect.session.storage"),
                    "\"redis\" is not supported: sessions are sealed cookies (storage \"cookie\")",
                );
            }
            if !oidc.bearer_only {
                check_login_paths(r, &route, oidc, path);
            }
            if !oidc.bearer_only && route.hosts.is_empty() && !absolute {
                r.error(
                    &format!("{path}.plugins.openid-connect.redirect_uri"),
                    "must be an absolute URL on a route without hosts (the callback host is \
                     never taken from a client's Host header)",
                );
            }
        }
        match upstream {
            Some(u) => route.upstream = u,
            None if !obj.contains_key("upstream") => {
                r.error(&format!("{path}.upstream"), "is required");
            }
            None => {}
        }
        Some(route)
    }
}

/// Whether the route's `uris` match `path` (exactly, or by a `*` prefix).
fn covers(uris: &[String], path: &str) -> bool {
    uris.iter().any(|u| match u.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => u == path,
    })
}

/// The login's callback must reach this route and must not be a page it protects; the session
/// settings must build a cookie codec. Each error is named by its path.
fn check_login_paths(r: &mut Reader, route: &RouteConfig, oidc: &OidcConfig, path: &str) {
    let at = |field: &str| format!("{path}.plugins.openid-connect.{field}");
    let callback = oidc.redirect_uri.as_deref().map(|u| super::redirect_path(u).to_string());
    match &callback {
        Some(cb) if !covers(&route.uris, cb) => r.error(
            &at("redirect_uri"),
            format!("its path {cb} is outside the route's uri, so the callback never reaches it"),
        ),
        // APISIX's trap: the route's page itself as the callback (listing the callback as one
        // more exact uri of the route is how it is meant to reach the route).
        Some(cb) if route.uris.iter().all(|u| u == cb) => r.error(
            &at("redirect_uri"),
            "must not be the page the route protects (every visit would be taken for a callback)",
        ),
        Some(_) => {}
        None => {
            if let Some(u) = route.uris.iter().find(|u| {
                !u.ends_with('*')
                    && !covers(&route.uris, &oidc_core::authz::default_redirect_path(u))
            }) {
                r.error(
                    &at("redirect_uri"),
                    format!(
                        "is required: the default callback {} is outside the route's uri",
                        oidc_core::authz::default_redirect_path(u)
                    ),
                );
            }
        }
    }
    // Options the login does not implement are refused rather than silently not applied.
    if oidc.par.as_ref().is_some_and(|p| p.enabled) {
        r.error(&at("par.enabled"), "pushed authorization requests are not supported yet");
    }
    if oidc.dpop.as_ref().is_some_and(|d| d.enabled) {
        r.error(&at("dpop.enabled"), "DPoP-bound tokens are not supported yet");
    }
    if let Some(session) = &oidc.session {
        let binding =
            oidc_core::session::Binding { issuer: &oidc.discovery, client_id: &oidc.client_id };
        let crypto = oidc_core::crypto::default_provider();
        let built = oidc_core::session::SessionCodec::from_config(session, binding, crypto)
            .and_then(|_| oidc_core::authz::FlowCodec::from_config(session, binding, crypto));
        if let Err(e) = built {
            use oidc_core::session::CodecError;
            let field = match e {
                CodecError::CookieName | CodecError::HostPrefix => {
                    String::from("session.cookie_name")
                }
                CodecError::CookiePath => String::from("session.cookie_path"),
                CodecError::CookieDomain => String::from("session.cookie_domain"),
                CodecError::WeakSecret { index: 0 } | CodecError::NoSecret => {
                    String::from("session.secret")
                }
                CodecError::WeakSecret { index } => {
                    format!("session.previous_secrets[{}]", index - 1)
                }
                CodecError::TooManySecrets => String::from("session.previous_secrets"),
                _ => String::from("session"),
            };
            r.error(&at(&field), e.to_string());
        }
    }
}

/// Loads a route's `openid-connect` plugin object with oidc-core's validator, compiling its
/// `claim_schema` with the gateway's JSON Schema implementation; errors carry `path` as prefix.
fn read_oidc(r: &mut Reader, v: &Value, path: &str) -> Option<OidcConfig> {
    match OidcConfig::from_value_with(v, path, &JsonSchemaCompiler) {
        Ok(c) => Some(c),
        Err(errors) => {
            for e in errors.0 {
                r.push(e);
            }
            None
        }
    }
}
