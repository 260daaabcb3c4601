//! One worker thread: a monoio runtime (io_uring, or the legacy epoll driver when io_uring is
//! unavailable), `SO_REUSEPORT` listeners, the engine driver, the IdP task and the timer task.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use monoio::net::{ListenerOpts, TcpListener};
use oidc_core::engine::{Engine, Event, RouteHandle, Settings};
use oidc_proxy::config::GatewayConfig;
use oidc_proxy::driver::{Driver, IntentFuture, OsEntropy, SharedDriver};
use oidc_proxy::idp_client::{IdpPool, perform};
use oidc_proxy::pool::Pool;
use oidc_proxy::proxy::{ConnContext, Gateway, LogSink, oidc_configs, serve_connection};
use oidc_proxy::runtime::{Signal, race};

use crate::streams::{Conn, MonoioTimer, TcpConn, UpstreamConnector};
use crate::tls::IdpTls;
use oidc_proxy::tls_config::TlsSettings;

/// State shared by all workers and the control thread.
#[derive(Debug)]
pub struct Shared {
    /// The current configuration.
    pub config: Mutex<Arc<GatewayConfig>>,
    /// Bumped on every successful reload.
    pub generation: AtomicU64,
    /// Set on SIGTERM: stop accepting, finish in-flight requests, exit.
    pub draining: AtomicBool,
}

impl Shared {
    /// Shared state for an initial configuration.
    pub fn new(config: GatewayConfig) -> Self {
        Self {
            config: Mutex::new(Arc::new(config)),
            generation: AtomicU64::new(0),
            draining: AtomicBool::new(false),
        }
    }

