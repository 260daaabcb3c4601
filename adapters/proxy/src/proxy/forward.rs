//! Forwarding an allowed request: pick a node, send the head (and a small body) on a pooled or
//! fresh connection, stream the body, read the response head, relay the response.

use std::cell::RefCell;
use std::net::SocketAddr;

use super::body::{Deadlines, UPSTREAM_READ, relay_response, send_body, write_client};
use super::rewrite;
use super::{Failure, Gateway};
use crate::access_log::Entry;
use crate::balancer::Balancer;
use crate::config::RouteConfig;
use crate::http::{
    BodyFraming, Limits, RequestHead, ResponseHead, Version, parse_response_head,
    write_request_head, write_response_head,
};
use crate::pool::Pool;
use crate::runtime::{Connector, Stream, StreamWrite, Timer, read_more, timeout};

/// A small request body that arrived with its head travels in the head's write (and can be
/// resent by a retry); larger ones are streamed.
const INLINE_BODY: usize = 16 * 1024;
/// Scratch buffers larger than this after a request are released rather than kept.
const KEEP_SCRATCH: usize = 16 * 1024;
/// Scratch sets kept per worker thread.
const SCRATCH_POOL: usize = 256;

/// Buffers for one request in flight: the upstream request head, the upstream reads, the
/// client response head. They belong to the worker thread, not to connections, so an idle
/// keep-alive connection holds none of them.
#[derive(Default)]
struct Scratch {
    upstream_out: Vec<u8>,
    upstream_in: Vec<u8>,
    client_out: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Vec<Scratch>> = const { RefCell::new(Vec::new()) };
}

impl Scratch {
    fn take() -> Self {
        SCRATCH.with(|s| s.borrow_mut().pop()).unwrap_or_default()
    }

    fn give_back(self) {
        let s = Self {
            upstream_out: small(self.upstream_out),
            upstream_in: small(self.upstream_in),
            client_out: small(self.client_out),
        };
        SCRATCH.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < SCRATCH_POOL {
                pool.push(s);
            }
        });
    }
}

/// `buf`, emptied, to keep; dropped when a large message grew it.
fn small(mut buf: Vec<u8>) -> Vec<u8> {
    if buf.capacity() > KEEP_SCRATCH {
        return Vec::new();
    }
    buf.clear();
    buf
}

/// How a forwarded exchange ended.
pub(super) enum Outcome<U> {
    /// Done; whether the client connection may carry another request.
    Done(bool),
    /// The upstream switched protocols (`101`, sent on to the client): tunnel the connection,
    /// starting with these bytes the upstream already sent past its head.
    Tunnel(U, Vec<u8>),
}

/// The I/O a forward needs, and what the gateway adds to the response.
pub(super) struct Io<'a, S, T, C: Connector> {
    pub(super) client: &'a mut S,
    pub(super) peer: SocketAddr,
    pub(super) timer: &'a T,
    pub(super) connector: &'a C,
    pub(super) pool: &'a Pool<C::Conn>,
    /// `Set-Cookie` values for the client (a renewed session).
    pub(super) set_cookies: Vec<String>,
    /// The client reached the gateway over https (a trusted front said so).
    pub(super) https: bool,
}

/// Forwards an allowed request and streams the response; `Ok(keep_alive)`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn forward<S: Stream, T: Timer, C: Connector>(
    gw: &Gateway,
    route: &RouteConfig,
    route_idx: usize,
    head: RequestHead,
    upgrade: Option<Vec<u8>>,
    buf: &mut Vec<u8>,
    io: Io<'_, S, T, C>,
    d: &Deadlines,
    entry: &mut Entry<'_>,
) -> Result<Outcome<C::Conn>, Failure> {
    let mut scratch = Scratch::take();
    let r =
        forward_with(gw, route, route_idx, head, upgrade, buf, io, d, entry, &mut scratch).await;
    scratch.give_back();
    r
}

