//! `claim_schema` compilation: what the gateway's JSON Schema compiler enforces, what it refuses
//! at load (anything it would otherwise ignore), and that a violation never carries a claim
//! value. Conformance on the official test suite is in `json_schema_suite.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use oidc_core::claim_schema::{ClaimSchema as _, SchemaCompiler as _, SchemaViolation};
use oidc_proxy::schema::{DRAFT_07, DRAFT_2020_12, JsonSchemaCompiler};
use serde_json::{Map, Value, json};

fn refused(schema: Value) -> String {
    match JsonSchemaCompiler.build(&schema) {
        Ok(_) => panic!("expected {schema} to be refused"),
        Err(e) => e,
    }
}

fn claims(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// A schema an operator would write: who may call an admin API.
fn admin_schema() -> Value {
    json!({
        "type": "object",
        "required": ["email", "groups"],
        "properties": {
            "email": {"type": "string", "format": "email", "pattern": "@example\\.com$"},
            "email_verified": {"const": true},
            "groups": {"type": "array", "contains": {"const": "admin"}},
            "acr": {"enum": ["mfa", "hwk"]},
            "age": {"type": "integer", "minimum": 18}
        }
    })
}

#[test]
fn a_realistic_schema_is_enforced() {
    let s = JsonSchemaCompiler.compile(&admin_schema()).unwrap();
    let good = json!({"sub": "u1", "email": "ann@example.com", "email_verified": true,
                      "groups": ["staff", "admin"], "acr": "mfa", "age": 40});
    assert_eq!(s.check(&claims(good.clone())), Ok(()));
    let fails = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        s.check(&claims(c)).unwrap_err()
    };
    assert_eq!(fails(json!({"email": null})), SchemaViolation::new("required", "/required"));
    assert_eq!(
        fails(json!({"groups": ["staff"]})),
        SchemaViolation::new("contains", "/properties/groups/contains")
    );
    assert_eq!(
        fails(json!({"email": "ann@evil.example"})),
        SchemaViolation::new("pattern", "/properties/email/pattern")
    );
    // Formats are asserted, not annotations.
    assert_eq!(
        fails(json!({"email": "not an address @example.com"})),
        SchemaViolation::new("format", "/properties/email/format")
    );
    assert_eq!(
        fails(json!({"email_verified": false})),
        SchemaViolation::new("const", "/properties/email_verified/const")
    );
    assert_eq!(fails(json!({"acr": "pwd"})), SchemaViolation::new("enum", "/properties/acr/enum"));
    assert_eq!(
        fails(json!({"age": 17})),
        SchemaViolation::new("minimum", "/properties/age/minimum")
    );
    assert_eq!(fails(json!({"age": "40"})), SchemaViolation::new("type", "/properties/age/type"));
}

#[test]
fn a_violation_never_carries_token_content() {
    let s = JsonSchemaCompiler
        .compile(&json!({
            "properties": {"role": {"enum": ["admin"]}},
            "additionalProperties": {"type": "string"},
            "propertyNames": {"maxLength": 20}
        }))
        .unwrap();
    for token in [
        json!({"role": "<script>attacker-value</script>"}),
        json!({"attacker-named-claim": 1}),
        json!({"attacker-named-claim-that-is-too-long": "x"}),
    ] {
        let v = s.check(&claims(token.clone())).unwrap_err();
        let printed = format!("{v} {v:?}");
        assert!(!printed.contains("attacker"), "{printed}");
        assert!(v.schema_path.starts_with('/'), "{v:?}");
    }
}

#[test]
fn apisix_test_schemas_compile() {
    // openid-connect2.t / openid-connect11.t: the session shape and the bearer `email` rule.
    for schema in [
        json!({"type": "object", "properties": {"access_token": {"type": "string"},
               "id_token": {"type": "object"}, "user": {"type": "object"}},
               "required": ["access_token", "id_token", "user"]}),
        json!({"type": "object", "required": ["email"]}),
    ] {
        JsonSchemaCompiler.build(&schema).unwrap();
    }
}

