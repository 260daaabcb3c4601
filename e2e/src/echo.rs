//! An upstream that answers every request with a JSON description of what it received, and
//! counts requests, so tests can assert what reached it — and that a denied request did not.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use oidc_proxy::http::{BodyFraming, ChunkedDecoder, LengthCounter, Limits, parse_request_head};
use sha2::Digest as _;

/// A running echo upstream.
#[derive(Debug)]
pub struct Echo {
    /// Its address.
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Echo {
    /// Starts it on an ephemeral port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = Arc::clone(&hits);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let h = Arc::clone(&h);
                std::thread::spawn(move || serve(conn, &h));
            }
        });
        Self { addr, hits }
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn serve(mut s: TcpStream, hits: &AtomicUsize) {
    let limits = Limits { max_head_bytes: 64 * 1024, ..Limits::default() };
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let (head, used) = loop {
            match parse_request_head(&buf, &limits) {
                Ok(Some(x)) => break x,
                Ok(None) => match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                },
                Err(_) => return,
            }
        };
        buf.drain(..used);
        hits.fetch_add(1, Ordering::SeqCst);
        let mut hasher = sha2::Sha256::new();
        let mut body_len = 0u64;
        match head.framing {
            BodyFraming::ContentLength(n) => {
                let mut c = LengthCounter::new(n);
                while !c.is_done() {
                    if buf.is_empty() {
                        match s.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    }
                    let take = c.take(buf.len());
                    hasher.update(&buf[..take]);
                    body_len += take as u64;
                    buf.drain(..take);
                }
            }
            BodyFraming::Chunked => {
                let mut d = ChunkedDecoder::new(&limits);
                loop {
                    let mut out = Vec::new();
                    let Ok(used) = d.decode(&buf, &mut out) else { return };
                    buf.drain(..used);
                    hasher.update(&out);
                    body_len += out.len() as u64;
                    if d.is_done() {
                        break;
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
            }
            _ => {}
        }
        let headers: serde_json::Map<String, serde_json::Value> = head
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    serde_json::Value::String(String::from_utf8_lossy(&h.value).into_owned()),
                )
            })
            .collect();
        let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let out = serde_json::json!({
            "method": head.method, "target": head.target, "headers": headers,
            "body_len": body_len, "body_sha256": digest,
        })
        .to_string();
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{out}",
            out.len()
        );
        if s.write_all(resp.as_bytes()).is_err() || !head.keep_alive {
            return;
        }
    }
}
