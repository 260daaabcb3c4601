//! TLS to identity providers with rustls: certificate verification on by default against the
//! system roots plus an optional CA file; SNI from the URL host.

use std::io;
use std::path::Path;
use std::sync::Arc;

use monoio::net::TcpStream;
use monoio_rustls::TlsConnector;
use oidc_core::engine::FailureKind;
use oidc_proxy::runtime::IdpConnector;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::resolve::resolve;
use crate::streams::{Conn, TcpConn, TlsConn};

/// How to trust identity providers.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// Extra CA certificates (PEM file), trusted besides the system roots.
    pub ca_file: Option<std::path::PathBuf>,
}

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

/// Loads the trust store: system roots and the optional CA file.
pub(crate) fn root_store(ca_file: Option<&Path>) -> io::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A malformed system certificate is skipped, not fatal.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path)
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?
        {
            let cert = cert.map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
            roots.add(cert).map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(io::Error::other(format!("{}: no certificate found", path.display())));
        }
    }
    Ok(roots)
}

impl IdpTls {
    /// Builds both TLS configurations.
    pub fn new(settings: &TlsSettings) -> io::Result<Self> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = root_store(settings.ca_file.as_deref())?;
        let verifying = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let insecure = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth();
        Ok(Self {
            verifying: TlsConnector::from(Arc::new(verifying)),
            insecure: TlsConnector::from(Arc::new(insecure)),
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
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    s.set_nodelay(true)?;
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
        server_name: &str,
        verify: bool,
    ) -> Result<TlsConn, FailureKind> {
        let name = ServerName::try_from(server_name.to_string()).map_err(|_| FailureKind::Tls)?;
        let connector = if verify { &self.verifying } else { &self.insecure };
        connector.connect(name, tcp.0).await.map(Conn).map_err(|_| FailureKind::Tls)
    }
}

/// Accepts any certificate (still checking handshake signatures): `ssl_verify: false` only.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
