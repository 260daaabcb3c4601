//! The bearer-token path: token extraction, local JWT verification or introspection, then the
//! scope and audience rules and the upstream headers.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use base64::Engine as _;
use serde_json::Value;

use super::decision::{AuthVia, Decision, Denial, Grant, IDENTITY_HEADERS, Reason};
use super::introspection::{self, form_pair};
use super::io::{Entropy, HttpIntent, Method, Now, Purpose};
use super::route::{Mode, Route};
use super::slot::{Refresh, SlotState};
use super::{
    Engine, InFlight, IntentKind, Output, Pending, RequestToken, RequestView, client_auth,
};
use crate::config::UnauthAction;
use crate::discovery::ProviderMetadata;
use crate::jose::json::Object;
use crate::jose::{CacheOutcome, KeySet, VerifyError};

/// Where a bearer token was found.
enum Extracted<'a> {
    Token(&'a str),
    None,
    Malformed,
    /// Several credentials that could disagree about who is calling.
    Conflicting,
}

/// The one value of a header the request may carry at most once; `Err` if it has several.
fn single<'a>(req: &RequestView<'a>, name: &str) -> Result<Option<&'a [u8]>, ()> {
    let mut found = req.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
    let first = found.next().map(|(_, v)| *v);
    if found.next().is_some() { Err(()) } else { Ok(first) }
}

fn header<'a>(req: &RequestView<'a>, name: &str) -> Option<&'a [u8]> {
    req.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
}

/// `Authorization: Bearer <token>` (scheme case-insensitive), else `X-Access-Token` as in
/// APISIX. An `Authorization` that is not `<scheme> <credentials>` is malformed (400); another
/// scheme (Basic, DPoP, ...) counts as no bearer token. A request with two `Authorization` or
/// two `X-Access-Token` fields, or with both carrying different tokens, is refused (400): which
/// one a verifier and an upstream each read is not something a gateway can promise.
fn extract<'a>(req: &RequestView<'a>) -> Extracted<'a> {
    let (Ok(authorization), Ok(x_access_token)) =
        (single(req, "authorization"), single(req, "x-access-token"))
    else {
        return Extracted::Conflicting;
    };
    let alternative = match x_access_token.map(core::str::from_utf8) {
        Some(Ok(t)) if !t.trim().is_empty() => Some(t.trim()),
        Some(Ok(_)) | None => None,
        Some(Err(_)) => return Extracted::Malformed,
    };
    if let Some(v) = authorization {
        let Ok(v) = core::str::from_utf8(v) else {
            return Extracted::Malformed;
        };
        let v = v.trim();
        let Some((scheme, rest)) = v.split_once(' ') else {
            return Extracted::Malformed;
        };
        if scheme.eq_ignore_ascii_case("bearer") {
            let token = rest.trim();
            if token.is_empty() || token.contains(' ') {
                return Extracted::Malformed;
            }
            if alternative.is_some_and(|t| t != token) {
                return Extracted::Conflicting;
            }
            return Extracted::Token(token);
        }
        // As APISIX: `X-Access-Token` is only read when there is no `Authorization` at all.
        return Extracted::None;
    }
    match alternative {
        Some(t) => Extracted::Token(t),
        None => Extracted::None,
    }
}

enum Step {
    Done(Decision),
    /// Parked on a fetch (already registered as a waiter).
    Waiting,
}

