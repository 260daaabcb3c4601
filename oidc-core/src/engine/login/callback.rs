//! The callback: the flow matched, the code exchanged, the ID token verified, userinfo
//! fetched, the session sealed.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::tokens::{self, TokenAnswer, TokenResponse};
use super::{Ctx, Parked, pages};
use crate::authz::{
    Callback, FlowSet, FlowState, IdpErrorCode, IssuerCheck, MAX_RESTARTS, parse_callback,
    resolve_callback, restart_count,
};
use crate::discovery::ProviderMetadata;
use crate::engine::decision::{Decision, Denial, Reason};
use crate::engine::io::{FailureKind, HttpIntent, Method, Purpose, ResponseView};
use crate::engine::{Engine, Entropy, Event, InFlight, IntentKind, Now, Output, RequestToken};
use crate::jose::VerifyError;
use crate::session::{CookieContext, SealError, Session, SessionTokens, SetCookie};

/// The deletion of a finished flow's cookie (a state is single-use).
fn flow_done(ctx: &Ctx, flow: &FlowState) -> Vec<String> {
    alloc::vec![ctx.login().flows.clear_flow(flow.state(), ctx.https).into_string()]
}

/// A callback with a code, from the exchange to the session.
#[derive(Debug)]
pub(in crate::engine) struct Exchange {
    ctx: Ctx,
    flow: FlowState,
    stage: Stage,
}

#[derive(Debug)]
enum Stage {
    /// The token request is in flight.
    AwaitToken,
    /// Tokens in hand; the ID token waits for the provider's keys. `forced`: the keys were
    /// already refetched once for an unknown `kid`.
    Verify { tokens: TokenResponse, forced: bool },
    /// The userinfo request is in flight.
    AwaitUserinfo { tokens: TokenResponse, subject: String },
}

impl Engine {
    pub(super) fn callback(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        ctx: Ctx,
        mut flows: FlowSet,
        has_session: bool,
    ) {
        let route = Arc::clone(&ctx.route);
        let meta = match self.login_metadata(now, token, &route) {
            Ok(Some(m)) => m,
            Ok(None) => return self.park(token, Parked::Callback { ctx, flows, has_session }),
            Err(d) => return self.decide(token, d),
        };
        let check = IssuerCheck {
            expected: &meta.issuer,
            required: meta.authorization_response_iss_parameter_supported,
        };
        match resolve_callback(ctx.target.as_bytes(), &mut flows, Some(check)) {
            Callback::Code { code, flow } => {
                let Some(endpoint) = meta.token_endpoint.as_deref() else {
                    return self.decide(token, pages::misconfigured());
                };
                if let Err(d) = self.admit_token_call(endpoint, now) {
                    return self.decide(token, d);
                }
                let method = tokens::token_auth_method(ctx.cfg(), &meta);
                let form =
                    tokens::code_form(code.as_str(), flow.redirect_uri(), flow.code_verifier());
                let id = self.new_intent();
                let Some(intent) = tokens::post_intent(
                    id,
                    &route,
                    method,
                    endpoint,
                    form,
                    Purpose::Token,
                    now,
                    rng,
                ) else {
                    return self.decide(token, pages::misconfigured());
                };
                let endpoint = String::from(endpoint);
                self.send(intent, IntentKind::Exchange { request: token, endpoint });
                let x = Exchange { ctx, flow, stage: Stage::AwaitToken };
                self.park(token, Parked::Exchange(alloc::boxed::Box::new(x)));
            }
            Callback::IdpError { error, flow } => {
                self.login_event("callback", error.as_str());
                let cookies = flow_done(&ctx, &flow);
                let status = if error == IdpErrorCode::AccessDenied { 403 } else { 401 };
                self.decide(token, pages::login_failed(status, Reason::IdpError, cookies));
            }
            Callback::IssuerMismatch { flow } => {
                let cookies = flow_done(&ctx, &flow);
                let d = pages::login_failed(400, Reason::CallbackIssuerMismatch, cookies);
                self.decide(token, d);
            }
            Callback::Malformed(why) => {
                self.login_event("callback", why.code());
                let d = pages::login_failed(400, Reason::CallbackMalformed, Vec::new());
                self.decide(token, d);
            }
            Callback::UnknownState => {
                // A replayed callback (the back button after a login) finds the session in
                // place; a lost state cookie starts over, a bounded number of times.
                if has_session {
                    let d = pages::redirect(Reason::LoginComplete, String::from("/"), Vec::new());
                    return self.decide(token, d);
                }
                let state = parse_callback(ctx.target.as_bytes()).ok().and_then(|p| p.state);
                let attempt = state.as_deref().map_or(0, restart_count).saturating_add(1);
                if attempt > MAX_RESTARTS {
                    self.login_event("callback", "state_lost");
                    let d = pages::login_failed(401, Reason::LoginStateLost, Vec::new());
                    return self.decide(token, d);
                }
                self.advance(now, rng, token, Parked::Start { ctx, stale: Vec::new(), attempt });
            }
        }
    }

