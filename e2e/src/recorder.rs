//! The recording upstream: records every request exactly as it arrived (raw head bytes, request
//! line, header fields in order with duplicates, body, and which TCP connection carried it) and
//! answers with a JSON description of it. It parses with [`crate::wire`], its own minimal
//! HTTP/1.1 parser, never with the gateway's codec.
//!
//! Per path prefix (or globally) a test can make it answer `101 Switching Protocols` and then
//! echo bytes as a tunnel, answer with a chunked body, close a keep-alive connection without
//! answering its Nth request, or wait before answering.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::wire::{Chunked, Framing, Head, head_end, request_framing};

/// Largest head the recorder accepts (far above any gateway limit: it must see what is sent).
const MAX_HEAD: usize = 4 * 1024 * 1024;
/// Body bytes kept per request (length and digest always cover the whole body).
const KEEP_BODY: usize = 1024 * 1024;

/// How the recorder answers requests whose target starts with a prefix (or all requests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Behaviour {
    /// Answer `101 Switching Protocols` (`Upgrade: websocket`), then echo every byte back.
    pub upgrade: bool,
    /// Answer with `Transfer-Encoding: chunked` (the JSON in several chunks).
    pub chunked: bool,
    /// Close the connection, without answering, when the request is the Nth on its connection
    /// (1-based). The request is still recorded (body included).
    pub close_on_nth: Option<u64>,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Answer `200` with a body of this many bytes (`x`, Content-Length framed) instead of the
    /// JSON description.
    pub body_size: Option<usize>,
}

/// One request as the recorder received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Which accepted TCP connection carried it (1, 2, ... in accept order).
    pub conn: u64,
    /// Its position on that connection (1-based).
    pub nth: u64,
    /// The head bytes exactly as received, up to and including the empty line.
    pub raw_head: Vec<u8>,
    /// The request line.
    pub request_line: String,
    /// Method, target and version from the request line (empty when it had fewer parts).
    pub method: String,
    /// The request target as sent.
    pub target: String,
    /// `HTTP/1.1`, `HTTP/1.0`.
    pub version: String,
    /// Header fields in order, duplicates kept, names as spelled.
    pub headers: Vec<(String, String)>,
    /// The body (decoded when chunked), up to 1 MiB.
    pub body: Vec<u8>,
    /// Body length (all of it).
    pub body_len: u64,
    /// SHA-256 of the whole body, hex.
    pub body_sha256: String,
    /// Whether the body was read to its end.
    pub body_complete: bool,
    /// Why the request or its body could not be parsed, if so.
    pub error: Option<String>,
}

impl Recorded {
    /// The path of the target (without the query).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a header (name case-insensitive).
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The raw head with the lines of the named headers (case-insensitive) removed, for
    /// comparing what a client sent with what arrived minus what the gateway adds.
    pub fn raw_head_without(&self, names: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in self.raw_head.split_inclusive(|&b| b == b'\n') {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let drop = line.contains(&b':')
                && names.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name));
            if !drop {
                out.extend_from_slice(line);
            }
        }
        out
    }

    /// What the recorder answers: a JSON description.
    fn describe(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (n, v) in &self.headers {
            let k = n.to_ascii_lowercase();
            match map.get_mut(&k) {
                // A repeated field becomes an array, so that a test comparing it to one string
                // notices the duplicate.
                Some(Value::Array(a)) => a.push(Value::from(v.as_str())),
                Some(first) => *first = Value::Array(vec![first.clone(), Value::from(v.as_str())]),
                None => {
                    map.insert(k, Value::from(v.as_str()));
                }
            }
        }
        json!({
            "method": self.method, "target": self.target, "version": self.version,
            "headers": map, "header_list": self.headers,
            "body_len": self.body_len, "body_sha256": self.body_sha256,
            "conn": self.conn, "nth": self.nth,
        })
    }
}

