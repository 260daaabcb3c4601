//! Chunk naming, the chunk plan of a sealed value, and collecting chunks from `Cookie` headers.
//!
//! Browsers keep about 4 KiB per cookie (name and value together), so a longer value is split:
//! `<name>`, `<name>2`, ..., `<name>9`, the scheme lua-resty-session (and so APISIX) uses. Every
//! chunk but the last holds a multiple of four base64url characters, so each decodes on its own
//! into one buffer, with no concatenation first.

use super::NoSession;

/// The most chunks any configuration may use: names stay one digit (`<name>2` .. `<name>9`), as
/// in lua-resty-session.
pub const MAX_CHUNKS: usize = 9;

/// How large a session cookie may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieLimits {
    /// Most bytes of `name=value` in one chunk (attributes not counted). Browsers keep at least
    /// 4096 per cookie; 4000 leaves room for the ones that count more than name and value.
    pub chunk_bytes: usize,
    /// Most chunks, 1 to [`MAX_CHUNKS`]. A session that needs more is refused when sealed
    /// ([`SealError::TooLarge`](super::SealError::TooLarge)), and a request carrying more does
    /// not open.
    pub max_chunks: usize,
}

impl CookieLimits {
    /// Bytes of a request head kept free for everything but the session cookie.
    pub const HEAD_RESERVE: usize = 4096;

    /// The budget that keeps a request carrying the whole session cookie under
    /// `max_request_head_bytes`: [`HEAD_RESERVE`](Self::HEAD_RESERVE) bytes stay for the
    /// request line and other headers, the rest is split into 4000-byte chunks (at least one,
    /// at most [`MAX_CHUNKS`]). A budget larger than the gateway's own head limit would let a
    /// login succeed and then lock the user out with 431 on every later request.
    pub const fn for_request_head_limit(max_request_head_bytes: usize) -> Self {
        let chunk_bytes = 4000;
        let n = max_request_head_bytes.saturating_sub(Self::HEAD_RESERVE) / chunk_bytes;
        let max_chunks = if n == 0 {
            1
        } else if n > MAX_CHUNKS {
            MAX_CHUNKS
        } else {
            n
        };
        Self { chunk_bytes, max_chunks }
    }
}

impl Default for CookieLimits {
    /// For the gateway's default 16 KiB request head: three chunks of 4000 bytes.
    fn default() -> Self {
        Self::for_request_head_limit(16 * 1024)
    }
}

/// Length of chunk `index`'s name (1-based; `<name>` for 1, `<name>N` after).
pub(crate) const fn chunk_name_len(name_len: usize, index: usize) -> usize {
    if index <= 1 { name_len } else { name_len + 1 }
}

/// How many base64url characters chunk `index` can hold: what is left of `chunk_bytes` after
/// `name=`, rounded down to a multiple of four.
pub(crate) const fn chunk_capacity(limits: &CookieLimits, name_len: usize, index: usize) -> usize {
    let room = limits.chunk_bytes.saturating_sub(chunk_name_len(name_len, index) + 1);
    room - room % 4
}

/// How many chunks a value of `encoded_len` characters needs (at least one), or `None` if it
/// needs more than `limits.max_chunks`.
pub(crate) fn plan(limits: &CookieLimits, name_len: usize, encoded_len: usize) -> Option<usize> {
    let mut held = 0;
    for index in 1..=limits.max_chunks.min(MAX_CHUNKS) {
        held += chunk_capacity(limits, name_len, index);
        if held >= encoded_len {
            return Some(index);
        }
    }
    None
}

/// Chunks needed without any budget (for the error message).
pub(crate) fn chunks_needed(limits: &CookieLimits, name_len: usize, encoded_len: usize) -> usize {
    let first = chunk_capacity(limits, name_len, 1);
    let rest = chunk_capacity(limits, name_len, 2).max(1);
    1 + encoded_len.saturating_sub(first).div_ceil(rest)
}

/// The session's chunks as one request carried them, borrowed from its `Cookie` headers.
///
/// Collecting allocates nothing: at most [`MAX_CHUNKS`] slices are kept. When a name appears
/// twice (cookies set for different paths or domains), the first occurrence is kept: browsers
/// send the cookie with the longest matching path first, which is the one this route set.
#[derive(Clone, Copy, Default)]
pub struct SessionCookies<'a> {
    chunks: [Option<&'a [u8]>; MAX_CHUNKS],
    carried: usize,
}

