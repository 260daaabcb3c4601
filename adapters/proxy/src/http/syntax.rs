//! Character classes and list helpers from RFC 9110 §5.6.

/// `tchar`: the characters of a token (method, field name, transfer coding).
pub(super) fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~')
}

/// Whether `s` is a non-empty token.
pub(super) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A byte of a request target: any visible ASCII character except `#` (a fragment is never
/// sent). Lenient about `"<>\^`{|}` like most servers; strict about controls, space and
/// non-ASCII.
pub(super) fn is_target_char(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b'#'
}

/// A byte of a field value, reason phrase or chunk extension: HTAB, SP, VCHAR or obs-text.
pub(super) fn is_field_char(b: u8) -> bool {
    b == b'\t' || (0x20..=0x7e).contains(&b) || b >= 0x80
}

/// A byte of an authority (`Host` value or absolute-form authority): reg-name / IP literal /
/// port characters. No userinfo (`@`), no path.
pub(super) fn is_authority_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'%'
        )
}

/// Whether `s` is a plausible non-empty authority.
pub(super) fn is_authority(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_authority_char(b))
}

/// Whether `s` is a `Host` value a gateway can route on without ambiguity (RFC 9112 §3.2,
/// RFC 3986 §3.2.2): a DNS-style name of non-empty labels (letters, digits, `-`, `_`; one
/// trailing dot allowed), an IPv4 address, or a bracketed IPv6 literal; then optionally `:`
/// and a decimal port. Anything else (`host:abc`, `host:80:80`, `a..b`, `.a`) is refused,
/// because the router and the upstream could read different hosts from it.
pub(super) fn is_host_field(s: &[u8]) -> bool {
    let (host, port) = match s.first() {
        Some(b'[') => {
            let Some(close) = s.iter().position(|&b| b == b']') else { return false };
            let (literal, rest) = s.split_at(close + 1);
            let inner = literal.get(1..literal.len() - 1).unwrap_or_default();
            let ok = !inner.is_empty()
                && inner.iter().all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
            if !ok {
                return false;
            }
            match rest.split_first() {
                None => return true,
                Some((b':', port)) => (&b"x"[..], port),
                Some(_) => return false,
            }
        }
        _ => match s.iter().position(|&b| b == b':') {
            Some(i) => (s.get(..i).unwrap_or_default(), s.get(i + 1..).unwrap_or_default()),
            None => (s, &b"0"[..]),
        },
    };
    let port_ok = !port.is_empty() && port.len() <= 5 && port.iter().all(u8::is_ascii_digit);
    let name = host.strip_suffix(b".").unwrap_or(host);
    let name_ok = !name.is_empty()
        && name.split(|&b| b == b'.').all(|label| {
            !label.is_empty()
                && label.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    port_ok && name_ok
}

/// `s` without leading and trailing optional whitespace (SP / HTAB).
pub(super) fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(s.len());
    let end = s.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// The elements of a comma-separated list value (`#rule`), trimmed, empty elements skipped.
pub(super) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows).filter(|e| !e.is_empty())
}

/// The target's authority and the rest, when it is in absolute-form (`http://` or `https://`,
/// scheme case-insensitive).
pub(super) fn split_absolute(target: &str) -> Option<(&str, &str)> {
    let bytes = target.as_bytes();
    let skip = if bytes.get(..7).is_some_and(|p| p.eq_ignore_ascii_case(b"http://")) {
        7
    } else if bytes.get(..8).is_some_and(|p| p.eq_ignore_ascii_case(b"https://")) {
        8
    } else {
        return None;
    };
    let rest = target.get(skip..)?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    Some((rest.get(..end)?, rest.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_splits_lists() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"  "), b"");
        assert_eq!(trim_ows(b""), b"");
        let v: Vec<&[u8]> = list_elements(b" a, ,b ,,\tc\t,").collect();
        assert_eq!(v, [&b"a"[..], b"b", b"c"]);
    }

    #[test]
    fn splits_absolute_form() {
        assert_eq!(split_absolute("http://a.example/x?y"), Some(("a.example", "/x?y")));
        assert_eq!(split_absolute("HTTPS://a:8443"), Some(("a:8443", "")));
        assert_eq!(split_absolute("http://a?q"), Some(("a", "?q")));
        assert_eq!(split_absolute("/x"), None);
        assert_eq!(split_absolute("ftp://a/"), None);
        assert_eq!(split_absolute("httpé://"), None);
    }

    #[test]
    fn classes() {
        assert!(is_token(b"GET"));
        assert!(!is_token(b""));
        assert!(!is_token(b"G T"));
        assert!(!is_target_char(b'#'));
        assert!(!is_target_char(b' '));
        assert!(!is_target_char(0x7f));
        assert!(!is_target_char(0x80));
        assert!(
            is_field_char(b'\t')
                && is_field_char(0xff)
                && !is_field_char(0)
                && !is_field_char(0x7f)
        );
        assert!(is_authority(b"[::1]:8080") && !is_authority(b"u@h") && !is_authority(b""));
    }
}

#[cfg(test)]
mod host_tests {
    use super::is_host_field;

    #[test]
    fn hosts_the_router_and_an_upstream_read_alike() {
        for ok in [
            "a.test",
            "a.test.",
            "a.test:80",
            "A-b_c.test:65535",
            "127.0.0.1:8080",
            "[::1]",
            "[::1]:80",
            "localhost",
        ] {
            assert!(is_host_field(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "a.test:abc",
            "a.test:80.",
            "a.test:+80",
            "a.test:80:80",
            "a..test",
            ".a.test",
            "a.test..",
            "a.test:",
            "[::1",
            "[::1]x",
            "",
            "a test",
            "a.test:123456",
            "[]",
        ] {
            assert!(!is_host_field(bad.as_bytes()), "{bad}");
        }
    }
}
