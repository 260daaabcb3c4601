//! APISIX upstream objects (inline in routes).

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;

use super::reader::Reader;

/// One upstream node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Host as written (used for `pass_host: node`).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Resolved address (at load time).
    pub addr: SocketAddr,
    /// Round-robin weight (0 = never chosen).
    pub weight: u32,
}

/// `upstream.scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
}

/// `upstream.pass_host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassHost {
    /// Forward the client's `Host` (default).
    Pass,
    /// Use the chosen node's `host[:port]`.
    Node,
    /// Use `upstream_host`.
    Rewrite(String),
}

/// `upstream.timeout`, in APISIX's seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connect timeout.
    pub connect: Duration,
    /// Timeout for sending the request.
    pub send: Duration,
    /// Timeout for reading the response (each read).
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let d = Duration::from_secs(60);
        Self { connect: d, send: d, read: d }
    }
}

/// An upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// Nodes (at least one with a positive weight).
    pub nodes: Vec<Node>,
    /// Scheme.
    pub scheme: Scheme,
    /// Host header policy.
    pub pass_host: PassHost,
    /// Timeouts.
    pub timeout: Timeouts,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            scheme: Scheme::Http,
            pass_host: PassHost::Pass,
            timeout: Timeouts::default(),
        }
    }
}

fn node(r: &mut Reader, host_port: &str, weight: &Value, path: &str) -> Option<Node> {
    let weight = u32::try_from(r.uint(weight, path, 0, 100_000)?).ok()?;
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
            Ok(port) => (h.trim_start_matches('[').trim_end_matches(']').to_string(), port),
            Err(_) => (host_port.to_string(), 80),
        },
        _ => (host_port.to_string(), 80),
    };
    let Ok(Some(addr)) = (host.as_str(), port).to_socket_addrs().map(|mut a| a.next()) else {
        r.error(path, format!("cannot resolve {host_port:?}"));
        return None;
    };
    Some(Node { host, port, addr, weight })
}

impl UpstreamConfig {
    pub(crate) fn read(r: &mut Reader, v: &Value, path: &str) -> Option<Self> {
        let obj = r.object(v, path)?;
        let mut u = Self::default();
        let mut upstream_host = None;
        let mut pass_host = "pass".to_string();
        for (key, value) in obj {
            let p = format!("{path}.{key}");
            match key.as_str() {
                "type" => match value.as_str() {
                    Some("roundrobin") => {}
                    Some(_) => r.error(&p, "only roundrobin is supported"),
                    None => r.type_error(&p, "string", value),
                },
                "nodes" => match value {
                    Value::Object(map) => {
                        for (hp, w) in map {
                            if let Some(n) = node(r, hp, w, &format!("{p}.{hp}")) {
                                u.nodes.push(n);
                            }
                        }
                    }
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let ip = format!("{p}[{i}]");
                            let Some(o) = r.object(item, &ip) else { continue };
                            let host = o.get("host").and_then(Value::as_str);
                            let port = o.get("port").and_then(Value::as_u64);
                            match (host, port) {
                                (Some(h), Some(port)) if port <= 65_535 => {
                                    let w = o.get("weight").cloned().unwrap_or(Value::from(1));
                                    if let Some(n) = node(r, &format!("{h}:{port}"), &w, &ip) {
                                        u.nodes.push(n);
                                    }
                                }
                                (Some(h), None) => {
                                    let w = o.get("weight").cloned().unwrap_or(Value::from(1));
                                    if let Some(n) = node(r, h, &w, &ip) {
                                        u.nodes.push(n);
                                    }
                                }
                                _ => r.error(&ip, "needs host (string) and port (integer)"),
                            }
                        }
                    }
                    other => r.type_error(&p, "object or array", other),
                },
                "scheme" => match value.as_str() {
                    Some("http") => u.scheme = Scheme::Http,
                    Some(_) => r.error(&p, "only http upstreams are supported"),
                    None => r.type_error(&p, "string", value),
                },
                "pass_host" => match value.as_str() {
                    Some(s @ ("pass" | "node" | "rewrite")) => pass_host = s.to_string(),
                    _ => r.error(&p, "must be one of pass, node, rewrite"),
                },
                "upstream_host" => upstream_host = r.string(value, &p).map(String::from),
                "timeout" => {
                    let Some(t) = r.object(value, &p) else { continue };
                    for (k, tv) in t {
                        let tp = format!("{p}.{k}");
                        let Some(s) = r.seconds(tv, &tp) else { continue };
                        let d = Duration::from_secs_f64(s);
                        match k.as_str() {
                            "connect" => u.timeout.connect = d,
                            "send" => u.timeout.send = d,
                            "read" => u.timeout.read = d,
                            _ => r.error(&tp, "must be one of connect, send, read"),
                        }
                    }
                }
                "keepalive_pool" | "name" | "desc" | "hash_on" | "retries" | "retry_timeout" => {}
                _ => r.error(&p, "unknown upstream option"),
            }
        }
        u.pass_host = match pass_host.as_str() {
            "node" => PassHost::Node,
            "rewrite" => match upstream_host {
                Some(h) => PassHost::Rewrite(h),
                None => {
                    r.error(
                        &format!("{path}.upstream_host"),
                        "is required when pass_host is rewrite",
                    );
                    PassHost::Pass
                }
            },
            _ => PassHost::Pass,
        };
        if !obj.contains_key("nodes") {
            r.error(&format!("{path}.nodes"), "is required");
        } else if u.nodes.iter().all(|n| n.weight == 0) && !r.has_errors() {
            r.error(&format!("{path}.nodes"), "needs at least one node with a positive weight");
        }
        Some(u)
    }
}
