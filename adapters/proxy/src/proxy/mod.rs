//! The reverse-proxy loop, written once over the [`runtime`](crate::runtime) traits: read a
//! request head, put its target in canonical form, route it, ask the engine, forward head and
//! streamed body upstream, stream the response back, keep connections alive on both sides.
//!
//! A request that is denied never opens an upstream connection. Identity and forwarding
//! headers from the client are always removed. Bodies are streamed in bounded pieces, never
//! buffered whole. Every wait has a deadline: the idle keep-alive wait, the whole request head
//! (`client_header_timeout`), each body read, each write, the engine's decision.

mod body;
mod forward;
pub mod rewrite;
mod tunnel;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use oidc_core::config::OidcConfig;
use oidc_core::engine::{AuthVia, Decision, RequestView, RouteHandle};

use self::body::{Deadlines, write_client};
use crate::access_log::Entry;
use crate::balancer::Balancer;
use crate::config::GatewayConfig;
use crate::driver::{DecisionFuture, SharedDriver};
use crate::http::{
    BodyFraming, Header, Limits, RequestHead, Version, parse_request_head, strip_hop_by_hop,
    write_response_head,
};
use crate::pool::Pool;
use crate::router::Router;
use crate::runtime::{Connector, Duplex, Signal, Stream, Timer, race, read_more, timeout};

/// Where access-log lines go.
pub type LogSink = Rc<dyn Fn(&str)>;

/// Room for the first read of an idle connection: most request heads fit, and an idle
/// keep-alive connection pins no more than this while its read is pending.
const IDLE_READ: usize = 2 * 1024;
/// A client buffer larger than this after a request is released rather than kept idle.
const KEEP_IDLE: usize = 8 * 1024;

/// A worker's view of one configuration generation: routes, balancers, the engine's compiled
/// routes, the driver. A request uses the generation current when its head arrived, from
/// routing to its decision; the next request on the connection uses whatever is current then.
pub struct Gateway {
    /// The configuration.
    pub config: GatewayConfig,
    router: Router,
    balancers: RefCell<Vec<Balancer>>,
    limits: Limits,
    /// For each route, its compiled `openid-connect` configuration, if it has one.
    engine_routes: Vec<Option<RouteHandle>>,
    /// The engine driver (shared with the IdP task).
    pub driver: SharedDriver,
    /// Where access-log lines go (`None`: off).
    pub log: Option<LogSink>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("routes", &self.config.routes.len()).finish_non_exhaustive()
    }
}

/// The `openid-connect` configurations of `config`'s routes, in route order: what the engine
/// is (re)configured with; its route handles come back in the same order.
pub fn oidc_configs(config: &GatewayConfig) -> Vec<OidcConfig> {
    config.routes.iter().filter_map(|r| r.oidc.clone()).collect()
}

impl Gateway {
    /// Builds a worker's gateway for `config`; `handles` are the engine's route handles for
    /// [`oidc_configs`]`(&config)`, in order (from [`crate::driver::Driver::reconfigure`]).
    pub fn new(
        config: GatewayConfig,
        driver: SharedDriver,
        handles: Vec<RouteHandle>,
        log: Option<LogSink>,
    ) -> Self {
        let router = Router::new(&config.routes);
        let balancers = config.routes.iter().map(|r| Balancer::new(&r.upstream.nodes)).collect();
        let limits = Limits {
            max_head_bytes: config.gateway.max_request_head_bytes,
            max_headers: config.gateway.max_request_headers,
            ..Limits::default()
        };
        let mut handles = handles.into_iter();
        let engine_routes =
            config.routes.iter().map(|r| r.oidc.as_ref().and_then(|_| handles.next())).collect();
        Self {
            config,
            router,
            balancers: RefCell::new(balancers),
            limits,
            engine_routes,
            driver,
            log,
        }
    }
}

/// What went wrong while proxying, for the status sent and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The client went away or stopped reading: close without a response.
    ClientGone,
    /// The client stopped sending its body: 408 if nothing was answered yet, then close.
    ClientTimeout,
    /// The client's chunked body is malformed: 400, then close.
    BadBody,
    /// The upstream failed after the response started: close the client connection.
    UpstreamBroken,
    /// Answer this status and close.
    Status(u16),
}

/// Per-connection resources the proxy loop needs from its worker.
#[derive(Debug)]
pub struct ConnContext<'a, T, C: Connector> {
    /// The runtime's timer.
    pub timer: &'a T,
    /// Opens upstream connections.
    pub connector: &'a C,
    /// The worker's idle upstream connections.
    pub pool: &'a Pool<C::Conn>,
    /// Raised when the worker drains: idle keep-alive connections close at once.
    pub drain: &'a Signal,
}

