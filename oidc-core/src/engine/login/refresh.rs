//! Renewing a session's access token with its refresh token: one refresh per refresh token
//! at a time in an engine, and a short memory of finished ones, so that the requests a page
//! sends at once, and the ones still carrying the pre-rotation cookie, share one answer.
//!
//! A page's requests also reach several engines (one per worker). A provider that rotates
//! refresh tokens refuses the second use of one, so engines that share a [`RefreshLedger`]
//! take turns: the first claims the refresh, the others wait for its result (checking on every
//! tick) and use it, or refresh themselves if the claim runs out.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::tokens::{self, TokenAnswer};
use super::{Ctx, Parked, grant, pages};
use crate::engine::decision::{AuthVia, Decision, Denial, Reason};
use crate::engine::io::{FailureKind, Instant, Purpose, ResponseView};
use crate::engine::{Engine, Entropy, IntentKind, Now, RequestToken};
use crate::session::{CookieContext, Session, SessionTokens, SetCookie};
use crate::time::UnixTime;

/// How long a finished refresh answers requests that still carry the old refresh token.
pub const REMEMBER_SECS: u64 = 30;
/// Finished refreshes remembered at once (per engine).
const REMEMBER_MAX: usize = 1024;

/// A session waiting for its refresh.
#[derive(Debug)]
pub(in crate::engine) struct Refreshing {
    ctx: Ctx,
    session: Session,
    key: [u8; 32],
    /// Waiting for another engine's refresh (ledger) until then, if at all.
    wait_until: Option<Instant>,
}

/// Refreshes shared between the engines of one process (one per worker), keyed by a hash of
/// the refresh token. Implemented by the caller (a mutex-protected map in the gateway).
pub trait RefreshLedger: Send + Sync {
    /// Claims the refresh of `key` at `now`: [`LedgerClaim::Mine`] when nobody holds it (the
    /// claim lasts `hold_secs`), [`LedgerClaim::Busy`] while another holds it, or its result
    /// when one finished in the last [`REMEMBER_SECS`].
    fn claim(&self, key: &[u8; 32], now: UnixTime, hold_secs: u64) -> LedgerClaim;
    /// Ends a claim: with the tokens (kept [`REMEMBER_SECS`] for the others), or `None` when
    /// the refresh failed (the next claim is free).
    fn finish(&self, key: &[u8; 32], result: Option<Arc<Refreshed>>, now: UnixTime);
}

/// What [`RefreshLedger::claim`] says.
#[derive(Debug)]
pub enum LedgerClaim {
    /// The caller refreshes.
    Mine,
    /// Another engine is refreshing.
    Busy,
    /// Another engine refreshed: these are the tokens.
    Done(Arc<Refreshed>),
}

/// How often a request waiting for another engine's refresh looks again.
const LEDGER_POLL_MS: u64 = 50;

/// The tokens a refresh produced (opaque; shared between engines through a
/// [`RefreshLedger`]).
pub struct Refreshed {
    access_token: Zeroizing<String>,
    expires_at: Option<UnixTime>,
    refresh_token: Option<Zeroizing<String>>,
    id_token: Option<Zeroizing<String>>,
    /// Granted scopes, when the answer names them (else the session's stay).
    scope: Option<String>,
}

impl core::fmt::Debug for Refreshed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Refreshed").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// Finished refreshes by the hash of the refresh token they used.
#[derive(Default)]
pub(crate) struct RecentRefreshes {
    map: BTreeMap<[u8; 32], (Instant, Arc<Refreshed>)>,
}

impl core::fmt::Debug for RecentRefreshes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecentRefreshes").field("len", &self.map.len()).finish()
    }
}

impl RecentRefreshes {
    fn get(&self, key: &[u8; 32], now: Instant) -> Option<Arc<Refreshed>> {
        self.map.get(key).filter(|(until, _)| now < *until).map(|(_, r)| Arc::clone(r))
    }

    fn insert(&mut self, key: [u8; 32], r: Arc<Refreshed>, now: Instant) {
        self.map.retain(|_, (until, _)| now < *until);
        if self.map.len() >= REMEMBER_MAX
            && let Some(oldest) = self.map.iter().min_by_key(|(_, (u, _))| *u).map(|(k, _)| *k)
        {
            self.map.remove(&oldest);
        }
        self.map.insert(key, (now.plus_secs(REMEMBER_SECS), r));
    }
}

fn key_of(refresh_token: &str) -> [u8; 32] {
    Sha256::digest(refresh_token.as_bytes()).into()
}

impl Engine {
    pub(super) fn refresh(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        ctx: Ctx,
        session: Session,
    ) {
        let key = key_of(session.refresh_token().unwrap_or_default());
        let r = alloc::boxed::Box::new(Refreshing { ctx, session, key, wait_until: None });
        self.refresh_step(now, rng, token, r);
    }

