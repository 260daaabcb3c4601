//! The OIDC authentication gateway on smol: one `LocalExecutor` per core on async-io's reactor
//! (epoll/kqueue; no io_uring needed), `SO_REUSEPORT` listeners, SIGHUP reloads the
//! configuration, SIGTERM drains and exits. The same command line, file, signals and logs as
//! `gateway-monoio`.
//!
//! ```text
//! gateway-smol --config gateway.yaml [--workers N] [--check]
//! ```

use std::process::ExitCode;

use oidc_proxy::cli::Binary;

// As gateway-monoio: many small per-request allocations, thread-per-core workers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // As gateway-monoio: transparent huge pages cost RSS for no speed at this heap size.
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("cannot turn transparent huge pages off ({e}); continuing");
    }
    oidc_proxy::cli::main(Binary {
        name: "gateway-smol",
        version: env!("CARGO_PKG_VERSION"),
        runtime: || String::from("smol (async-io reactor)"),
        run_worker: oidc_smol::run_worker,
    })
}
