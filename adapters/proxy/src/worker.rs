//! One worker thread, written once for every runtime: the listeners, the engine driver, the
//! IdP task, the timer and reload task, the accept loop with its connection cap, and the drain.
//! An adapter supplies a [`LocalRuntime`] (spawn a local task, bind a `SO_REUSEPORT` listener,
//! accept, its timer and connectors) and runs [`worker_main`] on its executor.
#![allow(async_fn_in_trait)] // thread-per-core: nothing here needs to be Send

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oidc_core::engine::{Engine, Event, RouteHandle, Settings};

use crate::config::GatewayConfig;
use crate::driver::{Driver, IntentFuture, OsEntropy, SharedDriver};
use crate::idp_client::{IdpPool, perform};
use crate::pool::Pool;
use crate::proxy::{ConnContext, Gateway, LogSink, oidc_configs, serve_connection};
use crate::runtime::{Connector, Duplex, IdpConnector, Signal, Timer, race};
use crate::tls_config::TlsSettings;

/// What a runtime adapter gives the worker.
pub trait LocalRuntime: 'static {
    /// A listening socket.
    type Listener: 'static;
    /// An accepted client connection.
    type Client: Duplex + 'static;
    /// The runtime's timer.
    type Timer: Timer + Default + 'static;
    /// Opens upstream connections.
    type Connector: Connector + Default + 'static;
    /// Connects to identity providers (TCP and TLS).
    type Idp: IdpConnector + Clone + 'static;
    /// Runs `fut` on this thread's executor.
    fn spawn(fut: impl Future<Output = ()> + 'static);
    /// Binds `addr` with `SO_REUSEPORT`, so every worker accepts on the same address.
    ///
    /// # Errors
    ///
    /// The address cannot be bound.
    fn bind(addr: SocketAddr) -> io::Result<Self::Listener>;
    /// Accepts one connection (with `TCP_NODELAY` set).
    async fn accept(listener: &Self::Listener) -> io::Result<(Self::Client, SocketAddr)>;
    /// The IdP connector for these trust settings.
    ///
    /// # Errors
    ///
    /// The CA file cannot be used.
    fn idp(tls: &TlsSettings) -> io::Result<Self::Idp>;
}

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

    /// The configuration in force.
    pub fn current(&self) -> Arc<GatewayConfig> {
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

/// The tasks of one worker: each ends when `stop` is raised, and `live` counts those not yet
/// ended, so the worker can return only once none is left. Without this, tasks an executor
/// keeps after `block_on` returns (monoio's does) would hold their sockets for as long as the
/// thread lives.
#[derive(Clone, Default)]
struct Tasks {
    stop: Signal,
    live: Rc<Cell<usize>>,
}

/// Counts a task while it exists (also when its executor drops it unfinished).
struct Live(Rc<Cell<usize>>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl Tasks {
    fn spawn<R: LocalRuntime>(&self, fut: impl Future<Output = ()> + 'static) {
        // Once stopped, a task would still make one step (open a connection, say) before its
        // race saw the stop: it is not started at all.
        if self.stop.is_raised() {
            return;
        }
        self.live.set(self.live.get() + 1);
        let (live, stop) = (Live(Rc::clone(&self.live)), self.stop.clone());
        R::spawn(async move {
            let _live = live;
            race(fut, stop.wait()).await;
        });
    }

    /// Ends every task, waiting for each to be dropped (a raised stop ends a task at its next
    /// poll, and raising wakes them all). Bounded, so a runtime that never polls a task again
    /// cannot hold the shutdown.
    async fn stop<T: Timer>(&self, timer: &T, worker: usize) {
        self.stop.raise();
        let until = Instant::now() + Duration::from_secs(2);
        while self.live.get() > 0 && Instant::now() < until {
            timer.sleep(Duration::from_millis(1)).await;
        }
        if self.live.get() > 0 {
            eprintln!("worker {worker}: {} tasks did not stop", self.live.get());
        }
    }
}

fn build(
    config: &GatewayConfig,
    driver: &SharedDriver,
    handles: Vec<RouteHandle>,
    log: Option<LogSink>,
) -> Rc<Gateway> {
    Rc::new(Gateway::new(config.clone(), Rc::clone(driver), handles, log))
}

/// Runs one worker on runtime `R` until the gateway drains (call it inside `R`'s executor).
///
/// # Errors
///
/// A listener cannot be bound, the routes do not compile, or the CA file cannot be used.
pub async fn worker_main<R: LocalRuntime>(
    shared: Arc<Shared>,
    opts: WorkerOptions,
) -> io::Result<()> {
    let config = shared.current();
    let mut listeners = Vec::new();
    for addr in &config.gateway.listen {
        listeners.push(R::bind(*addr)?);
    }
    let engine = Engine::new(oidc_configs(&config), Settings::default(), &mut OsEntropy)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let handles = engine.routes();
    let driver: SharedDriver = Rc::new(RefCell::new(Driver::new(engine)));
    let log = opts.log.as_ref().map(|f| f());
    let current: Rc<RefCell<Rc<Gateway>>> =
        Rc::new(RefCell::new(build(&config, &driver, handles, log.clone())));
    let idp = R::idp(&opts.tls)?;
    let pool: Rc<Pool<<R::Connector as Connector>::Conn>> =
        Rc::new(Pool::new(64, Duration::from_secs(30)));
    let active = Rc::new(Cell::new(0usize));
    let drain = Signal::default();
    let tasks = Tasks::default();
    let workers = opts.workers.max(1);
    let cap = config.gateway.max_connections.div_ceil(workers).max(1);

    // The IdP task: performs every intent the engine emits, concurrently (the engine caps how
    // many are in flight).
    let d = Rc::clone(&driver);
    let idp_pool: Rc<IdpPool<R::Idp>> = Rc::new(IdpPool::default());
    let t = tasks.clone();
    tasks.spawn::<R>(async move {
        loop {
            let intent = IntentFuture(Rc::clone(&d)).await;
            let (d2, idp2, pool2) = (Rc::clone(&d), idp.clone(), Rc::clone(&idp_pool));
            t.spawn::<R>(async move {
                let clock = d2.borrow().clock();
                let result = perform(&idp2, &pool2, &R::Timer::default(), &clock, &intent).await;
                let answer = result.as_ref().map(|(s, b)| (*s, b.as_slice())).map_err(|k| *k);
                d2.borrow_mut().answer(intent.id, answer);
            });
        }
    });

    // The timer task: deadlines, reloads, IdP events.
    let (d, cur, sh, log2) =
        (Rc::clone(&driver), Rc::clone(&current), Arc::clone(&shared), log.clone());
    let worker = opts.id;
    tasks.spawn::<R>(async move {
        let mut generation = sh.generation.load(Ordering::Acquire);
        loop {
            let wait = {
                let mut drv = d.borrow_mut();
                let clock = drv.clock();
                drv.next_timeout()
                    .map(|t| clock.to_std(t).saturating_duration_since(Instant::now()))
            };
            R::Timer::default()
                .sleep(wait.unwrap_or(Duration::from_millis(250)).min(Duration::from_millis(250)))
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
        let (cur, pool, active, drain, t) = (
            Rc::clone(&current),
            Rc::clone(&pool),
            Rc::clone(&active),
            drain.clone(),
            tasks.clone(),
        );
        tasks.spawn::<R>(async move {
            let mut reported = false;
            loop {
                // At the cap, leave new connections in the kernel's accept queue.
                while active.get() >= cap && !drain.is_raised() {
                    R::Timer::default().sleep(Duration::from_millis(10)).await;
                }
                let accepted = race(async { Some(R::accept(&listener).await) }, async {
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
                        R::Timer::default().sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (cur, pool, drain) = (Rc::clone(&cur), Rc::clone(&pool), drain.clone());
                active.set(active.get() + 1);
                let slot = Live(Rc::clone(&active));
                t.spawn::<R>(async move {
                    let current = || Rc::clone(&cur.borrow());
                    let (timer, connector) = (R::Timer::default(), R::Connector::default());
                    let cx = ConnContext {
                        timer: &timer,
                        connector: &connector,
                        pool: &pool,
                        drain: &drain,
                    };
                    let _slot = slot;
                    serve_connection(&current, stream, peer, &cx).await;
                });
            }
        });
    }

    // Run until draining: stop accepting, close idle connections, give in-flight requests
    // the grace period.
    while !shared.draining.load(Ordering::Acquire) {
        R::Timer::default().sleep(Duration::from_millis(100)).await;
    }
    drain.raise();
    let grace = Duration::from_secs(shared.current().gateway.shutdown_grace);
    let until = Instant::now() + grace;
    while active.get() > 0 && Instant::now() < until {
        R::Timer::default().sleep(Duration::from_millis(50)).await;
    }
    // Past the grace, what is still open is cut: no task of this worker outlives it.
    tasks.stop(&R::Timer::default(), opts.id).await;
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
