//! The runtime traits of `oidc-proxy` over monoio's owned-buffer I/O.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use monoio::buf::{IoBufMut, SliceMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use oidc_proxy::runtime::{Connector, Stream, Timer};

/// Any monoio owned-buffer stream as an `oidc-proxy` [`Stream`].
#[derive(Debug)]
pub struct Conn<T>(pub T);

/// A TCP connection.
pub type TcpConn = Conn<TcpStream>;

/// A TLS connection to an identity provider.
pub type TlsConn = Conn<monoio_rustls::ClientTlsStream<TcpStream>>;

impl<T: AsyncReadRent + AsyncWriteRent> Stream for Conn<T> {
    async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        // A whole Vec is read into from offset 0 (monoio sets its length to what was read), so
        // the read goes into a slice of the spare capacity; `SliceMut::set_init` extends the
        // Vec's length from the slice's start. This is the append contract of the trait.
        let len = buf.len();
        let (r, slice): (_, SliceMut<Vec<u8>>) = self.0.read(buf.slice_mut(len..)).await;
        (r, slice.into_inner())
    }
    async fn write_all(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let (r, b) = AsyncWriteRentExt::write_all(&mut self.0, buf).await;
        (r.map(|_| ()), b)
    }
    async fn shutdown(&mut self) -> io::Result<()> {
        AsyncWriteRent::shutdown(&mut self.0).await
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
}
