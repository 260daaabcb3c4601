//! monoio (io_uring) glue for the gateway: listeners, sockets, timers and TLS to the identity
//! provider. All gateway decisions live in `oidc-proxy` and `oidc-core`.
//!
//! This crate is being built up; today it only pins the dependency on the core.

pub use oidc_core;
