//! One worker thread on smol: a `LocalExecutor` driven by async-io's reactor, running
//! `oidc-proxy`'s worker with async-io's listener, timer and connectors.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use async_executor::LocalExecutor;
use async_io::Async;
use oidc_proxy::tls_config::TlsSettings;
use oidc_proxy::worker::{LocalRuntime, Shared, WorkerOptions, worker_main};
use rustix::net::{AddressFamily, SocketType, sockopt};

use crate::streams::{Conn, SmolTimer, TcpConn, UpstreamConnector};
use crate::tls::IdpTls;

thread_local! {
    /// This worker thread's executor: tasks never leave the thread that spawned them.
    static EXECUTOR: LocalExecutor<'static> = const { LocalExecutor::new() };
}

/// smol as `oidc-proxy`'s [`LocalRuntime`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

impl LocalRuntime for Smol {
    type Listener = Async<TcpListener>;
    type Client = TcpConn;
    type Timer = SmolTimer;
    type Connector = UpstreamConnector;
    type Idp = IdpTls;

    fn spawn(fut: impl Future<Output = ()> + 'static) {
        EXECUTOR.with(|ex| ex.spawn(fut).detach());
    }

    fn bind(addr: SocketAddr) -> io::Result<Async<TcpListener>> {
        // std offers no SO_REUSEPORT: the socket is made with rustix, then handed to std.
        let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
        let fd = rustix::net::socket(family, SocketType::STREAM, None)?;
        sockopt::set_socket_reuseaddr(&fd, true)?;
        sockopt::set_socket_reuseport(&fd, true)?;
        rustix::net::bind(&fd, &addr)?;
        rustix::net::listen(&fd, 1024)?;
        Async::new(TcpListener::from(fd))
    }

    async fn accept(listener: &Async<TcpListener>) -> io::Result<(TcpConn, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        let _ = stream.get_ref().set_nodelay(true);
        Ok((Conn(stream), peer))
    }

    fn idp(tls: &TlsSettings) -> io::Result<IdpTls> {
        IdpTls::new(tls)
    }
}

/// Runs one worker until the gateway drains.
///
/// # Errors
///
/// A listener cannot be bound, the routes do not compile, or the CA file cannot be used.
pub fn run_worker(shared: Arc<Shared>, opts: WorkerOptions) -> io::Result<()> {
    EXECUTOR.with(|ex| async_io::block_on(ex.run(worker_main::<Smol>(shared, opts))))
}