/// Serves one client connection until it closes, errs, or asks to close. `current` gives the
/// configuration generation in force; it is asked once per request.
pub async fn serve_connection<S, T, C>(
    current: &dyn Fn() -> Rc<Gateway>,
    mut client: S,
    peer: SocketAddr,
    cx: &ConnContext<'_, T, C>,
) where
    S: Duplex,
    T: Timer,
    C: Connector,
{
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let gw = current();
        let head = match read_head(&gw, &mut client, &mut buf, cx).await {
            HeadRead::Head(h) => h,
            HeadRead::Closed => return,
            HeadRead::Refuse(status, reason, code) => {
                let body = if status == 408 {
                    &br#"{"error":"request timeout"}"#[..]
                } else {
                    &br#"{"error":"bad request"}"#[..]
                };
                let d = deadlines(&gw, None);
                // Boxed like the request below: rare, so not part of every idle task.
                let answer = Box::pin(respond(
                    &mut client,
                    cx.timer,
                    &d,
                    status,
                    reason,
                    &[],
                    (JSON, body),
                    false,
                    false,
                ));
                let _ = answer.await;
                log(
                    &gw,
                    &Entry {
                        peer: Some(peer),
                        method: "-",
                        path: "-",
                        status,
                        auth: "none",
                        reason: Some(code),
                        ..Entry::default()
                    },
                );
                let _ = client.shutdown().await;
                return;
            }
        };
        // The configuration in force when the head arrived, not when the idle wait began: a
        // reload during a keep-alive pause applies to the next request.
        let gw = current();
        let started = Instant::now();
        // The request's state machine (routing, the decision, forwarding, bodies) is several
        // KiB; boxed, it exists only while a request is in flight, and an idle keep-alive
        // connection's task holds just the head-reading state.
        let request = Box::pin(handle(&gw, head, &mut buf, &mut client, peer, cx, started));
        let keep_alive = match request.await {
            forward::Outcome::Done(keep_alive) => keep_alive,
            forward::Outcome::Tunnel(upstream, to_client) => {
                let idle = Duration::from_secs(gw.config.gateway.client_keepalive_timeout);
                let to_upstream = std::mem::take(&mut buf);
                Box::pin(tunnel::tunnel(client, upstream, to_upstream, to_client, cx.timer, idle))
                    .await;
                return;
            }
        };
        if !keep_alive {
            let _ = client.shutdown().await;
            return;
        }
        if buf.is_empty() && buf.capacity() > KEEP_IDLE {
            buf = Vec::new();
        }
    }
}

enum HeadRead {
    Head(RequestHead),
    Closed,
    /// Answer this status (with its reason phrase and log code), then close.
    Refuse(u16, &'static str, &'static str),
}

/// Reads one request head. An idle connection waits up to the keep-alive timeout for the
/// first byte (and closes at once when the worker drains); from the first byte on, the whole
/// head must arrive within `client_header_timeout`, and the size limits apply to every read,
/// so neither a trickling nor an endless head holds the connection.
async fn read_head<S: Stream, T: Timer, C: Connector>(
    gw: &Gateway,
    client: &mut S,
    buf: &mut Vec<u8>,
    cx: &ConnContext<'_, T, C>,
) -> HeadRead {
    let settings = &gw.config.gateway;
    let header_timeout = Duration::from_secs(settings.client_header_timeout);
    let mut deadline = (!buf.is_empty()).then(|| Instant::now() + header_timeout);
    loop {
        match parse_request_head(buf, &gw.limits) {
            Ok(Some((head, used))) => {
                buf.drain(..used);
                return HeadRead::Head(head);
            }
            Ok(None) => {}
            Err(e) => return HeadRead::Refuse(e.status(), e.reason(), "malformed_request"),
        }
        // Grow geometrically, never past what the head limit can still use.
        let room = gw.limits.max_head_bytes + 1 - buf.len().min(gw.limits.max_head_bytes);
        let spare = buf.len().max(IDLE_READ).min(room);
        match deadline {
            None => {
                if cx.drain.is_raised() {
                    return HeadRead::Closed;
                }
                let idle = Duration::from_secs(settings.client_keepalive_timeout);
                let read = async { Some(read_more(client, buf, spare).await) };
                let drained = async {
                    cx.drain.wait().await;
                    None
                };
                match timeout(cx.timer, idle, race(read, drained)).await {
                    Ok(Some(Ok(n))) if n > 0 => {
                        deadline = Some(Instant::now() + header_timeout);
                    }
                    _ => return HeadRead::Closed,
                }
            }
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                match timeout(cx.timer, left, read_more(client, buf, spare)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    Ok(_) => return HeadRead::Closed,
                    Err(_) => return HeadRead::Refuse(408, "Request Timeout", "header_timeout"),
                }
            }
        }
    }
}

