//! Incremental head parsing.
//!
//! Each parser is called with the whole buffered input each time more bytes arrive, and returns
//! `Ok(None)` until it can decide. The decision only ever depends on the bytes up to the point
//! where it is taken (the end of the head, the first invalid byte, or the byte past
//! [`Limits::max_head_bytes`]), so feeding a message one byte at a time gives the same result as
//! feeding it whole.
//!
//! The start line is scanned here, byte by byte, so that a bad request line (or an overlong
//! target) is rejected as soon as it is seen. The end of the head is then located with a scan
//! that insists on CRLF line endings: `httparse` accepts a bare LF as a line terminator and
//! skips bare-LF empty lines, which a front-end must not do when the server behind it may read
//! the same bytes differently. Only then are the field lines handed to
//! [`httparse::parse_headers`], which checks names are tokens, values are field characters, and
//! rejects line folding (its default configuration).

use httparse::Status;

use super::error::{Limits, ParseError};
use super::head::{BodyFraming, Header, RequestHead, ResponseHead, Version};
use super::syntax::{
    is_authority, is_field_char, is_host_field, is_target_char, is_tchar, is_token, list_elements,
    split_absolute, trim_ows,
};

/// What the parsers return: `Ok(None)` while more bytes are needed.
type Parsed<T> = Result<Option<(T, usize)>, ParseError>;

/// Parses a request head from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, or `Ok(Some((head, consumed)))` where
/// `consumed` counts the head and any empty lines before the request line (RFC 9112 §2.2); the
/// body, if any, starts at `buf[consumed..]`.
///
/// # Errors
///
/// Any [`ParseError`]: syntax errors as soon as the offending byte is buffered, an overlong
/// request target ([`ParseError::UriTooLong`]) as soon as its first excess byte is, a head that
/// has not ended within [`Limits::max_head_bytes`] ([`ParseError::HeadTooLarge`]), and the
/// framing and `Host` rules once the head is complete.
pub fn parse_request_head(buf: &[u8], limits: &Limits) -> Parsed<RequestHead> {
    let window = buf.get(..limits.max_head_bytes).unwrap_or(buf);
    let incomplete =
        if buf.len() > limits.max_head_bytes { Err(ParseError::HeadTooLarge) } else { Ok(None) };
    let Some(start) = skip_empty_lines(window)? else { return incomplete };
    let Some(line) = request_line(window, start, limits)? else { return incomplete };
    let Some((end, lines)) = head_end(window, line.end)? else { return incomplete };
    let headers =
        field_lines(window.get(line.end..end).ok_or(ParseError::Malformed)?, lines, limits)?;

    let method = line.method;
    let target = line.target;
    let version = line.version;
    check_host(&headers, &target, version)?;
    let framing = message_framing(&headers, version)?.unwrap_or(BodyFraming::None);
    let keep_alive = keep_alive(&headers, version);
    let expect_continue = version == Version::Http11
        && values(&headers, "expect")
            .flat_map(list_elements)
            .any(|e| e.eq_ignore_ascii_case(b"100-continue"));
    let head =
        RequestHead { method, target, version, headers, framing, keep_alive, expect_continue };
    Ok(Some((head, end)))
}

