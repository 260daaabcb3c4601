//! Harness for end-to-end tests: the real OpenID Provider (`e2e/idp`, node `oidc-provider`), a
//! recording upstream, the `gateway-monoio` binary (built from this checkout), and a small HTTP
//! client that can write like a real network. Every process is started on 127.0.0.1 with
//! ephemeral ports and stopped on drop.
//!
//! Nothing here uses the gateway's own code: the upstream and the client parse HTTP with
//! [`wire`], a minimal parser of their own, so a defect in the gateway's codec cannot hide
//! behind the same defect in the test harness.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::cast_possible_truncation)]

pub mod browser;
pub mod client;
pub mod connect_proxy;
pub mod gateway;
pub mod idp;
pub mod recorder;
pub mod routes;
pub mod slow_idp;
pub mod wire;

use std::path::PathBuf;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A fresh temporary directory (removed on drop).
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates one.
    pub fn new(tag: &str) -> Self {
        let n: u64 =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64;
        let p = std::env::temp_dir().join(format!("oidc-e2e-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A peer that accepts every connection and never answers (a stuck upstream or provider); it
/// holds the connections open for the rest of the test process.
pub fn silent_peer() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    addr
}
