//! An idle keep-alive connection's task must stay small: 10 000 idle connections should cost
//! tens of MiB, not hundreds (benches/BENCHMARKS.md). The per-request state is boxed while a
//! request is in flight, so the task holds only the head-reading state; this pins that down.

use std::rc::Rc;

use oidc_monoio::{Conn, MonoioTimer, TcpConn, UpstreamConnector};
use oidc_proxy::pool::Pool;
use oidc_proxy::proxy::{ConnContext, Gateway, serve_connection};
use oidc_proxy::runtime::Signal;

#[test]
fn a_connection_task_is_small() {
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let _client = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        l.set_nonblocking(true).expect("nonblocking");
        let (s, peer) = monoio::net::TcpListener::from_std(l)
            .expect("listener")
            .accept()
            .await
            .expect("accept");
        let pool: Pool<TcpConn> = Pool::new(1, std::time::Duration::from_secs(1));
        let drain = Signal::default();
        let cx = ConnContext {
            timer: &MonoioTimer,
            connector: &UpstreamConnector,
            pool: &pool,
            drain: &drain,
        };
        let current = || -> Rc<Gateway> { unreachable!("never polled") };
        let task = serve_connection(&current, Conn(s), peer, &cx);
        let size = size_of_val(&task);
        assert!(size <= 4096, "a connection's task is {size} bytes; box what only requests need");
    });
}
