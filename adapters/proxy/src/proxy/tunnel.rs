//! A switched-protocol connection (`enable_websocket`): after the upstream's `101`, bytes are
//! copied both ways until each side has closed, with an idle deadline per read and per write.

use std::time::Duration;

use crate::runtime::{Duplex, StreamRead, StreamWrite, Timer, join, read_more, timeout};

/// Room made for one read in either direction.
const READ: usize = 16 * 1024;

/// Runs the tunnel; `to_upstream` / `to_client` are bytes already read past the heads.
pub(super) async fn tunnel<S: Duplex, U: Duplex, T: Timer>(
    client: S,
    upstream: U,
    to_upstream: Vec<u8>,
    to_client: Vec<u8>,
    timer: &T,
    idle: Duration,
) {
    let (client_r, client_w) = client.into_split();
    let (up_r, up_w) = upstream.into_split();
    join(
        copy(client_r, up_w, to_upstream, timer, idle),
        copy(up_r, client_w, to_client, timer, idle),
    )
    .await;
}

/// Copies until end of stream, an error, or `idle` without progress; then half-closes `w` so
/// the other side learns the direction is done.
async fn copy<R: StreamRead, W: StreamWrite, T: Timer>(
    mut r: R,
    mut w: W,
    mut pending: Vec<u8>,
    timer: &T,
    idle: Duration,
) {
    loop {
        if !pending.is_empty() {
            match timeout(timer, idle, w.write_all(std::mem::take(&mut pending))).await {
                Ok((Ok(()), mut b)) => {
                    b.clear();
                    pending = b;
                }
                _ => break,
            }
        }
        match timeout(timer, idle, read_more(&mut r, &mut pending, READ)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => break,
        }
    }
    let _ = w.shutdown().await;
}
