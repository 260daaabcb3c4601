//! Property tests of the HTTP/1.1 codec: no input panics a parser or the chunked decoder, a
//! message fed one byte at a time is decided exactly as when fed whole, chunk encoding round
//! trips through the decoder whatever the splits, and written heads parse back.

use oidc_proxy::http::{
    ChunkedDecoder, Header, Limits, ParseError, encode_chunk, encode_last_chunk,
    parse_request_head, parse_response_head, write_request_head,
};
use proptest::prelude::*;

fn eol() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![60 => Just(&b"\r\n"[..]), 1 => Just(&b"\n"[..]), 1 => Just(&b"\r"[..])]
}

fn pick(items: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(items).prop_map(<[u8]>::to_vec)
}

/// Field lines, mostly valid, some conflicting or broken.
fn field_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        24 => pick(&[
            b"Host: a", b"host:a", b"Host: gw.example:8080", b"Content-Length: 5",
            b"Content-Length: 0", b"Content-Length: 5, 5", b"content-length: 5, 6",
            b"Content-Length: +5",
            b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip, chunked",
            b"transfer-encoding: gzip", b"Transfer-Encoding: chunked, chunked",
            b"Connection: close", b"Connection: keep-alive, X-A", b"Expect: 100-continue",
            b"X-A: y", b"Accept: */*", b"X: \t a b \t", b"Empty:",
        ]),
        1 => pick(&[
            b" folded", b"Bad Name: x", b"X : y", b": v", b"NoColon", b"X: \x00", b"X: \x7f",
            b"Host: a b",
        ]),
        8 => (token(), field_value()).prop_map(|(n, v)| [n.as_bytes(), b": ", &v].concat()),
    ]
}

/// `line EOL (field EOL)* EOL body`, then possibly one byte changed, inserted or removed.
fn message(
    start_line: BoxedStrategy<Vec<u8>>,
    body: BoxedStrategy<Vec<u8>>,
) -> impl Strategy<Value = Vec<u8>> {
    (
        start_line,
        eol(),
        prop::collection::vec((field_line(), eol()), 0..8),
        prop_oneof![8 => Just(&b"\r\n"[..]), 1 => Just(&b"\n"[..]), 1 => Just(&b""[..])],
        body,
        mutation(),
    )
        .prop_map(|(line, eol, fields, end, body, mutation)| {
            let mut m = [&line[..], eol].concat();
            for (field, eol) in fields {
                m.extend_from_slice(&field);
                m.extend_from_slice(eol);
            }
            m.extend_from_slice(end);
            m.extend_from_slice(&body);
            mutate(m, mutation)
        })
}

type Mutation = Option<(usize, u8, u8)>;

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![3 => Just(None), 1 => (any::<usize>(), 0u8..3, any::<u8>()).prop_map(Some)]
}

fn mutate(mut m: Vec<u8>, mutation: Mutation) -> Vec<u8> {
    if let Some((at, kind, byte)) = mutation {
        let at = at % (m.len() + 1);
        match kind {
            0 => m.insert(at, byte),
            1 if at < m.len() => m[at] = byte,
            _ if at < m.len() => {
                m.remove(at);
            }
            _ => {}
        }
    }
    m
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    let line = (
        prop_oneof![8 => Just(&b""[..]), 1 => Just(&b"\r\n"[..]), 1 => Just(&b"\n"[..])],
        prop_oneof![
            8 => pick(&[b"GET", b"POST", b"HEAD", b"PUT"]),
            1 => pick(&[b"OPTIONS", b"CONNECT"]),
            1 => token().prop_map(String::into_bytes),
        ],
        prop_oneof![18 => Just(&b" "[..]), 1 => Just(&b"  "[..]), 1 => Just(&b"\t"[..])],
        prop_oneof![
            8 => "/[!-\"$-~]{0,40}".prop_map(String::into_bytes),
            2 => pick(&[b"/", b"/a?b", b"http://a/x", b"https://a"]),
            1 => pick(&[b"*", b"a:443", b"/a b", b"/#f", b"/\xc3\xa9"]),
        ],
        prop_oneof![
            8 => pick(&[b" HTTP/1.1", b" HTTP/1.0"]),
            1 => pick(&[b" HTTP/2.0", b" HTTP/1.2", b" http/1.1", b""]),
        ],
    )
        .prop_map(|(pre, method, sp, target, version)| {
            [pre, &method, sp, &target, &version].concat()
        });
    message(line.boxed(), prop::collection::vec(any::<u8>(), 0..8).boxed())
}

