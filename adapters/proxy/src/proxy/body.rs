//! Bodies in both directions, streamed in bounded pieces under deadlines: a client body read
//! waits at most `client_body_timeout`, a write to the client at most `send_timeout`, the
//! upstream's reads and writes their route's timeouts.

use std::time::Duration;

use super::Failure;
use super::rewrite::ClientFraming;
use crate::http::{
    BodyFraming, ChunkedDecoder, LengthCounter, Limits, encode_chunk, encode_last_chunk,
};
use crate::runtime::{Stream, Timer, read_more, timeout};

/// Room made for one client body read.
const CLIENT_READ: usize = 16 * 1024;
/// Room made for one upstream read.
pub(super) const UPSTREAM_READ: usize = 32 * 1024;

/// Deadlines of one request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadlines {
    /// Between two client body reads.
    pub(super) client_body: Duration,
    /// One write to the client.
    pub(super) client_send: Duration,
    /// One write to the upstream.
    pub(super) upstream_send: Duration,
    /// One read from the upstream.
    pub(super) upstream_read: Duration,
}

/// Writes `bytes` to the client within the send timeout; hands the buffer back.
pub(super) async fn write_client<S: Stream, T: Timer>(
    client: &mut S,
    timer: &T,
    d: &Deadlines,
    bytes: Vec<u8>,
) -> (Result<(), Failure>, Vec<u8>) {
    match timeout(timer, d.client_send, client.write_all(bytes)).await {
        Ok((Ok(()), b)) => (Ok(()), b),
        Ok((Err(_), b)) => (Err(Failure::ClientGone), b),
        Err(_) => (Err(Failure::ClientGone), Vec::new()),
    }
}

/// Reads more client body bytes into `buf`.
async fn fill<S: Stream, T: Timer>(
    s: &mut S,
    timer: &T,
    d: &Deadlines,
    buf: &mut Vec<u8>,
) -> Result<(), Failure> {
    match timeout(timer, d.client_body, read_more(s, buf, CLIENT_READ)).await {
        Ok(Ok(n)) if n > 0 => Ok(()),
        Ok(_) => Err(Failure::ClientGone),
        Err(_) => Err(Failure::ClientTimeout),
    }
}

/// Sends bytes upstream within the send timeout.
async fn send_up<U: Stream, T: Timer>(
    up: &mut U,
    timer: &T,
    d: &Deadlines,
    bytes: Vec<u8>,
) -> Result<(), Failure> {
    match timeout(timer, d.upstream_send, up.write_all(bytes)).await {
        Ok((Ok(()), _)) => Ok(()),
        Ok((Err(_), _)) => Err(Failure::Status(502)),
        Err(_) => Err(Failure::Status(504)),
    }
}

/// Reads more upstream bytes into `buf`; `Ok(0)` at end of stream. Mid-body failures cannot
/// become a status any more: the client connection is closed.
async fn read_up<U: Stream, T: Timer>(
    up: &mut U,
    timer: &T,
    d: &Deadlines,
    buf: &mut Vec<u8>,
) -> Result<usize, Failure> {
    match timeout(timer, d.upstream_read, read_more(up, buf, UPSTREAM_READ)).await {
        Ok(Ok(n)) => Ok(n),
        _ => Err(Failure::UpstreamBroken),
    }
}

/// Streams the request body from the client (`buf` holds what already arrived) upstream.
#[allow(clippy::too_many_arguments)]
pub(super) async fn send_body<S: Stream, U: Stream, T: Timer>(
    limits: &Limits,
    framing: BodyFraming,
    buf: &mut Vec<u8>,
    client: &mut S,
    up: &mut U,
    timer: &T,
    d: &Deadlines,
) -> Result<(), Failure> {
    match framing {
        BodyFraming::None | BodyFraming::UntilClose => Ok(()),
        BodyFraming::ContentLength(n) => {
            let mut counter = LengthCounter::new(n);
            while !counter.is_done() {
                if buf.is_empty() {
                    fill(client, timer, d, buf).await?;
                }
                let take = counter.take(buf.len());
                let piece: Vec<u8> = buf.drain(..take).collect();
                send_up(up, timer, d, piece).await?;
            }
            Ok(())
        }
        BodyFraming::Chunked => {
            let mut dec = ChunkedDecoder::new(limits);
            loop {
                let mut data = Vec::new();
                let used = dec.decode(buf, &mut data).map_err(|_| Failure::BadBody)?;
                buf.drain(..used);
                if !data.is_empty() {
                    let mut enc = Vec::with_capacity(data.len() + 16);
                    encode_chunk(&data, &mut enc);
                    send_up(up, timer, d, enc).await?;
                }
                if dec.is_done() {
                    let mut last = Vec::new();
                    encode_last_chunk(&mut last);
                    return send_up(up, timer, d, last).await;
                }
                if used == 0 || buf.is_empty() {
                    fill(client, timer, d, buf).await?;
                }
            }
        }
    }
}

/// Streams the response body to the client; returns the body bytes sent.
#[allow(clippy::too_many_arguments)]
pub(super) async fn relay_response<U: Stream, S: Stream, T: Timer>(
    limits: &Limits,
    framing: BodyFraming,
    to_client: ClientFraming,
    buf: &mut Vec<u8>,
    up: &mut U,
    client: &mut S,
    timer: &T,
    d: &Deadlines,
) -> Result<u64, Failure> {
    let mut sent = 0u64;
    match framing {
        BodyFraming::None => Ok(0),
        BodyFraming::ContentLength(n) => {
            let mut counter = LengthCounter::new(n);
            while !counter.is_done() {
                if buf.is_empty() && read_up(up, timer, d, buf).await? == 0 {
                    return Err(Failure::UpstreamBroken);
                }
                let take = counter.take(buf.len());
                let piece: Vec<u8> = buf.drain(..take).collect();
                sent += piece.len() as u64;
                write_client(client, timer, d, piece).await.0?;
            }
            Ok(sent)
        }
        BodyFraming::Chunked => {
            let dechunk = to_client == ClientFraming::DechunkUntilClose;
            let mut dec = ChunkedDecoder::new(limits);
            loop {
                let mut data = Vec::new();
                let used = dec.decode(buf, &mut data).map_err(|_| Failure::UpstreamBroken)?;
                buf.drain(..used);
                if !data.is_empty() {
                    sent += data.len() as u64;
                    let out = if dechunk {
                        data
                    } else {
                        let mut enc = Vec::with_capacity(data.len() + 16);
                        encode_chunk(&data, &mut enc);
                        enc
                    };
                    write_client(client, timer, d, out).await.0?;
                }
                if dec.is_done() {
                    if !dechunk {
                        let mut last = Vec::new();
                        encode_last_chunk(&mut last);
                        write_client(client, timer, d, last).await.0?;
                    }
                    return Ok(sent);
                }
                if (used == 0 || buf.is_empty()) && read_up(up, timer, d, buf).await? == 0 {
                    return Err(Failure::UpstreamBroken);
                }
            }
        }
        BodyFraming::UntilClose => loop {
            if !buf.is_empty() {
                let piece = std::mem::take(buf);
                sent += piece.len() as u64;
                let (r, mut b) = write_client(client, timer, d, piece).await;
                r?;
                b.clear();
                *buf = b;
            }
            if read_up(up, timer, d, buf).await? == 0 {
                return Ok(sent);
            }
        },
    }
}
