//! Per-worker keep-alive pool of upstream connections.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Idle connections by upstream address. Single-threaded (one per worker).
#[derive(Debug)]
pub struct Pool<C> {
    idle: RefCell<HashMap<SocketAddr, Vec<(C, Instant)>>>,
    max_idle_per_addr: usize,
    idle_timeout: Duration,
}

impl<C> Pool<C> {
    /// A pool keeping at most `max_idle_per_addr` idle connections per address, each for at
    /// most `idle_timeout`.
    pub fn new(max_idle_per_addr: usize, idle_timeout: Duration) -> Self {
        Self { idle: RefCell::new(HashMap::new()), max_idle_per_addr, idle_timeout }
    }

    /// The most recently returned idle connection to `addr` that has not timed out.
    pub fn take(&self, addr: SocketAddr) -> Option<C> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(&addr)?;
        while let Some((c, since)) = list.pop() {
            if since.elapsed() < self.idle_timeout {
                return Some(c);
            }
        }
        None
    }

    /// Returns a connection whose last exchange completed cleanly.
    pub fn put(&self, addr: SocketAddr, conn: C) {
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(addr).or_default();
        list.retain(|(_, since)| since.elapsed() < self.idle_timeout);
        if list.len() < self.max_idle_per_addr {
            list.push((conn, Instant::now()));
        }
    }

    /// Idle connections held.
    pub fn idle_count(&self) -> usize {
        self.idle.borrow().values().map(Vec::len).sum()
    }
}