impl core::fmt::Debug for SessionCookies<'_> {
    // The values are credentials: only which chunks are present.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut list = f.debug_list();
        for (i, c) in self.chunks.iter().enumerate() {
            if let Some(c) = c {
                list.entry(&format_args!("#{}: {} bytes", i + 1, c.len()));
            }
        }
        list.finish()
    }
}

impl<'a> SessionCookies<'a> {
    /// Collects the chunks of the cookie called `name` from the values of a request's `Cookie`
    /// headers (`a=1; b=2`; several headers are allowed, as HTTP/2 sends them).
    pub fn collect<I>(name: &str, cookie_headers: I) -> Self
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut jar = Self::default();
        for header in cookie_headers {
            for pair in Pairs(header) {
                let pair = trim_ows(pair);
                let Some(eq) = pair.iter().position(|&b| b == b'=') else { continue };
                let (key, value) = pair.split_at(eq);
                let Some(index) = chunk_index(name.as_bytes(), trim_ows(key)) else { continue };
                let value = trim_ows(value.get(1..).unwrap_or_default());
                jar.carried = jar.carried.max(index);
                if let Some(slot @ None) = jar.chunks.get_mut(index - 1) {
                    *slot = Some(value);
                }
            }
        }
        jar
    }

    /// Chunk `index` (1-based), if the request carried it.
    pub fn chunk(&self, index: usize) -> Option<&'a [u8]> {
        self.chunks.get(index.checked_sub(1)?).copied().flatten()
    }

    /// The highest chunk index the request carried (0: none). A later seal or clear expires
    /// every chunk up to it that the new value does not use.
    pub fn carried(&self) -> usize {
        self.carried
    }

    /// Checks the carried chunks against the count the sealed header announced: `1..=count`
    /// all present, nothing above.
    pub(crate) fn check_count(&self, count: usize) -> Result<(), NoSession> {
        if self.carried > count {
            return Err(NoSession::ExtraChunk);
        }
        if (1..=count).any(|i| self.chunk(i).is_none()) {
            return Err(NoSession::MissingChunk);
        }
        Ok(())
    }
}

/// The `;`-separated pieces of a `Cookie` header.
///
/// The header is mostly session chunks (4 KiB each), so finding the separators is most of the
/// cost of collecting; `<[u8]>::split` tests one byte at a time, [`find_byte`] eight.
/// `(name, value)` of every cookie in a request's `Cookie` header values (names and values
/// trimmed of optional whitespace).
pub(crate) fn cookie_pairs<'a, I>(cookie_headers: I) -> impl Iterator<Item = (&'a [u8], &'a [u8])>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    cookie_headers.into_iter().flat_map(Pairs).filter_map(|pair| {
        let pair = trim_ows(pair);
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (key, value) = pair.split_at(eq);
        Some((trim_ows(key), trim_ows(value.get(1..).unwrap_or_default())))
    })
}

struct Pairs<'a>(&'a [u8]);

impl<'a> Iterator for Pairs<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.0.is_empty() {
            return None;
        }
        match find_byte(self.0, b';') {
            Some(at) => {
                let (pair, rest) = self.0.split_at(at);
                self.0 = rest.get(1..).unwrap_or_default();
                Some(pair)
            }
            None => Some(core::mem::take(&mut self.0)),
        }
    }
}

/// The first position of `needle` in `hay`, eight bytes per step (SWAR: a byte of `w` is zero
/// exactly where `hay` holds `needle`, and `(w - 0x01..) & !w & 0x80..` marks the lowest such
/// byte correctly; marks above it may be false, and are never looked at).
fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    let mut words = hay.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let Ok(bytes) = <[u8; 8]>::try_from(word) else { break };
        let w = u64::from_le_bytes(bytes) ^ pattern;
        let found = w.wrapping_sub(LO) & !w & HI;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    words.remainder().iter().position(|&b| b == needle).map(|p| offset + p)
}

/// Which chunk of `name` a cookie called `key` is: 1 for `name`, 2..=9 for `name2`..`name9`.
pub(crate) fn chunk_index(name: &[u8], key: &[u8]) -> Option<usize> {
    let suffix = key.strip_prefix(name)?;
    match suffix {
        [] => Some(1),
        [d @ b'2'..=b'9'] => Some(usize::from(d - b'0')),
        _ => None,
    }
}

