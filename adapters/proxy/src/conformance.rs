//! The adapter conformance suite: what every runtime adapter must pass before it carries
//! traffic. An adapter's own test calls [`run`] inside its runtime with a [`Harness`]; the peer
//! of every connection is a plain blocking socket on another thread that writes the way a real
//! network delivers bytes: split at every offset, in 1448-byte segments, pipelined, trickling.
//!
//! The suite checks the stream contract directly (a read appends after what is buffered) and
//! then runs the real proxy loop over the adapter's streams, timer and connector: split heads
//! are the same request, limits (431) apply while a head streams in, the whole head has a
//! deadline (408), and a stalled body is cut off. Each check panics with what went wrong.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oidc_core::engine::{Engine, Settings};

use crate::config::GatewayConfig;
use crate::driver::{Driver, OsEntropy};
use crate::http::{Limits, RequestHead, parse_request_head};
use crate::pool::Pool;
use crate::proxy::{ConnContext, Gateway, oidc_configs, serve_connection};
use crate::runtime::{Connector, Duplex, Signal, Stream, StreamRead, Timer, read_more, timeout};
use crate::worker::{Shared, WorkerOptions};

/// What an adapter provides to the suite.
#[allow(async_fn_in_trait)]
pub trait Harness {
    /// The adapter's stream type for accepted connections.
    type Stream: Duplex;
    /// The adapter's timer.
    type Timer: Timer;
    /// The adapter's upstream connector.
    type Connector: Connector;
    /// The timer.
    fn timer(&self) -> &Self::Timer;
    /// The connector.
    fn connector(&self) -> &Self::Connector;
    /// Accepts one connection from `listener` (non-blocking mode is the adapter's business)
    /// with the adapter's own listener type, and returns it as the adapter's stream.
    async fn accept(&self, listener: TcpListener) -> (Self::Stream, SocketAddr);
}

/// Runs every check. Call it from inside the adapter's runtime.
pub async fn run<H: Harness>(h: &H) {
    reads_append(h).await;
    heads_split_at_every_offset(h).await;
    large_head_in_segments(h).await;
    pipelined_partial_heads(h).await;
    timer_fires(h).await;
    proxy_split_request(h).await;
    proxy_limit_while_streaming(h).await;
    proxy_head_deadline(h).await;
    proxy_body_deadline(h).await;
}

const HEAD: &[u8] = b"GET /conformance/a?b=c HTTP/1.1\r\nHost: example.test\r\nUser-Agent: conformance\r\nX-Long: 0123456789abcdefghijklmnopqrstuvwxyz\r\n\r\n";

fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind")
}

/// Starts a peer on another thread that connects to `listener` and runs `script`.
fn peer<R: Send + 'static>(
    listener: &TcpListener,
    script: impl FnOnce(TcpStream) -> R + Send + 'static,
) -> std::thread::JoinHandle<R> {
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        script(s)
    })
}

/// Waits for a peer thread without blocking the runtime (whose pending work, such as a
/// socket close submitted to io_uring, must keep running meanwhile).
async fn join<H: Harness, R>(h: &H, p: std::thread::JoinHandle<R>) -> R {
    while !p.is_finished() {
        h.timer().sleep(Duration::from_millis(2)).await;
    }
    p.join().expect("peer")
}

/// Reads one request head through [`read_more`], as the proxy does.
async fn read_one<S: Stream>(s: &mut S, buf: &mut Vec<u8>) -> RequestHead {
    let limits = Limits { max_head_bytes: 64 * 1024, ..Limits::default() };
    loop {
        match parse_request_head(buf, &limits) {
            Ok(Some((head, used))) => {
                buf.drain(..used);
                return head;
            }
            Ok(None) => {
                let n = read_more(s, buf, 512).await.expect("read");
                assert!(n > 0, "end of stream before a whole head");
            }
            Err(e) => panic!("a valid head was read as invalid ({e:?}): the bytes were mangled"),
        }
    }
}

async fn reads_append<H: Harness>(h: &H) {
    let l = listener();
    let p = peer(&l, |mut s| {
        s.write_all(b"abc").expect("write");
        std::thread::sleep(Duration::from_millis(20));
        s.write_all(b"def").expect("write");
    });
    let (mut s, _) = h.accept(l).await;
    // Directly on the trait: a buffer with bytes in it and spare room, then one with none.
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(b"xyz");
    let (r, b) = s.read(buf).await;
    let n = r.expect("read");
    assert!(n > 0, "read returned end of stream");
    assert_eq!(&b[..3], b"xyz", "Stream::read overwrote the bytes already in the buffer");
    assert_eq!(b.len(), 3 + n, "Stream::read must extend the buffer by what it read");
    let mut buf = b;
    buf.shrink_to_fit();
    while buf.len() < 9 {
        assert!(read_more(&mut s, &mut buf, 16).await.expect("read_more") > 0);
    }
    assert_eq!(buf, b"xyzabcdef");
    join(h, p).await;
}

