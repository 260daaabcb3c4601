//! TLS to identity providers over futures-rustls, with the configurations of
//! [`oidc_proxy::tls_config`].

use std::io;
use std::net::SocketAddr;

use futures_rustls::TlsConnector;
use oidc_core::engine::FailureKind;
use oidc_proxy::runtime::{Connector, IdpConnector};
use oidc_proxy::tls_config::{IdpTlsConfigs, TlsSettings, server_name};

use crate::streams::{Conn, TcpConn, TlsConn, UpstreamConnector};

/// The IdP connector: a verifying and a non-verifying TLS connector (the latter used only for
/// routes that set `ssl_verify: false`).
#[derive(Clone, Debug)]
pub struct IdpTls(IdpTlsConfigs<TlsConnector>);

impl IdpTls {
    /// Builds both TLS connectors.
    ///
    /// # Errors
    ///
    /// The CA file cannot be read or holds no certificate.
    pub fn new(settings: &TlsSettings) -> io::Result<Self> {
        IdpTlsConfigs::new(settings).map(Self)
    }
}

impl IdpConnector for IdpTls {
    type Tcp = TcpConn;
    type Tls = TlsConn;

    async fn tcp(&self, addr: SocketAddr) -> io::Result<TcpConn> {
        UpstreamConnector.connect(addr).await
    }

    async fn tls(
        &self,
        tcp: TcpConn,
        host_name: &str,
        verify: bool,
    ) -> Result<TlsConn, FailureKind> {
        let name = server_name(host_name)?;
        let connector = self.0.for_verify(verify);
        connector.connect(name, tcp.0).await.map(Conn).map_err(|_| FailureKind::Tls)
    }
}
