//! The sans-IO HTTP/1.1 codec: heads, framing and the smuggling defences, limits, chunked
//! bodies, writing, hop-by-hop fields.

use oidc_proxy::http::{
    BodyFraming, ChunkedDecoder, Header, LengthCounter, Limits, ParseError, RequestHead,
    ResponseHead, Version, encode_chunk, encode_last_chunk, is_hop_by_hop, parse_request_head,
    parse_response_head, strip_hop_by_hop, write_request_head, write_response_head,
};

type Req = Result<Option<(RequestHead, usize)>, ParseError>;
type Resp = Result<Option<(ResponseHead, usize)>, ParseError>;

fn req(bytes: &[u8]) -> Req {
    parse_request_head(bytes, &Limits::default())
}

fn req_ok(bytes: &[u8]) -> RequestHead {
    match req(bytes) {
        Ok(Some((head, n))) => {
            assert_eq!(n, bytes.len(), "consumed");
            head
        }
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
    }
}

fn req_err(bytes: &[u8]) -> ParseError {
    match req(bytes) {
        Err(e) => e,
        other => panic!("{:?} should fail: {other:?}", String::from_utf8_lossy(bytes)),
    }
}

fn resp(bytes: &[u8], method: &str) -> Resp {
    parse_response_head(bytes, &Limits::default(), method)
}

fn resp_ok(bytes: &[u8], method: &str) -> ResponseHead {
    match resp(bytes, method) {
        Ok(Some((head, n))) => {
            assert_eq!(n, bytes.len(), "consumed");
            head
        }
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
    }
}

fn resp_err(bytes: &[u8], method: &str) -> ParseError {
    match resp(bytes, method) {
        Err(e) => e,
        other => panic!("{:?} should fail: {other:?}", String::from_utf8_lossy(bytes)),
    }
}

/// A request with `fields` (CRLF-terminated field lines) after a standard request line.
fn with_fields(fields: &str) -> Vec<u8> {
    format!("POST /upload HTTP/1.1\r\nHost: gw.example\r\n{fields}\r\n").into_bytes()
}

/// The first result other than `Ok(None)` when `bytes` arrive one at a time (the buffer grows
/// and the parser is called again each time), and the length at which it came.
fn first_decision<T>(
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<Option<T>, ParseError>,
) -> (usize, Result<Option<T>, ParseError>) {
    for len in 0..=bytes.len() {
        match parse(&bytes[..len]) {
            Ok(None) => {}
            decided => return (len, decided),
        }
    }
    (bytes.len(), Ok(None))
}

// ---- Request heads ---------------------------------------------------------------------------

#[test]
fn parses_a_simple_request() {
    let bytes = b"GET /a/b?c=d HTTP/1.1\r\nHost: gw.example:8443\r\n\
        Accept:  */* \t\r\nX-Empty:\r\n\r\nBODY";
    let Ok(Some((head, n))) = req(bytes) else { panic!() };
    assert_eq!(&bytes[n..], b"BODY");
    assert_eq!(head.method, "GET");
    assert_eq!(head.target, "/a/b?c=d");
    assert_eq!(head.version, Version::Http11);
    assert_eq!(
        head.headers,
        [
            Header::new("Host", "gw.example:8443"),
            Header::new("Accept", "*/*"),
            Header::new("X-Empty", "")
        ]
    );
    assert_eq!(head.framing, BodyFraming::None);
    assert!(head.keep_alive);
    assert!(!head.expect_continue);
    assert_eq!(head.host(), Some("gw.example:8443"));
    assert_eq!(head.path(), "/a/b");
    assert_eq!(head.query(), Some("c=d"));
    assert_eq!(head.header("accept"), Some(&b"*/*"[..]));
}

#[test]
fn partial_heads_need_more() {
    let full = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for len in 0..full.len() {
        assert_eq!(req(&full[..len]), Ok(None), "{len}");
    }
    let full = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    for len in 0..full.len() {
        assert_eq!(resp(&full[..len], "GET"), Ok(None), "{len}");
    }
}

