//! One cookie per login in progress: `<session name>_state_<tag>`, where the tag is derived
//! from the flow's `state`.
//!
//! Two tabs that start a login at the same moment each send the request before either has
//! the other's answer; with all flows in one cookie, the second answer overwrites the first
//! tab's flow and its callback fails. With a cookie per flow there is no read-modify-write:
//! each redirect only adds its own cookie, and each callback finds its cookie by the `state`
//! in its URL and deletes only that one. The browser expires abandoned ones (`Max-Age` is the
//! flow lifetime), and a new login deletes the oldest beyond [`MAX_FLOWS`] in flight.
//!
//! Each cookie holds a one-flow set sealed exactly as the shared state cookie is (same keys,
//! bound to the `<session name>_state` name); the tag only picks the cookie, and the flow inside
//! must carry exactly the callback's `state`.

use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest as _, Sha256};

use super::{FlowCodec, FlowSet, MAX_FLOWS};
use crate::authz::FlowState;
use crate::engine::Entropy;
use crate::jose::base64url;
use crate::session::{CookieSettings, SealError, SetCookie, cookie_pairs};
use crate::time::UnixTime;

/// Characters of the tag after `<session name>_state_`.
const TAG_LEN: usize = 8;

impl FlowCodec {
    /// The name of the cookie that holds the flow whose `state` is `state`.
    pub fn flow_cookie_name(&self, state: &str) -> String {
        let digest = Sha256::digest(state.as_bytes());
        let tag = base64url::encode(digest.get(..6).unwrap_or_default());
        let mut name = String::with_capacity(self.cookie.name.len() + 1 + TAG_LEN);
        name.push_str(&self.cookie.name);
        name.push('_');
        name.push_str(tag.get(..TAG_LEN).unwrap_or(&tag));
        name
    }

    /// Whether `name` is one of this codec's per-flow cookies.
    pub fn is_flow_cookie(&self, name: &[u8]) -> bool {
        name.strip_prefix(self.cookie.name.as_bytes())
            .and_then(|rest| rest.strip_prefix(b"_"))
            .is_some_and(|tag| tag.len() == TAG_LEN)
    }

    fn named(&self, name: String) -> CookieSettings {
        CookieSettings { name, ..self.cookie.clone() }
    }

    /// The `Set-Cookie` value that stores `flow` in its own cookie.
    pub fn seal_flow(
        &self,
        flow: FlowState,
        now: UnixTime,
        rng: &mut dyn Entropy,
        https: bool,
    ) -> Result<SetCookie, SealError> {
        let cookie = self.named(self.flow_cookie_name(&flow.state));
        let mut set = FlowSet::new();
        set.push(flow);
        set.flows.retain(|f| self.is_live(f, now));
        if set.is_empty() {
            return Err(SealError::Expired);
        }
        let value = self.seal_value(&set, rng)?;
        Ok(cookie.set(1, &value, Some(self.ttl), self.cookie.secure_for(https)))
    }

    /// The live flow whose `state` is exactly `state`, from its cookie among a request's
    /// `Cookie` header values (as a set of at most one, ready for
    /// [`resolve_callback`](crate::authz::resolve_callback)).
    pub fn open_flow<'a, I>(&self, cookie_headers: I, state: &str, now: UnixTime) -> FlowSet
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let name = self.flow_cookie_name(state);
        let value =
            cookie_pairs(cookie_headers).find(|(n, _)| *n == name.as_bytes()).map(|(_, v)| v);
        let mut set = self.open_value(value, now).unwrap_or_default();
        let mut out = FlowSet::new();
        if let Some(flow) = set.take(state) {
            out.push(flow);
        }
        out
    }

    /// The `Set-Cookie` value that deletes the cookie of the flow with `state`.
    pub fn clear_flow(&self, state: &str, https: bool) -> SetCookie {
        self.named(self.flow_cookie_name(state)).expire(1, self.cookie.secure_for(https))
    }

    /// Deletions for the per-flow cookies a request carries that are dead (unreadable or
    /// expired), and for the oldest live ones beyond `keep`, so that a new flow can be added
    /// without the browser holding more than [`MAX_FLOWS`].
    pub fn prune<'a, I>(
        &self,
        cookie_headers: I,
        now: UnixTime,
        https: bool,
        keep: usize,
    ) -> Vec<SetCookie>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let secure = self.cookie.secure_for(https);
        let mut live: Vec<(UnixTime, String)> = Vec::new();
        let mut out = Vec::new();
        for (name, value) in cookie_pairs(cookie_headers) {
            if !self.is_flow_cookie(name) {
                continue;
            }
            let Ok(name) = core::str::from_utf8(name) else { continue };
            match self.open_value(Some(value), now) {
                Ok(set) => {
                    let created = set.flows().iter().map(|f| f.created_at).min().unwrap_or(now);
                    live.push((created, String::from(name)));
                }
                Err(_) => out.push(self.named(String::from(name)).expire(1, secure)),
            }
            if live.len() + out.len() > 4 * MAX_FLOWS {
                break;
            }
        }
        live.sort();
        let surplus = live.len().saturating_sub(keep.min(MAX_FLOWS));
        for (_, name) in live.into_iter().take(surplus) {
            out.push(self.named(name).expire(1, secure));
        }
        out
    }

    /// Deletions for every per-flow cookie a request carries (logout).
    pub fn clear_all<'a, I>(&self, cookie_headers: I, https: bool) -> Vec<SetCookie>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let secure = self.cookie.secure_for(https);
        cookie_pairs(cookie_headers)
            .filter(|(n, _)| self.is_flow_cookie(n))
            .filter_map(|(n, _)| core::str::from_utf8(n).ok())
            .take(4 * MAX_FLOWS)
            .map(|n| self.named(String::from(n)).expire(1, secure))
            .collect()
    }
}
