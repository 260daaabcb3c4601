//! What an upstream receives for a request with a session: the identity headers APISIX sets.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;

use crate::engine::decision::{AuthVia, Decision, Grant, IDENTITY_HEADERS};
use crate::engine::route::Route;
use crate::jose::base64url;
use crate::session::Session;

/// `Allow` with the session's headers: `X-Access-Token` (or `Authorization: Bearer`),
/// `X-ID-Token` (the ID token's claims as base64 JSON), `X-Raw-ID-Token`, `X-Userinfo`
/// (base64 JSON), `X-Refresh-Token`, each as configured.
pub(super) fn session_grant(
    route: &Route,
    session: &Session,
    set_cookies: Vec<String>,
    via: AuthVia,
) -> Decision {
    let cfg = &route.cfg;
    let std = base64::engine::general_purpose::STANDARD;
    let mut set_headers = Vec::with_capacity(4);
    if cfg.set_access_token_header {
        if cfg.access_token_in_authorization_header {
            set_headers
                .push(("authorization", alloc::format!("Bearer {}", session.access_token())));
        } else {
            set_headers.push(("x-access-token", String::from(session.access_token())));
        }
    }
    if let Some(id_token) = session.id_token() {
        if cfg.set_id_token_header
            && let Some(claims) = id_token_claims_base64(id_token)
        {
            set_headers.push(("x-id-token", claims));
        }
        if cfg.set_raw_id_token_header {
            set_headers.push(("x-raw-id-token", String::from(id_token)));
        }
    }
    if cfg.set_userinfo_header
        && let Some(userinfo) = session.userinfo()
    {
        set_headers.push(("x-userinfo", std.encode(userinfo.as_bytes())));
    }
    if cfg.set_refresh_token_header
        && let Some(rt) = session.refresh_token()
    {
        set_headers.push(("x-refresh-token", String::from(rt)));
    }
    Decision::Allow(Grant {
        remove_headers: removed(route),
        set_headers,
        subject: Some(String::from(session.subject())),
        via,
        set_cookies,
        own_cookies: route.own_cookies(),
    })
}

/// `unauth_action: pass`: upstream without identity (and without the gateway's cookies).
pub(super) fn anonymous(route: &Route) -> Decision {
    Decision::Allow(Grant {
        remove_headers: removed(route),
        set_headers: Vec::new(),
        subject: None,
        via: AuthVia::Anonymous,
        set_cookies: Vec::new(),
        own_cookies: route.own_cookies(),
    })
}

/// Client headers the upstream must never see: the identity headers, and `Authorization` on
/// routes whose upstream reads the gateway's access token from it.
pub(super) fn removed(route: &Route) -> Vec<&'static str> {
    let mut names = IDENTITY_HEADERS.to_vec();
    if route.cfg.access_token_in_authorization_header {
        names.push("authorization");
    }
    names
}

/// The claims of a session's ID token (verified at login), parsed.
pub(super) fn id_token_claims(id_token: &str) -> Option<crate::jose::json::Object> {
    let payload = id_token.split('.').nth(1)?;
    let json = base64url::decode(payload.as_bytes()).ok()?;
    crate::jose::json::parse_object(&json).ok()
}

/// The ID token's payload (its JSON claims) re-encoded as standard base64, as APISIX's
/// `X-ID-Token`. The token was verified at login; its JSON is the provider's.
fn id_token_claims_base64(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let mut json = Vec::with_capacity(payload.len());
    base64url::decode_into(payload.as_bytes(), &mut json).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(json))
}
