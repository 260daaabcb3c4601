//! The token endpoint: requests (authorization code, refresh token), the response, and the
//! ID token rules.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{AuthMethod, OidcConfig};
use crate::discovery::ProviderMetadata;
use crate::engine::client_auth;
use crate::engine::introspection::form_pair;
use crate::engine::io::{Entropy, HttpIntent, IntentId, Method, Now, Purpose};
use crate::engine::route::Route;
use crate::jose::claims::TypPolicy;
use crate::jose::{Algorithm, AlgorithmPolicy, ClaimPolicy, JwtValidator};
use crate::time::UnixTime;

/// Access token lifetime assumed when neither the provider nor the configuration gives one.
const DEFAULT_EXPIRES_IN: u64 = 3600;

/// Largest token endpoint or userinfo answer read.
pub(super) const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// A successful token response (RFC 6749 §5.1).
pub(crate) struct TokenResponse {
    pub(super) access_token: Zeroizing<String>,
    pub(super) expires_in: Option<u64>,
    pub(super) id_token: Option<Zeroizing<String>>,
    pub(super) refresh_token: Option<Zeroizing<String>>,
    /// Granted scopes; absent means as requested (RFC 6749 §5.1).
    pub(super) scope: Option<String>,
}

impl core::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("id_token", &self.id_token.is_some())
            .field("refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    /// When the access token stops being usable: `expires_in`, else the configured
    /// `access_token_expires_in`, else an hour (APISIX's library fallback).
    pub(super) fn expires_at(&self, cfg: &OidcConfig, now: UnixTime) -> Option<UnixTime> {
        let secs = self.expires_in.or(cfg.access_token_expires_in).unwrap_or(DEFAULT_EXPIRES_IN);
        Some(now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)))
    }
}

/// What the token endpoint said.
#[derive(Debug)]
pub(super) enum TokenAnswer {
    Tokens(TokenResponse),
    /// A 4xx: the grant is not (or no longer) valid.
    Refused,
    /// A 5xx or 429: the endpoint is failing.
    Unavailable,
    /// Something that is not a token response.
    Bad,
}

pub(super) fn parse_token_response(status: u16, body: &[u8]) -> TokenAnswer {
    match status {
        200 => {}
        429 | 500..=599 => return TokenAnswer::Unavailable,
        400..=499 => return TokenAnswer::Refused,
        _ => return TokenAnswer::Bad,
    }
    let Ok(obj) = crate::jose::json::parse_object(body) else {
        return TokenAnswer::Bad;
    };
    let string = |name: &str| match obj.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(Zeroizing::new(s.clone())),
        _ => None,
    };
    let Some(access_token) = string("access_token") else {
        return TokenAnswer::Bad;
    };
    // Only bearer tokens can be forwarded as they are (RFC 6750); DPoP-bound ones cannot.
    match obj.get("token_type") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
        _ => return TokenAnswer::Bad,
    }
    let expires_in = match obj.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    // A header value carries the tokens upstream: anything that could break the header out is
    // not a token.
    let printable = |t: &Option<Zeroizing<String>>| {
        t.as_ref().is_none_or(|t| t.bytes().all(|b| (0x21..0x7f).contains(&b)))
    };
    let (id_token, refresh_token) = (string("id_token"), string("refresh_token"));
    if !printable(&Some(access_token.clone()))
        || !printable(&id_token)
        || !printable(&refresh_token)
    {
        return TokenAnswer::Bad;
    }
    TokenAnswer::Tokens(TokenResponse {
        access_token,
        expires_in,
        id_token,
        refresh_token,
        scope: obj.get("scope").and_then(Value::as_str).map(String::from),
    })
}

/// The client authentication method for the token endpoint: the configured one, or (when
/// none is configured) the first the provider lists that this client has credentials for.
pub(super) fn token_auth_method(cfg: &OidcConfig, meta: &ProviderMetadata) -> AuthMethod {
    if cfg.token_endpoint_auth_method_configured {
        return cfg.token_endpoint_auth_method;
    }
    let Some(supported) = &meta.token_endpoint_auth_methods_supported else {
        return cfg.token_endpoint_auth_method;
    };
    let has_secret = cfg.client_secret.is_some();
    supported
        .iter()
        .find_map(|m| match m.as_str() {
            "client_secret_basic" if has_secret => Some(AuthMethod::ClientSecretBasic),
            "client_secret_post" if has_secret => Some(AuthMethod::ClientSecretPost),
            "client_secret_jwt" if has_secret => Some(AuthMethod::ClientSecretJwt),
            "private_key_jwt" if cfg.client_rsa_private_key.is_some() => {
                Some(AuthMethod::PrivateKeyJwt)
            }
            _ => None,
        })
        .unwrap_or(cfg.token_endpoint_auth_method)
}

impl crate::engine::Engine {
    /// Admission for a call to the token endpoint: `Err` with the 503 when the endpoint is
    /// backing off or too many requests are parked.
    pub(super) fn admit_token_call(
        &self,
        endpoint: &str,
        now: Now,
    ) -> Result<(), crate::engine::Decision> {
        use crate::engine::decision::{Decision, Denial, Reason};
        if let Some(retry) = self.token_backoff.blocked(endpoint, now.mono) {
            return Err(Decision::Deny(Denial::unavailable(Reason::IdpUnavailable, retry)));
        }
        if self.parked_count() >= self.settings.max_pending_requests {
            return Err(Decision::Deny(Denial::unavailable(Reason::Overloaded, 1)));
        }
        Ok(())
    }

