//! A small blocking HTTP/1.1 client for driving the gateway, parsing with [`crate::wire`] (not
//! the gateway's codec), and able to write like a real network: a request in several segments
//! with pauses, or in 1448-byte segments (a common internet MSS) with `TCP_NODELAY`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub use crate::wire::Response;
use crate::wire::parse_response;

/// A typical internet TCP segment payload (1500-byte MTU, IPv4 + TCP with timestamps).
pub const MSS: usize = 1448;

/// The bytes of a request: `Host` first, then `headers`, then a `Content-Length` for a body
/// (or for `POST`/`PUT`), then `Connection: close` when `close`.
pub fn request_bytes(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut c = Conn::connect(addr);
    c.send(&request_bytes(method, path, &addr.to_string(), headers, body, true)).unwrap();
    c.response(method)
}

/// `GET` with headers, on a new connection.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, "GET", path, headers, b"")
}

/// Parses a complete response to a `GET` (the connection has closed after it).
pub fn parse(raw: &[u8]) -> Response {
    match parse_response(raw, "GET", true) {
        Ok(Some((r, _))) => r,
        other => panic!("bad response {other:?}: {}", String::from_utf8_lossy(raw)),
    }
}

/// Why no response could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The connection closed (before any byte of a response, or inside one).
    Closed {
        /// Bytes received that did not make a response.
        partial: Vec<u8>,
    },
    /// Nothing complete arrived within the read timeout.
    Timeout {
        /// Bytes received so far.
        partial: Vec<u8>,
    },
    /// The connection failed (e.g. reset).
    Io {
        /// The error.
        error: std::io::Error,
        /// Bytes received so far.
        partial: Vec<u8>,
    },
    /// The bytes are not a response.
    Malformed {
        /// What is wrong.
        why: String,
        /// The bytes.
        partial: Vec<u8>,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, partial) = match self {
            Self::Closed { partial } => ("connection closed".to_string(), partial),
            Self::Timeout { partial } => ("timed out".to_string(), partial),
            Self::Io { error, partial } => (format!("I/O error: {error}"), partial),
            Self::Malformed { why, partial } => (format!("malformed response: {why}"), partial),
        };
        write!(f, "{what}; received {:?}", String::from_utf8_lossy(partial))
    }
}

/// A client connection: writes requests however a test wants, reads responses one by one
/// (pipelined responses stay buffered for the next read).
#[derive(Debug)]
pub struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    eof: bool,
    addr: SocketAddr,
}

/// The old name: a keep-alive connection (every request goes to the same gateway worker).
pub type KeepAlive = Conn;

impl Conn {
    /// Connects to `addr` (read timeout 30 s).
    pub fn connect(addr: SocketAddr) -> Self {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Self { s, buf: Vec::new(), eof: false, addr }
    }

    /// The address connected to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the read timeout.
    pub fn set_read_timeout(&self, d: Duration) {
        self.s.set_read_timeout(Some(d)).unwrap();
    }

    /// The socket.
    pub fn stream(&self) -> &TcpStream {
        &self.s
    }

    /// Writes all of `bytes` at once.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.s.write_all(bytes)
    }

    /// Writes `bytes` cut at `offsets` (ascending), pausing `delay` between the pieces, with
    /// `TCP_NODELAY` so each piece leaves as its own segment.
    pub fn write_split(
        &mut self,
        bytes: &[u8],
        offsets: &[usize],
        delay: Duration,
    ) -> std::io::Result<()> {
        self.s.set_nodelay(true)?;
        let mut at = 0;
        for &o in offsets {
            let o = o.clamp(at, bytes.len());
            self.s.write_all(&bytes[at..o])?;
            self.s.flush()?;
            std::thread::sleep(delay);
            at = o;
        }
        self.s.write_all(&bytes[at..])
    }

    /// Writes `bytes` in `size`-byte segments with `TCP_NODELAY`, pausing `delay` between them.
    pub fn write_segments(
        &mut self,
        bytes: &[u8],
        size: usize,
        delay: Duration,
    ) -> std::io::Result<()> {
        let offsets: Vec<usize> = (size..bytes.len()).step_by(size.max(1)).collect();
        self.write_split(bytes, &offsets, delay)
    }

    /// Writes `bytes` as a real network delivers a large head: [`MSS`]-byte segments a few
    /// milliseconds apart (on loopback, back-to-back segments would merge into one read).
    pub fn write_mss(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_segments(bytes, MSS, Duration::from_millis(5))
    }

    fn fill(&mut self) -> Result<(), ReadError> {
        let mut chunk = [0u8; 16 * 1024];
        match self.s.read(&mut chunk) {
            Ok(0) => {
                self.eof = true;
                Ok(())
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(ReadError::Timeout { partial: self.buf.clone() })
            }
            Err(error) => Err(ReadError::Io { error, partial: self.buf.clone() }),
        }
    }

    /// Reads the next response (to a request with `method`). A `1xx` is returned as itself.
    pub fn try_response(&mut self, method: &str) -> Result<Response, ReadError> {
        loop {
            match parse_response(&self.buf, method, self.eof) {
                Ok(Some((r, used))) => {
                    self.buf.drain(..used);
                    return Ok(r);
                }
                Ok(None) if self.eof => {
                    return Err(ReadError::Closed { partial: std::mem::take(&mut self.buf) });
                }
                Ok(None) => self.fill()?,
                Err(why) => return Err(ReadError::Malformed { why, partial: self.buf.clone() }),
            }
        }
    }

    /// Reads the next response; panics with what was received when there is none.
    pub fn response(&mut self, method: &str) -> Response {
        self.try_response(method).unwrap_or_else(|e| panic!("no response to {method}: {e}"))
    }

    /// Sends a keep-alive `GET` and reads its response.
    pub fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Response {
        let host = self.addr.to_string();
        self.send(&request_bytes("GET", path, &host, headers, b"", false)).unwrap();
        self.response("GET")
    }

    /// Bytes buffered but not consumed by a response.
    pub fn leftover(&self) -> &[u8] {
        &self.buf
    }

    /// Waits up to `wait` for the peer to close; returns whether it did (end of stream or
    /// reset) and every byte that arrived meanwhile (after those already consumed).
    pub fn wait_closed(&mut self, wait: Duration) -> (bool, Vec<u8>) {
        let until = Instant::now() + wait;
        while !self.eof {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (false, self.buf.clone());
            }
            self.s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
            match self.fill() {
                Ok(()) => {}
                Err(ReadError::Timeout { .. }) => return (false, self.buf.clone()),
                Err(_) => return (true, self.buf.clone()),
            }
        }
        (true, self.buf.clone())
    }
}
