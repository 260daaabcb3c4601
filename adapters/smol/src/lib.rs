//! smol glue for the gateway: sockets and timers on async-io, TLS to identity providers with
//! futures-rustls, and the runtime the shared worker ([`oidc_proxy::worker`]) runs on: one
//! `LocalExecutor` per worker thread. The same roles as `oidc-monoio`, and nothing more: every
//! decision lives in `oidc-proxy` and `oidc-core`.

mod streams;
mod tls;
mod worker;

pub use oidc_proxy::tls_config::TlsSettings;
pub use oidc_proxy::worker::{LogFactory, Shared, WorkerOptions};
pub use streams::{Conn, HalfClose, SmolTimer, TcpConn, TcpHalf, TlsConn, UpstreamConnector};
pub use tls::IdpTls;
pub use worker::{Smol, run_worker};
