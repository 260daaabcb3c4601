//! Rules that relate several members: when `client_secret` is required, the credential each
//! reachable client authentication method needs, the client assertion algorithm family, and
//! whether the client's private key can make that algorithm's signatures.

use alloc::format;
use alloc::vec::Vec;

use super::model::{AuthMethod, OidcConfig};
use super::parse::Facts;
use super::private_key::PrivateKey;
use super::reader::{Errors, Obj};

/// Runs every cross-member rule on a config whose members have been read (possibly with
/// defaults standing in for bad values, which have their own errors already).
pub(super) fn cross_member(cfg: &OidcConfig, facts: &Facts, root: &Obj<'_>, errs: &mut Errors) {
    client_secret_required(cfg, root, errs);
    let endpoints = reachable_methods(cfg);
    for (option, method) in &endpoints {
        credential(cfg, root, option, *method, errs);
    }
    assertion_alg(cfg, root, &endpoints, errs);
    assertion_key(cfg, facts, root, errs);
}

/// APISIX `check_schema`: `client_secret` is required unless (bearer_only and (public_key or
/// use_jwks or introspection private_key_jwt)) or (not bearer_only and (token endpoint
/// private_key_jwt or use_pkce)). Our `use_pkce` defaults to true, so a non-bearer config
/// without a secret is a public client.
fn client_secret_required(cfg: &OidcConfig, root: &Obj<'_>, errs: &mut Errors) {
    if cfg.client_secret.is_some() || root.has("client_secret") {
        return;
    }
    let exempt = if cfg.bearer_only {
        cfg.public_key.is_some()
            || cfg.use_jwks
            || cfg.introspection_endpoint_auth_method == AuthMethod::PrivateKeyJwt
    } else {
        cfg.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt || cfg.use_pkce
    };
    if !exempt {
        let why = if cfg.bearer_only {
            "is required: a bearer_only config needs it unless public_key, use_jwks or \
             introspection_endpoint_auth_method \"private_key_jwt\" is set"
        } else {
            "is required: set use_pkce or token_endpoint_auth_method \"private_key_jwt\" for a \
             client without a secret"
        };
        errs.add(&root.path_of("client_secret"), why);
    }
}

/// The client authentication methods in use, each with the option that selected it. The
/// token endpoint (and refresh, revocation, PAR by default) is reached only when the session
/// branch can run; introspection only when the bearer branch runs without local verification;
/// PAR only when enabled with the session branch. Methods of endpoints never reached cannot
/// fail (APISIX TESTs 78, 81).
fn reachable_methods(cfg: &OidcConfig) -> Vec<(&'static str, AuthMethod)> {
    let mut out = Vec::new();
    if !cfg.bearer_only {
        out.push(("token_endpoint_auth_method", cfg.token_endpoint_auth_method));
    }
    if cfg.bearer_branch() && cfg.public_key.is_none() && !cfg.use_jwks {
        out.push(("introspection_endpoint_auth_method", cfg.introspection_endpoint_auth_method));
    }
    if let Some(par) = &cfg.par
        && par.enabled
        && !cfg.bearer_only
        && let Some(method) = par.endpoint_auth_method
    {
        out.push(("par.endpoint_auth_method", method));
    }
    out
}

/// `private_key_jwt` needs `client_rsa_private_key`; `client_secret_jwt` needs `client_secret`.
/// A credential that already has an error (e.g. a malformed key) is not reported twice.
fn credential(
    cfg: &OidcConfig,
    root: &Obj<'_>,
    option: &str,
    method: AuthMethod,
    errs: &mut Errors,
) {
    let (key, present) = match method {
        AuthMethod::PrivateKeyJwt => {
            ("client_rsa_private_key", cfg.client_rsa_private_key.is_some())
        }
        AuthMethod::ClientSecretJwt => ("client_secret", cfg.client_secret.is_some()),
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => return,
    };
    let path = root.path_of(key);
    if !present && !errs.has(&path) {
        errs.add(&path, format!("is required when \"{option}\" is \"{}\"", method.name()));
    }
}

/// A configured `client_jwt_assertion_alg` must suit every JWT method in use: HS* only with
/// `client_secret_jwt`, RS*/ES* only with `private_key_jwt` (so both families reachable at
/// once is refused). Unset, each method uses its own default (RS256 / HS256).
fn assertion_alg(
    cfg: &OidcConfig,
    root: &Obj<'_>,
    endpoints: &[(&'static str, AuthMethod)],
    errs: &mut Errors,
) {
    let Some(alg) = cfg.client_jwt_assertion_alg.as_deref() else {
        return;
    };
    let symmetric = alg.starts_with("HS");
    for (option, method) in endpoints {
        let clash = match method {
            AuthMethod::PrivateKeyJwt => symmetric,
            AuthMethod::ClientSecretJwt => !symmetric,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => false,
        };
        if clash {
            let needs = if symmetric { "RS256, RS512 or ES256" } else { "HS256 or HS512" };
            errs.add(
                &root.path_of("client_jwt_assertion_alg"),
                format!(
                    "\"{alg}\" cannot be used with \"{option}\" \"{}\" (use {needs})",
                    method.name()
                ),
            );
        }
    }
}

/// A configured asymmetric `client_jwt_assertion_alg` must be one the private key can make:
/// RS256/RS512 need an RSA key, ES256 a P-256 key. Checked whether or not `private_key_jwt` is
/// reachable today: the two members contradict each other either way. Unset, the signer picks
/// the key's own algorithm, which always fits.
fn assertion_key(cfg: &OidcConfig, facts: &Facts, root: &Obj<'_>, errs: &mut Errors) {
    let (Some(alg), Some(key)) = (cfg.client_jwt_assertion_alg.as_deref(), &facts.client_key)
    else {
        return;
    };
    let needs = match (alg, key) {
        ("RS256" | "RS512", PrivateKey::P256(_)) => "an RSA key",
        ("ES256", PrivateKey::Rsa(_)) => "a P-256 EC key",
        _ => return,
    };
    errs.add(
        &root.path_of("client_rsa_private_key"),
        format!("is {}, but client_jwt_assertion_alg \"{alg}\" needs {needs}", key.describe()),
    );
}
