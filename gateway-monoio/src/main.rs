//! The OIDC authentication gateway on monoio.
//!
//! The gateway is being built up; this binary prints its version and exits until the proxy lands.

fn main() {
    println!(
        "gateway-monoio {}: not yet serving; see README.md for status",
        env!("CARGO_PKG_VERSION")
    );
}
