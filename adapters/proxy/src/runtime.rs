//! What an adapter provides: owned-buffer streams, a timer, and connectors. Owned buffers fit
//! io_uring (monoio) and poll-based runtimes (smol) alike, so the proxy loop is written once.
#![allow(async_fn_in_trait)] // thread-per-core: nothing here needs to be Send

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use oidc_core::engine::FailureKind;

/// A byte stream with owned buffers.
pub trait Stream {
    /// Reads into the spare capacity of `buf` (appending); `Ok(0)` at end of stream.
    async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>);
    /// Writes all of `buf`, and hands it back unchanged (so a caller may resend or reuse it).
    async fn write_all(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>);
    /// Flushes and half-closes the write side.
    async fn shutdown(&mut self) -> io::Result<()>;
}

/// Timers.
pub trait Timer {
    /// Completes after `d`.
    fn sleep(&self, d: Duration) -> impl Future<Output = ()>;
}

/// Connects to upstream nodes.
pub trait Connector {
    /// The connection type.
    type Conn: Stream;
    /// Opens a TCP connection.
    async fn connect(&self, addr: SocketAddr) -> io::Result<Self::Conn>;
}

/// Connects to identity providers: TCP, then TLS with certificate verification.
pub trait IdpConnector {
    /// Plain connection.
    type Tcp: Stream;
    /// TLS over a plain connection.
    type Tls: Stream;
    /// Opens a TCP connection to `host:port` (resolving the name).
    async fn tcp(&self, host: &str, port: u16) -> io::Result<Self::Tcp>;
    /// Runs a TLS handshake for `server_name` (SNI and certificate name) over `tcp`.
    async fn tls(
        &self,
        tcp: Self::Tcp,
        server_name: &str,
        verify: bool,
    ) -> Result<Self::Tls, FailureKind>;
}

/// Why [`timeout`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// Runs `fut`, giving up after `d`.
pub async fn timeout<T: Timer, F: Future>(
    timer: &T,
    d: Duration,
    fut: F,
) -> Result<F::Output, Elapsed> {
    let sleep = timer.sleep(d);
    let mut fut = std::pin::pin!(fut);
    let mut sleep = std::pin::pin!(sleep);
    std::future::poll_fn(|cx: &mut Context<'_>| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Polls two futures, returning the first output (the other is dropped).
pub async fn race<A: Future, B: Future<Output = A::Output>>(a: A, b: B) -> A::Output {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx: &mut Context<'_>| {
        if let Poll::Ready(v) = Pin::as_mut(&mut a).poll(cx) {
            return Poll::Ready(v);
        }
        Pin::as_mut(&mut b).poll(cx)
    })
    .await
}
