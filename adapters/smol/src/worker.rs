//! One worker thread on smol: a `LocalExecutor` driven by async-io's reactor, running
//! `oidc-proxy`'s worker with async-io's listener, timer and connectors.

use std::any::Any;
use std::cell::RefCell;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};

use async_executor::LocalExecutor;
use async_io::Async;
use futures_lite::FutureExt as _;
use oidc_proxy::runtime::race;
use oidc_proxy::tls_config::TlsSettings;
use oidc_proxy::worker::{LocalRuntime, Shared, WorkerOptions, worker_main};
use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};

use crate::streams::{Conn, SmolTimer, TcpConn, UpstreamConnector};
use crate::tls::IdpTls;

/// The running worker's executor and the first panic of any of its tasks.
#[derive(Default)]
struct Current {
    executor: Option<Rc<LocalExecutor<'static>>>,
    panic: Option<Box<dyn Any + Send>>,
    /// Woken when a task panics (the worker then ends with that panic).
    waker: Option<Waker>,
}

thread_local! {
    /// This worker thread's executor: tasks never leave the thread that spawned them.
    static CURRENT: RefCell<Current> = RefCell::default();
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
        // async-executor keeps a task's panic in its output, which a detached task drops: the
        // worker would run on without that task (a connection slot never given back, no IdP
        // or timer task). The panic is kept and ends the whole worker instead, as on monoio.
        let guarded = async move {
            if let Err(panic) = AssertUnwindSafe(fut).catch_unwind().await {
                CURRENT.with(|c| {
                    let mut c = c.borrow_mut();
                    c.panic.get_or_insert(panic);
                    if let Some(w) = c.waker.take() {
                        w.wake();
                    }
                });
            }
        };
        executor().spawn(guarded).detach();
    }

    fn bind(addr: SocketAddr) -> io::Result<Async<TcpListener>> {
        // std offers no SO_REUSEPORT: the socket is made with rustix (close-on-exec, as std's
        // are), then handed to std.
        let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
        let fd = rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
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

/// This thread's executor, made on first use (a task spawned before [`run_worker`] runs in it).
fn executor() -> Rc<LocalExecutor<'static>> {
    CURRENT.with(|c| Rc::clone(c.borrow_mut().executor.get_or_insert_with(Rc::default)))
}

/// Resolves with the first panic of a task of this worker.
async fn a_task_panicked() -> Box<dyn Any + Send> {
    std::future::poll_fn(|cx| {
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            match c.panic.take() {
                Some(p) => Poll::Ready(p),
                None => {
                    c.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
    })
    .await
}

/// Runs one worker until the gateway drains. A panic in any of its tasks unwinds this thread
/// (the process then exits 70, as with any dead worker). On return every task of the worker
/// has been dropped, so no socket it held stays open.
///
/// # Errors
///
/// A listener cannot be bound, the routes do not compile, or the CA file cannot be used.
pub fn run_worker(shared: Arc<Shared>, opts: WorkerOptions) -> io::Result<()> {
    let ex = executor();
    let outcome = async_io::block_on(
        ex.run(race(async { Ok(worker_main::<Smol>(shared, opts).await) }, async {
            Err(a_task_panicked().await)
        })),
    );
    // The tasks still in the executor (connections past the grace) are dropped with it.
    CURRENT.with(|c| *c.borrow_mut() = Current::default());
    drop(ex);
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
