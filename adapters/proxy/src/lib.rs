//! Runtime-agnostic gateway logic shared by the monoio and smol adapters: configuration, route
//! table, the sans-IO HTTP/1.1 codec and the driver between a connection and
//! [`oidc_core`]'s engine.
//!
//! This crate is being built up; today it only pins the dependency on the core.

pub use oidc_core;
