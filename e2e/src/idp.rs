//! The real OpenID Provider: `node e2e/idp/idp.mjs` (oidc-provider over TLS), with its plain
//! HTTP admin API for minting, signing, revoking and rotating.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::TempDir;

/// A running IdP.
#[derive(Debug)]
pub struct Idp {
    child: Option<Child>,
    /// `https://localhost:<port>`.
    pub issuer: String,
    /// The admin API address (`127.0.0.1:<port>`).
    pub admin: String,
    /// The CA certificate the IdP's TLS certificate chains to.
    pub ca: PathBuf,
    _dir: TempDir,
}

impl Idp {
    /// Starts the IdP (its `node_modules` must be installed: `npm ci` in `e2e/idp`).
    pub fn start() -> Self {
        let dir = TempDir::new("idp");
        let script = crate::root().join("e2e/idp/idp.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .args(["--port", "0", "--admin-port", "0", "--quiet", "--exit-with-stdin", "--tls-dir"])
            .arg(dir.0.join("tls"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (see scripts/test.sh for the install step)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("IdP start line {line:?}: {e}"));
        Self {
            child: Some(child),
            issuer: v["issuer"].as_str().unwrap().into(),
            admin: v["admin"].as_str().unwrap().trim_start_matches("http://").into(),
            ca: PathBuf::from(v["ca"].as_str().unwrap()),
            _dir: dir,
        }
    }

    /// The discovery URL.
    pub fn discovery(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut s = TcpStream::connect(&self.admin).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.admin,
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let r = crate::client::parse(&raw);
        assert!(r.status < 300, "admin {path}: {} {}", r.status, String::from_utf8_lossy(&r.body));
        r.json()
    }

    /// A JWT access token (RFC 9068) from a real client_credentials grant.
    pub fn jwt(&self, scope: &str, resource: &str) -> String {
        let scope = scope.replace(' ', "%20");
        let v = self.admin(
            "GET",
            &format!("/token?client=jwt-client&scope={scope}&resource={resource}"),
            None,
        );
        v["access_token"].as_str().unwrap().into()
    }

    /// An opaque (introspectable) access token.
    pub fn opaque(&self, scope: &str) -> String {
        let scope = scope.replace(' ', "%20");
        let v = self.admin("GET", &format!("/token?client=opaque-client&scope={scope}"), None);
        v["access_token"].as_str().unwrap().into()
    }

    /// Signs `claims` with the IdP's current key for `alg` (options merged into the request).
    pub fn sign(&self, claims: Value, alg: &str, extra: Value) -> String {
        let mut req = json!({ "claims": claims, "alg": alg });
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        self.admin("POST", "/sign", Some(req))["token"].as_str().unwrap().into()
    }

    /// Revokes an opaque token.
    pub fn revoke(&self, token: &str) {
        self.admin("POST", "/revoke", Some(json!({ "token": token })));
    }

    /// Adds a new ES256 signing key; returns its kid.
    pub fn rotate(&self) -> String {
        self.admin("POST", "/rotate", None)["kid"].as_str().unwrap().into()
    }

    /// Registers (or replaces) a browser client (authorization code + refresh token) with
    /// `POST /clients`: `{client_id, client_secret, redirect_uris, post_logout_redirect_uris,
    /// token_endpoint_auth_method, require_pkce, access_token_ttl, id_token_tamper}` (see
    /// `e2e/idp/README.md`). Returns the IdP's answer (the normalised spec and the client's
    /// metadata as oidc-provider loaded it).
    pub fn register_client(&self, spec: Value) -> Value {
        self.admin("POST", "/clients", Some(spec))
    }

    /// The counters since start or the last [`Self::reset_stats`]: `authorization`,
    /// `login_form`, `token_authorization_code`, `token_refresh_token`, `userinfo`,
    /// `end_session`, `revocation`, and the same per client in `by_client`.
    pub fn stats(&self) -> Value {
        self.admin("GET", "/stats", None)
    }

    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        self.admin("POST", "/stats/reset", None);
    }

    /// Stops the IdP.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.stop();
    }
}
