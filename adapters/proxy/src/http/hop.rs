//! Hop-by-hop fields (RFC 9110 §7.6.1).

use super::head::Header;
use super::syntax::list_elements;

/// The fields that only concern one connection, lower-case.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Fields a `Connection` option may not remove: dropping them would change the message's framing
/// or target on the next hop (RFC 9110 §7.6.1 forbids such options; a sender listing them is
/// trying to desynchronise the two hops).
const PROTECTED: [&str; 2] = ["content-length", "host"];

/// Whether `name` is one of the fixed hop-by-hop fields: `Connection`, `Keep-Alive`,
/// `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade` (case-insensitive).
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Removes the hop-by-hop fields: the fixed ones of [`is_hop_by_hop`] and every field named as
/// an option in a `Connection` field, except `Content-Length` and `Host`, which are kept.
///
/// After this, a forwarder adds the framing of the next hop itself (for instance
/// `Transfer-Encoding: chunked` when it re-chunks a body).
pub fn strip_hop_by_hop(headers: &mut Vec<Header>) {
    let options: Vec<Vec<u8>> = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .flat_map(|h| list_elements(&h.value))
        .filter(|o| !PROTECTED.iter().any(|p| p.as_bytes().eq_ignore_ascii_case(o)))
        .map(<[u8]>::to_vec)
        .collect();
    headers.retain(|h| {
        !is_hop_by_hop(&h.name)
            && !options.iter().any(|o| o.eq_ignore_ascii_case(h.name.as_bytes()))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_fixed_and_named_fields() {
        let mut headers = vec![
            Header::new("Host", "h"),
            Header::new("Connection", "close, X-Secret ,, host, Content-Length"),
            Header::new("connection", "x-other"),
            Header::new("Keep-Alive", "timeout=5"),
            Header::new("X-SECRET", "s"),
            Header::new("X-Other", "o"),
            Header::new("Content-Length", "5"),
            Header::new("TE", "trailers"),
            Header::new("Trailer", "x"),
            Header::new("Transfer-Encoding", "chunked"),
            Header::new("Upgrade", "websocket"),
            Header::new("Proxy-Connection", "keep-alive"),
            Header::new("Accept", "*/*"),
        ];
        strip_hop_by_hop(&mut headers);
        assert_eq!(
            headers,
            [
                Header::new("Host", "h"),
                Header::new("Content-Length", "5"),
                Header::new("Accept", "*/*")
            ]
        );
        assert!(is_hop_by_hop("TRANSFER-ENCODING") && is_hop_by_hop("te") && !is_hop_by_hop("tes"));
    }
}
