//! Hostile review of the smol adapter (issue 10): the worker's supervision, split halves,
//! half-close and reads at end of stream.
//!
//! `bug_*` tests demonstrate a defect and fail today; `holds_*` tests are attacks that held.
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
fn bug_a_panicking_task_ends_the_worker() {
    let shared = shared();
    let s2 = Arc::clone(&shared);
    let worker = std::thread::spawn(move || {
        Smol::spawn(async {
            panic!("a task of the worker panics");
        });
        run_worker(s2, WorkerOptions { id: 0, workers: 1, tls: TlsSettings::default(), log: None })
    });
    std::thread::sleep(Duration::from_millis(700));
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
