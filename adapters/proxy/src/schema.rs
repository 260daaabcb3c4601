//! `claim_schema` enforcement: oidc-core's [`SchemaCompiler`] seam implemented on the
//! [`jsonschema`] crate.
//!
//! The rule is that a schema is either enforced exactly or refused at load; nothing in it is
//! silently ignored. So on top of the crate's own meta-schema validation, [`JsonSchemaCompiler`]
//! refuses:
//!
//! - a `$schema` other than draft 2020-12 (the default when absent) or draft-07;
//! - a keyword that is not one of that draft's, anywhere in the schema (a typo such as
//!   `requierd`, or draft-07's `dependencies` under 2020-12, would otherwise be an annotation
//!   with no effect), and the content keywords (`contentMediaType`, ...), which only annotate;
//! - a keyword that its draft ignores where it stands: `then`/`else` without `if`,
//!   `minContains`/`maxContains` without `contains`, draft-07 `additionalItems` without an
//!   array `items`, and draft-07 keywords beside `$ref` (which that draft skips);
//! - a `$ref` that leaves the schema: retrieval is off (the crate is built without its HTTP and
//!   file resolvers, and the compiler is `offline`), so nothing is ever fetched;
//! - a `format` the crate does not implement (formats are asserted, not annotations: a claim
//!   schema saying `"format": "email"` means it);
//! - a `pattern` the linear-time `regex` engine cannot run (look-around, back-references):
//!   patterns run on every checked token, so no backtracking engine is used.
//!
//! Violations report the schema keyword and its location in the configured schema, never a
//! claim value.

use std::fmt;
use std::sync::Arc;

use jsonschema::{Draft, PatternOptions, Validator};
use oidc_core::claim_schema::{ClaimSchema, SchemaCompiler, SchemaViolation};
use serde_json::{Map, Value};

/// The `$schema` of draft 2020-12, the default.
pub const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";
/// The `$schema` of draft-07.
pub const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// Deepest subschema nesting accepted; deeper schemas are refused rather than recursed into.
const MAX_DEPTH: usize = 64;

/// Largest compiled `pattern` regex, bytes. Bounds the memory one configured pattern may take.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Keywords of both drafts that annotate only, and the core keywords both share.
const COMMON: &[&str] = &[
    "$schema",
    "$id",
    "$ref",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "readOnly",
    "writeOnly",
    "format",
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "items",
    "maxItems",
    "minItems",
    "uniqueItems",
    "contains",
    "maxProperties",
    "minProperties",
    "required",
    "properties",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "if",
    "then",
    "else",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
];

/// Draft 2020-12 only (core, applicator, unevaluated, validation and meta-data vocabularies).
/// `definitions` is not a 2020-12 keyword but stays a place for `$ref` targets, as the 2020-12
/// meta-schema itself keeps it.
const ONLY_2020_12: &[&str] = &[
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$defs",
    "definitions",
    "prefixItems",
    "dependentSchemas",
    "dependentRequired",
    "unevaluatedItems",
    "unevaluatedProperties",
    "maxContains",
    "minContains",
    "deprecated",
];

/// Draft-07 only.
const ONLY_07: &[&str] = &["definitions", "additionalItems", "dependencies"];

/// Annotations that may stand beside a draft-07 `$ref` without being mistaken for constraints.
const BESIDE_REF_07: &[&str] =
    &["$ref", "$schema", "$comment", "title", "description", "definitions", "examples", "default"];

/// The JSON Schema compiler the gateway plugs into oidc-core's config loader.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonSchemaCompiler;