    pub(super) fn refresh_step(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        r: alloc::boxed::Box<Refreshing>,
    ) {
        self.refresh_waits.remove(&token);
        if let Some(done) = self.recent_refreshes.get(&r.key, now.mono) {
            let d = refreshed_grant(now, rng, &r, &done);
            return self.decide(token, d);
        }
        // Another request of this session is already refreshing: wait for its answer.
        if let Some(id) = self.refresh_inflight.get(&r.key).copied()
            && let Some(f) = self.intents.get_mut(&id)
            && let IntentKind::Refresh { waiters, .. } = &mut f.kind
        {
            if waiters.len() >= self.settings.max_waiters_per_fetch {
                let d = Decision::Deny(Denial::unavailable(Reason::Overloaded, 1));
                return self.decide(token, d);
            }
            waiters.push(token);
            return self.park(token, Parked::Refresh(r));
        }
        let route = Arc::clone(&r.ctx.route);
        let meta = match self.login_metadata(now, token, &route) {
            Ok(Some(m)) => m,
            Ok(None) => return self.park(token, Parked::Refresh(r)),
            Err(d) => return self.decide(token, d),
        };
        let Some(endpoint) = meta.token_endpoint.as_deref() else {
            return self.decide(token, pages::misconfigured());
        };
        if let Err(d) = self.admit_token_call(endpoint, now) {
            return self.decide(token, d);
        }
        // Another worker may be refreshing this session, or may just have.
        if let Some(ledger) = self.refresh_ledger.clone() {
            let hold = route.cfg.timeout_ms.div_ceil(1000).saturating_add(1);
            match ledger.claim(&r.key, now.wall, hold) {
                LedgerClaim::Mine => {}
                LedgerClaim::Done(done) => {
                    self.recent_refreshes.insert(r.key, Arc::clone(&done), now.mono);
                    let d = refreshed_grant(now, rng, &r, &done);
                    return self.decide(token, d);
                }
                LedgerClaim::Busy => {
                    let mut r = r;
                    let until = *r
                        .wait_until
                        .get_or_insert(now.mono.plus_millis(route.cfg.timeout_ms + 1000));
                    if now.mono >= until {
                        let d = Decision::Deny(Denial::unavailable(Reason::IdpUnavailable, 1));
                        return self.decide(token, d);
                    }
                    self.refresh_waits.insert(token, now.mono.plus_millis(LEDGER_POLL_MS));
                    return self.park(token, Parked::Refresh(r));
                }
            }
        }
        let method = tokens::token_auth_method(&route.cfg, &meta);
        let form = tokens::refresh_form(r.session.refresh_token().unwrap_or_default());
        let id = self.new_intent();
        let Some(intent) =
            tokens::post_intent(id, &route, method, endpoint, form, Purpose::Token, now, rng)
        else {
            return self.decide(token, pages::misconfigured());
        };
        self.refresh_inflight.insert(r.key, id);
        let (issuer, endpoint) = (meta.issuer.clone(), String::from(endpoint));
        let waiters = alloc::vec![token];
        self.send(intent, IntentKind::Refresh { key: r.key, issuer, endpoint, waiters });
        self.park(token, Parked::Refresh(r));
    }

