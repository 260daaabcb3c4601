//! Strict JSON for JOSE headers, claims sets and JWKs.
//!
//! RFC 7515 §5.2 and RFC 7519 §7.2 let a parser either reject a JSON object with duplicate member
//! names or keep the last one. Keeping one silently is how two components end up reading different
//! values from the same token (one checks the first `iss`, another uses the last), so this parser
//! rejects duplicates at every depth. Nesting depth is bounded by serde_json's recursion limit
//! (128), so hostile input cannot exhaust the stack.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON object as parsed by this module: member names are unique.
pub type Object = Map<String, Value>;

/// Why a JSON document was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// Not well-formed JSON (or nested deeper than the recursion limit).
    Syntax,
    /// An object has the same member name twice.
    DuplicateMember,
    /// Well-formed JSON, but not an object where an object is required.
    NotAnObject,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "malformed JSON",
            Self::DuplicateMember => "duplicate JSON member name",
            Self::NotAnObject => "JSON value is not an object",
        })
    }
}

/// Parses a JSON document, rejecting duplicate member names at any depth.
pub fn parse_value(bytes: &[u8]) -> Result<Value, JsonError> {
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0).map_err(|e| match e.classify() {
        // The only data error our visitor raises is a duplicate member.
        serde_json::error::Category::Data => JsonError::DuplicateMember,
        _ => JsonError::Syntax,
    })
}

/// Parses a JSON document that must be an object, rejecting duplicate member names.
pub fn parse_object(bytes: &[u8]) -> Result<Object, JsonError> {
    match parse_value(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

/// A `serde_json::Value` whose objects were checked for duplicate member names.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never produces a non-finite f64, so `from_f64` always succeeds here.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(String::from(v)))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom("duplicate member"));
            }
            let Strict(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// A member name, borrowed from the input when it has no escapes.
pub(crate) struct Key<'de>(pub(crate) alloc::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(alloc::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(alloc::borrow::Cow::Owned(String::from(v))))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(alloc::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Member names seen so far in one object, for duplicate detection in single-pass visitors
/// that do not build a map. Linear for the usual handful of members, a B-tree beyond.
#[derive(Default)]
pub(crate) struct SeenKeys<'de> {
    few: Vec<alloc::borrow::Cow<'de, str>>,
    many: alloc::collections::BTreeSet<alloc::borrow::Cow<'de, str>>,
}

impl<'de> SeenKeys<'de> {
    /// Records `key`; `false` if it was already there.
    pub(crate) fn insert(&mut self, key: alloc::borrow::Cow<'de, str>) -> bool {
        if self.many.is_empty() {
            if self.few.contains(&key) {
                return false;
            }
            if self.few.len() < 32 {
                self.few.push(key);
                return true;
            }
            self.many.extend(self.few.drain(..));
        }
        self.many.insert(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_objects() {
        let v = parse_object(br#"{"a":{"b":[1,{"c":true}]},"d":"e"}"#).unwrap();
        assert_eq!(v["a"]["b"][1]["c"], Value::Bool(true));
    }

    #[test]
    fn rejects_duplicates_at_any_depth() {
        assert_eq!(parse_object(br#"{"a":1,"a":2}"#), Err(JsonError::DuplicateMember));
        assert_eq!(parse_object(br#"{"x":[{"a":1,"a":1}]}"#), Err(JsonError::DuplicateMember));
        // Escapes are decoded before comparison: "\u0061" is "a".
        assert_eq!(parse_object(br#"{"a":1,"\u0061":2}"#), Err(JsonError::DuplicateMember));
    }

    #[test]
    fn rejects_non_objects_and_garbage() {
        assert_eq!(parse_object(b"[1]"), Err(JsonError::NotAnObject));
        assert_eq!(parse_object(b"{"), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{} x"), Err(JsonError::Syntax));
        let deep: Vec<u8> = core::iter::repeat_n(b'[', 10_000).collect();
        assert_eq!(parse_value(&deep), Err(JsonError::Syntax));
    }
}
