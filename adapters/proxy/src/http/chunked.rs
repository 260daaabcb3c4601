//! Body framing: the chunked transfer coding (RFC 9112 §7.1) and `Content-Length` counting.

use super::error::{Limits, ParseError};
use super::syntax::{is_field_char, is_tchar};

/// Where a [`ChunkedDecoder`] is in the chunked grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first hex digit of a chunk size.
    SizeStart,
    /// In the hex digits of a chunk size.
    Size,
    /// In whitespace after the size; only `;` may follow.
    SizeSpace,
    /// In a chunk extension, up to CR.
    Extension,
    /// After the CR of a chunk-size line.
    SizeLf,
    /// In chunk data.
    Data,
    /// After chunk data, expecting CR.
    DataCr,
    /// After chunk data and CR, expecting LF.
    DataLf,
    /// At the start of a trailer field line or of the final empty line.
    TrailerStart,
    /// In a trailer field name.
    TrailerName,
    /// In a trailer field value, up to CR.
    TrailerValue,
    /// After the CR of a trailer field line.
    TrailerLf,
    /// After the CR of the final empty line.
    EndLf,
    /// The body is complete.
    Done,
    /// An error was returned; the decoder stays failed.
    Failed,
}

/// Streaming decoder of a chunked body.
///
/// Feed it any slices of the byte stream with [`ChunkedDecoder::decode`]; it appends the chunk
/// data to `out` and stops after the last chunk and the trailer section, which are checked and
/// discarded. Chunk sizes are one to sixteen hex digits (no sign, prefix or whitespace), chunk
/// data must be followed by exactly CRLF, extensions are skipped up to
/// [`Limits::max_chunk_ext_bytes`] per chunk, trailers up to [`Limits::max_trailer_bytes`], and
/// every line ends in CRLF: a bare CR or LF anywhere is an error.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// The size being parsed, then the data left in the current chunk.
    size: u64,
    digits: u8,
    ext_len: usize,
    trailer_len: usize,
    max_ext: usize,
    max_trailer: usize,
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new(limits: &Limits) -> Self {
        Self {
            state: State::SizeStart,
            size: 0,
            digits: 0,
            ext_len: 0,
            trailer_len: 0,
            max_ext: limits.max_chunk_ext_bytes,
            max_trailer: limits.max_trailer_bytes,
        }
    }

    /// Decodes from `input`, appending chunk data to `out`, and returns how many bytes of
    /// `input` it consumed. That is all of them unless the body ends inside `input`: the rest
    /// then belongs to whatever follows the body. `out` grows by at most `input.len()`.
    ///
    /// # Errors
    ///
    /// [`ParseError::BadChunk`] on any framing error, then on every later call.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ParseError> {
        let mut i = 0;
        while let Some(rest) = input.get(i..).filter(|r| !r.is_empty()) {
            match self.state {
                State::Done => break,
                State::Failed => return Err(ParseError::BadChunk),
                State::Data => {
                    let n = usize::try_from(self.size).map_or(rest.len(), |s| s.min(rest.len()));
                    out.extend_from_slice(rest.get(..n).unwrap_or_default());
                    i += n;
                    self.size -= n as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                }
                _ => {
                    let b = rest[0];
                    i += 1;
                    if let Err(e) = self.step(b) {
                        self.state = State::Failed;
                        return Err(e);
                    }
                }
            }
        }
        if self.state == State::Failed {
            return Err(ParseError::BadChunk);
        }
        Ok(i)
    }

    /// Whether the last chunk and the trailer section have been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// One byte outside chunk data.
    fn step(&mut self, b: u8) -> Result<(), ParseError> {
        self.state = match self.state {
            State::SizeStart => {
                self.size = u64::from(hex(b).ok_or(ParseError::BadChunk)?);
                self.digits = 1;
                self.ext_len = 0;
                State::Size
            }
            State::Size => match (b, hex(b)) {
                (_, Some(d)) => {
                    // Sixteen hex digits always fit in a u64.
                    if self.digits == 16 {
                        return Err(ParseError::BadChunk);
                    }
                    self.digits += 1;
                    self.size = self.size << 4 | u64::from(d);
                    State::Size
                }
                (b';', _) => self.extension_byte(State::Extension)?,
                (b' ' | b'\t', _) => self.extension_byte(State::SizeSpace)?,
                (b'\r', _) => State::SizeLf,
                _ => return Err(ParseError::BadChunk),
            },
            State::SizeSpace => match b {
                b' ' | b'\t' => self.extension_byte(State::SizeSpace)?,
                b';' => self.extension_byte(State::Extension)?,
                _ => return Err(ParseError::BadChunk),
            },
            State::Extension => match b {
                b'\r' => State::SizeLf,
                _ if is_field_char(b) => self.extension_byte(State::Extension)?,
                _ => return Err(ParseError::BadChunk),
            },
            State::SizeLf if b == b'\n' => {
                if self.size == 0 {
                    self.trailer_len = 0;
                    State::TrailerStart
                } else {
                    State::Data
                }
            }
            State::DataCr if b == b'\r' => State::DataLf,
            State::DataLf if b == b'\n' => State::SizeStart,
            State::TrailerStart => match b {
                b'\r' => State::EndLf,
                _ if is_tchar(b) => self.trailer_byte(State::TrailerName)?,
                _ => return Err(ParseError::BadChunk),
            },
            State::TrailerName => match b {
                b':' => self.trailer_byte(State::TrailerValue)?,
                _ if is_tchar(b) => self.trailer_byte(State::TrailerName)?,
                _ => return Err(ParseError::BadChunk),
            },
            State::TrailerValue => match b {
                b'\r' => self.trailer_byte(State::TrailerLf)?,
                _ if is_field_char(b) => self.trailer_byte(State::TrailerValue)?,
                _ => return Err(ParseError::BadChunk),
            },
            State::TrailerLf if b == b'\n' => self.trailer_byte(State::TrailerStart)?,
            State::EndLf if b == b'\n' => State::Done,
            _ => return Err(ParseError::BadChunk),
        };
        Ok(())
    }

    fn extension_byte(&mut self, next: State) -> Result<State, ParseError> {
        self.ext_len += 1;
        if self.ext_len > self.max_ext { Err(ParseError::BadChunk) } else { Ok(next) }
    }

    fn trailer_byte(&mut self, next: State) -> Result<State, ParseError> {
        self.trailer_len += 1;
        if self.trailer_len > self.max_trailer { Err(ParseError::BadChunk) } else { Ok(next) }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Counts down a `Content-Length` body as it streams through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthCounter {
    remaining: u64,
}

impl LengthCounter {
    /// A counter for a body of `len` bytes.
    pub fn new(len: u64) -> Self {
        Self { remaining: len }
    }

    /// Given `available` buffered bytes, returns how many of them belong to the body (the rest
    /// follow it) and counts them as taken.
    pub fn take(&mut self, available: usize) -> usize {
        let n = usize::try_from(self.remaining).map_or(available, |r| r.min(available));
        self.remaining -= n as u64;
        n
    }

    /// Bytes of the body not taken yet.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Whether the whole body has been taken.
    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }
}

