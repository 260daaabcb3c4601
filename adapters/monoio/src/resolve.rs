//! Name resolution off the worker threads. `getaddrinfo` blocks (a slow DNS server can hold it
//! for seconds), so lookups run on a small thread pool shared by all workers and the worker
//! only awaits the answer. The caller's deadline still applies: an abandoned lookup finishes on
//! the pool and its answer is dropped.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::OnceLock;

use monoio::blocking::DefaultThreadPool;

/// Threads for lookups: IdP connections are rare (documents and keys are cached, connections
/// pooled), so two are plenty.
const RESOLVER_THREADS: usize = 2;

/// The process-wide lookup pool, attached to every worker runtime.
pub(crate) fn pool() -> DefaultThreadPool {
    static POOL: OnceLock<DefaultThreadPool> = OnceLock::new();
    POOL.get_or_init(|| DefaultThreadPool::new(RESOLVER_THREADS)).clone()
}

/// The addresses of `host:port`, in the resolver's order. IP literals skip the pool.
pub(crate) async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = host.to_owned();
    let found = monoio::spawn_blocking(move || {
        (name.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>)
    })
    .await
    .map_err(|_| io::Error::other("name lookup cancelled"))??;
    if found.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "name has no address"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: Future>(f: F) -> F::Output {
        let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .attach_thread_pool(Box::new(pool()))
            .enable_timer()
            .build()
            .expect("runtime");
        rt.block_on(f)
    }

    #[test]
    fn literals_and_names_resolve() {
        run(async {
            let v4 = resolve("127.0.0.1", 8443).await.expect("v4 literal");
            assert_eq!(v4, ["127.0.0.1:8443".parse().expect("addr")]);
            let v6 = resolve("[::1]", 443).await.expect("v6 literal");
            assert_eq!(v6, ["[::1]:443".parse().expect("addr")]);
            // Through the pool: the worker awaits the lookup instead of blocking on it.
            let named = resolve("localhost", 80).await.expect("localhost");
            assert!(named.iter().all(|a| a.ip().is_loopback() && a.port() == 80), "{named:?}");
        });
    }
}