async fn heads_split_at_every_offset<H: Harness>(h: &H) {
    for cut in 1..HEAD.len() {
        let l = listener();
        let p = peer(&l, move |mut s| {
            s.write_all(&HEAD[..cut]).expect("write");
            std::thread::sleep(Duration::from_millis(3));
            s.write_all(&HEAD[cut..]).expect("write");
        });
        let (mut s, _) = h.accept(l).await;
        let mut buf = Vec::new();
        let head = read_one(&mut s, &mut buf).await;
        assert_eq!(head.target, "/conformance/a?b=c", "split at {cut}");
        assert_eq!(head.headers.len(), 3, "split at {cut}");
        assert!(buf.is_empty(), "split at {cut}: bytes left over");
        join(h, p).await;
    }
}

async fn large_head_in_segments<H: Harness>(h: &H) {
    let value = "x".repeat(16 * 1024);
    let head = format!("GET /big HTTP/1.1\r\nHost: h\r\nX-Big: {value}\r\nX-After: 1\r\n\r\n");
    let l = listener();
    let bytes = head.clone().into_bytes();
    let p = peer(&l, move |mut s| {
        for seg in bytes.chunks(1448) {
            s.write_all(seg).expect("write");
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let (mut s, _) = h.accept(l).await;
    let mut buf = Vec::new();
    let got = read_one(&mut s, &mut buf).await;
    assert_eq!(got.header("x-big").map(<[u8]>::len), Some(value.len()), "1448-byte segments");
    assert_eq!(got.header("x-after"), Some(&b"1"[..]));
    join(h, p).await;
}

async fn pipelined_partial_heads<H: Harness>(h: &H) {
    let l = listener();
    let p = peer(&l, |mut s| {
        let mut two = HEAD.to_vec();
        two.extend_from_slice(b"GET /second HTTP/1.1\r\nHo");
        s.write_all(&two).expect("write");
        std::thread::sleep(Duration::from_millis(20));
        s.write_all(b"st: h\r\n\r\n").expect("write");
    });
    let (mut s, _) = h.accept(l).await;
    let mut buf = Vec::new();
    assert_eq!(read_one(&mut s, &mut buf).await.target, "/conformance/a?b=c");
    assert_eq!(read_one(&mut s, &mut buf).await.target, "/second", "pipelined partial head");
    join(h, p).await;
}

async fn timer_fires<H: Harness>(h: &H) {
    let t0 = Instant::now();
    h.timer().sleep(Duration::from_millis(20)).await;
    assert!(t0.elapsed() >= Duration::from_millis(15), "sleep returned early");
    let r = timeout(h.timer(), Duration::from_millis(10), std::future::pending::<()>()).await;
    assert!(r.is_err(), "timeout never fired");
}

/// An upstream on a thread: answers `n` requests with 200 and the request line it got.
fn upstream(n: usize) -> (SocketAddr, std::thread::JoinHandle<Vec<String>>) {
    let l = listener();
    let addr = l.local_addr().expect("addr");
    let t = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let Ok((mut s, _)) = l.accept() else { return seen };
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while seen.len() < n {
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return seen,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            }
            let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
            let head: Vec<u8> = buf.drain(..end).collect();
            let line = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
            let body = line.clone();
            let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            if s.write_all(answer.as_bytes()).is_err() {
                return seen;
            }
            seen.push(line);
        }
        seen
    });
    (addr, t)
}

fn gateway(upstream: SocketAddr, extra: &str) -> Rc<Gateway> {
    let yaml = format!(
        "gateway:\n  listen: 127.0.0.1:0\n  max_request_head_bytes: 8192\n{extra}routes:\n  - uri: /*\n    upstream: {{nodes: {{\"{upstream}\": 1}}}}\n"
    );
    let config = GatewayConfig::from_yaml(&yaml).expect("conformance config");
    let engine =
        Engine::new(oidc_configs(&config), Settings::default(), &mut OsEntropy).expect("engine");
    let handles = engine.routes();
    let driver = Rc::new(std::cell::RefCell::new(Driver::new(engine)));
    Rc::new(Gateway::new(config, driver, handles, None))
}

/// Runs the proxy loop over one accepted connection whose peer runs `script`.
async fn proxy<H: Harness, R: Send + 'static>(
    h: &H,
    gw: &Rc<Gateway>,
    script: impl FnOnce(TcpStream) -> R + Send + 'static,
) -> R {
    let l = listener();
    let p = peer(&l, script);
    let (s, addr) = h.accept(l).await;
    let pool = Pool::new(4, Duration::from_secs(5));
    let drain = Signal::default();
    let cx = ConnContext { timer: h.timer(), connector: h.connector(), pool: &pool, drain: &drain };
    serve_connection(&|| Rc::clone(gw), s, addr, &cx).await;
    join(h, p).await
}

