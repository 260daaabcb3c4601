//! smol / async-io glue for the gateway: the same roles as `oidc-monoio` on another runtime.
//!
//! This crate is being built up; today it only pins the dependency on the core.

pub use oidc_core;

mod resolve;
mod streams;
mod tls;

pub use streams::{Conn, HalfClose, SmolTimer, TcpConn, TcpHalf, TlsConn, UpstreamConnector};
pub use tls::IdpTls;
