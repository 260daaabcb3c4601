//! No session: `unauth_action`, and the redirect to the authorization endpoint with a new
//! flow in the state cookie.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Ctx, Parked, pages};
use crate::authz::{MAX_ORIGINAL_URL, default_redirect_path};
use crate::config::UnauthAction;
use crate::engine::decision::{Decision, Denial, Reason};
use crate::engine::{Engine, Entropy, Now, RequestToken};
use crate::session::{CookieContext, SetCookie};

impl Engine {
    /// A request without a usable session. `clear`: it carried one that must go (an expired
    /// access token that cannot be renewed).
    pub(super) fn unauthenticated(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        ctx: Ctx,
        stale: Vec<String>,
        clear: bool,
    ) {
        let cfg = ctx.cfg();
        let d = match cfg.unauth_action {
            UnauthAction::Pass if !clear => {
                return self.decide(token, super::grant::anonymous(&ctx.route));
            }
            UnauthAction::Deny | UnauthAction::Pass => login_required(&ctx, clear),
            UnauthAction::Auth if !ctx.navigable && !cfg.redirect_script_requests => {
                login_required(&ctx, clear)
            }
            UnauthAction::Auth => {
                return self.advance(now, rng, token, Parked::Start { ctx, stale, attempt: 0 });
            }
        };
        self.decide(token, d);
    }

    /// Sends the browser to the authorization endpoint (once the provider's metadata is
    /// known), remembering the flow in the state cookie.
    pub(super) fn start_login(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        ctx: Ctx,
        stale: Vec<String>,
        attempt: u8,
    ) {
        let route = alloc::sync::Arc::clone(&ctx.route);
        let meta = match self.login_metadata(now, token, &route) {
            Ok(Some(m)) => m,
            Ok(None) => return self.park(token, Parked::Start { ctx, stale, attempt }),
            Err(d) => return self.decide(token, d),
        };
        let Some(redirect_uri) = redirect_uri(&ctx) else {
            return self.decide(token, pages::misconfigured());
        };
        let original = original_url(&ctx, attempt);
        let request = crate::authz::restarted_authorization_request(
            &meta.authorization_endpoint,
            ctx.cfg(),
            &redirect_uri,
            original,
            now.wall,
            rng,
            attempt,
        );
        let Ok(request) = request else {
            return self.decide(token, pages::misconfigured());
        };
        let login = ctx.login();
        let Ok(state_cookie) = login.flows.seal_flow(request.flow, now.wall, rng, ctx.https) else {
            return self.decide(token, pages::misconfigured());
        };
        let mut cookies = stale;
        cookies.push(state_cookie.into_string());
        // A session that could not be used (expired, its token not renewable) goes now, so
        // the browser does not keep sending it.
        if ctx.carried > 0 {
            let clear = login.session.clear(CookieContext::new(ctx.https, ctx.carried));
            cookies.extend(clear.into_iter().map(SetCookie::into_string));
        }
        let d = pages::redirect(Reason::LoginRedirect, request.location, cookies);
        self.decide(token, d);
    }
}

/// 401 for a request that cannot log in here (a script, or `unauth_action: deny`).
fn login_required(ctx: &Ctx, clear: bool) -> Decision {
    let mut denial = Denial::other(401, Reason::LoginRequired, "login required");
    if clear {
        let login = ctx.login();
        for c in login.session.clear(CookieContext::new(ctx.https, ctx.carried)) {
            denial.headers.push(("set-cookie", c.into_string()));
        }
    }
    Decision::Deny(denial)
}

/// The callback URL of this request's flow: a configured absolute `redirect_uri` as is; a
/// configured path, or APISIX's default path, on the caller-vouched authority.
pub(super) fn redirect_uri(ctx: &Ctx) -> Option<String> {
    let configured = ctx.cfg().redirect_uri.as_deref();
    if let Some(uri) = configured
        && (uri.starts_with("https://") || uri.starts_with("http://"))
    {
        return Some(String::from(uri));
    }
    let authority = ctx.authority.as_deref()?;
    let path = match configured {
        Some(p) if p.starts_with('/') => String::from(p),
        Some(_) => return None,
        None => default_redirect_path(ctx.path()),
    };
    let scheme = if ctx.https { "https" } else { "http" };
    Some(alloc::format!("{scheme}://{authority}{path}"))
}

/// Where the browser goes after the login: the page it asked for (an origin-form target the
/// caller canonicalised, so never another site), or `/` for a restart or a target too long
/// to remember.
fn original_url(ctx: &Ctx, attempt: u8) -> &str {
    let t = ctx.target.as_str();
    let usable = attempt == 0
        && t.starts_with('/')
        && !t.starts_with("//")
        // Browsers read `/\host` as `//host`; the gateway's canonical targets never hold `\`,
        // but an embedding caller's might.
        && !t.contains('\\')
        && t.len() <= MAX_ORIGINAL_URL
        && !ctx.login().is_callback(ctx.path());
    if usable { t } else { "/" }
}

/// `Set-Cookie` values as response headers.
pub(super) fn cookie_headers(cookies: Vec<String>) -> Vec<(&'static str, String)> {
    cookies.into_iter().map(|c| ("set-cookie", c)).collect()
}