impl JsonSchemaCompiler {
    /// Compiles `schema` into the concrete type ([`SchemaCompiler::compile`] shares it in an
    /// `Arc`).
    pub fn build(&self, schema: &Value) -> Result<JsonClaimSchema, String> {
        let draft = draft_of(schema)?;
        let mut pointer = String::new();
        vet(schema, draft, &mut pointer, 0)?;
        let validator = jsonschema::options()
            .with_draft(draft.version())
            .offline()
            .should_validate_formats(true)
            .should_ignore_unknown_formats(false)
            .with_pattern_options(PatternOptions::regex().size_limit(REGEX_SIZE_LIMIT))
            .build(schema)
            .map_err(|e| {
                let at = e.instance_path().as_str();
                let at = if at.is_empty() { "/" } else { at };
                format!("is not a usable JSON Schema (at {at}): {e}")
            })?;
        Ok(JsonClaimSchema { validator, draft })
    }
}

impl SchemaCompiler for JsonSchemaCompiler {
    fn compile(&self, schema: &Value) -> Result<Arc<dyn ClaimSchema>, String> {
        Ok(Arc::new(self.build(schema)?))
    }
}

/// A compiled claim schema.
pub struct JsonClaimSchema {
    validator: Validator,
    draft: Dialect,
}

impl JsonClaimSchema {
    /// Checks any JSON value (the conformance suite's instances are not all objects).
    pub fn check_value(&self, instance: &Value) -> Result<(), SchemaViolation> {
        self.validator.validate(instance).map_err(|e| {
            let path = e.schema_path().as_str();
            SchemaViolation::new(keyword_at(path), path)
        })
    }

    /// The `$schema` this schema was compiled under.
    pub fn dialect(&self) -> &'static str {
        self.draft.uri()
    }
}

impl ClaimSchema for JsonClaimSchema {
    fn check(&self, claims: &Map<String, Value>) -> Result<(), SchemaViolation> {
        // The validator reads a `Value`; the claims are a bare map, so one copy per check.
        self.check_value(&Value::Object(claims.clone()))
    }
}

impl fmt::Debug for JsonClaimSchema {
    // The compiled tree is large and says nothing an operator needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonClaimSchema").field("dialect", &self.draft.uri()).finish()
    }
}

/// The two supported drafts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Draft202012,
    Draft07,
}

impl Dialect {
    fn version(self) -> Draft {
        match self {
            Self::Draft202012 => Draft::Draft202012,
            Self::Draft07 => Draft::Draft7,
        }
    }

    fn uri(self) -> &'static str {
        match self {
            Self::Draft202012 => DRAFT_2020_12,
            Self::Draft07 => DRAFT_07,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Draft202012 => "draft 2020-12",
            Self::Draft07 => "draft-07",
        }
    }

    fn knows(self, keyword: &str) -> bool {
        COMMON.contains(&keyword)
            || match self {
                Self::Draft202012 => ONLY_2020_12.contains(&keyword),
                Self::Draft07 => ONLY_07.contains(&keyword),
            }
    }

    /// `$schema` text to dialect; `#` and the scheme are compared leniently because both
    /// spellings circulate.
    fn from_uri(uri: &str) -> Option<Self> {
        let bare = uri.trim_end_matches('#');
        let bare = bare.strip_prefix("https://").or_else(|| bare.strip_prefix("http://"))?;
        match bare {
            "json-schema.org/draft/2020-12/schema" => Some(Self::Draft202012),
            "json-schema.org/draft-07/schema" => Some(Self::Draft07),
            _ => None,
        }
    }
}

fn draft_of(schema: &Value) -> Result<Dialect, String> {
    match schema.get("$schema") {
        None => Ok(Dialect::Draft202012),
        Some(Value::String(uri)) => Dialect::from_uri(uri).ok_or_else(unsupported_dialect),
        Some(_) => Err("\"$schema\" must be a string".into()),
    }
}

fn unsupported_dialect() -> String {
    format!(
        "\"$schema\" must be {DRAFT_2020_12} (the default) or {DRAFT_07}; other drafts and \
         custom meta-schemas are not supported"
    )
}

