//! Logout: the session's cookies cleared, its tokens revoked (RFC 7009) when configured, the
//! browser sent to the provider's end-session endpoint (RP-Initiated Logout 1.0).
//!
//! A logout is only carried out for a request the browser made from this site, or that the
//! user typed: `Sec-Fetch-Site: same-origin` or `none`; or, from browsers that do not send
//! `Sec-Fetch-Site`, a `POST` whose `Origin` (if any) is this host. Anything else (a link or
//! an image on another site) gets a page with a "Sign out" button that posts back here, so
//! another site cannot end a user's session, nor drive the end-session redirect.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{Ctx, Parked, pages};
use crate::authz::encode::query_pair;
use crate::discovery::ProviderMetadata;
use crate::engine::decision::Reason;
use crate::engine::introspection::form_pair;
use crate::engine::io::{FailureKind, Purpose, ResponseView};
use crate::engine::{Engine, Entropy, IntentKind, Now, RequestToken, RequestView};
use crate::session::{CookieContext, Session, SetCookie};

/// Revocation calls in flight at once, per engine.
const MAX_REVOCATIONS_IN_FLIGHT: usize = 64;

/// A logout waiting on discovery or on its revocations.
#[derive(Debug)]
pub(in crate::engine) struct LoggingOut {
    ctx: Ctx,
    session: Option<Session>,
    /// Deletions of the flow cookies the request carried.
    flow_cookies: Vec<String>,
    meta: Option<Arc<ProviderMetadata>>,
    /// Discovery was tried (and may have failed: the logout goes on without it).
    looked_up: bool,
    revoked: bool,
    outstanding: u8,
}

