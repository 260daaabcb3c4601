//! The gateway's sans-IO HTTP/1.1 codec.
//!
//! Nothing here reads or writes a socket: every function works on byte buffers, so the monoio and
//! smol runtimes share one implementation. The codec covers what a reverse proxy needs:
//!
//! * [`parse_request_head`] / [`parse_response_head`]: incremental head parsing (call again with
//!   the grown buffer while they return `Ok(None)`), built on [`httparse`] for the field lines
//!   and on strict hand-written scanners for the request and status lines;
//! * body framing ([`BodyFraming`]) decided under RFC 9112 §6 with the request-smuggling
//!   defences applied (no `Content-Length` + `Transfer-Encoding`, no conflicting lengths, only a
//!   lone `chunked` transfer coding);
//! * [`ChunkedDecoder`] and [`LengthCounter`] to delimit bodies as they stream through, and
//!   [`encode_chunk`] / [`encode_last_chunk`] to re-frame them;
//! * [`write_request_head`] / [`write_response_head`] and the hop-by-hop field rules
//!   ([`strip_hop_by_hop`], [`is_hop_by_hop`]).
//!
//! Bad input is normal input: every parser returns a [`ParseError`] (never panics), and all work
//! and memory are bounded by [`Limits`] or by the size of the input itself.
#![warn(missing_docs)]

pub mod canon;
mod chunked;
mod error;
mod head;
mod hop;
mod parse;
mod syntax;
mod write;

pub use chunked::{ChunkedDecoder, LengthCounter, encode_chunk, encode_last_chunk};
pub use error::{Limits, ParseError};
pub use head::{BodyFraming, Header, RequestHead, ResponseHead, Version};
pub use hop::{is_hop_by_hop, strip_hop_by_hop};
pub use parse::{parse_request_head, parse_response_head};
pub use write::{write_request_head, write_response_head};