impl Engine {
    pub(super) fn on_request(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        route: Arc<Route>,
        req: &RequestView<'_>,
    ) {
        let cfg = &route.cfg;
        let extracted = extract(req);
        // APISIX: a route with a session branch judges a bearer token when it also has a
        // bearer branch and the request carries one; everything else is the browser login.
        if route.login.is_some()
            && (matches!(route.mode, Mode::SessionOnly) || matches!(extracted, Extracted::None))
        {
            return self.on_login_request(now, rng, token, route, req);
        }
        if matches!(route.mode, Mode::SessionOnly) {
            let d = match cfg.unauth_action {
                UnauthAction::Pass => anonymous(&route),
                _ => misconfigured(),
            };
            return self.decide(token, d);
        }
        let access_token = match extracted {
            Extracted::Token(t) => t,
            Extracted::Malformed => {
                return self.decide(
                    token,
                    Decision::Deny(Denial::bad_request(Reason::MalformedAuthorization)),
                );
            }
            Extracted::Conflicting => {
                return self.decide(
                    token,
                    Decision::Deny(Denial::bad_request(Reason::ConflictingCredentials)),
                );
            }
            Extracted::None => {
                // APISIX: `unauth_action: pass` only matters outside bearer_only.
                let d = if !cfg.bearer_only && cfg.unauth_action == UnauthAction::Pass {
                    anonymous(&route)
                } else {
                    Decision::Deny(Denial::unauthorized(&cfg.realm, Reason::MissingToken))
                };
                return self.decide(token, d);
            }
        };
        let addon_headers = cfg
            .introspection_addon_headers
            .iter()
            .filter_map(|name| {
                let v = header(req, name)?;
                let v = core::str::from_utf8(v).ok()?;
                Some((name.clone(), String::from(v)))
            })
            .collect();
        let pending = Pending { route, access_token: String::from(access_token), addon_headers };
        self.evaluate(now, rng, token, pending);
    }

    /// Runs (or resumes) the checks for one request. Either decides it, or parks it on a fetch.
    pub(super) fn evaluate(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        p: Pending,
    ) {
        match self.step(now, rng, token, &p) {
            Step::Done(d) => self.decide(token, d),
            Step::Waiting => {
                self.pending.insert(token, p);
            }
        }
    }

    fn step(&mut self, now: Now, rng: &mut dyn Entropy, token: RequestToken, p: &Pending) -> Step {
        let route = Arc::clone(&p.route);
        let meta = if route.needs_discovery() {
            match self.discovery(now, route.provider, &route, token) {
                Ok(Some(m)) => Some(m),
                Ok(None) => return Step::Waiting,
                Err(d) => return Step::Done(d),
            }
        } else {
            None
        };
        match &route.mode {
            Mode::StaticKey(keys) => {
                self.check_jwt(now, rng, token, p, meta.as_deref(), Arc::clone(keys), false)
            }
            Mode::Jwks => {
                let Some(meta) = meta else {
                    return Step::Done(misconfigured());
                };
                match self.jwks(now, route.provider, &meta.jwks_uri, token, &route) {
                    Ok(Some(keys)) => self.check_jwt(now, rng, token, p, Some(&meta), keys, true),
                    Ok(None) => Step::Waiting,
                    Err(d) => Step::Done(d),
                }
            }
            Mode::Introspection => {
                let endpoint = route
                    .cfg
                    .introspection_endpoint
                    .clone()
                    .or_else(|| meta.as_ref().and_then(|m| m.introspection_endpoint.clone()));
                match endpoint {
                    Some(e) => self.introspect(now, rng, token, p, &e),
                    None => Step::Done(misconfigured()),
                }
            }
            Mode::SessionOnly => Step::Done(misconfigured()),
        }
    }

    /// The provider's metadata: `Ok(Some)` when usable, `Ok(None)` when the request is parked
    /// on the fetch, `Err` with the denial when unavailable.
    pub(super) fn discovery(
        &mut self,
        now: Now,
        provider: u32,
        route: &Route,
        token: RequestToken,
    ) -> Result<Option<Arc<ProviderMetadata>>, Decision> {
        let settings = self.settings.clone();
        let Some(p) = self.providers.get_mut(&provider) else {
            return Err(Decision::Deny(Denial::unavailable(Reason::Reconfigured, 1)));
        };
        let (state, refresh) = p.discovery.poll(now.mono, &settings);
        if refresh == Refresh::Start {
            let id = self.next_intent_id();
            let intent = get_intent(
                id,
                &route.cfg.discovery,
                Purpose::Discovery,
                route,
                now,
                settings.max_document_bytes,
            );
            if let Some(p) = self.providers.get_mut(&provider) {
                p.discovery.started(id);
            }
            self.intents.insert(
                id,
                InFlight { kind: IntentKind::Discovery { provider }, deadline: intent.deadline },
            );
            self.out.push_back(Output::Http(intent));
        }
        self.settle(state, provider, token, true)
    }

