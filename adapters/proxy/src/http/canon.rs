//! Canonical request paths.
//!
//! The gateway picks a route's rules from the request path and forwards the request upstream. If
//! the upstream normalises paths more than the router did, a request routed under one prefix can
//! reach a resource under another: with `/public/*` open and `/api/*` protected,
//! `/public/../api/x` would pass as public and be served as `/api/x`. So the gateway computes one
//! canonical form, routes on it and forwards exactly it; whatever an upstream still normalises
//! cannot move the path to another prefix. Rules, applied to the path only:
//!
//! 1. The target must be in origin-form, starting with `/` (RFC 9112 §3.2.1); the caller turns
//!    absolute-form into origin-form first. The path ends at the first `?` (`#` gets no special
//!    treatment: the HTTP parser refuses it).
//! 2. Percent-escapes must be `%` and two hex digits. Escapes of unreserved characters are decoded
//!    and the others are kept with upper-case hex digits, the normalisations of RFC 3986 §6.2.2.1
//!    and §6.2.2.2 (RFC 9110 §4.2.3 treats both forms as equivalent, so an upstream may too).
//!    Decoding happens once (RFC 3986 §2.4): `%25` stays, so `%252e` is never a dot here. Escapes
//!    of `/`, `\` and NUL are refused, as are raw `\` and NUL: upstreams disagree on whether they
//!    separate segments or end the path, so no canonical form exists. Bytes outside visible ASCII
//!    are refused too (the HTTP parser already does, but this must hold for any `&str`).
//! 3. Repeated slashes are merged before dot segments are removed, as nginx does
//!    (`merge_slashes on`): `/a//../b` is `/b` for nginx, and a pure RFC 3986 merge (`/a/b`)
//!    would disagree with an nginx upstream about which prefix the request is under.
//! 4. Dot segments are removed after decoding (RFC 3986 §5.2.4, §6.2.2.3), so `%2e%2e` counts as
//!    `..`. A `..` above the root is refused (nginx answers 400 too) rather than silently dropped.
//!    A final `.` or `..` leaves a trailing slash: `/a/b/..` is `/a/`.
//! 5. A segment that is `.` or `..` followed by path parameters (`;`, RFC 3986 §3.3) is refused:
//!    servlet containers strip parameters and read `..;x` as `..`. An encoded `%3B` counts as `;`
//!    as well, for upstreams that decode before stripping parameters. Other `;` are left alone.
//! 6. The query, including its `?`, is kept byte for byte: it is not part of the route.
//!
//! The output is never longer than the input (decoding shrinks, upper-casing keeps length, dot
//! removal and slash merging shrink), the work is linear in its length, and nothing panics.

use core::fmt;

/// Why a request target was refused (all are answered 400 by the gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathError {
    /// The target does not start with `/`.
    NotOriginForm,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// `%2F` in the path.
    EncodedSlash,
    /// `\` or `%5C` in the path.
    Backslash,
    /// A NUL byte or `%00` in the path.
    Nul,
    /// A `.` or `..` segment carrying `;` parameters, such as `..;x`.
    DotSegmentParameter,
    /// A `..` segment that climbs above the root.
    AboveRoot,
    /// A non-ASCII byte, control character or space in the path.
    NonAscii,
}

impl PathError {
    /// A fixed snake_case code for logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotOriginForm => "not_origin_form",
            Self::BadEscape => "bad_escape",
            Self::EncodedSlash => "encoded_slash",
            Self::Backslash => "backslash",
            Self::Nul => "nul",
            Self::DotSegmentParameter => "dot_segment_parameter",
            Self::AboveRoot => "above_root",
            Self::NonAscii => "non_ascii",
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotOriginForm => "request target is not in origin-form",
            Self::BadEscape => "malformed percent-escape in path",
            Self::EncodedSlash => "encoded slash in path",
            Self::Backslash => "backslash in path",
            Self::Nul => "nul byte in path",
            Self::DotSegmentParameter => "dot segment with parameters in path",
            Self::AboveRoot => "path climbs above the root",
            Self::NonAscii => "non-ascii, control or space byte in path",
        })
    }
}

impl std::error::Error for PathError {}