#[allow(clippy::too_many_arguments)]
async fn forward_with<S: Stream, T: Timer, C: Connector>(
    gw: &Gateway,
    route: &RouteConfig,
    route_idx: usize,
    mut head: RequestHead,
    upgrade: Option<Vec<u8>>,
    buf: &mut Vec<u8>,
    io: Io<'_, S, T, C>,
    d: &Deadlines,
    entry: &mut Entry<'_>,
    scratch: &mut Scratch,
) -> Result<Outcome<C::Conn>, Failure> {
    let Io { client, peer, timer, connector, pool, set_cookies, https } = io;
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
    let client_version = head.version;
    let expect_continue = head.expect_continue;
    let original_host = head.host().map(str::to_string);
    let framing = head.framing;
    rewrite::upstream_head(&mut head, framing, original_host, peer, node, &up.pass_host, https);
    if let Some(protocol) = &upgrade {
        head.set_header("Connection", b"upgrade");
        head.set_header("Upgrade", protocol.clone());
    }

    let mut out = std::mem::take(&mut scratch.upstream_out);
    out.clear();
    write_request_head(&head, &mut out);
    // A small Content-Length body that arrived with the head travels in the same write.
    let mut framing = framing;
    if let BodyFraming::ContentLength(n) = framing
        && let Ok(n) = usize::try_from(n)
        && n <= INLINE_BODY
        && buf.len() >= n
    {
        out.extend(buf.drain(..n));
        framing = BodyFraming::None;
    }
    // RFC 9112 §9.3.1: a request may be sent again on a fresh connection only if it is
    // idempotent and nothing of it is still to come from the client.
    let retryable = rewrite::is_idempotent(&head.method) && framing == BodyFraming::None;

    let mut pooled = None;
    while let Some(c) = pool.take(&node.addr) {
        if connector.is_reusable(&c) {
            pooled = Some(c);
            break;
        }
    }
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
            Ok((Err(_), b)) if !fresh && retryable => {
                out = b;
                continue;
            }
            Ok((Err(_), _)) => return Err(Failure::Status(502)),
            Err(_) => return Err(Failure::Status(504)),
        }
        if expect_continue {
            let continue_ = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
            write_client(client, timer, d, continue_).await.0?;
        }
        send_body(&gw.limits, framing, buf, client, &mut conn, timer, d).await?;
        let resp_in = std::mem::take(&mut scratch.upstream_in);
        match read_response_head(&gw.limits, &mut conn, resp_in, &head.method, timer, d).await {
            Ok((h, rest)) => break (conn, h, rest),
            Err(ReadHeadError::ClosedEarly) if !fresh && retryable => {}
            Err(ReadHeadError::ClosedEarly | ReadHeadError::Bad) => {
                return Err(Failure::Status(502));
            }
            Err(ReadHeadError::Timeout) => return Err(Failure::Status(504)),
        }
    };
    scratch.upstream_out = out;

    // A 101 switches the connection to another protocol: only what the client asked for, on
    // a route that allows it (`enable_websocket`); any other 101 cannot be given to the client.
    if resp_head.status == 101 {
        let Some(asked) = upgrade else { return Err(Failure::Status(502)) };
        if !resp_head.header("upgrade").is_none_or(|p| p.eq_ignore_ascii_case(&asked)) {
            return Err(Failure::Status(502));
        }
        let protocol = asked;
        let mut headers = std::mem::take(&mut resp_head.headers);
        crate::http::strip_hop_by_hop(&mut headers);
        headers.push(crate::http::Header::new("Connection", "upgrade"));
        headers.push(crate::http::Header::new("Upgrade", protocol));
        let mut out = Vec::with_capacity(256);
        write_response_head(Version::Http11, 101, &resp_head.reason, &headers, &mut out);
        entry.status = 101;
        write_client(client, timer, d, out).await.0?;
        return Ok(Outcome::Tunnel(conn, resp_buf));
    }

    let (mut headers, keep_alive, to_client) =
        rewrite::client_head(&mut resp_head, client_version, client_keep_alive, &head.method);
    // A renewed or refreshed session rides on the upstream's response, which then must not be
    // stored by a shared cache (it would hand one user's session to the next).
    if !set_cookies.is_empty() {
        headers.retain(|h| !h.name.eq_ignore_ascii_case("cache-control"));
        headers.push(crate::http::Header::new("Cache-Control", "private, no-store"));
    }
    for c in set_cookies {
        headers.push(crate::http::Header::new("Set-Cookie", c));
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
        scratch.upstream_in = resp_buf;
        entry.bytes_sent = n;
        let (r, out) = write_client(client, timer, d, out).await;
        scratch.client_out = out;
        r?;
        if resp_head.keep_alive {
            pool.put(node.addr, conn);
        }
        return Ok(Outcome::Done(keep_alive));
    }
    let (r, out) = write_client(client, timer, d, out).await;
    scratch.client_out = out;
    r?;

    let sent = relay_response(
        &gw.limits,
        resp_head.framing,
        to_client,
        &mut resp_buf,
        &mut conn,
        client,
        timer,
        d,
    )
    .await?;
    entry.bytes_sent = sent;
    if resp_head.keep_alive && resp_head.framing != BodyFraming::UntilClose && resp_buf.is_empty() {
        pool.put(node.addr, conn);
    }
    scratch.upstream_in = resp_buf;
    Ok(Outcome::Done(keep_alive))
}

enum ReadHeadError {
    /// The connection ended before any byte of a response: the request may not have been
    /// processed (a pooled connection the upstream had closed).
    ClosedEarly,
    /// A malformed response, or one that broke off part-way.
    Bad,
    Timeout,
}

async fn read_response_head<U: Stream, T: Timer>(
    limits: &Limits,
    conn: &mut U,
    mut buf: Vec<u8>,
    method: &str,
    timer: &T,
    d: &Deadlines,
) -> Result<(ResponseHead, Vec<u8>), ReadHeadError> {
    let limits = Limits { max_head_bytes: 64 * 1024, max_headers: 200, ..*limits };
    buf.clear();
    let mut received_any = false;
    loop {
        match parse_response_head(&buf, &limits, method) {
            // Interim 1xx responses (other than 101) are swallowed: the client got its own 100.
            Ok(Some((h, used))) if (100..200).contains(&h.status) && h.status != 101 => {
                buf.drain(..used);
                continue;
            }
            Ok(Some((h, used))) => {
                buf.drain(..used);
                return Ok((h, buf));
            }
            Ok(None) => {}
            Err(_) => return Err(ReadHeadError::Bad),
        }
        match timeout(timer, d.upstream_read, read_more(conn, &mut buf, UPSTREAM_READ)).await {
            Ok(Ok(0) | Err(_)) if !received_any => return Err(ReadHeadError::ClosedEarly),
            Ok(Ok(0) | Err(_)) => return Err(ReadHeadError::Bad),
            Ok(Ok(_)) => received_any = true,
            Err(_) => return Err(ReadHeadError::Timeout),
        }
    }
}