fn response() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        4 => pick(&[
            b"HTTP/1.1 200 OK", b"HTTP/1.0 200 OK", b"HTTP/1.1 204 No Content", b"HTTP/1.1 304",
            b"HTTP/1.1 100 Continue", b"HTTP/1.1 101 Switching", b"HTTP/1.1 404 \xe9",
        ]),
        1 => pick(&[b"HTTP/2.0 200 OK", b"HTTP/1.1 099 X", b"HTTP/1.1  200", b"HTTP/1.1 2000"]),
    ];
    message(line.boxed(), prop::collection::vec(any::<u8>(), 0..8).boxed())
}

/// Chunked bodies, mostly valid, then possibly mutated.
fn chunked() -> impl Strategy<Value = Vec<u8>> {
    let ext = prop_oneof![
        6 => Just(Vec::new()),
        1 => pick(&[b";a=b", b" ;a", b"; a = \"q;\\\"x\"", b";\x01", b" ", b";a\nb"]),
    ];
    let chunk = (
        prop::collection::vec(any::<u8>(), 1..20),
        ext.clone(),
        eol(),
        eol(),
        prop_oneof![9 => Just(0i8), 1 => -1i8..=1],
    );
    (
        prop::collection::vec(chunk, 0..5),
        pick(&[b"0", b"0", b"000", b"00000000000000000"]),
        ext,
        eol(),
        prop::collection::vec((field_line(), eol()), 0..3),
        prop_oneof![8 => Just(&b"\r\n"[..]), 1 => Just(&b"\n"[..]), 1 => Just(&b""[..])],
        prop::collection::vec(any::<u8>(), 0..8),
        mutation(),
    )
        .prop_map(|(chunks, last, ext, eol, trailers, end, after, mutation)| {
            let mut m = Vec::new();
            for (data, ext, size_eol, data_eol, skew) in chunks {
                let size = data.len().saturating_add_signed(isize::from(skew));
                m.extend_from_slice(format!("{size:x}").as_bytes());
                m.extend_from_slice(&ext);
                m.extend_from_slice(size_eol);
                m.extend_from_slice(&data);
                m.extend_from_slice(data_eol);
            }
            m.extend_from_slice(&last);
            m.extend_from_slice(&ext);
            m.extend_from_slice(eol);
            for (field, eol) in trailers {
                m.extend_from_slice(&field);
                m.extend_from_slice(eol);
            }
            m.extend_from_slice(end);
            m.extend_from_slice(&after);
            mutate(m, mutation)
        })
}

fn any_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..400), request(), response(), chunked()]
}

fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (0usize..64, 0usize..5, 0usize..16, 0usize..8, 0usize..16).prop_map(
            |(head, headers, uri, ext, trailer)| Limits {
                max_head_bytes: head,
                max_headers: headers,
                max_uri_bytes: uri,
                max_chunk_ext_bytes: ext,
                max_trailer_bytes: trailer,
            }
        ),
    ]
}

/// The first result other than `Ok(None)` as the buffer grows one byte at a time, and where.
fn first_decision<T>(
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, ParseError>,
) -> (usize, Result<Option<(T, usize)>, ParseError>) {
    for len in 0..=bytes.len() {
        match parse(&bytes[..len]) {
            Ok(None) => {}
            decided => return (len, decided),
        }
    }
    (bytes.len(), Ok(None))
}

/// Decodes `input` in pieces cut at `cuts`; the output, bytes consumed and whether done.
fn decode_split(
    input: &[u8],
    cuts: &[usize],
    limits: &Limits,
) -> Result<(Vec<u8>, usize, bool), ParseError> {
    let mut decoder = ChunkedDecoder::new(limits);
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(input.len());
    points.sort_unstable();
    let mut start = 0;
    for end in points {
        if decoder.is_done() {
            break;
        }
        let n = decoder.decode(&input[start..end], &mut out)?;
        assert!(n <= end - start);
        consumed += n;
        if n < end - start {
            // Only the end of the body stops consumption early.
            assert!(decoder.is_done());
        }
        start = end;
    }
    Ok((out, consumed, decoder.is_done()))
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}"
}

