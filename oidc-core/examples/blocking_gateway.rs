//! The engine in a blocking `std::net` loop: a toy resource server answering `200 hello <sub>`
//! for a valid bearer token and the engine's denial otherwise, talking plain HTTP to the IdP.
//! Usage: `blocking_gateway 127.0.0.1:8080 '{"client_id":..., "discovery":..., "use_jwks":true}'`
#![allow(clippy::cast_possible_truncation)] // clock and RNG values are deliberately truncated
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant as StdInstant, SystemTime, UNIX_EPOCH};

use oidc_core::UnixTime;
use oidc_core::config::OidcConfig;
use oidc_core::engine::*;

/// The OS RNG: state, nonce and PKCE values must be unguessable.
struct Rng;
impl Entropy for Rng {
    fn fill_public(&mut self, buf: &mut [u8]) {
        self.fill_secret(buf);
    }
    fn fill_secret(&mut self, buf: &mut [u8]) {
        getrandom::fill(buf).expect("the OS RNG");
    }
}

/// Reads an HTTP head: the first line and the headers (names lower-cased).
fn read_head(r: &mut impl BufRead) -> std::io::Result<(String, Vec<(String, String)>)> {
    let (mut first, mut headers) = (String::new(), Vec::new());
    r.read_line(&mut first)?;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
            return Ok((first.trim().into(), headers));
        }
        if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().into()));
        }
    }
}

/// A failed wait: past the intent's deadline, or the provider broke the exchange.
fn failure(e: std::io::Error) -> FailureKind {
    use std::io::ErrorKind::*;
    match e.kind() {
        TimedOut | WouldBlock => FailureKind::Timeout,
        _ => FailureKind::Protocol,
    }
}

/// One intent as a blocking HTTP/1.1 exchange (`http://`, read to close) within `left` of it.
fn perform(intent: &HttpIntent, left: Duration) -> Result<(u16, Vec<u8>), FailureKind> {
    let rest = intent.url.strip_prefix("http://").ok_or(FailureKind::Tls)?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = host.to_socket_addrs().ok().and_then(|mut a| a.next());
    let left = Some(left).filter(|l| !l.is_zero()).ok_or(FailureKind::Timeout)?;
    let s = TcpStream::connect_timeout(&addr.ok_or(FailureKind::Connect)?, left);
    let mut s = s.map_err(failure)?; // (writes of a small request do not block)
    s.set_read_timeout(Some(left)).map_err(failure)?;
    let mut req = format!("{} {path} HTTP/1.1\r\nHost: {host}\r\n", intent.method.as_str());
    intent.headers.iter().for_each(|(n, v)| req += &format!("{n}: {v}\r\n"));
    req += &format!("Content-Length: {}\r\nConnection: close\r\n\r\n", intent.body.len());
    let sent = s.write_all(req.as_bytes()).and_then(|()| s.write_all(&intent.body));
    sent.map_err(failure)?;
    let mut r = BufReader::new(s);
    let (status, _) = read_head(&mut r).map_err(failure)?;
    let status = status.split(' ').nth(1).and_then(|c| c.parse().ok());
    let mut body = Vec::new();
    let limit = intent.max_response_bytes as u64 + 1;
    r.take(limit).read_to_end(&mut body).map_err(failure)?;
    if body.len() > intent.max_response_bytes {
        return Err(FailureKind::TooLarge);
    }
    Ok((status.ok_or(FailureKind::Protocol)?, body))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let config = args.next().ok_or("usage: blocking_gateway ADDR CONFIG_JSON")?;
    let config = OidcConfig::from_json(config.as_bytes())?;
    let mut rng = Rng;
    let mut engine = Engine::new(vec![config], Settings::default(), &mut rng)?;
    let origin = StdInstant::now();
    let now = || {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let mono = Instant::from_micros(origin.elapsed().as_micros() as u64);
        Now { mono, wall: UnixTime::from_secs(wall.as_secs() as i64) }
    };
    let left = |i: &HttpIntent| {
        Duration::from_micros(i.deadline.as_micros()).saturating_sub(origin.elapsed())
    };
    let listener = TcpListener::bind(&listen)?;
    println!("listening on {listen}");
    for (n, conn) in listener.incoming().enumerate() {
        // A client's failure ends its connection only; out of descriptors, wait a little.
        let Ok(conn) = conn else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(10))); // one slow client at a time
        let mut conn = BufReader::new(conn);
        let Ok((line, headers)) = read_head(&mut conn) else { continue };
        let mut parts = line.split(' ');
        let (method, target) = (parts.next().unwrap_or("GET"), parts.next().unwrap_or("/"));
        let hs: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (&**k, v.as_bytes())).collect();
        let req = RequestView::new(method, target, &hs);
        let token = RequestToken(n as u64);
        let route = engine.route(0).ok_or("no route")?;
        engine.handle_input(now(), &mut rng, Input::Request { token, route: &route, req })?;
        // The run loop: drain outputs, performing intents and feeding their answers back.
        let decision = loop {
            let input = match engine.poll_output() {
                Output::Decision { decision, .. } => break decision,
                Output::Event(e) => {
                    eprintln!("event: {e:?}");
                    continue;
                }
                Output::Idle { .. } => Input::Tick,
                Output::Http(i) => match perform(&i, left(&i)) {
                    Ok((status, body)) => {
                        let resp = ResponseView { status, headers: &[], body: &body };
                        engine.handle_input(
                            now(),
                            &mut rng,
                            Input::Response { intent: i.id, resp },
                        )?;
                        continue;
                    }
                    Err(kind) => Input::Failed { intent: i.id, kind },
                },
            };
            engine.handle_input(now(), &mut rng, input)?;
        };
        let (status, extra, body) = match decision {
            Decision::Allow(g) => {
                (200, vec![], format!("hello {}\n", g.subject.unwrap_or_default()))
            }
            Decision::Deny(d) => (d.status, d.headers, d.body),
            // Login redirects and pages (routes with a session branch).
            Decision::Respond(r) => (r.status, r.headers, r.body),
            _ => (500, vec![], String::from("unknown decision\n")),
        };
        let mut head = format!("HTTP/1.1 {status} -\r\nContent-Length: {}\r\n", body.len());
        for (n, v) in extra {
            head += &format!("{n}: {v}\r\n");
        }
        let _ =
            conn.get_mut().write_all(format!("{head}Connection: close\r\n\r\n{body}").as_bytes());
    }
    Ok(())
}