#[test]
fn drafts_are_2020_12_by_default_or_07_when_declared() {
    assert_eq!(JsonSchemaCompiler.build(&json!({})).unwrap().dialect(), DRAFT_2020_12);
    let d7 = JsonSchemaCompiler
        .build(&json!({"$schema": DRAFT_07, "dependencies": {"email": ["email_verified"]},
                       "definitions": {"s": {"type": "string"}},
                       "properties": {"email": {"$ref": "#/definitions/s"}}}))
        .unwrap();
    assert_eq!(d7.dialect(), DRAFT_07);
    assert_eq!(
        d7.check(&claims(json!({"email": "a@b.example"}))),
        Err(SchemaViolation::new("dependencies", "/dependencies"))
    );
    assert!(d7.check(&claims(json!({"email": 5, "email_verified": true}))).is_err());
    // 2020-12 spells dependencies as dependentRequired.
    let d2020 = JsonSchemaCompiler
        .build(&json!({"dependentRequired": {"email": ["email_verified"]}}))
        .unwrap();
    assert_eq!(
        d2020.check(&claims(json!({"email": "a@b.example"}))),
        Err(SchemaViolation::new("dependentRequired", "/dependentRequired"))
    );
}

#[test]
fn unsupported_drafts_are_refused() {
    let expected = "\"$schema\" must be https://json-schema.org/draft/2020-12/schema (the default) \
                    or http://json-schema.org/draft-07/schema#; other drafts and custom \
                    meta-schemas are not supported";
    for uri in [
        "http://json-schema.org/draft-04/schema#",
        "http://json-schema.org/draft-06/schema#",
        "https://json-schema.org/draft/2019-09/schema",
        "https://example.com/my-dialect",
    ] {
        assert_eq!(refused(json!({"$schema": uri})), expected, "{uri}");
    }
    assert_eq!(refused(json!({"$schema": 7})), "\"$schema\" must be a string");
    assert_eq!(
        refused(json!({"properties": {"a": {"$schema": DRAFT_07}}})),
        "\"$schema\" at /properties/a differs from the root's: one schema, one draft"
    );
}

#[test]
fn keywords_that_would_be_ignored_are_refused() {
    let cases = [
        (
            json!({"requierd": ["email"]}),
            "\"requierd\" at / is not a draft 2020-12 keyword, so it would be ignored, not enforced",
        ),
        (
            json!({"properties": {"a/b": {"type": "string", "minlength": 3}}}),
            "\"minlength\" at /properties/a~1b is not a draft 2020-12 keyword, so it would be \
             ignored, not enforced",
        ),
        (
            json!({"dependencies": {"email": ["email_verified"]}}),
            "\"dependencies\" at / is not a draft 2020-12 keyword, so it would be ignored, not \
             enforced (use \"dependentRequired\" or \"dependentSchemas\", or declare draft-07)",
        ),
        (
            json!({"items": {"type": "string"}, "additionalItems": false}),
            "\"additionalItems\" at / is not a draft 2020-12 keyword, so it would be ignored, not \
             enforced (use \"prefixItems\" with \"items\")",
        ),
        (
            json!({"properties": {"jwt": {"contentMediaType": "application/jwt"}}}),
            "\"contentMediaType\" at /properties/jwt is not a draft 2020-12 keyword, so it would \
             be ignored, not enforced (content keywords only annotate, they are never enforced)",
        ),
        (
            json!({"$schema": DRAFT_07, "$defs": {}}),
            "\"$defs\" at / is not a draft-07 keyword, so it would be ignored, not enforced (use \
             \"definitions\", or declare draft 2020-12)",
        ),
        (
            json!({"$schema": DRAFT_07, "dependentRequired": {}}),
            "\"dependentRequired\" at / is not a draft-07 keyword, so it would be ignored, not \
             enforced (it is a draft 2020-12 keyword: declare that draft, or leave \"$schema\" out)",
        ),
        (
            json!({"then": {"required": ["a"]}}),
            "\"then\" at / has no \"if\" beside it, so it would be ignored",
        ),
        (
            json!({"anyOf": [{"else": false}]}),
            "\"else\" at /anyOf/0 has no \"if\" beside it, so it would be ignored",
        ),
        (
            json!({"properties": {"groups": {"minContains": 2}}}),
            "\"minContains\" at /properties/groups has no \"contains\" beside it, so it would be \
             ignored",
        ),
        (
            json!({"$schema": DRAFT_07, "additionalItems": false}),
            "\"additionalItems\" at / is ignored unless \"items\" beside it is an array",
        ),
        (
            json!({"$schema": DRAFT_07, "definitions": {"s": {}},
                   "properties": {"a": {"$ref": "#/definitions/s", "maxLength": 3}}}),
            "\"maxLength\" at /properties/a stands beside \"$ref\", and draft-07 ignores \
             everything beside \"$ref\" (wrap both in \"allOf\", or use draft 2020-12)",
        ),
    ];
    for (schema, message) in cases {
        assert_eq!(refused(schema.clone()), message, "{schema}");
    }
    // Names inside properties, and values of enum/const/default, are not keywords.
    JsonSchemaCompiler
        .build(&json!({"properties": {"requierd": {"const": {"minlength": 1}}},
                       "default": {"then": 1}, "enum": [{"$ref": "x"}]}))
        .unwrap();
    // 2020-12 evaluates keywords beside $ref.
    let s = JsonSchemaCompiler
        .build(&json!({"$defs": {"s": {"type": "string"}},
                       "properties": {"a": {"$ref": "#/$defs/s", "maxLength": 3}}}))
        .unwrap();
    assert!(s.check(&claims(json!({"a": "abcd"}))).is_err());
}