    /// The provider's keys, as [`Self::discovery`] does for metadata.
    pub(super) fn jwks(
        &mut self,
        now: Now,
        provider: u32,
        uri: &str,
        token: RequestToken,
        route: &Route,
    ) -> Result<Option<Arc<KeySet>>, Decision> {
        let settings = self.settings.clone();
        let Some(p) = self.providers.get_mut(&provider) else {
            return Err(Decision::Deny(Denial::unavailable(Reason::Reconfigured, 1)));
        };
        // A new jwks_uri (the provider changed it) makes the cached set irrelevant; fetching the
        // new one obeys the same single-flight and backoff as any fetch, so a failing new URI
        // answers 503 until its retry time instead of refetching in a loop.
        let uri_changed = p.jwks_uri.as_deref().is_some_and(|u| u != uri);
        let (state, refresh) = if uri_changed {
            p.jwks.poll_replacement(now.mono)
        } else {
            p.jwks.poll(now.mono, &settings)
        };
        if refresh == Refresh::Start {
            self.start_jwks(now, provider, uri, route);
        }
        self.settle(state, provider, token, false)
    }

    pub(super) fn start_jwks(&mut self, now: Now, provider: u32, uri: &str, route: &Route) {
        let id = self.next_intent_id();
        let intent =
            get_intent(id, uri, Purpose::Jwks, route, now, self.settings.max_document_bytes);
        if let Some(p) = self.providers.get_mut(&provider) {
            p.jwks.started(id);
        }
        let kind = IntentKind::Jwks { provider, uri: String::from(uri) };
        self.intents.insert(id, InFlight { kind, deadline: intent.deadline });
        self.out.push_back(Output::Http(intent));
    }

    /// Turns a slot state into ready / parked / denied, registering the waiter.
    fn settle<T>(
        &mut self,
        state: SlotState<T>,
        provider: u32,
        token: RequestToken,
        discovery: bool,
    ) -> Result<Option<Arc<T>>, Decision> {
        let max_waiters = self.settings.max_waiters_per_fetch;
        match state {
            SlotState::Ready(v) => Ok(Some(v)),
            SlotState::Unavailable { retry_after_secs } => {
                Err(Decision::Deny(Denial::unavailable(Reason::IdpUnavailable, retry_after_secs)))
            }
            SlotState::Wait => {
                let parked = self.parked_count();
                let Some(p) = self.providers.get_mut(&provider) else {
                    return Err(Decision::Deny(Denial::unavailable(Reason::Reconfigured, 1)));
                };
                let waiters =
                    if discovery { &mut p.discovery.waiters } else { &mut p.jwks.waiters };
                if waiters.len() >= max_waiters || parked >= self.settings.max_pending_requests {
                    return Err(Decision::Deny(Denial::unavailable(Reason::Overloaded, 1)));
                }
                waiters.push(token);
                Ok(None)
            }
        }
    }

    fn next_intent_id(&mut self) -> super::IntentId {
        self.new_intent()
    }

