//! Name resolution off the executor. `getaddrinfo` blocks (a slow DNS server can hold it for
//! seconds), so lookups run on `blocking`'s thread pool and the worker only awaits the answer.
//! The caller's deadline still applies: an abandoned lookup finishes on the pool and its answer
//! is dropped.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The addresses of `host:port`, in the resolver's order. IP literals skip the pool.
pub(crate) async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = host.to_owned();
    let found = blocking::unblock(move || {
        (name.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>)
    })
    .await?;
    if found.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "name has no address"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_names_resolve() {
        async_io::block_on(async {
            let v4 = resolve("127.0.0.1", 8443).await.expect("v4 literal");
            assert_eq!(v4, ["127.0.0.1:8443".parse().expect("addr")]);
            let v6 = resolve("[::1]", 443).await.expect("v6 literal");
            assert_eq!(v6, ["[::1]:443".parse().expect("addr")]);
            // Through the pool: the executor awaits the lookup instead of blocking on it.
            let named = resolve("localhost", 80).await.expect("localhost");
            assert!(named.iter().all(|a| a.ip().is_loopback() && a.port() == 80), "{named:?}");
        });
    }
}
