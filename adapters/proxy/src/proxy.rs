//! The reverse-proxy loop, written once over the [`runtime`](crate::runtime) traits: read a
//! request head, route it, ask the engine, forward head and streamed body upstream, stream the
//! response back, keep connections alive on both sides.
//!
//! A request that is denied never opens an upstream connection. Identity headers from the
//! client are always removed. Bodies are streamed in bounded pieces, never buffered whole.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use oidc_core::engine::{AuthVia, Decision, IDENTITY_HEADERS, RequestView};

use crate::access_log::Entry;
use crate::balancer::Balancer;
use crate::config::{GatewayConfig, PassHost, RouteConfig};
use crate::driver::{DecisionFuture, SharedDriver};
use crate::http::{
    BodyFraming, ChunkedDecoder, Header, LengthCounter, Limits, RequestHead, ResponseHead, Version,
    encode_chunk, encode_last_chunk, parse_request_head, parse_response_head, strip_hop_by_hop,
    write_request_head, write_response_head,
};
use crate::pool::Pool;
use crate::router::Router;
use crate::runtime::{Connector, Stream, Timer, timeout};

/// Where access-log lines go.
pub type LogSink = Rc<dyn Fn(&str)>;

/// Size of one read from either side.
const READ_CHUNK: usize = 64 * 1024;

/// A worker's view of one configuration generation: routes, balancers, the engine driver.
pub struct Gateway {
    /// The configuration.
    pub config: GatewayConfig,
    router: Router,
    balancers: RefCell<Vec<Balancer>>,
    limits: Limits,
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

impl Gateway {
    /// Builds a worker's gateway for `config`, with `driver` already configured with the
    /// routes' `openid-connect` configs (see [`oidc_route_indices`]).
    pub fn new(config: GatewayConfig, driver: SharedDriver, log: Option<LogSink>) -> Self {
        let router = Router::new(&config.routes);
        let balancers = config.routes.iter().map(|r| Balancer::new(&r.upstream.nodes)).collect();
        let limits = Limits {
            max_head_bytes: config.gateway.max_request_head_bytes,
            max_headers: config.gateway.max_request_headers,
            ..Limits::default()
        };
        Self { config, router, balancers: RefCell::new(balancers), limits, driver, log }
    }
}

/// For each route, the index of its `openid-connect` config in the list given to the engine.
pub fn oidc_route_indices(
    config: &GatewayConfig,
) -> (Vec<oidc_core::config::OidcConfig>, Vec<Option<usize>>) {
    let mut configs = Vec::new();
    let indices = config
        .routes
        .iter()
        .map(|r| {
            r.oidc.as_ref().map(|c| {
                configs.push(c.clone());
                configs.len() - 1
            })
        })
        .collect();
    (configs, indices)
}

/// What went wrong while proxying, for the status sent and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The client went away or broke framing: close without a response.
    ClientGone,
    /// Answer this status and close.
    Status(u16),
}

/// Serves one client connection until it closes, errs, or asks to close.
pub async fn serve_connection<S, T, C>(
    gw: Rc<Gateway>,
    oidc_index: Rc<Vec<Option<usize>>>,
    mut client: S,
    peer: SocketAddr,
    timer: &T,
    connector: &C,
    pool: &Pool<C::Conn>,
) where
    S: Stream,
    T: Timer,
    C: Connector,
{
    let keepalive = Duration::from_secs(gw.config.gateway.client_keepalive_timeout);
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut scratch = Scratch::default();
    loop {
        // Read a request head.
        let head = loop {
            match parse_request_head(&buf, &gw.limits) {
                Ok(Some((head, used))) => {
                    buf.drain(..used);
                    break head;
                }
                Ok(None) => {
                    if buf.capacity() - buf.len() < 4096 {
                        buf.reserve(READ_CHUNK);
                    }
                    match timeout(timer, keepalive, client.read(buf)).await {
                        Ok((Ok(n), b)) => {
                            buf = b;
                            if n == 0 {
                                return;
                            }
                        }
                        _ => return,
                    }
                }
                Err(e) => {
                    let _ = respond(
                        &mut client,
                        e.status(),
                        e.reason(),
                        &[],
                        br#"{"error":"bad request"}"#,
                        false,
                    )
                    .await;
                    log(
                        &gw,
                        &Entry {
                            peer: Some(peer),
                            method: "-",
                            path: "-",
                            status: e.status(),
                            auth: "none",
                            ..Entry::default()
                        },
                    );
                    return;
                }
            }
        };
        let started = Instant::now();
        let mut io =
            Io { client: &mut client, peer, timer, connector, pool, scratch: &mut scratch };
        let keep_alive = handle(&gw, &oidc_index, head, &mut buf, &mut io, started).await;
        if !keep_alive {
            let _ = client.shutdown().await;
            return;
        }
    }
}

