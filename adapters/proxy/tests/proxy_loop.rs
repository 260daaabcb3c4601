//! The proxy loop over in-memory streams: what the client gets back, what the upstream
//! received, and how many upstream connections were opened.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use oidc_core::engine::{Engine, Settings};
use oidc_proxy::config::GatewayConfig;
use oidc_proxy::driver::{Driver, OsEntropy};
use oidc_proxy::pool::Pool;
use oidc_proxy::proxy::{ConnContext, Gateway, oidc_configs, serve_connection};
use oidc_proxy::runtime::{Connector, Duplex, Signal, StreamRead, StreamWrite, Timer};

const UPSTREAM: &str = "127.0.0.1:9";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// What an upstream connection does after a request was written to it.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers each request with [`OK`].
    Answer,
    /// Closed by the upstream while idle: the next read sees end of stream.
    Closed,
    /// Never answers.
    Hang,
}

/// One in-memory connection. The client side replays scripted reads; the upstream side
/// answers every complete request it was written.
struct Fake {
    reads: VecDeque<Vec<u8>>,
    written: Rc<RefCell<Vec<u8>>>,
    behaviour: Behaviour,
    requests_seen: usize,
}

impl Fake {
    fn client(reads: &[&[u8]]) -> (Self, Rc<RefCell<Vec<u8>>>) {
        let written = Rc::new(RefCell::new(Vec::new()));
        let fake = Self {
            reads: reads.iter().map(|r| r.to_vec()).collect(),
            written: Rc::clone(&written),
            behaviour: Behaviour::Closed,
            requests_seen: 0,
        };
        (fake, written)
    }

    fn upstream(behaviour: Behaviour, written: Rc<RefCell<Vec<u8>>>) -> Self {
        Self { reads: VecDeque::new(), written, behaviour, requests_seen: 0 }
    }
}

impl StreamRead for Fake {
    async fn read(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        if let Some(chunk) = self.reads.pop_front() {
            buf.extend_from_slice(&chunk);
            return (Ok(chunk.len()), buf);
        }
        match self.behaviour {
            Behaviour::Answer => {
                let complete =
                    self.written.borrow().windows(4).filter(|w| w == b"\r\n\r\n").count();
                if complete > self.requests_seen {
                    self.requests_seen += 1;
                    buf.extend_from_slice(OK);
                    return (Ok(OK.len()), buf);
                }
                (Ok(0), buf)
            }
            Behaviour::Closed => (Ok(0), buf),
            Behaviour::Hang => std::future::pending().await,
        }
    }
}

