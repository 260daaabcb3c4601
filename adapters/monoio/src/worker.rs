//! One worker thread on monoio: a runtime (io_uring, or the legacy epoll driver when io_uring
//! is unavailable) running `oidc-proxy`'s worker, with monoio's listener, timer and connectors.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use monoio::net::{ListenerOpts, TcpListener};
use oidc_proxy::tls_config::TlsSettings;
use oidc_proxy::worker::{LocalRuntime, Shared, WorkerOptions, worker_main};

use crate::streams::{Conn, MonoioTimer, TcpConn, UpstreamConnector};
use crate::tls::IdpTls;

/// monoio as `oidc-proxy`'s [`LocalRuntime`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Monoio;

impl LocalRuntime for Monoio {
    type Listener = TcpListener;
    type Client = TcpConn;
    type Timer = MonoioTimer;
    type Connector = UpstreamConnector;
    type Idp = IdpTls;

    fn spawn(fut: impl Future<Output = ()> + 'static) {
        monoio::spawn(fut);
    }

    fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind_with_config(addr, &ListenerOpts::new().reuse_port(true))
    }

    async fn accept(listener: &TcpListener) -> io::Result<(TcpConn, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((Conn(stream), peer))
    }

    fn idp(tls: &TlsSettings) -> io::Result<IdpTls> {
        IdpTls::new(tls)
    }
}

/// Whether this kernel offers io_uring (monoio falls back to epoll otherwise).
pub fn io_uring_available() -> bool {
    monoio::utils::detect_uring()
}

/// Runs one worker until the gateway drains.
pub fn run_worker(shared: Arc<Shared>, opts: WorkerOptions) -> io::Result<()> {
    let mut rt = build_runtime()?;
    rt.block_on(worker_main::<Monoio>(shared, opts))
}

/// A monoio runtime for this thread. On io_uring, the ring is set up for a thread-per-core
/// owner: `COOP_TASKRUN` lets completions wait for the worker's next entry into the kernel
/// instead of interrupting it, and `SINGLE_ISSUER` tells the kernel only this thread submits.
/// Both cut kernel time per request (benches/BENCHMARKS.md); kernels older than 6.0 refuse
/// them, and the ring is then set up without.
fn build_runtime() -> io::Result<monoio::FusionRuntime<TimeIoUring, TimeLegacy>> {
    let mut tuned = io_uring::IoUring::builder();
    tuned.setup_coop_taskrun().setup_single_issuer();
    let built = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .uring_builder(tuned)
        .enable_timer()
        .build();
    match built {
        Ok(rt) => Ok(rt),
        Err(e) => {
            eprintln!("io_uring setup flags refused ({e}); using a default ring");
            monoio::RuntimeBuilder::<monoio::FusionDriver>::new().enable_timer().build()
        }
    }
}

type TimeIoUring = monoio::time::TimeDriver<monoio::IoUringDriver>;
type TimeLegacy = monoio::time::TimeDriver<monoio::LegacyDriver>;