    pub(super) fn exchange_step(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        x: alloc::boxed::Box<Exchange>,
    ) {
        match &x.stage {
            Stage::Verify { .. } => self.verify_id_token(now, rng, token, x),
            // Waiting for an answer: only the token or userinfo answer moves these on.
            Stage::AwaitToken | Stage::AwaitUserinfo { .. } => {
                self.park(token, Parked::Exchange(x));
            }
        }
    }

    /// The token endpoint answered the code exchange.
    pub(in crate::engine) fn on_exchange_answer(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        request: RequestToken,
        answer: Result<ResponseView<'_>, FailureKind>,
    ) {
        let Some(Parked::Exchange(mut x)) = self.login_pending.remove(&request) else {
            return;
        };
        let answer = match answer {
            Ok(r) => tokens::parse_token_response(r.status, r.body),
            Err(kind) => {
                self.fetch_failed(Purpose::Token, String::from(kind.as_str()));
                TokenAnswer::Unavailable
            }
        };
        let tokens = match answer {
            TokenAnswer::Tokens(t) => t,
            TokenAnswer::Refused => {
                // An expired, replayed or foreign code, or a wrong client credential.
                self.fetch_failed(Purpose::Token, String::from("refused"));
                let cookies = flow_done(&x.ctx, &x.flow);
                let d = pages::login_failed(401, Reason::CodeExchangeFailed, cookies);
                return self.decide(request, d);
            }
            TokenAnswer::Unavailable => {
                let d = Decision::Deny(Denial::unavailable(Reason::IdpUnavailable, 1));
                return self.decide(request, d);
            }
            TokenAnswer::Bad => {
                self.fetch_failed(Purpose::Token, String::from("invalid_document"));
                return self
                    .decide(request, Decision::Deny(Denial::bad_gateway(Reason::IdpBadResponse)));
            }
        };
        x.stage = Stage::Verify { tokens, forced: false };
        self.verify_id_token(now, rng, request, x);
    }

    fn verify_id_token(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        mut x: alloc::boxed::Box<Exchange>,
    ) {
        let route = Arc::clone(&x.ctx.route);
        let meta = match self.login_metadata(now, token, &route) {
            Ok(Some(m)) => m,
            Ok(None) => return self.park(token, Parked::Exchange(x)),
            Err(d) => return self.decide(token, d),
        };
        let keys = match self.jwks(now, route.provider, &meta.jwks_uri, token, &route) {
            Ok(Some(k)) => k,
            Ok(None) => return self.park(token, Parked::Exchange(x)),
            Err(d) => return self.decide(token, d),
        };
        let Stage::Verify { tokens, forced } = &x.stage else {
            return self.decide(token, pages::misconfigured());
        };
        let Some(id_token) = tokens.id_token.as_deref() else {
            // `openid` was requested: a response without an ID token is not OpenID Connect.
            self.fetch_failed(Purpose::Token, String::from("no_id_token"));
            return self.decide(token, Decision::Deny(Denial::bad_gateway(Reason::IdpBadResponse)));
        };
        let validator = tokens::id_token_validator(x.ctx.cfg(), &meta.issuer, x.flow.nonce());
        let verified = match validator.verify(id_token, &keys, now.wall) {
            Ok(v) => v,
            Err(VerifyError::UnknownKid) if !*forced => {
                // A key published since the keys were cached: refetch once.
                if self.force_jwks(now, &route, &meta) {
                    if let Stage::Verify { forced, .. } = &mut x.stage {
                        *forced = true;
                    }
                    if let Some(p) = self.providers.get_mut(&route.provider) {
                        p.jwks.waiters.push(token);
                    }
                    return self.park(token, Parked::Exchange(x));
                }
                return self.id_token_refused(token, &x, VerifyError::UnknownKid);
            }
            Err(e) => return self.id_token_refused(token, &x, e),
        };
        let subject = verified.registered().sub.clone().unwrap_or_default();
        let Stage::Verify { tokens, .. } = core::mem::replace(&mut x.stage, Stage::AwaitToken)
        else {
            return;
        };
        if !tokens::has_required_scopes(x.ctx.cfg(), tokens.scope.as_deref()) {
            let cookies = flow_done(&x.ctx, &x.flow);
            let d = pages::login_failed(403, Reason::InsufficientScope, cookies);
            return self.decide(token, d);
        }
        if let Some(schema) = &x.ctx.cfg().compiled_claim_schema {
            let ok = verified.claims().is_ok_and(|c| schema.check(c).is_ok());
            if !ok {
                let cookies = flow_done(&x.ctx, &x.flow);
                let d = pages::login_failed(401, Reason::ClaimSchemaViolation, cookies);
                return self.decide(token, d);
            }
        }
        match meta.userinfo_endpoint.as_deref() {
            Some(endpoint) if x.ctx.cfg().set_userinfo_header => {
                let intent = self.userinfo_intent(now, &x.ctx, endpoint, &tokens.access_token);
                self.send(intent, IntentKind::Userinfo { request: token });
                x.stage = Stage::AwaitUserinfo { tokens, subject };
                self.park(token, Parked::Exchange(x));
            }
            _ => self.finish_login(now, rng, token, x, &tokens, &subject, None),
        }
    }

