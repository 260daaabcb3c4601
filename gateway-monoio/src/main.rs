//! The OIDC authentication gateway on monoio: one io_uring runtime per core, `SO_REUSEPORT`
//! listeners, SIGHUP reloads the configuration, SIGTERM drains and exits.
//!
//! ```text
//! gateway-monoio --config gateway.yaml [--workers N] [--check]
//! ```

use std::process::ExitCode;

use oidc_proxy::cli::Binary;

// The proxy loop makes many small, short-lived allocations per request (header fields, buffers);
// mimalloc's thread-local free lists suit thread-per-core workers better than glibc malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // mimalloc asks for transparent huge pages on its arenas. For a heap this small they buy no
    // measurable speed (benches/BENCHMARKS.md) and cost 2 MiB of RSS per touched region: idle
    // RSS was 19 MiB with them and 7 MiB without. The flag is per process; set before any
    // worker allocates.
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("cannot turn transparent huge pages off ({e}); continuing");
    }
    oidc_proxy::cli::main(Binary {
        name: "gateway-monoio",
        version: env!("CARGO_PKG_VERSION"),
        runtime: || {
            let driver = if oidc_monoio::io_uring_available() {
                "io_uring"
            } else {
                "legacy epoll (io_uring unavailable)"
            };
            format!("monoio, {driver} driver")
        },
        run_worker: oidc_monoio::run_worker,
    })
}
