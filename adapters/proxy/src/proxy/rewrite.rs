//! Pure rewrites of message heads between the client and the upstream: the canonical target,
//! the fields a client may not set, the upstream request head and the client response head.
//! Nothing here does I/O, so every rule is tested without sockets.

use std::net::SocketAddr;

use oidc_core::engine::IDENTITY_HEADERS;

use crate::config::{Node, PassHost};
use crate::http::canon::{PathError, canonical_target, is_canonical};
use crate::http::{BodyFraming, Header, RequestHead, ResponseHead, Version, strip_hop_by_hop};

/// Forwarding fields the gateway writes itself (or that say where a request came from or
/// what it was before a proxy rewrote it); a client's values are dropped (RFC 7239
/// `Forwarded` and `X-Real-IP` included: the gateway sets `X-Real-IP`, and sends no
/// `Forwarded`, so an upstream never reads a client-chosen address from either). Also the
/// URL-override fields some frameworks (IIS, Symfony, Zend) route on instead of the request
/// line: the path the gateway authorized must be the path the upstream serves.
const FORWARDING: [&str; 13] = [
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-uri",
    "x-real-ip",
    "forwarded",
    "x-original-url",
    "x-rewrite-url",
    "x-envoy-original-path",
    // Method overrides: the method the route's `methods` allowed must be the one served.
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Puts the request target in its one canonical origin form (see [`crate::http::canon`]):
/// absolute-form becomes origin-form, then dot segments, escapes and repeated slashes are
/// resolved. The router and the upstream see exactly this target.
///
/// # Errors
///
/// The reason the target is ambiguous (the request is answered 400).
pub fn canonicalize(head: &mut RequestHead, servlet: bool) -> Result<(), PathError> {
    if !head.target.starts_with('/') {
        if head.target == "*" || head.method == "CONNECT" {
            return Err(PathError::NotOriginForm);
        }
        // RFC 9112 §3.2.2: the authority of an absolute-form target is the host (the parser
        // has refused a `Host` that disagrees); keep it for routing once the target is
        // origin-form.
        if head.header("host").is_none()
            && let Some(authority) = head.host().map(str::to_string)
        {
            head.set_header("Host", authority);
        }
        let path = head.path();
        let path = if path.is_empty() { "/" } else { path };
        let origin = match head.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        head.target = origin;
    }
    if !is_canonical(&head.target) {
        head.target = canonical_target(&head.target)?;
    }
    if servlet && head.path().contains(';') {
        head.target = canonical_target(&without_path_parameters(&head.target))?;
    }
    Ok(())
}

/// The target with every path segment's parameters (`;` to the end of the segment) removed,
/// as a servlet container reads it; the query is kept.
fn without_path_parameters(target: &str) -> String {
    let (path, query) = target.split_at(target.find('?').unwrap_or(target.len()));
    let mut out = String::with_capacity(target.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(segment.split(';').next().unwrap_or(""));
    }
    out.push_str(query);
    out
}

/// `name` compared as CGI, WSGI and PHP upstreams compare header names: case-insensitive, and
/// `_` the same as `-` (they read `X_Userinfo` as `HTTP_X_USERINFO`, like `X-Userinfo`).
fn same_name(name: &str, reserved: &str) -> bool {
    name.len() == reserved.len()
        && name.bytes().zip(reserved.bytes()).all(|(a, b)| {
            let a = if a == b'_' { b'-' } else { a.to_ascii_lowercase() };
            a == b
        })
}

/// Removes the client fields the gateway owns: the identity headers it sets after
/// authentication, the forwarding headers it writes, and any underscore spelling of them or of
/// `X-Forwarded-For` (whose dashed form is kept and appended to).
pub fn drop_reserved(headers: &mut Vec<Header>) {
    headers.retain(|h| {
        let n = h.name.as_str();
        let reserved = IDENTITY_HEADERS.iter().chain(FORWARDING.iter()).any(|r| same_name(n, r));
        let underscored_xff = n.contains('_') && same_name(n, "x-forwarded-for");
        !reserved && !underscored_xff
    });
}

/// The protocol a client asks to switch to (`Connection: upgrade` with one `Upgrade` field,
/// on a request without a body): only WebSocket, the protocol `enable_websocket` is for (an
/// `h2c` or other upgrade would make the tunnel carry a protocol nobody checked). Read before
/// the hop-by-hop fields are removed.
pub fn wants_upgrade(head: &RequestHead) -> Option<Vec<u8>> {
    let mut upgrades = head.header_all("upgrade");
    let value = upgrades.next()?;
    let asked = head
        .header_all("connection")
        .any(|v| v.split(|b| *b == b',').any(|e| e.trim_ascii().eq_ignore_ascii_case(b"upgrade")));
    let websocket = value.eq_ignore_ascii_case(b"websocket");
    (asked && websocket && upgrades.next().is_none() && head.framing == BodyFraming::None)
        .then(|| value.to_vec())
}

/// RFC 9110 §9.2.2: only these may be sent again on a fresh connection after a pooled one
/// failed without an answer (RFC 9112 §9.3.1).
pub fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE")
}

