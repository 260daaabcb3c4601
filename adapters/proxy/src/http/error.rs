//! Limits and errors.

use core::fmt;

/// Bounds applied while parsing; every one turns an oversized input into a [`ParseError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request or response head (start line, field lines, the final empty line, and any
    /// empty lines before a request line). Default 16 KiB.
    pub max_head_bytes: usize,
    /// Most field lines in a head. Default 100.
    pub max_headers: usize,
    /// Longest request target. Default 8 KiB.
    pub max_uri_bytes: usize,
    /// Longest chunk extension on one chunk-size line (everything between the size and the
    /// CRLF). Default 1 KiB.
    pub max_chunk_ext_bytes: usize,
    /// Largest trailer section of a chunked body (all its field lines). Default 8 KiB.
    pub max_trailer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            max_uri_bytes: 8 * 1024,
            max_chunk_ext_bytes: 1024,
            max_trailer_bytes: 8 * 1024,
        }
    }
}

/// Why a message was rejected. [`ParseError::status`] is the response a server sends for it
/// (a gateway parsing an upstream response answers 502 instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The head did not end within [`Limits::max_head_bytes`]. 431.
    HeadTooLarge,
    /// More field lines than [`Limits::max_headers`]. 431.
    TooManyHeaders,
    /// The request target is longer than [`Limits::max_uri_bytes`]. 414.
    UriTooLong,
    /// Syntax error in the start line or a field line: bad token, bare CR or LF, line folding,
    /// invalid request target, and the like. 400.
    Malformed,
    /// Several `Content-Length` values that differ. 400.
    ConflictingContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`. 400.
    ContentLengthAndTransferEncoding,
    /// A `Content-Length` value that is not a decimal number fitting in `u64`. 400.
    BadContentLength,
    /// A `Transfer-Encoding` that ends in `chunked` but also has other codings, which this codec
    /// does not implement. 501.
    UnsupportedTransferEncoding,
    /// A `Transfer-Encoding` whose final coding is not `chunked`, that applies `chunked` twice,
    /// that is empty, or that appears in an HTTP/1.0 message (RFC 9112 §6.1, §6.3). 400.
    BadTransferEncoding,
    /// Invalid chunked framing: chunk size, extension, data terminator or trailer section. 400.
    BadChunk,
    /// An HTTP version other than 1.x. 505.
    UnsupportedVersion,
    /// A request without `Host` (HTTP/1.1), with several, with an invalid value, or whose `Host`
    /// differs from the authority of an absolute-form target (RFC 9112 §3.2). 400.
    BadHost,
}

impl ParseError {
    /// The status code a server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            Self::HeadTooLarge | Self::TooManyHeaders => 431,
            Self::UriTooLong => 414,
            Self::UnsupportedTransferEncoding => 501,
            Self::UnsupportedVersion => 505,
            Self::Malformed
            | Self::ConflictingContentLength
            | Self::ContentLengthAndTransferEncoding
            | Self::BadContentLength
            | Self::BadTransferEncoding
            | Self::BadChunk
            | Self::BadHost => 400,
        }
    }

    /// The standard reason phrase of [`ParseError::status`], for the status line.
    pub fn reason(&self) -> &'static str {
        match self.status() {
            431 => "Request Header Fields Too Large",
            414 => "URI Too Long",
            501 => "Not Implemented",
            505 => "HTTP Version Not Supported",
            _ => "Bad Request",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HeadTooLarge => "message head too large",
            Self::TooManyHeaders => "too many header fields",
            Self::UriTooLong => "request target too long",
            Self::Malformed => "malformed message head",
            Self::ConflictingContentLength => "conflicting Content-Length values",
            Self::ContentLengthAndTransferEncoding => "both Content-Length and Transfer-Encoding",
            Self::BadContentLength => "invalid Content-Length",
            Self::UnsupportedTransferEncoding => "unsupported transfer coding",
            Self::BadTransferEncoding => "invalid Transfer-Encoding",
            Self::BadChunk => "invalid chunked body",
            Self::UnsupportedVersion => "unsupported HTTP version",
            Self::BadHost => "missing, repeated or invalid Host",
        })
    }
}

impl std::error::Error for ParseError {}
