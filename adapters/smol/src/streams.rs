//! The runtime traits of `oidc-proxy` over async-io's reactor and the `futures` I/O traits.

use std::cell::RefCell;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::Async;
use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use oidc_proxy::runtime::{Connector, Duplex, StreamRead, StreamWrite, Timer};

/// Most bytes one read asks for (see [`StreamRead::read`] on [`Conn`]).
const MAX_READ_WINDOW: usize = 16 * 1024;

/// Any `futures` byte stream as an `oidc-proxy` stream ([`StreamRead`], [`StreamWrite`]).
#[derive(Debug)]
pub struct Conn<T>(pub T);

/// A TCP connection.
pub type TcpConn = Conn<Async<TcpStream>>;

/// A TLS connection to an identity provider.
pub type TlsConn = Conn<futures_rustls::client::TlsStream<Async<TcpStream>>>;

/// Half-closes the write side of the socket under a stream (`shutdown(SHUT_WR)`), after the
/// stream's own close: `futures`' `close` on an async-io socket only flushes, while
/// [`StreamWrite::shutdown`] must tell the peer that no more bytes come (a tunnel relays the
/// end of each direction this way).
pub trait HalfClose {
    /// Shuts down the write side of the underlying socket.
    ///
    /// # Errors
    ///
    /// The socket's error.
    fn half_close(&self) -> io::Result<()>;
}

impl HalfClose for Async<TcpStream> {
    fn half_close(&self) -> io::Result<()> {
        self.get_ref().shutdown(Shutdown::Write)
    }
}

impl<T: HalfClose> HalfClose for futures_rustls::client::TlsStream<T> {
    fn half_close(&self) -> io::Result<()> {
        self.get_ref().0.half_close()
    }
}

thread_local! {
    /// Where this worker's reads land before they are appended: the `futures` read takes an
    /// initialised slice, and zero-filling each read window would cost more than copying the
    /// bytes actually read. Borrowed within one poll only, never across an await.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; MAX_READ_WINDOW].into_boxed_slice());
}

impl<T: AsyncRead + Unpin> StreamRead for Conn<T> {
    /// Reads at most `buf`'s spare capacity (at least one byte, at most 16 KiB),
    /// appending after its contents.
    async fn read(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let window = (buf.capacity() - buf.len()).clamp(1, MAX_READ_WINDOW);
        let r = std::future::poll_fn(|cx| {
            SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                let polled = Pin::new(&mut self.0).poll_read(cx, &mut scratch[..window]);
                if let Poll::Ready(Ok(n)) = polled {
                    buf.extend_from_slice(&scratch[..n]);
                }
                polled
            })
        })
        .await;
        (r, buf)
    }
}

impl<T: AsyncWrite + HalfClose + Unpin> StreamWrite for Conn<T> {
    async fn write_all(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        // The flush matters for TLS: a write may leave records in rustls' buffer when the
        // socket would block, and the proxy then waits for an answer to bytes never sent.
        let r = match self.0.write_all(&buf).await {
            Ok(()) => self.0.flush().await,
            Err(e) => Err(e),
        };
        (r, buf)
    }
    async fn shutdown(&mut self) -> io::Result<()> {
        // Flushes (and for TLS sends close_notify), then half-closes the socket.
        self.0.close().await?;
        self.0.half_close()
    }
}

/// One direction of a split TCP connection ([`Duplex::into_split`]). Both halves share the
/// socket; async-io keeps separate wakers for readability and writability, so each half is
/// driven by its own future. Dropping the writing half half-closes the socket, as monoio's
/// owned write half does.
#[derive(Debug)]
pub struct TcpHalf {
    socket: Arc<Async<TcpStream>>,
    writer: bool,
}

impl AsyncRead for TcpHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.socket).poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.socket).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.socket).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.socket).poll_close(cx)
    }
}

impl HalfClose for TcpHalf {
    fn half_close(&self) -> io::Result<()> {
        self.socket.half_close()
    }
}

impl Drop for TcpHalf {
    fn drop(&mut self) {
        if self.writer {
            let _ = self.socket.half_close();
        }
    }
}

impl Duplex for TcpConn {
    type Reader = Conn<TcpHalf>;
    type Writer = Conn<TcpHalf>;
    fn into_split(self) -> (Self::Reader, Self::Writer) {
        let socket = Arc::new(self.0);
        let reader = TcpHalf { socket: Arc::clone(&socket), writer: false };
        (Conn(reader), Conn(TcpHalf { socket, writer: true }))
    }
}

/// async-io's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolTimer;

impl Timer for SmolTimer {
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> {
        let t = async_io::Timer::after(d);
        async move {
            t.await;
        }
    }
}

/// Opens upstream connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpstreamConnector;

impl Connector for UpstreamConnector {
    type Conn = TcpConn;
    async fn connect(&self, addr: SocketAddr) -> io::Result<TcpConn> {
        let s = Async::<TcpStream>::connect(addr).await?;
        s.get_ref().set_nodelay(true)?;
        Ok(Conn(s))
    }

    fn is_reusable(&self, conn: &TcpConn) -> bool {
        use std::os::fd::AsFd as _;
        oidc_proxy::pool::idle_and_open(conn.0.as_fd())
    }
}
