//! The driver: the one place where a worker's requests meet its [`Engine`].
//!
//! A worker (one thread, one runtime) owns one `Driver` behind an `Rc<RefCell<..>>`. Request
//! tasks [`submit`](Driver::submit) a request and await its decision with
//! a [`DecisionFuture`]; one IdP task takes [`HttpIntent`]s with
//! [`poll_intent`](Driver::poll_intent), performs them (TLS, proxy, deadline: the adapter's
//! business) and reports back with [`answer`](Driver::answer). A timer calls
//! [`tick`](Driver::tick) at [`next_timeout`](Driver::next_timeout). Everything here is
//! runtime-agnostic: waiting is done with [`Waker`]s.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Instant as StdInstant, SystemTime, UNIX_EPOCH};

use oidc_core::UnixTime;
use oidc_core::config::OidcConfig;
use oidc_core::engine::{
    Decision, Engine, Entropy, Event, FailureKind, HttpIntent, Input, Instant, IntentId, Now,
    Output, RequestToken, RequestView, ResponseView, RouteError, RouteHandle,
};

/// Randomness from the operating system (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill_public(&mut self, buf: &mut [u8]) {
        self.fill_secret(buf);
    }
    fn fill_secret(&mut self, buf: &mut [u8]) {
        // Without randomness no session or cache key is safe: stop rather than continue.
        #[allow(clippy::expect_used)]
        getrandom::fill(buf).expect("the operating system random source failed");
    }
}

/// The clock the driver gives the engine.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: StdInstant,
}

impl Default for Clock {
    fn default() -> Self {
        Self { origin: StdInstant::now() }
    }
}

impl Clock {
    /// The current time.
    pub fn now(&self) -> Now {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let mono = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        Now {
            mono: Instant::from_micros(mono),
            wall: UnixTime::from_secs(i64::try_from(wall).unwrap_or(i64::MAX)),
        }
    }

    /// The std instant of an engine instant.
    pub fn to_std(&self, i: Instant) -> StdInstant {
        self.origin + std::time::Duration::from_micros(i.as_micros())
    }
}

/// One worker's engine plus the bookkeeping that lets tasks wait on it.
pub struct Driver {
    engine: Engine,
    clock: Clock,
    rng: OsEntropy,
    next_token: u64,
    decided: HashMap<u64, Decision>,
    waiting: HashMap<u64, Waker>,
    intents: VecDeque<HttpIntent>,
    intent_waker: Option<Waker>,
    events: VecDeque<Event>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("engine", &self.engine)
            .field("waiting", &self.waiting.len())
            .finish()
    }
}

impl Driver {
    /// A driver for `engine`, which shares session refreshes with every other driver of the
    /// process ([`crate::refresh_ledger`]).
    pub fn new(mut engine: Engine) -> Self {
        engine.set_refresh_ledger(crate::refresh_ledger::process_ledger());
        Self {
            engine,
            clock: Clock::default(),
            rng: OsEntropy,
            next_token: 0,
            decided: HashMap::new(),
            waiting: HashMap::new(),
            intents: VecDeque::new(),
            intent_waker: None,
            events: VecDeque::new(),
        }
    }

    /// The engine (for statistics).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Handles of the engine's current routes.
    pub fn routes(&self) -> Vec<RouteHandle> {
        self.engine.routes()
    }

    /// Reconfigures the engine and returns the new route handles. Requests orphaned by the
    /// change get their decision (503) at once, like any other output.
    ///
    /// # Errors
    ///
    /// The route that cannot be compiled; nothing changes then.
    pub fn reconfigure(
        &mut self,
        configs: Vec<OidcConfig>,
    ) -> Result<Vec<RouteHandle>, RouteError> {
        self.engine.reconfigure(configs)?;
        self.drain();
        Ok(self.engine.routes())
    }