fn read_all(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

async fn proxy_split_request<H: Harness>(h: &H) {
    let (addr, up) = upstream(2);
    let gw = gateway(addr, "");
    let got = proxy(h, &gw, |mut s| {
        let two = b"GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
        for piece in two.chunks(7) {
            s.write_all(piece).expect("write");
            std::thread::sleep(Duration::from_millis(1));
        }
        read_all(&mut s)
    })
    .await;
    assert_eq!(
        got.matches("HTTP/1.1 200 OK").count(),
        2,
        "split requests through the proxy: {got}"
    );
    let seen = up.join().expect("upstream");
    assert_eq!(seen, ["GET /one HTTP/1.1", "GET /two HTTP/1.1"]);
}

async fn proxy_limit_while_streaming<H: Harness>(h: &H) {
    let (addr, _up) = upstream(0);
    let gw = gateway(addr, "");
    let (got, sent) = proxy(h, &gw, |mut s| {
        let mut sent = 0usize;
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nX-Huge: ");
        let piece = [b'a'; 1024];
        // Far past the 8 KiB limit: the answer must come while the head is still arriving.
        while sent < 1 << 20 && s.write_all(&piece).is_ok() {
            sent += piece.len();
            std::thread::sleep(Duration::from_micros(200));
        }
        (read_all(&mut s), sent)
    })
    .await;
    assert!(got.starts_with("HTTP/1.1 431 "), "a head over the limit, sent in pieces: {got:?}");
    assert!(sent < 1 << 20, "the gateway read the whole megabyte before answering");
}

async fn proxy_head_deadline<H: Harness>(h: &H) {
    let (addr, _up) = upstream(0);
    let gw = gateway(addr, "  client_header_timeout: 1\n");
    let (got, took) = proxy(h, &gw, |mut s| {
        let t0 = Instant::now();
        for b in b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: 0123456789" {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (read_all(&mut s), t0.elapsed())
    })
    .await;
    assert!(got.starts_with("HTTP/1.1 408 "), "a trickling head: {got:?}");
    assert!(took < Duration::from_secs(8), "the head deadline did not hold: {took:?}");
}

async fn proxy_body_deadline<H: Harness>(h: &H) {
    let (addr, _up) = upstream(1);
    let gw = gateway(addr, "  client_body_timeout: 1\n");
    let (got, took) = proxy(h, &gw, |mut s| {
        let t0 = Instant::now();
        let big = "x".repeat(64 * 1024);
        let req = format!("POST /stall HTTP/1.1\r\nHost: h\r\nContent-Length: 200000\r\n\r\n{big}");
        let _ = s.write_all(req.as_bytes());
        (read_all(&mut s), t0.elapsed())
    })
    .await;
    assert!(took < Duration::from_secs(8), "a stalled body held the connection: {took:?} {got:?}");
}

/// An adapter's `run_worker`, for the checks that run a whole worker.
pub type RunWorker = fn(Arc<Shared>, WorkerOptions) -> std::io::Result<()>;

/// When `run_worker` returns (drained, grace over), the connections the worker still held are
/// closed, even though the thread lives on (an embedder's thread, or the next generation of
/// workers): no task of the worker outlives it. Call it from a plain test thread.
pub fn worker_closes_connections_when_it_returns(run_worker: RunWorker) {
    let port = listener().local_addr().expect("addr").port();
    let yaml = format!(
        "gateway:\n  listen: 127.0.0.1:{port}\n  access_log: \"off\"\n  shutdown_grace: 1\nroutes: []\n"
    );
    let shared = Arc::new(Shared::new(GatewayConfig::from_yaml(&yaml).expect("config")));
    let addr = shared.current().gateway.listen[0];
    let s2 = Arc::clone(&shared);
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let opts = WorkerOptions { id: 0, workers: 1, tls: Default::default(), log: None };
        tx.send(run_worker(s2, opts).is_ok()).expect("send");
        std::thread::sleep(Duration::from_secs(4));
    });
    let t0 = Instant::now();
    let mut c = loop {
        if let Ok(c) = TcpStream::connect(addr) {
            break c;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "the worker did not listen");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Half a head: the connection is mid-request, so the drain waits for it, then cuts it.
    c.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n").expect("write");
    std::thread::sleep(Duration::from_millis(200));
    shared.draining.store(true, std::sync::atomic::Ordering::Release);
    assert!(rx.recv_timeout(Duration::from_secs(20)).expect("returned"), "run_worker failed");
    c.set_read_timeout(Some(Duration::from_secs(1))).expect("timeout");
    let mut b = [0u8; 512];
    let r = c.read(&mut b);
    let closed =
        r.is_ok() || r.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset);
    assert!(closed, "run_worker returned but its connection is still open ({r:?})");
    worker.join().expect("worker thread");
}
