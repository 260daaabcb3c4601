//! The gateway process, written once for every runtime: command line, configuration loading
//! (validated and compiled as the workers will before anything is announced), the access-log
//! writer, signals (SIGHUP reloads, SIGTERM/SIGINT drain), the workers and their supervision.
//! A binary gives its runtime's worker entry point ([`Binary`]) and calls [`main`].

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use oidc_core::engine::{Engine, Settings};

use crate::config::{AccessLog, GatewayConfig};
use crate::driver::OsEntropy;
use crate::proxy::oidc_configs;
use crate::tls_config::{IdpTlsConfigs, TlsSettings};
use crate::worker::{LogFactory, Shared, WorkerOptions};

/// What differs between the gateway binaries.
#[derive(Clone, Copy)]
pub struct Binary {
    /// The program name (`gateway-monoio`).
    pub name: &'static str,
    /// Its version.
    pub version: &'static str,
    /// A word on the runtime for the start-up line (for example which I/O driver).
    pub runtime: fn() -> String,
    /// Runs one worker thread until the gateway drains.
    pub run_worker: fn(Arc<Shared>, WorkerOptions) -> std::io::Result<()>,
}

impl std::fmt::Debug for Binary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binary").field("name", &self.name).finish_non_exhaustive()
    }
}

const USAGE: &str = "--config FILE [--workers N] [--check]";

struct Args {
    config: PathBuf,
    workers: Option<usize>,
    check: bool,
}

fn args(bin: &Binary) -> Result<Args, String> {
    let usage = format!("usage: {} {USAGE}", bin.name);
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
            "--help" | "-h" => return Err(usage),
            "--version" | "-V" => {
                println!("{} {}", bin.name, bin.version);
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{usage}")),
        }
    }
    Ok(Args { config: config.ok_or(usage)?, workers, check })
}

/// Loads and validates a configuration file, then compiles its routes as the workers will:
/// a file that `--check` or a reload accepts is one every worker can run.
fn load(path: &std::path::Path) -> Result<GatewayConfig, String> {
    let config = GatewayConfig::load(path)
        .map_err(|e| format!("{}: configuration refused:\n{e}", path.display()))?;
    Engine::new(oidc_configs(&config), Settings::default(), &mut OsEntropy)
        .map_err(|e| format!("{}: configuration refused:\n{e}", path.display()))?;
    // The workers build their TLS trust from it: a CA file they cannot use is refused here,
    // named, rather than as a worker that fails to start.
    let tls = TlsSettings { ca_file: config.gateway.ssl_ca_file.clone() };
    IdpTlsConfigs::<Arc<rustls::ClientConfig>>::new(&tls).map_err(|e| {
        format!("{}: configuration refused:\ngateway.ssl_ca_file: {e}", path.display())
    })?;
    for w in config.lint() {
        eprintln!("warning: {w}");
    }
    Ok(config)
}

/// Access-log lines wait here for the writer thread; beyond it lines are dropped (and
/// counted) rather than stall a worker on a slow pipe or disk.
const LOG_QUEUE: usize = 64 * 1024;

/// The access log: workers hand lines to one writer thread through a bounded queue, so a
/// slow stdout pipe or disk never blocks a worker.
fn log_sink(dest: &AccessLog) -> Option<LogFactory> {
    let mut out: Box<dyn Write + Send> = match dest.clone() {
        AccessLog::Off => return None,
        AccessLog::Stdout => Box::new(std::io::stdout()),
        AccessLog::File(path) => match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("access log {}: {e}; logging to stderr", path.display());
                Box::new(std::io::stderr())
            }
        },
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<String>(LOG_QUEUE);
    let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = Arc::clone(&dropped);
    let spawned = std::thread::Builder::new().name("access-log".into()).spawn(move || {
        let mut reported = 0;
        while let Ok(line) = rx.recv() {
            // One write per line: O_APPEND keeps lines whole.
            let _ = out.write_all(line.as_bytes());
            let lost = seen.load(Ordering::Relaxed);
            if lost > reported {
                let _ = writeln!(
                    out,
                    "{{\"event\":\"access_log_dropped\",\"lines\":{}}}",
                    lost - reported
                );
                reported = lost;
            }
        }
    });
    if let Err(e) = spawned {
        eprintln!("cannot start the access-log writer ({e}); access log off");
        return None;
    }
    Some(Arc::new(move || {
        let (tx, dropped) = (tx.clone(), Arc::clone(&dropped));
        Rc::new(move |line: &str| {
            if tx.try_send(format!("{line}\n")).is_err() {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        }) as Rc<dyn Fn(&str)>
    }))
}