#[test]
fn request_framing() {
    let head = req_ok(&with_fields("Content-Length: 42\r\n"));
    assert_eq!(head.framing, BodyFraming::ContentLength(42));
    let head = req_ok(&with_fields("Content-Length: 0\r\n"));
    assert_eq!(head.framing, BodyFraming::ContentLength(0));
    let head = req_ok(&with_fields("Content-Length: 18446744073709551615\r\n"));
    assert_eq!(head.framing, BodyFraming::ContentLength(u64::MAX));
    let head = req_ok(&with_fields("Content-Length: 007\r\n"));
    assert_eq!(head.framing, BodyFraming::ContentLength(7));
    for te in ["chunked", "Chunked", "CHUNKED", "  chunked\t", "chunked,", ", chunked"] {
        let head = req_ok(&with_fields(&format!("Transfer-Encoding: {te}\r\n")));
        assert_eq!(head.framing, BodyFraming::Chunked, "{te}");
    }
    let head = req_ok(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(head.framing, BodyFraming::None);
    // Identical repeats are tolerated.
    for fields in [
        "Content-Length: 5\r\nContent-Length: 5\r\n",
        "Content-Length: 5, 5\r\n",
        "Content-Length: 5,5\r\ncontent-length: 05\r\n",
    ] {
        assert_eq!(req_ok(&with_fields(fields)).framing, BodyFraming::ContentLength(5), "{fields}");
    }
}

#[test]
fn content_length_with_transfer_encoding_is_refused() {
    for fields in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n",
        "transfer-encoding: gzip\r\ncontent-length: 5\r\n",
        "Content-Length: x\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let e = req_err(&with_fields(fields));
        assert_eq!(e, ParseError::ContentLengthAndTransferEncoding, "{fields}");
        assert_eq!(e.status(), 400);
    }
}

#[test]
fn conflicting_content_lengths_are_refused() {
    for fields in [
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: 5, 6\r\n",
        "Content-Length: 5\r\nContent-Length: 5, 50\r\n",
        "Content-Length: 0\r\nContent-Length: 00, 1\r\n",
    ] {
        let e = req_err(&with_fields(fields));
        assert_eq!(e, ParseError::ConflictingContentLength, "{fields}");
        assert_eq!(e.status(), 400);
    }
}

#[test]
fn bad_content_lengths_are_refused() {
    for value in [
        "",
        "+5",
        "-1",
        "5a",
        "0x5",
        "5 5",
        "1.0",
        "1e3",
        "5,",
        ",5",
        "5,,5",
        "18446744073709551616",
        "99999999999999999999999",
        "\u{663}",
        "Infinity",
    ] {
        let e = req_err(&with_fields(&format!("Content-Length: {value}\r\n")));
        assert_eq!(e, ParseError::BadContentLength, "{value:?}");
        assert_eq!(e.status(), 400);
    }
}