/// Appends `data` as one chunk (`SIZE CRLF data CRLF`, size in upper-case hex). Empty `data`
/// appends nothing, since an empty chunk would end the body.
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    let mut digits = [0u8; 16];
    let mut n = data.len();
    let mut start = digits.len();
    while n > 0 || start == digits.len() {
        start -= 1;
        digits[start] = b"0123456789ABCDEF"[n & 0xf];
        n >>= 4;
    }
    out.reserve(digits.len() - start + data.len() + 4);
    out.extend_from_slice(&digits[start..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk and an empty trailer section (`0 CRLF CRLF`).
pub fn encode_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize, bool), ParseError> {
        let mut d = ChunkedDecoder::new(&Limits::default());
        let mut out = Vec::new();
        let n = d.decode(input, &mut out)?;
        Ok((out, n, d.is_done()))
    }

    #[test]
    fn encodes_sizes_in_hex() {
        let mut out = Vec::new();
        encode_chunk(b"", &mut out);
        assert!(out.is_empty());
        encode_chunk(&[b'x'; 26], &mut out);
        assert!(out.starts_with(b"1A\r\nxxx"));
        assert!(out.ends_with(b"x\r\n"));
        out.clear();
        encode_chunk(&[0; 4096], &mut out);
        assert!(out.starts_with(b"1000\r\n"));
        out.clear();
        encode_last_chunk(&mut out);
        assert_eq!(out, b"0\r\n\r\n");
    }

    #[test]
    fn decodes_and_stops_at_the_end() {
        let (out, n, done) = decode_all(b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1").unwrap();
        assert_eq!((out.as_slice(), n, done), (&b"abc"[..], 13, true));
        let (out, n, done) = decode_all(b"3\r\nab").unwrap();
        assert_eq!((out.as_slice(), n, done), (&b"ab"[..], 5, false));
    }

    #[test]
    fn stays_failed() {
        let mut d = ChunkedDecoder::new(&Limits::default());
        let mut out = Vec::new();
        assert_eq!(d.decode(b"x", &mut out), Err(ParseError::BadChunk));
        assert_eq!(d.decode(b"0\r\n\r\n", &mut out), Err(ParseError::BadChunk));
        assert!(!d.is_done());
        // A call with nothing to read still reports the failure.
        assert_eq!(d.decode(b"", &mut out), Err(ParseError::BadChunk));
    }

    #[test]
    fn size_limits() {
        assert!(decode_all(b"000000000000000A\r\n").is_ok());
        assert_eq!(decode_all(b"0000000000000000A\r\n"), Err(ParseError::BadChunk));
        let (_, _, done) = decode_all(b"FFFFFFFFFFFFFFFF\r\n").unwrap();
        assert!(!done);
    }

    #[test]
    fn counts_lengths() {
        let mut c = LengthCounter::new(10);
        assert_eq!(c.take(4), 4);
        assert_eq!(c.remaining(), 6);
        assert_eq!(c.take(100), 6);
        assert!(c.is_done());
        assert_eq!(c.take(5), 0);
        let mut big = LengthCounter::new(u64::MAX);
        assert_eq!(big.take(usize::MAX), usize::MAX);
        assert!(!LengthCounter::new(1).is_done());
        assert!(LengthCounter::new(0).is_done());
    }
}
