//! The gateway configuration file: a `gateway` section and APISIX route objects.
//!
//! YAML (JSON accepted). Loading reports every problem by its path
//! (`routes[2].plugins.openid-connect.session.secret: ...`) and refuses the file if there is
//! any; [`GatewayConfig::lint`] lists known traps that do not refuse it.
//!
//! ```yaml
//! gateway:
//!   listen: 0.0.0.0:9080
//! routes:
//!   - uri: /get
//!     plugins:
//!       openid-connect:
//!         client_id: api
//!         client_secret: secret
//!         discovery: https://idp.example/.well-known/openid-configuration
//!         bearer_only: true
//!     upstream:
//!       type: roundrobin
//!       nodes:
//!         "127.0.0.1:8080": 1
//! ```

mod reader;
mod route;
pub mod trusted;
mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::Value;

use self::reader::Reader;
pub use self::route::RouteConfig;
pub use self::upstream::{Node, PassHost, Scheme, Timeouts, UpstreamConfig};

pub use oidc_core::config::{ConfigError, ConfigErrors};

/// Where access-log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    /// Standard output (the default).
    Stdout,
    /// Appended to this file.
    File(PathBuf),
    /// Not written.
    Off,
}

/// The `gateway` section.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewaySettings {
    /// Listen addresses. Default `0.0.0.0:9080` (APISIX's port).
    pub listen: Vec<SocketAddr>,
    /// Worker threads; `None` = one per core.
    pub workers: Option<usize>,
    /// Access log destination.
    pub access_log: AccessLog,
    /// Extra CA certificates (PEM) trusted for TLS to identity providers, besides the system
    /// roots.
    pub ssl_ca_file: Option<PathBuf>,
    /// Largest request head accepted, bytes (431 beyond). Default 16 KiB.
    pub max_request_head_bytes: usize,
    /// Most request headers accepted (431 beyond). Default 100.
    pub max_request_headers: usize,
    /// Idle keep-alive timeout for client connections, seconds. Default 60.
    pub client_keepalive_timeout: u64,
    /// Seconds a request head may take from its first byte to its end (slow clients get 408).
    /// Default 10 (nginx and APISIX: 60, but per read, so a trickling client never times out).
    pub client_header_timeout: u64,
    /// Seconds between two reads of a request body before the request is abandoned. Default 60.
    pub client_body_timeout: u64,
    /// Seconds one write to a client may take before the connection is closed. Default 10.
    pub send_timeout: u64,
    /// Client connections open at once, over all workers; beyond it new connections wait in
    /// the kernel's accept queue. Default 16384.
    pub max_connections: usize,
    /// Seconds to let in-flight requests finish after SIGTERM. Default 10.
    pub shutdown_grace: u64,
    /// APISIX's `normalize_uri_like_servlet`: path parameters (`;...` in a segment) are
    /// removed before routing, and the upstream gets the path without them, as a servlet
    /// container would read it. Default false (`/api;x/y` is then not under `/api/`).
    pub normalize_uri_like_servlet: bool,
    /// `trusted_addresses` (APISIX's name): peers whose `X-Forwarded-Proto` is believed (a TLS
    /// terminator or load balancer in front). A request from one of them that says `https` is
    /// treated as https: `Secure` session cookies, `https://` derived redirect URIs, and the
    /// upstream gets `X-Forwarded-Proto: https`. Everyone else's is replaced by `http`.
    pub trusted_addresses: Vec<trusted::IpBlock>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 9080))],
            workers: None,
            access_log: AccessLog::Stdout,
            ssl_ca_file: None,
            max_request_head_bytes: 16 * 1024,
            max_request_headers: 100,
            client_keepalive_timeout: 60,
            client_header_timeout: 10,
            client_body_timeout: 60,
            send_timeout: 10,
            max_connections: 16_384,
            shutdown_grace: 10,
            normalize_uri_like_servlet: false,
            trusted_addresses: Vec::new(),
        }
    }
}

/// The whole file, validated.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The `gateway` section.
    pub gateway: GatewaySettings,
    /// The routes, in file order.
    pub routes: Vec<RouteConfig>,
}

