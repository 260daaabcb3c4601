//! Reads the root object into an [`OidcConfig`], checking each member's JSON type, range and
//! enumeration. Rules that relate several members live in `validate.rs`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde_json::Value;

use super::model::{
    AudienceValidator, AuthMethod, BEARER_CLOCK_SKEW_DEFAULT, BEARER_CLOCK_SKEW_MAX,
    ClaimValidator, OidcConfig, ParConfig, ProxyOpts, UnauthAction,
};
use super::private_key::PrivateKey;
use super::reader::{Errors, Obj, as_string, item, wrong_type};
use super::{Secret, keys, proxy_url, session};
use crate::claim_schema::{CompiledClaimSchema, SchemaCompiler};
use crate::jose::Algorithm;

/// Client authentication methods. APISIX takes free text here and, for a name the library does
/// not know, silently sends no client authentication at all; we refuse unknown names instead.
pub(super) const AUTH_METHODS: [(&str, AuthMethod); 4] = [
    ("client_secret_basic", AuthMethod::ClientSecretBasic),
    ("client_secret_post", AuthMethod::ClientSecretPost),
    ("private_key_jwt", AuthMethod::PrivateKeyJwt),
    ("client_secret_jwt", AuthMethod::ClientSecretJwt),
];

const UNAUTH_ACTIONS: [(&str, UnauthAction); 3] =
    [("auth", UnauthAction::Auth), ("deny", UnauthAction::Deny), ("pass", UnauthAction::Pass)];

/// `client_jwt_assertion_alg` values: APISIX's enum without `ES512`, which the assertion
/// signer does not implement (see [`assertion_alg`]).
const ASSERTION_ALGS: [(&str, &str); 5] = [
    ("HS256", "HS256"),
    ("HS512", "HS512"),
    ("RS256", "RS256"),
    ("RS512", "RS512"),
    ("ES256", "ES256"),
];

/// The library's flat PAR/DPoP names, which APISIX refuses in favour of the nested objects.
const FLAT_NAMES: [(&str, &str); 7] = [
    ("use_par", "par.enabled"),
    ("pushed_authorization_request_endpoint", "par.endpoint"),
    ("pushed_authorization_request_endpoint_auth_method", "par.endpoint_auth_method"),
    ("use_dpop", "dpop.enabled"),
    ("dpop_signing_alg", "dpop.signing_alg"),
    ("dpop_private_key", "dpop.private_key"),
    ("dpop_public_jwk", "dpop.public_jwk"),
];

/// What reading the members learnt that the config itself does not keep, for the rules
/// between members.
pub(super) struct Facts {
    /// The parsed `client_rsa_private_key`, when it is usable.
    pub(super) client_key: Option<PrivateKey>,
}