/// Canonicalises the path of an origin-form request target (`/p?q`) under the rules of the module
/// documentation. Returns the canonical target: canonical path, then `?` and the query exactly as
/// received (if there was a `?`).
pub fn canonical_target(target: &str) -> Result<String, PathError> {
    let (path, query) = target.split_at(path_len(target));
    let Some(rest) = path.strip_prefix('/') else { return Err(PathError::NotOriginForm) };
    let mut out = String::with_capacity(target.len());
    let mut trailing_slash = false;
    for raw in rest.as_bytes().split(|&b| b == b'/') {
        let start = out.len();
        out.push('/');
        decode_segment(raw, &mut out)?;
        let kind = classify(out.as_bytes().get(start + 1..).unwrap_or_default())?;
        // The slash before a dropped segment becomes the trailing slash if nothing follows.
        trailing_slash = kind != Segment::Normal;
        if trailing_slash {
            out.truncate(start);
        }
        if kind == Segment::DotDot {
            let parent = out.rfind('/').ok_or(PathError::AboveRoot)?;
            out.truncate(parent);
        }
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    out.push_str(query);
    Ok(out)
}

/// Whether `target` is already canonical, that is `canonical_target(target) == Ok(target)`,
/// decided without allocating.
pub fn is_canonical(target: &str) -> bool {
    let path = &target.as_bytes()[..path_len(target)];
    let Some((b'/', rest)) = path.split_first() else { return false };
    // Without `//` in the path, an empty segment can only be the final one: a trailing slash.
    !path.windows(2).any(|w| w == b"//")
        && rest.split(|&b| b == b'/').all(|seg| seg.is_empty() || segment_is_canonical(seg))
}

/// Length of the path part of a canonical target, so the caller can slice the path without
/// re-scanning: the byte index of the first `?`, or the length of `canonical`.
pub fn path_len(canonical: &str) -> usize {
    canonical.bytes().position(|b| b == b'?').unwrap_or(canonical.len())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Segment {
    Empty,
    Dot,
    DotDot,
    Normal,
}

/// Classifies a decoded segment, refusing dot segments with parameters.
fn classify(seg: &[u8]) -> Result<Segment, PathError> {
    let dots = seg.iter().take_while(|&&b| b == b'.').count();
    match (dots, seg.split_at(dots).1) {
        (0, []) => Ok(Segment::Empty),
        (1, []) => Ok(Segment::Dot),
        (2, []) => Ok(Segment::DotDot),
        (1 | 2, [b';', ..] | [b'%', b'3', b'B', ..]) => Err(PathError::DotSegmentParameter),
        _ => Ok(Segment::Normal),
    }
}

/// Appends the normalised form of one raw segment to `out`; everything pushed is ASCII.
fn decode_segment(raw: &[u8], out: &mut String) -> Result<(), PathError> {
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let Some(&[hi, lo]) = raw.get(i + 1..i + 3) else { return Err(PathError::BadEscape) };
            let value = escape_value(hi, lo)?;
            if check_escaped(value)? {
                out.push(char::from(value));
            } else {
                out.push('%');
                out.push(char::from(hi.to_ascii_uppercase()));
                out.push(char::from(lo.to_ascii_uppercase()));
            }
            i += 3;
        } else {
            check_raw(b)?;
            out.push(char::from(b));
            i += 1;
        }
    }
    Ok(())
}

/// Whether a non-empty raw segment is already in the form [`decode_segment`] produces.
fn segment_is_canonical(seg: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = seg.get(i) {
        if b == b'%' {
            let Some(&[hi, lo]) = seg.get(i + 1..i + 3) else { return false };
            let upper = !hi.is_ascii_lowercase() && !lo.is_ascii_lowercase();
            if !upper || escape_value(hi, lo).and_then(check_escaped) != Ok(false) {
                return false;
            }
            i += 3;
        } else if check_raw(b).is_err() {
            return false;
        } else {
            i += 1;
        }
    }
    classify(seg) == Ok(Segment::Normal)
}

fn escape_value(hi: u8, lo: u8) -> Result<u8, PathError> {
    let digit = |b: u8| char::from(b).to_digit(16);
    match (digit(hi), digit(lo)) {
        // Two hex digits are at most 0xFF: the conversion cannot fail.
        (Some(h), Some(l)) => u8::try_from(h << 4 | l).map_err(|_| PathError::BadEscape),
        _ => Err(PathError::BadEscape),
    }
}

