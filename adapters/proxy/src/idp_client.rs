//! Performs the engine's [`HttpIntent`]s: HTTP/1.1 over TCP or TLS (certificate verification as
//! the intent says), optionally through a forward proxy (`proxy_opts`: plain HTTP through
//! `http_proxy`, HTTP CONNECT tunnels through `https_proxy`), with the intent's deadline and
//! response size cap. Written once over the runtime traits.

use std::time::Instant;

use oidc_core::config::Secret;
use oidc_core::engine::{FailureKind, HttpIntent};

use crate::http::{BodyFraming, ChunkedDecoder, LengthCounter, Limits, parse_response_head};
use crate::pool::Pool;
use crate::resolve::resolve;
use crate::runtime::{IdpConnector, Stream, StreamWrite, Timer, timeout};

/// Where a pooled IdP connection goes, and how it got there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdpKey {
    tls: bool,
    host: String,
    port: u16,
    verified: bool,
    /// The forward proxy the connection goes through, if any.
    via: Option<ProxyKey>,
}

/// A forward proxy and the credentials a connection was opened with: a tunnel opened with one
/// route's `Proxy-Authorization` is never lent to a route with other credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ProxyKey {
    host: String,
    port: u16,
    /// The `Proxy-Authorization` value from the route's config (redacted in `Debug`).
    credentials: Option<Secret>,
}

/// Idle keep-alive connections to identity providers (one per worker): direct ones, CONNECT
/// tunnels (keyed by target and proxy) and connections to a plain-HTTP proxy.
pub struct IdpPool<C: IdpConnector> {
    tcp: Pool<C::Tcp, IdpKey>,
    tls: Pool<C::Tls, IdpKey>,
}

impl<C: IdpConnector> std::fmt::Debug for IdpPool<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpPool").field("idle", &self.idle_count()).finish()
    }
}

impl<C: IdpConnector> Default for IdpPool<C> {
    fn default() -> Self {
        let idle = std::time::Duration::from_secs(30);
        Self { tcp: Pool::new(8, idle), tls: Pool::new(8, idle) }
    }
}

impl<C: IdpConnector> IdpPool<C> {
    /// Idle connections held.
    pub fn idle_count(&self) -> usize {
        self.tcp.idle_count() + self.tls.idle_count()
    }
}

/// A parsed `http(s)://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// TLS or not.
    pub tls: bool,
    /// Host name or IP (brackets removed).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path and query (`/` when empty).
    pub path: String,
}

impl Target {
    /// Parses an absolute `http` or `https` URL.
    pub fn parse(url: &str) -> Option<Self> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            (false, url.strip_prefix("http://")?)
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') || authority.is_empty() {
            return None;
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if after.is_empty() => default_port,
                None => return None,
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().ok()?),
                None => (authority.to_string(), default_port),
            }
        };
        let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
        Some(Self { tls, host, port, path })
    }

    fn authority(&self) -> String {
        let host =
            if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == if self.tls { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.as_bytes();
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).any(|entry| {
        let bare = entry.trim_start_matches('.').as_bytes();
        let dotted = format!(".{}", entry.trim_start_matches('.'));
        entry == "*"
            || host.eq_ignore_ascii_case(bare)
            || (host.len() > dotted.len()
                && host
                    .get(host.len() - dotted.len()..)
                    .is_some_and(|t| t.eq_ignore_ascii_case(dotted.as_bytes())))
    })
}

/// Performs `intent`, returning the status and body. Direct connections are reused from and
/// returned to `pool`; a pooled connection that fails before answering is replaced by a fresh
/// one (discovery, JWKS and introspection requests are safe to repeat).
pub async fn perform<C: IdpConnector, T: Timer>(
    connector: &C,
    pool: &IdpPool<C>,
    timer: &T,
    clock: &crate::driver::Clock,
    intent: &HttpIntent,
) -> Result<(u16, Vec<u8>), FailureKind> {
    let deadline = clock.to_std(intent.deadline);
    let remaining = deadline.saturating_duration_since(Instant::now());
    match timeout(timer, remaining, exchange(connector, pool, timer, intent)).await {
        Ok(r) => r,
        Err(_) => Err(FailureKind::Timeout),
    }
}