#[test]
fn nothing_is_fetched_and_dangling_refs_are_refused() {
    let e = refused(json!({"$ref": "https://schemas.example/claims.json"}));
    assert!(e.starts_with("is not a usable JSON Schema (at /): "), "{e}");
    assert!(e.contains("Retrieval is disabled"), "{e}");
    let e = refused(json!({"$id": "https://schemas.example/root", "$ref": "other.json"}));
    assert!(e.contains("Retrieval is disabled"), "{e}");
    assert!(refused(json!({"$ref": "file:///etc/passwd"})).contains("Retrieval is disabled"));
    assert!(refused(json!({"$ref": "#/$defs/missing"})).contains("does not exist"));
    // The meta-schema is built in, not fetched.
    JsonSchemaCompiler.build(&json!({"$ref": DRAFT_2020_12})).unwrap();
}

#[test]
fn invalid_schemas_formats_and_patterns_are_refused() {
    assert_eq!(
        refused(json!({"required": "email"})),
        "is not a usable JSON Schema (at /required): \"email\" is not of type \"array\""
    );
    assert!(
        refused(json!({"type": "strng"})).starts_with("is not a usable JSON Schema (at /type)")
    );
    for format in ["idn-email", "idn-hostname", "made-up"] {
        let e = refused(json!({"properties": {"e": {"format": format}}}));
        assert!(
            e.starts_with("is not a usable JSON Schema (at /properties/e/format): Unknown format"),
            "{e}"
        );
    }
    // Look-around and back-references need a backtracking engine, which is not used: patterns
    // run on every checked token.
    for pattern in ["(?=a)b", "(a)\\1", "["] {
        let e = refused(json!({"properties": {"e": {"pattern": pattern}}}));
        assert!(e.starts_with("is not a usable JSON Schema (at /properties/e/pattern)"), "{e}");
    }
    let e = refused(json!({"patternProperties": {"(?<=x)y": {}}}));
    assert!(e.starts_with("is not a usable JSON Schema"), "{e}");
}

#[test]
fn depth_is_bounded_before_anything_recurses() {
    let mut schema = json!({"type": "string"});
    for _ in 0..100 {
        schema = json!({"not": schema});
    }
    let e = refused(schema);
    assert!(e.starts_with("is nested more than 64 subschemas deep (at /not/not/"), "{e}");
    let mut ok = json!({"type": "string"});
    for _ in 0..60 {
        ok = json!({"allOf": [ok]});
    }
    JsonSchemaCompiler.build(&ok).unwrap();
}