    #[allow(clippy::too_many_arguments)]
    fn check_jwt(
        &mut self,
        now: Now,
        _rng: &mut dyn Entropy,
        token: RequestToken,
        p: &Pending,
        meta: Option<&ProviderMetadata>,
        keys: Arc<KeySet>,
        from_jwks: bool,
    ) -> Step {
        let route = &p.route;
        let Some(validator) = self.validator_for(route, meta.map(|m| m.issuer.as_str())) else {
            return Step::Done(misconfigured());
        };
        let result = if route.cfg.jwt_verification_cache_ignore {
            validator
                .verify(&p.access_token, &keys, now.wall)
                .map(|t| (Arc::new(t), CacheOutcome::Miss))
        } else {
            self.token_cache.verify(&validator, &p.access_token, &keys, now.wall)
        };
        match result {
            Ok((verified, outcome)) => {
                let via =
                    if outcome == CacheOutcome::Hit { AuthVia::JwtCached } else { AuthVia::Jwt };
                Step::Done(grant(
                    route,
                    &p.access_token,
                    Claims::Jwt(&verified),
                    verified.payload_json(),
                    via,
                ))
            }
            Err(VerifyError::UnknownKid) if from_jwks => self.unknown_kid(now, token, route),
            Err(e) => Step::Done(Decision::Deny(Denial::unauthorized(
                &route.cfg.realm,
                Reason::InvalidToken(e),
            ))),
        }
    }

    /// A `kid` the cached JWKS lacks: refetch at most once per interval (the new key may just
    /// have been published), otherwise deny without touching the IdP.
    fn unknown_kid(&mut self, now: Now, token: RequestToken, route: &Route) -> Step {
        let settings = self.settings.clone();
        let deny = || {
            Step::Done(Decision::Deny(Denial::unauthorized(
                &route.cfg.realm,
                Reason::InvalidToken(VerifyError::UnknownKid),
            )))
        };
        let Some(p) = self.providers.get_mut(&route.provider) else {
            return deny();
        };
        if !p.jwks.may_force(now.mono, &settings) {
            return deny();
        }
        if p.jwks.inflight.is_none() {
            let Some(uri) = p.jwks_uri.clone() else {
                return deny();
            };
            p.jwks.forced(now.mono);
            self.start_jwks(now, route.provider, &uri, route);
        }
        match self.settle(SlotState::<KeySet>::Wait, route.provider, token, false) {
            Ok(_) => Step::Waiting,
            Err(d) => Step::Done(d),
        }
    }

    fn validator_for(
        &mut self,
        route: &Route,
        issuer: Option<&str>,
    ) -> Option<Arc<crate::jose::JwtValidator>> {
        if let Some(v) = &route.fixed_validator {
            return Some(Arc::clone(v));
        }
        let issuer = issuer?;
        if let Some((iss, v)) = self.validators.get(&route.uid)
            && iss == issuer
        {
            return Some(Arc::clone(v));
        }
        let v = Arc::new(super::route::validator(&route.cfg, alloc::vec![String::from(issuer)]));
        self.validators.insert(route.uid, (String::from(issuer), Arc::clone(&v)));
        Some(v)
    }