/// Settings read once at start (listeners, threads, log and trust files); a reload that
/// changes them must say so instead of pretending they applied.
fn restart_only_changes(
    old: &crate::config::GatewaySettings,
    new: &crate::config::GatewaySettings,
) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if old.listen != new.listen {
        changed.push("listen");
    }
    if old.workers != new.workers {
        changed.push("workers");
    }
    if old.access_log != new.access_log {
        changed.push("access_log");
    }
    if old.ssl_ca_file != new.ssl_ca_file {
        changed.push("ssl_ca_file");
    }
    if old.max_connections != new.max_connections {
        changed.push("max_connections");
    }
    changed
}

/// The gateway process: parses the command line, loads the file, runs the workers, reloads
/// and drains on signals. The exit status is 0 after a clean drain, 1 on a bad file or a
/// worker that could not start, 2 on a bad command line, 70 when a worker died (also while
/// draining).
pub fn main(bin: Binary) -> ExitCode {
    let args = match args(&bin) {
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
    eprintln!(
        "{} {}: {} workers, {}, listening on {:?}",
        bin.name,
        bin.version,
        workers,
        (bin.runtime)(),
        config.gateway.listen
    );
    // The workers bind with SO_REUSEPORT, which would let this process share a port another
    // gateway (or anything of the same user) already listens on, silently taking half its
    // connections. A plain bind first refuses that.
    for addr in &config.gateway.listen {
        if let Err(e) = std::net::TcpListener::bind(addr) {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::from(1);
        }
    }
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

    // Installed before any worker starts, so a panic at start-up is reported the same way.
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        eprintln!("panic in {}: {info}", thread.name().unwrap_or("a thread"));
    }));
    let mut handles = Vec::new();
    for id in 0..workers {
        let (shared, opts) = (
            Arc::clone(&shared),
            WorkerOptions { id, workers, tls: tls.clone(), log: log.clone() },
        );
        let h = std::thread::Builder::new().name(format!("worker-{id}")).spawn(move || {
            if let Err(e) = (bin.run_worker)(Arc::clone(&shared), opts) {
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

    // A worker that ends on its own (a panic unwinds its thread) has lost its share of the
    // listeners and connections: exit with a clear message rather than run on short-handed.
    while !term.load(Ordering::Acquire) && !shared.draining.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(100));
        if shared.draining.load(Ordering::Acquire) {
            // A worker that could not start (it said why) asks for the drain: exit 1 below.
            break;
        }
        if let Some(id) = handles.iter().position(std::thread::JoinHandle::is_finished) {
            eprintln!("worker {id} stopped unexpectedly; exiting");
            shared.draining.store(true, Ordering::Release);
            return ExitCode::from(70);
        }
        if hup.swap(false, Ordering::AcqRel) {
            match load(&args.config) {
                Ok(new) => {
                    let old = shared.config.lock().map(|c| Arc::clone(&c));
                    let old = old.unwrap_or_else(|e| Arc::clone(&e.into_inner()));
                    for setting in restart_only_changes(&old.gateway, &new.gateway) {
                        eprintln!(
                            "reload: gateway.{setting} changed; the running value stays until a restart"
                        );
                    }
                    *shared.config.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Arc::new(new);
                    let generation = shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
                    eprintln!("configuration reloaded (generation {generation})");
                }
                Err(e) => eprintln!("reload refused, keeping the running configuration: {e}"),
            }
        }
    }
    eprintln!("draining");
    shared.draining.store(true, Ordering::Release);
    let mut status = 0u8;
    for (id, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(true) => {}
            Ok(false) => status = status.max(1),
            // A worker that died while draining is still a dead worker, not a bad file.
            Err(_) => {
                eprintln!("worker {id} died while draining");
                status = 70;
            }
        }
    }
    ExitCode::from(status)
}
