//! The engine on glommio (io_uring, thread-per-core): `blocking_gateway.rs` made async. Every
//! connection and intent is a local task sharing the engine (`Rc<RefCell<..>>`, never borrowed
//! across an await). Plain HTTP to the IdP.
//! Usage: `glommio_gateway 127.0.0.1:8080 '{"client_id":..., "discovery":..., "use_jwks":true}'`
#![allow(clippy::cast_possible_truncation)] // clock and RNG values are deliberately truncated
#[cfg(target_os = "linux")]
use gateway::main;
#[cfg(not(target_os = "linux"))]
fn main() {} // glommio is io_uring: Linux only

#[cfg(target_os = "linux")]
mod gateway {
    use futures_lite::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    use glommio::channels::local_channel::{self, LocalSender};
    use glommio::{LocalExecutorBuilder, net::*, spawn_local, timer::*};
    use oidc_core::{UnixTime, config::OidcConfig, engine::Decision::*, engine::*};
    use std::time::{Duration, Instant as StdInstant, SystemTime, UNIX_EPOCH};
    use std::{cell::Cell, cell::RefCell, collections::HashMap, io, rc::Rc, sync::LazyLock};

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

    struct Gateway {
        engine: RefCell<Engine>,
        waiting: RefCell<HashMap<RequestToken, LocalSender<Decision>>>, // the parked connections
        tick_at: Cell<Instant>, // the earliest deadline a timer is armed for, or UNARMED
    }
    const UNARMED: Instant = Instant::from_micros(u64::MAX);
    static ORIGIN: LazyLock<StdInstant> = LazyLock::new(StdInstant::now); // of the engine's clock

    /// Feeds one input, drains the outputs. Borrows per statement: `spawn_local` polls at once.
    fn feed(gw: &Rc<Gateway>, input: Input<'_>) {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let mono = Instant::from_micros(ORIGIN.elapsed().as_micros() as u64);
        let now = Now { mono, wall: UnixTime::from_secs(wall.as_secs() as i64) };
        gw.engine.borrow_mut().handle_input(now, &mut Rng, input).expect("tokens from a counter");
        gw.tick_at.update(|t| if t > mono { t } else { UNARMED }); // a timer that fired is unarmed
        loop {
            let output = gw.engine.borrow_mut().poll_output();
            match output {
                Output::Decision { token, decision: d } => {
                    let _ = gw.waiting.borrow_mut().remove(&token).map(|tx| tx.try_send(d).ok());
                }
                Output::Event(e) => eprintln!("event: {e:?}"),
                Output::Http(intent) => drop(spawn_local(answer(gw.clone(), intent)).detach()),
                // A timer per earlier deadline; a stale one only ticks early (harmless). With no
                // deadline, the parked requests wait for the intents in flight.
                Output::Idle { next_timeout: Some(at) } if at < gw.tick_at.get() => {
                    gw.tick_at.set(at);
                    let (gw, when) = (gw.clone(), *ORIGIN + Duration::from_micros(at.as_micros()));
                    TimerActionOnce::do_at(when, async move { feed(&gw, Input::Tick) });
                    return;
                }
                Output::Idle { .. } => return,
            }
        }
    }

    /// Reads an HTTP head, up to and with its blank line (CRLF only), as one string.
    async fn read_head(r: &mut (impl AsyncBufRead + Unpin)) -> io::Result<String> {
        let mut head = Vec::new(); // read_until appends; futures-lite's read_line would not
        while !head.ends_with(b"\r\n\r\n") && r.read_until(b'\n', &mut head).await? > 0 {}
        String::from_utf8(head).map_err(io::Error::other)
    }