/// Parses a response head from the start of `buf`, for a request made with `request_method`.
///
/// Returns `Ok(None)` when more bytes are needed, or `Ok(Some((head, consumed)))`. The framing
/// follows RFC 9112 §6.3: no body for a `HEAD` request, a 1xx, 204 or 304 status, or a 2xx to
/// `CONNECT`; otherwise chunked, `Content-Length`, or [`BodyFraming::UntilClose`]. A 1xx head
/// is returned like any other: the final response follows it.
///
/// # Errors
///
/// Any [`ParseError`], as for [`parse_request_head`] (a gateway answers them with 502). A
/// `Transfer-Encoding` other than a lone `chunked` is refused too, since the codings could not
/// be forwarded once the hop-by-hop field is stripped.
pub fn parse_response_head(
    buf: &[u8],
    limits: &Limits,
    request_method: &str,
) -> Parsed<ResponseHead> {
    let window = buf.get(..limits.max_head_bytes).unwrap_or(buf);
    let incomplete =
        if buf.len() > limits.max_head_bytes { Err(ParseError::HeadTooLarge) } else { Ok(None) };
    let Some(line) = status_line(window)? else { return incomplete };
    let Some((end, lines)) = head_end(window, line.end)? else { return incomplete };
    let headers =
        field_lines(window.get(line.end..end).ok_or(ParseError::Malformed)?, lines, limits)?;

    let StatusLine { version, status, reason, .. } = line;
    let tunnel = request_method == "CONNECT" && (200..300).contains(&status);
    let no_body =
        request_method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304;
    let framing = if no_body || tunnel {
        BodyFraming::None
    } else {
        message_framing(&headers, version)?.unwrap_or(BodyFraming::UntilClose)
    };
    let keep_alive = keep_alive(&headers, version)
        && framing != BodyFraming::UntilClose
        && !tunnel
        && status != 101;
    Ok(Some((ResponseHead { version, status, reason, headers, framing, keep_alive }, end)))
}

/// Skips CRLF empty lines before a request line; `None` if the window ends first.
fn skip_empty_lines(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let mut i = 0;
    loop {
        match buf.get(i) {
            None => return Ok(None),
            Some(b'\r') => match buf.get(i + 1) {
                None => return Ok(None),
                Some(b'\n') => i += 2,
                Some(_) => return Err(ParseError::Malformed),
            },
            Some(b'\n') => return Err(ParseError::Malformed),
            Some(_) => return Ok(Some(i)),
        }
    }
}

struct RequestLine {
    method: String,
    target: String,
    version: Version,
    /// Offset just past the line's CRLF.
    end: usize,
}

/// `method SP request-target SP HTTP-version CRLF`, exactly one SP each (RFC 9112 §3).
fn request_line(
    buf: &[u8],
    start: usize,
    limits: &Limits,
) -> Result<Option<RequestLine>, ParseError> {
    let mut i = start;
    loop {
        match buf.get(i) {
            None => return Ok(None),
            Some(b' ') if i > start => break,
            Some(&b) if is_tchar(b) => i += 1,
            Some(_) => return Err(ParseError::Malformed),
        }
    }
    let method = ascii(buf.get(start..i))?;
    i += 1;
    let target_start = i;
    loop {
        match buf.get(i) {
            None => return Ok(None),
            Some(b' ') if i > target_start => break,
            Some(&b) if is_target_char(b) => {
                if i - target_start >= limits.max_uri_bytes {
                    return Err(ParseError::UriTooLong);
                }
                i += 1;
            }
            Some(_) => return Err(ParseError::Malformed),
        }
    }
    let target = ascii(buf.get(target_start..i))?;
    let Some((version, i)) = version(buf, i + 1)? else { return Ok(None) };
    let Some(end) = crlf(buf, i)? else { return Ok(None) };
    check_target_form(&method, &target)?;
    Ok(Some(RequestLine { method, target, version, end }))
}

/// The request-target forms of RFC 9112 §3.2, each only with the methods that use it.
fn check_target_form(method: &str, target: &str) -> Result<(), ParseError> {
    let ok = if method == "CONNECT" {
        is_authority(target.as_bytes())
    } else if target.starts_with('/') {
        true
    } else if target == "*" {
        method == "OPTIONS"
    } else {
        split_absolute(target).is_some_and(|(authority, _)| is_authority(authority.as_bytes()))
    };
    if ok { Ok(()) } else { Err(ParseError::Malformed) }
}

/// `HTTP/d.d` at `i`: the version and the offset after it.
fn version(buf: &[u8], i: usize) -> Result<Option<(Version, usize)>, ParseError> {
    const PATTERN: &[u8; 8] = b"HTTP/d.d";
    let mut digits = [0u8; 2];
    for (k, &p) in PATTERN.iter().enumerate() {
        let Some(&b) = buf.get(i + k) else { return Ok(None) };
        match p {
            b'd' if b.is_ascii_digit() => digits[k / 7] = b - b'0',
            b'd' => return Err(ParseError::Malformed),
            _ if b == p => {}
            _ => return Err(ParseError::Malformed),
        }
    }
    match digits {
        [1, 0] => Ok(Some((Version::Http10, i + 8))),
        [1, _] => Ok(Some((Version::Http11, i + 8))),
        _ => Err(ParseError::UnsupportedVersion),
    }
}