    fn id_token_refused(&mut self, token: RequestToken, x: &Exchange, e: VerifyError) {
        let reason = Reason::IdTokenInvalid(e);
        self.login_event("id_token", reason.code());
        let cookies = flow_done(&x.ctx, &x.flow);
        self.decide(token, pages::login_failed(401, reason, cookies));
    }

    /// Starts a JWKS refetch for an unknown `kid` if the interval allows; `true` if one is
    /// now in flight.
    fn force_jwks(
        &mut self,
        now: Now,
        route: &crate::engine::route::Route,
        meta: &ProviderMetadata,
    ) -> bool {
        let settings = self.settings.clone();
        let Some(p) = self.providers.get_mut(&route.provider) else {
            return false;
        };
        if p.jwks.inflight.is_some() {
            return true;
        }
        if !p.jwks.may_force(now.mono, &settings) {
            return false;
        }
        p.jwks.forced(now.mono);
        self.start_jwks(now, route.provider, &meta.jwks_uri, route);
        true
    }

    fn userinfo_intent(
        &mut self,
        now: Now,
        ctx: &Ctx,
        endpoint: &str,
        access_token: &str,
    ) -> HttpIntent {
        let cfg = ctx.cfg();
        HttpIntent {
            id: self.new_intent(),
            method: Method::Get,
            url: String::from(endpoint),
            headers: alloc::vec![
                (String::from("Authorization"), alloc::format!("Bearer {access_token}")),
                (String::from("Accept"), String::from("application/json")),
            ],
            body: Vec::new(),
            deadline: now.mono.plus_millis(cfg.timeout_ms),
            max_response_bytes: tokens::MAX_TOKEN_RESPONSE,
            purpose: Purpose::Userinfo,
            tls_verify: cfg.ssl_verify,
            proxy: cfg.proxy_opts.clone(),
        }
    }