    fn introspect(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        p: &Pending,
        endpoint: &str,
    ) -> Step {
        let route = Arc::clone(&p.route);
        let key = introspection::cache_key(&route.cfg, endpoint, &p.access_token);
        match self.introspection_cache.get(&key, now.wall) {
            Some(introspection::Cached::Active(active)) => {
                return Step::Done(grant(
                    &route,
                    &p.access_token,
                    Claims::Object(&active.claims),
                    &active.raw,
                    AuthVia::IntrospectionCached,
                ));
            }
            Some(introspection::Cached::Inactive) => {
                return Step::Done(Decision::Deny(Denial::unauthorized(
                    &route.cfg.realm,
                    Reason::InactiveToken,
                )));
            }
            None => {}
        }
        // Coalesce: one introspection per token at a time.
        let parked = self.parked_count();
        if let Some(id) = self.introspection_inflight.get(&key).copied()
            && let Some(InFlight { kind: IntentKind::Introspection { waiters, .. }, .. }) =
                self.intents.get_mut(&id)
        {
            if waiters.len() >= self.settings.max_waiters_per_fetch
                || parked >= self.settings.max_pending_requests
            {
                return Step::Done(Decision::Deny(Denial::unavailable(Reason::Overloaded, 1)));
            }
            waiters.push(token);
            return Step::Waiting;
        }
        // Admission: every distinct token would otherwise be one authenticated call to the
        // IdP. A failing endpoint is left alone until its backoff ends, and the calls in
        // flight and the requests parked on them are capped.
        if let Some(retry_after_secs) = self.introspection_backoff.blocked(endpoint, now.mono) {
            return Step::Done(Decision::Deny(Denial::unavailable(
                Reason::IdpUnavailable,
                retry_after_secs,
            )));
        }
        if self.introspection_inflight.len() >= self.settings.max_introspections_in_flight
            || self.parked_count() >= self.settings.max_pending_requests
        {
            return Step::Done(Decision::Deny(Denial::unavailable(Reason::Overloaded, 1)));
        }
        let cfg = &route.cfg;
        let mut headers = alloc::vec![
            (String::from("Content-Type"), String::from("application/x-www-form-urlencoded")),
            (String::from("Accept"), String::from("application/json")),
        ];
        for (name, value) in &p.addon_headers {
            headers.push((name.clone(), value.clone()));
        }
        let mut form = String::new();
        form_pair(&mut form, "token", &p.access_token);
        form_pair(&mut form, "token_type_hint", "access_token");
        if client_auth::apply(
            &route,
            cfg.introspection_endpoint_auth_method,
            endpoint,
            now,
            rng,
            &mut headers,
            &mut form,
        )
        .is_err()
        {
            return Step::Done(misconfigured());
        }
        let id = self.new_intent();
        let intent = HttpIntent {
            id,
            method: Method::Post,
            url: String::from(endpoint),
            headers,
            body: form.into_bytes(),
            deadline: now.mono.plus_millis(cfg.timeout_ms),
            max_response_bytes: self.settings.max_introspection_bytes,
            purpose: Purpose::Introspection,
            tls_verify: cfg.ssl_verify,
            proxy: cfg.proxy_opts.clone(),
        };
        self.introspection_inflight.insert(key, id);
        let kind = IntentKind::Introspection {
            key,
            endpoint: String::from(endpoint),
            route: Arc::clone(&route),
            waiters: alloc::vec![token],
        };
        self.intents.insert(id, InFlight { kind, deadline: intent.deadline });
        self.out.push_back(Output::Http(intent));
        Step::Waiting
    }
}

fn get_intent(
    id: super::IntentId,
    url: &str,
    purpose: Purpose,
    route: &Route,
    now: Now,
    max: usize,
) -> HttpIntent {
    HttpIntent {
        id,
        method: Method::Get,
        url: String::from(url),
        headers: alloc::vec![(String::from("Accept"), String::from("application/json"))],
        body: Vec::new(),
        deadline: now.mono.plus_millis(route.cfg.timeout_ms),
        max_response_bytes: max,
        purpose,
        tls_verify: route.cfg.ssl_verify,
        proxy: route.cfg.proxy_opts.clone(),
    }
}

fn misconfigured() -> Decision {
    Decision::Deny(Denial::other(500, Reason::Misconfigured, "gateway misconfigured"))
}

fn anonymous(route: &Route) -> Decision {
    let mut remove_headers = IDENTITY_HEADERS.to_vec();
    // The upstream reads the gateway's token from `Authorization`: a client's must not pass.
    if route.cfg.access_token_in_authorization_header {
        remove_headers.push("authorization");
    }
    Decision::Allow(Grant {
        remove_headers,
        set_headers: Vec::new(),
        subject: None,
        via: AuthVia::Anonymous,
        set_cookies: Vec::new(),
        own_cookies: route.own_cookies(),
    })
}

/// Scopes from `scope` (space-separated string or array) and `scp` (Entra ID).
fn scopes(claims: &Object) -> Vec<&str> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split_ascii_whitespace()),
            Some(Value::Array(items)) => out.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    out
}

