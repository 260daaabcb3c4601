//! The `openid-connect` plugin configuration: every field of the APISIX schema, same names,
//! types and defaults, except where the README's compatibility section lists a safer default.
//!
//! These types are the *validated* form: build them with [`super::OidcConfig::from_json`] or
//! [`super::OidcConfig::from_value`], which report every problem by path.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value};

use super::Secret;
use crate::claim_schema::CompiledClaimSchema;

/// Default of [`OidcConfig::bearer_clock_skew`], seconds.
pub const BEARER_CLOCK_SKEW_DEFAULT: u64 = 10;
/// Largest accepted [`OidcConfig::bearer_clock_skew`], seconds: beyond five minutes a skew
/// tolerance is hiding a broken clock, and it keeps expired tokens usable.
pub const BEARER_CLOCK_SKEW_MAX: u64 = 300;

/// One route's `openid-connect` configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcConfig {
    // --- identity, discovery, transport ---
    /// OAuth client id. Required.
    pub client_id: String,
    /// Client secret; required unless the APISIX exemptions apply.
    pub client_secret: Option<Secret>,
    /// URL of the discovery document. Required.
    pub discovery: String,
    /// Verify the IdP's TLS certificate. Default `true`.
    pub ssl_verify: bool,
    /// Timeout for each IdP call, in milliseconds, after APISIX's seconds→ms rule (`timeout: 3`
    /// → 3000 ms; a value ≥ 1000 that divides by 1000 is taken as already in ms). Default 3000.
    pub timeout_ms: u64,
    /// Forward proxy for IdP calls.
    pub proxy_opts: Option<ProxyOpts>,
    /// Headers copied from the incoming request into the introspection request.
    pub introspection_addon_headers: Vec<String>,
    /// How long a discovery document is cached, seconds. Default 86400 (passed through in
    /// APISIX, not in its schema).
    pub discovery_expires_in: u64,

    // --- authorization code flow ---
    /// Scope for the authorization request. Default `"openid"`.
    pub scope: String,
    /// Redirect URI; `None` → `<path>/.apisix/redirect` as in APISIX.
    pub redirect_uri: Option<String>,
    /// PKCE (S256). Default **`true`** (APISIX: `false`).
    pub use_pkce: bool,
    /// Send and check a nonce. Default **`true`** (APISIX: `false`).
    pub use_nonce: bool,
    /// Extra authorization request parameters.
    pub authorization_params: Map<String, Value>,
    /// Client authentication at the token endpoint. Default `client_secret_basic`.
    pub token_endpoint_auth_method: AuthMethod,
    /// Whether `token_endpoint_auth_method` was configured. When not, the code exchange uses
    /// the first method of the provider's `token_endpoint_auth_methods_supported` the client
    /// has credentials for (`client_secret_basic` when the provider lists none).
    pub token_endpoint_auth_method_configured: bool,
    /// PEM private key for `private_key_jwt` (RSA or EC).
    pub client_rsa_private_key: Option<Secret>,
    /// `kid` of client assertions.
    pub client_rsa_private_key_id: Option<String>,
    /// Client assertion lifetime, seconds. Default 60.
    pub client_jwt_assertion_expires_in: u64,
    /// Client assertion algorithm (HS256, HS512, RS256, RS512, ES256, ES512).
    pub client_jwt_assertion_alg: Option<String>,
    /// Client assertion `aud` override.
    pub client_jwt_assertion_audience: Option<String>,
    /// Refresh the session's access token when it expires. Default `true`.
    pub renew_access_token_on_expiry: bool,
    /// Access token lifetime when the token response has none, seconds.
    pub access_token_expires_in: Option<u64>,
    /// Subtracted from the stored access token expiry, seconds. Default 0.
    pub access_token_expires_leeway: u64,
    /// Silent re-authentication interval, seconds.
    pub refresh_session_interval: Option<u64>,
    /// Re-run the authorization flow on every request. Default `false`.
    pub force_reauthorize: bool,
    /// Clock skew tolerance for the ID token's `iat` and `exp`, seconds. Default 120. Not used
    /// for bearer tokens (see [`Self::bearer_clock_skew`]).
    pub iat_slack: u64,
    /// Clock skew tolerance for a bearer JWT's `exp`, `nbf` and `iat`, seconds: 0 to
    /// [`BEARER_CLOCK_SKEW_MAX`], default [`BEARER_CLOCK_SKEW_DEFAULT`]. Not an APISIX option:
    /// APISIX reuses `iat_slack` here, which accepts a bearer token for two minutes after it
    /// expired.
    pub bearer_clock_skew: u64,
    /// Accept `alg: none` ID tokens. Default `false`. Never applies to bearer tokens.
    pub accept_none_alg: bool,
    /// Skip signature checks for unknown algorithms. Default **`false`** (APISIX: `true`); when
    /// `true` it is still refused (see README): unknown algorithms always fail.
    pub accept_unsupported_alg: bool,
    /// What happens to unauthenticated requests. Default `auth`.
    pub unauth_action: UnauthAction,
    /// With `unauth_action: auth`, also redirect requests that cannot follow a redirect to a
    /// login page (scripts: `Sec-Fetch-Mode: cors`, `X-Requested-With`, an `Accept` without
    /// `text/html`). Default `false`: they get 401. Not an APISIX option (APISIX redirects
    /// them, and the script receives the provider's login page as its answer).
    pub redirect_script_requests: bool,
    /// PAR (RFC 9126).
    pub par: Option<ParConfig>,
    /// DPoP (RFC 9449), client side.
    pub dpop: Option<DpopConfig>,

    // --- logout ---
    /// Logout path. Default `/logout`.
    pub logout_path: String,
    /// Where the IdP sends the browser after logout.
    pub post_logout_redirect_uri: Option<String>,
    /// Revoke tokens on logout. Default `false`.
    pub revoke_tokens_on_logout: bool,

    // --- bearer / resource server ---
    /// Bearer tokens only; no session. Default `false`.
    pub bearer_only: bool,
    /// RFC 7662 endpoint (else from discovery).
    pub introspection_endpoint: Option<String>,
    /// Client authentication for introspection. Default `client_secret_basic`.
    pub introspection_endpoint_auth_method: AuthMethod,
    /// Upper bound on the introspection cache TTL, seconds; 0 = until the expiry claim.
    pub introspection_interval: u64,
    /// Claim whose value drives the introspection cache TTL. Default `exp`.
    pub introspection_expiry_claim: String,
    /// PEM public key for local JWT verification.
    pub public_key: Option<String>,
    /// Verify bearer JWTs with the discovery `jwks_uri` keys. Default `false`.
    pub use_jwks: bool,
    /// JWKS cache lifetime, seconds. Default 86400.
    pub jwk_expires_in: u64,
    /// Accepted JWT `alg` values (APISIX: one string; a list is accepted too). Empty = all.
    pub token_signing_alg_values_expected: Vec<String>,
    /// `realm` of `WWW-Authenticate`. Default `apisix`.
    pub realm: String,
    /// Issuer and audience checks.
    pub claim_validator: ClaimValidator,
    /// Scopes every bearer token must carry (403 otherwise).
    pub required_scopes: Vec<String>,
    /// JSON Schema the claims must satisfy, as configured.
    pub claim_schema: Option<Value>,
    /// `claim_schema` compiled by the loader's [`SchemaCompiler`](crate::claim_schema::SchemaCompiler):
    /// `Some` exactly when `claim_schema` is (a loader without a compiler refuses the member).
    pub compiled_claim_schema: Option<CompiledClaimSchema>,
    /// Prefix of introspection cache keys.
    pub cache_segment: Option<String>,
    /// Bypass the verified-token cache. Default `false`.
    pub jwt_verification_cache_ignore: bool,

    // --- upstream headers ---
    /// Send the access token upstream. Default `true`.
    pub set_access_token_header: bool,
    /// Send it as `Authorization: Bearer` instead of `X-Access-Token`. Default `false`.
    pub access_token_in_authorization_header: bool,
    /// `X-ID-Token` (session flow). Default `true`.
    pub set_id_token_header: bool,
    /// `X-Raw-ID-Token` (session flow). Default `false`.
    pub set_raw_id_token_header: bool,
    /// `X-Userinfo`. Default `true`.
    pub set_userinfo_header: bool,
    /// `X-Refresh-Token` (session flow). Default `false`.
    pub set_refresh_token_header: bool,

    // --- session ---
    /// Session settings; required when `bearer_only` is false.
    pub session: Option<SessionConfig>,
}

