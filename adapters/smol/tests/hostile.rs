//! Hostile review of the smol adapter (issue 10): the worker's supervision, split halves,
//! half-close and reads at end of stream.
//!
//! `holds_*` tests are attacks that held; the others reproduce review findings, fixed since.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::Async;
use oidc_proxy::config::GatewayConfig;
use oidc_proxy::runtime::{Duplex, StreamRead, StreamWrite, read_more};
use oidc_proxy::worker::LocalRuntime;
use oidc_smol::{Conn, Shared, Smol, TlsSettings, WorkerOptions, run_worker};

fn block_on<F: Future>(f: F) -> F::Output {
    let ex = LocalExecutor::new();
    async_io::block_on(ex.run(f))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn shared() -> Arc<Shared> {
    let yaml = format!(
        "gateway:\n  listen: 127.0.0.1:{}\n  access_log: \"off\"\n  shutdown_grace: 1\nroutes: []\n",
        free_port()
    );
    Arc::new(Shared::new(GatewayConfig::from_yaml(&yaml).expect("config")))
}

/// A task of the worker that panics (a connection's task, the IdP task, the timer and reload
/// task) must take the worker down, so that the process notices and exits 70 — as it does on
/// monoio, whose `block_on` unwinds. async-executor spawns with `propagate_panic(true)`:
/// the panic is caught and stored in the task's output, which a detached task throws away.
/// The worker then runs on without that task: a connection's slot under `max_connections`
/// is never given back (`active` is decremented after `serve_connection` returns), a dead
/// IdP task leaves every later login and JWKS fetch unanswered until the backstop, a dead
/// timer task stops deadlines and reloads on that worker — and the process still says it
/// is healthy.
#[test]
fn a_panicking_task_ends_the_worker() {
    let shared = shared();
    let s2 = Arc::clone(&shared);
    let worker = std::thread::spawn(move || {
        Smol::spawn(async {
            panic!("a task of the worker panics");
        });
        run_worker(s2, WorkerOptions { id: 0, workers: 1, tls: TlsSettings::default(), log: None })
    });
    // The worker's start (trust store, engine) can take a while on a loaded machine: wait for
    // it to end by itself, within a generous bound, before asking it to drain.
    let until = Instant::now() + Duration::from_secs(20);
    while !worker.is_finished() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let still_running = !worker.is_finished();
    shared.draining.store(true, Ordering::Release);
    let outcome = worker.join();
    assert!(
        !still_running && outcome.is_err(),
        "the worker ran on after one of its tasks panicked (still running: {still_running}, \
         outcome: {:?}); on monoio the worker thread unwinds and the process exits 70",
        outcome.as_ref().map(|r| r.as_ref().map(|()| "Ok").map_err(ToString::to_string))
    );
}

/// The write half's shutdown reaches the peer as EOF while the read half keeps reading; the
/// write half's drop half-closes too (as monoio's owned write half does), the read half's
/// drop does not touch the socket.
#[test]
fn holds_split_halves_half_close_independently() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        // After our EOF, the peer still writes: the gateway's read half must get it.
        s.write_all(b"after-eof").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        got
    });
    block_on(async {
        let s = Async::<TcpStream>::connect(addr).await.unwrap();
        let (mut r, mut w) = Conn(s).into_split();
        let (res, _) = w.write_all(b"one".to_vec()).await;
        res.unwrap();
        w.shutdown().await.unwrap();
        let mut buf = Vec::new();
        loop {
            let n = read_more(&mut r, &mut buf, 64).await.unwrap();
            if n == 0 {
                break;
            }
        }
        assert_eq!(buf, b"after-eof");
        // EOF again, not an error and not a hang.
        assert_eq!(read_more(&mut r, &mut buf, 64).await.unwrap(), 0);
        drop(w);
    });
    assert_eq!(peer.join().unwrap(), b"one");
}

/// Dropping only the write half (a tunnel direction that ended) sends FIN; the other
/// direction still flows.
#[test]
fn holds_dropping_the_write_half_sends_fin_only() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let r = s.read_to_end(&mut got);
        s.write_all(b"still-open").unwrap();
        r.is_ok()
    });
    block_on(async {
        let s = Async::<TcpStream>::connect(addr).await.unwrap();
        let (mut r, w) = Conn(s).into_split();
        drop(w);
        let mut buf = Vec::new();
        let t0 = Instant::now();
        while buf.len() < 10 && t0.elapsed() < Duration::from_secs(5) {
            if read_more(&mut r, &mut buf, 64).await.unwrap() == 0 {
                break;
            }
        }
        assert_eq!(buf, b"still-open");
    });
    assert!(peer.join().unwrap());
}

