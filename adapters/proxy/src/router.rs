//! Route matching: deterministic, most specific wins.
//!
//! As APISIX's default router (`radixtree_host_uri`), routes are tried by host first: routes
//! naming the exact host, then routes whose wildcard (`*.example.com`) matches it, then routes
//! naming no host. A host-less catch-all never shadows a virtual host, and a wildcard host's
//! route never shadows an exact host's. Within each group,
//! exact URIs beat prefixes; a longer prefix beats a shorter one; among routes that match
//! equally well, higher `priority` wins, then the earlier route in the file. Host names
//! compare case-insensitively, without a port and without a trailing dot (`example.com.` is
//! `example.com`, as nginx reads it). Exact URIs are
//! looked up in a hash map, so their cost does not grow with the number of routes; prefixes are
//! scanned longest first.

use std::collections::HashMap;

use crate::config::RouteConfig;

/// What a route accepts besides its URI.
#[derive(Debug, Clone)]
struct Filter {
    methods: Vec<String>,
    hosts: Vec<String>,
}

impl Filter {
    fn accepts(&self, method: &str, host: Option<&str>, group: HostGroup) -> bool {
        let method_ok = self.methods.is_empty() || self.methods.iter().any(|m| m == method);
        let host_ok = match group {
            HostGroup::None => self.hosts.is_empty(),
            HostGroup::Exact | HostGroup::Wildcard => host.is_some_and(|h| {
                let wildcard = group == HostGroup::Wildcard;
                self.hosts
                    .iter()
                    .filter(|p| p.starts_with("*.") == wildcard)
                    .any(|pattern| host_matches(pattern, h))
            }),
        };
        method_ok && host_ok
    }
}

/// Which routes a pass considers, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostGroup {
    Exact,
    Wildcard,
    None,
}

/// The host name of a `Host` value (validated by the parser): without the port (after the
/// last `:` outside brackets) and without a trailing dot.
fn host_name(host: &str) -> &str {
    let h = match host.rfind(':') {
        Some(i) if !host.get(i..).is_some_and(|p| p.contains(']')) => host.get(..i).unwrap_or(host),
        _ => host,
    };
    h.strip_suffix('.').unwrap_or(h)
}

impl Filter {
    fn has_hosts(&self) -> bool {
        !self.hosts.is_empty()
    }
}

/// Compares bytes, not `str` slices: the host comes from the client, and slicing a `str` at an
/// arbitrary byte offset would panic on multi-byte characters.
fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.as_bytes();
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            let cut = host.len().saturating_sub(suffix.len());
            host.len() > suffix.len() + 1
                && host.get(cut..).is_some_and(|tail| tail.eq_ignore_ascii_case(suffix.as_bytes()))
                && host.get(cut - 1) == Some(&b'.')
        }
        None => pattern.as_bytes().eq_ignore_ascii_case(host),
    }
}

/// The route table.
#[derive(Debug, Clone, Default)]
pub struct Router {
    /// Exact path -> candidate routes, best first.
    exact: HashMap<String, Vec<usize>>,
    /// (prefix, route), longest prefix first, then priority, then file order.
    prefixes: Vec<(String, usize)>,
    filters: Vec<Filter>,
    /// Whether any route names hosts (otherwise the host pass is skipped).
    any_hosts: bool,
}

impl Router {
    /// Builds the table for `routes` (route `i` is `routes[i]`).
    pub fn new(routes: &[RouteConfig]) -> Self {
        let mut exact: HashMap<String, Vec<usize>> = HashMap::new();
        let mut prefixes = Vec::new();
        for (i, r) in routes.iter().enumerate() {
            for uri in &r.uris {
                match uri.strip_suffix('*') {
                    Some(prefix) => prefixes.push((prefix.to_string(), i)),
                    None => exact.entry(uri.clone()).or_default().push(i),
                }
            }
        }
        let priority = |i: usize| std::cmp::Reverse(routes[i].priority);
        for list in exact.values_mut() {
            list.sort_by_key(|&i| (priority(i), i));
            list.dedup();
        }
        prefixes.sort_by_key(|(p, i)| (std::cmp::Reverse(p.len()), priority(*i), *i));
        let filters: Vec<Filter> = routes
            .iter()
            .map(|r| Filter { methods: r.methods.clone(), hosts: r.hosts.clone() })
            .collect();
        let any_hosts = filters.iter().any(Filter::has_hosts);
        Self { exact, prefixes, filters, any_hosts }
    }

    /// The route for a request, if any. `path` excludes the query string.
    pub fn find(&self, method: &str, host: Option<&str>, path: &str) -> Option<usize> {
        let host = host.map(host_name);
        if self.any_hosts {
            for group in [HostGroup::Exact, HostGroup::Wildcard] {
                if let Some(i) = self.find_in(method, host, path, group) {
                    return Some(i);
                }
            }
        }
        self.find_in(method, host, path, HostGroup::None)
    }

