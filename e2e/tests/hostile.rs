//! The gateway against clients that write like a real network or like an attacker, over real
//! sockets, in front of recording upstreams (issue 8). Every assertion is what a user sees:
//! the status and headers the client gets, and what the upstream recorded (or that it
//! recorded nothing).
//!
//! Routes (see [`Env::start`]): `/public/*` open, `/api/*` bearer, `/admin/*` bearer with
//! scope `admin`, all on the recorder `rec`; `/app/*` bearer with scope `admin` on another
//! recorder `other`. Tokens carry scope `read` unless said otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oidc_e2e::client::{Conn, MSS, ReadError, Response, request_bytes};
use oidc_e2e::gateway::{Gateway, Options};
use oidc_e2e::idp::Idp;
use oidc_e2e::recorder::{Behaviour, Recorded, Recorder};
use oidc_e2e::routes::{bearer_route, open_route};
use serde_json::json;

const RESOURCE: &str = "https://api.test";
const HOST: &str = "gw.test";

/// Headers the gateway adds or rewrites on the way up; everything else must arrive as sent.
const GATEWAY_ADDED: &[&str] = &[
    "x-access-token",
    "x-userinfo",
    "x-id-token",
    "x-refresh-token",
    "x-raw-id-token",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-real-ip",
    "forwarded",
    "via",
];

struct Env {
    idp: Idp,
    rec: Recorder,
    other: Recorder,
    gw: Gateway,
}

impl Env {
    fn start() -> Self {
        Self::start_with(&[], "")
    }

    /// The standard routes plus `extra` (a YAML fragment of route items), with `settings` in
    /// the `gateway:` section.
    fn start_with(settings: &[&str], extra: &str) -> Self {
        let idp = Idp::start();
        let (rec, other) = (Recorder::start(), Recorder::start());
        let mut routes = String::from("routes:\n");
        routes += &open_route("public", "/public/*", rec.addr, "");
        routes += &bearer_route("api", "/api/*", &idp.discovery(), rec.addr, "");
        routes += &bearer_route(
            "admin",
            "/admin/*",
            &idp.discovery(),
            rec.addr,
            "        required_scopes: [admin]",
        );
        routes += &bearer_route(
            "app",
            "/app/*",
            &idp.discovery(),
            other.addr,
            "        required_scopes: [admin]",
        );
        routes += extra;
        let opts = Options {
            ca: Some(idp.ca.clone()),
            settings: settings.iter().map(ToString::to_string).collect(),
            ..Options::default()
        };
        let gw = Gateway::start_opts(&routes, &opts);
        Self { idp, rec, other, gw }
    }

    fn token(&self) -> String {
        self.idp.jwt("read", RESOURCE)
    }

    fn conn(&self) -> Conn {
        let c = Conn::connect(self.gw.addr);
        c.set_read_timeout(Duration::from_secs(15));
        c
    }

    /// One request on a new connection: the first response, or why there was none.
    fn send(&self, bytes: &[u8]) -> Result<Response, ReadError> {
        let mut c = self.conn();
        c.send(bytes).unwrap();
        c.try_response(
            std::str::from_utf8(&bytes[..bytes.iter().position(|&b| b == b' ').unwrap()]).unwrap(),
        )
    }
}

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn auth(token: &str) -> String {
    format!("Bearer {token}")
}

fn targets(rs: &[Recorded]) -> Vec<String> {
    rs.iter().map(|r| format!("{} {}", r.method, r.target)).collect()
}

/// A valid token large enough that a request carrying it spans several 1448-byte segments.
fn big_token(idp: &Idp) -> String {
    let t = now();
    let claims = json!({
        "iss": idp.issuer, "sub": "e2e-user", "aud": RESOURCE, "exp": t + 300, "iat": t,
        "scope": "read", "client_id": "jwt-client",
        "groups": (0..120).map(|i| format!("group-{i:04}-of-a-large-directory")).collect::<Vec<_>>(),
    });
    let token = idp.sign(claims, "ES256", json!({}));
    assert!(token.len() > 2 * MSS, "token of {} bytes is not large", token.len());
    token
}

// ---------------------------------------------------------------------------------------------
// Split reads.