/// `path` with each segment's parameters replaced by `;*`.
fn redact_parameters(path: &str) -> String {
    if !path.contains(';') {
        return path.to_string();
    }
    let parts: Vec<&str> = path
        .split('/')
        .map(|segment| match segment.split_once(';') {
            Some((name, _)) => name,
            None => segment,
        })
        .collect();
    let mut out = String::with_capacity(path.len());
    for (i, (part, segment)) in parts.iter().zip(path.split('/')).enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(part);
        if segment.contains(';') {
            out.push_str(";*");
        }
    }
    out
}

fn deadlines(gw: &Gateway, route: Option<&crate::config::RouteConfig>) -> Deadlines {
    let g = &gw.config.gateway;
    let (send, read) = route.map_or((Duration::from_secs(60), Duration::from_secs(60)), |r| {
        (r.upstream.timeout.send, r.upstream.timeout.read)
    });
    Deadlines {
        client_body: Duration::from_secs(g.client_body_timeout),
        client_send: Duration::from_secs(g.send_timeout),
        upstream_send: send,
        upstream_read: read,
    }
}

/// An answer of the gateway's own instead of the upstream's.
struct Reply {
    status: u16,
    headers: Vec<Header>,
    body: std::borrow::Cow<'static, [u8]>,
    content_type: &'static str,
    /// The access log's auth outcome and reason code.
    auth: &'static str,
    reason: Option<&'static str>,
}

impl Reply {
    fn fixed(status: u16, body: &'static [u8], reason: Option<&'static str>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            content_type: JSON,
            auth: "none",
            reason,
        }
    }
}

const JSON: &str = "application/json";

/// What an allowed request takes upstream besides its head: the access log's outcome and the
/// cookies for the response.
struct Allowed {
    auth: &'static str,
    reason: Option<&'static str>,
    set_cookies: Vec<String>,
}

