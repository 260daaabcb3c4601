//! Name resolution off the worker threads, for every runtime. `getaddrinfo` blocks (a slow DNS
//! server can hold it for seconds) and cannot be cancelled, so each lookup runs on a thread of
//! its own and the worker only awaits the answer. Lookups of one name share one thread and one
//! answer, so a provider whose DNS hangs holds one thread however often it is asked for, and
//! other names still resolve at once. At most 16 names are looked up at a time;
//! beyond, a lookup fails at once (the engine's deadlines and backoff take over) rather than
//! queueing. A caller that gives up drops its future; the lookup finishes on its thread and
//! its answer is dropped.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Poll, Waker};

/// Names looked up at once, process-wide. Provider connections are rare (documents and keys
/// are cached, connections pooled), so this is reached only when that many names hang.
const MAX_IN_FLIGHT: usize = 16;

type Lookup = fn(&str, u16) -> io::Result<Vec<SocketAddr>>;
/// An answer every waiter can take a copy of (`io::Error` is not `Clone`).
type Shared = Result<Vec<SocketAddr>, (io::ErrorKind, String)>;
type Key = (String, u16);

/// One lookup in flight and the callers waiting for it, each with the waker of its last poll.
#[derive(Default)]
struct Flight {
    answer: Option<Shared>,
    waiters: HashMap<u64, Waker>,
    next: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while one of these locks is held; the data stays whole regardless.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lookups in flight, by name and port.
struct Resolver {
    flights: Arc<Mutex<HashMap<Key, Arc<Mutex<Flight>>>>>,
    max: usize,
    lookup: Lookup,
}

impl Resolver {
    fn new(max: usize, lookup: Lookup) -> Self {
        Self { flights: Arc::default(), max, lookup }
    }