    /// Records how a token endpoint call went, for its backoff. Only failures of the endpoint
    /// count (no connection, TLS, timeout, 5xx, 429); a 4xx is its answer about one grant.
    pub(in crate::engine) fn token_call_result(
        &mut self,
        endpoint: &str,
        now: Now,
        answer: &Result<crate::engine::io::ResponseView<'_>, crate::engine::io::FailureKind>,
    ) {
        use crate::engine::io::FailureKind;
        match answer {
            Ok(r) if r.status >= 500 || r.status == 429 => {
                self.token_backoff.failed(endpoint, now.mono, &self.settings, false);
            }
            Ok(_) => self.token_backoff.succeeded(endpoint),
            Err(kind) => {
                let escalate = matches!(kind, FailureKind::Connect | FailureKind::Tls);
                self.token_backoff.failed(endpoint, now.mono, &self.settings, escalate);
            }
        }
    }
}

/// A POST to `endpoint` with `form` plus client authentication; `None` when the client's
/// credentials cannot be used.
#[allow(clippy::too_many_arguments)]
pub(super) fn post_intent(
    id: IntentId,
    route: &Route,
    method: AuthMethod,
    endpoint: &str,
    mut form: String,
    purpose: Purpose,
    now: Now,
    rng: &mut dyn Entropy,
) -> Option<HttpIntent> {
    let cfg = &route.cfg;
    let mut headers = alloc::vec![
        (String::from("Content-Type"), String::from("application/x-www-form-urlencoded")),
        (String::from("Accept"), String::from("application/json")),
    ];
    client_auth::apply(route, method, endpoint, now, rng, &mut headers, &mut form).ok()?;
    Some(HttpIntent {
        id,
        method: Method::Post,
        url: String::from(endpoint),
        headers,
        body: form.into_bytes(),
        deadline: now.mono.plus_millis(cfg.timeout_ms),
        max_response_bytes: MAX_TOKEN_RESPONSE,
        purpose,
        tls_verify: cfg.ssl_verify,
        proxy: cfg.proxy_opts.clone(),
    })
}

/// The form of an authorization code exchange (RFC 6749 §4.1.3, RFC 7636 §4.5).
pub(super) fn code_form(code: &str, redirect_uri: &str, verifier: Option<&str>) -> String {
    let mut form = String::new();
    form_pair(&mut form, "grant_type", "authorization_code");
    form_pair(&mut form, "code", code);
    form_pair(&mut form, "redirect_uri", redirect_uri);
    if let Some(v) = verifier {
        form_pair(&mut form, "code_verifier", v);
    }
    form
}

/// The form of a refresh (RFC 6749 §6).
pub(super) fn refresh_form(refresh_token: &str) -> String {
    let mut form = String::new();
    form_pair(&mut form, "grant_type", "refresh_token");
    form_pair(&mut form, "refresh_token", refresh_token);
    form
}

/// The ID token validator of a route (OpenID Connect Core §3.1.3.7): the provider's issuer
/// (or `valid_issuers`), `aud` containing the client id, `azp` when there are several
/// audiences, `exp` and `iat` within `iat_slack`, the flow's `nonce` when one was sent.
/// Unsigned (`alg: none`) ID tokens are never accepted.
pub(super) fn id_token_validator(
    cfg: &OidcConfig,
    issuer: &str,
    nonce: Option<&str>,
) -> JwtValidator {
    let allowed: Vec<Algorithm> = cfg
        .token_signing_alg_values_expected
        .iter()
        .filter_map(|a| Algorithm::from_name(a))
        .filter(|a| *a != Algorithm::None)
        .collect();
    let issuers = if cfg.claim_validator.valid_issuers.is_empty() {
        alloc::vec![String::from(issuer)]
    } else {
        cfg.claim_validator.valid_issuers.clone()
    };
    let claims = ClaimPolicy {
        issuers: Some(issuers),
        audiences: Some(alloc::vec![cfg.client_id.clone()]),
        leeway: cfg.iat_slack,
        iat_slack: Some(cfg.iat_slack),
        require_exp: true,
        require_iat: true,
        require_sub: true,
        nonce: nonce.map(String::from),
        authorized_party: Some(cfg.client_id.clone()),
        typ: TypPolicy::NoneOf(alloc::vec!["logout+jwt".into(), "at+jwt".into()]),
    };
    JwtValidator::new(AlgorithmPolicy { allowed, allow_none: false }, claims)
}

/// Whether the granted scopes (the response's `scope`, else the requested ones) include every
/// `required_scopes` entry.
pub(super) fn has_required_scopes(cfg: &OidcConfig, granted: Option<&str>) -> bool {
    let granted = granted.unwrap_or(&cfg.scope);
    cfg.required_scopes.iter().all(|s| granted.split_ascii_whitespace().any(|g| g == s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses() {
        let ok = br#"{"access_token":"at","token_type":"Bearer","expires_in":300,"id_token":"a.b.c","refresh_token":"rt","scope":"openid email"}"#;
        let TokenAnswer::Tokens(t) = parse_token_response(200, ok) else { panic!() };
        assert_eq!((t.expires_in, t.scope.as_deref()), (Some(300), Some("openid email")));
        assert!(matches!(
            parse_token_response(400, br#"{"error":"invalid_grant"}"#),
            TokenAnswer::Refused
        ));
        assert!(matches!(parse_token_response(503, b""), TokenAnswer::Unavailable));
        for bad in [
            &br#"{"token_type":"Bearer"}"#[..],
            br#"{"access_token":"at","token_type":"DPoP"}"#,
            br#"{"access_token":"a\r\nb","token_type":"bearer"}"#,
            br#"{"access_token":"at","token_type":"bearer","id_token":"x y"}"#,
            b"not json",
        ] {
            assert!(matches!(parse_token_response(200, bad), TokenAnswer::Bad));
        }
    }
}