/// Reads every member of the root. Unknown members are accepted (APISIX passes them through to
/// the library), except the flat PAR/DPoP names.
pub(super) fn root(
    obj: &Obj<'_>,
    schemas: Option<&dyn SchemaCompiler>,
    errs: &mut Errors,
) -> (OidcConfig, Facts) {
    for (flat, nested) in FLAT_NAMES {
        if obj.has(flat) {
            errs.add(&obj.path_of(flat), format!("is not allowed, use {nested} instead"));
        }
    }
    let s = |key: &str, errs: &mut Errors, default: &str| {
        obj.string(key, errs).unwrap_or_else(|| String::from(default))
    };
    let method = |key: &str, errs: &mut Errors| {
        obj.one_of(key, &AUTH_METHODS, errs).unwrap_or(AuthMethod::ClientSecretBasic)
    };
    let bearer_only = obj.boolean("bearer_only", errs).unwrap_or(false);
    // The config keeps the key's PEM text; the parsed key is kept aside for validate.rs.
    let mut client_key = None;
    let mut compiled_claim_schema = None;
    let config = OidcConfig {
        client_id: obj.required_string("client_id", errs).unwrap_or_default(),
        client_secret: obj.string("client_secret", errs).map(Secret::from),
        discovery: obj.required_string("discovery", errs).unwrap_or_default(),
        ssl_verify: ssl_verify(obj, errs),
        timeout_ms: timeout_ms(obj, errs),
        proxy_opts: proxy_opts(obj, errs),
        introspection_addon_headers: addon_headers(obj, errs),
        discovery_expires_in: obj.uint("discovery_expires_in", errs).unwrap_or(86_400),

        scope: s("scope", errs, "openid"),
        redirect_uri: obj.string("redirect_uri", errs),
        use_pkce: obj.boolean("use_pkce", errs).unwrap_or(true),
        use_nonce: obj.boolean("use_nonce", errs).unwrap_or(true),
        authorization_params: authorization_params(obj, errs),
        token_endpoint_auth_method: method("token_endpoint_auth_method", errs),
        token_endpoint_auth_method_configured: obj.has("token_endpoint_auth_method"),
        client_rsa_private_key: keys::private_key(obj, "client_rsa_private_key", errs).map(|k| {
            client_key = Some(k.key);
            Secret::from(k.pem)
        }),
        client_rsa_private_key_id: obj.string("client_rsa_private_key_id", errs),
        client_jwt_assertion_expires_in: obj
            .uint("client_jwt_assertion_expires_in", errs)
            .unwrap_or(60),
        client_jwt_assertion_alg: assertion_alg(obj, errs),
        client_jwt_assertion_audience: obj.string("client_jwt_assertion_audience", errs),
        renew_access_token_on_expiry: obj
            .boolean("renew_access_token_on_expiry", errs)
            .unwrap_or(true),
        access_token_expires_in: obj.uint("access_token_expires_in", errs),
        access_token_expires_leeway: obj.uint("access_token_expires_leeway", errs).unwrap_or(0),
        refresh_session_interval: obj.uint("refresh_session_interval", errs),
        force_reauthorize: obj.boolean("force_reauthorize", errs).unwrap_or(false),
        iat_slack: obj.uint("iat_slack", errs).unwrap_or(120),
        bearer_clock_skew: obj
            .uint_in("bearer_clock_skew", 0, BEARER_CLOCK_SKEW_MAX, errs)
            .unwrap_or(BEARER_CLOCK_SKEW_DEFAULT),
        accept_none_alg: obj.boolean("accept_none_alg", errs).unwrap_or(false),
        accept_unsupported_alg: obj.boolean("accept_unsupported_alg", errs).unwrap_or(false),
        unauth_action: obj
            .one_of("unauth_action", &UNAUTH_ACTIONS, errs)
            .unwrap_or(UnauthAction::Auth),
        redirect_script_requests: obj.boolean("redirect_script_requests", errs).unwrap_or(false),
        par: par(obj, errs),
        dpop: keys::dpop(obj, errs),

        logout_path: s("logout_path", errs, "/logout"),
        post_logout_redirect_uri: obj.string("post_logout_redirect_uri", errs),
        revoke_tokens_on_logout: obj.boolean("revoke_tokens_on_logout", errs).unwrap_or(false),

        bearer_only,
        introspection_endpoint: obj.string("introspection_endpoint", errs),
        introspection_endpoint_auth_method: method("introspection_endpoint_auth_method", errs),
        introspection_interval: obj.uint("introspection_interval", errs).unwrap_or(0),
        introspection_expiry_claim: s("introspection_expiry_claim", errs, "exp"),
        public_key: obj.string("public_key", errs),
        use_jwks: obj.boolean("use_jwks", errs).unwrap_or(false),
        jwk_expires_in: obj.uint("jwk_expires_in", errs).unwrap_or(86_400),
        token_signing_alg_values_expected: signing_algs(obj, errs),
        realm: s("realm", errs, "apisix"),
        claim_validator: claim_validator(obj, errs),
        required_scopes: obj.string_list("required_scopes", errs).unwrap_or_default(),
        claim_schema: claim_schema(obj, schemas, &mut compiled_claim_schema, errs),
        compiled_claim_schema,
        cache_segment: obj.string("cache_segment", errs),
        jwt_verification_cache_ignore: obj
            .boolean("jwt_verification_cache_ignore", errs)
            .unwrap_or(false),

        set_access_token_header: obj.boolean("set_access_token_header", errs).unwrap_or(true),
        access_token_in_authorization_header: obj
            .boolean("access_token_in_authorization_header", errs)
            .unwrap_or(false),
        set_id_token_header: obj.boolean("set_id_token_header", errs).unwrap_or(true),
        set_raw_id_token_header: obj.boolean("set_raw_id_token_header", errs).unwrap_or(false),
        set_userinfo_header: obj.boolean("set_userinfo_header", errs).unwrap_or(true),
        set_refresh_token_header: obj.boolean("set_refresh_token_header", errs).unwrap_or(false),

        session: session::parse(obj, bearer_only, errs),
    };
    (config, Facts { client_key })
}

