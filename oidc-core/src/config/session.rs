//! The `session` object (APISIX: `additionalProperties: false`) and its `redis` settings.

use alloc::string::String;

use super::Secret;
use super::model::{RedisConfig, SameSite, SessionConfig, SessionStorage};
use super::reader::{Errors, Obj};

/// Every member `session` may have; anything else is refused.
const KNOWN: [&str; 14] = [
    "secret",
    "previous_secrets",
    "cookie_name",
    "cookie_path",
    "cookie_domain",
    "cookie_secure",
    "cookie_http_only",
    "cookie_same_site",
    "idling_timeout",
    "rolling_timeout",
    "absolute_timeout",
    "storage",
    "redis",
    // Deprecated: `cookie.lifetime`, the old name of `absolute_timeout`.
    "cookie",
];

const SAME_SITE: [(&str, SameSite); 4] = [
    ("Strict", SameSite::Strict),
    ("Lax", SameSite::Lax),
    ("None", SameSite::None),
    ("Default", SameSite::Default),
];

const STORAGE: [(&str, SessionStorage); 2] =
    [("cookie", SessionStorage::Cookie), ("redis", SessionStorage::Redis)];

/// Minimum `session.secret` length, in characters.
const MIN_SECRET_CHARS: usize = 16;

/// The `session` member of the root. `None` when it is absent (allowed only with
/// `bearer_only`) or unusable (an error has then been recorded).
pub(super) fn parse(root: &Obj<'_>, bearer_only: bool, errs: &mut Errors) -> Option<SessionConfig> {
    const NEEDED: &str = "is required when \"bearer_only\" is false";
    let Some(value) = root.get("session") else {
        if !bearer_only {
            errs.add(&root.path_of("session.secret"), NEEDED);
        }
        return None;
    };
    let obj = Obj::new(value, root.path_of("session"), errs)?;
    for key in obj.keys() {
        if !KNOWN.contains(&key.as_str()) {
            errs.add(&obj.path_of(key), "is not allowed (session has no such option)");
        }
    }
    let secret = if obj.has("secret") {
        obj.string("secret", errs).filter(|s| check_secret(s, &obj, errs))
    } else {
        errs.add(&obj.path_of("secret"), if bearer_only { "is required" } else { NEEDED });
        None
    };
    let usable = secret.is_some();
    let session = SessionConfig {
        secret: Secret::from(secret.unwrap_or_default()),
        previous_secrets: previous_secrets(&obj, errs),
        cookie_name: obj.string("cookie_name", errs).unwrap_or_else(|| String::from("session")),
        cookie_path: obj.string("cookie_path", errs).unwrap_or_else(|| String::from("/")),
        cookie_domain: obj.string("cookie_domain", errs),
        cookie_secure: obj.boolean("cookie_secure", errs),
        cookie_http_only: obj.boolean("cookie_http_only", errs).unwrap_or(true),
        cookie_same_site: obj.one_of("cookie_same_site", &SAME_SITE, errs).unwrap_or(SameSite::Lax),
        idling_timeout: obj.uint("idling_timeout", errs).unwrap_or(900),
        rolling_timeout: obj.uint("rolling_timeout", errs).unwrap_or(3600),
        absolute_timeout: absolute_timeout(&obj, errs),
        storage: obj.one_of("storage", &STORAGE, errs).unwrap_or(SessionStorage::Cookie),
        redis: obj.object("redis", errs).map(|r| redis(&r, errs)),
    };
    if session.storage == SessionStorage::Redis && !obj.has("redis") {
        errs.add(&obj.path_of("redis"), "is required when \"storage\" is \"redis\"");
    }
    usable.then_some(session)
}

/// `secret` is at least 16 characters (JSON Schema `minLength` counts characters).
fn check_secret(secret: &str, obj: &Obj<'_>, errs: &mut Errors) -> bool {
    let ok = secret.chars().count() >= MIN_SECRET_CHARS;
    if !ok {
        errs.add(&obj.path_of("secret"), "must be at least 16 characters long");
    }
    ok
}

/// `previous_secrets`: a list of strings, each as long as `secret` must be.
fn previous_secrets(obj: &Obj<'_>, errs: &mut Errors) -> alloc::vec::Vec<Secret> {
    let Some(value) = obj.get("previous_secrets") else { return alloc::vec::Vec::new() };
    let path = obj.path_of("previous_secrets");
    let Some(items) = value.as_array() else {
        errs.add(&path, "must be an array of strings");
        return alloc::vec::Vec::new();
    };
    let mut out = alloc::vec::Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(s) if s.chars().count() >= MIN_SECRET_CHARS => {
                out.push(Secret::from(String::from(s)));
            }
            Some(_) => {
                errs.add(&alloc::format!("{path}[{i}]"), "must be at least 16 characters long");
            }
            None => errs.add(&alloc::format!("{path}[{i}]"), "must be a string"),
        }
    }
    out
}

/// `absolute_timeout`, else the deprecated `cookie.lifetime` (as APISIX maps it), else 86400.
fn absolute_timeout(obj: &Obj<'_>, errs: &mut Errors) -> u64 {
    let explicit = obj.uint("absolute_timeout", errs);
    let lifetime = obj.object("cookie", errs).and_then(|cookie| cookie.uint("lifetime", errs));
    explicit.or(lifetime).unwrap_or(86_400)
}

/// `session.redis`.
fn redis(obj: &Obj<'_>, errs: &mut Errors) -> RedisConfig {
    RedisConfig {
        host: obj.string("host", errs).unwrap_or_else(|| String::from("127.0.0.1")),
        port: obj
            .uint_in("port", 1, u64::from(u16::MAX), errs)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(6379),
        username: obj.string("username", errs),
        password: obj.string("password", errs).map(Secret::from),
        database: obj
            .uint_in("database", 0, u64::from(u32::MAX), errs)
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(0),
        prefix: obj.string("prefix", errs).unwrap_or_else(|| String::from("sessions")),
        ssl: obj.boolean("ssl", errs).unwrap_or(false),
        ssl_verify: obj.boolean("ssl_verify", errs).unwrap_or(true),
        server_name: obj.string("server_name", errs),
        connect_timeout: obj.uint("connect_timeout", errs).unwrap_or(1000),
        send_timeout: obj.uint("send_timeout", errs).unwrap_or(1000),
        read_timeout: obj.uint("read_timeout", errs).unwrap_or(1000),
        keepalive_timeout: obj.uint("keepalive_timeout", errs).unwrap_or(10_000),
    }
}