    fn current(&self) -> Arc<GatewayConfig> {
        // A poisoned lock only means another thread panicked mid-swap; the value is whole.
        Arc::clone(&self.config.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// Makes a worker's access-log sink, in the worker's thread.
pub type LogFactory = Arc<dyn Fn() -> LogSink + Send + Sync>;

/// Per-worker settings.
#[derive(Clone)]
pub struct WorkerOptions {
    /// Worker number (for logs).
    pub id: usize,
    /// How many workers share the listeners (the connection cap is split between them).
    pub workers: usize,
    /// Trust settings for IdP TLS.
    pub tls: TlsSettings,
    /// Access-log sink factory (called once in the worker thread).
    pub log: Option<LogFactory>,
}

impl std::fmt::Debug for WorkerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerOptions").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Whether this kernel offers io_uring (monoio falls back to epoll otherwise).
pub fn io_uring_available() -> bool {
    monoio::utils::detect_uring()
}

/// Runs one worker until the gateway drains.
pub fn run_worker(shared: Arc<Shared>, opts: WorkerOptions) -> io::Result<()> {
    let mut rt = build_runtime()?;
    rt.block_on(worker_main(shared, opts))
}

/// A monoio runtime for this thread. On io_uring, the ring is set up for a thread-per-core
/// owner: `COOP_TASKRUN` lets completions wait for the worker's next entry into the kernel
/// instead of interrupting it, and `SINGLE_ISSUER` tells the kernel only this thread submits.
/// Both cut kernel time per request (benches/BENCHMARKS.md); kernels older than 6.0 refuse
/// them, and the ring is then set up without. Blocking name lookups go to the shared resolver
/// pool.
fn build_runtime() -> io::Result<monoio::FusionRuntime<TimeIoUring, TimeLegacy>> {
    let mut tuned = io_uring::IoUring::builder();
    tuned.setup_coop_taskrun().setup_single_issuer();
    let built = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .uring_builder(tuned)
        .attach_thread_pool(Box::new(crate::resolve::pool()))
        .enable_timer()
        .build();
    match built {
        Ok(rt) => Ok(rt),
        Err(e) => {
            eprintln!("io_uring setup flags refused ({e}); using a default ring");
            monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .attach_thread_pool(Box::new(crate::resolve::pool()))
                .enable_timer()
                .build()
        }
    }
}

type TimeIoUring = monoio::time::TimeDriver<monoio::IoUringDriver>;
type TimeLegacy = monoio::time::TimeDriver<monoio::LegacyDriver>;

fn build(
    config: &GatewayConfig,
    driver: &SharedDriver,
    handles: Vec<RouteHandle>,
    log: Option<LogSink>,
) -> Rc<Gateway> {
    Rc::new(Gateway::new(config.clone(), Rc::clone(driver), handles, log))
}

async fn worker_main(shared: Arc<Shared>, opts: WorkerOptions) -> io::Result<()> {
    let config = shared.current();
    let mut listeners = Vec::new();
    for addr in &config.gateway.listen {
        listeners.push(TcpListener::bind_with_config(addr, &ListenerOpts::new().reuse_port(true))?);
    }
    let engine = Engine::new(oidc_configs(&config), Settings::default(), &mut OsEntropy)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let handles = engine.routes();
    let driver: SharedDriver = Rc::new(RefCell::new(Driver::new(engine)));
    let log = opts.log.as_ref().map(|f| f());
    let current: Rc<RefCell<Rc<Gateway>>> =
        Rc::new(RefCell::new(build(&config, &driver, handles, log.clone())));
    let idp = IdpTls::new(&opts.tls)?;
    let pool: Rc<Pool<TcpConn>> = Rc::new(Pool::new(64, Duration::from_secs(30)));
    let active = Rc::new(Cell::new(0usize));
    let drain = Signal::default();
    let workers = opts.workers.max(1);
    let cap = config.gateway.max_connections.div_ceil(workers).max(1);

    // The IdP task: performs every intent the engine emits, concurrently (the engine caps how
    // many are in flight).
    let d = Rc::clone(&driver);
    let idp_pool: Rc<IdpPool<IdpTls>> = Rc::new(IdpPool::default());
    monoio::spawn(async move {
        loop {
            let intent = IntentFuture(Rc::clone(&d)).await;
            let (d2, idp2, pool2) = (Rc::clone(&d), idp.clone(), Rc::clone(&idp_pool));
            monoio::spawn(async move {
                let clock = d2.borrow().clock();
                let result = perform(&idp2, &pool2, &MonoioTimer, &clock, &intent).await;
                let answer = result.as_ref().map(|(s, b)| (*s, b.as_slice())).map_err(|k| *k);
                d2.borrow_mut().answer(intent.id, answer);
            });
        }
    });

    // The timer task: deadlines, reloads, IdP events.
    let (d, cur, sh, log2) =
        (Rc::clone(&driver), Rc::clone(&current), Arc::clone(&shared), log.clone());
    let worker = opts.id;
    monoio::spawn(async move {
        let mut generation = sh.generation.load(Ordering::Acquire);
        loop {
            let wait = {
                let mut drv = d.borrow_mut();
                let clock = drv.clock();
                drv.next_timeout()
                    .map(|t| clock.to_std(t).saturating_duration_since(Instant::now()))
            };
            monoio::time::sleep(
                wait.unwrap_or(Duration::from_millis(250)).min(Duration::from_millis(250)),
            )
            .await;
            d.borrow_mut().tick();
            for e in d.borrow_mut().take_events() {
                eprintln!("{}", event_json(worker, &e));
            }
            let g = sh.generation.load(Ordering::Acquire);
            if g != generation {
                generation = g;
                let config = sh.current();
                let reconfigured = d.borrow_mut().reconfigure(oidc_configs(&config));
                match reconfigured {
                    Ok(handles) => {
                        *cur.borrow_mut() = build(&config, &d, handles, log2.clone());
                        eprintln!("worker {worker}: configuration generation {g} applied");
                    }
                    Err(e) => eprintln!("worker {worker}: reload refused: {e}"),
                }
            }
        }
    });

    for listener in listeners {
        let (cur, pool, active, drain) =
            (Rc::clone(&current), Rc::clone(&pool), Rc::clone(&active), drain.clone());
        monoio::spawn(async move {
            let mut reported = false;
            loop {
                // At the cap, leave new connections in the kernel's accept queue.
                while active.get() >= cap && !drain.is_raised() {
                    monoio::time::sleep(Duration::from_millis(10)).await;
                }
                let accepted = race(async { Some(listener.accept().await) }, async {
                    drain.wait().await;
                    None
                })
                .await;
                let (stream, peer) = match accepted {
                    None => return,
                    Some(Ok(c)) => {
                        reported = false;
                        c
                    }
                    Some(Err(e)) => {
                        // Out of descriptors (EMFILE/ENFILE) or memory: the pending connection
                        // stays queued, so retrying at once would spin. Back off instead.
                        if !reported {
                            eprintln!("worker {worker}: accept failed ({e}); backing off");
                            reported = true;
                        }
                        monoio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (cur, pool, active, drain) =
                    (Rc::clone(&cur), Rc::clone(&pool), Rc::clone(&active), drain.clone());
                active.set(active.get() + 1);
                monoio::spawn(async move {
                    let current = || Rc::clone(&cur.borrow());
                    let cx = ConnContext {
                        timer: &MonoioTimer,
                        connector: &UpstreamConnector,
                        pool: &pool,
                        drain: &drain,
                    };
                    serve_connection(&current, Conn(stream), peer, &cx).await;
                    active.set(active.get() - 1);
                });
            }
        });
    }

    // Run until draining: stop accepting, close idle connections, give in-flight requests
    // the grace period.
    while !shared.draining.load(Ordering::Acquire) {
        monoio::time::sleep(Duration::from_millis(100)).await;
    }
    drain.raise();
    let grace = Duration::from_secs(shared.current().gateway.shutdown_grace);
    let until = Instant::now() + grace;
    while active.get() > 0 && Instant::now() < until {
        monoio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// An engine event as one JSON log line (the event's fields are fixed codes, never tokens).
fn event_json(worker: usize, e: &Event) -> String {
    let mut m = serde_json::Map::new();
    m.insert("worker".into(), worker.into());
    match e {
        Event::FetchFailed { purpose, cause } => {
            m.insert("event".into(), "fetch_failed".into());
            m.insert("purpose".into(), format!("{purpose:?}").to_lowercase().into());
            m.insert("cause".into(), cause.clone().into());
        }
        Event::JwksLoaded { keys, skipped } => {
            m.insert("event".into(), "jwks_loaded".into());
            m.insert("keys".into(), (*keys).into());
            m.insert("skipped".into(), (*skipped).into());
        }
        Event::Login { step, cause } => {
            m.insert("event".into(), "login".into());
            m.insert("step".into(), (*step).into());
            m.insert("cause".into(), (*cause).into());
        }
        other => {
            m.insert("event".into(), format!("{other:?}").into());
        }
    }
    serde_json::Value::Object(m).to_string()
}
