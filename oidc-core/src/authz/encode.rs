//! RFC 3986 query encoding and `application/x-www-form-urlencoded` decoding, by hand: the `url`
//! crate is not in this crate's tree and these are the only two operations needed.

use alloc::string::String;
use alloc::vec::Vec;

/// Percent-encodes `value` for a query component: every byte but RFC 3986's unreserved set
/// (`ALPHA / DIGIT / "-" / "." / "_" / "~"`), so the result means the same to every parser,
/// whether it decodes `+` as a space or not.
pub(crate) fn query_encode(out: &mut String, value: &str) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 15));
        }
    }
}

/// Appends `name=value`, both encoded.
pub(crate) fn query_pair(out: &mut String, name: &str, value: &str) {
    query_encode(out, name);
    out.push('=');
    query_encode(out, value);
}

fn hex_digit(n: u8) -> char {
    char::from(if n < 10 { b'0' + n } else { b'A' + (n - 10) })
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one form-encoded component (`+` is a space, `%XX` a byte) into UTF-8 text, or
/// `None` for a bad escape or invalid UTF-8.
pub(crate) fn form_decode(input: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let [hi, lo, tail @ ..] = rest else { return None };
                out.push(hex_value(*hi)? << 4 | hex_value(*lo)?);
                rest = tail;
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}
