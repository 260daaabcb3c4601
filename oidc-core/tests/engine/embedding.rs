//! The embedding proof: `examples/blocking_gateway.rs` (the engine in a plain `std::net` loop)
//! and `examples/glommio_gateway.rs` (the engine on glommio's io_uring executor, Linux only),
//! each under 150 lines, are run as processes against a plain-HTTP provider served here, and
//! judge real requests: a signed token gets `200 hello <sub>`, none gets 401.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::Signer;

/// The example binary next to this test binary. `cargo test` builds the examples, `cargo test
/// --test engine` does not: one missing or older than its source is built here, with the cargo
/// and target directory running this test. (A change to the library alone is not noticed.)
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap(); // <target>/<profile>
    let bin = dir.join("examples").join(name);
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&bin) < modified(&src) {
        let profile = dir.file_name().unwrap().to_str().unwrap();
        let profile = if profile == "debug" { "dev" } else { profile };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "oidc-core", "--example", name, "--profile", profile])
            .arg("--target-dir")
            .arg(dir.parent().unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "building example {name} failed: {status}");
    }
    bin
}

/// Serves discovery and the JWKS over plain HTTP, one request per connection.
fn provider(signer: &Signer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let discovery = json!({
        "issuer": origin, "authorization_endpoint": format!("{origin}/auth"),
        "jwks_uri": format!("{origin}/jwks"), "response_types_supported": ["code"],
        "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["ES256"],
    })
    .to_string();
    let jwks = json!({"keys": [signer.jwk()]}).to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let mut r = BufReader::new(conn);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
            }
            let body = if line.contains("/jwks") { &jwks } else { &discovery };
            let out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = r.get_mut().write_all(out.as_bytes());
        }
    });
    origin
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The answer to `GET /api`, or why there is none (for the assertion's message).
fn get(addr: &str, auth: Option<&str>) -> String {
    let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let exchange = || -> std::io::Result<String> {
        let mut s = TcpStream::connect(addr)?;
        write!(s, "GET /api HTTP/1.1\r\nHost: x\r\n{auth}\r\n")?;
        let mut out = String::new();
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let _ = s.read_to_string(&mut out);
        Ok(out)
    };
    exchange().unwrap_or_else(|e| format!("no answer: {e}"))
}

/// Runs `examples/<name>.rs` against the provider and judges a request with and without a
/// token. The example's stderr is collected (drained, so it never blocks on a full pipe) and shown
/// by every failed assertion: an example that exits early says why.
fn judges_real_requests(name: &str) {
    let bin = example(name);
    assert!(bin.exists(), "{} missing (cargo test builds the examples)", bin.display());
    let source = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs")),
    )
    .unwrap();
    let lines = source.lines().count();
    assert!(lines < 150, "the embedding example {name}.rs must stay under 150 lines: {lines}");
    let signer = Signer::new("k1");
    let origin = provider(&signer);
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let config = json!({"client_id": "api", "client_secret": "s3cret-s3cret-s3cret",
                        "discovery": format!("{origin}/.well-known/openid-configuration"),
                        "bearer_only": true, "use_jwks": true});
    let mut child = Command::new(&bin)
        .args([addr.as_str(), &config.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let (mut pipe, sink) = (child.stderr.take().unwrap(), Arc::clone(&stderr));
    std::thread::spawn(move || {
        let mut buf = [0; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    // Only on failure: a moment for the reader to drain what a dying example wrote.
    let stderr = move || {
        std::thread::sleep(Duration::from_millis(200));
        format!("\n--- {name} stderr ---\n{}", stderr.lock().unwrap())
    };
    let mut guard = Kill(child);
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_err() {
        if let Some(status) = guard.0.try_wait().unwrap() {
            panic!("{name} exited before listening ({status}){}", stderr());
        }
        assert!(Instant::now() < until, "{name} did not start within 10 s{}", stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let now = i64::try_from(now.as_secs()).unwrap();
    let token = signer.sign(&json!({"iss": origin, "sub": "alice", "aud": "api",
                                    "exp": now + 300, "iat": now}));
    let ok = get(&addr, Some(&token));
    assert!(ok.starts_with("HTTP/1.1 200") && ok.contains("hello alice"), "{ok}{}", stderr());
    let denied = get(&addr, None);
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}{}", stderr());
}

#[test]
fn the_blocking_example_judges_real_requests() {
    judges_real_requests("blocking_gateway");
}

/// glommio registers io_uring buffers in locked memory and refuses to start below 512 KiB of
/// RLIMIT_MEMLOCK. The example inherits this process's limit; checked first so that a machine
/// with too little fails here, naming the fix, instead of being skipped or failing obscurely.
#[cfg(target_os = "linux")]
#[test]
fn the_glommio_example_judges_real_requests() {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max locked memory"));
    let line = line.expect("no \"Max locked memory\" in /proc/self/limits");
    let soft = line.split_whitespace().nth(3).unwrap(); // Max locked memory <soft> <hard> bytes
    let enough = soft == "unlimited" || soft.parse::<u64>().unwrap() >= 512 * 1024;
    assert!(
        enough,
        "glommio needs at least 512 KiB of locked memory, but RLIMIT_MEMLOCK (Max locked memory \
         in /proc/self/limits) is {soft} bytes: raise it where cargo test runs (`ulimit -l 512` \
         or more, as root or within the hard limit; `--ulimit memlock=-1` for docker; \
         LimitMEMLOCK= for a systemd unit; memlock in /etc/security/limits.conf)"
    );
    judges_real_requests("glommio_gateway");
}

/// Starts `examples/<name>.rs` (through `sh -c 'ulimit -n <fds>; exec ..'` when `fds` is set)
/// against a provider; returns the process, its address and a valid token.
fn start_example(name: &str, fds: Option<u32>) -> (Kill, String, String) {
    start_example_at(name, fds, None)
}

/// [`start_example`], with the provider at `origin` when given.
fn start_example_at(name: &str, fds: Option<u32>, origin: Option<&str>) -> (Kill, String, String) {
    let bin = example(name);
    let signer = Signer::new("k1");
    let origin = origin.map_or_else(|| provider(&signer), str::to_string);
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let config = json!({"client_id": "api", "client_secret": "s3cret-s3cret-s3cret",
                        "discovery": format!("{origin}/.well-known/openid-configuration"),
                        "bearer_only": true, "use_jwks": true});
    let mut cmd = match fds {
        Some(n) => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\"")]).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    let child = cmd
        .args([addr.as_str(), &config.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Kill(child);
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_err() {
        assert!(guard.0.try_wait().unwrap().is_none(), "{name} exited before listening");
        assert!(Instant::now() < until, "{name} did not start within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let now = i64::try_from(now.as_secs()).unwrap();
    let token = signer.sign(&json!({"iss": origin, "sub": "alice", "aud": "api",
                                    "exp": now + 300, "iat": now}));
    (guard, addr, token)
}

/// One client sends a header value that is not UTF-8 (a single 0xff byte), then a legitimate
/// client asks: the example must still be serving. (Review finding 6: the blocking example's
/// `read_head(..)?` ended the process for everyone.)
fn survives_a_non_utf8_header(name: &str) {
    let (mut guard, addr, token) = start_example(name, None);
    let mut bad = TcpStream::connect(&addr).unwrap();
    bad.write_all(b"GET /api HTTP/1.1\r\nHost: x\r\nX-Junk: \xff\r\n\r\n").unwrap();
    let _ = bad.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = bad.read_to_end(&mut Vec::new());
    std::thread::sleep(Duration::from_millis(200));
    let exited = guard.0.try_wait().unwrap();
    assert!(exited.is_none(), "{name} exited ({exited:?}) on one client's non-UTF-8 header");
    let ok = get(&addr, Some(&token));
    assert!(ok.starts_with("HTTP/1.1 200") && ok.contains("hello alice"), "{ok}");
}

#[test]
fn the_blocking_example_survives_a_non_utf8_header() {
    survives_a_non_utf8_header("blocking_gateway");
}

#[cfg(target_os = "linux")]
#[test]
fn holds_the_glommio_example_survives_a_non_utf8_header() {
    survives_a_non_utf8_header("glommio_gateway");
}

/// A client that opens more idle connections than the process has descriptors: `accept`
/// fails with EMFILE and the server must live on, serving once descriptors are free. (Review
/// finding 5: `listener.accept().await?` ended the executor.) 128 descriptors stand for 1024.
#[cfg(target_os = "linux")]
#[test]
fn the_glommio_example_survives_running_out_of_descriptors() {
    let (mut guard, addr, token) = start_example("glommio_gateway", Some(128));
    let mut idle = Vec::new();
    for _ in 0..200 {
        match TcpStream::connect(&addr) {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let exited = guard.0.try_wait().unwrap();
    drop(idle);
    std::thread::sleep(Duration::from_millis(200));
    assert!(exited.is_none(), "glommio_gateway exited ({exited:?}) when accept hit EMFILE");
    let ok = get(&addr, Some(&token));
    assert!(ok.starts_with("HTTP/1.1 200") && ok.contains("hello alice"), "{ok}");
}

/// A provider that accepts and never answers. The engine gives each intent a deadline and the
/// run loop must answer it by then (`Input::Failed { kind: Timeout }`), so a request is decided
/// (an error status) within the deadline and the process keeps serving. (Review finding 7: the
/// blocking example set no timeout, and its first fetch blocked every client forever.)
fn decides_within_the_deadline_with_a_stalling_provider(name: &str) {
    let stall = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", stall.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in stall.incoming().flatten() {
            held.push(s);
        }
    });
    let (_guard, addr, token) = start_example_at(name, None, Some(&origin));
    let t0 = Instant::now();
    let answer = get(&addr, Some(&token)); // gives up after 10 s without an answer
    let took = t0.elapsed();
    assert!(answer.starts_with("HTTP/1.1 5"), "{name}: {answer:?} after {took:?}");
    // The next client is served too (decided at once or after another deadline).
    let next = get(&addr, None);
    assert!(next.starts_with("HTTP/1.1 "), "{name}: {next:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn holds_the_glommio_example_decides_within_the_deadline_with_a_stalling_provider() {
    decides_within_the_deadline_with_a_stalling_provider("glommio_gateway");
}

#[test]
fn the_blocking_example_decides_within_the_deadline_with_a_stalling_provider() {
    decides_within_the_deadline_with_a_stalling_provider("blocking_gateway");
}