/// `client_jwt_assertion_alg`. APISIX also lists `ES512`; the signer here does not implement it,
/// and accepting it would turn every client assertion into a server error at request time.
fn assertion_alg(obj: &Obj<'_>, errs: &mut Errors) -> Option<String> {
    const KEY: &str = "client_jwt_assertion_alg";
    if obj.get(KEY).and_then(Value::as_str) == Some("ES512") {
        errs.add(
            &obj.path_of(KEY),
            "\"ES512\" is not supported: client assertions are signed with RS256, RS512 or ES256 \
             (P-256), or HS256 or HS512 for client_secret_jwt",
        );
        return None;
    }
    obj.one_of(KEY, &ASSERTION_ALGS, errs).map(String::from)
}

/// `ssl_verify`: a boolean; the legacy string `"no"` means `false` (APISIX `check_schema`).
fn ssl_verify(obj: &Obj<'_>, errs: &mut Errors) -> bool {
    match obj.get("ssl_verify") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "no" => false,
        Some(other) => {
            errs.add(&obj.path_of("ssl_verify"), wrong_type("boolean", other));
            true
        }
    }
}

/// `timeout` (integer ≥ 1, seconds) in milliseconds. As in APISIX, a value ≥ 1000 that divides
/// by 1000 is a legacy value already in milliseconds.
fn timeout_ms(obj: &Obj<'_>, errs: &mut Errors) -> u64 {
    let Some(timeout) = obj.uint_in("timeout", 1, u64::MAX, errs) else {
        return 3000;
    };
    if timeout >= 1000 && timeout % 1000 == 0 {
        return timeout;
    }
    timeout.checked_mul(1000).unwrap_or_else(|| {
        errs.add(&obj.path_of("timeout"), "is too large");
        3000
    })
}

/// `proxy_opts`. The proxy URLs must be `http://host[:port]` (see `proxy_url.rs`).
fn proxy_opts(obj: &Obj<'_>, errs: &mut Errors) -> Option<ProxyOpts> {
    let p = obj.object("proxy_opts", errs)?;
    let url = |key: &str, errs: &mut Errors| {
        let url = p.string(key, errs)?;
        match proxy_url::parse(&url) {
            Ok(_) => Some(url),
            Err(message) => {
                errs.add(&p.path_of(key), message);
                None
            }
        }
    };
    Some(ProxyOpts {
        http_proxy: url("http_proxy", errs),
        https_proxy: url("https_proxy", errs),
        http_proxy_authorization: p.string("http_proxy_authorization", errs).map(Secret::from),
        https_proxy_authorization: p.string("https_proxy_authorization", errs).map(Secret::from),
        no_proxy: p.string("no_proxy", errs),
    })
}

/// `introspection_addon_headers`: header names (`^[^:]+$`), at least one.
fn addon_headers(obj: &Obj<'_>, errs: &mut Errors) -> Vec<String> {
    const KEY: &str = "introspection_addon_headers";
    let Some(names) = obj.string_list(KEY, errs) else {
        return Vec::new();
    };
    let path = obj.path_of(KEY);
    if obj.get(KEY).is_some_and(|v| v.as_array().is_some_and(Vec::is_empty)) {
        errs.add(&path, "must have at least 1 item");
    }
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() || name.contains(':') {
            errs.add(&item(&path, i), "must match pattern \"^[^:]+$\"");
        }
    }
    names
}