#[test]
fn a_request_split_across_segments_gets_the_same_answer() {
    let e = Env::start();
    let token = big_token(&e.idp);
    let a = auth(&token);
    let req = request_bytes(
        "GET",
        "/api/split?q=1",
        HOST,
        &[("Authorization", &a), ("X-Trace", "t-1"), ("Accept", "*/*")],
        b"",
        false,
    );
    let token_at = req.windows(token.len()).position(|w| w == token.as_bytes()).unwrap();
    type Writer = Box<dyn Fn(&mut Conn, &[u8]) -> std::io::Result<()>>;
    let ways: Vec<(&str, Writer)> = vec![
        ("at once", Box::new(|c: &mut Conn, b: &[u8]| c.send(b))),
        (
            "two parts 50 ms apart (cut inside the token)",
            Box::new(move |c: &mut Conn, b: &[u8]| {
                c.write_split(b, &[token_at + 100], Duration::from_millis(50))
            }),
        ),
        ("two parts 50 ms apart (cut before the blank line)", {
            Box::new(|c: &mut Conn, b: &[u8]| {
                c.write_split(b, &[b.len() - 2], Duration::from_millis(50))
            })
        }),
        ("1448-byte segments", Box::new(|c: &mut Conn, b: &[u8]| c.write_mss(b))),
        (
            "100-byte segments",
            Box::new(|c: &mut Conn, b: &[u8]| c.write_segments(b, 100, Duration::from_millis(2))),
        ),
    ];
    let mut heads: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut failures = Vec::new();
    for (name, write) in &ways {
        let before = e.rec.hits();
        let mut c = e.conn();
        write(&mut c, &req).unwrap();
        let got = c.try_response("GET");
        let new = e.rec.since(before);
        match got {
            Ok(r) if r.status == 200 && new.len() == 1 => {
                heads.push((name, new[0].raw_head_without(GATEWAY_ADDED)));
            }
            Ok(r) => failures.push(format!(
                "{name}: {}; upstream recorded {:?}",
                r.summary(),
                targets(&new)
            )),
            Err(err) => {
                failures.push(format!("{name}: {err}; upstream recorded {:?}", targets(&new)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "the same request must get the same answer:\n{}",
        failures.join("\n")
    );
    let (first_name, first) = &heads[0];
    let text = String::from_utf8_lossy(first);
    assert!(text.starts_with("GET /api/split?q=1 HTTP/1.1\r\n"), "{text}");
    assert!(text.contains("\r\nX-Trace: t-1\r\n"), "{text}");
    for (name, h) in &heads[1..] {
        assert_eq!(
            String::from_utf8_lossy(h),
            String::from_utf8_lossy(first),
            "upstream head for {name:?} differs from {first_name:?}"
        );
    }

    // A small request, split at every offset.
    let small =
        b"GET /public/split?x=1 HTTP/1.1\r\nHost: gw.test\r\nX-A: 1\r\nConnection: close\r\n\r\n";
    let before = e.rec.hits();
    let mut wrong = Vec::new();
    for off in 1..small.len() {
        let mut c = e.conn();
        c.write_split(small, &[off], Duration::from_millis(15)).unwrap();
        match c.try_response("GET") {
            Ok(r) if r.status == 200 && r.json()["target"] == "/public/split?x=1" => {}
            Ok(r) => wrong.push(format!("split at {off}: {}", r.summary())),
            Err(err) => wrong.push(format!("split at {off}: {err}")),
        }
    }
    let new = e.rec.since(before);
    assert!(
        wrong.is_empty(),
        "{} of {} splits went wrong:\n{}",
        wrong.len(),
        small.len() - 1,
        wrong.join("\n")
    );
    assert_eq!(
        new.len(),
        small.len() - 1,
        "one upstream request per client request: {:?}",
        targets(&new)
    );
    assert!(new.iter().all(|r| r.target == "/public/split?x=1"), "{:?}", targets(&new));
}

#[test]
fn a_header_value_split_across_segments_is_never_a_request_of_its_own() {
    let e = Env::start();
    let first = "GET /public/a HTTP/1.1\r\nHost: gw.test\r\nX-Junk: ";
    let second = "GET /public/SMUG HTTP/1.1\r\nHost: gw.test\r\n\r\n";
    let bytes = format!("{first}{second}");
    let mut c = e.conn();
    c.write_split(bytes.as_bytes(), &[first.len()], Duration::from_millis(50)).unwrap();
    let got = c.try_response("GET");
    // Anything further the gateway sends within a second (a second response would mean it saw
    // two requests).
    let (_, more) = c.wait_closed(Duration::from_secs(1));
    let seen = e.rec.requests();
    assert!(
        !seen.iter().any(|r| r.target.contains("SMUG")),
        "a header value became a request upstream: {:?} (client got {:?})",
        targets(&seen),
        got.as_ref().map(Response::summary)
    );
    match got {
        // The value is one (odd) header value of /public/a; with two Host fields a 400 is right too.
        Ok(r) if r.status == 200 => {
            assert_eq!(r.json()["target"], "/public/a");
            assert_eq!(seen.len(), 1);
            assert_eq!(seen[0].header("x-junk"), Some("GET /public/SMUG HTTP/1.1"));
        }
        Ok(r) => assert_eq!(r.status, 400, "{}", r.text()),
        Err(err) => panic!("no answer: {err}"),
    }
    assert!(more.is_empty(), "a second response followed: {:?}", String::from_utf8_lossy(&more));
}

#[test]
fn a_huge_header_sent_in_pieces_gets_431_before_the_client_finishes() {
    let e = Env::start();
    let mut c = e.conn();
    c.set_read_timeout(Duration::from_secs(1));
    let mut w = c.stream().try_clone().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = Arc::clone(&stop);
    // 2 MiB of header value in 4 KiB pieces (each well under the 16 KiB head limit, so only a
    // gateway that adds the pieces up can notice), 2 ms apart: over a second if nobody stops it.
    w.set_nodelay(true).unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        let piece = vec![b'x'; 4 * 1024];
        let mut sent = 0usize;
        if w.write_all(b"GET /public/big HTTP/1.1\r\nHost: gw.test\r\nX-Big: ").is_err() {
            return (sent, false);
        }
        while sent < 2 * 1024 * 1024 {
            if s2.load(Ordering::SeqCst) || w.write_all(&piece).is_err() {
                return (sent, false);
            }
            sent += piece.len();
            std::thread::sleep(Duration::from_millis(2));
        }
        (sent, true)
    });
    let started = Instant::now();
    let got = loop {
        match c.try_response("GET") {
            Err(ReadError::Timeout { .. }) if started.elapsed() < Duration::from_secs(6) => {}
            other => break other,
        }
    };
    stop.store(true, Ordering::SeqCst);
    let (sent, finished) = writer.join().unwrap();
    let r = got.unwrap_or_else(|err| {
        panic!("no answer to a 2 MiB header ({sent} bytes sent, all sent: {finished}): {err}")
    });
    assert_eq!(r.status, 431, "{}", r.text());
    assert!(!finished, "the 431 came only after the client had sent all 2 MiB");
    let (closed, _) = c.wait_closed(Duration::from_secs(5));
    assert!(closed, "the connection stays open after a 431");
    assert_eq!(e.rec.hits(), 0, "{:?}", targets(&e.rec.requests()));
}

#[test]
fn a_head_sent_one_byte_per_second_is_cut_off() {
    let e = Env::start_with(&["client_header_timeout: 2"], "");
    let mut c = e.conn();
    c.set_read_timeout(Duration::from_millis(500));
    let mut w = c.stream().try_clone().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = Arc::clone(&stop);
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        for b in b"GET /public/slow HTTP/1.1\r\nHost: gw.test\r\nX-Slow: abcdefghijklmnopqrstuvwxyz"
        {
            if s2.load(Ordering::SeqCst) || w.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let first_byte = Instant::now();
    let outcome = loop {
        match c.try_response("GET") {
            Err(ReadError::Timeout { .. }) if first_byte.elapsed() < Duration::from_secs(12) => {}
            other => break other,
        }
    };
    let took = first_byte.elapsed();
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    match outcome {
        Ok(r) => assert_eq!(r.status, 408, "{}", r.text()),
        Err(ReadError::Closed { partial }) if partial.is_empty() => {}
        Err(ReadError::Io { .. }) => {}
        Err(err) => {
            panic!("a head trickling in at 1 byte/s kept its connection for {took:?}: {err}")
        }
    }
    assert!(
        took <= Duration::from_secs(4),
        "cut off only after {took:?} (client_header_timeout 2 s)"
    );
    assert_eq!(e.rec.hits(), 0);
}

#[test]
fn a_stalled_body_is_cut_off() {
    let e = Env::start_with(&["client_body_timeout: 2"], "");
    let mut c = e.conn();
    c.set_read_timeout(Duration::from_millis(500));
    c.send(b"POST /public/body HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 100\r\n\r\n0123456789")
        .unwrap();
    let last_byte = Instant::now();
    let outcome = loop {
        match c.try_response("POST") {
            Err(ReadError::Timeout { .. }) if last_byte.elapsed() < Duration::from_secs(12) => {}
            other => break other,
        }
    };
    let took = last_byte.elapsed();
    match outcome {
        Ok(r) => assert!(matches!(r.status, 408 | 400), "{} {}", r.status, r.text()),
        Err(ReadError::Closed { .. } | ReadError::Io { .. }) => {}
        Err(err) => panic!(
            "a body that stopped after 10 of 100 bytes kept its connection for {took:?}: {err}"
        ),
    }
    assert!(
        took <= Duration::from_secs(4),
        "cut off only after {took:?} (client_body_timeout 2 s)"
    );
}

#[test]
fn a_client_that_stops_reading_is_cut_off() {
    let e = Env::start_with(&["send_timeout: 2"], "");
    // 64 MiB: far more than every socket buffer between the upstream and the client can hold,
    // so the gateway's writes to the client block once the client stops reading.
    let size = 64 * 1024 * 1024;
    e.rec.set("/public/huge", Behaviour { body_size: Some(size), ..Behaviour::default() });
    let mut c = e.conn();
    c.send(&request_bytes("GET", "/public/huge", HOST, &[], b"", false)).unwrap();
    let mut s = c.stream().try_clone().unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0usize;
    {
        use std::io::Read as _;
        got += s.read(&mut buf).unwrap();
        // Stop reading for send_timeout + 3 s.
        std::thread::sleep(Duration::from_secs(5));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let ended = loop {
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => got += n,
                Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(err) => panic!("after {got} bytes: {err}"),
            }
            if got >= size {
                break false;
            }
        };
        assert!(
            ended && got < size,
            "a client that stopped reading for 5 s still got the whole response ({got} bytes, send_timeout 2 s)"
        );
    }
}

#[test]
fn connections_beyond_max_connections_are_not_served() {
    let e = Env::start_with(&["max_connections: 4"], "");
    // Eight connections, each with a keep-alive request, all held open at once.
    let mut held: Vec<Conn> = (0..8).map(|_| e.conn()).collect();
    for c in &mut held {
        c.send(&request_bytes("GET", "/public/cap", HOST, &[], b"", false)).unwrap();
    }
    let answers: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = held
            .iter_mut()
            .map(|c| {
                scope.spawn(move || {
                    c.set_read_timeout(Duration::from_secs(3));
                    match c.try_response("GET") {
                        Ok(r) => r.status.to_string(),
                        Err(ReadError::Timeout { .. }) => "waiting".into(),
                        Err(_) => "closed".into(),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let served = answers.iter().filter(|a| *a == "200").count();
    assert!(served <= 4, "{served} of 8 connections served with max_connections 4: {answers:?}");
    // Once they are gone, the gateway serves again.
    drop(held);
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let r = e.send(&request_bytes("GET", "/public/after", HOST, &[], b"", true));
        if matches!(&r, Ok(r) if r.status == 200) {
            break;
        }
        assert!(Instant::now() < until, "not served again after the connections closed: {r:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------------------------
// One canonical path.

/// Whether a recorded target is free of everything that makes a path ambiguous.
fn clean(target: &str) -> bool {
    let path = target.split('?').next().unwrap_or_default();
    let lower = path.to_ascii_lowercase();
    !lower.contains("%2e")
        && !lower.contains("%2f")
        && !lower.contains("%5c")
        && !path.contains('\\')
        && !path
            .split('/')
            .any(|s| s == "." || s == ".." || s.starts_with(".;") || s.starts_with("..;"))
}

const TRAVERSALS: &[&str] = &[
    "/public/../api/x",
    "/public/%2e%2e/api/x",
    "/public/.%2e/api/x",
    "/public/%2e./api/x",
    "/public/%2E%2E/api/x",
    "/public/./../api/x",
    "/public/..%2fapi/x",
    "/public/..%2Fapi/x",
    "/public/%2e%2e%2fapi/x",
    "/public/..;/api/x",
    "/public/..;x=1/api/x",
    "/public//../api/x",
    "//../api/x",
    "/public/..\\api/x",
    "/public/..%5capi/x",
    "http://gw.test/public/../api/x",
    "http://gw.test/public/%2e%2e/api/x",
];

#[test]
fn traversal_never_reaches_a_protected_route_unchecked() {
    let e = Env::start();
    let token = e.token();
    let mut failures = Vec::new();
    for with_token in [false, true] {
        for &target in TRAVERSALS {
            let a = auth(&token);
            let headers: Vec<(&str, &str)> =
                if with_token { vec![("Authorization", &a)] } else { vec![] };
            let before = e.rec.hits();
            let got = e.send(&request_bytes("GET", target, HOST, &headers, b"", true));
            let new = e.rec.since(before);
            let status = got.as_ref().map_or(0, |r| r.status);
            let fine = match (&new[..], status) {
                // Refused as ambiguous, or routed as /api/x and refused for want of a token.
                ([], 400) => true,
                ([], 401) => !with_token,
                // Routed as its canonical form: a clean path, and /api only with the verified token.
                ([r], 200) => {
                    clean(&r.target)
                        && (!r.path().starts_with("/api")
                            || r.header("x-access-token") == Some(token.as_str()))
                        && (with_token || !r.path().starts_with("/api"))
                }
                _ => false,
            };
            if !fine {
                failures.push(format!(
                    "{} {target:?}: client got {status}, upstream recorded {:?}",
                    if with_token { "with token" } else { "no token" },
                    targets(&new)
                ));
            }
        }
    }
    let leaked: Vec<String> =
        e.rec.requests().iter().filter(|r| !clean(&r.target)).map(|r| r.target.clone()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} traversal requests went wrong:\n{}\nambiguous paths the upstream saw: {leaked:?}",
        failures.len(),
        2 * TRAVERSALS.len(),
        failures.join("\n")
    );
    assert!(leaked.is_empty(), "{leaked:?}");
}

#[test]
fn the_canonical_path_is_what_the_upstream_gets() {
    let e = Env::start();
    let cases = [
        ("/public/a/./b/../c", "/public/a/c"),
        ("/public/a/./b/../c?q=1&r=../x", "/public/a/c?q=1&r=../x"),
        ("/public/a/%2e/b/%2E%2E/c", "/public/a/c"),
        ("/public/a/b/c/../../d", "/public/a/d"),
        ("/public/%7Euser/%41bc", "/public/~user/Abc"),
        ("http://gw.test/public/a/../b", "/public/b"),
    ];
    let mut failures = Vec::new();
    for (sent, expected) in cases {
        let before = e.rec.hits();
        let got = e.send(&request_bytes("GET", sent, HOST, &[], b"", true));
        let new = e.rec.since(before);
        let ok =
            matches!(&got, Ok(r) if r.status == 200) && new.len() == 1 && new[0].target == expected;
        if !ok {
            failures.push(format!(
                "{sent:?}: expected the upstream to get {expected:?}; client got {:?}, upstream recorded {:?}",
                got.as_ref().map(|r| r.status),
                targets(&new)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn traversal_with_a_valid_token_stays_on_its_route() {
    let e = Env::start();
    let token = e.token();
    let a = auth(&token);
    for target in
        ["/api/echo/../../app/x", "/api/echo/%2e%2e/%2e%2e/app/x", "/api/echo/..%2f..%2fapp/x"]
    {
        let before = e.rec.hits();
        let got = e.send(&request_bytes("GET", target, HOST, &[("Authorization", &a)], b"", true));
        let new = e.rec.since(before);
        let status = got.as_ref().map_or(0, |r| r.status);
        assert!(
            e.other.hits() == 0 && new.iter().all(|r| clean(&r.target)),
            "{target:?} (a `read` token for /api, and /app needs `admin`): client got {status}; /app's upstream recorded {:?}, /api's upstream recorded {:?}",
            targets(&e.other.requests()),
            targets(&new)
        );
        // 400 as ambiguous, or 403: /app/x needs a scope the token lacks.
        assert!(matches!(status, 400 | 403), "{target:?}: {status}");
    }
}

// ---------------------------------------------------------------------------------------------
// Credentials.

#[test]
fn x_access_token_alone_authenticates() {
    let e = Env::start();
    let token = e.token();
    let got = e
        .send(&request_bytes("GET", "/api/xat", HOST, &[("X-Access-Token", &token)], b"", true))
        .unwrap();
    assert_eq!(
        got.status,
        200,
        "README: bearer tokens come from Authorization or X-Access-Token; got {}",
        got.text()
    );
    let seen = e.rec.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].headers_named("x-access-token"),
        [token.as_str()],
        "the verified token, once"
    );
}

#[test]
fn more_than_one_credential_is_400_and_reaches_nobody() {
    let e = Env::start();
    let (valid, other) = (e.token(), e.idp.jwt("read admin", RESOURCE));
    let forged = {
        let mut parts: Vec<String> = valid.split('.').map(str::to_string).collect();
        parts[2] = "AAAA".repeat(20);
        parts.join(".")
    };
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "two Authorization fields, valid then forged",
            vec![("Authorization", auth(&valid)), ("Authorization", auth(&forged))],
        ),
        (
            "two Authorization fields, forged then valid",
            vec![("Authorization", auth(&forged)), ("Authorization", auth(&valid))],
        ),
        (
            "Authorization and X-Access-Token disagree",
            vec![("Authorization", auth(&valid)), ("X-Access-Token", other.clone())],
        ),
        (
            "X-Access-Token and Authorization disagree",
            vec![("X-Access-Token", valid.clone()), ("Authorization", auth(&other))],
        ),
    ];
    let mut failures = Vec::new();
    for (name, hs) in &cases {
        let hs: Vec<(&str, &str)> = hs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let before = e.rec.hits();
        let got = e.send(&request_bytes("GET", "/api/creds", HOST, &hs, b"", true));
        let new = e.rec.since(before);
        let status = got.as_ref().map_or(0, |r| r.status);
        if status != 400 || !new.is_empty() {
            failures.push(format!(
                "{name}: client got {status}; upstream recorded {} request(s), Authorization fields {:?}, X-Access-Token fields {:?}",
                new.len(),
                new.iter().flat_map(|r| r.headers_named("authorization")).map(|v| &v[..v.len().min(24)]).collect::<Vec<_>>(),
                new.iter().flat_map(|r| r.headers_named("x-access-token")).map(|v| &v[..v.len().min(24)]).collect::<Vec<_>>(),
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Header hygiene.

const IDENTITY: &[&str] =
    &["x-access-token", "x-id-token", "x-userinfo", "x-refresh-token", "x-raw-id-token"];

fn normalised(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

#[test]
fn client_identity_and_forwarding_headers_never_reach_the_upstream_as_sent() {
    let e = Env::start();
    let token = e.token();
    let a = auth(&token);
    let spoofs = [
        ("X-Userinfo", "spoofed"),
        ("X_Userinfo", "spoofed"),
        ("x_access_token", "spoofed"),
        ("X-ID-Token", "spoofed"),
        ("X_Id_Token", "spoofed"),
        ("X-Refresh-Token", "spoofed"),
        ("X_Raw_ID_Token", "spoofed"),
        ("X_Forwarded_Proto", "spoofed"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "evil.test"),
        ("X_Forwarded_Host", "spoofed"),
        ("X_Forwarded_For", "spoofed"),
        ("X-Forwarded-For", "203.0.113.9"),
    ];
    let mut failures = Vec::new();
    for (path, protected) in [("/public/h", false), ("/api/h", true)] {
        let mut hs: Vec<(&str, &str)> = spoofs.to_vec();
        if protected {
            hs.push(("Authorization", &a));
        }
        let before = e.rec.hits();
        let got = e.send(&request_bytes("GET", path, HOST, &hs, b"", true));
        let new = e.rec.since(before);
        let status = got.as_ref().map_or(0, |r| r.status);
        let [r] = &new[..] else {
            failures.push(format!(
                "{path}: client got {status}; upstream recorded {:?}",
                targets(&new)
            ));
            continue;
        };
        let mut bad = Vec::new();
        for (n, v) in &r.headers {
            let norm = normalised(n);
            if v == "spoofed" || v == "evil.test" {
                bad.push(format!("{n}: {v}"));
            } else if n.contains('_')
                && (IDENTITY.contains(&norm.as_str()) || norm.starts_with("x-forwarded-"))
            {
                bad.push(format!("{n}: {v} (underscore form)"));
            }
        }
        let one = |name: &str| {
            r.headers
                .iter()
                .filter(|(n, _)| normalised(n) == name)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        if one("x-forwarded-proto") != ["http"] {
            bad.push(format!(
                "x-forwarded-proto fields {:?} (the gateway listens on http)",
                one("x-forwarded-proto")
            ));
        }
        if one("x-forwarded-host") != [HOST] {
            bad.push(format!("x-forwarded-host fields {:?}", one("x-forwarded-host")));
        }
        if one("x-forwarded-for") != ["203.0.113.9, 127.0.0.1"] {
            bad.push(format!(
                "x-forwarded-for fields {:?} (the peer appended to the client's)",
                one("x-forwarded-for")
            ));
        }
        for id in IDENTITY {
            let values = one(id);
            let ok = match (*id, protected) {
                ("x-access-token", true) => values == [token.as_str()],
                ("x-userinfo", true) => values.len() == 1 && values[0] != "spoofed",
                _ => values.is_empty(),
            };
            if !ok {
                bad.push(format!(
                    "{id} fields {:?}",
                    values.iter().map(|v| &v[..v.len().min(24)]).collect::<Vec<_>>()
                ));
            }
        }
        if status != 200 || !bad.is_empty() {
            failures.push(format!(
                "{path}: client got {status}; upstream got:\n    {}",
                bad.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn connection_cannot_remove_the_gateways_own_headers() {
    let e = Env::start();
    let token = e.token();
    let a = auth(&token);
    let got = e
        .send(&request_bytes(
            "GET",
            "/api/conn",
            HOST,
            &[
                ("Authorization", &a),
                ("Connection", "X-Userinfo, X-Access-Token, X-Drop-Me"),
                ("X-Drop-Me", "1"),
            ],
            b"",
            false,
        ))
        .unwrap();
    assert_eq!(got.status, 200, "{}", got.text());
    let seen = e.rec.requests();
    let r = &seen[0];
    assert_eq!(
        r.header("x-drop-me"),
        None,
        "a header the client nominated in Connection is hop-by-hop"
    );
    assert_eq!(
        r.headers_named("x-access-token"),
        [token.as_str()],
        "Connection removed the gateway's own X-Access-Token; upstream headers: {:?}",
        r.headers.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    assert_eq!(
        r.headers_named("x-userinfo").len(),
        1,
        "Connection removed the gateway's own X-Userinfo"
    );
}

// ---------------------------------------------------------------------------------------------
// HTTP semantics.

#[test]
fn head_answers_carry_no_body() {
    let e = Env::start();
    let token = e.token();
    let a = auth(&token);
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16);
    let cases: [Case<'_>; 4] = [
        ("no route", "/nowhere", vec![], 404),
        ("no token", "/api/x", vec![], 401),
        ("scope missing", "/admin/x", vec![("Authorization", &a)], 403),
        ("from the upstream", "/public/x", vec![], 200),
    ];
    let mut failures = Vec::new();
    for (name, path, hs, status) in &cases {
        let mut c = e.conn();
        let mut bytes = request_bytes("HEAD", path, HOST, hs, b"", false);
        bytes.extend(request_bytes("GET", "/public/after", HOST, &[], b"", false));
        c.send(&bytes).unwrap();
        let head = match c.try_response("HEAD") {
            Ok(r) => r,
            Err(err) => {
                failures.push(format!("HEAD {path} ({name}): {err}"));
                continue;
            }
        };
        if head.status != *status {
            failures
                .push(format!("HEAD {path} ({name}): status {} (expected {status})", head.status));
            continue;
        }
        // The next bytes must be the GET's response (or nothing, if the HEAD's said close).
        match c.try_response("GET") {
            Ok(r) if r.status == 200 && r.json()["target"] == "/public/after" => {}
            Err(ReadError::Closed { partial })
                if partial.is_empty() && head.header("connection") == Some("close") => {}
            Ok(r) => failures.push(format!(
                "HEAD {path} ({name}): the pipelined GET got {}",
                r.summary()
            )),
            Err(err) => failures.push(format!(
                "HEAD {path} ({name}): the pipelined GET's response is unreadable (the HEAD answer carried a body?): {err}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_upgrade_the_client_did_not_ask_for_is_502() {
    let e = Env::start();
    e.rec.set("/public/ws101", Behaviour { upgrade: true, ..Behaviour::default() });
    let mut c = e.conn();
    c.send(&request_bytes("GET", "/public/ws101", HOST, &[], b"", false)).unwrap();
    let r = c.response("GET");
    assert_eq!(
        r.status,
        502,
        "an upstream 101 to a request without Upgrade was relayed: {:?}",
        String::from_utf8_lossy(&r.raw_head)
    );
    // Not a tunnel: the next request on the connection is HTTP again (or the connection is closed).
    if c.send(&request_bytes("GET", "/public/next", HOST, &[], b"", false)).is_ok() {
        match c.try_response("GET") {
            Ok(n) => {
                assert_eq!((n.status, n.json()["target"].clone()), (200, json!("/public/next")));
            }
            Err(ReadError::Closed { partial } | ReadError::Io { partial, .. }) => {
                assert!(partial.is_empty(), "{:?}", String::from_utf8_lossy(&partial));
            }
            Err(err) => panic!("after the 502: {err}"),
        }
    }
}

#[test]
fn websocket_upgrade_on_an_enabled_route_becomes_a_tunnel() {
    let idp = Idp::start();
    let rec = Recorder::start();
    rec.set("/ws", Behaviour { upgrade: true, ..Behaviour::default() });
    let routes = format!(
        "routes:\n{}",
        bearer_route("ws", "/ws/*", &idp.discovery(), rec.addr, "")
            .replace("    plugins:\n", "    enable_websocket: true\n    plugins:\n")
    );
    let gw = Gateway::start(&routes, &idp.ca);
    let token = idp.jwt("read", RESOURCE);
    let a = auth(&token);
    let upgrade = [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];

    // Without a token: 401, nothing upstream.
    let mut c = Conn::connect(gw.addr);
    c.send(&request_bytes("GET", "/ws/chat", HOST, &upgrade, b"", false)).unwrap();
    assert_eq!(c.response("GET").status, 401);
    assert_eq!(rec.hits(), 0);

    let mut hs = upgrade.to_vec();
    hs.push(("Authorization", &a));
    let mut c = Conn::connect(gw.addr);
    c.set_read_timeout(Duration::from_secs(10));
    c.send(&request_bytes("GET", "/ws/chat", HOST, &hs, b"", false)).unwrap();
    let r = c.response("GET");
    assert_eq!(r.status, 101, "{}", r.text());
    assert_eq!(r.header("upgrade").map(str::to_ascii_lowercase).as_deref(), Some("websocket"));
    assert_eq!(r.header("sec-websocket-accept"), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    let seen = rec.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("upgrade"), Some("websocket"));
    assert!(
        seen[0]
            .headers_named("connection")
            .iter()
            .any(|v| v.to_ascii_lowercase().contains("upgrade"))
    );
    assert_eq!(seen[0].header("x-access-token"), Some(token.as_str()));
    // Bytes flow both ways.
    let payload = b"\x81\x05hello tunnel \x00\xff";
    c.send(payload).unwrap();
    let mut back = c.leftover().to_vec();
    while back.len() < payload.len() {
        use std::io::Read as _;
        let mut buf = [0u8; 256];
        let n = c.stream().read(&mut buf).unwrap();
        assert!(n > 0, "tunnel closed after {:?}", back);
        back.extend_from_slice(&buf[..n]);
    }
    assert_eq!(back, payload);
}

#[test]
fn an_http10_client_never_gets_chunked() {
    let e = Env::start();
    e.rec.set("/public/chunked", Behaviour { chunked: true, ..Behaviour::default() });
    // The recorder really answers chunked (HTTP/1.1 client).
    let r = e.send(&request_bytes("GET", "/public/chunked/11", HOST, &[], b"", true)).unwrap();
    assert_eq!((r.status, r.header("transfer-encoding")), (200, Some("chunked")));

    let mut c = e.conn();
    c.send(b"GET /public/chunked/10 HTTP/1.0\r\nHost: gw.test\r\n\r\n").unwrap();
    let (closed, raw) = c.wait_closed(Duration::from_secs(10));
    let r = match oidc_e2e::wire::parse_response(&raw, "GET", closed) {
        Ok(Some((r, _))) => r,
        other => panic!("{other:?}: {:?}", String::from_utf8_lossy(&raw)),
    };
    assert_eq!(r.status, 200);
    assert!(
        r.headers_all("transfer-encoding").is_empty(),
        "HTTP/1.0 client got Transfer-Encoding: {:?}",
        String::from_utf8_lossy(&r.raw_head)
    );
    assert_eq!(r.json()["target"], "/public/chunked/10", "body intact");
    if let Some(n) = r.header("content-length") {
        assert_eq!(n.parse::<usize>().unwrap(), r.body.len());
    } else {
        assert!(closed, "no length: the body must end with the connection");
    }
}

#[test]
fn only_idempotent_requests_are_retried_on_a_stale_upstream_connection() {
    let (p, g) = (Recorder::start(), Recorder::start());
    // Each upstream answers the first request on a connection and closes the connection,
    // without answering, on the second.
    for r in [&p, &g] {
        r.set_global(Behaviour { close_on_nth: Some(2), ..Behaviour::default() });
    }
    let extra = format!(
        "{}{}",
        open_route("pf", "/pf/*", p.addr, ""),
        open_route("gf", "/gf/*", g.addr, "")
    );
    let e = Env::start_with(&[], &extra);

    // One client connection: one worker, one upstream pool.
    let mut c = e.conn();
    assert_eq!(c.get("/pf/warm", &[]).status, 200);
    c.send(&request_bytes(
        "POST",
        "/pf/post",
        HOST,
        &[("Content-Type", "text/plain")],
        b"abc",
        false,
    ))
    .unwrap();
    let got = c.try_response("POST");
    let posts: Vec<Recorded> = p.requests().into_iter().filter(|r| r.method == "POST").collect();
    let status = got.as_ref().map_or(0, |r| r.status);
    let where_: Vec<(u64, u64)> = posts.iter().map(|r| (r.conn, r.nth)).collect();
    assert_eq!(
        posts.len(),
        1,
        "a POST was resent after its upstream connection closed without an answer (RFC 9112 §9.3.1): recorded as (connection, nth) {where_:?}; client got {:?}",
        got.as_ref().map(Response::summary)
    );
    // Sent on the pooled connection (its 2nd request), which closed: 502. (A gateway that never
    // sends a POST on a reused connection gets it answered on a fresh one: 200.)
    assert!(
        (status == 502 && posts[0].nth == 2) || (status == 200 && posts[0].nth == 1),
        "POST recorded as (connection, nth) {where_:?}; client got {status}"
    );

    let mut c = e.conn();
    assert_eq!(c.get("/gf/warm", &[]).status, 200);
    let r = c.get("/gf/get", &[]);
    assert_eq!(r.status, 200, "an idempotent GET is retried on a fresh connection: {}", r.text());
    let gets: Vec<(u64, u64)> =
        g.requests().iter().filter(|r| r.target == "/gf/get").map(|r| (r.conn, r.nth)).collect();
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(gets[1].1, 1, "the retry went on a fresh connection: {gets:?}");
}

#[test]
fn a_bad_chunked_body_is_a_400_that_says_so() {
    let e = Env::start();
    let head = "POST /public/chunk HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (name, parts) in [
        ("at once", vec![format!("{head}zz\r\nabc\r\n0\r\n\r\n")]),
        (
            "after a good chunk, 50 ms later",
            vec![format!("{head}5\r\nhello\r\n"), "zz\r\nabc\r\n0\r\n\r\n".into()],
        ),
        ("chunk data longer than its size", vec![format!("{head}3\r\nhello\r\n0\r\n\r\n")]),
    ] {
        let all = parts.concat();
        let mut offsets = Vec::new();
        let mut at = 0;
        for p in &parts[..parts.len() - 1] {
            at += p.len();
            offsets.push(at);
        }
        let mut c = e.conn();
        c.write_split(all.as_bytes(), &offsets, Duration::from_millis(50)).unwrap();
        let r = c.try_response("POST").unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        assert!(
            r.text().to_ascii_lowercase().contains("chunk"),
            "{name}: the 400 does not say why: {}",
            r.text()
        );
        let (closed, _) = c.wait_closed(Duration::from_secs(5));
        assert!(closed, "{name}: the connection must close after a broken body");
    }
}

#[test]
fn sigterm_closes_idle_keep_alive_connections_at_once() {
    let e = Env::start_with(&["shutdown_grace: 20", "client_keepalive_timeout: 120"], "");
    let mut c = e.conn();
    let r = c.get("/public/idle", &[]);
    assert_eq!(r.status, 200);
    // The connection is now idle keep-alive; a drain must not wait for it.
    let t0 = Instant::now();
    let Env { gw, .. } = e;
    let status = gw.terminate();
    let took = t0.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(10),
        "the drain waited {took:?} on an idle connection (shutdown_grace is 20 s)"
    );
    let (closed, _) = c.wait_closed(Duration::from_secs(2));
    assert!(closed, "the idle connection was not closed");
}

/// An upstream that answers each request on a connection and then, `after` later, either
/// closes the connection (as gunicorn and Node.js do with idle keep-alive connections) or
/// sends an unsolicited second response. Returns its address and the requests' first lines.
fn fickle_upstream(
    after: Duration,
    stray: bool,
) -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match s.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < end + 4 + len {
                        match s.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..end + 4 + len);
                    log.lock().unwrap().push(head.lines().next().unwrap_or("").to_string());
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    std::thread::sleep(after);
                    if stray {
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET");
                    } else {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

#[test]
fn a_pooled_connection_the_upstream_closed_is_not_used() {
    let (up, seen) = fickle_upstream(Duration::from_millis(100), false);
    let e = Env::start_with(&[], &open_route("idle", "/idle/*", up, ""));
    let mut c = e.conn();
    assert_eq!(c.get("/idle/warm", &[]).status, 200);
    std::thread::sleep(Duration::from_millis(500));
    // The upstream closed its idle connection meanwhile; a POST cannot be retried, so the
    // gateway must notice before sending it.
    c.send(&request_bytes("POST", "/idle/post", HOST, &[], b"abc", false)).unwrap();
    let r = c.try_response("POST").unwrap();
    assert_eq!(r.status, 200, "{}", r.summary());
    let posts = seen.lock().unwrap().iter().filter(|l| l.starts_with("POST")).count();
    assert_eq!(posts, 1);
}

#[test]
fn bytes_an_upstream_sends_unasked_never_answer_the_next_request() {
    let (up, _) = fickle_upstream(Duration::from_millis(100), true);
    let e = Env::start_with(&[], &open_route("stray", "/stray/*", up, ""));
    let mut c = e.conn();
    assert_eq!(c.get("/stray/first", &[]).text(), "ok");
    // Bytes that arrive while the connection is idle in the pool are seen before reuse. (Bytes
    // sent while a request is in flight are indistinguishable from its answer, for any proxy.)
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(400));
        let r = c.get("/stray/next", &[]);
        assert_eq!(r.status, 200, "{}", r.summary());
        assert_eq!(r.text(), "ok", "another exchange's bytes were given to this request");
    }
}

#[test]
fn host_routes_win_over_catch_alls_whatever_the_host_spelling() {
    let (open_up, secure_up) = (Recorder::start(), Recorder::start());
    let idp = Idp::start();
    let secure = bearer_route("secure", "/*", &idp.discovery(), secure_up.addr, "")
        .replace("    uri: \"/*\"\n", "    uri: \"/*\"\n    host: secure.test\n");
    let routes = format!("routes:\n{}{secure}", open_route("open", "/*", open_up.addr, ""));
    let gw =
        Gateway::start_opts(&routes, &Options { ca: Some(idp.ca.clone()), ..Options::default() });
    for raw in [
        "GET /x HTTP/1.1\r\nHost: secure.test\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: secure.test.\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: SECURE.test.:80\r\n\r\n",
        "GET http://secure.test/x HTTP/1.0\r\n\r\n",
    ] {
        let mut c = Conn::connect(gw.addr);
        c.set_read_timeout(Duration::from_secs(10));
        c.send(raw.as_bytes()).unwrap();
        let r = c.try_response("GET").unwrap();
        assert_eq!(r.status, 401, "{raw:?} must reach the protected virtual host: {}", r.summary());
    }
    for bad in
        ["secure.test:abc", "secure.test:80.", "secure.test:80:80", "secure.test..", ".secure.test"]
    {
        let mut c = Conn::connect(gw.addr);
        c.set_read_timeout(Duration::from_secs(10));
        c.send(format!("GET /x HTTP/1.1\r\nHost: {bad}\r\n\r\n").as_bytes()).unwrap();
        let r = c.try_response("GET").unwrap();
        assert_eq!(r.status, 400, "Host {bad:?}: {}", r.summary());
    }
    assert_eq!(open_up.hits(), 0, "the catch-all served a request for the protected host");
    let mut c = Conn::connect(gw.addr);
    c.send(b"GET /x HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(c.try_response("GET").unwrap().status, 200, "no host: the catch-all");
    let got = open_up.requests();
    assert!(got[0].header("host").is_some(), "an HTTP/1.1 upstream request always has a Host");
}
