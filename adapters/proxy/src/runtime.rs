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

/// The reading side of a byte stream with owned buffers.
///
/// The proxy never calls [`StreamRead::read`] directly: it goes through [`read_more`], which
/// checks the append contract on every read, so an adapter that breaks it fails loudly (an I/O
/// error and a closed connection) instead of silently dropping bytes. The adapter conformance
/// suite ([`crate::conformance`]) proves an adapter against it.
pub trait StreamRead {
    /// Reads into the spare capacity of `buf`, **appending** after the bytes already in it:
    /// on return `buf[..old_len]` is unchanged and `buf.len() == old_len + n`. `Ok(0)` at end
    /// of stream. (monoio's owned-buffer read writes at offset 0 unless given a slice of the
    /// spare capacity: reading into a whole `Vec` would overwrite what was buffered.)
    async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>);
}

/// The writing side of a byte stream with owned buffers.
pub trait StreamWrite {
    /// Writes all of `buf`, and hands it back unchanged (so a caller may resend or reuse it).
    async fn write_all(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>);
    /// Flushes and half-closes the write side.
    async fn shutdown(&mut self) -> io::Result<()>;
}

/// A byte stream: both sides.
pub trait Stream: StreamRead + StreamWrite {}

impl<T: StreamRead + StreamWrite> Stream for T {}

/// A stream whose two directions can be driven at once, each by its own future (a tunnel
/// copies both ways; cancelling a pending read to write instead would lose bytes on
/// completion-based runtimes).
pub trait Duplex: Stream + Sized {
    /// The reading side.
    type Reader: StreamRead;
    /// The writing side.
    type Writer: StreamWrite;
    /// Splits the stream.
    fn into_split(self) -> (Self::Reader, Self::Writer);
}

/// Reads more bytes onto the end of `buf`. When its spare capacity is under a quarter of
/// `grow` (or none), it first makes room for `grow` more bytes; the buffer never grows by more
/// than the caller asked for. Returns the number of bytes read, `0` at end of stream.
///
/// # Errors
///
/// The stream's error, or [`io::ErrorKind::InvalidData`] if the adapter broke the append
/// contract of [`StreamRead::read`] (a bug in the adapter; the bytes are not trusted).
pub async fn read_more<S: StreamRead + ?Sized>(
    s: &mut S,
    buf: &mut Vec<u8>,
    grow: usize,
) -> io::Result<usize> {
    let before = buf.len();
    let mut b = std::mem::take(buf);
    let room = b.capacity() - before;
    if room == 0 || room < grow / 4 {
        b.reserve_exact(grow.max(1));
    }
    let (r, b) = s.read(b).await;
    *buf = b;
    let n = r?;
    if buf.len() != before + n {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "runtime adapter broke the read contract (a read must append)",
        ));
    }
    Ok(n)
}

/// Timers.
pub trait Timer {
    /// Completes after `d`.
    fn sleep(&self, d: Duration) -> impl Future<Output = ()>;
}

/// Connects to upstream nodes.
pub trait Connector {
    /// The connection type.
    type Conn: Duplex;
    /// Opens a TCP connection.
    async fn connect(&self, addr: SocketAddr) -> io::Result<Self::Conn>;
    /// Whether an idle pooled connection may carry another request: nothing is waiting to be
    /// read on it (an unsolicited response, or the upstream's close). Checked, without
    /// blocking, before each reuse; upstreams close idle connections after a few seconds
    /// (gunicorn 2 s, Node.js 5 s), and bytes left on a connection would answer the next
    /// client's request.
    fn is_reusable(&self, conn: &Self::Conn) -> bool {
        let _ = conn;
        true
    }
}

/// Connects to identity providers: TCP, then TLS with certificate verification.
pub trait IdpConnector {
    /// Plain connection.
    type Tcp: Stream;
    /// TLS over a plain connection.
    type Tls: Stream;
    /// Opens a TCP connection (with `TCP_NODELAY` set). Names are resolved by the caller.
    async fn tcp(&self, addr: SocketAddr) -> io::Result<Self::Tcp>;
    /// Runs a TLS handshake for `server_name` (SNI and certificate name) over `tcp`.
    async fn tls(
        &self,
        tcp: Self::Tcp,
        server_name: &str,
        verify: bool,
    ) -> Result<Self::Tls, FailureKind>;
}

/// A runtime's rustls client connector: a TLS handshake over its TCP connection type. With
/// it, [`crate::tls_config::IdpTls`] is the runtime's [`IdpConnector`].
pub trait TlsConnect<Tcp>: From<std::sync::Arc<rustls::ClientConfig>> + Clone {
    /// The TLS connection.
    type Tls: Stream;
    /// Runs the handshake for `name` over `tcp`.
    async fn connect(
        &self,
        name: rustls::pki_types::ServerName<'static>,
        tcp: Tcp,
    ) -> io::Result<Self::Tls>;
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

/// A one-shot, single-threaded broadcast: [`Signal::raise`] wakes every [`Signal::wait`]er,
/// for example to close idle keep-alive connections when a worker drains.
#[derive(Debug, Default, Clone)]
pub struct Signal(std::rc::Rc<std::cell::RefCell<SignalState>>);

#[derive(Debug, Default)]
struct SignalState {
    raised: bool,
    next: u64,
    /// Registered waiters; a waiter removes itself when dropped, so connections that wait and
    /// then move on leave nothing behind.
    waiters: std::collections::HashMap<u64, std::task::Waker>,
}

impl Signal {
    /// Raises the signal (idempotent).
    pub fn raise(&self) {
        let waiters = {
            let mut s = self.0.borrow_mut();
            s.raised = true;
            std::mem::take(&mut s.waiters)
        };
        for w in waiters.into_values() {
            w.wake();
        }
    }

    /// Whether it has been raised.
    pub fn is_raised(&self) -> bool {
        self.0.borrow().raised
    }

    /// Completes once the signal is raised.
    pub fn wait(&self) -> SignalWait<'_> {
        SignalWait { signal: self, id: None }
    }
}

/// The future of [`Signal::wait`].
#[derive(Debug)]
pub struct SignalWait<'a> {
    signal: &'a Signal,
    id: Option<u64>,
}

impl Future for SignalWait<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.signal.0.borrow_mut();
        if s.raised {
            return Poll::Ready(());
        }
        let id = match self.id {
            Some(id) => id,
            None => {
                s.next += 1;
                s.next
            }
        };
        // Every task of a worker races a stop signal, so this runs on every poll of every
        // connection: the waker is cloned only when it changed.
        match s.waiters.entry(id) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                if !e.get().will_wake(cx.waker()) {
                    e.insert(cx.waker().clone());
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(cx.waker().clone());
            }
        }
        drop(s);
        self.id = Some(id);
        Poll::Pending
    }
}

impl Drop for SignalWait<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id
            && let Ok(mut s) = self.signal.0.try_borrow_mut()
        {
            s.waiters.remove(&id);
        }
    }
}

/// Polls two futures to completion, concurrently.
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx: &mut Context<'_>| {
        if ra.is_none()
            && let Poll::Ready(v) = Pin::as_mut(&mut a).poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = Pin::as_mut(&mut b).poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some()
            && rb.is_some()
            && let (Some(x), Some(y)) = (ra.take(), rb.take())
        {
            return Poll::Ready((x, y));
        }
        Poll::Pending
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