#[derive(Debug, Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    behaviours: Mutex<BTreeMap<String, Behaviour>>,
    global: Mutex<Behaviour>,
    conns: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    fn behaviour(&self, target: &str) -> Behaviour {
        let by_prefix = lock(&self.behaviours);
        by_prefix
            .iter()
            .filter(|(p, _)| target.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map_or_else(|| lock(&self.global).clone(), |(_, b)| b.clone())
    }
}

/// A running recording upstream.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Its address.
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Recorder {
    /// Starts it on an ephemeral port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let st = Arc::clone(&state);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let id = st.conns.fetch_add(1, Ordering::SeqCst) + 1;
                let st = Arc::clone(&st);
                std::thread::spawn(move || serve(conn, id, &st));
            }
        });
        Self { addr, state }
    }

    /// Sets the behaviour for targets starting with `prefix` (the longest prefix wins).
    pub fn set(&self, prefix: &str, b: Behaviour) {
        lock(&self.state.behaviours).insert(prefix.to_string(), b);
    }

    /// Sets the behaviour for targets no prefix matches.
    pub fn set_global(&self, b: Behaviour) {
        *lock(&self.state.global) = b;
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.requests).clone()
    }

    /// Requests received after the first `n` (see [`Recorder::hits`]).
    pub fn since(&self, n: usize) -> Vec<Recorded> {
        lock(&self.state.requests).get(n..).map(<[Recorded]>::to_vec).unwrap_or_default()
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.conns.load(Ordering::SeqCst)
    }
}

/// Reads more bytes into `buf`; `false` at end of stream or on error.
fn more(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    match s.read(&mut chunk) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            true
        }
    }
}

