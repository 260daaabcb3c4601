//! TLS to identity providers over futures-rustls, with the configurations of
//! [`oidc_proxy::tls_config`].

use std::io;
use std::net::TcpStream;

use async_io::Async;
use futures_rustls::TlsConnector;
use oidc_core::engine::FailureKind;
use oidc_proxy::runtime::IdpConnector;
use oidc_proxy::tls_config::{IdpTlsConfigs, TlsSettings, server_name};

use crate::resolve::resolve;
use crate::streams::{Conn, TcpConn, TlsConn};

/// The IdP connector: one verifying and one non-verifying TLS configuration (the latter used
/// only for routes that set `ssl_verify: false`).
#[derive(Clone)]
pub struct IdpTls {
    verifying: TlsConnector,
    insecure: TlsConnector,
}

impl std::fmt::Debug for IdpTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdpTls")
    }
}

impl IdpTls {
    /// Builds both TLS configurations.
    ///
    /// # Errors
    ///
    /// The CA file cannot be read or holds no certificate.
    pub fn new(settings: &TlsSettings) -> io::Result<Self> {
        let configs = IdpTlsConfigs::new(settings)?;
        Ok(Self {
            verifying: TlsConnector::from(configs.verifying),
            insecure: TlsConnector::from(configs.insecure),
        })
    }
}

impl IdpConnector for IdpTls {
    type Tcp = TcpConn;
    type Tls = TlsConn;

    async fn tcp(&self, host: &str, port: u16) -> io::Result<TcpConn> {
        // Every address is tried in turn: `localhost` may resolve to ::1 first while the
        // provider listens on 127.0.0.1 only.
        let mut last = io::Error::new(io::ErrorKind::NotFound, "name has no address");
        for addr in resolve(host, port).await? {
            match Async::<TcpStream>::connect(addr).await {
                Ok(s) => {
                    s.get_ref().set_nodelay(true)?;
                    return Ok(Conn(s));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn tls(
        &self,
        tcp: TcpConn,
        host_name: &str,
        verify: bool,
    ) -> Result<TlsConn, FailureKind> {
        let name = server_name(host_name)?;
        let connector = if verify { &self.verifying } else { &self.insecure };
        connector.connect(name, tcp.0).await.map(Conn).map_err(|_| FailureKind::Tls)
    }
}
