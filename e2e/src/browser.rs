//! A real browser: headless Debian Chromium driven by `node e2e/browser/driver.mjs`
//! (playwright-core) over a line-oriented JSON protocol on its stdin/stdout. See
//! `e2e/browser/README.md` for the protocol.
//!
//! One [`Browser`] is one browser context (one cookie jar, a fresh profile) with any number
//! of named pages (tabs), created on first use. Every operation answers within 20 s (the
//! driver's per-operation timeout), so a test never hangs on the browser.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::TempDir;

/// A running browser (the driver process and its Chromium).
#[derive(Debug)]
pub struct Browser {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
    /// The Chromium version the driver reported.
    pub version: String,
    dir: TempDir,
}

impl Browser {
    /// Starts the driver and its Chromium (`npm ci` in `e2e/browser` and Debian `chromium`
    /// must be installed: `scripts/test.sh` does both; `CHROMIUM` overrides the executable).
    pub fn start() -> Self {
        let dir = TempDir::new("browser");
        let script = crate::root().join("e2e/browser/driver.mjs");
        let log = std::fs::File::create(dir.0.join("driver.log")).unwrap();
        let mut child = Command::new("node")
            .arg(&script)
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("node (see scripts/test.sh for the install step)");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            let log = std::fs::read_to_string(dir.0.join("driver.log")).unwrap_or_default();
            panic!("browser driver start line {line:?}: {e}\n--- driver log ---\n{log}")
        });
        assert_eq!(v["ready"], true, "browser driver start line {line:?}");
        Self {
            child: Some(child),
            stdin: Some(stdin),
            stdout,
            next_id: 1,
            version: v["chromium"].as_str().unwrap_or_default().into(),
            dir,
        }
    }

    /// The driver's log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("driver.log")).unwrap_or_default()
    }

    /// Sends one operation (`{"op": ..., ...}`; the id is added) and returns the reply
    /// (including `"ok": true`), or the driver's error text.
    pub fn try_call(&mut self, op: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut req = op;
        assert!(req.is_object(), "a browser operation is a JSON object: {req}");
        req["id"] = json!(id);
        let stdin = self.stdin.as_mut().expect("browser stopped");
        writeln!(stdin, "{req}").and_then(|()| stdin.flush()).unwrap_or_else(|e| {
            panic!("browser driver gone ({e}) sending {req}\n--- driver log ---\n{}", self.log())
        });
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).unwrap();
        assert!(n > 0, "browser driver exited during {req}\n--- driver log ---\n{}", self.log());
        let reply: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("browser driver reply {line:?}: {e}"));
        assert_eq!(reply["id"], json!(id), "browser driver reply to another request: {line}");
        if reply["ok"] == true {
            Ok(reply)
        } else {
            Err(reply["error"].as_str().unwrap_or("error without text").to_string())
        }
    }

    /// Like [`Self::try_call`], panicking with the error text (and the operation) on failure.
    pub fn call(&mut self, op: Value) -> Value {
        let shown = op.to_string();
        self.try_call(op).unwrap_or_else(|e| panic!("browser {shown}: {e}"))
    }

    /// Navigates `page` to `url` and waits until it has loaded and settled (redirects,
    /// self-submitting forms). Reply: `status` (final main-frame response), `url` (final),
    /// `title`, `text` (body text, at most 4000 chars), `chain` (main-frame request URLs of
    /// this navigation, in order).
    pub fn open(&mut self, page: &str, url: &str) -> Value {
        self.call(json!({ "op": "open", "page": page, "url": url }))
    }

    /// Fills the IdP login form shown on `page` and submits it; waits until the browser has
    /// left the IdP (callback, then the original URL) and loaded. Reply as [`Self::open`]
    /// (`chain` from the form POST on), plus `login_error` if the IdP showed the form again
    /// (wrong password). Panics if `page` shows no login form.
    pub fn login(&mut self, page: &str, user: &str, password: &str) -> Value {
        self.call(json!({ "op": "login", "page": page, "username": user, "password": password }))
    }

    /// `fetch(url, {headers, credentials: 'include', redirect: 'manual'})` from the page's
    /// scripts (a script request, not a navigation). Reply: `status`, `type` (`basic`, `cors`,
    /// `opaqueredirect` with status 0, or `error` with `error` for a network error), `url`,
    /// `headers` (those a script may read), `body` (at most 4000 chars).
    pub fn fetch(&mut self, page: &str, url: &str, headers: Value) -> Value {
        self.call(json!({ "op": "fetch", "page": page, "url": url, "headers": headers }))
    }

    /// All cookies of the browser: `{name, value, domain, path, httpOnly, secure, sameSite,
    /// expires}` (`expires` -1 for a session cookie).
    pub fn cookies(&mut self) -> Vec<Value> {
        match self.call(json!({ "op": "cookies" })).get_mut("cookies").map(Value::take) {
            Some(Value::Array(v)) => v,
            other => panic!("cookies reply without a list: {other:?}"),
        }
    }

    /// The cookie named `name`, if the browser has one (any domain).
    pub fn cookie(&mut self, name: &str) -> Option<Value> {
        self.cookies().into_iter().find(|c| c["name"] == name)
    }

    /// Adds cookies (Playwright's `addCookies`: each needs `name`, `value` and either `url` or
    /// `domain` + `path`).
    pub fn add_cookies(&mut self, cookies: Value) {
        self.call(json!({ "op": "add_cookies", "cookies": cookies }));
    }

    /// Removes every cookie (the gateway's and the IdP's session alike).
    pub fn clear_cookies(&mut self) {
        self.call(json!({ "op": "clear_cookies" }));
    }

    /// Evaluates a JavaScript expression in the page; returns its (JSON) value.
    pub fn eval(&mut self, page: &str, js: &str) -> Value {
        self.call(json!({ "op": "eval", "page": page, "js": js }))["value"].take()
    }

    /// Closes a page (tab).
    pub fn close(&mut self, page: &str) {
        self.call(json!({ "op": "close", "page": page }));
    }

    /// Runs several operations concurrently (e.g. two `open`s or two `login`s on two pages);
    /// returns one reply per operation, in order, each with its own `ok` (and `error`).
    pub fn parallel(&mut self, ops: Vec<Value>) -> Vec<Value> {
        match self.call(json!({ "op": "parallel", "ops": ops })).get_mut("results").map(Value::take)
        {
            Some(Value::Array(v)) => v,
            other => panic!("parallel reply without results: {other:?}"),
        }
    }

    /// Stops the browser: closes the driver's stdin (it closes Chromium and deletes the
    /// profile), and kills it if it has not exited within 5 s.
    pub fn stop(&mut self) {
        drop(self.stdin.take());
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.stop();
    }
}