fn serve(mut s: TcpStream, conn: u64, st: &State) {
    let mut buf = Vec::new();
    let mut nth = 0u64;
    loop {
        let end = loop {
            if let Some(end) = head_end(&buf) {
                break end;
            }
            if buf.len() > MAX_HEAD || !more(&mut s, &mut buf) {
                if !buf.is_empty() {
                    // Bytes that never became a whole head are recorded too: a test must see
                    // anything the gateway let through.
                    nth += 1;
                    let mut r = blank(conn, nth, &buf);
                    r.error = Some("connection ended inside a request head".into());
                    lock(&st.requests).push(r);
                }
                return;
            }
        };
        nth += 1;
        let raw: Vec<u8> = buf.drain(..end).collect();
        let mut rec = blank(conn, nth, &raw);
        let head = match Head::parse(&raw) {
            Ok(h) => h,
            Err(e) => {
                rec.error = Some(e);
                lock(&st.requests).push(rec);
                let _ = s.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                );
                return;
            }
        };
        let mut parts = head.start_line.split(' ');
        rec.method = parts.next().unwrap_or_default().to_string();
        rec.target = parts.next().unwrap_or_default().to_string();
        rec.version = parts.next().unwrap_or_default().to_string();
        rec.headers.clone_from(&head.headers);
        if parts.next().is_some() || rec.version.is_empty() {
            rec.error = Some(format!("bad request line {:?}", head.start_line));
        }
        let framing = request_framing(&head);
        let index = {
            let mut all = lock(&st.requests);
            all.push(rec.clone());
            all.len() - 1
        };
        let update = |r: &Recorded| {
            if let Some(slot) = lock(&st.requests).get_mut(index) {
                *slot = r.clone();
            }
        };
        // The body.
        let mut hasher = sha2::Sha256::new();
        let mut keep = |rec: &mut Recorded, data: &[u8]| {
            hasher.update(data);
            rec.body_len += data.len() as u64;
            let room = KEEP_BODY.saturating_sub(rec.body.len());
            rec.body.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        };
        let ok = match framing {
            Err(e) => {
                rec.error = Some(e);
                false
            }
            Ok(Framing::None | Framing::UntilClose) => true,
            Ok(Framing::Length(n)) => {
                let mut left = n;
                loop {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let piece: Vec<u8> = buf.drain(..take).collect();
                    keep(&mut rec, &piece);
                    left -= take as u64;
                    if left == 0 {
                        break true;
                    }
                    if !more(&mut s, &mut buf) {
                        rec.error =
                            Some(format!("connection ended {left} bytes before the body's end"));
                        break false;
                    }
                }
            }
            Ok(Framing::Chunked) => {
                let mut d = Chunked::default();
                loop {
                    let mut out = Vec::new();
                    match d.feed(&buf, &mut out) {
                        Ok(used) => {
                            buf.drain(..used);
                            keep(&mut rec, &out);
                        }
                        Err(e) => {
                            rec.error = Some(format!("bad chunked body: {e}"));
                            break false;
                        }
                    }
                    if d.is_done() {
                        break true;
                    }
                    if !more(&mut s, &mut buf) {
                        rec.error = Some("connection ended inside a chunked body".into());
                        break false;
                    }
                }
            }
        };
        rec.body_complete = ok;
        rec.body_sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        update(&rec);
        if !ok {
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            );
            return;
        }

        let b = st.behaviour(&rec.target);
        if b.close_on_nth == Some(nth) {
            let _ = s.shutdown(Shutdown::Both);
            return;
        }
        if let Some(d) = b.delay {
            std::thread::sleep(d);
        }
        if b.upgrade {
            let accept = head
                .all("sec-websocket-key")
                .first()
                .map(|k| base64::engine::general_purpose::STANDARD.encode(sha1_smol(k)));
            let mut resp = String::from(
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n",
            );
            if let Some(a) = accept {
                resp.push_str(&format!("Sec-WebSocket-Accept: {a}\r\n"));
            }
            resp.push_str("\r\n");
            if s.write_all(resp.as_bytes()).is_err() {
                return;
            }
            // A tunnel from here on: echo every byte.
            if !buf.is_empty() && s.write_all(&buf).is_err() {
                return;
            }
            let mut chunk = [0u8; 16 * 1024];
            while let Ok(n) = s.read(&mut chunk) {
                if n == 0 || s.write_all(chunk.get(..n).unwrap_or_default()).is_err() {
                    break;
                }
            }
            let _ = s.shutdown(Shutdown::Both);
            return;
        }
        let close = head.has_token("connection", "close")
            || (rec.version == "HTTP/1.0" && !head.has_token("connection", "keep-alive"));
        if let Some(n) = b.body_size {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {n}\r\n\r\n"
            );
            if s.write_all(head.as_bytes()).is_err() {
                return;
            }
            let piece = vec![b'x'; 64 * 1024];
            let mut left = n;
            while left > 0 {
                let k = left.min(piece.len());
                if s.write_all(&piece[..k]).is_err() {
                    return;
                }
                left -= k;
            }
            if close {
                return;
            }
            continue;
        }
        let body = rec.describe().to_string();
        let is_head = rec.method.eq_ignore_ascii_case("HEAD");
        let mut out = String::from("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
        if close {
            out.push_str("Connection: close\r\n");
        }
        if b.chunked {
            out.push_str("Transfer-Encoding: chunked\r\n\r\n");
            if !is_head {
                let bytes = body.as_bytes();
                let third = bytes.len().div_ceil(3).max(1);
                for piece in bytes.chunks(third) {
                    out.push_str(&format!(
                        "{:x}\r\n{}\r\n",
                        piece.len(),
                        String::from_utf8_lossy(piece)
                    ));
                }
                out.push_str("0\r\n\r\n");
            }
        } else {
            out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            if !is_head {
                out.push_str(&body);
            }
        }
        if s.write_all(out.as_bytes()).is_err() || close {
            let _ = s.shutdown(Shutdown::Write);
            return;
        }
    }
}