/// CRLF at `i`: the offset after it.
fn crlf(buf: &[u8], i: usize) -> Result<Option<usize>, ParseError> {
    match (buf.get(i), buf.get(i + 1)) {
        (None, _) | (Some(b'\r'), None) => Ok(None),
        (Some(b'\r'), Some(b'\n')) => Ok(Some(i + 2)),
        _ => Err(ParseError::Malformed),
    }
}

struct StatusLine {
    version: Version,
    status: u16,
    reason: String,
    end: usize,
}

/// `HTTP-version SP 3DIGIT [SP reason-phrase] CRLF` (RFC 9112 §4; a missing reason is
/// tolerated).
fn status_line(buf: &[u8]) -> Result<Option<StatusLine>, ParseError> {
    let Some((version, mut i)) = version(buf, 0)? else { return Ok(None) };
    match buf.get(i) {
        None => return Ok(None),
        Some(b' ') => i += 1,
        Some(_) => return Err(ParseError::Malformed),
    }
    let mut status = 0u16;
    for _ in 0..3 {
        match buf.get(i) {
            None => return Ok(None),
            Some(&d) if d.is_ascii_digit() => status = status * 10 + u16::from(d - b'0'),
            Some(_) => return Err(ParseError::Malformed),
        }
        i += 1;
    }
    if !(100..=599).contains(&status) {
        return Err(ParseError::Malformed);
    }
    let reason_start = match buf.get(i) {
        None => return Ok(None),
        Some(b' ') => i + 1,
        Some(b'\r') => i,
        Some(_) => return Err(ParseError::Malformed),
    };
    i = reason_start;
    loop {
        match buf.get(i) {
            None => return Ok(None),
            Some(b'\r') => break,
            Some(&b) if is_field_char(b) => i += 1,
            Some(_) => return Err(ParseError::Malformed),
        }
    }
    let reason = String::from_utf8_lossy(buf.get(reason_start..i).unwrap_or_default()).into_owned();
    let Some(end) = crlf(buf, i)? else { return Ok(None) };
    Ok(Some(StatusLine { version, status, reason, end }))
}

/// Finds the empty line ending the field section that starts at `from`, insisting on CRLF:
/// the offset after it and the number of field lines before it.
fn head_end(buf: &[u8], from: usize) -> Result<Option<(usize, usize)>, ParseError> {
    let mut line_start = from;
    let mut lines = 0;
    loop {
        let rest = buf.get(line_start..).unwrap_or_default();
        let Some(at) = memchr::memchr2(b'\r', b'\n', rest) else { return Ok(None) };
        let i = line_start + at;
        let Some(next) = crlf(buf, i)? else { return Ok(None) };
        if i == line_start {
            return Ok(Some((next, lines)));
        }
        lines += 1;
        line_start = next;
    }
}

/// Parses `lines` field lines (the section including its final CRLF) with httparse.
fn field_lines(section: &[u8], lines: usize, limits: &Limits) -> Result<Vec<Header>, ParseError> {
    // `lines` bounds the slots needed, so a huge `max_headers` never allocates more than the
    // head holds; with more lines than `max_headers`, httparse runs out of slots and says so.
    let mut raw = vec![httparse::EMPTY_HEADER; lines.min(limits.max_headers)];
    match httparse::parse_headers(section, &mut raw) {
        Ok(Status::Complete((n, parsed))) if n == section.len() => Ok(parsed
            .iter()
            .map(|h| Header { name: h.name.to_owned(), value: h.value.to_vec() })
            .collect()),
        Err(httparse::Error::TooManyHeaders) => Err(ParseError::TooManyHeaders),
        _ => Err(ParseError::Malformed),
    }
}