/// Whether the request comes from this site (see the module documentation).
pub(super) fn is_same_site_request(req: &RequestView<'_>) -> bool {
    let header = |name: &str| {
        req.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    };
    if let Some(site) = header("sec-fetch-site") {
        return site.eq_ignore_ascii_case(b"same-origin") || site.eq_ignore_ascii_case(b"none");
    }
    if !req.method.eq_ignore_ascii_case("POST") {
        return false;
    }
    match (header("origin"), header("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            let origin = origin.split(|&b| b == b'/').nth(2).unwrap_or_default();
            origin.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => false,
    }
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn logout(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        ctx: Ctx,
        session: Option<Session>,
        flow_cookies: Vec<String>,
        same_site: bool,
    ) {
        if !same_site {
            return self.decide(token, pages::logout_confirm(&ctx.cfg().logout_path));
        }
        let l = LoggingOut {
            ctx,
            session,
            flow_cookies,
            meta: None,
            looked_up: false,
            revoked: false,
            outstanding: 0,
        };
        self.logout_step(now, rng, token, alloc::boxed::Box::new(l));
    }

    pub(super) fn logout_step(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        mut l: alloc::boxed::Box<LoggingOut>,
    ) {
        if !l.looked_up {
            let route = Arc::clone(&l.ctx.route);
            match self.login_metadata(now, token, &route) {
                Ok(Some(m)) => l.meta = Some(m),
                Ok(None) => return self.park(token, Parked::Logout(l)),
                // The provider is unreachable: the browser's session still ends.
                Err(_) => {}
            }
            l.looked_up = true;
        }
        if !l.revoked {
            l.revoked = true;
            let endpoint = l.meta.as_ref().and_then(|m| m.revocation_endpoint.clone());
            // Revocation is best effort: under load (requests parked, revocations in flight at
            // the cap) the logout goes on without it rather than hold the request.
            let room = self.parked_count() < self.settings.max_pending_requests
                && self.revocations_in_flight() < MAX_REVOCATIONS_IN_FLIGHT;
            if !room && l.ctx.cfg().revoke_tokens_on_logout {
                self.login_event("logout", "revocation_skipped_overloaded");
            }
            if let (true, true, Some(endpoint), Some(session)) =
                (room, l.ctx.cfg().revoke_tokens_on_logout, endpoint, l.session.as_ref())
            {
                // The refresh token first: revoking it usually ends the grant, access tokens
                // included (RFC 7009 §2.1).
                let mut to_revoke: Vec<(String, &str)> = Vec::new();
                if let Some(rt) = session.refresh_token() {
                    to_revoke.push((String::from(rt), "refresh_token"));
                }
                to_revoke.push((String::from(session.access_token()), "access_token"));
                let meta = l.meta.clone();
                for (value, hint) in to_revoke {
                    let mut form = String::new();
                    form_pair(&mut form, "token", &value);
                    form_pair(&mut form, "token_type_hint", hint);
                    let method = match &meta {
                        Some(m) => super::tokens::token_auth_method(l.ctx.cfg(), m),
                        None => l.ctx.cfg().token_endpoint_auth_method,
                    };
                    let id = self.new_intent();
                    let intent = super::tokens::post_intent(
                        id,
                        &l.ctx.route,
                        method,
                        &endpoint,
                        form,
                        Purpose::Revocation,
                        now,
                        rng,
                    );
                    if let Some(intent) = intent {
                        self.send(intent, IntentKind::Revocation { request: token });
                        l.outstanding += 1;
                    }
                }
            }
        }
        if l.outstanding > 0 {
            return self.park(token, Parked::Logout(l));
        }
        self.finish_logout(token, *l);
    }

    fn revocations_in_flight(&self) -> usize {
        self.intents.values().filter(|f| matches!(f.kind, IntentKind::Revocation { .. })).count()
    }

    /// The revocation endpoint answered (or failed: the logout goes on either way).
    pub(in crate::engine) fn on_revocation_answer(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        request: RequestToken,
        answer: Result<ResponseView<'_>, FailureKind>,
    ) {
        match answer {
            Ok(r) if r.status == 200 => {}
            Ok(r) => self.fetch_failed(Purpose::Revocation, alloc::format!("http_{}", r.status)),
            Err(kind) => self.fetch_failed(Purpose::Revocation, String::from(kind.as_str())),
        }
        let Some(Parked::Logout(mut l)) = self.login_pending.remove(&request) else {
            return;
        };
        l.outstanding = l.outstanding.saturating_sub(1);
        self.logout_step(now, rng, request, l);
    }

    fn finish_logout(&mut self, token: RequestToken, l: LoggingOut) {
        let ctx = &l.ctx;
        let cfg = ctx.cfg();
        let login = ctx.login();
        let mut cookies: Vec<String> = login
            .session
            .clear(CookieContext::new(ctx.https, ctx.carried))
            .into_iter()
            .map(SetCookie::into_string)
            .collect();
        cookies.push(login.flows.clear(ctx.https).into_string());
        cookies.extend(l.flow_cookies.iter().cloned());
        let end_session = l.meta.as_ref().and_then(|m| m.end_session_endpoint.as_deref());
        let d = if let Some(endpoint) = end_session {
            let mut location = String::from(endpoint);
            let mut sep = if endpoint.contains('?') { '&' } else { '?' };
            let mut param = |out: &mut String, name: &str, value: &str| {
                out.push(sep);
                sep = '&';
                query_pair(out, name, value);
            };
            if let Some(hint) = l.session.as_ref().and_then(Session::id_token) {
                param(&mut location, "id_token_hint", hint);
            }
            if let Some(uri) = &cfg.post_logout_redirect_uri {
                param(&mut location, "post_logout_redirect_uri", uri);
            }
            param(&mut location, "client_id", &cfg.client_id);
            pages::redirect(Reason::LoggedOut, location, cookies)
        } else if let Some(uri) = &cfg.post_logout_redirect_uri {
            pages::redirect(Reason::LoggedOut, uri.clone(), cookies)
        } else {
            pages::page(200, Reason::LoggedOut, "Signed out", "You are signed out.", "", cookies)
        };
        self.decide(token, d);
    }
}

#[cfg(test)]
mod tests {
    use super::is_same_site_request;
    use crate::engine::RequestView;

    fn req<'a>(method: &'a str, headers: &'a [(&'a str, &'a [u8])]) -> RequestView<'a> {
        RequestView::new(method, "/logout", headers)
    }

    #[test]
    fn only_same_site_requests_log_out() {
        assert!(is_same_site_request(&req("GET", &[("Sec-Fetch-Site", b"same-origin")])));
        assert!(is_same_site_request(&req("GET", &[("sec-fetch-site", b"none")])));
        assert!(!is_same_site_request(&req("GET", &[("Sec-Fetch-Site", b"cross-site")])));
        assert!(!is_same_site_request(&req("POST", &[("Sec-Fetch-Site", b"same-site")])));
        // Browsers without Fetch Metadata: a POST from this origin, never a GET.
        assert!(!is_same_site_request(&req("GET", &[])));
        assert!(is_same_site_request(&req("POST", &[])));
        let same = [("Origin", &b"http://app.test:8080"[..]), ("Host", b"app.test:8080")];
        assert!(is_same_site_request(&req("POST", &same)));
        let other = [("Origin", &b"https://evil.test"[..]), ("Host", b"app.test")];
        assert!(!is_same_site_request(&req("POST", &other)));
    }
}
