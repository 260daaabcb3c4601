//! The browser login's front half: the authorization request, the per-flow state cookie and
//! the callback.
//!
//! A request without a session is sent to the provider ([`authorization_request`]): the
//! `Location` carries a fresh `state`, `nonce` and PKCE S256 challenge, and the returned
//! [`FlowState`] (with the verifier, the nonce and the page to return to) is added to the
//! browser's [`FlowSet`] and sealed into the state cookie ([`FlowCodec`]). When the provider
//! sends the browser back, [`resolve_callback`] matches the `state` against the live flows and
//! yields the code and its flow, or a reason.
//!
//! ```
//! use oidc_core::UnixTime;
//! use oidc_core::authz::{Callback, FlowCodec, authorization_request, resolve_callback};
//! use oidc_core::config::OidcConfig;
//! use oidc_core::crypto::default_provider;
//! use oidc_core::engine::Entropy;
//! use oidc_core::session::{Binding, CookieSettings};
//! # struct Rng(u8);
//! # impl Entropy for Rng {
//! #     fn fill_public(&mut self, b: &mut [u8]) { self.fill_secret(b) }
//! #     fn fill_secret(&mut self, b: &mut [u8]) {
//! #         for x in b { self.0 = self.0.wrapping_add(1); *x = self.0 }
//! #     }
//! # }
//! # let mut rng = Rng(0);
//! let config = OidcConfig::from_json(br#"{"client_id": "app", "client_secret": "0123456789abcdef",
//!     "discovery": "https://idp.example/.well-known/openid-configuration",
//!     "session": {"secret": "a secret of at least 16 bytes"}}"#)?;
//! let flows = FlowCodec::new(
//!     &[b"a secret of at least 16 bytes".as_slice()],
//!     Binding { issuer: &config.discovery, client_id: &config.client_id },
//!     &CookieSettings::new("session"),
//!     default_provider(),
//! )?;
//! let now = UnixTime::from_secs(1_800_000_000);
//!
//! // No session: 302 to the provider, and the flow into the state cookie.
//! let req = authorization_request(
//!     "https://idp.example/authorize",
//!     &config,
//!     "https://app.example/cb",
//!     "/page?tab=1",
//!     now,
//!     &mut rng,
//! )?;
//! assert!(req.location.starts_with("https://idp.example/authorize?response_type=code&"));
//! let state = req.flow.state().to_owned();
//! let mut set = flows.open([b"".as_slice()], now).into_set();
//! set.push(req.flow);
//! let set_cookie = flows.seal(&mut set, now, &mut rng, true)?;
//! assert_eq!(set_cookie.name(), "session_state");
//!
//! // The browser comes back with the state cookie and a code.
//! let header = format!("session_state={}", set_cookie.value());
//! let mut live = flows.open([header.as_bytes()], now.saturating_add(20)).into_set();
//! let target = format!("/cb?code=abc&state={state}");
//! match resolve_callback(target.as_bytes(), &mut live, None) {
//!     Callback::Code { code, flow } => {
//!         assert_eq!(code.as_str(), "abc");
//!         assert_eq!(flow.original_url(), "/page?tab=1");
//!         assert!(flow.code_verifier().is_some());
//!     }
//!     other => panic!("{}", other.code()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What protects what
//!
//! - **CSRF / login fixation**: a callback is only acted on when its `state` equals one of the
//!   flows sealed in this browser's state cookie (compared in constant time). Another browser's
//!   state or a forged one is [`Callback::UnknownState`].
//! - **Code interception**: PKCE S256 (on unless `use_pkce: false`); the verifier never leaves
//!   the sealed cookie and the gateway.
//! - **ID token replay**: `nonce` (on unless `use_nonce: false`), kept in the flow for the ID
//!   token check.
//! - **Mix-up**: the RFC 9207 `iss` parameter is checked when the caller passes an
//!   [`IssuerCheck`].
//! - **Several tabs**: each login is its own flow; up to [`MAX_FLOWS`] live at once, each for
//!   [`DEFAULT_FLOW_TTL`] seconds, the oldest dropped first, so abandoned logins neither pile
//!   up nor break the others.
//! - **Replay of a state**: a matched flow is removed from the set; once the response re-seals
//!   the set, that state no longer opens anything. An attacker who kept an older copy of the
//!   cookie still needs the code, which the provider accepts once and only with the verifier.
//! - **No reflection**: the callback's text is decoded into bounded fields; `error` is reduced
//!   to an [`IdpErrorCode`] and `error_description` dropped, so nothing the client sent can
//!   reach a header or a page.
//! - `authorization_params` cannot replace any of [`RESERVED_PARAMS`].

mod callback;
pub(crate) mod encode;
mod flows;
mod request;

pub use callback::{
    AuthorizationCode, Callback, CallbackParams, IdpErrorCode, IssuerCheck, MAX_CODE, MAX_ISS,
    MAX_STATE, MAX_TARGET, Malformed, parse_callback, resolve_callback,
};
pub use flows::{
    DEFAULT_FLOW_TTL, FlowCodec, FlowSet, MAX_FLOWS, NoFlows, OpenedFlows, STATE_COOKIE_SUFFIX,
};
pub use request::{
    AuthorizationRequest, AuthzError, FlowState, MAX_ORIGINAL_URL, MAX_REDIRECT_URI, MAX_RESTARTS,
    NONCE_BYTES, RESERVED_PARAMS, STATE_BYTES, VERIFIER_BYTES, authorization_request,
    default_redirect_path, pkce_challenge, restart_count, restarted_authorization_request,
};