/// Walks every subschema and refuses what the validator would not enforce (see the module
/// documentation). `pointer` is the JSON Pointer of `schema` in the configured schema.
fn vet(schema: &Value, draft: Dialect, pointer: &mut String, depth: usize) -> Result<(), String> {
    let Value::Object(map) = schema else {
        // Boolean schemas are fine; any other type is left to the meta-schema check.
        return Ok(());
    };
    if depth > MAX_DEPTH {
        return Err(format!(
            "is nested more than {MAX_DEPTH} subschemas deep (at {})",
            at(pointer)
        ));
    }
    for keyword in map.keys() {
        if !draft.knows(keyword) {
            return Err(unknown_keyword(keyword, draft, pointer));
        }
    }
    if let Some(Value::String(uri)) = map.get("$schema")
        && depth > 0
        && Dialect::from_uri(uri) != Some(draft)
    {
        return Err(format!(
            "\"$schema\" at {} differs from the root's: one schema, one draft",
            at(pointer)
        ));
    }
    ignored_where_it_stands(map, draft, pointer)?;
    for (keyword, value) in map {
        let len = pointer.len();
        push_token(pointer, keyword);
        let result = match (keyword.as_str(), value) {
            (
                "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas"
                | "dependencies",
                Value::Object(members),
            ) => members.iter().try_for_each(|(name, sub)| {
                let len = pointer.len();
                push_token(pointer, name);
                let r = vet(sub, draft, pointer, depth + 1);
                pointer.truncate(len);
                r
            }),
            ("allOf" | "anyOf" | "oneOf" | "prefixItems" | "items", Value::Array(items)) => {
                items.iter().enumerate().try_for_each(|(i, sub)| {
                    let len = pointer.len();
                    push_token(pointer, &i.to_string());
                    let r = vet(sub, draft, pointer, depth + 1);
                    pointer.truncate(len);
                    r
                })
            }
            (
                "items"
                | "additionalItems"
                | "contains"
                | "additionalProperties"
                | "propertyNames"
                | "if"
                | "then"
                | "else"
                | "not"
                | "unevaluatedItems"
                | "unevaluatedProperties",
                sub,
            ) => vet(sub, draft, pointer, depth + 1),
            _ => Ok(()),
        };
        pointer.truncate(len);
        result?;
    }
    Ok(())
}

/// Keywords the draft skips where they stand.
fn ignored_where_it_stands(
    map: &Map<String, Value>,
    draft: Dialect,
    pointer: &str,
) -> Result<(), String> {
    let lone = |keyword: &str, needs: &str| {
        format!(
            "\"{keyword}\" at {} has no \"{needs}\" beside it, so it would be ignored",
            at(pointer)
        )
    };
    for (keyword, needs) in [("then", "if"), ("else", "if")] {
        if map.contains_key(keyword) && !map.contains_key(needs) {
            return Err(lone(keyword, needs));
        }
    }
    match draft {
        Dialect::Draft202012 => {
            for keyword in ["minContains", "maxContains"] {
                if map.contains_key(keyword) && !map.contains_key("contains") {
                    return Err(lone(keyword, "contains"));
                }
            }
        }
        Dialect::Draft07 => {
            if map.contains_key("additionalItems") && !map.get("items").is_some_and(Value::is_array)
            {
                return Err(format!(
                    "\"additionalItems\" at {} is ignored unless \"items\" beside it is an array",
                    at(pointer)
                ));
            }
            if map.contains_key("$ref")
                && let Some(k) = map.keys().find(|k| !BESIDE_REF_07.contains(&k.as_str()))
            {
                return Err(format!(
                    "\"{k}\" at {} stands beside \"$ref\", and draft-07 ignores everything beside \"$ref\" (wrap \
                     both in \"allOf\", or use draft 2020-12)",
                    at(pointer)
                ));
            }
        }
    }
    Ok(())
}

