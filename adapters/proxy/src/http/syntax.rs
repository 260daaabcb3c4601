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