async fn exchange<C: IdpConnector, T: Timer>(
    connector: &C,
    pool: &IdpPool<C>,
    timer: &T,
    intent: &HttpIntent,
) -> Result<(u16, Vec<u8>), FailureKind> {
    let target = Target::parse(&intent.url).ok_or(FailureKind::Protocol)?;
    // A configured proxy that cannot be used fails the call: connecting directly instead
    // would silently bypass the egress proxy (configuration loading refuses such URLs).
    let proxy = match intent.proxy.as_ref() {
        Some(p) if !p.no_proxy.as_deref().is_some_and(|l| no_proxy_matches(l, &target.host)) => {
            let (url, auth) = if target.tls {
                (p.https_proxy.as_deref(), p.https_proxy_authorization.as_deref())
            } else {
                (p.http_proxy.as_deref(), p.http_proxy_authorization.as_deref())
            };
            match url {
                Some(url) => Some((Target::parse(url).ok_or(FailureKind::Connect)?, auth)),
                None => None,
            }
        }
        _ => None,
    };
    let request = request_bytes(intent, &target, proxy.as_ref().map(|(_, auth)| *auth));
    let via = proxy.as_ref().map(|(p, auth)| ProxyKey {
        host: p.host.clone(),
        port: p.port,
        credentials: auth.map(Secret::from),
    });
    // Through a plain-HTTP proxy the connection is to the proxy, whatever the target.
    let key = match (&proxy, target.tls) {
        (Some((p, _)), false) => {
            IdpKey { tls: false, host: p.host.clone(), port: p.port, verified: false, via }
        }
        _ => IdpKey {
            tls: target.tls,
            host: target.host.clone(),
            port: target.port,
            verified: intent.tls_verify,
            via,
        },
    };
    let reused = if target.tls {
        reuse(&pool.tls, &key, &request, intent).await
    } else {
        reuse(&pool.tcp, &key, &request, intent).await
    };
    if let Some(answer) = reused {
        return Ok(answer);
    }
    let tcp = match &proxy {
        None => connect(connector, timer, &target.host, target.port).await?,
        Some((p, auth)) => {
            let mut tcp = connect(connector, timer, &p.host, p.port).await?;
            if target.tls {
                // RFC 9110 §9.3.6: a tunnel, then TLS end to end.
                let mut req = format!(
                    "CONNECT {0}:{1} HTTP/1.1\r\nHost: {0}:{1}\r\n",
                    target.host, target.port
                );
                if let Some(a) = auth {
                    req.push_str(&format!("Proxy-Authorization: {a}\r\n"));
                }
                req.push_str("\r\n");
                let (r, _) = tcp.write_all(req.into_bytes()).await;
                r.map_err(|_| FailureKind::Connect)?;
                let (status, _, _, rest) = read_head(&mut tcp, "CONNECT").await?;
                if !(200..300).contains(&status) || !rest.is_empty() {
                    return Err(FailureKind::Connect);
                }
            }
            tcp
        }
    };
    if target.tls {
        let tls = connector.tls(tcp, &target.host, intent.tls_verify).await?;
        exchange_on(tls, &pool.tls, key, request, intent).await
    } else {
        exchange_on(tcp, &pool.tcp, key, request, intent).await
    }
}

/// How long one address may take to connect while others remain to be tried: an address that
/// drops packets (a broken IPv6 route, say) must not use the whole deadline. Providers are
/// connected to rarely (connections are pooled), so trying in turn with a bound is enough.
const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Opens a TCP connection to `host:port`, trying every address in turn: `localhost` may
/// resolve to ::1 first while the provider listens on 127.0.0.1 only.
async fn connect<C: IdpConnector, T: Timer>(
    connector: &C,
    timer: &T,
    host: &str,
    port: u16,
) -> Result<C::Tcp, FailureKind> {
    let addrs = resolve(host, port).await.map_err(|_| FailureKind::Connect)?;
    connect_any(connector, timer, &addrs).await
}

/// Connects to the first address that answers; each but the last gets [`ATTEMPT_TIMEOUT`] (the
/// last, what is left of the caller's deadline).
async fn connect_any<C: IdpConnector, T: Timer>(
    connector: &C,
    timer: &T,
    addrs: &[std::net::SocketAddr],
) -> Result<C::Tcp, FailureKind> {
    for (i, addr) in addrs.iter().enumerate() {
        let attempt = connector.tcp(*addr);
        let connected = if i + 1 < addrs.len() {
            timeout(timer, ATTEMPT_TIMEOUT, attempt).await.ok().and_then(Result::ok)
        } else {
            attempt.await.ok()
        };
        if let Some(tcp) = connected {
            return Ok(tcp);
        }
    }
    Err(FailureKind::Connect)
}

