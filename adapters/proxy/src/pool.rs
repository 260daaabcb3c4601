//! Per-worker keep-alive pools: upstream connections by address, IdP connections by endpoint.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Idle connections by key (an upstream address by default). Single-threaded (one per worker).
#[derive(Debug)]
pub struct Pool<C, K = SocketAddr> {
    idle: RefCell<HashMap<K, Vec<(C, Instant)>>>,
    max_idle_per_addr: usize,
    idle_timeout: Duration,
}

impl<C, K: Hash + Eq> Pool<C, K> {
    /// A pool keeping at most `max_idle_per_addr` idle connections per address, each for at
    /// most `idle_timeout`.
    pub fn new(max_idle_per_addr: usize, idle_timeout: Duration) -> Self {
        Self { idle: RefCell::new(HashMap::new()), max_idle_per_addr, idle_timeout }
    }

    /// The most recently returned idle connection for `key` that has not timed out.
    pub fn take(&self, key: &K) -> Option<C> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(key)?;
        while let Some((c, since)) = list.pop() {
            if since.elapsed() < self.idle_timeout {
                return Some(c);
            }
        }
        None
    }

    /// Returns a connection whose last exchange completed cleanly.
    pub fn put(&self, key: K, conn: C) {
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(key).or_default();
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

/// Whether an idle socket may carry another request, for [`crate::runtime::Connector::
/// is_reusable`]: a non-blocking peek where "would block" is the one answer that means idle and
/// open; data, end of stream (0) or an error mean it must not. Call it only on a socket with no
/// I/O pending (a pooled one), so it does not race a completion-based runtime.
pub fn idle_and_open(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    let mut byte = [0u8; 1];
    let flags = rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT;
    matches!(rustix::net::recv(fd, &mut byte, flags), Err(rustix::io::Errno::AGAIN))
}
