//! The OIDC authentication gateway on monoio: one io_uring runtime per core, `SO_REUSEPORT`
//! listeners, SIGHUP reloads the configuration, SIGTERM drains and exits.
//!
//! ```text
//! gateway-monoio --config gateway.yaml [--workers N] [--check]
//! ```

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use oidc_monoio::{Shared, TlsSettings, WorkerOptions, run_worker};
use oidc_proxy::config::{AccessLog, GatewayConfig};

// The proxy loop makes many small, short-lived allocations per request (header fields, buffers);
// mimalloc's thread-local free lists suit thread-per-core workers better than glibc malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: gateway-monoio --config FILE [--workers N] [--check]";

struct Args {
    config: PathBuf,
    workers: Option<usize>,
    check: bool,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut config, mut workers, mut check) = (None, None, false);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" | "-c" => {
                config = Some(PathBuf::from(it.next().ok_or("--config needs a file")?));
            }
            "--workers" | "-w" => {
                let n = it.next().ok_or("--workers needs a number")?;
                workers = Some(
                    n.parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or("--workers must be a positive number")?,
                );
            }
            "--check" => check = true,
            "--help" | "-h" => return Err(USAGE.into()),
            "--version" | "-V" => {
                println!("gateway-monoio {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Args { config: config.ok_or(USAGE)?, workers, check })
}

fn load(path: &std::path::Path) -> Result<GatewayConfig, String> {
    let config = GatewayConfig::load(path)
        .map_err(|e| format!("{}: configuration refused:\n{e}", path.display()))?;
    for w in config.lint() {
        eprintln!("warning: {w}");
    }
    Ok(config)
}

fn log_sink(dest: &AccessLog) -> Option<oidc_monoio::LogFactory> {
    match dest.clone() {
        AccessLog::Off => None,
        AccessLog::Stdout => Some(Arc::new(|| {
            Rc::new(|line: &str| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }) as Rc<dyn Fn(&str)>
        })),
        AccessLog::File(path) => Some(Arc::new(move || {
            let file = OpenOptions::new().create(true).append(true).open(&path);
            match file {
                Ok(f) => {
                    let f = std::cell::RefCell::new(f);
                    Rc::new(move |line: &str| {
                        // One write per line: O_APPEND keeps lines from different workers whole.
                        let _ = f.borrow_mut().write_all(format!("{line}\n").as_bytes());
                    }) as Rc<dyn Fn(&str)>
                }
                Err(e) => {
                    eprintln!("access log {}: {e}; logging to stderr", path.display());
                    Rc::new(|line: &str| eprintln!("{line}")) as Rc<dyn Fn(&str)>
                }
            }
        })),
    }
}

fn main() -> ExitCode {
    // mimalloc asks for transparent huge pages on its arenas. For a heap this small they buy no
    // measurable speed (benches/BENCHMARKS.md) and cost 2 MiB of RSS per touched region: idle
    // RSS was 19 MiB with them and 7 MiB without. The flag is per process; set before any
    // worker allocates.
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("cannot turn transparent huge pages off ({e}); continuing");
    }
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let config = match load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    if args.check {
        println!("{}: configuration ok ({} routes)", args.config.display(), config.routes.len());
        return ExitCode::SUCCESS;
    }
    let workers = args
        .workers
        .or(config.gateway.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let driver = if oidc_monoio::io_uring_available() {
        "io_uring"
    } else {
        "legacy epoll (io_uring unavailable)"
    };
    eprintln!(
        "gateway-monoio {}: {} workers, {driver} driver, listening on {:?}",
        env!("CARGO_PKG_VERSION"),
        workers,
        config.gateway.listen
    );
    let tls = TlsSettings { ca_file: config.gateway.ssl_ca_file.clone() };
    let log = log_sink(&config.gateway.access_log);
    let shared = Arc::new(Shared::new(config));

    let term = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    for (sig, flag) in [
        (signal_hook::consts::SIGTERM, &term),
        (signal_hook::consts::SIGINT, &term),
        (signal_hook::consts::SIGHUP, &hup),
    ] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(flag)) {
            eprintln!("cannot install signal handler: {e}");
            return ExitCode::from(1);
        }
    }

    let mut handles = Vec::new();
    for id in 0..workers {
        let (shared, opts) =
            (Arc::clone(&shared), WorkerOptions { id, tls: tls.clone(), log: log.clone() });
        let h = std::thread::Builder::new().name(format!("worker-{id}")).spawn(move || {
            if let Err(e) = run_worker(Arc::clone(&shared), opts) {
                eprintln!("worker {id}: {e}");
                shared.draining.store(true, Ordering::Release);
                return false;
            }
            true
        });
        match h {
            Ok(h) => handles.push(h),
            Err(e) => {
                eprintln!("cannot start worker {id}: {e}");
                return ExitCode::from(1);
            }
        }
    }

    while !term.load(Ordering::Acquire) && !shared.draining.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(100));
        if hup.swap(false, Ordering::AcqRel) {
            match load(&args.config) {
                Ok(new) => {
                    *shared.config.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Arc::new(new);
                    shared.generation.fetch_add(1, Ordering::AcqRel);
                    eprintln!("configuration reloaded");
                }
                Err(e) => eprintln!("reload refused, keeping the running configuration: {e}"),
            }
        }
    }
    eprintln!("draining");
    shared.draining.store(true, Ordering::Release);
    let mut ok = true;
    for h in handles {
        ok &= h.join().unwrap_or(false);
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