impl StreamWrite for Fake {
    async fn write_all(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        self.written.borrow_mut().extend_from_slice(&buf);
        (Ok(()), buf)
    }
    async fn shutdown(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The fakes are never tunnelled; both halves share the connection.
struct Half(Rc<RefCell<Fake>>);

impl StreamRead for Half {
    async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let mut fake = self.0.borrow_mut();
        match fake.reads.pop_front() {
            Some(chunk) => {
                let mut buf = buf;
                buf.extend_from_slice(&chunk);
                (Ok(chunk.len()), buf)
            }
            None => (Ok(0), buf),
        }
    }
}

impl StreamWrite for Half {
    async fn write_all(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        self.0.borrow().written.borrow_mut().extend_from_slice(&buf);
        (Ok(()), buf)
    }
    async fn shutdown(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Duplex for Fake {
    type Reader = Half;
    type Writer = Half;
    fn into_split(self) -> (Half, Half) {
        let shared = Rc::new(RefCell::new(self));
        (Half(Rc::clone(&shared)), Half(shared))
    }
}

/// Opens fake upstream connections and records what each one received.
struct FakeConnector {
    behaviour: Behaviour,
    refuse: bool,
    opened: RefCell<Vec<Rc<RefCell<Vec<u8>>>>>,
}

impl FakeConnector {
    fn new(behaviour: Behaviour) -> Self {
        Self { behaviour, refuse: false, opened: RefCell::new(Vec::new()) }
    }
    fn received(&self, i: usize) -> String {
        String::from_utf8_lossy(&self.opened.borrow()[i].borrow()).into_owned()
    }
}

impl Connector for FakeConnector {
    type Conn = Fake;
    async fn connect(&self, _: SocketAddr) -> io::Result<Fake> {
        if self.refuse {
            return Err(io::ErrorKind::ConnectionRefused.into());
        }
        let written = Rc::new(RefCell::new(Vec::new()));
        self.opened.borrow_mut().push(Rc::clone(&written));
        Ok(Fake::upstream(self.behaviour, written))
    }
}

/// A timer that fires at once (`expire`) or never.
struct FakeTimer {
    expire: bool,
    slept: Cell<usize>,
}

impl Timer for FakeTimer {
    fn sleep(&self, _: Duration) -> impl Future<Output = ()> {
        self.slept.set(self.slept.get() + 1);
        let expire = self.expire;
        std::future::poll_fn(move |_| if expire { Poll::Ready(()) } else { Poll::Pending })
    }
}

/// Polls `fut` to completion; the fakes never wait on anything outside the future.
fn run<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..10_000 {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("the proxy loop made no progress");
}

const CONFIG: &str = r#"
gateway: {listen: "127.0.0.1:0"}
routes:
  - id: open
    uri: /open/*
    upstream: {nodes: {"127.0.0.1:9": 1}}
  - id: protected
    uri: /api/*
    plugins:
      openid-connect:
        client_id: c
        client_secret: secret-0123456789
        discovery: https://idp.invalid/.well-known/openid-configuration
        bearer_only: true
        claim_validator: {issuer: {valid_issuers: ["https://idp.invalid"]}}
        public_key: |
          -----BEGIN PUBLIC KEY-----
          MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEu9QMb3MFk/HaOK3QiMqebGPOADTZ
          Q7qyopTG7zqv8me4JixMn4jP8dBIEcBHSCmlCjcG+pjTVfVeDfNG+yMPIQ==
          -----END PUBLIC KEY-----
    upstream: {nodes: {"127.0.0.1:9": 1}}
"#;

/// Serves one client connection that sends `reads`; returns what the client received.
fn serve(
    reads: &[&[u8]],
    connector: &FakeConnector,
    timer: &FakeTimer,
    pool: &Pool<Fake>,
) -> String {
    let config = GatewayConfig::from_yaml(CONFIG).expect("config");
    let engine =
        Engine::new(oidc_configs(&config), Settings::default(), &mut OsEntropy).expect("engine");
    let handles = engine.routes();
    let driver = Rc::new(RefCell::new(Driver::new(engine)));
    let gw = Rc::new(Gateway::new(config, driver, handles, None));
    let (client, out) = Fake::client(reads);
    let peer: SocketAddr = "192.0.2.7:5000".parse().expect("addr");
    let drain = Signal::default();
    let cx = ConnContext { timer, connector, pool, drain: &drain };
    run(serve_connection(&|| Rc::clone(&gw), client, peer, &cx));
    let out = out.borrow();
    String::from_utf8_lossy(&out).into_owned()
}

fn no_timeouts() -> FakeTimer {
    FakeTimer { expire: false, slept: Cell::new(0) }
}

fn new_pool() -> Pool<Fake> {
    Pool::new(8, Duration::from_secs(60))
}

#[test]
fn keep_alive_requests_share_one_upstream_connection() {
    let connector = FakeConnector::new(Behaviour::Answer);
    let pool = new_pool();
    let got = serve(
        &[b"GET /open/a HTTP/1.1\r\nHost: h\r\n\r\n", b"GET /open/b HTTP/1.1\r\nHost: h\r\n\r\n"],
        &connector,
        &no_timeouts(),
        &pool,
    );
    assert_eq!(got.matches("HTTP/1.1 200 OK").count(), 2, "{got}");
    assert_eq!(connector.opened.borrow().len(), 1);
    let sent = connector.received(0);
    assert!(sent.starts_with("GET /open/a HTTP/1.1\r\n"), "{sent}");
    assert!(sent.contains("GET /open/b HTTP/1.1\r\n"), "{sent}");
    assert!(sent.contains("X-Forwarded-For: 192.0.2.7\r\n"), "{sent}");
    assert_eq!(pool.idle_count(), 1);
}

#[test]
fn a_stale_pooled_connection_is_retried_on_a_fresh_one_with_the_same_bytes() {
    let connector = FakeConnector::new(Behaviour::Answer);
    let pool = new_pool();
    let stale_got = Rc::new(RefCell::new(Vec::new()));
    pool.put(
        UPSTREAM.parse().expect("addr"),
        Fake::upstream(Behaviour::Closed, Rc::clone(&stale_got)),
    );
    let got =
        serve(&[b"GET /open/x HTTP/1.1\r\nHost: h\r\n\r\n"], &connector, &no_timeouts(), &pool);
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert_eq!(connector.opened.borrow().len(), 1, "one fresh connection after the stale one");
    let fresh = connector.received(0);
    assert_eq!(
        String::from_utf8_lossy(&stale_got.borrow()),
        fresh,
        "the retry resends the same bytes"
    );
}

#[test]
fn a_non_idempotent_request_is_never_sent_twice() {
    // RFC 9112 §9.3.1: the upstream may have processed the POST before closing.
    let connector = FakeConnector::new(Behaviour::Answer);
    let pool = new_pool();
    let stale_got = Rc::new(RefCell::new(Vec::new()));
    pool.put(
        UPSTREAM.parse().expect("addr"),
        Fake::upstream(Behaviour::Closed, Rc::clone(&stale_got)),
    );
    let got = serve(
        &[b"POST /open/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"],
        &connector,
        &no_timeouts(),
        &pool,
    );
    assert!(got.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{got}");
    assert!(connector.opened.borrow().is_empty(), "no second attempt");
    assert!(String::from_utf8_lossy(&stale_got.borrow()).ends_with("\r\n\r\nhello"));
}

#[test]
fn a_head_split_at_every_offset_is_the_same_request() {
    let request: &[u8] = b"GET /open/a?x=1 HTTP/1.1\r\nHost: h\r\nX-Long: 0123456789abcdef\r\n\r\n";
    let connector = FakeConnector::new(Behaviour::Answer);
    let whole = serve(&[request], &connector, &no_timeouts(), &new_pool());
    let expected = connector.received(0);
    assert!(whole.starts_with("HTTP/1.1 200 OK\r\n"), "{whole}");
    for cut in 1..request.len() {
        let connector = FakeConnector::new(Behaviour::Answer);
        let (a, b) = request.split_at(cut);
        let got = serve(&[a, b], &connector, &no_timeouts(), &new_pool());
        assert_eq!(got, whole, "split at {cut}");
        assert_eq!(connector.received(0), expected, "split at {cut}");
    }
    // One byte per read, then a pipelined second request arriving in pieces.
    let connector = FakeConnector::new(Behaviour::Answer);
    let mut reads: Vec<&[u8]> = request.chunks(1).collect();
    reads.push(b"GET /open/b HTTP/1.1\r\nHo");
    reads.push(b"st: h\r\n\r\n");
    let got = serve(&reads, &connector, &no_timeouts(), &new_pool());
    assert_eq!(got.matches("HTTP/1.1 200 OK").count(), 2, "{got}");
    assert!(connector.received(0).contains("GET /open/b HTTP/1.1\r\n"));
}

#[test]
fn traversal_is_routed_and_forwarded_in_canonical_form() {
    let connector = FakeConnector::new(Behaviour::Answer);
    let got = serve(
        &[b"GET /open/../api/x HTTP/1.1\r\nHost: h\r\n\r\n"],
        &connector,
        &no_timeouts(),
        &new_pool(),
    );
    assert!(got.starts_with("HTTP/1.1 401 "), "routed as /api/x: {got}");
    assert!(connector.opened.borrow().is_empty());
    let connector = FakeConnector::new(Behaviour::Answer);
    let got = serve(
        &[b"GET /open/a/./b/%2e%2E/c?q=../x HTTP/1.1\r\nHost: h\r\n\r\n"],
        &connector,
        &no_timeouts(),
        &new_pool(),
    );
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(connector.received(0).starts_with("GET /open/a/c?q=../x HTTP/1.1\r\n"));
    for bad in ["/open/..%2fapi/x", "/open/..;/api/x", "/open/..\\api/x", "/../x"] {
        let connector = FakeConnector::new(Behaviour::Answer);
        let req = format!("GET {bad} HTTP/1.1\r\nHost: h\r\n\r\n");
        let got = serve(&[req.as_bytes()], &connector, &no_timeouts(), &new_pool());
        assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{bad}: {got}");
        assert!(connector.opened.borrow().is_empty(), "{bad}");
    }
}

#[test]
fn answers_to_head_carry_no_body() {
    let connector = FakeConnector::new(Behaviour::Answer);
    let got = serve(
        &[b"HEAD /nowhere HTTP/1.1\r\nHost: h\r\n\r\nHEAD /api/x HTTP/1.1\r\nHost: h\r\n\r\n"],
        &connector,
        &no_timeouts(),
        &new_pool(),
    );
    let (first, second) = got.split_once("HTTP/1.1 401").expect("two answers");
    assert!(first.starts_with("HTTP/1.1 404 Not Found\r\n"), "{got}");
    assert!(first.ends_with("\r\n\r\n"), "no body after the 404 head: {got}");
    assert!(second.ends_with("\r\n\r\n"), "no body after the 401 head: {got}");
}

#[test]
fn x_access_token_is_a_credential_and_duplicates_are_refused() {
    // A token the static key cannot verify: 401 means it was read as the credential.
    let connector = FakeConnector::new(Behaviour::Answer);
    let got = serve(
        &[b"GET /api/x HTTP/1.1\r\nHost: h\r\nX-Access-Token: a.b.c\r\n\r\n"],
        &connector,
        &no_timeouts(),
        &new_pool(),
    );
    assert!(got.contains("error=\"invalid_token\""), "read as a token: {got}");
    for dup in [
        &b"GET /api/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer a.b.c\r\nAuthorization: Bearer d.e.f\r\n\r\n"[..],
        b"GET /api/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer a.b.c\r\nX-Access-Token: d.e.f\r\n\r\n",
    ] {
        let got = serve(&[dup], &connector, &no_timeouts(), &new_pool());
        assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
    }
    assert!(connector.opened.borrow().is_empty());
}

#[test]
fn a_denied_request_never_opens_an_upstream_connection() {
    let connector = FakeConnector::new(Behaviour::Answer);
    let got = serve(
        &[b"GET /api/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer not.a.jwt\r\n\r\n"],
        &connector,
        &no_timeouts(),
        &new_pool(),
    );
    assert!(got.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{got}");
    assert!(got.to_ascii_lowercase().contains("www-authenticate: bearer realm="), "{got}");
    assert!(!got.contains("not.a.jwt"), "the token is never echoed: {got}");
    assert!(connector.opened.borrow().is_empty());
}

#[test]
fn client_identity_headers_never_reach_the_upstream() {
    let connector = FakeConnector::new(Behaviour::Answer);
    let got = serve(
        &[b"GET /open/x HTTP/1.1\r\nHost: h\r\nX-Userinfo: e30\r\nx-access-token: t\r\nX-ID-Token: i\r\nX_Userinfo: e30\r\nx_access_token: t\r\nConnection: X-Forwarded-For\r\nX-Forwarded-Proto: https\r\n\r\n"],
        &connector,
        &no_timeouts(),
        &new_pool(),
    );
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    let sent = connector.received(0).to_ascii_lowercase();
    for name in ["x-userinfo", "x-access-token", "x-id-token", "x_userinfo", "x_access_token"] {
        assert!(!sent.contains(name), "{name} reached the upstream: {sent}");
    }
    assert!(sent.contains("x-forwarded-proto: http\r\n"), "{sent}");
    assert!(sent.contains("x-forwarded-for: 192.0.2.7\r\n"), "{sent}");
}

#[test]
fn connect_failure_is_502_and_upstream_timeout_is_504() {
    let mut refusing = FakeConnector::new(Behaviour::Answer);
    refusing.refuse = true;
    let got = serve(
        &[b"GET /open/x HTTP/1.1\r\nHost: h\r\n\r\n"],
        &refusing,
        &no_timeouts(),
        &new_pool(),
    );
    assert!(got.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{got}");
    assert!(got.contains("Connection: close\r\n"), "{got}");

    let hanging = FakeConnector::new(Behaviour::Hang);
    let timer = FakeTimer { expire: true, slept: Cell::new(0) };
    let pool = new_pool();
    let got = serve(&[b"GET /open/x HTTP/1.1\r\nHost: h\r\n\r\n"], &hanging, &timer, &pool);
    // The timer fires at once, so the first wait that is not ready (the upstream's answer)
    // times out.
    assert!(got.starts_with("HTTP/1.1 504 Gateway Timeout\r\n"), "{got}");
    assert_eq!(pool.idle_count(), 0, "a timed-out connection is not pooled");
}
