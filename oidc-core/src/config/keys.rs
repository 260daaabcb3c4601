//! Key material in the configuration: PEM private keys (parsed, see `private_key.rs`) and the
//! DPoP section with its public JWK.

use alloc::format;
use alloc::string::String;

use serde_json::{Map, Value};

use super::model::DpopConfig;
use super::private_key::{PrivateKey, PublicParts};
use super::reader::{Errors, Obj, join, wrong_type};
use crate::crypto::strip_leading_zeros;
use crate::jose::base64url;

/// DPoP proof algorithms APISIX accepts.
const DPOP_ALGS: [(&str, &str); 3] = [("ES256", "ES256"), ("RS256", "RS256"), ("PS256", "PS256")];

/// Members that only a private JWK has (RFC 7518 §6.2.2, §6.3.2).
const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// A configured private key: its PEM text (kept in the config) and the parsed key (for the
/// rules that relate it to other members).
pub(super) struct LoadedKey {
    pub(super) pem: String,
    pub(super) key: PrivateKey,
}

/// An optional PEM private key member: text from `-----BEGIN … PRIVATE KEY-----` to
/// `-----END … PRIVATE KEY-----` that parses as a key the signers can use.
pub(super) fn private_key(obj: &Obj<'_>, key: &str, errs: &mut Errors) -> Option<LoadedKey> {
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
    match PrivateKey::parse(&text) {
        Ok(parsed) => Some(LoadedKey { pem: text, key: parsed }),
        Err(problem) => {
            errs.add(&path, problem.message());
            None
        }
    }
}

/// The `dpop` object. Key material may be staged while DPoP is disabled (it must still parse);
/// once enabled, both keys are required, both must fit `signing_alg`, and the JWK must be the
/// private key's public half (APISIX `check_schema`). A public JWK with private members is
/// refused either way (APISIX's schema `not anyOf required d/p/q/…`).
pub(super) fn dpop(root: &Obj<'_>, errs: &mut Errors) -> Option<DpopConfig> {
    let obj = root.object("dpop", errs)?;
    let enabled = obj.boolean("enabled", errs).unwrap_or(false);
    let signing_alg = obj.one_of("signing_alg", &DPOP_ALGS, errs);
    let private_key = private_key(&obj, "private_key", errs);
    let key_fits = match (&private_key, signing_alg) {
        (Some(loaded), Some(alg)) if enabled => {
            key_fits_alg(&loaded.key, alg, &obj.path_of("private_key"), errs)
        }
        _ => false,
    };
    let public_jwk = obj.get("public_jwk").and_then(|v| {
        let path = obj.path_of("public_jwk");
        if let Value::Object(jwk) = v {
            check_public_only(jwk, &path, errs);
            if enabled
                && let Some(alg) = signing_alg
                && check_jwk_matches(jwk, &path, alg, errs)
                && key_fits
                && let Some(loaded) = &private_key
            {
                check_pair(jwk, &path, &loaded.key, errs);
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
        private_key: private_key.map(|k| super::Secret::from(k.pem)),
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

/// The private key's type fits the DPoP `alg`: ES256 needs P-256, RS256 and PS256 need RSA.
fn key_fits_alg(key: &PrivateKey, alg: &str, path: &str, errs: &mut Errors) -> bool {
    let (fits, needs) = match key {
        PrivateKey::P256(_) => (alg == "ES256", "an RSA key"),
        PrivateKey::Rsa(_) => (alg != "ES256", "a P-256 EC key"),
    };
    if !fits {
        errs.add(path, format!("is {}, but signing_alg {alg} needs {needs}", key.describe()));
    }
    fits
}

/// The JWK is the public half of `key` (whose type already fits the JWK's `kty`).
fn check_pair(jwk: &Map<String, Value>, path: &str, key: &PrivateKey, errs: &mut Errors) {
    let member = |name: &str, errs: &mut Errors| {
        let text = jwk.get(name).and_then(Value::as_str).unwrap_or_default();
        let decoded = base64url::decode(text.as_bytes()).ok();
        if decoded.is_none() {
            errs.add(&join(path, name), "is not valid base64url");
        }
        decoded
    };
    let same = match key.public() {
        PublicParts::Rsa { n, e } => {
            let (jn, je) = (member("n", errs), member("e", errs));
            let (Some(jn), Some(je)) = (jn, je) else { return };
            strip_leading_zeros(&jn) == n.as_slice() && strip_leading_zeros(&je) == e.as_slice()
        }
        PublicParts::Ec { sec1 } => {
            let (x, y) = (member("x", errs), member("y", errs));
            let (Some(x), Some(y)) = (x, y) else { return };
            let mut point = alloc::vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            point == sec1
        }
    };
    if !same {
        errs.add(path, "does not match dpop.private_key: it must be that key's public half");
    }
}

/// `kty` (and `crv`) fit `alg`, and the key's public members are non-empty strings. Returns
/// whether all of that holds.
fn check_jwk_matches(jwk: &Map<String, Value>, path: &str, alg: &str, errs: &mut Errors) -> bool {
    let (kty, members): (&str, &[&str]) =
        if alg == "ES256" { ("EC", &["crv", "x", "y"]) } else { ("RSA", &["n", "e"]) };
    let kty_path = join(path, "kty");
    match jwk.get("kty") {
        Some(Value::String(k)) if k == kty => {}
        Some(Value::String(k)) => {
            errs.add(&kty_path, format!("is \"{k}\", but signing_alg {alg} needs \"{kty}\""));
            return false;
        }
        Some(other) => {
            errs.add(&kty_path, wrong_type("string", other));
            return false;
        }
        None => {
            errs.add(&kty_path, "is required");
            return false;
        }
    }
    let mut ok = true;
    for member in members {
        let member_path = join(path, member);
        match jwk.get(*member) {
            Some(Value::String(s)) if !s.is_empty() => continue,
            Some(Value::String(_)) => errs.add(&member_path, "must not be empty"),
            Some(other) => errs.add(&member_path, wrong_type("string", other)),
            None => errs.add(&member_path, "is required"),
        }
        ok = false;
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
        ok = false;
    }
    ok
}
