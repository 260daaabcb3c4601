//! oidc-proxy's adapter conformance suite on monoio, on both of its drivers: io_uring (when the
//! kernel offers it; the test says loudly when it does not) and the legacy epoll driver.

use std::net::{SocketAddr, TcpListener};

use oidc_monoio::{Conn, MonoioTimer, TcpConn, UpstreamConnector};
use oidc_proxy::conformance::{Harness, run};

struct Monoio;

impl Harness for Monoio {
    type Stream = TcpConn;
    type Timer = MonoioTimer;
    type Connector = UpstreamConnector;
    fn timer(&self) -> &MonoioTimer {
        &MonoioTimer
    }
    fn connector(&self) -> &UpstreamConnector {
        &UpstreamConnector
    }
    async fn accept(&self, listener: TcpListener) -> (TcpConn, SocketAddr) {
        listener.set_nonblocking(true).expect("nonblocking");
        let l = monoio::net::TcpListener::from_std(listener).expect("listener");
        let (s, peer) = l.accept().await.expect("accept");
        (Conn(s), peer)
    }
}

#[test]
fn io_uring_driver_conforms() {
    if !oidc_monoio::io_uring_available() {
        // Not a silent skip: the legacy driver below still runs the suite, and the log says
        // which driver was not proven on this machine.
        eprintln!("WARNING: io_uring is not available on this kernel; only the legacy driver ran");
        return;
    }
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .enable_timer()
        .build()
        .expect("io_uring runtime");
    rt.block_on(run(&Monoio));
}

#[test]
fn legacy_driver_conforms() {
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("legacy runtime");
    rt.block_on(run(&Monoio));
}

/// A returned worker leaves no connection open (monoio's runtime keeps unfinished tasks after
/// `block_on` returns, so the worker ends them itself).
#[test]
fn a_returned_worker_leaves_no_connection_open() {
    oidc_proxy::conformance::worker_closes_connections_when_it_returns(oidc_monoio::run_worker);
}
