//! The gateway binary under test: `gateway-monoio`, or `gateway-smol` with
//! `OIDC_E2E_GATEWAY=gateway-smol` ([`package`]).
//!
//! [`binary`] makes sure the binary is built from the sources in this checkout: by default it
//! runs `cargo build -p <binary>` once per test process (cargo decides what is stale, and
//! its build-directory lock serialises concurrent test binaries); with `OIDC_E2E_NO_BUILD=1` it
//! only checks, and refuses a binary older than any source it was built from.
//!
//! The gateway's stderr goes to a file ([`Gateway::stderr`]). [`Gateway::reload`] waits until
//! the gateway says the reload was applied or refused, by these stderr lines:
//!
//! - `configuration reloaded` (main thread, the file was accepted), ideally
//!   `configuration reloaded (generation N)`;
//! - per worker, `worker W: configuration generation N applied` once its new connections and
//!   its engine use generation N;
//! - `reload refused` anywhere in a line (main thread: file refused; worker: engine refused).
//!
//! When the main line carries no generation (the gateway of the first slice prints a bare
//! `configuration reloaded`, and its workers poll for a new generation every 250 ms and print
//! nothing when they apply it), or the workers print no `applied` line at all, the helper waits
//! [`LEGACY_APPLY_WAIT`] instead.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use crate::TempDir;

/// How long to wait after a bare `configuration reloaded` (no generation number) for every
/// worker to pick the new configuration up (first-slice workers poll every 250 ms).
pub const LEGACY_APPLY_WAIT: Duration = Duration::from_millis(800);

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
    /// Its stderr, captured.
    pub stderr_path: PathBuf,
    gateway_section: String,
    workers: usize,
    _dir: TempDir,
}

/// How to start a gateway.
#[derive(Debug, Clone)]
pub struct Options {
    /// Extra CA trusted for IdP TLS.
    pub ca: Option<PathBuf>,
    /// Worker threads.
    pub workers: usize,
    /// More `gateway:` settings, one `key: value` per line (indented for you), e.g.
    /// `client_header_timeout: 2`.
    pub settings: Vec<String>,
    /// Listen here (from [`free_addr`], when the configuration must name the address, as
    /// a login's `post_logout_redirect_uri` does); a free port when `None`.
    pub listen: Option<SocketAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Self { ca: None, workers: 2, settings: Vec::new(), listen: None }
    }
}

/// A free loopback address for [`Options::listen`].
pub fn free_addr() -> SocketAddr {
    format!("127.0.0.1:{}", free_port()).parse().unwrap()
}

/// What became of a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The gateway said it applied the new file.
    Applied,
    /// The gateway refused it; the line that says so.
    Refused(String),
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| crate::root().join("target"), PathBuf::from)
}

/// Which gateway binary the tests run: `gateway-monoio` unless `OIDC_E2E_GATEWAY` names
/// another (`gateway-smol`); `scripts/test.sh` runs the end-to-end suite once per binary.
pub fn package() -> String {
    match std::env::var("OIDC_E2E_GATEWAY") {
        Ok(name) if name == "gateway-smol" || name == "smol" => String::from("gateway-smol"),
        Ok(name) if name.is_empty() || name == "gateway-monoio" || name == "monoio" => {
            String::from("gateway-monoio")
        }
        Ok(other) => panic!("OIDC_E2E_GATEWAY={other}: expected gateway-monoio or gateway-smol"),
        Err(_) => String::from("gateway-monoio"),
    }
}

/// The binary, built from this checkout's sources (see the module docs).
pub fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_or_check).clone()
}

