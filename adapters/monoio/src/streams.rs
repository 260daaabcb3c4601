//! The runtime traits of `oidc-proxy` over monoio's owned-buffer I/O.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use monoio::buf::{IoBufMut, SliceMut};
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, OwnedReadHalf, OwnedWriteHalf, Splitable,
};
use monoio::net::TcpStream;
use oidc_proxy::runtime::{Connector, Duplex, StreamRead, StreamWrite, Timer};

/// Any monoio owned-buffer stream as an `oidc-proxy` stream ([`StreamRead`], [`StreamWrite`]).
#[derive(Debug)]
pub struct Conn<T>(pub T);

/// A TCP connection.
pub type TcpConn = Conn<TcpStream>;

/// A TLS connection to an identity provider.
pub type TlsConn = Conn<monoio_rustls::ClientTlsStream<TcpStream>>;

/// Reads `buf`'s spare capacity, appending.
///
/// A whole `Vec` is read into from offset 0 (monoio sets its length to what was read), so the
/// read goes into a slice of the spare capacity; `SliceMut::set_init` extends the Vec's length
/// from the slice's start. This is the append contract of [`StreamRead`].
async fn append<R: AsyncReadRent>(r: &mut R, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
    let len = buf.len();
    let (res, slice): (_, SliceMut<Vec<u8>>) = r.read(buf.slice_mut(len..)).await;
    (res, slice.into_inner())
}

impl<T: AsyncReadRent> StreamRead for Conn<T> {
    async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        append(&mut self.0, buf).await
    }
}

impl<T: AsyncWriteRent> StreamWrite for Conn<T> {
    async fn write_all(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let (r, b) = AsyncWriteRentExt::write_all(&mut self.0, buf).await;
        (r.map(|_| ()), b)
    }
    async fn shutdown(&mut self) -> io::Result<()> {
        AsyncWriteRent::shutdown(&mut self.0).await
    }
}

impl Duplex for TcpConn {
    type Reader = Conn<OwnedReadHalf<TcpStream>>;
    type Writer = Conn<OwnedWriteHalf<TcpStream>>;
    fn into_split(self) -> (Self::Reader, Self::Writer) {
        let (r, w) = self.0.into_split();
        (Conn(r), Conn(w))
    }
}

/// monoio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonoioTimer;

impl Timer for MonoioTimer {
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> {
        monoio::time::sleep(d)
    }
}

/// Opens upstream connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpstreamConnector;

impl Connector for UpstreamConnector {
    type Conn = TcpConn;
    async fn connect(&self, addr: SocketAddr) -> io::Result<TcpConn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn(s))
    }

    fn is_reusable(&self, conn: &TcpConn) -> bool {
        use std::os::fd::{AsRawFd as _, BorrowedFd};
        // monoio exposes only the raw descriptor of its streams.
        // SAFETY: `conn` owns the descriptor and outlives this borrow, which ends with the call.
        #[allow(unsafe_code)]
        let fd = unsafe { BorrowedFd::borrow_raw(conn.0.as_raw_fd()) };
        oidc_proxy::pool::idle_and_open(fd)
    }
}
