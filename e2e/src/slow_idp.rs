//! A plain-HTTP discovery endpoint that answers slowly, to park requests on a discovery fetch.
//!
//! `GET /.well-known/openid-configuration` is answered after a delay with a document whose
//! `issuer` is this server's origin (`http://127.0.0.1:<port>`) and whose `jwks_uri` is the real
//! IdP's (so tokens the IdP signs with that issuer verify). Anything else is a 404.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::wire::head_end;

/// A running slow discovery server.
#[derive(Debug)]
pub struct SlowDiscovery {
    /// Its address.
    pub addr: SocketAddr,
    fetches: Arc<AtomicUsize>,
}

impl SlowDiscovery {
    /// Starts it; every discovery answer waits `delay`; the document points at `jwks_uri`.
    pub fn start(delay: Duration, jwks_uri: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let fetches = Arc::new(AtomicUsize::new(0));
        let f = Arc::clone(&fetches);
        let issuer = format!("http://{addr}");
        let doc = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": jwks_uri,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        })
        .to_string();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (f, doc) = (Arc::clone(&f), doc.clone());
                std::thread::spawn(move || serve(conn, &f, &doc, delay));
            }
        });
        Self { addr, fetches }
    }

    /// The issuer (this server's origin).
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The discovery URL.
    pub fn discovery(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer())
    }

    /// Discovery requests received so far.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn serve(mut s: TcpStream, fetches: &AtomicUsize, doc: &str, delay: Duration) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(end) = head_end(&buf) {
                break end;
            }
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head: Vec<u8> = buf.drain(..end).collect();
        let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_string();
        let resp = if line.starts_with("GET /.well-known/openid-configuration ") {
            fetches.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(delay);
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{doc}",
                doc.len()
            )
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string()
        };
        if s.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}
