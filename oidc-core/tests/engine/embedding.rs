//! The embedding proof: `examples/blocking_gateway.rs` (the engine in a plain `std::net` loop,
//! under 150 lines) is run as a process against a plain-HTTP provider served here, and judges
//! real requests: a signed token gets `200 hello <sub>`, none gets 401.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::Signer;

/// The example binary cargo built next to this test binary (`cargo test` builds examples).
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join("blocking_gateway")
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

fn get(addr: &str, auth: Option<&str>) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET /api HTTP/1.1\r\nHost: x\r\n{auth}\r\n").unwrap();
    let mut out = String::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn the_blocking_example_judges_real_requests() {
    let bin = example();
    assert!(bin.exists(), "{} missing (cargo test builds the examples)", bin.display());
    let source = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/blocking_gateway.rs"),
    )
    .unwrap();
    assert!(source.lines().count() < 150, "the embedding example must stay under 150 lines");
    let signer = Signer::new("k1");
    let origin = provider(&signer);
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let config = json!({"client_id": "api", "client_secret": "s3cret-s3cret-s3cret",
                        "discovery": format!("{origin}/.well-known/openid-configuration"),
                        "bearer_only": true, "use_jwks": true});
    let child = Command::new(&bin)
        .args([addr.as_str(), &config.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Kill(child);
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < until, "the example did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let now = i64::try_from(now.as_secs()).unwrap();
    let token = signer.sign(&json!({"iss": origin, "sub": "alice", "aud": "api",
                                    "exp": now + 300, "iat": now}));
    let ok = get(&addr, Some(&token));
    assert!(ok.starts_with("HTTP/1.1 200") && ok.contains("hello alice"), "{ok}");
    let denied = get(&addr, None);
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
}