/// `Host` rules for requests (RFC 9112 §3.2): exactly one in HTTP/1.1, at most one in 1.0, a
/// valid authority, equal to the target's authority in absolute-form.
fn check_host(headers: &[Header], target: &str, version: Version) -> Result<(), ParseError> {
    let mut hosts = values(headers, "host");
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(ParseError::BadHost);
    }
    match host {
        None if version == Version::Http11 => Err(ParseError::BadHost),
        None => match split_absolute(target) {
            Some((authority, _)) if !is_host_field(authority.as_bytes()) => {
                Err(ParseError::BadHost)
            }
            _ => Ok(()),
        },
        Some(host) if !is_authority(host) || !is_host_field(host) => Err(ParseError::BadHost),
        Some(host) => match split_absolute(target) {
            Some((authority, _)) if !host.eq_ignore_ascii_case(authority.as_bytes()) => {
                Err(ParseError::BadHost)
            }
            _ => Ok(()),
        },
    }
}

/// Framing from `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.1-§6.3); `None` when
/// neither is present.
fn message_framing(
    headers: &[Header],
    version: Version,
) -> Result<Option<BodyFraming>, ParseError> {
    let has_te = values(headers, "transfer-encoding").next().is_some();
    let has_cl = values(headers, "content-length").next().is_some();
    if has_te {
        if version == Version::Http10 {
            return Err(ParseError::BadTransferEncoding);
        }
        if has_cl {
            return Err(ParseError::ContentLengthAndTransferEncoding);
        }
        return transfer_coding(headers).map(Some);
    }
    if !has_cl {
        return Ok(None);
    }
    let mut length = None;
    for value in values(headers, "content-length") {
        // A list value ("5, 5") is a recipient's problem per RFC 9110 §8.6: accept identical
        // repeats, refuse anything else. Empty elements are not numbers.
        for element in value.split(|&b| b == b',') {
            let n = decimal(trim_ows(element)).ok_or(ParseError::BadContentLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(ParseError::ConflictingContentLength);
            }
            length = Some(n);
        }
    }
    Ok(length.map(BodyFraming::ContentLength))
}

/// `1*DIGIT` as a `u64`.
fn decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(b - b'0')) } else { None }
    })
}

/// Only a lone `chunked` is accepted (case-insensitive, list syntax across field lines).
fn transfer_coding(headers: &[Header]) -> Result<BodyFraming, ParseError> {
    let mut count = 0usize;
    let mut last_chunked = None;
    let mut chunked_not_last = false;
    for element in values(headers, "transfer-encoding").flat_map(list_elements) {
        let name_len = element.iter().position(|&b| !is_tchar(b)).unwrap_or(element.len());
        let (name, params) = element.split_at(name_len);
        let params = trim_ows(params);
        if !is_token(name) || params.first().is_some_and(|&b| b != b';') {
            return Err(ParseError::BadTransferEncoding);
        }
        if last_chunked == Some(true) {
            chunked_not_last = true;
        }
        last_chunked = Some(params.is_empty() && name.eq_ignore_ascii_case(b"chunked"));
        count += 1;
    }
    match last_chunked {
        Some(true) if chunked_not_last => Err(ParseError::BadTransferEncoding),
        Some(true) if count == 1 => Ok(BodyFraming::Chunked),
        Some(true) => Err(ParseError::UnsupportedTransferEncoding),
        // Chunked is not final (or the field is empty): the length cannot be determined.
        Some(false) | None => Err(ParseError::BadTransferEncoding),
    }
}

/// Persistence from the version and the `Connection` options (RFC 9112 §9.3).
fn keep_alive(headers: &[Header], version: Version) -> bool {
    let mut close = false;
    let mut keep = false;
    for option in values(headers, "connection").flat_map(list_elements) {
        close |= option.eq_ignore_ascii_case(b"close");
        keep |= option.eq_ignore_ascii_case(b"keep-alive");
    }
    !close && (version == Version::Http11 || keep)
}

fn values<'a>(headers: &'a [Header], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_slice())
}

