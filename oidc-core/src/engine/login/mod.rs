//! The browser login: the authorization code flow (state, nonce, PKCE), the sealed session
//! cookie, refresh and logout, on the same sans-IO contract as the bearer path.
//!
//! A request on a route with a session branch is one of:
//!
//! - the **callback** (the route's `redirect_uri` path): the state cookie's flow is matched,
//!   the code exchanged, the ID token verified, userinfo fetched, and the browser sent back to
//!   the page it asked for with a new session ([`callback`]);
//! - the **logout** path: the session cleared, tokens revoked if configured, the browser sent
//!   to the provider's end-session endpoint ([`logout`]);
//! - anything else: with a valid session it goes upstream with the identity headers, after a
//!   refresh when the access token expired ([`refresh`]); without one the browser is sent to
//!   the provider ([`start`]).
//!
//! Each step that needs the provider parks the request here ([`Parked`]) and resumes when the
//! answer (or the discovery or JWKS fetch it waits on) arrives.

mod callback;
mod grant;
mod logout;
mod pages;
mod refresh;
mod start;
mod tokens;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::decision::CookieNames;
use super::route::Route;
use super::{Decision, Engine, Entropy, Now, RequestToken, RequestView};
use crate::authz::{FlowCodec, FlowSet, MAX_FLOWS};
use crate::config::OidcConfig;
use crate::crypto::CryptoProvider;
use crate::session::{Binding, CodecError, Opened, Session, SessionCodec};

pub(crate) use refresh::RecentRefreshes;
pub use refresh::{LedgerClaim, REMEMBER_SECS, RefreshLedger, Refreshed};

/// Seconds after a login during which `force_reauthorize` and `refresh_session_interval` do
/// not send the browser back to the provider.
const FRESH_LOGIN_SECS: i64 = 10;

/// A route's login machinery, built once per configuration.
#[derive(Debug)]
pub(crate) struct Login {
    pub(crate) session: SessionCodec,
    pub(crate) flows: FlowCodec,
    pub(crate) names: Arc<CookieNames>,
    /// The path of a configured `redirect_uri`; `None`: any path ending in
    /// `/.apisix/redirect` (APISIX's default).
    callback_path: Option<String>,
}

impl Login {
    /// The codecs of a route with a session branch; `None` for `bearer_only` routes.
    pub(crate) fn compile(
        cfg: &OidcConfig,
        crypto: &dyn CryptoProvider,
    ) -> Result<Option<Self>, CodecError> {
        if cfg.bearer_only {
            return Ok(None);
        }
        let Some(session_cfg) = &cfg.session else {
            return Ok(None);
        };
        // The binding names the provider by its discovery URL: known before any fetch, and a
        // route moved to another provider no longer opens the old cookies.
        let binding = Binding { issuer: &cfg.discovery, client_id: &cfg.client_id };
        let session = SessionCodec::from_config(session_cfg, binding, crypto)?;
        let flows = FlowCodec::from_config(session_cfg, binding, crypto)?;
        let names = Arc::new(CookieNames::new(&session.cookie().name, flows.cookie_name()));
        let callback_path = cfg.redirect_uri.as_deref().map(|u| String::from(uri_path(u)));
        Ok(Some(Self { session, flows, names, callback_path }))
    }

    fn is_callback(&self, path: &str) -> bool {
        match &self.callback_path {
            Some(p) => p == path,
            None => path.ends_with("/.apisix/redirect"),
        }
    }
}

