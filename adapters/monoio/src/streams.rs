//! The runtime traits of `oidc-proxy` over monoio's owned-buffer I/O.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use oidc_proxy::runtime::{Connector, Stream, Timer};

/// A TCP connection.
#[derive(Debug)]
pub struct TcpConn(pub TcpStream);

impl Stream for TcpConn {
    async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        // monoio reads into the spare capacity and extends the length: the trait's contract.
        self.0.read(buf).await
    }
    async fn write_all(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let (r, b) = AsyncWriteRentExt::write_all(&mut self.0, buf).await;
        (r.map(|_| ()), b)
    }
    async fn shutdown(&mut self) -> io::Result<()> {
        AsyncWriteRent::shutdown(&mut self.0).await
    }
}

/// A TLS connection to an identity provider.
pub struct TlsConn(pub monoio_rustls::ClientTlsStream<TcpStream>);

impl std::fmt::Debug for TlsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConn")
    }
}

impl Stream for TlsConn {
    async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        self.0.read(buf).await
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
        Ok(TcpConn(s))
    }
}