fn ascii(bytes: Option<&[u8]>) -> Result<String, ParseError> {
    let bytes = bytes.ok_or(ParseError::Malformed)?;
    std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| ParseError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(lines: &[(&str, &str)]) -> Vec<Header> {
        lines.iter().map(|(n, v)| Header::new(*n, v.as_bytes())).collect()
    }

    #[test]
    fn decimals() {
        assert_eq!(decimal(b"0"), Some(0));
        assert_eq!(decimal(b"0018446744073709551615"), Some(u64::MAX));
        assert_eq!(decimal(b"18446744073709551616"), None);
        assert_eq!(decimal(b""), None);
        assert_eq!(decimal(b"1 "), None);
    }

    #[test]
    fn versions() {
        assert_eq!(version(b"HTTP/1.1", 0), Ok(Some((Version::Http11, 8))));
        assert_eq!(version(b"xHTTP/1.0", 1), Ok(Some((Version::Http10, 9))));
        assert_eq!(version(b"HTTP/1.9", 0), Ok(Some((Version::Http11, 8))));
        assert_eq!(version(b"HTTP/1.", 0), Ok(None));
        assert_eq!(version(b"HTTP/2.0", 0), Err(ParseError::UnsupportedVersion));
        assert_eq!(version(b"HTTP/a", 0), Err(ParseError::Malformed));
        assert_eq!(version(b"HTTP 1.1", 0), Err(ParseError::Malformed));
    }

    #[test]
    fn head_ends() {
        assert_eq!(head_end(b"\r\n", 0), Ok(Some((2, 0))));
        assert_eq!(head_end(b"A: b\r\nC: d\r\n\r\nbody\n", 0), Ok(Some((14, 2))));
        assert_eq!(head_end(b"A: b\r\n\r", 0), Ok(None));
        assert_eq!(head_end(b"A: b\r\n", 0), Ok(None));
        assert_eq!(head_end(b"A: b\n", 0), Err(ParseError::Malformed));
        assert_eq!(head_end(b"A: b\r\r\n", 0), Err(ParseError::Malformed));
    }

    #[test]
    fn codings() {
        let te = |v: &str| transfer_coding(&fields(&[("Transfer-Encoding", v)]));
        assert_eq!(te("chunked"), Ok(BodyFraming::Chunked));
        assert_eq!(te(" , CHUNKED ,"), Ok(BodyFraming::Chunked));
        assert_eq!(te("gzip, chunked"), Err(ParseError::UnsupportedTransferEncoding));
        assert_eq!(te("gzip;level=1, chunked"), Err(ParseError::UnsupportedTransferEncoding));
        assert_eq!(te("chunked, gzip"), Err(ParseError::BadTransferEncoding));
        assert_eq!(te("chunked, chunked"), Err(ParseError::BadTransferEncoding));
        assert_eq!(te("gzip"), Err(ParseError::BadTransferEncoding));
        assert_eq!(te("gzip x, chunked"), Err(ParseError::BadTransferEncoding));
        assert_eq!(te(""), Err(ParseError::BadTransferEncoding));
    }

    #[test]
    fn framing_and_persistence() {
        let f = fields(&[("Content-Length", "3"), ("content-length", " 3 ")]);
        assert_eq!(message_framing(&f, Version::Http11), Ok(Some(BodyFraming::ContentLength(3))));
        assert_eq!(message_framing(&[], Version::Http11), Ok(None));
        let f = fields(&[("Connection", "Keep-Alive")]);
        assert!(keep_alive(&f, Version::Http10) && keep_alive(&f, Version::Http11));
        assert!(!keep_alive(&[], Version::Http10));
        let f = fields(&[("Connection", "x, close")]);
        assert!(!keep_alive(&f, Version::Http11));
    }

    #[test]
    fn target_forms() {
        assert_eq!(check_target_form("GET", "/x"), Ok(()));
        assert_eq!(check_target_form("OPTIONS", "*"), Ok(()));
        assert_eq!(check_target_form("CONNECT", "h:1"), Ok(()));
        assert_eq!(check_target_form("GET", "http://h"), Ok(()));
        assert_eq!(check_target_form("GET", "http://"), Err(ParseError::Malformed));
        assert_eq!(check_target_form("GET", "*"), Err(ParseError::Malformed));
        assert_eq!(check_target_form("CONNECT", "/"), Err(ParseError::Malformed));
        assert_eq!(check_target_form("GET", "x"), Err(ParseError::Malformed));
    }
}
