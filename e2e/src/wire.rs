//! A minimal HTTP/1.1 message parser for the test harness, written for it alone: the recording
//! upstream and the test clients must not share a single line with the gateway's own codec, or
//! a codec defect would look the same on both sides and pass.
//!
//! It is deliberately small and literal: heads end at the first empty line, header fields are
//! kept in order with duplicates and original spelling, and bodies are framed by
//! `Transfer-Encoding: chunked`, `Content-Length`, or (responses only) the end of the stream.

/// Index just past the empty line that ends a head (`\r\n\r\n`, also a bare `\n\n` so that a
/// malformed message is still recorded), or `None` while it is incomplete.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = buf.get(i..).and_then(|b| b.iter().position(|&c| c == b'\n')) {
        let nl = i + p;
        match buf.get(nl + 1..nl + 3) {
            Some([b'\r', b'\n']) => return Some(nl + 3),
            Some([b'\n', _]) => return Some(nl + 2),
            None if buf.get(nl + 1) == Some(&b'\n') => return Some(nl + 2),
            _ => {}
        }
        i = nl + 1;
    }
    None
}

/// A parsed message head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The first line, without its line ending.
    pub start_line: String,
    /// Header fields in the order received, duplicates kept, names as spelled.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// Parses the bytes of a complete head (up to and including the empty line).
    pub fn parse(raw: &[u8]) -> Result<Self, String> {
        let text = String::from_utf8_lossy(raw);
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let start_line = lines.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        for line in lines {
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                return Err(format!("obsolete line folding: {line:?}"));
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(format!("header line without a colon: {line:?}"));
            };
            if name.is_empty() || name.contains([' ', '\t']) {
                return Err(format!("bad header name: {name:?}"));
            }
            headers.push((name.to_string(), value.trim_matches([' ', '\t']).to_string()));
        }
        Ok(Self { start_line, headers })
    }

    /// Every value of the field `name` (case-insensitive), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether a comma-separated field `name` lists `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes (responses only).
    UntilClose,
}

/// The body framing of a request head (RFC 9112 §6.3), or why it is unusable.
pub fn request_framing(head: &Head) -> Result<Framing, String> {
    let te = head.all("transfer-encoding");
    if !te.is_empty() {
        let last = te.iter().flat_map(|v| v.split(',')).map(str::trim).next_back();
        return match last {
            Some(c) if c.eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked),
            _ => Err(format!("transfer-encoding without final chunked: {te:?}")),
        };
    }
    length(head).map(|n| n.map_or(Framing::None, Framing::Length))
}

/// The body framing of a response to `method` with `status`.
pub fn response_framing(head: &Head, method: &str, status: u16) -> Result<Framing, String> {
    if method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
    {
        return Ok(Framing::None);
    }
    if head.has_token("transfer-encoding", "chunked") {
        return Ok(Framing::Chunked);
    }
    length(head).map(|n| n.map_or(Framing::UntilClose, Framing::Length))
}

fn length(head: &Head) -> Result<Option<u64>, String> {
    let values = head.all("content-length");
    let mut n = None;
    for v in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("bad content-length {v:?}"));
        }
        let parsed: u64 = v.parse().map_err(|_| format!("content-length too large: {v}"))?;
        if n.is_some_and(|x| x != parsed) {
            return Err(format!("conflicting content-length fields: {values:?}"));
        }
        n = Some(parsed);
    }
    Ok(n)
}

/// An incremental decoder for the chunked transfer coding.
#[derive(Debug, Clone, Default)]
pub struct Chunked {
    state: ChunkState,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

impl Chunked {
    /// Decodes what it can of `buf`, appending data to `out`; returns the bytes consumed.
    pub fn feed(&mut self, buf: &[u8], out: &mut Vec<u8>) -> Result<usize, String> {
        let mut at = 0;
        loop {
            let rest = buf.get(at..).unwrap_or_default();
            match self.state {
                ChunkState::Done => return Ok(at),
                ChunkState::Size => {
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > 4096 {
                            return Err("chunk size line too long".into());
                        }
                        return Ok(at);
                    };
                    let line =
                        String::from_utf8_lossy(rest.get(..nl).unwrap_or_default()).into_owned();
                    let Some(line) = line.strip_suffix('\r') else {
                        return Err(format!("chunk size line not ended by CRLF: {line:?}"));
                    };
                    let size = line.split(';').next().unwrap_or_default();
                    if size.is_empty()
                        || !size.bytes().all(|b| b.is_ascii_hexdigit())
                        || size.len() > 15
                    {
                        return Err(format!("bad chunk size {line:?}"));
                    }
                    let n = u64::from_str_radix(size, 16).map_err(|e| e.to_string())?;
                    at += nl + 1;
                    self.state = if n == 0 { ChunkState::Trailers } else { ChunkState::Data(n) };
                }
                ChunkState::Data(n) => {
                    if rest.is_empty() {
                        return Ok(at);
                    }
                    let take = usize::try_from(n).unwrap_or(usize::MAX).min(rest.len());
                    out.extend_from_slice(rest.get(..take).unwrap_or_default());
                    at += take;
                    let left = n - take as u64;
                    self.state =
                        if left == 0 { ChunkState::DataEnd } else { ChunkState::Data(left) };
                }
                ChunkState::DataEnd => {
                    if rest.len() < 2 {
                        return Ok(at);
                    }
                    if rest.get(..2) != Some(b"\r\n") {
                        return Err("chunk data not followed by CRLF".into());
                    }
                    at += 2;
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        return Ok(at);
                    };
                    let line = rest.get(..nl).unwrap_or_default();
                    at += nl + 1;
                    if line.is_empty() || line == b"\r" {
                        self.state = ChunkState::Done;
                    }
                }
            }
        }
    }

    /// Whether the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    /// `HTTP/1.1` or `HTTP/1.0` as sent.
    pub version: String,
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header fields in order, names lower-cased, duplicates kept.
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub body: Vec<u8>,
    /// The head exactly as received.
    pub raw_head: Vec<u8>,
    /// How the body was delimited.
    pub framing: Framing,
}

