//! Runtime-agnostic gateway logic shared by the monoio and smol adapters: the configuration
//! file, the route table, upstream balancing, the sans-IO HTTP/1.1 codec, the proxy loop written
//! once over owned-buffer streams, and the driver between connections and [`oidc_core`]'s engine.

pub mod access_log;
pub mod balancer;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod driver;
pub mod http;
pub mod idp_client;
pub mod pool;
pub mod proxy;
pub mod refresh_ledger;
pub mod resolve;
pub mod router;
pub mod runtime;
pub mod schema;
pub mod tls_config;
pub mod worker;

pub use oidc_core;