/// `unauth_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnauthAction {
    /// Redirect to the IdP.
    Auth,
    /// 401.
    Deny,
    /// Let the request through without identity headers.
    Pass,
}

/// A client authentication method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's private key.
    PrivateKeyJwt,
    /// A JWT MACed with the client secret.
    ClientSecretJwt,
}

impl AuthMethod {
    /// The registered name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::ClientSecretJwt => "client_secret_jwt",
        }
    }
}

/// `proxy_opts`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProxyOpts {
    /// Proxy for `http://` IdP URLs.
    pub http_proxy: Option<String>,
    /// Proxy for `https://` IdP URLs (HTTP CONNECT).
    pub https_proxy: Option<String>,
    /// `Proxy-Authorization` for the http proxy.
    pub http_proxy_authorization: Option<Secret>,
    /// `Proxy-Authorization` for the https proxy.
    pub https_proxy_authorization: Option<Secret>,
    /// Hosts that bypass the proxy (comma-separated).
    pub no_proxy: Option<String>,
}

/// `par`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParConfig {
    /// Use PAR.
    pub enabled: bool,
    /// PAR endpoint (else from discovery).
    pub endpoint: Option<String>,
    /// Auth method at the PAR endpoint (else the token endpoint's).
    pub endpoint_auth_method: Option<AuthMethod>,
}