/// `authorization_params`: any object.
fn authorization_params(obj: &Obj<'_>, errs: &mut Errors) -> serde_json::Map<String, Value> {
    match obj.get("authorization_params") {
        None => serde_json::Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(other) => {
            errs.add(&obj.path_of("authorization_params"), wrong_type("object", other));
            serde_json::Map::new()
        }
    }
}

/// `par`.
fn par(obj: &Obj<'_>, errs: &mut Errors) -> Option<ParConfig> {
    let p = obj.object("par", errs)?;
    Some(ParConfig {
        enabled: p.boolean("enabled", errs).unwrap_or(false),
        endpoint: p.string("endpoint", errs),
        endpoint_auth_method: p.one_of("endpoint_auth_method", &AUTH_METHODS, errs),
    })
}

/// `token_signing_alg_values_expected`: one name (APISIX) or a non-empty list of names, each a
/// JWS algorithm this crate knows, `none` excluded.
fn signing_algs(obj: &Obj<'_>, errs: &mut Errors) -> Vec<String> {
    const KEY: &str = "token_signing_alg_values_expected";
    let path = obj.path_of(KEY);
    let named: Vec<(String, String)> = match obj.get(KEY) {
        None => return Vec::new(),
        Some(Value::String(name)) => alloc::vec![(path, name.clone())],
        Some(Value::Array(list)) => {
            if list.is_empty() {
                errs.add(&path, "must not be empty (leave it out to accept every algorithm)");
            }
            list.iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let p = item(&path, i);
                    as_string(v, &p, errs).map(|name| (p, name))
                })
                .collect()
        }
        Some(other) => {
            errs.add(&path, wrong_type("string or array", other));
            return Vec::new();
        }
    };
    for (p, name) in &named {
        match Algorithm::from_name(name) {
            Some(Algorithm::None) => errs.add(p, "\"none\" is not a signing algorithm"),
            Some(_) => {}
            None => errs.add(p, format!("\"{name}\" is not a known JWS algorithm")),
        }
    }
    named.into_iter().map(|(_, name)| name).collect()
}

/// `claim_validator.issuer.valid_issuers` and `claim_validator.audience`.
fn claim_validator(obj: &Obj<'_>, errs: &mut Errors) -> ClaimValidator {
    let Some(cv) = obj.object("claim_validator", errs) else {
        return ClaimValidator::default();
    };
    let valid_issuers = cv
        .object("issuer", errs)
        .and_then(|issuer| issuer.string_list("valid_issuers", errs))
        .unwrap_or_default();
    let audience = cv.object("audience", errs).map(|aud| AudienceValidator {
        claim: aud.string("claim", errs).unwrap_or_else(|| String::from("aud")),
        required: aud.boolean("required", errs).unwrap_or(false),
        match_with_client_id: aud.boolean("match_with_client_id", errs).unwrap_or(false),
    });
    ClaimValidator { valid_issuers, audience }
}

/// `claim_schema`: a JSON Schema object, kept as configured and compiled into `compiled` by
/// `schemas`. Without a compiler it is refused: an unenforced schema would let through the
/// tokens it exists to stop.
fn claim_schema(
    obj: &Obj<'_>,
    schemas: Option<&dyn SchemaCompiler>,
    compiled: &mut Option<CompiledClaimSchema>,
    errs: &mut Errors,
) -> Option<Value> {
    const KEY: &str = "claim_schema";
    let value = obj.get(KEY)?;
    if !value.is_object() {
        errs.add(&obj.path_of(KEY), wrong_type("object", value));
        return None;
    }
    let Some(schemas) = schemas else {
        errs.add(
            &obj.path_of(KEY),
            "cannot be enforced: this loader has no JSON Schema compiler (OidcConfig::from_value_with)",
        );
        return None;
    };
    match schemas.compile(value) {
        Ok(schema) => {
            *compiled = Some(CompiledClaimSchema::new(schema));
            Some(value.clone())
        }
        Err(message) => {
            errs.add(&obj.path_of(KEY), message);
            None
        }
    }
}