/// A read on a connection the peer reset gives an error (the proxy then closes), and a read
/// at EOF gives 0 each time; neither returns bytes or loops.
#[test]
fn holds_reads_after_reset_and_eof_end() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (accepted, _) = l.accept().unwrap();
    // SO_LINGER 0: close sends RST.
    drop(socket_linger_zero(accepted));
    std::thread::sleep(Duration::from_millis(100));
    block_on(async {
        let mut c = Conn(Async::new(client).unwrap());
        let mut buf = Vec::with_capacity(16);
        let (r, b) = c.read(buf).await;
        buf = b;
        assert!(r.is_err() || r.as_ref().is_ok_and(|n| *n == 0), "{r:?}");
        assert!(buf.is_empty());
        // And again: no bytes, no hang.
        let (r2, _) = c.read(buf).await;
        assert!(r2.is_err() || r2.as_ref().is_ok_and(|n| *n == 0), "{r2:?}");
    });
}

fn socket_linger_zero(s: TcpStream) -> TcpStream {
    rustix::net::sockopt::set_socket_linger(&s, Some(Duration::ZERO)).unwrap();
    s
}

/// A self-signed certificate for `localhost`, made with the `openssl` command.
fn self_signed() -> (Vec<u8>, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("smol-hostile-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (key, cert) = (dir.join("k.pem"), dir.join("c.pem"));
    let st = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success());
    (std::fs::read(cert).unwrap(), std::fs::read(key).unwrap())
}

fn tls_server(cert: &[u8], key: &[u8]) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(cert).collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// `write_all` over TLS while the peer does not read (the socket's buffer fills, rustls keeps
/// records back): every byte still arrives, without another write to push the tail out, and
/// the answer comes back. A missing flush would leave the request's tail in rustls' buffer
/// and both sides waiting.
#[test]
fn holds_tls_write_all_under_backpressure_delivers_every_byte() {
    use oidc_proxy::runtime::IdpConnector as _;
    const N: usize = 4 * 1024 * 1024 + 17;
    let (cert, key) = self_signed();
    let config = tls_server(&cert, &key);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, s);
        // Handshake, then sit on the socket while the client writes.
        let mut first = [0u8; 1];
        tls.read_exact(&mut first).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let mut rest = vec![0u8; N - 1];
        tls.read_exact(&mut rest).unwrap();
        tls.write_all(b"done").unwrap();
        tls.flush().unwrap();
        std::thread::sleep(Duration::from_millis(500));
    });
    let settings = TlsSettings::default();
    let idp = oidc_smol::IdpTls::new(&settings).unwrap();
    block_on(async {
        let tcp = idp.tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await.unwrap();
        let mut c = idp.tls(tcp, "localhost", false).await.unwrap();
        let body = vec![b'x'; N];
        let deadline = async_io::Timer::after(Duration::from_secs(10));
        let work = async {
            let (r, _) = c.write_all(body).await;
            r.unwrap();
            let mut buf = Vec::new();
            while buf.len() < 4 {
                assert!(read_more(&mut c, &mut buf, 64).await.unwrap() > 0, "{buf:?}");
            }
            buf
        };
        let got = futures_lite::future::or(async { Some(work.await) }, async {
            deadline.await;
            None
        })
        .await;
        assert_eq!(got.as_deref(), Some(&b"done"[..]), "TLS exchange stalled");
    });
    server.join().unwrap();
}

/// A TLS peer that accepts TCP and never answers the handshake: the handshake itself has no
/// deadline (the caller's `timeout` is the only bound), and cancelling it is clean.
#[test]
fn holds_a_stalled_tls_handshake_is_cancellable() {
    use oidc_proxy::runtime::IdpConnector as _;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let _hold = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_secs(5));
        drop(s);
    });
    let idp = oidc_smol::IdpTls::new(&TlsSettings::default()).unwrap();
    block_on(async {
        let tcp = idp.tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await.unwrap();
        let t0 = Instant::now();
        let r = oidc_proxy::runtime::timeout(
            &oidc_smol::SmolTimer,
            Duration::from_millis(300),
            idp.tls(tcp, "localhost", true),
        )
        .await;
        assert!(r.is_err(), "a handshake with a silent peer completed");
        assert!(t0.elapsed() < Duration::from_secs(10), "the timeout did not end the handshake");
    });
}

/// When `run_worker` returns (drained, grace over), the connections it still held are closed.
/// (Before, the tasks stayed in a thread-local executor, unpolled, holding their sockets for as
/// long as the thread lived.)
#[test]
fn run_worker_leaves_no_task_alive_after_returning() {
    oidc_proxy::conformance::worker_closes_connections_when_it_returns(run_worker);
}