impl Response {
    /// First header value by (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every value of a header, by (lower-case) name.
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): status {} {}", self.status, String::from_utf8_lossy(&self.body))
        })
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The status and the start of the body, for assertion messages.
    pub fn summary(&self) -> String {
        let text = self.text();
        let cut: String = text.chars().take(200).collect();
        let more = if cut.len() < text.len() { "..." } else { "" };
        format!("{} {cut}{more}", self.status)
    }
}

/// Parses one response to `method` at the start of `buf`: `Ok(None)` while incomplete (a
/// close-delimited body is complete only at `eof`), otherwise the response and the bytes used.
pub fn parse_response(
    buf: &[u8],
    method: &str,
    eof: bool,
) -> Result<Option<(Response, usize)>, String> {
    let Some(end) = head_end(buf) else {
        if eof && !buf.is_empty() {
            return Err(format!(
                "connection closed inside a response head: {:?}",
                String::from_utf8_lossy(buf)
            ));
        }
        return Ok(None);
    };
    let raw_head = buf.get(..end).unwrap_or_default();
    let head = Head::parse(raw_head)?;
    let mut parts = head.start_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let status = parts.next().unwrap_or_default();
    let reason = parts.next().unwrap_or_default().to_string();
    if !version.starts_with("HTTP/1.") || status.len() != 3 {
        return Err(format!("not a status line: {:?}", head.start_line));
    }
    let status: u16 = status.parse().map_err(|_| format!("bad status in {:?}", head.start_line))?;
    let framing = response_framing(&head, method, status)?;
    let rest = buf.get(end..).unwrap_or_default();
    let (body, used) = match framing {
        Framing::None => (Vec::new(), 0),
        Framing::Length(n) => {
            let n = usize::try_from(n).map_err(|e| e.to_string())?;
            if rest.len() < n {
                if eof {
                    return Err(format!(
                        "connection closed after {} of {n} body bytes",
                        rest.len()
                    ));
                }
                return Ok(None);
            }
            (rest.get(..n).unwrap_or_default().to_vec(), n)
        }
        Framing::Chunked => {
            let mut d = Chunked::default();
            let mut body = Vec::new();
            let used = d.feed(rest, &mut body)?;
            if !d.is_done() {
                if eof {
                    return Err("connection closed inside a chunked body".into());
                }
                return Ok(None);
            }
            (body, used)
        }
        Framing::UntilClose => {
            if !eof {
                return Ok(None);
            }
            (rest.to_vec(), rest.len())
        }
    };
    let headers = head.headers.into_iter().map(|(n, v)| (n.to_ascii_lowercase(), v)).collect();
    Ok(Some((
        Response { version, status, reason, headers, body, raw_head: raw_head.to_vec(), framing },
        end + used,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_bodies() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\nA: b\n\n"), Some(21));
        let h = Head::parse(b"GET / HTTP/1.1\r\nA: 1\r\na:  2 \r\nX_Y: z\r\n\r\n").unwrap();
        assert_eq!(h.all("a"), ["1", "2"]);
        assert_eq!(h.headers[2], ("X_Y".to_string(), "z".to_string()));

        let mut d = Chunked::default();
        let mut out = Vec::new();
        let all = b"5;ext=1\r\nhello\r\n0\r\nT: x\r\n\r\nNEXT";
        let mut used = 0;
        for i in 0..all.len() {
            // One byte at a time, as a trickling peer would send it.
            used += d.feed(&all[used..=i], &mut out).unwrap();
        }
        assert!(d.is_done());
        assert_eq!(out, b"hello");
        assert_eq!(&all[used..], b"NEXT");
        assert!(Chunked::default().feed(b"zz\r\n", &mut out).is_err());

        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
        let (r, used) = parse_response(raw, "GET", false).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        let (r, _) = parse_response(&raw[used..], "GET", false).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"no"[..]));
        let head = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\n";
        let (r, used) = parse_response(head, "HEAD", false).unwrap().unwrap();
        assert_eq!((r.status, used, r.body.len()), (401, head.len(), 0));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n\r\nabc", "GET", false).unwrap().is_none());
        assert_eq!(
            parse_response(b"HTTP/1.0 200 OK\r\n\r\nabc", "GET", true).unwrap().unwrap().0.body,
            b"abc"
        );
    }
}