fn build_or_check() -> PathBuf {
    let target = target_dir();
    let package = package();
    let bin = target.join("debug").join(&package);
    let no_build = std::env::var_os("OIDC_E2E_NO_BUILD").is_some_and(|v| v != "0" && !v.is_empty());
    if !no_build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let started = Instant::now();
        let out = Command::new(cargo)
            .args(["build", "--quiet", "-p", &package])
            .current_dir(crate::root())
            .env("CARGO_TARGET_DIR", &target)
            .stdin(Stdio::null())
            .output()
            .expect("cannot run cargo to build the gateway (set OIDC_E2E_NO_BUILD=1 to use a prebuilt binary)");
        assert!(
            out.status.success(),
            "`cargo build -p {package}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        if started.elapsed() > Duration::from_secs(5) {
            eprintln!("e2e: built {package} in {:?}", started.elapsed());
        }
    }
    assert!(bin.exists(), "{} missing: run `cargo build -p {package}`", bin.display());
    // After a build, cargo has decided (exactly) what was stale; the check then covers the
    // sources it tracks. Without a build, crate manifests count too.
    if let Some(newer) = newer_source(&bin, no_build) {
        panic!(
            "{} is older than {}: it was not built from this checkout's sources. Run `cargo build -p {package}`{}",
            bin.display(),
            newer.display(),
            if no_build { " (or unset OIDC_E2E_NO_BUILD to let the tests build it)" } else { "" }
        );
    }
    bin
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// A source of the binary newer than the binary: every workspace file its dep-info lists
/// (the `.rs` files of oidc-core, oidc-proxy, the adapter and the binary; without
/// dep-info, every `.rs` under those crates' `src`), and with `manifests` the `Cargo.toml` of
/// each of those crates.
fn newer_source(bin: &Path, manifests: bool) -> Option<PathBuf> {
    let built = mtime(bin)?;
    let root = crate::root();
    let mut sources: Vec<PathBuf> = Vec::new();
    match std::fs::read_to_string(bin.with_extension("d")) {
        Ok(dep_info) => {
            let line = dep_info.lines().next().unwrap_or_default();
            let deps = line.split_once(": ").map_or("", |(_, d)| d).replace("\\ ", "\u{0}");
            for d in deps.split_whitespace() {
                let p = PathBuf::from(d.replace('\u{0}', " "));
                if p.starts_with(&root) {
                    sources.push(p);
                }
            }
        }
        Err(_) => {
            for dir in [
                "oidc-core",
                "adapters/proxy",
                "adapters/monoio",
                "adapters/smol",
                "gateway-monoio",
                "gateway-smol",
            ] {
                walk(&root.join(dir).join("src"), &mut sources);
            }
        }
    }
    if manifests {
        let mut crates: Vec<PathBuf> = sources
            .iter()
            .filter_map(|p| p.ancestors().find(|a| a.join("Cargo.toml").is_file() && *a != root))
            .map(|c| c.join("Cargo.toml"))
            .collect();
        crates.sort();
        crates.dedup();
        sources.extend(crates);
    }
    sources.into_iter().find(|p| mtime(p).is_some_and(|m| m > built))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Gateway {
    /// Starts the gateway with `routes_yaml` (the `routes:` section) and the IdP's CA file.
    pub fn start(routes_yaml: &str, ca: &Path) -> Self {
        Self::start_with(routes_yaml, Some(ca))
    }

    /// Starts the gateway, trusting `ca` (if any) besides the system roots for IdP TLS.
    pub fn start_with(routes_yaml: &str, ca: Option<&Path>) -> Self {
        Self::start_opts(
            routes_yaml,
            &Options { ca: ca.map(Path::to_path_buf), ..Options::default() },
        )
    }

    /// Starts the gateway with options.
    pub fn start_opts(routes_yaml: &str, opts: &Options) -> Self {
        let bin = binary();
        let dir = TempDir::new("gw");
        let addr = opts.listen.unwrap_or_else(free_addr);
        let config = dir.0.join("gateway.yaml");
        let access_log = dir.0.join("access.log");
        let stderr_path = dir.0.join("stderr.log");
        let mut section = format!(
            "gateway:\n  listen: {addr}\n  workers: {}\n  access_log: {}\n  shutdown_grace: 5\n",
            opts.workers,
            access_log.display()
        );
        if let Some(ca) = &opts.ca {
            section.push_str(&format!("  ssl_ca_file: {}\n", ca.display()));
        }
        for s in &opts.settings {
            section.push_str(&format!("  {s}\n"));
        }
        std::fs::write(&config, format!("{section}{routes_yaml}")).unwrap();
        let child = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::from(File::create(&stderr_path).unwrap()))
            .spawn()
            .unwrap();
        let mut gw = Self {
            child,
            addr,
            config,
            access_log,
            stderr_path,
            gateway_section: section,
            workers: opts.workers,
            _dir: dir,
        };
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = gw.child.try_wait() {
                panic!("gateway exited at start ({status}); stderr:\n{}", gw.stderr());
            }
            assert!(Instant::now() < until, "gateway did not start; stderr:\n{}", gw.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
        gw
    }

    /// Everything the gateway wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends a signal.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        #[allow(unsafe_code)]
        let r = unsafe { libc::kill(i32::try_from(self.child.id()).unwrap(), sig) };
        assert_eq!(r, 0);
    }

    /// Rewrites the routes (the `gateway:` section stays as started), sends SIGHUP and waits
    /// until the gateway says the reload was applied or refused (see the module docs).
    pub fn reload(&self, routes_yaml: &str) -> Reload {
        self.reload_raw(&format!("{}{routes_yaml}", self.gateway_section))
    }

    /// Replaces the whole file with `yaml`, sends SIGHUP and waits for the outcome.
    pub fn reload_raw(&self, yaml: &str) -> Reload {
        let complete = |text: &str| -> Vec<String> {
            // Only whole lines: the last one may still be being written.
            let upto = text.rfind('\n').map_or(0, |i| i + 1);
            text[..upto].lines().map(str::to_string).collect()
        };
        let seen = complete(&self.stderr()).len();
        std::fs::write(&self.config, yaml).unwrap();
        self.signal(libc::SIGHUP);
        let until = Instant::now() + Duration::from_secs(15);
        let mut generation: Option<Option<u64>> = None;
        let mut reloaded_at = None;
        loop {
            let lines = complete(&self.stderr());
            let new = lines.get(seen..).unwrap_or_default();
            if let Some(l) = new.iter().find(|l| l.contains("reload refused")) {
                return Reload::Refused(l.clone());
            }
            if generation.is_none()
                && let Some(l) = new.iter().find(|l| l.contains("configuration reloaded"))
            {
                reloaded_at = Some(Instant::now());
                generation = Some(
                    l.split("(generation ")
                        .nth(1)
                        .and_then(|r| r.split(')').next())
                        .and_then(|n| n.trim().parse().ok()),
                );
            }
            let legacy = match generation {
                Some(Some(g)) => {
                    let applied = format!("configuration generation {g} applied");
                    if new.iter().filter(|l| l.contains(&applied)).count() >= self.workers {
                        return Reload::Applied;
                    }
                    // A numbered reload line, but workers that never say what they applied.
                    !new.iter().any(|l| l.contains("applied"))
                        && reloaded_at.is_some_and(|t: Instant| t.elapsed() > LEGACY_APPLY_WAIT)
                }
                Some(None) => {
                    std::thread::sleep(LEGACY_APPLY_WAIT);
                    true
                }
                None => false,
            };
            if legacy {
                let lines = complete(&self.stderr());
                let new = lines.get(seen..).unwrap_or_default();
                return match new.iter().find(|l| l.contains("reload refused")) {
                    Some(l) => Reload::Refused(l.clone()),
                    None => Reload::Applied,
                };
            }
            assert!(
                Instant::now() < until,
                "no reload outcome within 15 s (expected `reload refused`, or `configuration reloaded` and, with a generation N, `configuration generation N applied` from each of {} workers); stderr:\n{}",
                self.workers,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
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