/// Without leading and trailing spaces and tabs (RFC 6265 §5.2 is this lenient too).
fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    #[test]
    fn budget_follows_the_head_limit() {
        assert_eq!(CookieLimits::default(), CookieLimits { chunk_bytes: 4000, max_chunks: 3 });
        assert_eq!(CookieLimits::for_request_head_limit(0).max_chunks, 1);
        assert_eq!(CookieLimits::for_request_head_limit(64 * 1024).max_chunks, MAX_CHUNKS);
        assert_eq!(CookieLimits::for_request_head_limit(12_096).max_chunks, 2);
    }

    #[test]
    fn capacities_and_plans() {
        let l = CookieLimits { chunk_bytes: 4000, max_chunks: 3 };
        // "session=" leaves 3992; "session2=" leaves 3991, rounded down to 3988.
        assert_eq!(chunk_capacity(&l, 7, 1), 3992);
        assert_eq!(chunk_capacity(&l, 7, 2), 3988);
        assert_eq!(plan(&l, 7, 1), Some(1));
        assert_eq!(plan(&l, 7, 3992), Some(1));
        assert_eq!(plan(&l, 7, 3993), Some(2));
        assert_eq!(plan(&l, 7, 3992 + 3988 * 2), Some(3));
        assert_eq!(plan(&l, 7, 3992 + 3988 * 2 + 1), None);
        assert_eq!(chunks_needed(&l, 7, 3992 + 3988 * 2 + 1), 4);
        assert_eq!(chunks_needed(&l, 7, 10), 1);
    }

    #[test]
    fn collects_chunks_by_name() {
        let jar = SessionCookies::collect(
            "session",
            [
                &b"a=1; session2=BBBB;session=AAAA ; sessionX=no; session10=no; session1=no"[..],
                b"session=dup; session3=CC",
            ],
        );
        assert_eq!(jar.chunk(1), Some(&b"AAAA"[..]));
        assert_eq!(jar.chunk(2), Some(&b"BBBB"[..]));
        assert_eq!(jar.chunk(3), Some(&b"CC"[..]));
        assert_eq!(jar.chunk(4), None);
        assert_eq!(jar.chunk(0), None);
        assert_eq!(jar.carried(), 3);
        assert_eq!(jar.check_count(3), Ok(()));
        assert_eq!(jar.check_count(2), Err(NoSession::ExtraChunk));
        assert_eq!(jar.check_count(4), Err(NoSession::MissingChunk));
        assert_eq!(alloc::format!("{jar:?}"), "[#1: 4 bytes, #2: 4 bytes, #3: 2 bytes]");
    }

    #[test]
    fn tolerates_odd_headers() {
        let jar = SessionCookies::collect("s", [&b""[..], b";;", b"=x", b"s", b" s = v "]);
        assert_eq!(jar.chunk(1), Some(&b"v"[..]));
        let gap = SessionCookies::collect("s", [&b"s3=x"[..]]);
        assert_eq!(gap.carried(), 3);
        assert_eq!(gap.chunk(1), None);
    }

    #[test]
    fn find_byte_agrees_with_position() {
        let hay: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(37)).collect();
        for needle in 0..=255u8 {
            for start in 0..20 {
                let h = &hay[start..];
                assert_eq!(find_byte(h, needle), h.iter().position(|&b| b == needle));
            }
        }
        // Bytes just above and below the needle, and 0x80 bytes, must not match.
        let tricky = [0x3a, 0x3c, 0xbb, 0x80, 0x00, 0xff, 0x3b, 0x3b, 0x3a, 0x3b];
        assert_eq!(find_byte(&tricky, b';'), Some(6));
        assert_eq!(find_byte(&tricky[7..], b';'), Some(0));
        assert_eq!(find_byte(&[], b';'), None);
        let pieces: Vec<&[u8]> = Pairs(b"a;;b; c;").collect();
        assert_eq!(pieces, [&b"a"[..], b"", b"b", b" c"]);
    }

    #[test]
    fn chunk_names() {
        assert_eq!(chunk_index(b"s", b"s"), Some(1));
        assert_eq!(chunk_index(b"s", b"s9"), Some(9));
        assert_eq!(chunk_index(b"s", b"s1"), None);
        assert_eq!(chunk_index(b"s", b"s0"), None);
        assert_eq!(chunk_index(b"s", b"s22"), None);
        assert_eq!(chunk_index(b"s", b"t"), None);
        assert_eq!(chunk_index(b"s", b""), None);
    }
}