/// One client connection's I/O context.
struct Io<'a, S, T, C: Connector> {
    client: &'a mut S,
    peer: SocketAddr,
    timer: &'a T,
    connector: &'a C,
    pool: &'a Pool<C::Conn>,
    scratch: &'a mut Scratch,
}

/// Buffers reused by every request of a client connection, so that a keep-alive request
/// allocates none of them. Each is taken for a write (the runtime hands it back) and returned
/// through [`small`].
#[derive(Default)]
struct Scratch {
    /// The request head (and a small body) for the upstream.
    upstream_out: Vec<u8>,
    /// Bytes read from the upstream.
    upstream_in: Vec<u8>,
    /// The response head (and a small body) for the client.
    client_out: Vec<u8>,
}

/// Handles one request; returns whether the client connection may be reused.
async fn handle<S: Stream, T: Timer, C: Connector>(
    gw: &Gateway,
    oidc_index: &[Option<usize>],
    mut head: RequestHead,
    buf: &mut Vec<u8>,
    io: &mut Io<'_, S, T, C>,
    started: Instant,
) -> bool {
    let peer = io.peer;
    // The log entry outlives the head (moved upstream): copies only when a log is kept.
    let (method, path) = match gw.log {
        Some(_) => (head.method.clone(), head.path().to_string()),
        None => (String::new(), String::new()),
    };
    let mut entry =
        Entry { peer: Some(peer), method: &method, path: &path, auth: "none", ..Entry::default() };
    let has_body = head.framing != BodyFraming::None;
    // A response sent before the body was read leaves the connection unusable.
    let early_keep_alive = head.keep_alive && !has_body;

    let Some(route_idx) = gw.router.find(&head.method, head.host(), head.path()) else {
        entry.status = 404;
        let _ =
            respond(io.client, 404, "Not Found", &[], br#"{"error":"no route"}"#, early_keep_alive)
                .await;
        entry.duration = started.elapsed();
        log(gw, &entry);
        return early_keep_alive;
    };
    let route = &gw.config.routes[route_idx];
    entry.route = Some(&route.id);

    // Identity headers are the gateway's to set: whatever a client sent is dropped.
    for name in IDENTITY_HEADERS {
        head.remove_header(name);
    }

    if let Some(Some(engine_route)) = oidc_index.get(route_idx) {
        let headers: Vec<(&str, &[u8])> =
            head.headers.iter().map(|h| (h.name.as_str(), h.value.as_slice())).collect();
        let req = RequestView { method: &head.method, target: &head.target, headers: &headers };
        let token = gw.driver.borrow_mut().submit(*engine_route, req);
        drop(headers);
        let decision = DecisionFuture::new(Rc::clone(&gw.driver), token).await;
        match decision {
            Decision::Deny(d) => {
                entry.status = d.status;
                entry.auth = "denied";
                entry.reason = Some(d.reason.code());
                let hs: Vec<Header> =
                    d.headers.iter().map(|(n, v)| Header::new(*n, v.as_bytes())).collect();
                let _ = respond(
                    io.client,
                    d.status,
                    reason_phrase(d.status),
                    &hs,
                    d.body.as_bytes(),
                    early_keep_alive,
                )
                .await;
                entry.duration = started.elapsed();
                log(gw, &entry);
                return early_keep_alive;
            }
            Decision::Allow(g) => {
                entry.auth = if g.via == AuthVia::Anonymous { "anonymous" } else { "allowed" };
                entry.reason = Some(via_code(g.via));
                for name in &g.remove_headers {
                    head.remove_header(name);
                }
                // The engine's strings become the header values without a copy.
                for (name, value) in g.set_headers {
                    head.set_header(name, value);
                }
            }
        }
    }

    let result = forward(gw, route, route_idx, head, buf, io, &mut entry).await;
    entry.duration = started.elapsed();
    let keep = match result {
        Ok(keep) => keep,
        Err(Failure::ClientGone) => false,
        Err(Failure::Status(status)) => {
            entry.status = status;
            let body: &[u8] = match status {
                504 => br#"{"error":"upstream timed out"}"#,
                _ => br#"{"error":"upstream unavailable"}"#,
            };
            let _ = respond(io.client, status, reason_phrase(status), &[], body, false).await;
            false
        }
    };
    log(gw, &entry);
    keep
}

/// Forwards an allowed request and streams the response; `Ok(keep_alive)`.
async fn forward<S: Stream, T: Timer, C: Connector>(
    gw: &Gateway,
    route: &RouteConfig,
    route_idx: usize,
    mut head: RequestHead,
    buf: &mut Vec<u8>,
    io: &mut Io<'_, S, T, C>,
    entry: &mut Entry<'_>,
) -> Result<bool, Failure> {
    let (peer, timer, connector, pool) = (io.peer, io.timer, io.connector, io.pool);
    let scratch = &mut *io.scratch;
    let client = &mut *io.client;
    let up = &route.upstream;
    let node_idx = gw
        .balancers
        .borrow_mut()
        .get_mut(route_idx)
        .and_then(Balancer::pick)
        .ok_or(Failure::Status(502))?;
    let node = &up.nodes[node_idx];
    entry.upstream = Some(node.addr);

    let client_keep_alive = head.keep_alive;
    let framing = head.framing;
    let expect_continue = head.expect_continue;
    let original_host = head.host().map(str::to_string);
    strip_hop_by_hop(&mut head.headers);
    head.remove_header("expect");
    head.remove_header("content-length");
    match framing {
        BodyFraming::ContentLength(n) => {
            head.set_header("Content-Length", n.to_string());
        }
        BodyFraming::Chunked => head.set_header("Transfer-Encoding", b"chunked"),
        BodyFraming::None | BodyFraming::UntilClose => {}
    }
    // X-Forwarded-*: append the peer to any chain the client sent.
    let xff = match head.header("x-forwarded-for").and_then(|v| std::str::from_utf8(v).ok()) {
        Some(prev) => format!("{prev}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    head.set_header("X-Forwarded-For", xff);
    head.set_header("X-Forwarded-Proto", b"http");
    if let Some(h) = original_host {
        head.set_header("X-Forwarded-Host", h);
    }
    match &up.pass_host {
        PassHost::Pass => {}
        PassHost::Node => {
            let h = if node.port == 80 {
                node.host.clone()
            } else {
                format!("{}:{}", node.host, node.port)
            };
            head.set_header("Host", h.as_bytes());
        }
        PassHost::Rewrite(h) => head.set_header("Host", h.as_bytes()),
    }
    // Absolute-form targets are rewritten to origin-form for the upstream.
    if !head.target.starts_with('/') && head.target != "*" {
        let path = head.path().to_string();
        let query = head.query().map(|q| format!("?{q}")).unwrap_or_default();
        head.target = format!("{path}{query}");
    }
    head.version = Version::Http11;
    head.remove_header("connection");

    let mut out = std::mem::take(&mut scratch.upstream_out);
    out.clear();
    write_request_head(&head, &mut out);
    // A small Content-Length body that arrived with the head travels in the same write, and a
    // retry on a fresh connection can resend it.
    let mut framing = framing;
    if let BodyFraming::ContentLength(n) = framing
        && let Ok(n) = usize::try_from(n)
        && n <= READ_CHUNK
        && buf.len() >= n
    {
        out.extend(buf.drain(..n));
        framing = BodyFraming::None;
    }

    // A pooled connection may have been closed by the upstream; retry once on a fresh one when
    // nothing of the body has been sent yet.
    let mut pooled = pool.take(&node.addr);
    let (mut conn, mut resp_head, mut resp_buf) = loop {
        let fresh = pooled.is_none();
        let mut conn = match pooled.take() {
            Some(c) => c,
            None => match timeout(timer, up.timeout.connect, connector.connect(node.addr)).await {
                Ok(Ok(c)) => c,
                Ok(Err(_)) => return Err(Failure::Status(502)),
                Err(_) => return Err(Failure::Status(504)),
            },
        };
        // The runtime hands the buffer back, so a retry resends it without a copy.
        let request = std::mem::take(&mut out);
        match timeout(timer, up.timeout.send, conn.write_all(request)).await {
            Ok((Ok(()), b)) => out = b,
            Ok((Err(_), b)) if !fresh && framing == BodyFraming::None => {
                out = b;
                continue;
            }
            Ok((Err(_), _)) => return Err(Failure::Status(502)),
            Err(_) => return Err(Failure::Status(504)),
        }
        if expect_continue {
            let (r, _) = client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()).await;
            r.map_err(|_| Failure::ClientGone)?;
        }
        send_body(gw, framing, buf, client, &mut conn, timer, up.timeout.send).await?;
        let resp_in = std::mem::take(&mut scratch.upstream_in);
        match read_response_head(gw, &mut conn, resp_in, &head.method, timer, up.timeout.read).await
        {
            Ok((h, rest)) => break (conn, h, rest),
            Err(ReadHeadError::Closed) if !fresh && framing == BodyFraming::None => {}
            Err(ReadHeadError::Closed | ReadHeadError::Bad) => return Err(Failure::Status(502)),
            Err(ReadHeadError::Timeout) => return Err(Failure::Status(504)),
        }
    };

    scratch.upstream_out = small(out);

    // Response head to the client.
    let mut headers = std::mem::take(&mut resp_head.headers);
    strip_hop_by_hop(&mut headers);
    headers.retain(|h| !h.name.eq_ignore_ascii_case("content-length"));
    let mut keep_alive = client_keep_alive;
    match resp_head.framing {
        BodyFraming::ContentLength(n) => headers.push(Header::new("Content-Length", n.to_string())),
        BodyFraming::Chunked => headers.push(Header::new("Transfer-Encoding", "chunked")),
        BodyFraming::UntilClose => keep_alive = false,
        BodyFraming::None => {}
    }
    if !keep_alive {
        headers.push(Header::new("Connection", "close"));
    }
    let mut out = std::mem::take(&mut scratch.client_out);
    out.clear();
    write_response_head(Version::Http11, resp_head.status, &resp_head.reason, &headers, &mut out);
    entry.status = resp_head.status;
    // A small body that already arrived with the head goes out in the same write.
    if let BodyFraming::ContentLength(n) = resp_head.framing
        && usize::try_from(n).is_ok_and(|n| n == resp_buf.len())
    {
        out.append(&mut resp_buf);
        scratch.upstream_in = small(resp_buf);
        entry.bytes_sent = n;
        let (r, out) = client.write_all(out).await;
        scratch.client_out = small(out);
        r.map_err(|_| Failure::ClientGone)?;
        if resp_head.keep_alive {
            pool.put(node.addr, conn);
        }
        return Ok(keep_alive);
    }
    let (r, out) = client.write_all(out).await;
    scratch.client_out = small(out);
    r.map_err(|_| Failure::ClientGone)?;

    let sent = relay_response(
        gw,
        resp_head.framing,
        &mut resp_buf,
        &mut conn,
        client,
        timer,
        up.timeout.read,
    )
    .await?;
    entry.bytes_sent = sent;
    if resp_head.keep_alive && resp_head.framing != BodyFraming::UntilClose && resp_buf.is_empty() {
        pool.put(node.addr, conn);
    }
    scratch.upstream_in = small(resp_buf);
    Ok(keep_alive)
}

/// `buf`, emptied, to keep for the next request; dropped when a large head or body grew it, so
/// that an idle keep-alive connection never pins more than a few KiB per buffer.
fn small(mut buf: Vec<u8>) -> Vec<u8> {
    if buf.capacity() > 16 * 1024 {
        return Vec::new();
    }
    buf.clear();
    buf
}

enum ReadHeadError {
    Closed,
    Bad,
    Timeout,
}

async fn read_response_head<U: Stream, T: Timer>(
    gw: &Gateway,
    conn: &mut U,
    mut buf: Vec<u8>,
    method: &str,
    timer: &T,
    read_timeout: Duration,
) -> Result<(ResponseHead, Vec<u8>), ReadHeadError> {
    let limits = Limits { max_head_bytes: 64 * 1024, max_headers: 200, ..gw.limits };
    buf.clear();
    loop {
        match parse_response_head(&buf, &limits, method) {
            // Interim 1xx responses (other than 101) are swallowed: the client got its own 100.
            Ok(Some((h, used))) if (100..200).contains(&h.status) && h.status != 101 => {
                buf.drain(..used);
            }
            Ok(Some((h, used))) => {
                buf.drain(..used);
                return Ok((h, buf));
            }
            Ok(None) => {
                if buf.capacity() - buf.len() < 1024 {
                    buf.reserve(8 * 1024);
                }
                match timeout(timer, read_timeout, conn.read(buf)).await {
                    Ok((Ok(0), _)) => return Err(ReadHeadError::Closed),
                    Ok((Ok(_), b)) => buf = b,
                    Ok((Err(_), _)) => return Err(ReadHeadError::Closed),
                    Err(_) => return Err(ReadHeadError::Timeout),
                }
            }
            Err(_) => return Err(ReadHeadError::Bad),
        }
    }
}

/// Reads more client bytes into `buf`.
async fn fill<S: Stream>(s: &mut S, buf: &mut Vec<u8>) -> Result<usize, ()> {
    let mut b = std::mem::take(buf);
    b.reserve(READ_CHUNK);
    let (r, b) = s.read(b).await;
    *buf = b;
    match r {
        Ok(0) | Err(_) => Err(()),
        Ok(n) => Ok(n),
    }
}

/// Streams the request body from the client to the upstream.
#[allow(clippy::too_many_arguments)]
async fn send_body<S: Stream, U: Stream, T: Timer>(
    gw: &Gateway,
    framing: BodyFraming,
    buf: &mut Vec<u8>,
    client: &mut S,
    up: &mut U,
    timer: &T,
    send_timeout: Duration,
) -> Result<(), Failure> {
    match framing {
        BodyFraming::None | BodyFraming::UntilClose => Ok(()),
        BodyFraming::ContentLength(n) => {
            let mut counter = LengthCounter::new(n);
            while !counter.is_done() {
                if buf.is_empty() {
                    fill(client, buf).await.map_err(|()| Failure::ClientGone)?;
                }
                let take = counter.take(buf.len());
                let piece: Vec<u8> = buf.drain(..take).collect();
                send_up(up, timer, send_timeout, piece).await?;
            }
            Ok(())
        }
        BodyFraming::Chunked => {
            let mut dec = ChunkedDecoder::new(&gw.limits);
            loop {
                let mut data = Vec::new();
                let used = dec.decode(buf, &mut data).map_err(|_| Failure::Status(400))?;
                buf.drain(..used);
                if !data.is_empty() {
                    let mut enc = Vec::with_capacity(data.len() + 16);
                    encode_chunk(&data, &mut enc);
                    send_up(up, timer, send_timeout, enc).await?;
                }
                if dec.is_done() {
                    let mut last = Vec::new();
                    encode_last_chunk(&mut last);
                    return send_up(up, timer, send_timeout, last).await;
                }
                if used == 0 || buf.is_empty() {
                    fill(client, buf).await.map_err(|()| Failure::ClientGone)?;
                }
            }
        }
    }
}

/// Streams the response body to the client; returns the body bytes sent.
#[allow(clippy::too_many_arguments)]
async fn relay_response<U: Stream, S: Stream, T: Timer>(
    gw: &Gateway,
    framing: BodyFraming,
    buf: &mut Vec<u8>,
    up: &mut U,
    client: &mut S,
    timer: &T,
    read_timeout: Duration,
) -> Result<u64, Failure> {
    let mut sent = 0u64;
    match framing {
        BodyFraming::None => Ok(0),
        BodyFraming::ContentLength(n) => {
            let mut counter = LengthCounter::new(n);
            while !counter.is_done() {
                if buf.is_empty() && read_up(up, timer, read_timeout, buf).await? == 0 {
                    return Err(Failure::ClientGone);
                }
                let take = counter.take(buf.len());
                let piece: Vec<u8> = buf.drain(..take).collect();
                sent += piece.len() as u64;
                let (r, _) = client.write_all(piece).await;
                r.map_err(|_| Failure::ClientGone)?;
            }
            Ok(sent)
        }
        BodyFraming::Chunked => {
            let mut dec = ChunkedDecoder::new(&gw.limits);
            loop {
                let mut data = Vec::new();
                let used = dec.decode(buf, &mut data).map_err(|_| Failure::ClientGone)?;
                buf.drain(..used);
                if !data.is_empty() {
                    sent += data.len() as u64;
                    let mut enc = Vec::with_capacity(data.len() + 16);
                    encode_chunk(&data, &mut enc);
                    let (r, _) = client.write_all(enc).await;
                    r.map_err(|_| Failure::ClientGone)?;
                }
                if dec.is_done() {
                    let mut last = Vec::new();
                    encode_last_chunk(&mut last);
                    let (r, _) = client.write_all(last).await;
                    r.map_err(|_| Failure::ClientGone)?;
                    return Ok(sent);
                }
                if (used == 0 || buf.is_empty())
                    && read_up(up, timer, read_timeout, buf).await? == 0
                {
                    return Err(Failure::ClientGone);
                }
            }
        }
        BodyFraming::UntilClose => loop {
            if !buf.is_empty() {
                let piece = std::mem::take(buf);
                sent += piece.len() as u64;
                let (r, mut b) = client.write_all(piece).await;
                r.map_err(|_| Failure::ClientGone)?;
                b.clear();
                *buf = b;
            }
            if read_up(up, timer, read_timeout, buf).await? == 0 {
                return Ok(sent);
            }
        },
    }
}

/// Sends bytes upstream within the send timeout.
async fn send_up<U: Stream, T: Timer>(
    up: &mut U,
    timer: &T,
    t: Duration,
    bytes: Vec<u8>,
) -> Result<(), Failure> {
    match timeout(timer, t, up.write_all(bytes)).await {
        Ok((Ok(()), _)) => Ok(()),
        Ok((Err(_), _)) => Err(Failure::Status(502)),
        Err(_) => Err(Failure::Status(504)),
    }
}

/// Reads more upstream bytes into `buf` within the read timeout. Mid-body failures cannot
/// become a status any more: the client connection is closed.
async fn read_up<U: Stream, T: Timer>(
    up: &mut U,
    timer: &T,
    t: Duration,
    buf: &mut Vec<u8>,
) -> Result<usize, Failure> {
    let mut b = std::mem::take(buf);
    b.reserve(READ_CHUNK);
    match timeout(timer, t, up.read(b)).await {
        Ok((Ok(n), b)) => {
            *buf = b;
            Ok(n)
        }
        _ => Err(Failure::ClientGone),
    }
}

/// Writes a complete response (JSON body).
async fn respond<S: Stream>(
    s: &mut S,
    status: u16,
    reason: &str,
    headers: &[Header],
    body: &[u8],
    keep_alive: bool,
) -> std::io::Result<()> {
    let mut hs = headers.to_vec();
    hs.push(Header::new("Content-Type", "application/json"));
    hs.push(Header::new("Content-Length", body.len().to_string()));
    hs.push(Header::new("Cache-Control", "no-store"));
    if !keep_alive {
        hs.push(Header::new("Connection", "close"));
    }
    let mut out = Vec::with_capacity(256 + body.len());
    write_response_head(Version::Http11, status, reason, &hs, &mut out);
    out.extend_from_slice(body);
    s.write_all(out).await.0
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
    }
}

/// The standard reason phrase of the statuses the gateway sends itself.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
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