    /// The userinfo endpoint answered.
    pub(in crate::engine) fn on_userinfo_answer(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        request: RequestToken,
        answer: Result<ResponseView<'_>, FailureKind>,
    ) {
        let Some(Parked::Exchange(mut x)) = self.login_pending.remove(&request) else {
            return;
        };
        let Stage::AwaitUserinfo { tokens, subject } =
            core::mem::replace(&mut x.stage, Stage::AwaitToken)
        else {
            return self.decide(request, pages::misconfigured());
        };
        let body = match answer {
            Ok(r) if r.status == 200 => r.body,
            Ok(r) => {
                self.fetch_failed(Purpose::Userinfo, alloc::format!("http_{}", r.status));
                let d = if r.status >= 500 || r.status == 429 {
                    Denial::unavailable(Reason::IdpUnavailable, 1)
                } else {
                    Denial::bad_gateway(Reason::IdpBadResponse)
                };
                return self.decide(request, Decision::Deny(d));
            }
            Err(kind) => {
                self.fetch_failed(Purpose::Userinfo, String::from(kind.as_str()));
                let d = Denial::unavailable(Reason::IdpUnavailable, 1);
                return self.decide(request, Decision::Deny(d));
            }
        };
        // OpenID Connect Core §5.3.2: the userinfo `sub` must be the ID token's, or the
        // answer is about someone else (a token substitution).
        let userinfo = crate::jose::json::parse_object(body).ok().and_then(|o| {
            let sub = o.get("sub").and_then(serde_json::Value::as_str)?;
            Some((sub == subject, core::str::from_utf8(body).ok()?))
        });
        match userinfo {
            Some((true, json)) => {
                let json = String::from(json);
                self.finish_login(now, rng, request, x, &tokens, &subject, Some(&json));
            }
            Some((false, _)) => {
                self.login_event("userinfo", "sub_mismatch");
                let cookies = flow_done(&x.ctx, &x.flow);
                let d = pages::login_failed(403, Reason::UserinfoMismatch, cookies);
                self.decide(request, d);
            }
            None => {
                self.fetch_failed(Purpose::Userinfo, String::from("invalid_document"));
                self.decide(request, Decision::Deny(Denial::bad_gateway(Reason::IdpBadResponse)));
            }
        }
    }

    /// Seals the new session and sends the browser back where it started.
    #[allow(clippy::too_many_arguments)]
    fn finish_login(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        x: alloc::boxed::Box<Exchange>,
        tokens: &TokenResponse,
        subject: &str,
        userinfo: Option<&str>,
    ) {
        let session_tokens = SessionTokens {
            access_token: &tokens.access_token,
            access_token_expires_at: tokens.expires_at(x.ctx.cfg(), now.wall),
            id_token: tokens.id_token.as_deref().map(|s| s.as_str()),
            refresh_token: tokens.refresh_token.as_deref().map(|s| s.as_str()),
            subject,
            userinfo,
            // Absent in the response means as requested (RFC 6749 §5.1).
            scope: Some(tokens.scope.as_deref().unwrap_or(&x.ctx.cfg().scope)),
        };
        let login = x.ctx.login();
        let cookie_ctx = CookieContext::new(x.ctx.https, x.ctx.carried);
        let mut sealed = login.session.seal(
            &Session::start(&session_tokens, now.wall),
            now.wall,
            rng,
            cookie_ctx,
        );
        if matches!(sealed, Err(SealError::TooLarge { .. })) && userinfo.is_some() {
            // The userinfo is the optional part: without it the session still fits.
            self.login_event("session", "userinfo_dropped_too_large");
            let slim = SessionTokens { userinfo: None, ..session_tokens };
            sealed =
                login.session.seal(&Session::start(&slim, now.wall), now.wall, rng, cookie_ctx);
        }
        let cookies = match sealed {
            Ok(c) => c,
            Err(e) => {
                let cause = if matches!(e, SealError::TooLarge { .. }) {
                    "too_large"
                } else {
                    "seal_failed"
                };
                self.login_event("session", cause);
                let cookies = flow_done(&x.ctx, &x.flow);
                return self
                    .decide(token, pages::login_failed(500, Reason::SessionTooLarge, cookies));
            }
        };
        let mut set: Vec<String> = cookies.into_iter().map(SetCookie::into_string).collect();
        set.extend(flow_done(&x.ctx, &x.flow));
        let location = String::from(x.flow.original_url());
        let d = if login.session.cookie().same_site == crate::config::SameSite::Strict {
            // Browsers treat a redirect chain that began on the provider's site as cross-site
            // and would not send a `Strict` cookie with it (a login loop): a page of this site
            // navigates instead.
            pages::continue_page(&location, set)
        } else {
            pages::redirect(Reason::LoginComplete, location, set)
        };
        self.decide(token, d);
    }

    pub(super) fn send(&mut self, intent: HttpIntent, kind: IntentKind) {
        self.intents.insert(intent.id, InFlight { kind, deadline: intent.deadline });
        self.out.push_back(Output::Http(intent));
    }

    pub(super) fn login_event(&mut self, step: &'static str, cause: &'static str) {
        self.out.push_back(Output::Event(Event::Login { step, cause }));
    }
}
