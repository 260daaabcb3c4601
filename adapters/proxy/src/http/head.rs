//! Parsed message heads.

use super::syntax::split_absolute;

/// The HTTP version of a message. Higher HTTP/1 minor versions are read as [`Version::Http11`]
/// (RFC 9110 §6.2); other majors are rejected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Version {
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1.
    Http11,
}

impl Version {
    /// The protocol string, `HTTP/1.0` or `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http10 => "HTTP/1.0",
            Self::Http11 => "HTTP/1.1",
        }
    }
}

/// One field line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The field name as received (case preserved; compare case-insensitively).
    pub name: String,
    /// The field value without leading and trailing whitespace.
    pub value: Vec<u8>,
}

impl Header {
    /// A field line from a name and value.
    pub fn new(name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Self { name: name.into(), value: value.into() }
    }
}

/// How the body after a head is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// Exactly this many bytes (see [`super::LengthCounter`]).
    ContentLength(u64),
    /// The chunked transfer coding (see [`super::ChunkedDecoder`]).
    Chunked,
    /// Everything until the peer closes the connection (responses only).
    UntilClose,
}

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, case-sensitive (`GET`, `POST`, ...).
    pub method: String,
    /// The request target as received: origin-form (`/p?q`), absolute-form
    /// (`http://host/p`), authority-form (`CONNECT` only) or `*` (`OPTIONS` only).
    pub target: String,
    /// The protocol version.
    pub version: Version,
    /// The field lines in order.
    pub headers: Vec<Header>,
    /// How the request body is delimited; never [`BodyFraming::UntilClose`].
    pub framing: BodyFraming,
    /// Whether the client allows the connection to carry another request afterwards (version
    /// default, `Connection: close` / `keep-alive`).
    pub keep_alive: bool,
    /// Whether an HTTP/1.1 client sent `Expect: 100-continue` and waits for a `100 Continue`.
    pub expect_continue: bool,
}

impl RequestHead {
    /// The value of the first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find(&self.headers, name)
    }

    /// The values of every field named `name` (case-insensitive), in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        find_all(&self.headers, name)
    }

    /// The host the request is for: the `Host` field, or else the authority of an
    /// absolute-form target. The parser guarantees they agree when both are present.
    pub fn host(&self) -> Option<&str> {
        if let Some(host) = self.header("host") {
            return std::str::from_utf8(host).ok();
        }
        split_absolute(&self.target).map(|(authority, _)| authority).filter(|a| !a.is_empty())
    }

    /// The path of the target without query: `/p` for `/p?q` and for `http://h/p?q`, `/` for
    /// `http://h`, `*` for the asterisk form, empty for a `CONNECT` authority.
    pub fn path(&self) -> &str {
        if self.method == "CONNECT" {
            return "";
        }
        let (absolute, rest) = match split_absolute(&self.target) {
            Some((_, rest)) => (true, rest),
            None => (false, self.target.as_str()),
        };
        let path = rest.split_once(['?', '#']).map_or(rest, |(path, _)| path);
        if absolute && path.is_empty() { "/" } else { path }
    }

    /// The query of the target (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        if self.method == "CONNECT" {
            return None;
        }
        let (_, query) = self.target.split_once('?')?;
        Some(query.split_once('#').map_or(query, |(query, _)| query))
    }

    /// Removes every field named `name` (case-insensitive).
    pub fn remove_header(&mut self, name: &str) {
        remove(&mut self.headers, name);
    }

    /// Replaces every field named `name` (case-insensitive) by one `name: value` line, in the
    /// place of the first one, or appended when there was none.
    pub fn set_header(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        set(&mut self.headers, name, value.into());
    }
}

/// A parsed response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The protocol version.
    pub version: Version,
    /// The status code, 100 to 599.
    pub status: u16,
    /// The reason phrase (obs-text decoded lossily).
    pub reason: String,
    /// The field lines in order.
    pub headers: Vec<Header>,
    /// How the response body is delimited.
    pub framing: BodyFraming,
    /// Whether the connection can carry another request after this response.
    pub keep_alive: bool,
}