    /// The driver's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    fn feed(&mut self, input: Input<'_>) {
        let now = self.clock.now();
        // Misuse can only come from this file (route indices are checked by the caller and tokens
        // are unique), so an error here is a bug; it is dropped rather than crash a worker.
        let _ = self.engine.handle_input(now, &mut self.rng, input);
        self.drain();
    }

    fn drain(&mut self) {
        loop {
            match self.engine.poll_output() {
                Output::Idle { .. } => break,
                Output::Http(i) => {
                    self.intents.push_back(i);
                    if let Some(w) = self.intent_waker.take() {
                        w.wake();
                    }
                }
                Output::Decision { token, decision } => {
                    self.decided.insert(token.0, decision);
                    if let Some(w) = self.waiting.remove(&token.0) {
                        w.wake();
                    }
                }
                Output::Event(e) => {
                    if self.events.len() < 1024 {
                        self.events.push_back(e);
                    }
                }
            }
        }
    }

    /// Submits a request on `route`; await a [`DecisionFuture`] for the returned token.
    pub fn submit(&mut self, route: &RouteHandle, req: RequestView<'_>) -> RequestToken {
        self.next_token += 1;
        let token = RequestToken(self.next_token);
        self.feed(Input::Request { token, route, req });
        token
    }

    /// Takes the decision for `token` if it is ready, or registers `waker`.
    pub fn poll_decision(&mut self, token: RequestToken, waker: &Waker) -> Poll<Decision> {
        match self.decided.remove(&token.0) {
            Some(d) => Poll::Ready(d),
            None => {
                self.waiting.insert(token.0, waker.clone());
                Poll::Pending
            }
        }
    }

    /// Forgets a request whose client went away.
    pub fn cancel(&mut self, token: RequestToken) {
        self.decided.remove(&token.0);
        self.waiting.remove(&token.0);
        self.feed(Input::Cancel { token });
    }

    /// The next intent to perform, or registers `waker` for when there is one.
    pub fn poll_intent(&mut self, waker: &Waker) -> Poll<HttpIntent> {
        match self.intents.pop_front() {
            Some(i) => Poll::Ready(i),
            None => {
                self.intent_waker = Some(waker.clone());
                Poll::Pending
            }
        }
    }

    /// Reports the outcome of an intent.
    pub fn answer(&mut self, intent: IntentId, result: Result<(u16, &[u8]), FailureKind>) {
        match result {
            Ok((status, body)) => {
                let resp = ResponseView { status, headers: &[], body };
                self.feed(Input::Response { intent, resp });
            }
            Err(kind) => self.feed(Input::Failed { intent, kind }),
        }
    }

    /// Lets the engine expire deadlines.
    pub fn tick(&mut self) {
        self.feed(Input::Tick);
    }

    /// When to call [`Self::tick`] next.
    pub fn next_timeout(&mut self) -> Option<Instant> {
        match self.engine.poll_output() {
            Output::Idle { next_timeout } => next_timeout,
            // Outputs are always drained in `feed`; anything here is re-queued by feeding a tick.
            _ => {
                self.tick();
                None
            }
        }
    }

    /// Events since the last call (fetch failures, JWKS loads), for logs and metrics.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }
}

/// A shared, single-threaded driver.
pub type SharedDriver = Rc<RefCell<Driver>>;

/// The future of a request's decision.
#[derive(Debug)]
pub struct DecisionFuture {
    driver: SharedDriver,
    token: RequestToken,
    done: bool,
}

impl DecisionFuture {
    /// Awaits the decision for `token`.
    pub fn new(driver: SharedDriver, token: RequestToken) -> Self {
        Self { driver, token, done: false }
    }
}

impl Future for DecisionFuture {
    type Output = Decision;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Decision> {
        let token = self.token;
        let p = self.driver.borrow_mut().poll_decision(token, cx.waker());
        if p.is_ready() {
            self.done = true;
        }
        p
    }
}

impl Drop for DecisionFuture {
    fn drop(&mut self) {
        if !self.done
            && let Ok(mut d) = self.driver.try_borrow_mut()
        {
            d.cancel(self.token);
        }
    }
}

/// The future of the next intent.
#[derive(Debug)]
pub struct IntentFuture(pub SharedDriver);

impl Future for IntentFuture {
    type Output = HttpIntent;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<HttpIntent> {
        self.0.borrow_mut().poll_intent(cx.waker())
    }
}
