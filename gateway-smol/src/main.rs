//! The OIDC authentication gateway on smol.
//!
//! The gateway is being built up; this binary prints its version and exits until the proxy lands.

fn main() {
    println!(
        "gateway-smol {}: not yet serving; see README.md for status",
        env!("CARGO_PKG_VERSION")
    );
}
