//! A route's configuration compiled for the request path: parsed keys, validators, the provider
//! it shares with other routes.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::config::{OidcConfig, ProxyOpts, Secret};
use crate::crypto::CryptoProvider;
use crate::jose::claims::TypPolicy;
use crate::jose::pem::parse_public_key_pem;
use crate::jose::{
    Algorithm, AlgorithmPolicy, ClaimPolicy, JwtValidator, KeyError, KeyPolicy, KeySet,
};

/// Routes with equal keys share discovery and JWKS state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ProviderKey {
    pub(crate) discovery: String,
    pub(crate) tls_verify: bool,
    pub(crate) timeout_ms: u64,
    pub(crate) proxy: Option<ProxyKey>,
}

/// The proxy settings as part of a provider key: proxies, their credentials (redacted in
/// `Debug`), and `no_proxy`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ProxyKey([Option<String>; 3], [Option<Secret>; 2]);

impl ProviderKey {
    pub(crate) fn of(cfg: &OidcConfig) -> Self {
        Self {
            discovery: cfg.discovery.clone(),
            tls_verify: cfg.ssl_verify,
            timeout_ms: cfg.timeout_ms,
            proxy: cfg.proxy_opts.as_ref().map(|p: &ProxyOpts| {
                ProxyKey(
                    [p.http_proxy.clone(), p.https_proxy.clone(), p.no_proxy.clone()],
                    [p.http_proxy_authorization.clone(), p.https_proxy_authorization.clone()],
                )
            }),
        }
    }
}

/// How a route checks bearer tokens.
#[derive(Debug)]
pub(crate) enum Mode {
    /// `public_key`: local verification with one configured key.
    StaticKey(Arc<KeySet>),
    /// `use_jwks`: local verification with the provider's JWKS.
    Jwks,
    /// RFC 7662 introspection.
    Introspection,
    /// No bearer branch: the route needs the browser session flow.
    SessionOnly,
}

/// One compiled route.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) cfg: Arc<OidcConfig>,
    pub(crate) provider: u32,
    pub(crate) mode: Mode,
    /// Validator built from configured `valid_issuers`, when there are some.
    pub(crate) fixed_validator: Option<Arc<JwtValidator>>,
    /// Unique per compiled route (keys the engine's validator cache).
    pub(crate) uid: u64,
    /// The `private_key_jwt` signer, built once here.
    pub(crate) signer: Option<Arc<dyn crate::crypto::SigningKey>>,
    /// The browser login's cookie codecs, unless `bearer_only`.
    pub(crate) login: Option<super::login::Login>,
}

impl Route {
    pub(crate) fn compile(
        cfg: OidcConfig,
        provider: u32,
        uid: u64,
        crypto: &dyn CryptoProvider,
    ) -> Result<Self, super::CompileError> {
        use super::CompileError;
        let mode = if cfg.public_key.is_some() || cfg.use_jwks {
            match &cfg.public_key {
                Some(pem) => {
                    let key = parse_public_key_pem(pem, &KeyPolicy::DEFAULT, crypto)
                        .map_err(CompileError::Key)?;
                    Mode::StaticKey(Arc::new(KeySet::from_keys(alloc::vec![key])))
                }
                None => Mode::Jwks,
            }
        } else if cfg.bearer_branch() {
            Mode::Introspection
        } else {
            Mode::SessionOnly
        };
        let fixed_validator = (!cfg.claim_validator.valid_issuers.is_empty())
            .then(|| Arc::new(validator(&cfg, cfg.claim_validator.valid_issuers.clone())));
        let signer = super::signer::compile(&cfg, crypto)
            .map_err(|_| CompileError::Key(KeyError::PrivateKey))?;
        let login = super::login::Login::compile(&cfg, crypto).map_err(CompileError::Session)?;
        Ok(Self { cfg: Arc::new(cfg), provider, mode, fixed_validator, uid, signer, login })
    }

    /// Whether checking a token needs the discovery document.
    pub(crate) fn needs_discovery(&self) -> bool {
        match self.mode {
            Mode::StaticKey(_) => self.fixed_validator.is_none(),
            Mode::Jwks => true,
            Mode::Introspection => self.cfg.introspection_endpoint.is_none(),
            Mode::SessionOnly => false,
        }
    }

    /// The route's own cookies, to strip from what goes upstream.
    pub(crate) fn own_cookies(&self) -> Option<Arc<super::decision::CookieNames>> {
        self.login.as_ref().map(|l| Arc::clone(&l.names))
    }
}

/// A compiled route, as the engine holds it after [`Engine::new`](super::Engine::new) or
/// [`Engine::reconfigure`](super::Engine::reconfigure) (see [`Engine::routes`](super::Engine::routes)).
///
/// A request is submitted with the handle of the configuration it arrived under and is judged
/// by exactly that configuration, however the engine is reconfigured while it waits: a handle
/// is never an index into whatever route list is current.
#[derive(Clone)]
pub struct RouteHandle(pub(crate) Arc<Route>);

impl core::fmt::Debug for RouteHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("RouteHandle").field(&self.0.uid).finish()
    }
}

impl RouteHandle {
    /// Whether two handles name the same compiled route (the same configuration generation).
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Builds the bearer-token validator of a route for the given issuers.
pub(crate) fn validator(cfg: &OidcConfig, issuers: Vec<String>) -> JwtValidator {
    let allowed = cfg
        .token_signing_alg_values_expected
        .iter()
        .filter_map(|a| Algorithm::from_name(a))
        .filter(|a| *a != Algorithm::None)
        .collect();
    let claims = ClaimPolicy {
        issuers: Some(issuers),
        // Bearer tokens get their own, small clock-skew tolerance; APISIX reuses the ID-token
        // `iat_slack` (120 s) here, which accepts a token two minutes after it expired.
        leeway: cfg.bearer_clock_skew,
        iat_slack: Some(cfg.bearer_clock_skew),
        // RFC 9068 §2.2: access tokens carry `exp`. (APISIX accepts tokens without it.)
        require_exp: true,
        // A logout token or security event must never pass as an access token.
        typ: TypPolicy::NoneOf(alloc::vec!["logout+jwt".into(), "secevent+jwt".into()]),
        ..ClaimPolicy::default()
    };
    // `none` is never accepted for bearer tokens, whatever `accept_none_alg` says.
    JwtValidator::new(AlgorithmPolicy { allowed, allow_none: false }, claims)
}
