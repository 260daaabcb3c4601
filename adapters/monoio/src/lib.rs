//! monoio (io_uring) glue for the gateway: sockets, timers, TLS to identity providers, and the
//! runtime the shared worker ([`oidc_proxy::worker`]) runs on. Every decision lives in
//! `oidc-proxy` and `oidc-core`; this crate only moves bytes and waits for time.

mod streams;
mod tls;
mod worker;

pub use oidc_proxy::tls_config::TlsSettings;
pub use oidc_proxy::worker::{LogFactory, Shared, WorkerOptions};
pub use streams::{Conn, MonoioTimer, TcpConn, TlsConn, UpstreamConnector};
pub use tls::IdpTls;
pub use worker::{Monoio, io_uring_available, run_worker};
