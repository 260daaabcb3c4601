//! TLS to identity providers, shared by every runtime adapter: the rustls client
//! configurations (certificate verification on by default against the system roots plus an
//! optional CA file; a second configuration that skips certificate checks, used only for routes
//! with `ssl_verify: false`) and the IdP connector built on a runtime's connectors.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oidc_core::engine::FailureKind;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::runtime::{Connector, IdpConnector, TlsConnect};

/// How to trust identity providers.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// Extra CA certificates (PEM file), trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
}

/// The two TLS client configurations an IdP connector needs, as rustls configurations
/// (`C = Arc<ClientConfig>`) or as a runtime's connectors built from them.
#[derive(Clone)]
pub struct IdpTlsConfigs<C = Arc<ClientConfig>> {
    /// Verifies certificates (the default).
    pub verifying: C,
    /// Accepts any certificate, still checking handshake signatures (`ssl_verify: false`).
    pub insecure: C,
}

impl<C> std::fmt::Debug for IdpTlsConfigs<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdpTlsConfigs")
    }
}

impl<C: From<Arc<ClientConfig>>> IdpTlsConfigs<C> {
    /// Builds both configurations on aws-lc-rs.
    ///
    /// # Errors
    ///
    /// The CA file cannot be read or holds no certificate.
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
        Ok(Self { verifying: Arc::new(verifying).into(), insecure: Arc::new(insecure).into() })
    }
}

impl<C> IdpTlsConfigs<C> {
    /// The configuration for a connection that does or does not verify the certificate.
    pub fn for_verify(&self, verify: bool) -> &C {
        if verify { &self.verifying } else { &self.insecure }
    }
}

/// The IdP connector of any runtime: TCP connections from its upstream connector `C`, TLS
/// from its rustls connector `T`, verifying or not as each route asks.
pub struct IdpTls<T, C> {
    tls: IdpTlsConfigs<T>,
    tcp: C,
}

impl<T: Clone, C: Clone> Clone for IdpTls<T, C> {
    fn clone(&self) -> Self {
        Self { tls: self.tls.clone(), tcp: self.tcp.clone() }
    }
}

impl<T, C> std::fmt::Debug for IdpTls<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdpTls")
    }
}

impl<T: From<Arc<ClientConfig>>, C: Default> IdpTls<T, C> {
    /// Builds both TLS connectors.
    ///
    /// # Errors
    ///
    /// The CA file cannot be read or holds no certificate.
    pub fn new(settings: &TlsSettings) -> io::Result<Self> {
        Ok(Self { tls: IdpTlsConfigs::new(settings)?, tcp: C::default() })
    }
}

impl<T: TlsConnect<C::Conn>, C: Connector> IdpConnector for IdpTls<T, C> {
    type Tcp = C::Conn;
    type Tls = T::Tls;

    async fn tcp(&self, addr: SocketAddr) -> io::Result<C::Conn> {
        self.tcp.connect(addr).await
    }

    async fn tls(&self, tcp: C::Conn, host: &str, verify: bool) -> Result<T::Tls, FailureKind> {
        let name = server_name(host)?;
        self.tls.for_verify(verify).connect(name, tcp).await.map_err(|_| FailureKind::Tls)
    }
}

/// The TLS server name of an IdP host (a DNS name or an IP literal).
///
/// # Errors
///
/// The host is neither.
pub fn server_name(host: &str) -> Result<ServerName<'static>, FailureKind> {
    ServerName::try_from(host.to_string()).map_err(|_| FailureKind::Tls)
}

/// Loads the trust store: system roots and the optional CA file.
fn root_store(ca_file: Option<&Path>) -> io::Result<RootCertStore> {
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