/// Checks the value of an escape; `Ok(true)` when it is unreserved and must be decoded.
fn check_escaped(value: u8) -> Result<bool, PathError> {
    match value {
        b'/' => Err(PathError::EncodedSlash),
        b'\\' => Err(PathError::Backslash),
        0 => Err(PathError::Nul),
        b'-' | b'.' | b'_' | b'~' => Ok(true),
        _ => Ok(value.is_ascii_alphanumeric()),
    }
}

/// Checks a byte that appears literally in the path.
fn check_raw(b: u8) -> Result<(), PathError> {
    match b {
        0 => Err(PathError::Nul),
        b'\\' => Err(PathError::Backslash),
        _ if !b.is_ascii_graphic() => Err(PathError::NonAscii),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::PathError::*;
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    #[rustfmt::skip]
    const CASES: &[(&str, Result<&str, PathError>)] = &[
        // Rule 1: origin-form only; the path ends at the first `?`.
        ("", Err(NotOriginForm)), ("*", Err(NotOriginForm)), ("a/b", Err(NotOriginForm)),
        ("http://h/a", Err(NotOriginForm)), ("?/a", Err(NotOriginForm)), ("/", Ok("/")),
        ("/a#/../b", Ok("/b")),
        // Rule 2: escapes.
        ("/a%", Err(BadEscape)), ("/a%2", Err(BadEscape)), ("/a%zz", Err(BadEscape)),
        ("/a%+1", Err(BadEscape)), ("/a%é", Err(BadEscape)),
        ("/%41%7a%2D%5f%7E%30", Ok("/Az-_~0")), ("/a%3fb%3Bc%c3%a9", Ok("/a%3Fb%3Bc%C3%A9")),
        ("/%25%2541", Ok("/%25%2541")), ("/a%2Fb", Err(EncodedSlash)),
        ("/a%2fb", Err(EncodedSlash)), ("/a%5cb", Err(Backslash)), ("/a%5C", Err(Backslash)),
        ("/a\\b", Err(Backslash)), ("/a%00", Err(Nul)), ("/a\0b", Err(Nul)), ("/é", Err(NonAscii)),
        ("/a b", Err(NonAscii)), ("/a\tb", Err(NonAscii)), ("/a\x7f", Err(NonAscii)),
        ("/a%0A%20%7F", Ok("/a%0A%20%7F")),
        // Rule 3: slashes merged before dot removal, as nginx does.
        ("//", Ok("/")), ("//a///b//", Ok("/a/b/")), ("/a//../b", Ok("/b")),
        // Rule 4: dot segments.
        ("/a/b/c/./../../g", Ok("/a/g")), ("/a/b/..", Ok("/a/")), ("/a/.", Ok("/a/")),
        ("/a/..", Ok("/")), ("/.", Ok("/")), ("/./a/./", Ok("/a/")), ("/..", Err(AboveRoot)),
        ("/a/../..", Err(AboveRoot)), ("/.../.a/..b/a..", Ok("/.../.a/..b/a..")),
        // Rule 5: dot segments with parameters.
        ("/a/..;x/b", Err(DotSegmentParameter)), ("/a/.;/b", Err(DotSegmentParameter)),
        ("/a/%2e;x", Err(DotSegmentParameter)), ("/a/..%3bx/b", Err(DotSegmentParameter)),
        ("/a;x/b;y/...;z/;", Ok("/a;x/b;y/...;z/;")), ("/a/x;/../b", Ok("/a/b")),
        // Rule 6: the query is untouched.
        ("/a?b=../c", Ok("/a?b=../c")), ("/a/./b?%2e%2E//x#y", Ok("/a/b?%2e%2E//x#y")),
        ("/%2e?%2e", Ok("/?%2e")), ("/a?", Ok("/a?")), ("/a?é\\\0", Ok("/a?é\\\0")),
        // Route confusion: `/public/*` open, `/api/*` protected.
        ("/public/../api/x", Ok("/api/x")), ("/public/%2e%2e/api/x", Ok("/api/x")),
        ("/public/.%2e/api/x", Ok("/api/x")), ("/public/%2E%2E/api/x", Ok("/api/x")),
        ("/public/..%2fapi/x", Err(EncodedSlash)), ("/public/..;/api/x", Err(DotSegmentParameter)),
        ("/public//../api/x", Ok("/api/x")), ("/public/..\\api/x", Err(Backslash)),
        ("/public/%5c../api/x", Err(Backslash)), ("/public/./../api/x", Ok("/api/x")),
        ("/%2e%2e/x", Err(AboveRoot)), ("/public/x/..%00/", Err(Nul)),
        ("/public/%252e%252e/api", Ok("/public/%252e%252e/api")),
    ];

    #[test]
    fn table() {
        for &(input, want) in CASES {
            let got = canonical_target(input);
            assert_eq!(got, want.map(String::from), "input {input:?}");
            assert_eq!(is_canonical(input), want == Ok(input), "is_canonical({input:?})");
            if input.starts_with("/public/") && !input.contains("%25") {
                assert!(!got.is_ok_and(|p| p.starts_with("/public/")), "input {input:?}");
            }
        }
    }

    #[test]
    fn codes_and_messages() {
        // Every variant has a case in the table.
        for e in CASES.iter().filter_map(|c| c.1.err()) {
            let code = e.code();
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code}");
            assert_eq!(e.to_string(), e.to_string().to_lowercase());
        }
        assert_eq!(EncodedSlash.code(), "encoded_slash");
        assert_eq!((path_len("/a/b?c?d"), path_len("/a/b"), path_len("")), (4, 4, 0));
    }

    /// What an upstream that decodes every escape once and then strips `;` parameters (a servlet
    /// container, say) makes of one segment.
    fn upstream_segment(seg: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&b) = seg.get(i) {
            match seg.get(i + 1..i + 3).map(|h| escape_value(h[0], h[1])) {
                Some(Ok(v)) if b == b'%' => (out.push(v), i += 3),
                _ => (out.push(b), i += 1),
            };
        }
        out.split(|&b| b == b';').next().unwrap_or_default().to_vec()
    }

    fn check(t: &str) -> Result<(), TestCaseError> {
        let res = canonical_target(t);
        prop_assert_eq!(is_canonical(t), res.as_deref() == Ok(t));
        let Ok(out) = res else { return Ok(()) };
        prop_assert!(out.len() <= t.len());
        prop_assert_eq!(canonical_target(&out), Ok(out.clone()));
        let (path, query) = out.split_at(path_len(&out));
        prop_assert_eq!(query, &t[path_len(t)..]);
        prop_assert!(path.starts_with('/') && !path.contains("//") && !path.contains('\\'));
        for bad in ["%2F", "%2f", "%2E", "%2e", "%5C", "%5c", "%00"] {
            prop_assert!(!path.contains(bad), "{} in {}", bad, path);
        }
        let upper_hex = |b: &u8| matches!(b, b'0'..=b'9' | b'A'..=b'F');
        let hex = |e: &str| e.bytes().take(2).filter(upper_hex).count() == 2;
        prop_assert!(path.split('%').skip(1).all(hex), "lowercase or bad escape in {}", path);
        for seg in path.as_bytes()[1..].split(|&b| b == b'/') {
            prop_assert!(seg != b"." && seg != b"..", "dot segment in {}", path);
            let up = upstream_segment(seg);
            prop_assert!(up != b"." && up != b".." && !up.contains(&b'/') && !up.contains(&b'\\'));
        }
        Ok(())
    }

    /// Pieces that make the interesting cases likely.
    const PIECES: &[&str] = &[
        "/", "/", "/", ".", "..", "%2e", "%2E", "%2f", "%5c", "%00", "%25", "%41", "%3f", "%3b",
        "%", "%4", "%zz", ";", "?", "#", "\\", "\0", "a", "b", "é", " ", "~", "%7e", "%C3%a9",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn arbitrary_strings(t in any::<String>()) { check(&t)?; check(&format!("/{t}"))?; }
        #[test]
        fn path_like_strings(slash: bool, pieces in prop::collection::vec(select(PIECES), 0..24)) {
            check(&format!("{}{}", if slash { "/" } else { "" }, pieces.concat()))?;
        }
    }
}
