//! The same drain attack as `adapters/smol/tests/hostile.rs` on monoio, for comparison: when
//! `run_worker` returns, the connections it still held should be closed. They are not on
//! monoio either (dropping the runtime does not drop its tasks), so the defect is in the
//! shared worker: after the grace period it returns without ending its connection tasks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use oidc_monoio::{Shared, TlsSettings, WorkerOptions, run_worker};
use oidc_proxy::config::GatewayConfig;

#[test]
fn bug_run_worker_leaves_its_connections_open_after_returning() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let yaml = format!(
        "gateway:\n  listen: 127.0.0.1:{port}\n  access_log: \"off\"\n  shutdown_grace: 1\nroutes: []\n"
    );
    let shared = Arc::new(Shared::new(GatewayConfig::from_yaml(&yaml).expect("config")));
    let addr = shared.current().gateway.listen[0];
    let s2 = Arc::clone(&shared);
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let r = run_worker(
            s2,
            WorkerOptions { id: 0, workers: 1, tls: TlsSettings::default(), log: None },
        );
        tx.send(r.is_ok()).unwrap();
        std::thread::sleep(Duration::from_secs(4));
    });
    let t0 = Instant::now();
    let mut c = loop {
        if let Ok(c) = TcpStream::connect(addr) {
            break c;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "worker did not listen");
        std::thread::sleep(Duration::from_millis(20));
    };
    c.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    shared.draining.store(true, Ordering::Release);
    assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "run_worker failed");
    c.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut b = [0u8; 512];
    let r = c.read(&mut b);
    let closed =
        r.is_ok() || r.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset);
    assert!(closed, "run_worker returned but its connection is still open ({r:?})");
    worker.join().unwrap();
}
