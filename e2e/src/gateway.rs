//! The `gateway-monoio` binary under test.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its configuration file (rewrite it, then [`Gateway::reload`]).
    pub config: PathBuf,
    /// Its access log.
    pub access_log: PathBuf,
    _dir: TempDir,
}

/// The binary, built by `cargo build -p gateway-monoio` (scripts/test.sh does it).
pub fn binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| crate::root().join("target"), PathBuf::from);
    let bin = target.join("debug/gateway-monoio");
    assert!(bin.exists(), "{} missing: run `cargo build -p gateway-monoio`", bin.display());
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Gateway {
    /// Starts the gateway with `routes_yaml` (the `routes:` section) and the IdP's CA file.
    pub fn start(routes_yaml: &str, ca: &std::path::Path) -> Self {
        Self::start_with(routes_yaml, Some(ca))
    }

    /// Starts the gateway, trusting `ca` (if any) besides the system roots for IdP TLS.
    pub fn start_with(routes_yaml: &str, ca: Option<&std::path::Path>) -> Self {
        let dir = TempDir::new("gw");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = dir.0.join("gateway.yaml");
        let access_log = dir.0.join("access.log");
        let ca_line = ca.map(|c| format!("  ssl_ca_file: {}\n", c.display())).unwrap_or_default();
        let yaml = format!(
            "gateway:\n  listen: {addr}\n  workers: 2\n{ca_line}  access_log: {}\n  shutdown_grace: 5\n{routes_yaml}",
            access_log.display()
        );
        std::fs::write(&config, yaml).unwrap();
        let child = Command::new(binary())
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < until, "gateway did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, addr, config, access_log, _dir: dir }
    }

    /// Sends a signal.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        #[allow(unsafe_code)]
        let r = unsafe { libc::kill(i32::try_from(self.child.id()).unwrap(), sig) };
        assert_eq!(r, 0);
    }

    /// Rewrites the routes and sends SIGHUP.
    pub fn reload(&self, routes_yaml: &str, ca: &std::path::Path) {
        let yaml = format!(
            "gateway:\n  listen: {}\n  workers: 2\n  ssl_ca_file: {}\n  access_log: {}\n{routes_yaml}",
            self.addr,
            ca.display(),
            self.access_log.display()
        );
        std::fs::write(&self.config, yaml).unwrap();
        self.signal(libc::SIGHUP);
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        self.child.wait().unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
