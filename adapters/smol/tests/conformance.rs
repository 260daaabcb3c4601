//! oidc-proxy's adapter conformance suite on smol's building blocks: a single-threaded
//! `LocalExecutor` driven by async-io's reactor.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use async_executor::LocalExecutor;
use async_io::Async;
use oidc_proxy::conformance::{Harness, run};
use oidc_proxy::runtime::{Connector, Duplex, IdpConnector, StreamWrite, read_more};
use oidc_smol::{Conn, IdpTls, SmolTimer, TcpConn, UpstreamConnector};

struct Smol;

impl Harness for Smol {
    type Stream = TcpConn;
    type Timer = SmolTimer;
    type Connector = UpstreamConnector;
    fn timer(&self) -> &SmolTimer {
        &SmolTimer
    }
    fn connector(&self) -> &UpstreamConnector {
        &UpstreamConnector
    }
    async fn accept(&self, listener: TcpListener) -> (TcpConn, SocketAddr) {
        let l = Async::new(listener).expect("listener");
        let (s, peer) = l.accept().await.expect("accept");
        (Conn(s), peer)
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let ex = LocalExecutor::new();
    async_io::block_on(ex.run(f))
}

#[test]
fn local_executor_conforms() {
    block_on(run(&Smol));
}

/// A pooled connection is reusable while idle and open, and not once the upstream has sent
/// bytes or closed.
#[test]
fn reusable_only_while_idle() {
    block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let c = UpstreamConnector.connect(addr).await.expect("connect");
        let (mut peer, _) = l.accept().expect("accept");
        assert!(UpstreamConnector.is_reusable(&c), "an idle open connection");
        std::io::Write::write_all(&mut peer, b"x").expect("write");
        std::thread::sleep(Duration::from_millis(20));
        assert!(!UpstreamConnector.is_reusable(&c), "unread bytes are waiting");

        let c = UpstreamConnector.connect(addr).await.expect("connect");
        let (peer, _) = l.accept().expect("accept");
        drop(peer);
        std::thread::sleep(Duration::from_millis(20));
        assert!(!UpstreamConnector.is_reusable(&c), "the upstream closed");
    });
}

/// Split halves are driven at once, and shutting down the writing half is a real half-close:
/// the peer reads end of stream while the reading half still gets the peer's answer.
#[test]
fn split_halves_and_half_close() {
    block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let echo = std::thread::spawn(move || {
            let (mut s, _) = l.accept().expect("accept");
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut s, &mut got).expect("read to end");
            std::io::Write::write_all(&mut s, &got).expect("echo");
        });
        let c = UpstreamConnector.connect(addr).await.expect("connect");
        let (mut r, mut w) = c.into_split();
        let reading = async {
            let mut buf = Vec::new();
            while read_more(&mut r, &mut buf, 64).await.expect("read") > 0 {}
            buf
        };
        let writing = async {
            let (res, _) = w.write_all(b"ping".to_vec()).await;
            res.expect("write");
            w.shutdown().await.expect("shutdown");
        };
        let (got, ()) = oidc_proxy::runtime::join(reading, writing).await;
        assert_eq!(got, b"ping");
        echo.join().expect("echo thread");
    });
}

#[test]
fn idp_tls_builds_and_connect_errors_surface() {
    block_on(async {
        let tls = IdpTls::new(&oidc_proxy::tls_config::TlsSettings::default()).expect("configs");
        // A port that was just free: nothing listens, the connect is refused.
        let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("a").port();
        let closed = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(tls.tcp(closed).await.is_err(), "connect to a closed port");
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let c = tls.tcp(l.local_addr().expect("addr")).await.expect("connect");
        // A peer that is not TLS: the handshake fails as a TLS failure.
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().expect("accept");
            let _ = std::io::Write::write_all(&mut s, b"HTTP/1.1 400 Bad Request\r\n\r\n");
        });
        let r = tls.tls(c, "localhost", true).await;
        assert!(matches!(r, Err(oidc_core::engine::FailureKind::Tls)), "not a TLS peer");
        t.join().expect("peer");
    });
}
