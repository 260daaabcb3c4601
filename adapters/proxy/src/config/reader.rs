//! Typed getters that record every problem by path.

use serde_json::{Map, Value};

use super::{ConfigError, ConfigErrors};

#[derive(Debug, Default)]
pub(crate) struct Reader {
    errors: Vec<ConfigError>,
}

pub(crate) use oidc_core::config::type_name;

impl Reader {
    pub(crate) fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(ConfigError { path: path.into(), message: message.into() });
    }

    pub(crate) fn push(&mut self, e: ConfigError) {
        self.errors.push(e);
    }

    pub(crate) fn type_error(&mut self, path: &str, expected: &str, got: &Value) {
        self.error(path, format!("wrong type: expected {expected}, got {}", type_name(got)));
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub(crate) fn has_error_at(&self, path: &str) -> bool {
        self.errors.iter().any(|e| e.path == path)
    }

    pub(crate) fn finish(self) -> ConfigErrors {
        ConfigErrors(self.errors)
    }

    pub(crate) fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &str,
    ) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.type_error(path, "object", other);
                None
            }
        }
    }

    pub(crate) fn string<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.type_error(path, "string", other);
                None
            }
        }
    }

    pub(crate) fn uint(&mut self, v: &Value, path: &str, min: u64, max: u64) -> Option<u64> {
        match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(_) => {
                self.error(path, format!("must be between {min} and {max}"));
                None
            }
            None => {
                self.type_error(path, "integer", v);
                None
            }
        }
    }

    /// An unsigned integer in `min..=max` as a `usize`.
    pub(crate) fn usize(&mut self, v: &Value, path: &str, min: u64, max: u64) -> Option<usize> {
        self.uint(v, path, min, max).and_then(|n| usize::try_from(n).ok())
    }

    /// A number of seconds (integer or fraction), as APISIX timeouts are.
    pub(crate) fn seconds(&mut self, v: &Value, path: &str) -> Option<f64> {
        match v.as_f64() {
            Some(s) if s > 0.0 && s <= 86_400.0 => Some(s),
            Some(_) => {
                self.error(path, "must be a number of seconds above 0 and at most 86400");
                None
            }
            None => {
                self.type_error(path, "number", v);
                None
            }
        }
    }

    /// A string or an array of strings.
    pub(crate) fn strings(&mut self, v: &Value, path: &str) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    self.string(item, &format!("{path}[{i}]")).map(String::from)
                })
                .collect(),
            other => {
                self.type_error(path, "string or array of strings", other);
                Vec::new()
            }
        }
    }
}
