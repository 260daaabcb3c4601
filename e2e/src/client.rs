//! A minimal blocking HTTP/1.1 client for driving the gateway.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (names lower-cased).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// First header value by name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

/// `GET` with headers.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, "GET", path, headers, b"")
}

/// Parses a complete response (Content-Length or chunked or until close).
pub fn parse(raw: &[u8]) -> Response {
    let (head, used) = match oidc_proxy::http::parse_response_head(raw, &Default::default(), "GET")
    {
        Ok(Some(x)) => x,
        other => panic!("bad response {other:?}: {}", String::from_utf8_lossy(raw)),
    };
    let rest = &raw[used..];
    let body = match head.framing {
        oidc_proxy::http::BodyFraming::Chunked => {
            let mut out = Vec::new();
            let mut d = oidc_proxy::http::ChunkedDecoder::new(&Default::default());
            d.decode(rest, &mut out).unwrap();
            out
        }
        oidc_proxy::http::BodyFraming::ContentLength(n) => {
            rest[..usize::try_from(n).unwrap()].to_vec()
        }
        _ => rest.to_vec(),
    };
    let headers = head
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(&h.value).into_owned()))
        .collect();
    Response { status: head.status, headers, body }
}

/// A keep-alive client connection: every request goes to the same gateway worker.
#[derive(Debug)]
pub struct KeepAlive {
    s: TcpStream,
    addr: SocketAddr,
}

impl KeepAlive {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Self {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Self { s, addr }
    }

    /// Sends a `GET` and reads exactly its response (Content-Length framed).
    pub fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut head = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.s.write_all(head.as_bytes()).unwrap();
        let mut raw = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Ok(Some((h, used))) =
                oidc_proxy::http::parse_response_head(&raw, &Default::default(), "GET")
            {
                let oidc_proxy::http::BodyFraming::ContentLength(n) = h.framing else {
                    panic!("keep-alive responses here are Content-Length framed");
                };
                if raw.len() >= used + usize::try_from(n).unwrap() {
                    return parse(&raw);
                }
            }
            let n = self.s.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed mid-response");
            raw.extend_from_slice(&chunk[..n]);
        }
    }
}
