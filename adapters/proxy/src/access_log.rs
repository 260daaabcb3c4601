//! One JSON line per request. It never contains a token, a cookie, a secret or a query string
//! (query strings can carry tokens): method, path, status, route, the auth outcome as a fixed
//! code, upstream address, duration.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What one request did.
#[derive(Debug, Clone, Default)]
pub struct Entry<'a> {
    /// Client address.
    pub peer: Option<SocketAddr>,
    /// Method.
    pub method: &'a str,
    /// Path without the query string.
    pub path: &'a str,
    /// Status sent to the client.
    pub status: u16,
    /// Route id, if one matched.
    pub route: Option<&'a str>,
    /// Auth outcome: `allowed`, `anonymous`, `none` (no oidc on the route) or `denied`.
    pub auth: &'static str,
    /// Fixed reason or method code (`jwt`, `jwt_cached`, `token_expired`, ...).
    pub reason: Option<&'static str>,
    /// Upstream node, if one was contacted.
    pub upstream: Option<SocketAddr>,
    /// Time from the end of the request head to the end of the response.
    pub duration: Duration,
    /// Bytes of response body sent.
    pub bytes_sent: u64,
}

fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// RFC 3339 UTC time with milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

impl Entry<'_> {
    /// The JSON line (without the newline).
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(256);
        s.push_str("{\"time\":");
        push_json_str(&mut s, &rfc3339(SystemTime::now()));
        if let Some(p) = self.peer {
            s.push_str(",\"client\":");
            push_json_str(&mut s, &p.ip().to_string());
        }
        s.push_str(",\"method\":");
        push_json_str(&mut s, self.method);
        s.push_str(",\"path\":");
        push_json_str(&mut s, self.path);
        let _ = write!(s, ",\"status\":{}", self.status);
        s.push_str(",\"route\":");
        match self.route {
            Some(r) => push_json_str(&mut s, r),
            None => s.push_str("null"),
        }
        s.push_str(",\"auth\":");
        push_json_str(&mut s, self.auth);
        if let Some(r) = self.reason {
            s.push_str(",\"reason\":");
            push_json_str(&mut s, r);
        }
        s.push_str(",\"upstream\":");
        match self.upstream {
            Some(u) => push_json_str(&mut s, &u.to_string()),
            None => s.push_str("null"),
        }
        let _ = write!(
            s,
            ",\"duration_ms\":{:.3},\"bytes_sent\":{}}}",
            self.duration.as_secs_f64() * 1000.0,
            self.bytes_sent
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.123Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn escapes_and_shape() {
        let e =
            Entry { method: "GET", path: "/a\"b\n", status: 200, auth: "none", ..Entry::default() };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["path"], "/a\"b\n");
        assert_eq!(v["status"], 200);
        assert!(v["route"].is_null());
    }
}