    /// The token endpoint answered a refresh.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::engine) fn on_refresh_answer(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        id: crate::engine::IntentId,
        key: [u8; 32],
        issuer: &str,
        waiters: Vec<RequestToken>,
        answer: Result<ResponseView<'_>, FailureKind>,
    ) {
        if self.refresh_inflight.get(&key) == Some(&id) {
            self.refresh_inflight.remove(&key);
        }
        let ledger = self.refresh_ledger.clone();
        let answer = match answer {
            Ok(r) => tokens::parse_token_response(r.status, r.body),
            Err(kind) => {
                self.fetch_failed(Purpose::Token, String::from(kind.as_str()));
                TokenAnswer::Unavailable
            }
        };
        let parked: Vec<(RequestToken, alloc::boxed::Box<Refreshing>)> = waiters
            .into_iter()
            .filter_map(|t| match self.login_pending.remove(&t) {
                Some(Parked::Refresh(r)) => Some((t, r)),
                Some(other) => {
                    self.login_pending.insert(t, other);
                    None
                }
                None => None,
            })
            .collect();
        let Some((_, first)) = parked.first() else {
            return;
        };
        let outcome = match answer {
            TokenAnswer::Tokens(t) => {
                self.accept_refresh(now, &first.ctx, &first.session, issuer, t)
            }
            TokenAnswer::Refused => Err(false),
            TokenAnswer::Unavailable => Err(true),
            TokenAnswer::Bad => {
                self.fetch_failed(Purpose::Token, String::from("invalid_document"));
                Err(true)
            }
        };
        match outcome {
            Ok(done) => {
                let done = Arc::new(done);
                if let Some(l) = &ledger {
                    l.finish(&key, Some(Arc::clone(&done)), now.wall);
                }
                self.recent_refreshes.insert(key, Arc::clone(&done), now.mono);
                for (t, r) in parked {
                    let d = refreshed_grant(now, rng, &r, &done);
                    self.decide(t, d);
                }
            }
            Err(true) => {
                if let Some(l) = &ledger {
                    l.finish(&key, None, now.wall);
                }
                for (t, _) in parked {
                    self.decide(t, Decision::Deny(Denial::unavailable(Reason::IdpUnavailable, 1)));
                }
            }
            Err(false) => {
                if let Some(l) = &ledger {
                    l.finish(&key, None, now.wall);
                }
                // The refresh token is no longer valid (expired, revoked, or rotated by
                // another gateway): the user logs in again.
                self.login_event("refresh", "refused");
                for (t, r) in parked {
                    self.unauthenticated_after_refresh(now, rng, t, r.ctx);
                }
            }
        }
    }

    fn unauthenticated_after_refresh(
        &mut self,
        now: Now,
        rng: &mut dyn Entropy,
        token: RequestToken,
        ctx: Ctx,
    ) {
        if ctx.navigable && ctx.cfg().unauth_action == crate::config::UnauthAction::Auth {
            let stale = Vec::new();
            return self.advance(now, rng, token, Parked::Start { ctx, stale, attempt: 0 });
        }
        let mut denial = Denial::other(401, Reason::RefreshFailed, "login required");
        let clear = ctx.login().session.clear(CookieContext::new(ctx.https, ctx.carried));
        for c in clear {
            denial.headers.push(("set-cookie", c.into_string()));
        }
        self.decide(token, Decision::Deny(denial));
    }

    /// Checks a refresh answer. A new ID token must be valid and about the same user (OpenID
    /// Connect Core §12.2); it is checked with the cached keys, and kept out of the session
    /// when they cannot check it (the old one stays).
    fn accept_refresh(
        &mut self,
        now: Now,
        ctx: &Ctx,
        session: &Session,
        issuer: &str,
        t: tokens::TokenResponse,
    ) -> Result<Refreshed, bool> {
        let mut id_token = None;
        let expires_at = t.expires_at(ctx.cfg(), now.wall);
        if let Some(new_id) = t.id_token {
            let keys = self.providers.get(&ctx.route.provider).and_then(|p| p.jwks.cached_value());
            if let Some(keys) = keys {
                let v = tokens::id_token_validator(ctx.cfg(), issuer, None);
                match v.verify(&new_id, &keys, now.wall) {
                    Ok(verified)
                        if verified.registered().sub.as_deref() == Some(session.subject()) =>
                    {
                        id_token = Some(new_id);
                    }
                    Ok(_) => {
                        self.login_event("refresh", "id_token_subject_changed");
                        return Err(false);
                    }
                    Err(crate::jose::VerifyError::UnknownKid) => {}
                    Err(_) => {
                        self.login_event("refresh", "id_token_invalid");
                        return Err(false);
                    }
                }
            }
        }
        if !tokens::has_required_scopes(ctx.cfg(), t.scope.as_deref()) {
            self.login_event("refresh", "insufficient_scope");
            return Err(false);
        }
        Ok(Refreshed {
            expires_at,
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            id_token,
            scope: t.scope,
        })
    }
}

/// `Allow` with the refreshed tokens, and the session re-sealed around them.
fn refreshed_grant(now: Now, rng: &mut dyn Entropy, r: &Refreshing, done: &Refreshed) -> Decision {
    let old = &r.session;
    let tokens = SessionTokens {
        access_token: &done.access_token,
        access_token_expires_at: done.expires_at,
        id_token: done.id_token.as_deref().map(|s| s.as_str()).or(old.id_token()),
        refresh_token: done.refresh_token.as_deref().map(|s| s.as_str()).or(old.refresh_token()),
        subject: old.subject(),
        userinfo: old.userinfo(),
        scope: done.scope.as_deref().or(old.scope()),
    };
    let mut session = old.with_tokens(&tokens);
    session.touch(now.wall);
    let ctx = CookieContext::new(r.ctx.https, r.ctx.carried);
    let set_cookies = match r.ctx.login().session.seal(&session, now.wall, rng, ctx) {
        Ok(c) => c.into_iter().map(SetCookie::into_string).collect(),
        // Too large now (a longer token): this request still goes with the new token; the
        // next one refreshes again.
        Err(_) => Vec::new(),
    };
    grant::session_grant(&r.ctx.route, &session, set_cookies, AuthVia::SessionRefreshed)
}