fn field_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        (
            "[!-~]",
            prop::collection::vec(
                prop_oneof![Just(b' '), Just(b'\t'), 0x21u8..0x7f, 0x80u8..=0xff],
                0..24
            ),
            "[!-~]"
        )
            .prop_map(|(a, mid, z)| [a.as_bytes(), &mid, z.as_bytes()].concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn no_input_panics_the_parsers(input in any_input(), limits in limits()) {
        let _ = parse_request_head(&input, &limits);
        for method in ["GET", "HEAD", "CONNECT"] {
            let _ = parse_response_head(&input, &limits, method);
        }
        let mut decoder = ChunkedDecoder::new(&limits);
        let mut out = Vec::new();
        if let Ok(n) = decoder.decode(&input, &mut out) {
            prop_assert!(n <= input.len());
            prop_assert!(out.len() <= n);
        }
    }

    #[test]
    fn request_heads_are_decided_the_same_byte_by_byte(input in any_input(), limits in limits()) {
        let parse = |b: &[u8]| parse_request_head(b, &limits);
        let (len, first) = first_decision(&input, parse);
        prop_assert_eq!(&first, &parse(&input));
        if let Ok(Some((_, consumed))) = first {
            prop_assert_eq!(consumed, len);
        }
    }

    #[test]
    fn response_heads_are_decided_the_same_byte_by_byte(
        input in any_input(),
        limits in limits(),
        method in prop::sample::select(&["GET", "HEAD", "CONNECT", "POST"][..]),
    ) {
        let parse = |b: &[u8]| parse_response_head(b, &limits, method);
        let (len, first) = first_decision(&input, parse);
        prop_assert_eq!(&first, &parse(&input));
        if let Ok(Some((_, consumed))) = first {
            prop_assert_eq!(consumed, len);
        }
    }

    #[test]
    fn chunked_bodies_are_decoded_the_same_however_split(
        input in any_input(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        limits in limits(),
    ) {
        let whole = decode_split(&input, &[], &limits);
        let bytewise = decode_split(&input, &(0..input.len()).collect::<Vec<_>>(), &limits);
        let split = decode_split(&input, &cuts, &limits);
        match &whole {
            Ok(_) => {
                prop_assert_eq!(&bytewise, &whole);
                prop_assert_eq!(&split, &whole);
            }
            Err(e) => {
                prop_assert_eq!(bytewise.map(|_| ()), Err(*e));
                prop_assert_eq!(split.map(|_| ()), Err(*e));
            }
        }
    }

    #[test]
    fn encoded_chunks_decode_to_the_body(
        body in prop::collection::vec(any::<u8>(), 0..3000),
        chunk_cuts in prop::collection::vec(any::<usize>(), 0..10),
        feed_cuts in prop::collection::vec(any::<usize>(), 0..10),
        after in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut points: Vec<usize> = chunk_cuts.iter().map(|c| c % (body.len() + 1)).collect();
        points.push(body.len());
        points.sort_unstable();
        let mut wire = Vec::new();
        let mut start = 0;
        for end in points {
            encode_chunk(&body[start..end], &mut wire);
            start = end;
        }
        encode_last_chunk(&mut wire);
        let framed = wire.len();
        wire.extend_from_slice(&after);
        let decoded = decode_split(&wire, &feed_cuts, &Limits::default());
        prop_assert_eq!(decoded, Ok((body, framed, true)));
    }

    #[test]
    fn written_requests_parse_back(
        method in token().prop_filter("CONNECT takes an authority", |m| m != "CONNECT"),
        target in "/[A-Za-z0-9._~!$&'()*+,;=:@/?%|{}^-]{0,40}",
        fields in prop::collection::vec((token(), field_value()), 0..12),
        length in prop::option::of(any::<u64>()),
    ) {
        let mut headers = vec![Header::new("Host", "gw.example")];
        headers.extend(
            fields
                .into_iter()
                .filter(|(n, _)| {
                    !["host", "content-length", "transfer-encoding"]
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(n))
                })
                .map(|(n, v)| Header::new(n, v)),
        );
        if let Some(length) = length {
            headers.push(Header::new("Content-Length", length.to_string()));
        }
        let mut wire = format!("{method} {target} HTTP/1.0\r\n").into_bytes();
        for h in &headers {
            wire.extend_from_slice(h.name.as_bytes());
            wire.extend_from_slice(b":\t ");
            wire.extend_from_slice(&h.value);
            wire.extend_from_slice(b" \r\n");
        }
        wire.extend_from_slice(b"\r\n");
        let (head, n) = parse_request_head(&wire, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(n, wire.len());
        prop_assert_eq!((&head.method, &head.target, &head.headers), (&method, &target, &headers));

        let mut out = Vec::new();
        write_request_head(&head, &mut out);
        let (again, n) = parse_request_head(&out, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(n, out.len());
        let again_parts = (&again.method, &again.target, &again.headers);
        prop_assert_eq!(again_parts, (&method, &target, &headers));
        prop_assert_eq!(again.framing, head.framing);
    }
}
