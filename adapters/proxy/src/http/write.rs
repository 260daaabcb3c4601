//! Head serialisation.
//!
//! The heads' fields are public, so a caller can put anything in them (a header value taken
//! from a token claim, say). The writers never let that break the framing: field lines whose
//! name is not a token are left out, control characters in values and the reason phrase become
//! spaces, bytes of the target outside VCHAR are percent-encoded, and bytes of the method outside
//! tchar become `_`. Input that came out of the parsers passes through unchanged.

use super::head::{Header, RequestHead, Version};
use super::syntax::{is_target_char, is_tchar, is_token};

/// Appends `method SP target SP HTTP/1.1 CRLF`, the field lines as stored, and the empty line.
/// The version is always HTTP/1.1, whatever the client spoke.
pub fn write_request_head(head: &RequestHead, out: &mut Vec<u8>) {
    out.reserve(head.method.len() + head.target.len() + 64 * (head.headers.len() + 1));
    if head.method.is_empty() {
        out.push(b'_');
    }
    out.extend(head.method.bytes().map(|b| if is_tchar(b) { b } else { b'_' }));
    out.push(b' ');
    if head.target.is_empty() {
        out.push(b'/');
    }
    for b in head.target.bytes() {
        if is_target_char(b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    write_fields(&head.headers, out);
}

/// Appends `version SP status SP reason CRLF`, `headers` as given, and the empty line. A status
/// outside 100..=999 is written as 500.
pub fn write_response_head(
    version: Version,
    status: u16,
    reason: &str,
    headers: &[Header],
    out: &mut Vec<u8>,
) {
    let status = if (100..=999).contains(&status) { status } else { 500 };
    out.reserve(reason.len() + 64 * (headers.len() + 1));
    out.extend_from_slice(version.as_str().as_bytes());
    out.push(b' ');
    for digit in [status / 100, status / 10 % 10, status % 10] {
        out.push(b"0123456789"[usize::from(digit)]);
    }
    out.push(b' ');
    out.extend(reason.bytes().map(field_byte));
    out.extend_from_slice(b"\r\n");
    write_fields(headers, out);
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn write_fields(headers: &[Header], out: &mut Vec<u8>) {
    for h in headers.iter().filter(|h| is_token(h.name.as_bytes())) {
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        // Values from the parsers are clean: one copy. The check does not stop early, so it
        // compiles to a vector loop.
        if h.value.iter().fold(true, |ok, &b| ok & super::syntax::is_field_char(b)) {
            out.extend_from_slice(&h.value);
        } else {
            out.extend(h.value.iter().copied().map(field_byte));
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Field characters pass; any other byte (CR, LF, NUL, DEL, ...) becomes SP.
fn field_byte(b: u8) -> u8 {
    if super::syntax::is_field_char(b) { b } else { b' ' }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::BodyFraming;

    #[test]
    fn writes_heads() {
        let head = RequestHead {
            method: "GET".into(),
            target: "/a?b".into(),
            version: Version::Http10,
            headers: vec![Header::new("Host", "h"), Header::new("X-Empty", "")],
            framing: BodyFraming::None,
            keep_alive: false,
            expect_continue: false,
        };
        let mut out = Vec::new();
        write_request_head(&head, &mut out);
        assert_eq!(out, b"GET /a?b HTTP/1.1\r\nHost: h\r\nX-Empty: \r\n\r\n");
        out.clear();
        write_response_head(Version::Http10, 204, "No Content", &[], &mut out);
        assert_eq!(out, b"HTTP/1.0 204 No Content\r\n\r\n");
    }

    #[test]
    fn never_lets_fields_break_the_framing() {
        let head = RequestHead {
            method: "G T\r\n".into(),
            target: "/a b\r\nX: y#\u{e9}".into(),
            version: Version::Http11,
            headers: vec![
                Header::new("X-User", "alice\r\nX-Admin: true"),
                Header::new("Bad Name", "v"),
                Header::new("", "v"),
                Header::new("Nul", b"a\0b\x7f".to_vec()),
            ],
            framing: BodyFraming::None,
            keep_alive: true,
            expect_continue: false,
        };
        let mut out = Vec::new();
        write_request_head(&head, &mut out);
        assert_eq!(
            out,
            b"G_T__ /a%20b%0D%0AX:%20y%23%C3%A9 HTTP/1.1\r\nX-User: alice  X-Admin: true\r\n\
              Nul: a b \r\n\r\n"
                .as_slice()
        );
        out.clear();
        write_response_head(Version::Http11, 42, "a\r\nb", &[], &mut out);
        assert_eq!(out, b"HTTP/1.1 500 a  b\r\n\r\n");
        out.clear();
        let empty = RequestHead { method: String::new(), target: String::new(), ..head };
        write_request_head(&RequestHead { headers: vec![], ..empty }, &mut out);
        assert_eq!(out, b"_ / HTTP/1.1\r\n\r\n");
    }
}