fn blank(conn: u64, nth: u64, raw: &[u8]) -> Recorded {
    let text = String::from_utf8_lossy(raw);
    let line = text.split('\n').next().unwrap_or_default();
    Recorded {
        conn,
        nth,
        raw_head: raw.to_vec(),
        request_line: line.strip_suffix('\r').unwrap_or(line).to_string(),
        method: String::new(),
        target: String::new(),
        version: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
        body_len: 0,
        body_sha256: String::new(),
        body_complete: false,
        error: None,
    }
}

/// `Sec-WebSocket-Accept` needs SHA-1 (RFC 6455 §4.2.2); a few lines here rather than a
/// dependency used for nothing else.
fn sha1_smol(key: &str) -> Vec<u8> {
    let mut msg = format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").into_bytes();
    let bit_len = (msg.len() as u64) * 8;
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    let mut h: [u32; 5] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0];
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate().take(16) {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t =
                a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().flat_map(|x| x.to_be_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_accept() {
        // RFC 6455 §1.3's example.
        let a =
            base64::engine::general_purpose::STANDARD.encode(sha1_smol("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(a, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn records_duplicates_chunked_bodies_and_connections() {
        let rec = Recorder::start();
        let mut s = TcpStream::connect(rec.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(
            b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nx-dup: 2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let (r, used) = crate::wire::parse_response(&raw, "POST", false).unwrap().unwrap();
        assert_eq!(r.json()["headers"]["x-dup"], json!(["1", "2"]));
        assert_eq!(r.json()["body_len"], 3);
        let (r, _) = crate::wire::parse_response(&raw[used..], "GET", true).unwrap().unwrap();
        assert_eq!(r.json()["target"], "/b");
        let all = rec.requests();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].conn, all[0].nth, all[1].conn, all[1].nth), (1, 1, 1, 2));
        assert_eq!(all[0].body, b"abc");
        assert_eq!(all[0].headers_named("X-DUP"), ["1", "2"]);
        assert!(all[0].raw_head.starts_with(b"POST /a?x=1 HTTP/1.1\r\n"));
        assert_eq!(
            all[0].raw_head_without(&["x-dup", "transfer-encoding"]),
            b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
        );
    }

    #[test]
    fn knobs() {
        use std::io::Read as _;

        use crate::client::{Conn, ReadError, request_bytes};
        let rec = Recorder::start();
        rec.set("/up", Behaviour { upgrade: true, ..Behaviour::default() });
        rec.set("/ch", Behaviour { chunked: true, ..Behaviour::default() });
        rec.set_global(Behaviour { close_on_nth: Some(2), ..Behaviour::default() });

        // 101, then an echoing tunnel.
        let mut c = Conn::connect(rec.addr);
        c.send(&request_bytes(
            "GET",
            "/up",
            "h",
            &[("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")],
            b"",
            false,
        ))
        .unwrap();
        let r = c.response("GET");
        assert_eq!((r.status, r.header("upgrade")), (101, Some("websocket")));
        assert_eq!(r.header("sec-websocket-accept"), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        c.send(b"ping").unwrap();
        let mut back = [0u8; 4];
        c.stream().read_exact(&mut back).unwrap();
        assert_eq!(&back, b"ping");

        // Chunked answers; the 2nd request on a connection is recorded, then the connection
        // closes without an answer.
        let mut c = Conn::connect(rec.addr);
        let r = c.get("/ch/1", &[]);
        assert_eq!(
            (r.header("transfer-encoding"), r.json()["target"].clone()),
            (Some("chunked"), json!("/ch/1"))
        );
        c.send(&request_bytes("POST", "/x", "h", &[], b"body", false)).unwrap();
        assert!(matches!(
            c.try_response("POST"),
            Err(ReadError::Closed { .. } | ReadError::Io { .. })
        ));
        let all = rec.requests();
        let last = all.last().unwrap();
        assert_eq!(
            (last.method.as_str(), last.nth, last.body.as_slice()),
            ("POST", 2, &b"body"[..])
        );
        assert!(last.body_complete);
    }
}
