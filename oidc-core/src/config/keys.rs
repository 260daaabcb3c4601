//! Key material in the configuration: PEM private keys (a shape check only) and the DPoP
//! section with its public JWK.

use alloc::format;
use alloc::string::String;

use serde_json::{Map, Value};

use super::model::DpopConfig;
use super::reader::{Errors, Obj, join, wrong_type};

/// DPoP proof algorithms APISIX accepts.
const DPOP_ALGS: [(&str, &str); 3] = [("ES256", "ES256"), ("RS256", "RS256"), ("PS256", "PS256")];

/// Members that only a private JWK has (RFC 7518 §6.2.2, §6.3.2).
const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// An optional PEM private key member: text from `-----BEGIN … PRIVATE KEY-----` to
/// `-----END … PRIVATE KEY-----`. Whether the key parses is the engine's concern.
pub(super) fn private_key(obj: &Obj<'_>, key: &str, errs: &mut Errors) -> Option<String> {
    let text = obj.string(key, errs)?;
    let path = obj.path_of(key);
    let trimmed = text.trim();
    let first = trimmed.lines().next().unwrap_or("").trim_end();
    let shaped = first.starts_with("-----BEGIN ")
        && first.ends_with("PRIVATE KEY-----")
        && trimmed.contains("-----END ")
        && trimmed.ends_with("PRIVATE KEY-----");
    if !shaped {
        errs.add(&path, "must be a PEM private key (\"-----BEGIN ... PRIVATE KEY-----\")");
        return None;
    }
    if first.contains("ENCRYPTED") {
        errs.add(&path, "encrypted PEM private keys are not supported");
        return None;
    }
    Some(text)
}

/// The `dpop` object. Key material may be staged while DPoP is disabled; once enabled, both
/// keys are required and the JWK must match `signing_alg`. A public JWK with private members
/// is refused either way (APISIX's schema `not anyOf required d/p/q/…`).
pub(super) fn dpop(root: &Obj<'_>, errs: &mut Errors) -> Option<DpopConfig> {
    let obj = root.object("dpop", errs)?;
    let enabled = obj.boolean("enabled", errs).unwrap_or(false);
    let signing_alg = obj.one_of("signing_alg", &DPOP_ALGS, errs);
    let private_key = private_key(&obj, "private_key", errs);
    let public_jwk = obj.get("public_jwk").and_then(|v| {
        let path = obj.path_of("public_jwk");
        if let Value::Object(jwk) = v {
            check_public_only(jwk, &path, errs);
            if enabled && let Some(alg) = signing_alg {
                check_jwk_matches(jwk, &path, alg, errs);
            }
            Some(v.clone())
        } else {
            errs.add(&path, wrong_type("object", v));
            None
        }
    });
    if enabled {
        for key in ["private_key", "public_jwk"] {
            if !obj.has(key) {
                errs.add(&obj.path_of(key), "is required when \"dpop.enabled\" is true");
            }
        }
    }
    Some(DpopConfig {
        enabled,
        signing_alg: String::from(signing_alg.unwrap_or("ES256")),
        private_key: private_key.map(super::Secret::from),
        public_jwk,
    })
}

/// No private members in a public JWK.
fn check_public_only(jwk: &Map<String, Value>, path: &str, errs: &mut Errors) {
    for member in PRIVATE_MEMBERS {
        if jwk.contains_key(member) {
            errs.add(&join(path, member), "is a private key member, not allowed in a public JWK");
        }
    }
}

/// `kty` (and `crv`) fit `alg`, and the key's public members are non-empty strings.
fn check_jwk_matches(jwk: &Map<String, Value>, path: &str, alg: &str, errs: &mut Errors) {
    let (kty, members): (&str, &[&str]) =
        if alg == "ES256" { ("EC", &["crv", "x", "y"]) } else { ("RSA", &["n", "e"]) };
    let kty_path = join(path, "kty");
    match jwk.get("kty") {
        Some(Value::String(k)) if k == kty => {}
        Some(Value::String(k)) => {
            errs.add(&kty_path, format!("is \"{k}\", but signing_alg {alg} needs \"{kty}\""));
            return;
        }
        Some(other) => {
            errs.add(&kty_path, wrong_type("string", other));
            return;
        }
        None => {
            errs.add(&kty_path, "is required");
            return;
        }
    }
    for member in members {
        let member_path = join(path, member);
        match jwk.get(*member) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(Value::String(_)) => errs.add(&member_path, "must not be empty"),
            Some(other) => errs.add(&member_path, wrong_type("string", other)),
            None => errs.add(&member_path, "is required"),
        }
    }
    if kty == "EC"
        && let Some(Value::String(crv)) = jwk.get("crv")
        && !crv.is_empty()
        && crv != "P-256"
    {
        errs.add(
            &join(path, "crv"),
            format!("is \"{crv}\", but signing_alg {alg} needs \"P-256\""),
        );
    }
}
