//! One worker thread: a monoio runtime (io_uring, or the legacy epoll driver when io_uring is
//! unavailable), `SO_REUSEPORT` listeners, the engine driver, the IdP task and the timer task.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use monoio::net::{ListenerOpts, TcpListener};
use oidc_core::engine::{Engine, Settings};
use oidc_proxy::config::GatewayConfig;
use oidc_proxy::driver::{Driver, IntentFuture, OsEntropy, SharedDriver};
use oidc_proxy::idp_client::{IdpPool, perform};
use oidc_proxy::pool::Pool;
use oidc_proxy::proxy::{Gateway, LogSink, oidc_route_indices, serve_connection};

use crate::streams::{Conn, MonoioTimer, TcpConn, UpstreamConnector};
use crate::tls::{IdpTls, TlsSettings};

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

type Generation = (Rc<Gateway>, Rc<Vec<Option<usize>>>);

fn build(config: Arc<GatewayConfig>, driver: &SharedDriver, log: Option<LogSink>) -> Generation {
    let (_, indices) = oidc_route_indices(&config);
    (Rc::new(Gateway::new((*config).clone(), Rc::clone(driver), log)), Rc::new(indices))
}

async fn worker_main(shared: Arc<Shared>, opts: WorkerOptions) -> io::Result<()> {
    let config = shared.current();
    let mut listeners = Vec::new();
    for addr in &config.gateway.listen {
        listeners.push(TcpListener::bind_with_config(addr, &ListenerOpts::new().reuse_port(true))?);
    }
    let (engine_configs, _) = oidc_route_indices(&config);
    let engine = Engine::new(engine_configs, Settings::default(), &mut OsEntropy)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let driver: SharedDriver = Rc::new(RefCell::new(Driver::new(engine)));
    let log = opts.log.as_ref().map(|f| f());
    let current: Rc<RefCell<Generation>> =
        Rc::new(RefCell::new(build(config, &driver, log.clone())));
    let idp = IdpTls::new(&opts.tls)?;
    let pool: Rc<Pool<TcpConn>> = Rc::new(Pool::new(64, Duration::from_secs(30)));
    let active = Rc::new(Cell::new(0usize));

    // The IdP task: performs every intent the engine emits, concurrently.
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
                eprintln!("{{\"worker\":{worker},\"event\":\"{e:?}\"}}");
            }
            let g = sh.generation.load(Ordering::Acquire);
            if g != generation {
                generation = g;
                let config = sh.current();
                let (engine_configs, _) = oidc_route_indices(&config);
                match d.borrow_mut().engine_mut().reconfigure(engine_configs) {
                    Ok(()) => *cur.borrow_mut() = build(config, &d, log2.clone()),
                    Err(e) => eprintln!("worker {worker}: reload refused: {e}"),
                }
            }
        }
    });

    for listener in listeners {
        let (cur, pool, active, sh) =
            (Rc::clone(&current), Rc::clone(&pool), Rc::clone(&active), Arc::clone(&shared));
        monoio::spawn(async move {
            loop {
                if sh.draining.load(Ordering::Acquire) {
                    return;
                }
                let accepted =
                    monoio::time::timeout(Duration::from_millis(250), listener.accept()).await;
                let Ok(Ok((stream, peer))) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let (gw, idx) = cur.borrow().clone();
                let (pool, active) = (Rc::clone(&pool), Rc::clone(&active));
                active.set(active.get() + 1);
                monoio::spawn(async move {
                    serve_connection(
                        gw,
                        idx,
                        Conn(stream),
                        peer,
                        &MonoioTimer,
                        &UpstreamConnector,
                        &pool,
                    )
                    .await;
                    active.set(active.get() - 1);
                });
            }
        });
    }

    // Run until draining, then give in-flight connections the grace period.
    while !shared.draining.load(Ordering::Acquire) {
        monoio::time::sleep(Duration::from_millis(100)).await;
    }
    let grace = Duration::from_secs(shared.current().gateway.shutdown_grace);
    let until = Instant::now() + grace;
    while active.get() > 0 && Instant::now() < until {
        monoio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