/// Turns an authorized client head into the upstream's: framing fields for `framing`,
/// `X-Forwarded-*` and `X-Real-IP` from the connection, the `Host` policy, HTTP/1.1. The
/// hop-by-hop fields were removed before the engine saw the request.
pub fn upstream_head(
    head: &mut RequestHead,
    framing: BodyFraming,
    original_host: Option<String>,
    peer: SocketAddr,
    node: &Node,
    pass_host: &PassHost,
    https: bool,
) {
    head.remove_header("expect");
    head.remove_header("content-length");
    head.remove_header("transfer-encoding");
    match framing {
        BodyFraming::ContentLength(n) => head.set_header("Content-Length", n.to_string()),
        BodyFraming::Chunked => head.set_header("Transfer-Encoding", b"chunked"),
        BodyFraming::None | BodyFraming::UntilClose => {}
    }
    let xff = match head.header("x-forwarded-for").and_then(|v| std::str::from_utf8(v).ok()) {
        Some(prev) => format!("{prev}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    head.set_header("X-Forwarded-For", xff);
    head.set_header("X-Real-IP", peer.ip().to_string());
    head.set_header("X-Forwarded-Proto", if https { &b"https"[..] } else { b"http" });
    if let Some(h) = original_host {
        head.set_header("X-Forwarded-Host", h);
    }
    match pass_host {
        PassHost::Pass => {}
        PassHost::Node => head.set_header("Host", node_host(node)),
        PassHost::Rewrite(h) => head.set_header("Host", h.as_bytes()),
    }
    // An HTTP/1.0 client may send no Host; the upstream request is HTTP/1.1, which needs one.
    if head.header("host").is_none() {
        head.set_header("Host", node_host(node));
    }
    head.version = Version::Http11;
}

/// A node as a `Host` value: IPv6 literals bracketed, the port unless it is 80.
fn node_host(node: &Node) -> String {
    let host = if node.host.contains(':') && !node.host.starts_with('[') {
        format!("[{}]", node.host)
    } else {
        node.host.clone()
    };
    if node.port == 80 { host } else { format!("{host}:{}", node.port) }
}

/// Removes the gateway's own cookies (names for which `is_own` holds: the session's chunks,
/// the login state cookie) from the request's `Cookie` fields before the request goes
/// upstream, keeping every other cookie in its order; a field left empty is removed. The
/// upstream gets the identity headers instead, and a sealed session never leaves the gateway.
pub fn strip_cookies(headers: &mut Vec<Header>, is_own: impl Fn(&[u8]) -> bool) {
    for h in headers.iter_mut().filter(|h| h.name.eq_ignore_ascii_case("cookie")) {
        let pairs: Vec<&[u8]> = h
            .value
            .split(|b| *b == b';')
            .map(<[u8]>::trim_ascii)
            .filter(|pair| !pair.is_empty())
            .collect();
        let own = |pair: &&[u8]| {
            is_own(pair.split(|b| *b == b'=').next().unwrap_or_default().trim_ascii())
        };
        if pairs.iter().any(own) {
            let kept: Vec<&[u8]> = pairs.into_iter().filter(|p| !own(p)).collect();
            h.value = kept.join(&b"; "[..]);
        }
    }
    headers.retain(|h| !(h.name.eq_ignore_ascii_case("cookie") && h.value.is_empty()));
}

/// Whether a request can follow a redirect to the identity provider's login page: a browser
/// navigation can, a script's request cannot (it would receive the login page as data). Script
/// requests are recognised by `Sec-Fetch-Mode: cors` (or `no-cors`, `same-origin`),
/// `X-Requested-With`, or an `Accept` that names media types but not `text/html`; they get 401
/// instead of 302.
pub fn can_follow_login_redirect(head: &RequestHead) -> bool {
    let fetch_mode_ok = head.header("sec-fetch-mode").is_none_or(|m| {
        !(m.eq_ignore_ascii_case(b"cors")
            || m.eq_ignore_ascii_case(b"no-cors")
            || m.eq_ignore_ascii_case(b"same-origin"))
    });
    let not_xhr = head.header("x-requested-with").is_none();
    let accept_ok = head.header("accept").is_none_or(|a| {
        a.split(|b| *b == b',').any(|t| {
            let t = t.split(|b| *b == b';').next().unwrap_or_default().trim_ascii();
            t.eq_ignore_ascii_case(b"text/html")
        })
    });
    fetch_mode_ok && not_xhr && accept_ok
}

/// How the response body travels to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFraming {
    /// As the upstream framed it.
    Same,
    /// The upstream's chunked body, de-chunked and delimited by closing the connection (an
    /// HTTP/1.0 client cannot read chunked, RFC 9112 §6.1).
    DechunkUntilClose,
}

/// The response head for the client, and whether the client connection stays open after it.
pub fn client_head(
    resp: &mut ResponseHead,
    client_version: Version,
    client_keep_alive: bool,
    request_method: &str,
) -> (Vec<Header>, bool, ClientFraming) {
    let mut headers = std::mem::take(&mut resp.headers);
    strip_hop_by_hop(&mut headers);
    // A response to HEAD may state the length a GET would have had (RFC 9110 §8.6); otherwise
    // the length field is rewritten from the framing actually used.
    let informational_length = request_method == "HEAD" && resp.framing == BodyFraming::None;
    if !informational_length {
        headers.retain(|h| !h.name.eq_ignore_ascii_case("content-length"));
    }
    let mut keep_alive = client_keep_alive;
    let mut framing = ClientFraming::Same;
    match resp.framing {
        BodyFraming::ContentLength(n) => headers.push(Header::new("Content-Length", n.to_string())),
        BodyFraming::Chunked if client_version == Version::Http10 => {
            framing = ClientFraming::DechunkUntilClose;
            keep_alive = false;
        }
        BodyFraming::Chunked => headers.push(Header::new("Transfer-Encoding", "chunked")),
        BodyFraming::UntilClose => keep_alive = false,
        BodyFraming::None => {}
    }
    if !keep_alive {
        headers.push(Header::new("Connection", "close"));
    } else if client_version == Version::Http10 {
        headers.push(Header::new("Connection", "keep-alive"));
    }
    (headers, keep_alive, framing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Limits, parse_request_head};

    fn head(raw: &str) -> RequestHead {
        parse_request_head(raw.as_bytes(), &Limits::default()).unwrap().unwrap().0
    }

    #[test]
    fn absolute_form_keeps_its_host() {
        let mut h = head("GET http://secure.test/x HTTP/1.0\r\n\r\n");
        canonicalize(&mut h, false).unwrap();
        assert_eq!((h.target.as_str(), h.host()), ("/x", Some("secure.test")));
    }

    #[test]
    fn absolute_form_becomes_canonical_origin_form() {
        let mut h = head("GET http://a.test/public/../api/x?q=1 HTTP/1.1\r\nHost: a.test\r\n\r\n");
        canonicalize(&mut h, false).unwrap();
        assert_eq!(h.target, "/api/x?q=1");
        let mut h = head("GET http://a.test HTTP/1.1\r\nHost: a.test\r\n\r\n");
        canonicalize(&mut h, false).unwrap();
        assert_eq!(h.target, "/");
        let mut h = head("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(canonicalize(&mut h, false), Err(PathError::NotOriginForm));
    }

    #[test]
    fn servlet_normalisation_drops_path_parameters() {
        let mut h = head("GET /api;jsessionid=1/x;y/z?a=;b HTTP/1.1\r\nHost: a\r\n\r\n");
        canonicalize(&mut h, true).unwrap();
        assert_eq!(h.target, "/api/x/z?a=;b");
        let mut h = head("GET /a/;x/b HTTP/1.1\r\nHost: a\r\n\r\n");
        canonicalize(&mut h, true).unwrap();
        assert_eq!(h.target, "/a/b");
        let mut h = head("GET /api;x/y HTTP/1.1\r\nHost: a\r\n\r\n");
        canonicalize(&mut h, false).unwrap();
        assert_eq!(h.target, "/api;x/y", "kept unless asked for");
    }

    #[test]
    fn reserved_fields_are_dropped_in_every_spelling() {
        let mut hs = vec![
            Header::new("X-Userinfo", "a"),
            Header::new("X_Userinfo", "a"),
            Header::new("x_access_TOKEN", "a"),
            Header::new("X-ID-Token", "a"),
            Header::new("X_Forwarded_Proto", "https"),
            Header::new("X-Forwarded-Proto", "https"),
            Header::new("Forwarded", "for=1.2.3.4"),
            Header::new("X-Real-IP", "1.2.3.4"),
            Header::new("X_Forwarded_For", "1.2.3.4"),
            Header::new("X-Forwarded-For", "5.6.7.8"),
            Header::new("X-Userinfo-Extra", "kept"),
            Header::new("X-Original-URL", "/admin"),
            Header::new("x_rewrite_url", "/admin"),
            Header::new("Authorization", "Bearer t"),
        ];
        drop_reserved(&mut hs);
        let names: Vec<&str> = hs.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["X-Forwarded-For", "X-Userinfo-Extra", "Authorization"]);
    }

    #[test]
    fn the_gateways_cookies_never_go_upstream() {
        let own = |n: &[u8]| n == b"session" || n == b"session2" || n == b"session_state";
        let mut hs = vec![
            Header::new("Cookie", "a=1; session=SEALED; b=2"),
            Header::new("cookie", "session2=MORE;session_state=FLOW"),
            Header::new("Cookie", "theme=dark"),
        ];
        strip_cookies(&mut hs, own);
        let values: Vec<&[u8]> = hs.iter().map(|h| h.value.as_slice()).collect();
        assert_eq!(values, [&b"a=1; b=2"[..], b"theme=dark"]);
        let mut hs = vec![Header::new("Cookie", "x=1;y=2")];
        strip_cookies(&mut hs, own);
        assert_eq!(hs[0].value, b"x=1;y=2", "untouched when nothing is removed");
    }

    #[test]
    fn scripts_get_401_instead_of_a_login_redirect() {
        let nav = "GET / HTTP/1.1\r\nHost: a\r\nAccept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\nSec-Fetch-Mode: navigate\r\n\r\n";
        assert!(can_follow_login_redirect(&head(nav)));
        assert!(can_follow_login_redirect(&head("GET / HTTP/1.1\r\nHost: a\r\n\r\n")));
        for script in [
            "GET / HTTP/1.1\r\nHost: a\r\nSec-Fetch-Mode: cors\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX-Requested-With: XMLHttpRequest\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n\r\n",
        ] {
            assert!(!can_follow_login_redirect(&head(script)), "{script}");
        }
    }

    #[test]
    fn only_idempotent_methods_are_retried() {
        for m in ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"] {
            assert!(is_idempotent(m), "{m}");
        }
        for m in ["POST", "PATCH", "CONNECT", "get"] {
            assert!(!is_idempotent(m), "{m}");
        }
    }

    #[test]
    fn upgrade_needs_both_fields() {
        assert_eq!(
            wants_upgrade(&head(
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"
            )),
            Some(b"websocket".to_vec())
        );
        assert_eq!(
            wants_upgrade(&head("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")),
            None
        );
    }
}