/// The request bytes, keeping the connection alive. Through a plain-HTTP proxy (`proxy_auth` is
/// `Some` and the target is not TLS) the request carries the absolute URL and the proxy's
/// `Proxy-Authorization`.
fn request_bytes(
    intent: &HttpIntent,
    target: &Target,
    proxy_auth: Option<Option<&str>>,
) -> Vec<u8> {
    let plain_proxy = proxy_auth.is_some() && !target.tls;
    let request_target = if plain_proxy { intent.url.as_str() } else { target.path.as_str() };
    let mut head = format!(
        "{} {request_target} HTTP/1.1\r\nHost: {}\r\n",
        intent.method.as_str(),
        target.authority()
    );
    for (n, v) in &intent.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if let (true, Some(Some(a))) = (plain_proxy, proxy_auth) {
        head.push_str(&format!("Proxy-Authorization: {a}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", intent.body.len()));
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&intent.body);
    bytes
}

/// Runs one exchange on `s`, returning it to `pool` when it may be reused.
async fn exchange_on<S: Stream>(
    mut s: S,
    pool: &Pool<S, IdpKey>,
    key: IdpKey,
    request: Vec<u8>,
    intent: &HttpIntent,
) -> Result<(u16, Vec<u8>), FailureKind> {
    let (status, body, reusable) = roundtrip(&mut s, request, intent).await?;
    if reusable {
        pool.put(key, s);
    }
    Ok((status, body))
}

/// Tries an idle pooled connection; `None` when there is none or it failed (it is then
/// dropped and the caller opens a fresh one).
async fn reuse<S: Stream>(
    pool: &Pool<S, IdpKey>,
    key: &IdpKey,
    request: &[u8],
    intent: &HttpIntent,
) -> Option<(u16, Vec<u8>)> {
    let s = pool.take(key)?;
    exchange_on(s, pool, key.clone(), request.to_vec(), intent).await.ok()
}

/// One exchange; also says whether the connection may be reused.
async fn roundtrip<S: Stream>(
    s: &mut S,
    request: Vec<u8>,
    intent: &HttpIntent,
) -> Result<(u16, Vec<u8>, bool), FailureKind> {
    let (r, _) = s.write_all(request).await;
    r.map_err(|_| FailureKind::Connect)?;
    let (status, framing, keep_alive, mut buf) = read_head(s, intent.method.as_str()).await?;
    let max = intent.max_response_bytes;
    let mut body = Vec::new();
    match framing {
        BodyFraming::None => {}
        BodyFraming::ContentLength(n) => {
            if n > max as u64 {
                return Err(FailureKind::TooLarge);
            }
            let mut counter = LengthCounter::new(n);
            loop {
                let take = counter.take(buf.len());
                body.extend(buf.drain(..take));
                if counter.is_done() {
                    break;
                }
                if read_more(s, &mut buf).await? == 0 {
                    return Err(FailureKind::Protocol);
                }
            }
        }
        BodyFraming::Chunked => {
            let mut dec = ChunkedDecoder::new(&Limits::default());
            loop {
                let used = dec.decode(&buf, &mut body).map_err(|_| FailureKind::Protocol)?;
                buf.drain(..used);
                if body.len() > max {
                    return Err(FailureKind::TooLarge);
                }
                if dec.is_done() {
                    break;
                }
                if read_more(s, &mut buf).await? == 0 {
                    return Err(FailureKind::Protocol);
                }
            }
        }
        BodyFraming::UntilClose => loop {
            body.append(&mut buf);
            if body.len() > max {
                return Err(FailureKind::TooLarge);
            }
            if read_more(s, &mut buf).await? == 0 {
                break;
            }
        },
    }
    let reusable = keep_alive && framing != BodyFraming::UntilClose && buf.is_empty();
    Ok((status, body, reusable))
}

/// Appends what the IdP sent next (see [`crate::runtime::read_more`]).
async fn read_more<S: Stream>(s: &mut S, buf: &mut Vec<u8>) -> Result<usize, FailureKind> {
    crate::runtime::read_more(s, buf, 16 * 1024).await.map_err(|_| FailureKind::Protocol)
}