fn unknown_keyword(keyword: &str, draft: Dialect, pointer: &str) -> String {
    let hint = match (keyword, draft) {
        ("contentMediaType" | "contentEncoding" | "contentSchema", _) => {
            " (content keywords only annotate, they are never enforced)"
        }
        ("dependencies", Dialect::Draft202012) => {
            " (use \"dependentRequired\" or \"dependentSchemas\", or declare draft-07)"
        }
        ("additionalItems", Dialect::Draft202012) => " (use \"prefixItems\" with \"items\")",
        ("$defs", Dialect::Draft07) => " (use \"definitions\", or declare draft 2020-12)",
        (_, Dialect::Draft07) if Dialect::Draft202012.knows(keyword) => {
            " (it is a draft 2020-12 keyword: declare that draft, or leave \"$schema\" out)"
        }
        _ => "",
    };
    format!(
        "\"{keyword}\" at {} is not a {} keyword, so it would be ignored, not enforced{hint}",
        at(pointer),
        draft.name()
    )
}

/// The keyword a failing schema location names. The crate's own error kinds do not always say
/// it (`dependencies` reports as `required`, a `maxLength` under `propertyNames` as
/// `propertyNames`), so the location is read instead: walking it from the root tells keywords
/// from the property names and indexes between them. A location that ends on a name or index
/// is a `false` subschema.
fn keyword_at(schema_path: &str) -> &str {
    #[derive(Clone, Copy)]
    enum Next {
        Keyword,
        Name,
        Index,
        SchemaOrIndex,
    }
    let mut next = Next::Keyword;
    let mut last = "false";
    for token in schema_path.split('/').skip(1) {
        let at_keyword = match next {
            Next::Keyword => true,
            Next::SchemaOrIndex => token.parse::<usize>().is_err(),
            Next::Name | Next::Index => false,
        };
        if !at_keyword {
            next = Next::Keyword;
            last = "false";
            continue;
        }
        last = token;
        next = match token {
            "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas"
            | "dependencies" => Next::Name,
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => Next::Index,
            "items" => Next::SchemaOrIndex,
            _ => Next::Keyword,
        };
    }
    last
}

/// A pointer for messages: the root is `/`.
fn at(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

/// Appends one JSON Pointer reference token (RFC 6901: `~` as `~0`, `/` as `~1`).
fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_escape_tokens() {
        let mut p = String::new();
        push_token(&mut p, "properties");
        push_token(&mut p, "a/b~c");
        assert_eq!(p, "/properties/a~1b~0c");
    }

    #[test]
    fn keywords_are_read_from_schema_locations() {
        for (path, keyword) in [
            ("/required", "required"),
            ("/dependencies", "dependencies"),
            ("/dependentRequired", "dependentRequired"),
            ("/properties/email/type", "type"),
            ("/properties/type", "false"),
            ("/properties/required/required", "required"),
            ("/propertyNames/maxLength", "maxLength"),
            ("/additionalProperties", "additionalProperties"),
            ("/anyOf/1/required", "required"),
            ("/prefixItems/0", "false"),
            ("/items/2/minimum", "minimum"),
            ("/items/minimum", "minimum"),
            ("/$defs/s/not", "not"),
            ("", "false"),
        ] {
            assert_eq!(keyword_at(path), keyword, "{path}");
        }
    }

    #[test]
    fn dialects_are_recognised_leniently() {
        for uri in [
            "https://json-schema.org/draft/2020-12/schema",
            "https://json-schema.org/draft/2020-12/schema#",
            "http://json-schema.org/draft/2020-12/schema",
        ] {
            assert_eq!(Dialect::from_uri(uri), Some(Dialect::Draft202012), "{uri}");
        }
        for uri in
            ["http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft-07/schema"]
        {
            assert_eq!(Dialect::from_uri(uri), Some(Dialect::Draft07), "{uri}");
        }
        for uri in [
            "http://json-schema.org/draft-04/schema#",
            "https://json-schema.org/draft/2019-09/schema",
            "https://example.com/my-meta",
            "json-schema.org/draft-07/schema",
        ] {
            assert_eq!(Dialect::from_uri(uri), None, "{uri}");
        }
    }

    #[test]
    fn debug_is_short() {
        let s = JsonSchemaCompiler.build(&json!({"required": ["email"]})).unwrap();
        assert_eq!(
            format!("{s:?}"),
            "JsonClaimSchema { dialect: \"https://json-schema.org/draft/2020-12/schema\" }"
        );
    }
}