/// Handles one request; returns whether the client connection may be reused.
#[allow(clippy::too_many_arguments)]
async fn handle<S: Stream, T: Timer, C: Connector>(
    gw: &Gateway,
    mut head: RequestHead,
    buf: &mut Vec<u8>,
    client: &mut S,
    peer: SocketAddr,
    cx: &ConnContext<'_, T, C>,
    started: Instant,
) -> forward::Outcome<C::Conn> {
    let done = forward::Outcome::Done;
    let is_head = head.method == "HEAD";
    // The log entry outlives the head (moved upstream): copies only when a log is kept.
    let method = if gw.log.is_some() { head.method.clone() } else { String::new() };
    let has_body = head.framing != BodyFraming::None;
    // A response sent before the body was read leaves the connection unusable.
    let early_keep_alive = head.keep_alive && !has_body;

    // One canonical target: the router and the upstream both see exactly it.
    let canonical = rewrite::canonicalize(&mut head, gw.config.gateway.normalize_uri_like_servlet);
    let path = match (&gw.log, &canonical) {
        (None, _) => String::new(),
        // The raw path of a refused target is not logged: it is the client's text.
        (Some(_), Err(_)) => "-".into(),
        // Path parameters (`;jsessionid=...`) can carry session secrets: their values are not
        // logged, but where they were is.
        (Some(_), Ok(())) => redact_parameters(head.path()),
    };
    let mut entry =
        Entry { peer: Some(peer), method: &method, path: &path, auth: "none", ..Entry::default() };
    let routed = match canonical {
        Err(e) => Err(Reply::fixed(400, br#"{"error":"bad request"}"#, Some(e.code()))),
        Ok(()) => gw
            .router
            .find(&head.method, head.host(), head.path())
            .ok_or_else(|| Reply::fixed(404, br#"{"error":"no route"}"#, None)),
    };
    // Only a trusted front (a TLS terminator) may say the request came over https.
    let https = gw.config.gateway.trusted_addresses.iter().any(|b| b.contains(peer.ip()))
        && head.header("x-forwarded-proto").is_some_and(|v| v.eq_ignore_ascii_case(b"https"));
    let (route_idx, upgrade, set_cookies) = match routed {
        Ok(i) => {
            entry.route = Some(&gw.config.routes[i].id);
            let route = &gw.config.routes[i];
            let upgrade = if route.enable_websocket { rewrite::wants_upgrade(&head) } else { None };
            match authorize(gw, i, &mut head, cx, https).await {
                Ok(allowed) => {
                    (entry.auth, entry.reason) = (allowed.auth, allowed.reason);
                    (i, upgrade, allowed.set_cookies)
                }
                Err(reply) => {
                    let d = deadlines(gw, None);
                    finish(
                        gw,
                        client,
                        cx,
                        &d,
                        reply,
                        early_keep_alive,
                        is_head,
                        &mut entry,
                        started,
                    )
                    .await;
                    return done(early_keep_alive);
                }
            }
        }
        Err(reply) => {
            let d = deadlines(gw, None);
            finish(gw, client, cx, &d, reply, early_keep_alive, is_head, &mut entry, started).await;
            return done(early_keep_alive);
        }
    };
    let route = &gw.config.routes[route_idx];
    let d = deadlines(gw, Some(route));
    let io = forward::Io {
        client,
        peer,
        timer: cx.timer,
        connector: cx.connector,
        pool: cx.pool,
        set_cookies,
        https,
    };
    let result =
        forward::forward(gw, route, route_idx, head, upgrade, buf, io, &d, &mut entry).await;
    let (auth, reason) = (entry.auth, entry.reason);
    let reply = match result {
        Ok(outcome) => {
            entry.duration = started.elapsed();
            log(gw, &entry);
            return outcome;
        }
        Err(Failure::ClientGone | Failure::UpstreamBroken) => {
            entry.duration = started.elapsed();
            log(gw, &entry);
            return done(false);
        }
        Err(Failure::ClientTimeout) => Reply::fixed(408, br#"{"error":"request timeout"}"#, reason),
        Err(Failure::BadBody) => Reply::fixed(
            400,
            br#"{"error":"malformed chunked request body"}"#,
            Some("bad_request_body"),
        ),
        Err(Failure::Status(504)) => {
            Reply::fixed(504, br#"{"error":"upstream timed out"}"#, reason)
        }
        Err(Failure::Status(status)) => {
            Reply::fixed(status, br#"{"error":"upstream unavailable"}"#, reason)
        }
    };
    finish(gw, client, cx, &d, Reply { auth, ..reply }, false, is_head, &mut entry, started).await;
    done(false)
}

/// Sends the gateway's own answer and logs the request.
#[allow(clippy::too_many_arguments)]
async fn finish<S: Stream, T: Timer, C: Connector>(
    gw: &Gateway,
    client: &mut S,
    cx: &ConnContext<'_, T, C>,
    d: &Deadlines,
    reply: Reply,
    keep_alive: bool,
    is_head: bool,
    entry: &mut Entry<'_>,
    started: Instant,
) {
    entry.status = reply.status;
    entry.auth = reply.auth;
    entry.reason = reply.reason;
    let phrase = reason_phrase(reply.status);
    let _ = respond(
        client,
        cx.timer,
        d,
        reply.status,
        phrase,
        &reply.headers,
        (reply.content_type, &reply.body),
        keep_alive,
        is_head,
    )
    .await;
    entry.duration = started.elapsed();
    log(gw, entry);
}

/// Runs the route's `openid-connect` check (if any) and applies its header changes; removes
/// the client fields the gateway owns either way. `Ok` with the access log's auth outcome.
async fn authorize<T: Timer, C: Connector>(
    gw: &Gateway,
    route_idx: usize,
    head: &mut RequestHead,
    cx: &ConnContext<'_, T, C>,
    https: bool,
) -> Result<Allowed, Reply> {
    // Fields the client nominated in `Connection` go before anything is judged or added, so
    // they can never remove what the gateway sets.
    strip_hop_by_hop(&mut head.headers);
    let Some(Some(engine_route)) = gw.engine_routes.get(route_idx) else {
        rewrite::drop_reserved(&mut head.headers);
        return Ok(Allowed { auth: "none", reason: None, set_cookies: Vec::new() });
    };
    let headers: Vec<(&str, &[u8])> =
        head.headers.iter().map(|h| (h.name.as_str(), h.value.as_slice())).collect();
    let route = &gw.config.routes[route_idx];
    // A derived redirect URI may use the request's authority only when the router matched it
    // against the route's configured hosts (the loader refuses host-less login routes without
    // an absolute `redirect_uri`).
    let authority = if route.hosts.is_empty() { None } else { head.host() };
    let req =
        RequestView { https, authority, ..RequestView::new(&head.method, &head.target, &headers) };
    let token = gw.driver.borrow_mut().submit(engine_route, req);
    drop(headers);
    // The engine decides every request, but a request must never wait on it forever: a
    // backstop past the longest chain of IdP calls a decision can need.
    let idp_timeout = route.oidc.as_ref().map_or(3_000, |c| c.timeout_ms);
    let backstop = Duration::from_millis(idp_timeout.saturating_mul(3).saturating_add(2_000));
    let decision =
        timeout(cx.timer, backstop, DecisionFuture::new(Rc::clone(&gw.driver), token)).await;
    let Ok(decision) = decision else {
        let body = br#"{"error":"identity provider unavailable"}"#;
        let mut reply = Reply::fixed(503, body, Some("decision_timeout"));
        reply.headers.push(Header::new("Retry-After", "1"));
        reply.auth = "denied";
        return Err(reply);
    };
    match decision {
        Decision::Deny(den) => Err(Reply {
            status: den.status,
            headers: den.headers.iter().map(|(n, v)| Header::new(*n, v.as_bytes())).collect(),
            body: den.body.into_bytes().into(),
            content_type: JSON,
            auth: "denied",
            reason: Some(den.reason.code()),
        }),
        Decision::Respond(r) => Err(Reply {
            status: r.status,
            headers: r.headers.into_iter().map(|(n, v)| Header::new(n, v)).collect(),
            body: r.body.into_bytes().into(),
            content_type: r.content_type,
            auth: "login",
            reason: Some(r.reason.code()),
        }),
        Decision::Allow(g) => {
            rewrite::drop_reserved(&mut head.headers);
            for name in &g.remove_headers {
                head.remove_header(name);
            }
            // The session and state cookies are the gateway's: the upstream never sees them.
            if let Some(own) = &g.own_cookies {
                rewrite::strip_cookies(&mut head.headers, |name| own.is_own(name));
            }
            // The engine's strings become the header values without a copy.
            for (name, value) in g.set_headers {
                head.set_header(name, value);
            }
            let auth = if g.via == AuthVia::Anonymous { "anonymous" } else { "allowed" };
            Ok(Allowed { auth, reason: Some(via_code(g.via)), set_cookies: g.set_cookies })
        }
        // A decision this proxy does not know: refuse rather than forward unchecked.
        _ => Err(Reply::fixed(500, br#"{"error":"gateway misconfigured"}"#, Some("misconfigured"))),
    }
}

/// Writes a complete response of the gateway's own (no body bytes for `HEAD`, whose answer
/// only announces the length).
#[allow(clippy::too_many_arguments)]
async fn respond<S: Stream, T: Timer>(
    s: &mut S,
    timer: &T,
    d: &Deadlines,
    status: u16,
    reason: &str,
    headers: &[Header],
    (content_type, body): (&str, &[u8]),
    keep_alive: bool,
    head_request: bool,
) -> Result<(), Failure> {
    let mut hs = headers.to_vec();
    hs.push(Header::new("Content-Type", content_type));
    hs.push(Header::new("Content-Length", body.len().to_string()));
    if !hs.iter().any(|h| h.name.eq_ignore_ascii_case("cache-control")) {
        hs.push(Header::new("Cache-Control", "no-store"));
    }
    if !keep_alive {
        hs.push(Header::new("Connection", "close"));
    }
    let mut out = Vec::with_capacity(256 + body.len());
    write_response_head(Version::Http11, status, reason, &hs, &mut out);
    if !head_request {
        out.extend_from_slice(body);
    }
    write_client(s, timer, d, out).await.0
}

fn log(gw: &Gateway, entry: &Entry<'_>) {
    if let Some(sink) = &gw.log {
        sink(&entry.to_json());
    }
}

fn via_code(via: AuthVia) -> &'static str {
    match via {
        AuthVia::JwtCached => "jwt_cached",
        AuthVia::Jwt => "jwt",
        AuthVia::IntrospectionCached => "introspection_cached",
        AuthVia::Introspection => "introspection",
        AuthVia::Anonymous => "anonymous",
        AuthVia::Session => "session",
        AuthVia::SessionRefreshed => "session_refreshed",
    }
}

/// The standard reason phrase of the statuses the gateway sends itself.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::redact_parameters;

    #[test]
    fn parameter_values_never_reach_the_log() {
        assert_eq!(redact_parameters("/a/b"), "/a/b");
        assert_eq!(redact_parameters("/api;jsessionid=S3CR3T/x"), "/api;*/x");
        assert_eq!(redact_parameters("/a;x/b;y=1;z"), "/a;*/b;*");
    }
}