/// `dpop`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DpopConfig {
    /// Use DPoP.
    pub enabled: bool,
    /// ES256 (default), RS256 or PS256.
    pub signing_alg: String,
    /// PEM private key.
    pub private_key: Option<Secret>,
    /// The matching public JWK.
    pub public_jwk: Option<Value>,
}

/// `claim_validator`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClaimValidator {
    /// `issuer.valid_issuers`; empty → the discovery issuer.
    pub valid_issuers: Vec<String>,
    /// `audience`.
    pub audience: Option<AudienceValidator>,
}

/// `claim_validator.audience`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceValidator {
    /// Claim holding the audience. Default `aud`.
    pub claim: String,
    /// The claim must be present. Default `false`.
    pub required: bool,
    /// The claim must equal or contain `client_id` (implies `required`). Default `false`.
    pub match_with_client_id: bool,
}

/// `session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Key material, at least 16 characters: seals new sessions and opens them.
    pub secret: Secret,
    /// `previous_secrets` (an extension): earlier secrets that still open sessions sealed with
    /// them, so a secret can be rotated without logging everyone out. Empty by default.
    pub previous_secrets: Vec<Secret>,
    /// Cookie name. Default `session`.
    pub cookie_name: String,
    /// Cookie path. Default `/`.
    pub cookie_path: String,
    /// Cookie domain.
    pub cookie_domain: Option<String>,
    /// `Secure` attribute (APISIX default: unset → off).
    pub cookie_secure: Option<bool>,
    /// `HttpOnly`. Default `true`.
    pub cookie_http_only: bool,
    /// `SameSite`. Default `Lax`.
    pub cookie_same_site: SameSite,
    /// Idle timeout, seconds (0 disables). Default 900.
    pub idling_timeout: u64,
    /// Rolling timeout, seconds. Default 3600.
    pub rolling_timeout: u64,
    /// Absolute timeout, seconds. Default 86400 (or the deprecated `cookie.lifetime`).
    pub absolute_timeout: u64,
    /// `cookie` or `redis`.
    pub storage: SessionStorage,
    /// Redis settings when `storage` is `redis`.
    pub redis: Option<RedisConfig>,
}

impl SessionConfig {
    /// The key material of the session and state cookies: `secret` first (it seals), then
    /// `previous_secrets` (they still open), so a rotation logs no one out and breaks no login
    /// in flight.
    pub fn secrets(&self) -> Vec<&[u8]> {
        core::iter::once(&self.secret)
            .chain(&self.previous_secrets)
            .map(|s| s.expose().as_bytes())
            .collect()
    }
}

/// `session.cookie_same_site`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `Strict`.
    Strict,
    /// `Lax`.
    Lax,
    /// `None`.
    None,
    /// `Default`: no attribute.
    Default,
}

/// `session.storage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStorage {
    /// Encrypted cookie.
    Cookie,
    /// Redis.
    Redis,
}

/// `session.redis`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// Default `127.0.0.1`.
    pub host: String,
    /// Default 6379.
    pub port: u16,
    /// ACL user.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Secret>,
    /// Default 0.
    pub database: u32,
    /// Default `sessions`.
    pub prefix: String,
    /// Default `false`.
    pub ssl: bool,
    /// Default `true`.
    pub ssl_verify: bool,
    /// SNI name.
    pub server_name: Option<String>,
    /// ms, default 1000.
    pub connect_timeout: u64,
    /// ms, default 1000.
    pub send_timeout: u64,
    /// ms, default 1000.
    pub read_timeout: u64,
    /// ms, default 10000.
    pub keepalive_timeout: u64,
}
