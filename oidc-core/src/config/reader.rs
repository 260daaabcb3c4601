//! Typed getters over a JSON object that record every problem by path instead of stopping at
//! the first one.
//!
//! Each getter returns `None` both when the member is absent and when it is unusable; in the
//! second case it has already pushed an error naming the member's full path. Callers apply the
//! default with `unwrap_or`, and [`super::OidcConfig::from_value`] refuses the whole config if any
//! error was pushed, so a defaulted bad value never escapes.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value};

use super::ConfigError;

/// The problems found so far, in the order they were found.
#[derive(Debug, Default)]
pub(super) struct Errors(pub(super) Vec<ConfigError>);

impl Errors {
    /// Records one problem.
    pub(super) fn add(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(ConfigError { path: path.to_string(), message: message.into() });
    }

    /// Whether a problem was already recorded at `path` (to avoid a second, derived error).
    pub(super) fn has(&self, path: &str) -> bool {
        self.0.iter().any(|e| e.path == path)
    }
}

/// `base.key`, or `key` when `base` is empty.
pub(super) fn join(base: &str, key: &str) -> String {
    if base.is_empty() { key.to_string() } else { format!("{base}.{key}") }
}

/// `path[index]`.
pub(super) fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// The JSON Schema name of a value's type, as in APISIX's messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `wrong type: expected <expected>, got <actual>`.
pub(super) fn wrong_type(expected: &str, got: &Value) -> String {
    format!("wrong type: expected {expected}, got {}", type_name(got))
}

/// A string value, or a type error at `path`.
pub(super) fn as_string(value: &Value, path: &str, errs: &mut Errors) -> Option<String> {
    if let Value::String(s) = value {
        Some(s.clone())
    } else {
        errs.add(path, wrong_type("string", value));
        None
    }
}

/// An integer in `min..=max`, or an error at `path`.
pub(super) fn as_uint(
    value: &Value,
    path: &str,
    min: u64,
    max: u64,
    errs: &mut Errors,
) -> Option<u64> {
    let Value::Number(n) = value else {
        errs.add(path, wrong_type("integer", value));
        return None;
    };
    if let Some(v) = n.as_u64() {
        if v < min {
            errs.add(path, format!("must be at least {min}"));
            None
        } else if v > max {
            errs.add(path, format!("must be at most {max}"));
            None
        } else {
            Some(v)
        }
    } else if n.is_i64() {
        // A negative integer.
        errs.add(path, format!("must be at least {min}"));
        None
    } else {
        errs.add(path, wrong_type("integer", value));
        None
    }
}

/// A JSON object being read, with its path (empty for an unprefixed root).
#[derive(Debug, Clone)]
pub(super) struct Obj<'a> {
    map: &'a Map<String, Value>,
    /// Path of the object itself.
    pub(super) path: String,
}

impl<'a> Obj<'a> {
    /// `value` as an object at `path`, or a type error.
    pub(super) fn new(value: &'a Value, path: String, errs: &mut Errors) -> Option<Self> {
        if let Value::Object(map) = value {
            Some(Self { map, path })
        } else {
            errs.add(&path, wrong_type("object", value));
            None
        }
    }

    /// The full path of member `key`.
    pub(super) fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The raw member.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    /// Whether the member is present (with any value, `null` included).
    pub(super) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Member names, in the map's order.
    pub(super) fn keys(&self) -> impl Iterator<Item = &'a String> {
        self.map.keys()
    }

    /// An optional string member.
    pub(super) fn string(&self, key: &str, errs: &mut Errors) -> Option<String> {
        let value = self.get(key)?;
        as_string(value, &self.path_of(key), errs)
    }

    /// A required string member: `is required` when absent.
    pub(super) fn required_string(&self, key: &str, errs: &mut Errors) -> Option<String> {
        if !self.has(key) {
            errs.add(&self.path_of(key), "is required");
            return None;
        }
        self.string(key, errs)
    }

    /// An optional boolean member.
    pub(super) fn boolean(&self, key: &str, errs: &mut Errors) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                errs.add(&self.path_of(key), wrong_type("boolean", other));
                None
            }
        }
    }

    /// An optional non-negative integer member.
    pub(super) fn uint(&self, key: &str, errs: &mut Errors) -> Option<u64> {
        self.uint_in(key, 0, u64::MAX, errs)
    }

    /// An optional integer member in `min..=max`.
    pub(super) fn uint_in(&self, key: &str, min: u64, max: u64, errs: &mut Errors) -> Option<u64> {
        let value = self.get(key)?;
        as_uint(value, &self.path_of(key), min, max, errs)
    }

    /// An optional object member.
    pub(super) fn object(&self, key: &str, errs: &mut Errors) -> Option<Self> {
        let value = self.get(key)?;
        Self::new(value, self.path_of(key), errs)
    }

    /// An optional array-of-strings member; each bad item is reported at `key[i]`.
    pub(super) fn string_list(&self, key: &str, errs: &mut Errors) -> Option<Vec<String>> {
        let value = self.get(key)?;
        let path = self.path_of(key);
        let Value::Array(items) = value else {
            errs.add(&path, wrong_type("array", value));
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.iter().enumerate() {
            if let Some(s) = as_string(v, &item(&path, i), errs) {
                out.push(s);
            }
        }
        Some(out)
    }

    /// An optional member that must be one of the listed names.
    pub(super) fn one_of<T: Copy>(
        &self,
        key: &str,
        choices: &[(&str, T)],
        errs: &mut Errors,
    ) -> Option<T> {
        let name = self.string(key, errs)?;
        if let Some((_, v)) = choices.iter().find(|(n, _)| *n == name) {
            return Some(*v);
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        errs.add(&self.path_of(key), format!("must be one of: {}", names.join(", ")));
        None
    }
}