    /// Performs one intent (`http://`, read to close), feeding back its answer or, at its
    /// deadline, a timeout. (A host name would block the executor in std's resolver.)
    async fn answer(gw: Rc<Gateway>, i: HttpIntent) {
        let left = Duration::from_micros(i.deadline.as_micros()).saturating_sub(ORIGIN.elapsed());
        use FailureKind::*;
        let exchange = async {
            let rest = i.url.strip_prefix("http://").ok_or(Tls)?;
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let mut s = TcpStream::connect(host).await.map_err(|_| Connect)?.buffered();
            let mut req = format!("{} {path} HTTP/1.1\r\nHost: {host}\r\n", i.method.as_str());
            i.headers.iter().for_each(|(n, v)| req += &format!("{n}: {v}\r\n"));
            req += &format!("Content-Length: {}\r\nConnection: close\r\n\r\n", i.body.len());
            s.write_all(&[req.as_bytes(), &i.body].concat()).await.map_err(|_| Connect)?;
            let head = read_head(&mut s).await.map_err(|_| Protocol)?;
            let status = head.split(' ').nth(1).and_then(|c| c.parse().ok());
            let (mut body, limit) = (Vec::new(), i.max_response_bytes as u64 + 1);
            (&mut s).take(limit).read_to_end(&mut body).await.map_err(|_| Protocol)?;
            let body = Some(body).filter(|b| b.len() <= i.max_response_bytes).ok_or(TooLarge)?;
            Ok((status.ok_or(Protocol)?, body))
        };
        match timeout(left, async { Ok(exchange.await) }).await.unwrap_or(Err(Timeout)) {
            Ok((status, body)) => {
                let resp = ResponseView { status, headers: &[], body: &body };
                feed(&gw, Input::Response { intent: i.id, resp });
            }
            Err(kind) => feed(&gw, Input::Failed { intent: i.id, kind }),
        }
    }

    /// One downstream request: parked until the engine decides it, then answered.
    async fn serve(gw: Rc<Gateway>, route: RouteHandle, mut conn: TcpStream<Preallocated>, n: u64) {
        let Ok(head) = read_head(&mut conn).await else { return };
        let mut words = head.split(' ');
        let (method, target) = (words.next().unwrap_or("GET"), words.next().unwrap_or("/"));
        let split = head.lines().skip(1).filter_map(|l| l.split_once(':'));
        let hs: Vec<(&str, &[u8])> = split.map(|(n, v)| (n, v.trim().as_bytes())).collect();
        let ((tx, rx), token) = (local_channel::new_bounded(1), RequestToken(n));
        gw.waiting.borrow_mut().insert(token, tx); // before the input: it may be decided at once
        let req = RequestView::new(method, target, &hs);
        feed(&gw, Input::Request { token, route: &route, req });
        let (status, extra, body) = match rx.recv().await {
            Some(Allow(g)) => (200, vec![], format!("hello {}\n", g.subject.unwrap_or_default())),
            Some(Deny(d)) => (d.status, d.headers, d.body),
            Some(Respond(r)) => (r.status, r.headers, r.body), // login redirects and pages
            _ => (500, vec![], String::from("unknown decision\n")),
        };
        let extra: String = extra.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
        let head = format!("HTTP/1.1 {status} -\r\nContent-Length: {}\r\n{extra}", body.len());
        let out = format!("{head}Connection: close\r\n\r\n{body}");
        let _ = conn.write_all(out.as_bytes()).await; // fails if the client is gone
    }

    pub(super) fn main() -> Result<(), Box<dyn std::error::Error>> {
        let mut args = std::env::args().skip(1);
        let listen = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
        let config = args.next().ok_or("usage: glommio_gateway ADDR CONFIG_JSON")?;
        let config = OidcConfig::from_json(config.as_bytes())?;
        let engine = Engine::new(vec![config], Settings::default(), &mut Rng)?;
        let route = engine.route(0).ok_or("no route")?;
        let (engine, waiting, tick_at) = (engine.into(), RefCell::default(), Cell::new(UNARMED));
        let gw = Rc::new(Gateway { engine, waiting, tick_at });
        // Fails here, loudly, without io_uring or with too little locked memory (RLIMIT_MEMLOCK).
        LocalExecutorBuilder::default().name("gateway").make()?.run(async move {
            let listener = TcpListener::bind(&listen)?;
            println!("listening on {listen}");
            for n in 0.. {
                // Out of descriptors (EMFILE): the server lives on; the pending client waits.
                match listener.accept().await.map(|c| c.buffered()) {
                    Ok(c) => drop(spawn_local(serve(gw.clone(), route.clone(), c, n)).detach()),
                    Err(_) => sleep(Duration::from_millis(100)).await,
                }
            }
            Ok(())
        })
    }
}