impl GatewayConfig {
    /// Parses YAML (a superset of JSON) and validates it.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigErrors> {
        let value: Value = serde_norway::from_str(text).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: String::new(),
                message: format!("not valid YAML: {e}"),
            }])
        })?;
        Self::from_value(&value)
    }

    /// Reads and validates a file.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: String::new(),
                message: format!("{}: {e}", path.display()),
            }])
        })?;
        Self::from_yaml(&text)
    }

    /// Validates an already parsed document.
    pub fn from_value(value: &Value) -> Result<Self, ConfigErrors> {
        let mut r = Reader::default();
        let Some(root) = r.object(value, "") else { return Err(r.finish()) };
        for key in root.keys() {
            if key != "gateway" && key != "routes" {
                r.error(key, "unknown section (expected gateway, routes)");
            }
        }
        let gateway = match root.get("gateway") {
            None => GatewaySettings::default(),
            Some(v) => gateway_settings(&mut r, v),
        };
        let mut routes = Vec::new();
        match root.get("routes") {
            None => r.error("routes", "is required"),
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(route) = RouteConfig::read(&mut r, item, &format!("routes[{i}]")) {
                        routes.push(route);
                    }
                }
            }
            Some(other) => r.type_error("routes", "array", other),
        }
        let mut ids = std::collections::HashSet::new();
        for (i, route) in routes.iter().enumerate() {
            if !ids.insert(route.id.clone()) {
                r.error(&format!("routes[{i}].id"), format!("duplicate route id {:?}", route.id));
            }
        }
        if r.has_errors() {
            return Err(r.finish());
        }
        Ok(Self { gateway, routes })
    }

    /// Known traps that do not refuse the file: non-https IdP URLs, TLS verification off,
    /// a `redirect_uri` equal to a protected URI, bearer routes with no audience or scope check.
    pub fn lint(&self) -> Vec<ConfigError> {
        let mut out = Vec::new();
        for (i, route) in self.routes.iter().enumerate() {
            let Some(oidc) = &route.oidc else { continue };
            let base = format!("routes[{i}].plugins.openid-connect");
            for w in oidc.warnings() {
                out.push(ConfigError { path: format!("{base}.{}", w.path), message: w.message });
            }
            // A route may offer no logout; a default `/logout` it cannot reach is worth a word.
            let logout_reachable = route.uris.iter().any(|u| match u.strip_suffix('*') {
                Some(prefix) => oidc.logout_path.starts_with(prefix),
                None => *u == oidc.logout_path,
            });
            if !oidc.bearer_only && !logout_reachable {
                out.push(ConfigError {
                    path: format!("{base}.logout_path"),
                    message: format!(
                        "{} is outside the route's uri: this route offers no logout",
                        oidc.logout_path
                    ),
                });
            }
            if oidc.bearer_branch()
                && oidc.claim_validator.audience.is_none()
                && oidc.required_scopes.is_empty()
            {
                out.push(ConfigError {
                    path: base.clone(),
                    message: "bearer tokens are checked without claim_validator.audience or required_scopes: any valid token from this provider, issued to any client, is accepted".into(),
                });
            }
        }
        out
    }
}

/// The path of a `redirect_uri` (absolute or a path), without query or fragment.
pub(super) fn redirect_path(uri: &str) -> &str {
    let rest =
        uri.split_once("://").map_or(uri, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    rest.split(['?', '#']).next().unwrap_or(rest)
}

fn gateway_settings(r: &mut Reader, v: &Value) -> GatewaySettings {
    let mut g = GatewaySettings::default();
    let Some(obj) = r.object(v, "gateway") else { return g };
    for (key, value) in obj {
        let path = format!("gateway.{key}");
        match key.as_str() {
            "listen" => {
                let items: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                let mut addrs = Vec::new();
                for (i, item) in items.into_iter().enumerate() {
                    let p = if matches!(value, Value::Array(_)) {
                        format!("{path}[{i}]")
                    } else {
                        path.clone()
                    };
                    match item.as_str().map(str::parse::<SocketAddr>) {
                        Some(Ok(a)) => addrs.push(a),
                        Some(Err(_)) => r.error(&p, "must be an address like 0.0.0.0:9080"),
                        None => r.type_error(&p, "string", item),
                    }
                }
                if addrs.is_empty() && !r.has_error_at(&path) {
                    r.error(&path, "must name at least one address");
                }
                g.listen = addrs;
            }
            "workers" => g.workers = r.usize(value, &path, 1, 1024),
            "access_log" => match value.as_str() {
                Some("stdout") => g.access_log = AccessLog::Stdout,
                Some("off") => g.access_log = AccessLog::Off,
                Some(p) if !p.is_empty() => g.access_log = AccessLog::File(PathBuf::from(p)),
                _ => r.error(&path, "must be \"stdout\", \"off\" or a file path"),
            },
            "ssl_ca_file" => {
                if let Some(s) = r.string(value, &path) {
                    g.ssl_ca_file = Some(PathBuf::from(s));
                }
            }
            "max_request_head_bytes" => {
                if let Some(n) = r.usize(value, &path, 1024, 1 << 20) {
                    g.max_request_head_bytes = n;
                }
            }
            "max_request_headers" => {
                if let Some(n) = r.usize(value, &path, 8, 1000) {
                    g.max_request_headers = n;
                }
            }
            "client_keepalive_timeout" => {
                if let Some(n) = r.uint(value, &path, 1, 3600) {
                    g.client_keepalive_timeout = n;
                }
            }
            "client_header_timeout" => {
                if let Some(n) = r.uint(value, &path, 1, 3600) {
                    g.client_header_timeout = n;
                }
            }
            "client_body_timeout" => {
                if let Some(n) = r.uint(value, &path, 1, 3600) {
                    g.client_body_timeout = n;
                }
            }
            "send_timeout" => {
                if let Some(n) = r.uint(value, &path, 1, 3600) {
                    g.send_timeout = n;
                }
            }
            "normalize_uri_like_servlet" => match value.as_bool() {
                Some(b) => g.normalize_uri_like_servlet = b,
                None => r.type_error(&path, "boolean", value),
            },
            "max_connections" => {
                if let Some(n) = r.usize(value, &path, 1, 1 << 24) {
                    g.max_connections = n;
                }
            }
            "shutdown_grace" => {
                if let Some(n) = r.uint(value, &path, 0, 3600) {
                    g.shutdown_grace = n;
                }
            }
            "trusted_addresses" => {
                for (i, a) in r.strings(value, &path).into_iter().enumerate() {
                    match trusted::IpBlock::parse(&a) {
                        Some(b) => g.trusted_addresses.push(b),
                        None => r.error(
                            &format!("{path}[{i}]"),
                            "must be an IP address or CIDR block (no bits past the prefix)",
                        ),
                    }
                }
            }
            "admin" => {} // reserved for the admin API
            _ => r.error(&path, "unknown option"),
        }
    }
    g
}