    /// Joins the lookup of `host:port` in flight, or starts one.
    fn join(&self, host: &str, port: u16) -> io::Result<Arc<Mutex<Flight>>> {
        let mut flights = lock(&self.flights);
        let key = (host.to_owned(), port);
        if let Some(f) = flights.get(&key) {
            return Ok(Arc::clone(f));
        }
        if flights.len() >= self.max {
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "resolver busy"));
        }
        let flight = Arc::new(Mutex::new(Flight::default()));
        let (all, mine, lookup) = (Arc::clone(&self.flights), Arc::clone(&flight), self.lookup);
        let k = key.clone();
        std::thread::Builder::new().name("resolver".into()).spawn(move || {
            // A panicking resolver (an NSS module bug) answers an error instead of leaving
            // its waiters, and every later lookup of the name, hanging.
            let answer = catch_unwind(AssertUnwindSafe(|| lookup(&k.0, k.1)))
                .unwrap_or_else(|_| Err(io::Error::other("name lookup panicked")))
                .map_err(|e| (e.kind(), e.to_string()));
            lock(&all).remove(&k);
            let waiters = {
                let mut f = lock(&mine);
                f.answer = Some(answer);
                std::mem::take(&mut f.waiters)
            };
            waiters.into_values().for_each(Waker::wake);
        })?;
        flights.insert(key, Arc::clone(&flight));
        Ok(flight)
    }

    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let flight = self.join(host, port)?;
        let id = {
            let mut f = lock(&flight);
            f.next += 1;
            f.next
        };
        // Removes this caller's waker however the future ends.
        let _leave = Leave(&flight, id);
        std::future::poll_fn(|cx| {
            let mut f = lock(&flight);
            match &f.answer {
                Some(a) => Poll::Ready(a.clone().map_err(|(kind, msg)| io::Error::new(kind, msg))),
                None => {
                    f.waiters.insert(id, cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

struct Leave<'a>(&'a Mutex<Flight>, u64);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        lock(self.0).waiters.remove(&self.1);
    }
}

fn system_lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    (host, port).to_socket_addrs().map(Iterator::collect)
}

/// The addresses of `host:port`, in the resolver's order. IP literals (bracketed or not) skip
/// the lookup.
///
/// # Errors
///
/// The name does not resolve or has no address, or 16 other names are being
/// looked up.
pub async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    static RESOLVER: OnceLock<Resolver> = OnceLock::new();
    let resolver = RESOLVER.get_or_init(|| Resolver::new(MAX_IN_FLIGHT, system_lookup));
    let found = resolver.resolve(host, port).await?;
    if found.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "name has no address"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::{Context, Wake};
    use std::time::{Duration, Instant};

    type Answer = io::Result<Vec<SocketAddr>>;

    /// Polls `fut` until it is ready or `limit` passes, parking between wakes.
    fn block_on_for<F: Future>(fut: F, limit: Duration) -> Option<F::Output> {
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let until = Instant::now() + limit;
        let mut fut = std::pin::pin!(fut);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Some(v);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            std::thread::park_timeout(left);
        }
    }

    fn block_on<F: Future>(fut: F) -> F::Output {
        block_on_for(fut, Duration::from_secs(30)).expect("answered within 30 s")
    }

    fn pending<F: Future>(f: &mut std::pin::Pin<Box<F>>) -> bool {
        f.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending()
    }

    #[test]
    fn literals_and_names_resolve() {
        let v4 = block_on(resolve("127.0.0.1", 8443)).expect("v4 literal");
        assert_eq!(v4, ["127.0.0.1:8443".parse().expect("addr")]);
        let v6 = block_on(resolve("[::1]", 443)).expect("v6 literal");
        assert_eq!(v6, ["[::1]:443".parse().expect("addr")]);
        let named = block_on(resolve("localhost", 80)).expect("localhost");
        assert!(named.iter().all(|a| a.ip().is_loopback() && a.port() == 80), "{named:?}");
        let bad = block_on(resolve("no-such-host.invalid", 80));
        assert!(bad.is_err(), "{bad:?}");
    }

    static SLOW_RELEASE: AtomicBool = AtomicBool::new(false);
    static SLOW_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// `slow.*` hangs until released (a provider whose DNS server does not answer); every
    /// other name answers at once.
    fn one_slow_name(host: &str, port: u16) -> Answer {
        if host.starts_with("slow") {
            SLOW_RUNS.fetch_add(1, Ordering::AcqRel);
            while !SLOW_RELEASE.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(vec![SocketAddr::from(([10, 0, 0, 2], port))])
    }

    /// Review finding 1: with a shared pool of two threads, two lookups of providers whose DNS
    /// hangs took both, and a healthy provider's lookup waited behind them (503s on healthy
    /// routes). Now hanging names hold a thread each and healthy ones still resolve; and
    /// review finding 2: callers that give up on a hanging name (their deadline passed) and
    /// later callers share its one lookup instead of queueing more.
    #[test]
    fn hanging_names_neither_starve_healthy_ones_nor_multiply() {
        let pool = Resolver::new(4, one_slow_name);
        for round in 0..3 {
            // Abandoned: polled once, then dropped, as when an intent's deadline passes.
            for name in ["slow.a", "slow.b"] {
                assert!(pending(&mut Box::pin(pool.resolve(name, 443))), "{name} {round}");
            }
        }
        let mut waiting = Box::pin(pool.resolve("slow.a", 443));
        assert!(pending(&mut waiting));
        let healthy = block_on_for(pool.resolve("healthy.idp", 443), Duration::from_secs(5));
        let healthy = healthy.expect("a healthy name resolves while others hang");
        assert_eq!(healthy.expect("answer")[0].port(), 443);
        assert_eq!(SLOW_RUNS.load(Ordering::Acquire), 2, "one lookup per hanging name");
        // At the cap (two hanging, two more), a further name fails at once.
        let mut more: Vec<_> = ["slow.c", "slow.d"].map(|n| Box::pin(pool.resolve(n, 1))).into();
        more.iter_mut().for_each(|f| assert!(pending(f)));
        let refused = block_on(pool.resolve("fresh.idp", 1)).expect_err("at the cap");
        assert_eq!(refused.kind(), io::ErrorKind::WouldBlock);
        SLOW_RELEASE.store(true, Ordering::Release);
        assert_eq!(block_on(waiting).expect("answer")[0].port(), 443);
        // Once the hanging lookups end, their capacity is back.
        let until = Instant::now() + Duration::from_secs(5);
        while block_on(pool.resolve("fresh.idp", 1)).is_err() {
            assert!(Instant::now() < until, "capacity never came back");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    static WAKE_RELEASE: AtomicBool = AtomicBool::new(false);

    fn released(_: &str, port: u16) -> Answer {
        while !WAKE_RELEASE.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(vec![SocketAddr::from(([10, 0, 0, 4], port))])
    }

    /// The answer wakes the waker of the latest poll (an executor may move the task or give a
    /// new waker each poll); an earlier waker is not the one woken.
    #[test]
    fn holds_the_answer_wakes_the_latest_waker() {
        struct Flag(AtomicBool);
        impl Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::Release);
            }
        }
        let pool = Resolver::new(1, released);
        let (old, new) =
            (Arc::new(Flag(AtomicBool::new(false))), Arc::new(Flag(AtomicBool::new(false))));
        let mut f = Box::pin(pool.resolve("x", 7));
        assert!(
            f.as_mut().poll(&mut Context::from_waker(&Waker::from(Arc::clone(&old)))).is_pending()
        );
        assert!(
            f.as_mut().poll(&mut Context::from_waker(&Waker::from(Arc::clone(&new)))).is_pending()
        );
        WAKE_RELEASE.store(true, Ordering::Release);
        let until = Instant::now() + Duration::from_secs(5);
        while !new.0.load(Ordering::Acquire) {
            assert!(Instant::now() < until, "the latest waker was never woken");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!old.0.load(Ordering::Acquire));
        let Poll::Ready(answer) = f.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
            panic!("woken without an answer");
        };
        assert_eq!(answer.expect("answer")[0].port(), 7);
    }

    fn panicking(host: &str, port: u16) -> Answer {
        assert!(host != "boom", "lookup panicked");
        Ok(vec![SocketAddr::from(([10, 0, 0, 5], port))])
    }

    /// A lookup that panics (a libc or NSS module bug) answers its callers with an error at
    /// once, and the name can be looked up again.
    #[test]
    fn a_panicking_lookup_answers_an_error() {
        let pool = Resolver::new(2, panicking);
        for _ in 0..2 {
            let boom = block_on(pool.resolve("boom", 1)).expect_err("the lookup panicked");
            assert_eq!(boom.kind(), io::ErrorKind::Other);
        }
        assert_eq!(block_on(pool.resolve("fine", 2)).expect("answer")[0].port(), 2);
    }
}