/// After a token is accepted: `required_scopes` and `claim_validator.audience` (403), then the
/// upstream headers.
/// Where the identity's claims come from.
pub(super) enum Claims<'a> {
    /// A verified JWT: the full object is parsed only if a rule needs it.
    Jwt(&'a crate::jose::VerifiedToken),
    /// An introspection response.
    Object(&'a Object),
}

impl Claims<'_> {
    fn object(&self) -> Option<&Object> {
        match self {
            Self::Jwt(t) => t.claims().ok(),
            Self::Object(o) => Some(o),
        }
    }

    fn sub(&self) -> Option<&str> {
        match self {
            Self::Jwt(t) => t.registered().sub.as_deref(),
            Self::Object(o) => o.get("sub").and_then(Value::as_str),
        }
    }
}

pub(super) fn grant(
    route: &Route,
    access_token: &str,
    claims: Claims<'_>,
    raw_claims: &[u8],
    via: AuthVia,
) -> Decision {
    let cfg = &route.cfg;
    let needs_object = !cfg.required_scopes.is_empty()
        || cfg.claim_validator.audience.is_some()
        || cfg.compiled_claim_schema.is_some();
    let object = if needs_object {
        match claims.object() {
            Some(o) => Some(o),
            None => {
                let reason = Reason::InvalidToken(VerifyError::Payload);
                return Decision::Deny(Denial::unauthorized(&cfg.realm, reason));
            }
        }
    } else {
        None
    };
    let empty = Object::new();
    let object = object.unwrap_or(&empty);
    if !cfg.required_scopes.is_empty() {
        let have = scopes(object);
        let missing: Vec<&str> =
            cfg.required_scopes.iter().map(String::as_str).filter(|s| !have.contains(s)).collect();
        if !missing.is_empty() {
            // The message names only configured scopes, never token content.
            let msg = alloc::format!("required scopes {} not present", missing.join(", "));
            return Decision::Deny(Denial::forbidden(&cfg.realm, Reason::InsufficientScope, &msg));
        }
    }
    if let Some(aud) = &cfg.claim_validator.audience {
        let value = object.get(aud.claim.as_str());
        let required = aud.required || aud.match_with_client_id;
        match value {
            None if required => {
                return Decision::Deny(Denial::forbidden(
                    &cfg.realm,
                    Reason::AudienceMissing,
                    "required audience claim not present",
                ));
            }
            Some(v) if aud.match_with_client_id => {
                let ok = match v {
                    Value::String(s) => *s == cfg.client_id,
                    Value::Array(items) => {
                        items.iter().any(|i| i.as_str() == Some(cfg.client_id.as_str()))
                    }
                    _ => false,
                };
                if !ok {
                    return Decision::Deny(Denial::forbidden(
                        &cfg.realm,
                        Reason::AudienceMismatch,
                        "mismatched audience",
                    ));
                }
            }
            _ => {}
        }
    }
    // APISIX order: scopes and audience (403), then the claim schema (401 invalid_token).
    if let Some(schema) = &cfg.compiled_claim_schema
        && schema.check(object).is_err()
    {
        return Decision::Deny(Denial::unauthorized(&cfg.realm, Reason::ClaimSchemaViolation));
    }
    let mut set_headers = Vec::new();
    if cfg.set_access_token_header {
        if cfg.access_token_in_authorization_header {
            set_headers.push(("authorization", alloc::format!("Bearer {access_token}")));
        } else {
            set_headers.push(("x-access-token", String::from(access_token)));
        }
    }
    if cfg.set_userinfo_header {
        let b64 = match &claims {
            Claims::Jwt(t) => String::from(t.payload_base64()),
            Claims::Object(_) => base64::engine::general_purpose::STANDARD.encode(raw_claims),
        };
        set_headers.push(("x-userinfo", b64));
    }
    let subject = claims.sub().map(String::from);
    Decision::Allow(Grant {
        remove_headers: IDENTITY_HEADERS.to_vec(),
        set_headers,
        subject,
        via,
        set_cookies: Vec::new(),
        own_cookies: route.own_cookies(),
    })
}