    /// One pass over one host group.
    fn find_in(
        &self,
        method: &str,
        host: Option<&str>,
        path: &str,
        hosts: HostGroup,
    ) -> Option<usize> {
        let ok = |i: usize| self.filters.get(i).is_some_and(|f| f.accepts(method, host, hosts));
        if let Some(list) = self.exact.get(path)
            && let Some(&i) = list.iter().find(|&&i| ok(i))
        {
            return Some(i);
        }
        self.prefixes.iter().find(|(p, i)| path.starts_with(p.as_str()) && ok(*i)).map(|(_, i)| *i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GatewayConfig;

    fn router(yaml: &str) -> Router {
        Router::new(&GatewayConfig::from_yaml(yaml).unwrap().routes)
    }

    const UP: &str = "upstream: {nodes: {\"127.0.0.1:1\": 1}}";

    #[test]
    fn most_specific_wins() {
        let r = router(&format!(
            "routes:
  - {{uri: '/*', {UP}}}
  - {{uri: '/api/*', {UP}}}
  - {{uri: /api/users, {UP}}}
  - {{uri: '/api/users*', priority: 5, {UP}}}
"
        ));
        assert_eq!(r.find("GET", None, "/api/users"), Some(2));
        assert_eq!(r.find("GET", None, "/api/users/7"), Some(3));
        assert_eq!(r.find("GET", None, "/api/x"), Some(1));
        assert_eq!(r.find("GET", None, "/other"), Some(0));
    }

    #[test]
    fn priority_then_order_breaks_ties() {
        let r = router(&format!(
            "routes:
  - {{uri: /a, {UP}}}
  - {{uri: /a, priority: 10, {UP}}}
  - {{uri: /a, priority: 10, {UP}}}
"
        ));
        assert_eq!(r.find("GET", None, "/a"), Some(1));
    }

    #[test]
    fn methods_and_hosts_filter() {
        let r = router(&format!(
            "routes:
  - {{uri: /a, methods: [POST], {UP}}}
  - {{uri: /a, hosts: ['*.example.com'], {UP}}}
  - {{uri: /a, host: api.test, {UP}}}
"
        ));
        assert_eq!(r.find("POST", None, "/a"), Some(0));
        assert_eq!(r.find("GET", Some("x.example.com:8080"), "/a"), Some(1));
        assert_eq!(r.find("GET", Some("example.com"), "/a"), None);
        assert_eq!(r.find("GET", Some("API.test"), "/a"), Some(2));
        assert_eq!(r.find("GET", None, "/a"), None);
    }

    #[test]
    fn host_routes_come_first_and_trailing_dots_do_not_escape_them() {
        let r = router(&format!(
            "routes:
  - {{uri: '/*', {UP}}}
  - {{uri: '/*', host: secure.test, {UP}}}
"
        ));
        assert_eq!(r.find("GET", Some("secure.test"), "/x"), Some(1));
        assert_eq!(r.find("GET", Some("secure.test."), "/x"), Some(1));
        assert_eq!(r.find("GET", Some("SECURE.test.:80"), "/x"), Some(1));
        assert_eq!(r.find("GET", Some("other.test"), "/x"), Some(0));
        assert_eq!(r.find("GET", None, "/x"), Some(0));
    }

    #[test]
    fn an_exact_host_beats_a_wildcard_whatever_the_paths() {
        let r = router(&format!(
            "routes:
  - {{uri: '/pub/*', hosts: ['*.example.com'], {UP}}}
  - {{uri: '/*', host: admin.example.com, {UP}}}
"
        ));
        assert_eq!(r.find("GET", Some("admin.example.com"), "/pub/x"), Some(1));
        assert_eq!(r.find("GET", Some("www.example.com"), "/pub/x"), Some(0));
        assert_eq!(r.find("GET", Some("[::1]:8080"), "/pub/x"), None);
    }

    #[test]
    fn non_ascii_hosts_never_panic() {
        let r = router(&format!("routes:\n  - {{uri: /a, hosts: ['*.example.com'], {UP}}}\n"));
        for host in ["é.example.com", "xé.com", "ééééééééééééééé", "é"] {
            assert_eq!(
                r.find("GET", Some(host), "/a"),
                if host.ends_with(".example.com") { Some(0) } else { None }
            );
        }
    }

    #[test]
    fn exact_lookup_cost_does_not_depend_on_route_count() {
        // Not a timing test: the exact table is a hash map keyed by the path.
        let mut yaml = String::from("routes:\n");
        for i in 0..2000 {
            yaml.push_str(&format!("  - {{uri: /r{i}, {UP}}}\n"));
        }
        let r = router(&yaml);
        assert_eq!(r.exact.len(), 2000);
        assert!(r.prefixes.is_empty());
        assert_eq!(r.find("GET", None, "/r1999"), Some(1999));
    }
}