impl ResponseHead {
    /// The value of the first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find(&self.headers, name)
    }

    /// The values of every field named `name` (case-insensitive), in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        find_all(&self.headers, name)
    }

    /// Removes every field named `name` (case-insensitive).
    pub fn remove_header(&mut self, name: &str) {
        remove(&mut self.headers, name);
    }

    /// Replaces every field named `name` (case-insensitive) by one `name: value` line, in the
    /// place of the first one, or appended when there was none.
    pub fn set_header(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        set(&mut self.headers, name, value.into());
    }
}

fn find<'a>(headers: &'a [Header], name: &str) -> Option<&'a [u8]> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_slice())
}

fn find_all<'a>(headers: &'a [Header], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_slice())
}

fn remove(headers: &mut Vec<Header>, name: &str) {
    headers.retain(|h| !h.name.eq_ignore_ascii_case(name));
}

fn set(headers: &mut Vec<Header>, name: &str, value: Vec<u8>) {
    match headers.iter().position(|h| h.name.eq_ignore_ascii_case(name)) {
        Some(first) => {
            headers[first] = Header::new(name, value);
            let mut index = 0;
            headers.retain(|h| {
                let keep = index <= first || !h.name.eq_ignore_ascii_case(name);
                index += 1;
                keep
            });
        }
        None => headers.push(Header::new(name, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, target: &str, headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: method.into(),
            target: target.into(),
            version: Version::Http11,
            headers: headers.iter().map(|(n, v)| Header::new(*n, v.as_bytes())).collect(),
            framing: BodyFraming::None,
            keep_alive: true,
            expect_continue: false,
        }
    }

    #[test]
    fn header_access_is_case_insensitive() {
        let mut h = head("GET", "/", &[("X-A", "1"), ("x-b", "2"), ("x-a", "3")]);
        assert_eq!(h.header("x-A"), Some(&b"1"[..]));
        assert_eq!(h.header_all("X-A").collect::<Vec<_>>(), [&b"1"[..], b"3"]);
        h.set_header("X-a", b"9");
        assert_eq!(h.headers, [Header::new("X-a", "9"), Header::new("x-b", "2")]);
        h.set_header("New", b"n");
        assert_eq!(h.headers.last(), Some(&Header::new("New", "n")));
        h.remove_header("X-B");
        assert_eq!(h.headers, [Header::new("X-a", "9"), Header::new("New", "n")]);
        assert_eq!(h.header("missing"), None);
    }

    #[test]
    fn path_query_and_host() {
        let h = head("GET", "/a/b?x=1&y", &[("Host", "h.example")]);
        assert_eq!((h.path(), h.query(), h.host()), ("/a/b", Some("x=1&y"), Some("h.example")));
        let h = head("GET", "http://h.example:8080?q", &[]);
        assert_eq!((h.path(), h.query(), h.host()), ("/", Some("q"), Some("h.example:8080")));
        let h = head("GET", "HTTP://h.example/p", &[]);
        assert_eq!((h.path(), h.host()), ("/p", Some("h.example")));
        let h = head("OPTIONS", "*", &[]);
        assert_eq!((h.path(), h.query(), h.host()), ("*", None, None));
        let h = head("CONNECT", "h.example:443", &[]);
        assert_eq!((h.path(), h.query()), ("", None));
        let h = head("GET", "/", &[("Host", "\u{e9}")]);
        assert_eq!(h.host(), Some("\u{e9}"));
    }

    #[test]
    fn response_header_access() {
        let mut r = ResponseHead {
            version: Version::Http11,
            status: 200,
            reason: "OK".into(),
            headers: vec![Header::new("A", "1")],
            framing: BodyFraming::None,
            keep_alive: true,
        };
        r.set_header("b", b"2");
        assert_eq!(r.header("B"), Some(&b"2"[..]));
        assert_eq!(r.header_all("a").count(), 1);
        r.remove_header("a");
        assert_eq!(r.headers, [Header::new("b", "2")]);
        assert_eq!(Version::Http10.as_str(), "HTTP/1.0");
    }
}