#[test]
fn transfer_codings_other_than_chunked_are_refused() {
    // Chunked not final, twice, or absent: the length cannot be determined (RFC 9112 §6.3): 400.
    for te in [
        "gzip",
        "identity",
        "chunked, gzip",
        "chunked, chunked",
        "chunked;q=1",
        "xchunked",
        "chunk",
        "chunked chunked",
        ",",
        "\"chunked\"",
    ] {
        let e = req_err(&with_fields(&format!("Transfer-Encoding: {te}\r\n")));
        assert_eq!(e, ParseError::BadTransferEncoding, "{te}");
        assert_eq!(e.status(), 400);
    }
    let e = req_err(&with_fields("Transfer-Encoding:\r\n"));
    assert_eq!(e, ParseError::BadTransferEncoding);
    // Chunked is final but other codings come first: not implemented, 501.
    for fields in [
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: identity,chunked\r\n",
    ] {
        let e = req_err(&with_fields(fields));
        assert_eq!(e, ParseError::UnsupportedTransferEncoding, "{fields}");
        assert_eq!((e.status(), e.reason()), (501, "Not Implemented"));
    }
    // Chunked in one field line and again in another.
    let e = req_err(&with_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"));
    assert_eq!(e, ParseError::BadTransferEncoding);
}

#[test]
fn transfer_encoding_in_http10_is_refused() {
    let e = req_err(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!((e, e.status()), (ParseError::BadTransferEncoding, 400));
    let e = req_err(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
    assert_eq!(e.status(), 400);
    let head = req_ok(b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n");
    assert_eq!(head.framing, BodyFraming::ContentLength(3));
}

#[test]
fn obfuscated_field_lines_are_refused() {
    for fields in [
        "Transfer-Encoding : chunked\r\n", // whitespace before the colon
        " Transfer-Encoding: chunked\r\n", // folded onto the previous line
        "X: a\r\n Transfer-Encoding: chunked\r\n", // obs-fold
        "X: a\r\n\tb\r\n",                 // obs-fold with HTAB
        "Transfer-Encoding:\r\n chunked\r\n", // folded value
        "Transfer-Encoding: chunked\nX: y\r\n", // bare LF inside the head
        "X: a\rTransfer-Encoding: chunked\r\n", // bare CR
        "X-Bad\u{7f}: 1\r\n",
        "X(y): 1\r\n",
        "X\u{e9}: 1\r\n",
        ": no-name\r\n",
        "No-Colon\r\n",
        "X: a\u{0}b\r\n",
        "X: a\u{7f}b\r\n",
        "X: a\u{b}b\r\n",
    ] {
        let e = req_err(&with_fields(fields));
        assert_eq!(e, ParseError::Malformed, "{fields:?}");
        assert_eq!((e.status(), e.reason()), (400, "Bad Request"));
    }
}

#[test]
fn bare_lf_line_endings_are_refused() {
    // httparse accepts all of these by default.
    for bytes in [
        &b"GET / HTTP/1.1\nHost: a\n\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\n",
        b"GET / HTTP/1.1\nHost: a\r\n\r\n",
        b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
        b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        assert_eq!(req_err(bytes), ParseError::Malformed, "{:?}", String::from_utf8_lossy(bytes));
    }
    // Decided as soon as the bare LF is seen, without waiting for an end that may never come.
    assert_eq!(req(b"GET / HTTP/1.1\r\nHost: a\n"), Err(ParseError::Malformed));
    assert_eq!(resp(b"HTTP/1.1 200 OK\n", "GET"), Err(ParseError::Malformed));
    assert_eq!(resp(b"HTTP/1.1 200 OK\r\nA: b\n\n", "GET"), Err(ParseError::Malformed));
}

#[test]
fn empty_lines_before_the_request_line_are_skipped() {
    let bytes = b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let Ok(Some((head, n))) = req(bytes) else { panic!() };
    assert_eq!((head.target.as_str(), n), ("/", bytes.len()));
    assert_eq!(req(b"\r\n\r\n"), Ok(None));
}

#[test]
fn malformed_request_lines_are_refused() {
    for line in [
        "GET  / HTTP/1.1",
        "GET /  HTTP/1.1",
        "GET\t/ HTTP/1.1",
        " GET / HTTP/1.1",
        "GET / HTTP/1.1 ",
        "GET / http/1.1",
        "GET / HTTP/1",
        "GET / HTTP/1.1.1",
        "GET / HTTP/11",
        "GET /",
        "GET",
        "/ HTTP/1.1",
        "G(T / HTTP/1.1",
        "GET /a b HTTP/1.1",
        "GET /a\u{7f} HTTP/1.1",
        "GET /caf\u{e9} HTTP/1.1",
        "GET /a#frag HTTP/1.1",
        "GET * HTTP/1.1",
        "GET gw.example HTTP/1.1",
        "GET ftp://gw.example/ HTTP/1.1",
        "GET http:///x HTTP/1.1",
        "GET http://user@gw.example/ HTTP/1.1",
        "CONNECT / HTTP/1.1",
        "CONNECT http://gw.example/ HTTP/1.1",
    ] {
        let bytes = format!("{line}\r\nHost: gw.example\r\n\r\n");
        assert_eq!(req_err(bytes.as_bytes()), ParseError::Malformed, "{line:?}");
    }
    // A bad request line is refused before its end arrives.
    assert_eq!(req(b"GET /a b"), Err(ParseError::Malformed));
    assert_eq!(req(b"\x16\x03\x01\x02\x00"), Err(ParseError::Malformed));
    assert_eq!(req(b"GET / HTTX"), Err(ParseError::Malformed));
}

#[test]
fn unsupported_versions_get_505() {
    for version in ["HTTP/2.0", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"] {
        let bytes = format!("GET / {version}\r\nHost: a\r\n\r\n");
        let e = req_err(bytes.as_bytes());
        assert_eq!(e, ParseError::UnsupportedVersion, "{version}");
        assert_eq!((e.status(), e.reason()), (505, "HTTP Version Not Supported"));
    }
    // Higher HTTP/1 minors are read as 1.1 (RFC 9110 §6.2).
    assert_eq!(req_ok(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n").version, Version::Http11);
    assert_eq!(resp_err(b"HTTP/2.0 200 OK\r\n\r\n", "GET"), ParseError::UnsupportedVersion);
}

#[test]
fn target_forms() {
    let head = req_ok(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!((head.target.as_str(), head.path()), ("*", "*"));
    let head = req_ok(b"CONNECT gw.example:443 HTTP/1.1\r\nHost: gw.example:443\r\n\r\n");
    assert_eq!(
        (head.target.as_str(), head.path(), head.host()),
        ("gw.example:443", "", Some("gw.example:443"))
    );
    let head = req_ok(b"GET http://GW.example/p/q?x HTTP/1.1\r\nHost: gw.EXAMPLE\r\n\r\n");
    assert_eq!((head.path(), head.query(), head.host()), ("/p/q", Some("x"), Some("gw.EXAMPLE")));
    let head = req_ok(b"GET https://gw.example HTTP/1.0\r\n\r\n");
    assert_eq!((head.path(), head.host()), ("/", Some("gw.example")));
    // Lenient about characters real clients leave unencoded.
    let head = req_ok(b"GET /a|b{c}^\"<>`\\ HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(head.path(), "/a|b{c}^\"<>`\\");
}

#[test]
fn host_rules() {
    for bytes in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
        b"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n",
        b"GET http://a/ HTTP/1.1\r\nHost: a:80\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
    ] {
        let e = req_err(bytes);
        assert_eq!(
            (e, e.status()),
            (ParseError::BadHost, 400),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    assert_eq!(req_ok(b"GET / HTTP/1.0\r\n\r\n").host(), None);
    assert_eq!(req_ok(b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").host(), Some("[::1]:8080"));
}

#[test]
fn keep_alive_and_expect() {
    let cases: [(&[u8], bool); 9] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
        (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false),
        (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", false),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
            false,
        ),
        (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n", false),
    ];
    for (bytes, keep_alive) in cases {
        assert_eq!(req_ok(bytes).keep_alive, keep_alive, "{:?}", String::from_utf8_lossy(bytes));
    }
    assert!(req_ok(&with_fields("Expect: 100-continue\r\nContent-Length: 5\r\n")).expect_continue);
    assert!(req_ok(&with_fields("Expect: 100-Continue\r\n")).expect_continue);
    assert!(!req_ok(&with_fields("Expect: 200-ok\r\n")).expect_continue);
    assert!(!req_ok(&with_fields("X-Expect: 100-continue\r\n")).expect_continue);
    assert!(!req_ok(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
}

// ---- Limits ----------------------------------------------------------------------------------

#[test]
fn long_targets_get_414_before_the_head_ends() {
    let limits = Limits::default();
    let mut bytes = b"GET /".to_vec();
    bytes.resize(4 + limits.max_uri_bytes, b'a');
    // Exactly at the limit: still waiting.
    assert_eq!(req(&bytes), Ok(None));
    bytes.push(b'a');
    let e = req_err(&bytes);
    assert_eq!((e, e.status(), e.reason()), (ParseError::UriTooLong, 414, "URI Too Long"));
    // A target of exactly max_uri_bytes is fine.
    let mut ok = b"GET /".to_vec();
    ok.resize(4 + limits.max_uri_bytes, b'a');
    ok.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(req_ok(&ok).target.len(), limits.max_uri_bytes);
    let small = Limits { max_uri_bytes: 4, ..Limits::default() };
    assert_eq!(parse_request_head(b"GET /abc", &small), Ok(None));
    assert_eq!(parse_request_head(b"GET /abcd", &small), Err(ParseError::UriTooLong));
}

#[test]
fn large_heads_get_431() {
    let limits = Limits::default();
    let mut bytes = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    bytes.resize(limits.max_head_bytes, b'b');
    assert_eq!(req(&bytes), Ok(None));
    bytes.push(b'b');
    let e = req_err(&bytes);
    assert_eq!(
        (e, e.status(), e.reason()),
        (ParseError::HeadTooLarge, 431, "Request Header Fields Too Large")
    );

    // A complete head of exactly the limit passes; one byte more does not.
    let mut exact = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    exact.resize(limits.max_head_bytes - 4, b'b');
    exact.extend_from_slice(b"\r\n\r\n");
    assert_eq!(req_ok(&exact).headers.len(), 2);
    let mut over = exact[..exact.len() - 4].to_vec();
    over.extend_from_slice(b"b\r\n\r\n");
    assert_eq!(req_err(&over), ParseError::HeadTooLarge);

    // Empty lines before the request line count.
    let small = Limits { max_head_bytes: 8, ..Limits::default() };
    assert_eq!(parse_request_head(b"\r\n\r\n\r\n\r\n\r\n", &small), Err(ParseError::HeadTooLarge));
    assert_eq!(
        parse_response_head(b"HTTP/1.1 200 OK\r\n", &small, "GET"),
        Err(ParseError::HeadTooLarge)
    );
}

#[test]
fn too_many_headers_get_431() {
    let limits = Limits::default();
    let mut fields = String::new();
    for i in 0..limits.max_headers - 1 {
        fields.push_str(&format!("X-{i}: {i}\r\n"));
    }
    assert_eq!(req_ok(&with_fields(&fields)).headers.len(), limits.max_headers);
    fields.push_str("X-Last: 1\r\n");
    let e = req_err(&with_fields(&fields));
    assert_eq!((e, e.status()), (ParseError::TooManyHeaders, 431));
    let e = resp_err(format!("HTTP/1.1 200 OK\r\n{fields}X: y\r\n\r\n").as_bytes(), "GET");
    assert_eq!(e, ParseError::TooManyHeaders);

    let none = Limits { max_headers: 0, ..Limits::default() };
    assert!(matches!(parse_request_head(b"GET / HTTP/1.0\r\n\r\n", &none), Ok(Some(_))));
    assert_eq!(
        parse_request_head(b"GET / HTTP/1.0\r\nA: b\r\n\r\n", &none),
        Err(ParseError::TooManyHeaders)
    );
    // An absurd limit does not turn into an absurd allocation.
    let huge = Limits { max_headers: usize::MAX, max_head_bytes: usize::MAX, ..Limits::default() };
    assert!(matches!(parse_request_head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &huge), Ok(Some(_))));
}

// ---- Incremental parsing -----------------------------------------------------------------------

const REQUEST_SAMPLES: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"\r\nPOST /x?y=1 HTTP/1.1\r\nHost: gw.example\r\nContent-Length: 5\r\n\
      Connection: close\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n\
      5\r\nhello\r\n0\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET /a b HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n obs: fold\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
];

#[test]
fn byte_at_a_time_heads_match_all_at_once() {
    for &bytes in REQUEST_SAMPLES {
        let (len, first) = first_decision(bytes, req);
        assert_eq!(first, req(bytes), "{:?}", String::from_utf8_lossy(bytes));
        if let Ok(Some((_, n))) = first {
            assert_eq!(n, len);
        }
    }
    let small =
        Limits { max_head_bytes: 40, max_uri_bytes: 8, max_headers: 2, ..Limits::default() };
    for &bytes in REQUEST_SAMPLES {
        let parse = |b: &[u8]| parse_request_head(b, &small);
        assert_eq!(
            first_decision(bytes, parse).1,
            parse(bytes),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    for bytes in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"[..],
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.0 200\r\nX: y\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 999 OK\r\n\r\n",
    ] {
        let parse = |b: &[u8]| resp(b, "GET");
        assert_eq!(
            first_decision(bytes, parse).1,
            parse(bytes),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

// ---- Round trip --------------------------------------------------------------------------------

#[test]
fn parse_write_parse_keeps_the_request() {
    for &bytes in &REQUEST_SAMPLES[..3] {
        let Ok(Some((head, _))) = req(bytes) else { panic!() };
        let mut out = Vec::new();
        write_request_head(&head, &mut out);
        let again = req_ok(&out);
        assert_eq!(
            (&again.method, &again.target, &again.headers),
            (&head.method, &head.target, &head.headers)
        );
        assert_eq!((again.framing, again.expect_continue), (head.framing, head.expect_continue));
    }
    // HTTP/1.0 in, HTTP/1.1 out.
    let head = req_ok(b"GET http://a/x HTTP/1.0\r\nX-A: 1\r\n\r\n");
    let mut out = Vec::new();
    write_request_head(&head, &mut out);
    assert_eq!(out, b"GET http://a/x HTTP/1.1\r\nX-A: 1\r\n\r\n");
}

#[test]
fn writes_response_heads() {
    let mut out = Vec::new();
    let headers = [Header::new("Content-Length", "2"), Header::new("X", "y")];
    write_response_head(Version::Http11, 200, "OK", &headers, &mut out);
    assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\n");
    let head = resp_ok(&out, "GET");
    assert_eq!(
        (head.status, head.reason.as_str(), head.headers.as_slice()),
        (200, "OK", &headers[..])
    );
    let e = ParseError::HeadTooLarge;
    out.clear();
    write_response_head(Version::Http11, e.status(), e.reason(), &[], &mut out);
    assert_eq!(out, b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n");
}

// ---- Response heads ----------------------------------------------------------------------------

#[test]
fn response_framing() {
    let r = resp_ok(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", "GET");
    assert_eq!(
        (r.version, r.status, r.reason.as_str(), r.framing, r.keep_alive),
        (Version::Http11, 200, "OK", BodyFraming::ContentLength(3), true)
    );
    let r = resp_ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "POST");
    assert_eq!(r.framing, BodyFraming::Chunked);
    let r = resp_ok(b"HTTP/1.1 200 OK\r\n\r\n", "GET");
    assert_eq!((r.framing, r.keep_alive), (BodyFraming::UntilClose, false));
    for (status, method) in
        [(200, "HEAD"), (204, "GET"), (304, "GET"), (100, "POST"), (103, "GET"), (200, "CONNECT")]
    {
        let bytes = format!("HTTP/1.1 {status} X\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(
            resp_ok(bytes.as_bytes(), method).framing,
            BodyFraming::None,
            "{status} {method}"
        );
    }
    // A HEAD response may advertise the framing the GET would have had.
    let r = resp_ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD");
    assert_eq!((r.framing, r.keep_alive), (BodyFraming::None, true));
    assert!(!resp_ok(b"HTTP/1.1 200 OK\r\n\r\n", "CONNECT").keep_alive);
    assert!(
        !resp_ok(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "GET")
            .keep_alive
    );
    assert!(resp_ok(b"HTTP/1.1 100 Continue\r\n\r\n", "GET").keep_alive);
    // CONNECT errors still have bodies.
    let r = resp_ok(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n", "CONNECT");
    assert_eq!(r.framing, BodyFraming::ContentLength(2));
}

#[test]
fn response_keep_alive() {
    assert!(!resp_ok(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "GET").keep_alive);
    assert!(
        resp_ok(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", "GET")
            .keep_alive
    );
    assert!(
        !resp_ok(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", "GET")
            .keep_alive
    );
    assert!(!resp_ok(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", "GET").keep_alive);
}

#[test]
fn status_lines() {
    let r = resp_ok(b"HTTP/1.1 200\r\n\r\n", "GET");
    assert_eq!((r.status, r.reason.as_str()), (200, ""));
    let r = resp_ok(b"HTTP/1.1 404 \r\n\r\n", "GET");
    assert_eq!(r.reason, "");
    let r = resp_ok(b"HTTP/1.1 599 Not \tFound \xe9\r\n\r\n", "GET");
    assert_eq!((r.status, r.reason.as_str()), (599, "Not \tFound \u{fffd}"));
    for bytes in [
        &b"HTTP/1.1 20 OK\r\n\r\n"[..],
        b"HTTP/1.1 099 OK\r\n\r\n",
        b"HTTP/1.1 600 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"HTTP/1.1 200 O\x00K\r\n\r\n",
        b"HTTP/1.1 200 OK\n\r\n",
        b"HTTP/1.1\r\n\r\n",
        b"HTTP/2 200\r\n\r\n",
        b"http/1.1 200 OK\r\n\r\n",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n",
    ] {
        assert_eq!(
            resp_err(bytes, "GET"),
            ParseError::Malformed,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn response_smuggling_defences() {
    let cases: [(&[u8], ParseError); 6] = [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            ParseError::ContentLengthAndTransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            ParseError::ConflictingContentLength,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n", ParseError::BadContentLength),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", ParseError::BadTransferEncoding),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            ParseError::UnsupportedTransferEncoding,
        ),
        (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", ParseError::BadTransferEncoding),
    ];
    for (bytes, error) in cases {
        assert_eq!(resp_err(bytes, "GET"), error, "{:?}", String::from_utf8_lossy(bytes));
    }
}

// ---- Chunked bodies ----------------------------------------------------------------------------

fn decode_whole(input: &[u8], limits: &Limits) -> Result<(Vec<u8>, usize, bool), ParseError> {
    let mut decoder = ChunkedDecoder::new(limits);
    let mut out = Vec::new();
    let n = decoder.decode(input, &mut out)?;
    Ok((out, n, decoder.is_done()))
}

fn decode_bytewise(input: &[u8], limits: &Limits) -> Result<(Vec<u8>, usize, bool), ParseError> {
    let mut decoder = ChunkedDecoder::new(limits);
    let mut out = Vec::new();
    let mut consumed = 0;
    for b in input {
        if decoder.is_done() {
            break;
        }
        consumed += decoder.decode(std::slice::from_ref(b), &mut out)?;
    }
    Ok((out, consumed, decoder.is_done()))
}

const VALID_CHUNKED: &[(&[u8], &[u8])] = &[
    (b"0\r\n\r\n", b""),
    (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
    (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
    (b"a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n", b"01234567890123456789"),
    (b"0005\r\nhello\r\n000\r\n\r\n", b"hello"),
    (b"5;name=value\r\nhello\r\n0;last\r\n\r\n", b"hello"),
    (b"5;a=\"q;u\\\"o=ted\";b;c=d\r\nhello\r\n0\r\n\r\n", b"hello"),
    (b"5 ;a\r\nhello\r\n0\t; a = b\r\n\r\n", b"hello"),
    (b"5\r\nhe\r\nl\r\n0\r\nTrailer-A: 1\r\nX-Sum:  abc \r\nEmpty:\r\n\r\n", b"he\r\nl"),
    (b"1\r\n\xff\r\n0\r\nT: \xe9\r\n\r\n", b"\xff"),
];

#[test]
fn decodes_valid_chunked_bodies() {
    let limits = Limits::default();
    for &(input, body) in VALID_CHUNKED {
        let mut with_next = input.to_vec();
        with_next.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let whole = decode_whole(&with_next, &limits);
        assert_eq!(
            whole,
            Ok((body.to_vec(), input.len(), true)),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(decode_bytewise(&with_next, &limits), whole);
        // After the end, nothing more is consumed.
        let mut decoder = ChunkedDecoder::new(&limits);
        let mut out = Vec::new();
        assert_eq!(decoder.decode(input, &mut out), Ok(input.len()));
        assert_eq!(decoder.decode(b"more", &mut out), Ok(0));
    }
}

#[test]
fn refuses_malformed_chunked_bodies() {
    let limits = Limits::default();
    let mut long_ext = b"1;".to_vec();
    long_ext.resize(limits.max_chunk_ext_bytes + 2, b'x');
    long_ext.extend_from_slice(b"\r\na\r\n0\r\n\r\n");
    let mut long_trailer = b"0\r\nX: ".to_vec();
    long_trailer.resize(limits.max_trailer_bytes + 2, b'y');
    long_trailer.extend_from_slice(b"\r\n\r\n");
    let bad: Vec<&[u8]> = vec![
        b"\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"+5\r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b" 5\r\nhello\r\n0\r\n\r\n",
        b"5 \r\nhello\r\n0\r\n\r\n",
        b"5\t\r\nhello\r\n0\r\n\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5\rhello\r\n0\r\n\r\n",
        b"g\r\n",
        b"5_0\r\n",
        b"5,\r\n",
        b"00000000000000005\r\nhello\r\n0\r\n\r\n",
        b"10000000000000000\r\n",
        b"5\r\nhelloX\r\n0\r\n\r\n",
        b"5\r\nhello\n0\r\n\r\n",
        b"5\r\nhello\r0\r\n\r\n",
        b"5\r\nhello\r\r\n0\r\n\r\n",
        b"3\r\nhello\r\n0\r\n\r\n",
        b"5;a\nhello\r\n0\r\n\r\n",
        b"5;a\x00\r\nhello\r\n0\r\n\r\n",
        b"5;a\x7f\r\nhello\r\n0\r\n\r\n",
        b"5;a\rb\r\nhello\r\n0\r\n\r\n",
        b"5 x\r\nhello\r\n0\r\n\r\n",
        b"0\r\n\n",
        b"0\r\n\r\r\n",
        b"0\n\r\n",
        b"0\r\nX: y\n\r\n",
        b"0\r\nX y\r\n\r\n",
        b"0\r\nX\r\n\r\n",
        b"0\r\n: y\r\n\r\n",
        b"0\r\nX: y\r\n z\r\n\r\n",
        b"0\r\nX: \x01\r\n\r\n",
        b"0\r\n\r\nX",
        &long_ext,
        &long_trailer,
    ];
    for input in bad {
        if input == b"0\r\n\r\nX" {
            // The body ends before the X, which is left for the caller.
            assert_eq!(decode_whole(input, &limits), Ok((vec![], 5, true)));
            continue;
        }
        let e = decode_whole(input, &limits).expect_err(&String::from_utf8_lossy(input));
        assert_eq!(
            (e, e.status()),
            (ParseError::BadChunk, 400),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(decode_bytewise(input, &limits).map(|_| ()), Err(ParseError::BadChunk));
    }
    // Limits are inclusive.
    let mut ext = b"1;".to_vec();
    ext.resize(limits.max_chunk_ext_bytes + 1, b'x');
    ext.extend_from_slice(b"\r\na\r\n0\r\n\r\n");
    assert_eq!(decode_whole(&ext, &limits), Ok((b"a".to_vec(), ext.len(), true)));
    let mut trailer = b"0\r\nX: ".to_vec();
    trailer.resize(limits.max_trailer_bytes + 1, b'y');
    trailer.extend_from_slice(b"\r\n\r\n");
    assert_eq!(decode_whole(&trailer, &limits).map(|r| r.2), Ok(true));
}

#[test]
fn large_chunk_sizes_are_streamed_not_buffered() {
    let mut decoder = ChunkedDecoder::new(&Limits::default());
    let mut out = Vec::new();
    assert_eq!(decoder.decode(b"FFFFFFFFFFFFFFFF\r\nabc", &mut out), Ok(21));
    assert_eq!(out, b"abc");
    assert!(!decoder.is_done());
}

#[test]
fn encoded_chunks_decode_back() {
    let mut wire = Vec::new();
    encode_chunk(b"hello ", &mut wire);
    encode_chunk(b"", &mut wire);
    encode_chunk(&[b'w'; 300], &mut wire);
    encode_last_chunk(&mut wire);
    let mut expected = b"hello ".to_vec();
    expected.extend_from_slice(&[b'w'; 300]);
    assert!(wire.starts_with(b"6\r\nhello \r\n12C\r\n"));
    assert_eq!(decode_whole(&wire, &Limits::default()), Ok((expected.clone(), wire.len(), true)));
    assert_eq!(decode_bytewise(&wire, &Limits::default()), Ok((expected, wire.len(), true)));
}

#[test]
fn length_counter_delimits_bodies() {
    let buffered = b"helloGET / HTTP/1.1\r\n";
    let mut counter = LengthCounter::new(5);
    let n = counter.take(buffered.len());
    assert_eq!((&buffered[..n], counter.is_done(), counter.remaining()), (&b"hello"[..], true, 0));
    let mut counter = LengthCounter::new(7);
    assert_eq!((counter.take(3), counter.take(3), counter.take(3), counter.take(3)), (3, 3, 1, 0));
}

// ---- Hop-by-hop and errors ---------------------------------------------------------------------

#[test]
fn strips_hop_by_hop_fields() {
    let mut head = req_ok(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Internal\r\nKeep-Alive: 5\r\n\
          X-Internal: secret\r\nTE: trailers\r\nUpgrade: h2c\r\nAccept: */*\r\n\r\n",
    );
    strip_hop_by_hop(&mut head.headers);
    assert_eq!(head.headers, [Header::new("Host", "a"), Header::new("Accept", "*/*")]);
    for name in [
        "Connection",
        "keep-alive",
        "Proxy-Connection",
        "TE",
        "trailer",
        "Transfer-Encoding",
        "UPGRADE",
    ] {
        assert!(is_hop_by_hop(name), "{name}");
    }
    for name in ["Host", "Content-Length", "Authorization", "Proxy-Authorization", "Trailers"] {
        assert!(!is_hop_by_hop(name), "{name}");
    }
    // Connection cannot be used to drop the framing or the host on the next hop.
    let mut headers = vec![
        Header::new("Connection", "Content-Length, Host"),
        Header::new("Content-Length", "5"),
        Header::new("Host", "a"),
    ];
    strip_hop_by_hop(&mut headers);
    assert_eq!(headers, [Header::new("Content-Length", "5"), Header::new("Host", "a")]);
}

#[test]
fn errors_map_to_statuses() {
    let cases = [
        (ParseError::HeadTooLarge, 431),
        (ParseError::TooManyHeaders, 431),
        (ParseError::UriTooLong, 414),
        (ParseError::Malformed, 400),
        (ParseError::ConflictingContentLength, 400),
        (ParseError::ContentLengthAndTransferEncoding, 400),
        (ParseError::BadContentLength, 400),
        (ParseError::UnsupportedTransferEncoding, 501),
        (ParseError::BadTransferEncoding, 400),
        (ParseError::BadChunk, 400),
        (ParseError::UnsupportedVersion, 505),
        (ParseError::BadHost, 400),
    ];
    for (e, status) in cases {
        assert_eq!(e.status(), status, "{e:?}");
        assert!(!e.reason().is_empty() && !e.to_string().is_empty());
        let _: &dyn std::error::Error = &e;
    }
    assert_eq!(
        Limits::default(),
        Limits {
            max_head_bytes: 16384,
            max_headers: 100,
            max_uri_bytes: 8192,
            max_chunk_ext_bytes: 1024,
            max_trailer_bytes: 8192
        }
    );
}