/// The path of an absolute or origin-relative URI, without query or fragment.
fn uri_path(uri: &str) -> &str {
    let rest = match uri.split_once("://") {
        Some((_, after)) => after.find('/').map_or("/", |i| &after[i..]),
        None => uri,
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// What a login step keeps of its request while it waits.
#[derive(Debug, Clone)]
pub(super) struct Ctx {
    pub(super) route: Arc<Route>,
    pub(super) https: bool,
    /// The caller-vouched authority, for a derived `redirect_uri`.
    pub(super) authority: Option<String>,
    /// Session chunks the request carried (to expire the ones a new value does not use).
    pub(super) carried: usize,
    /// Path and query, as canonicalised by the caller.
    pub(super) target: String,
    /// The request can follow a redirect to a login page (a navigation, not a script).
    pub(super) navigable: bool,
}

impl Ctx {
    pub(super) fn login(&self) -> &Login {
        // Only routes with a login are ever given a `Ctx`.
        self.route.login.as_ref().unwrap_or_else(|| unreachable!("login ctx without login"))
    }

    pub(super) fn cfg(&self) -> &OidcConfig {
        &self.route.cfg
    }

    pub(super) fn path(&self) -> &str {
        self.target.split_once('?').map_or(self.target.as_str(), |(p, _)| p)
    }
}

/// A login request waiting on the identity provider.
#[derive(Debug)]
pub(super) enum Parked {
    /// No session: needs the authorization endpoint. `stale`: deletions of dead or surplus
    /// flow cookies the request carried.
    Start { ctx: Ctx, stale: Vec<String>, attempt: u8 },
    /// The callback: needs the provider's issuer and token endpoint.
    Callback { ctx: Ctx, flows: FlowSet, has_session: bool },
    /// The code exchange, then the ID token check and userinfo.
    Exchange(alloc::boxed::Box<callback::Exchange>),
    /// An expired access token: the refresh.
    Refresh(alloc::boxed::Box<refresh::Refreshing>),
    /// Logout: discovery and revocations.
    Logout(alloc::boxed::Box<logout::LoggingOut>),
}

/// Whether a request can follow a redirect to a login page: a navigation, not a script
/// (`Sec-Fetch-Mode: cors`/`no-cors`/`same-origin` from `fetch`, `X-Requested-With`, or an
/// `Accept` that does not take HTML).
pub(crate) fn is_navigation(req: &RequestView<'_>) -> bool {
    let mut accept_html = None;
    for (name, value) in req.headers {
        if name.eq_ignore_ascii_case("sec-fetch-mode") {
            if !value.eq_ignore_ascii_case(b"navigate") {
                return false;
            }
        } else if name.eq_ignore_ascii_case("x-requested-with") {
            return false;
        } else if name.eq_ignore_ascii_case("accept") {
            let html = value.windows(9).any(|w| w.eq_ignore_ascii_case(b"text/html"))
                || value.windows(3).any(|w| w == b"*/*");
            accept_html = Some(accept_html.unwrap_or(false) || html);
        }
    }
    accept_html.unwrap_or(true)
}

/// Deletions for the flow cookies a new login must not leave behind: unreadable or expired
/// ones, and the oldest beyond what leaves room for one more.
fn stale_flows(login: &Login, req: &RequestView<'_>, ctx: &Ctx, now: Now) -> Vec<String> {
    let headers =
        req.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("cookie")).map(|(_, v)| *v);
    login
        .flows
        .prune(headers, now.wall, ctx.https, MAX_FLOWS - 1)
        .into_iter()
        .map(crate::session::SetCookie::into_string)
        .collect()
}

impl Engine {
    /// A request on a route with a session branch and no bearer token to judge instead.
    pub(super) fn on_login_request(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        route: Arc<Route>,
        req: &RequestView<'_>,
    ) {
        let Some(login) = route.login.as_ref() else {
            return self.decide(token, pages::misconfigured());
        };
        let cookie_headers = || {
            req.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("cookie")).map(|(_, v)| *v)
        };
        let jar = login.session.collect(cookie_headers());
        let opened = login.session.open(&jar, now.wall);
        let ctx = Ctx {
            https: req.https,
            authority: req.authority.map(String::from),
            carried: jar.carried(),
            target: String::from(req.target),
            navigable: is_navigation(req),
            route: Arc::clone(&route),
        };
        let path = ctx.path();
        if path == ctx.cfg().logout_path {
            let session = match opened {
                Opened::Session { session, .. } => Some(session),
                Opened::NoSession(_) => None,
            };
            let allowed = logout::is_same_site_request(req);
            let flows = login.flows.clear_all(cookie_headers(), ctx.https);
            let flows = flows.into_iter().map(crate::session::SetCookie::into_string).collect();
            return self.logout(now, rng, token, ctx, session, flows, allowed);
        }
        if login.is_callback(path) {
            let state =
                crate::authz::parse_callback(req.target.as_bytes()).ok().and_then(|p| p.state);
            let flows = match &state {
                Some(s) => login.flows.open_flow(cookie_headers(), s, now.wall),
                None => FlowSet::new(),
            };
            let has_session = matches!(opened, Opened::Session { .. });
            return self.advance(now, rng, token, Parked::Callback { ctx, flows, has_session });
        }
        match opened {
            Opened::Session { session, reissue } => {
                self.with_session(now, rng, token, ctx, session, reissue, req);
            }
            Opened::NoSession(_) => {
                let stale = stale_flows(login, req, &ctx, now);
                self.unauthenticated(now, rng, token, ctx, stale, false);
            }
        }
    }

    /// A request with a valid session: upstream, unless its access token must be renewed or
    /// the configuration wants a new login.
    #[allow(clippy::too_many_arguments)]
    fn with_session(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        ctx: Ctx,
        mut session: Session,
        reissue: crate::session::Reissue,
        req: &RequestView<'_>,
    ) {
        let cfg = ctx.cfg();
        let login_age = now.wall.as_secs().saturating_sub(session.times().created.as_secs());
        // The page a login lands on is never sent back to the provider at once: with
        // `force_reauthorize` (or a tiny interval) that would be a redirect loop, as in APISIX.
        let fresh = login_age < FRESH_LOGIN_SECS;
        let stale_login = cfg
            .refresh_session_interval
            .is_some_and(|i| i > 0 && login_age >= i64::try_from(i).unwrap_or(i64::MAX));
        if (cfg.force_reauthorize || stale_login) && !fresh && ctx.navigable {
            let stale = stale_flows(ctx.login(), req, &ctx, now);
            return self.advance(now, rng, token, Parked::Start { ctx, stale, attempt: 0 });
        }
        let expired = session.access_token_expires_at().is_some_and(|at| {
            let leeway = i64::try_from(cfg.access_token_expires_leeway).unwrap_or(i64::MAX);
            now.wall.as_secs() >= at.as_secs().saturating_sub(leeway)
        });
        if expired {
            if cfg.renew_access_token_on_expiry && session.refresh_token().is_some() {
                return self.refresh(now, rng, token, ctx, session);
            }
            // Never forward an authenticated request without a usable token.
            let stale = stale_flows(ctx.login(), req, &ctx, now);
            return self.unauthenticated(now, rng, token, ctx, stale, true);
        }
        // The route's rules apply to every request, whichever route's login made the session
        // and whatever the rules were then (a reload may have tightened them).
        match self.route_rules(now, rng, token, &ctx, &session, req) {
            None => {}
            Some(None) => return,
            Some(Some(d)) => return self.decide(token, d),
        }
        let mut set_cookies = Vec::new();
        if reissue.apply(&mut session, now.wall) {
            let cookie_ctx = crate::session::CookieContext::new(ctx.https, ctx.carried);
            // A session that no longer seals (its timeouts ended between open and now) is
            // still valid for this one request; the next one logs in.
            if let Ok(cookies) = ctx.login().session.seal(&session, now.wall, rng, cookie_ctx) {
                set_cookies.extend(cookies.into_iter().map(crate::session::SetCookie::into_string));
            }
        }
        let d = grant::session_grant(&ctx.route, &session, set_cookies, super::AuthVia::Session);
        self.decide(token, d);
    }

    /// `required_scopes` against the session's granted scopes and `claim_schema` against its
    /// ID token's claims. `None`: the request may go on. `Some(Some(d))`: decided. `Some(None)`:
    /// a new login was started (a step-up: this route asks the provider for more scopes).
    fn route_rules(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        ctx: &Ctx,
        session: &Session,
        req: &RequestView<'_>,
    ) -> Option<Option<Decision>> {
        let cfg = ctx.cfg();
        if !tokens::has_required_scopes(cfg, Some(session.scope().unwrap_or(&cfg.scope))) {
            // A login through this route requests its `scope`: if that covers what it
            // requires, a navigation can get it; otherwise more logins would not help.
            let could_grant = cfg
                .required_scopes
                .iter()
                .all(|r| cfg.scope.split_ascii_whitespace().any(|s| s == r));
            if could_grant && ctx.navigable {
                let stale = stale_flows(ctx.login(), req, ctx, now);
                let ctx = ctx.clone();
                self.advance(now, rng, token, Parked::Start { ctx, stale, attempt: 0 });
                return Some(None);
            }
            return Some(Some(pages::login_failed(
                403,
                super::Reason::InsufficientScope,
                Vec::new(),
            )));
        }
        if let Some(schema) = &cfg.compiled_claim_schema {
            let claims = session.id_token().and_then(grant::id_token_claims);
            if claims.is_none_or(|c| schema.check(&c).is_err()) {
                let d = pages::login_failed(403, super::Reason::ClaimSchemaViolation, Vec::new());
                return Some(Some(d));
            }
        }
        None
    }

    /// Runs (or resumes) a parked login step.
    pub(super) fn advance(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        parked: Parked,
    ) {
        match parked {
            Parked::Start { ctx, stale, attempt } => {
                self.start_login(now, rng, token, ctx, stale, attempt);
            }
            Parked::Callback { ctx, flows, has_session } => {
                self.callback(now, rng, token, ctx, flows, has_session);
            }
            Parked::Exchange(x) => self.exchange_step(now, rng, token, x),
            Parked::Refresh(r) => self.refresh_step(now, rng, token, r),
            Parked::Logout(l) => self.logout_step(now, rng, token, l),
        }
    }

    pub(super) fn park(&mut self, token: RequestToken, parked: Parked) {
        self.login_pending.insert(token, parked);
    }

    /// Requests parked anywhere (bearer or login).
    pub(super) fn parked_count(&self) -> usize {
        self.pending.len() + self.login_pending.len()
    }

    /// The provider's metadata for a login step: `Ok(Some)`, or `Ok(None)` when parked on the
    /// fetch (the caller must then park the step), or the denial.
    pub(super) fn login_metadata(
        &mut self,
        now: Now,
        token: RequestToken,
        route: &Arc<Route>,
    ) -> Result<Option<Arc<crate::discovery::ProviderMetadata>>, Decision> {
        self.discovery(now, route.provider, route, token)
    }
}

#[cfg(test)]
mod tests {
    use super::uri_path;

    #[test]
    fn callback_paths_of_configured_redirect_uris() {
        assert_eq!(uri_path("https://app.example/cb?x=1"), "/cb");
        assert_eq!(uri_path("https://app.example"), "/");
        assert_eq!(uri_path("/oauth2/callback#f"), "/oauth2/callback");
        assert_eq!(uri_path("http://h:8080/a/b"), "/a/b");
    }
}