async fn read_head<S: Stream>(
    s: &mut S,
    method: &str,
) -> Result<(u16, BodyFraming, bool, Vec<u8>), FailureKind> {
    let limits = Limits { max_head_bytes: 64 * 1024, max_headers: 200, ..Limits::default() };
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        match parse_response_head(&buf, &limits, method) {
            Ok(Some((h, used))) if (100..200).contains(&h.status) => {
                buf.drain(..used);
            }
            Ok(Some((h, used))) => {
                buf.drain(..used);
                return Ok((h.status, h.framing, h.keep_alive, buf));
            }
            Ok(None) => {
                if read_more(s, &mut buf).await? == 0 {
                    return Err(FailureKind::Protocol);
                }
            }
            Err(_) => return Err(FailureKind::Protocol),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t =
            Target::parse("https://idp.example/realms/x/.well-known/openid-configuration").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.path.as_str()),
            (true, "idp.example", 443, "/realms/x/.well-known/openid-configuration")
        );
        let t = Target::parse("http://127.0.0.1:9000?x=1").unwrap();
        assert_eq!(
            (t.port, t.path.as_str(), t.authority()),
            (9000, "/?x=1", "127.0.0.1:9000".to_string())
        );
        let t = Target::parse("https://[::1]:8443/jwks").unwrap();
        assert_eq!((t.host.as_str(), t.authority()), ("::1", "[::1]:8443".to_string()));
        assert!(Target::parse("ftp://x/").is_none());
        assert!(Target::parse("https://user@x/").is_none());
        assert!(Target::parse("https://x:99999/").is_none());
    }

    #[test]
    fn no_proxy() {
        assert!(no_proxy_matches("localhost, .corp.example", "idp.corp.example"));
        assert!(no_proxy_matches("corp.example", "corp.example"));
        assert!(!no_proxy_matches("corp.example", "evilcorp.example"));
        assert!(no_proxy_matches("*", "anything"));
    }

    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;
    use std::rc::Rc;

    use oidc_core::engine::{Instant as EngineInstant, IntentId, Method, Purpose};

    /// A connection that answers every request with the next canned response.
    struct Fake {
        answers: Rc<RefCell<VecDeque<Vec<u8>>>>,
        inbox: Vec<u8>,
    }

    impl crate::runtime::StreamRead for Fake {
        async fn read(&mut self, mut buf: Vec<u8>) -> (std::io::Result<usize>, Vec<u8>) {
            let n = self.inbox.len();
            buf.append(&mut self.inbox);
            (Ok(n), buf)
        }
    }

    impl StreamWrite for Fake {
        async fn write_all(&mut self, buf: Vec<u8>) -> (std::io::Result<()>, Vec<u8>) {
            match self.answers.borrow_mut().pop_front() {
                Some(a) => self.inbox.extend(a),
                None => return (Err(std::io::Error::other("closed")), buf),
            }
            (Ok(()), buf)
        }
        async fn shutdown(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct FakeConnector {
        connects: Cell<usize>,
        answers: Rc<RefCell<VecDeque<Vec<u8>>>>,
    }

    impl IdpConnector for FakeConnector {
        type Tcp = Fake;
        type Tls = Fake;
        async fn tcp(&self, _: std::net::SocketAddr) -> std::io::Result<Fake> {
            self.connects.set(self.connects.get() + 1);
            Ok(Fake { answers: Rc::clone(&self.answers), inbox: Vec::new() })
        }
        async fn tls(&self, tcp: Fake, _: &str, _: bool) -> Result<Fake, FailureKind> {
            Ok(tcp)
        }
    }

    /// Addresses in 10.0.0.0/24 drop packets: their connect never completes.
    struct Blackholes(FakeConnector);

    impl IdpConnector for Blackholes {
        type Tcp = Fake;
        type Tls = Fake;
        async fn tcp(&self, addr: std::net::SocketAddr) -> std::io::Result<Fake> {
            if addr.ip().to_string().starts_with("10.0.0.") {
                std::future::pending::<()>().await;
            }
            self.0.tcp(addr).await
        }
        async fn tls(&self, tcp: Fake, _: &str, _: bool) -> Result<Fake, FailureKind> {
            Ok(tcp)
        }
    }

    /// A timer whose every sleep has already elapsed.
    struct Elapsed;
    impl Timer for Elapsed {
        fn sleep(&self, _: std::time::Duration) -> impl Future<Output = ()> {
            std::future::ready(())
        }
    }

    #[test]
    fn a_blackholed_address_is_given_up_for_the_next() {
        let c = Blackholes(FakeConnector { connects: Cell::new(0), answers: Rc::default() });
        let addrs: Vec<std::net::SocketAddr> =
            vec!["10.0.0.1:443".parse().unwrap(), "127.0.0.1:443".parse().unwrap()];
        // The fakes never wait: one poll decides (a stuck attempt stays pending for good).
        let mut f = std::pin::pin!(connect_any(&c, &Elapsed, &addrs));
        let polled = f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
        let std::task::Poll::Ready(r) = polled else { panic!("stuck on the blackholed address") };
        assert!(r.is_ok());
        assert_eq!(c.0.connects.get(), 1, "the second address connected");
        // The last address has no bound of its own: the caller's deadline covers it.
        let addrs: Vec<std::net::SocketAddr> = vec!["127.0.0.1:443".parse().unwrap()];
        assert!(block_on(connect_any(&c, &Never, &addrs)).is_ok());
    }

    struct Never;
    impl Timer for Never {
        fn sleep(&self, _: std::time::Duration) -> impl Future<Output = ()> {
            std::future::pending()
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    fn intent(url: &str) -> HttpIntent {
        HttpIntent {
            id: IntentId::from_raw(1),
            method: Method::Get,
            url: url.into(),
            headers: vec![],
            body: vec![],
            deadline: EngineInstant::from_micros(u64::MAX / 2),
            max_response_bytes: 1024,
            purpose: Purpose::Jwks,
            tls_verify: true,
            proxy: None,
        }
    }

    #[test]
    fn direct_connections_are_pooled_and_stale_ones_replaced() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec();
        let close = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_vec();
        let answers = Rc::new(RefCell::new(VecDeque::from([ok.clone(), ok.clone(), close, ok])));
        let c = FakeConnector { connects: Cell::new(0), answers };
        let pool = IdpPool::<FakeConnector>::default();
        let clock = crate::driver::Clock::default();
        for url in ["https://127.0.0.1/jwks", "https://127.0.0.1/jwks", "https://127.0.0.1/other"] {
            let (status, body) =
                block_on(perform(&c, &pool, &Never, &clock, &intent(url))).unwrap();
            assert_eq!((status, body.as_slice()), (200, &b"{}"[..]));
        }
        // One connection served all three; the third answer said close, so it left the pool.
        assert_eq!((c.connects.get(), pool.idle_count()), (1, 0));
        let _ = block_on(perform(&c, &pool, &Never, &clock, &intent("https://127.0.0.1/jwks")))
            .unwrap();
        assert_eq!((c.connects.get(), pool.idle_count()), (2, 1));
        // A pooled connection that fails (no answer left) is replaced by a fresh one, which
        // here fails too: the error is the fresh connection's.
        let err = block_on(perform(&c, &pool, &Never, &clock, &intent("https://127.0.0.1/jwks")));
        assert_eq!(err, Err(FailureKind::Connect));
        assert_eq!(c.connects.get(), 3);
    }

    fn via_proxy(url: &str, credentials: &str) -> HttpIntent {
        let mut i = intent(url);
        i.proxy = Some(oidc_core::config::ProxyOpts {
            http_proxy: Some("http://127.0.0.2:3128".into()),
            https_proxy: Some("http://127.0.0.2:3128".into()),
            http_proxy_authorization: Some(credentials.into()),
            https_proxy_authorization: Some(credentials.into()),
            no_proxy: None,
        });
        i
    }

    #[test]
    fn tunnels_and_proxy_connections_are_pooled_per_credentials() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec();
        let tunnel = b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec();
        let answers = Rc::new(RefCell::new(VecDeque::from([
            tunnel.clone(),
            ok.clone(),
            ok.clone(),
            ok.clone(),
            tunnel,
            ok.clone(),
            ok.clone(),
            ok,
        ])));
        let c = FakeConnector { connects: Cell::new(0), answers };
        let pool = IdpPool::<FakeConnector>::default();
        let clock = crate::driver::Clock::default();
        let call = |i: HttpIntent| block_on(perform(&c, &pool, &Never, &clock, &i)).unwrap().0;
        // One CONNECT tunnel carries three requests to the same provider.
        for _ in 0..3 {
            assert_eq!(call(via_proxy("https://127.0.0.1/jwks", "Basic YTpi")), 200);
        }
        assert_eq!((c.connects.get(), pool.idle_count()), (1, 1));
        // Other proxy credentials never borrow that tunnel.
        assert_eq!(call(via_proxy("https://127.0.0.1/jwks", "Basic Yzpk")), 200);
        assert_eq!((c.connects.get(), pool.idle_count()), (2, 2));
        // A plain-HTTP proxy connection is reused across targets behind the same proxy.
        assert_eq!(call(via_proxy("http://a.test/x", "Basic YTpi")), 200);
        assert_eq!(call(via_proxy("http://b.test/y", "Basic YTpi")), 200);
        assert_eq!((c.connects.get(), pool.idle_count()), (3, 3));
    }
}
