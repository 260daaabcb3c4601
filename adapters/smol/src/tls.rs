//! TLS to identity providers over futures-rustls: the handshake [`oidc_proxy::tls_config::IdpTls`]
//! needs from this runtime.

use std::io;

use futures_rustls::TlsConnector;
use oidc_proxy::runtime::TlsConnect;
use rustls::pki_types::ServerName;

use crate::streams::{Conn, TcpConn, TlsConn, UpstreamConnector};

/// The IdP connector on smol.
pub type IdpTls = oidc_proxy::tls_config::IdpTls<TlsConnector, UpstreamConnector>;

impl TlsConnect<TcpConn> for TlsConnector {
    type Tls = TlsConn;

    async fn connect(&self, name: ServerName<'static>, tcp: TcpConn) -> io::Result<TlsConn> {
        Self::connect(self, name, tcp.0).await.map(Conn).map_err(io::Error::other)
    }
}
