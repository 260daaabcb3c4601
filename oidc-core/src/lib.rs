#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]
#![warn(missing_docs)]
//! A sans-IO OpenID Connect / OAuth 2.0 core: the protocol brain of an authentication gateway.
//!
//! `oidc-core` is `#![no_std]` + `alloc` and `forbid(unsafe_code)`. It never opens a socket,
//! reads a clock or asks the operating system for randomness: callers pass bytes, the current
//! time ([`UnixTime`]) and, where needed, randomness, and get back values and decisions. That is
//! what lets one core run under monoio, smol, a blocking loop or a fuzzer, and be tested without
//! sockets or sleeps.
//!
//! # Layers
//!
//! - [`jose`]: strict base64url, strict JSON (duplicate members rejected), JWS compact parsing,
//!   JWK / JWK Set loading, PEM public keys, claim validation, JWT verification and a bounded
//!   verified-token cache. Pure functions and types, usable alone.
//! - [`crypto`]: the crypto-provider seam. RustCrypto (pure Rust, `no_std`) is always present;
//!   the `aws-lc` feature adds aws-lc-rs, the faster backend the gateway binaries use. Every
//!   public test-vector suite runs on both.
//! - [`discovery`]: OpenID Provider metadata parsing and the issuer check of Discovery §4.3.
//! - [`config`]: the APISIX `openid-connect` plugin configuration, validated with every error
//!   named by its path.
//! - [`claim_schema`]: the seam for `claim_schema` enforcement. The embedder supplies the JSON
//!   Schema implementation; this crate has none and refuses a schema it cannot enforce.
//! - [`authz`]: the browser login's front half: the authorization request (state, nonce,
//!   PKCE S256), the short-lived per-flow state cookie that lets several tabs log in at once,
//!   and the callback parser that matches a returning browser to its flow.
//! - [`session`]: the browser session cookie: AES-256-GCM sealed, bound to its issuer, client
//!   and cookie name, chunked, with key rotation and the APISIX session timeouts. Pure: the
//!   caller passes the time and the randomness.
//! - [`engine`]: the sans-IO engine. Requests, the identity provider's answers and time go in;
//!   HTTP intents for the identity provider and decisions come out. Its module documentation
//!   states the run-loop contract (feed an input, drain outputs until `Idle`, answer every
//!   intent exactly once) with a runnable example; `examples/blocking_gateway.rs` embeds it in a
//!   plain `std::net` loop and `examples/glommio_gateway.rs` on glommio's io_uring executor.
//!
//! # Verifying a token
//!
//! Keys are loaded once (from a provider's JWKS, a PEM `public_key`, or configuration) into a
//! [`KeySet`](jose::KeySet); a [`JwtValidator`](jose::JwtValidator) holds the algorithm and
//! claim policies; [`verify`](jose::JwtValidator::verify) does the rest. This example checks the
//! RFC 7519 §3.1 token with its HMAC key (from configuration: HMAC keys never come from a
//! fetched key set):
//!
//! ```
//! use oidc_core::UnixTime;
//! use oidc_core::crypto::default_provider;
//! use oidc_core::jose::{
//!     AlgorithmPolicy, ClaimError, ClaimPolicy, JwkOptions, JwtValidator, KeySet, VerifyError,
//! };
//!
//! let jwks = br#"{"keys":[{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}]}"#;
//! let keys = KeySet::from_jwks_json(jwks, &JwkOptions::CONFIGURED, default_provider())?;
//!
//! let validator = JwtValidator::new(
//!     AlgorithmPolicy::default(), // every signed algorithm, each only with a key of its family
//!     ClaimPolicy { issuers: Some(vec!["joe".into()]), leeway: 60, ..ClaimPolicy::default() },
//! );
//! let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.\
//!              eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.\
//!              dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
//!
//! // The caller supplies the time: before exp + leeway the token is valid ...
//! let verified = validator.verify(token, &keys, UnixTime::from_secs(1_300_819_380))?;
//! assert_eq!(verified.str_claim("iss"), Some("joe"));
//! // ... and after it, it is not, with a typed reason.
//! let late = validator.verify(token, &keys, UnixTime::from_secs(1_300_819_440));
//! assert_eq!(late.unwrap_err(), VerifyError::Claims(ClaimError::Expired));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security properties
//!
//! - The key decides the algorithm family: an RSA, EC or OKP key never verifies an HS* token,
//!   HMAC keys come only from configuration, and a JWK `alg` must equal the token's.
//! - `alg: none` is refused unless a policy explicitly allows it.
//! - `jku`, `x5u`, `jwk` and `x5c` in a token header are never used; `crit` is refused.
//! - Base64url and JSON are parsed strictly (one encoding per value, no duplicate members), with
//!   size limits checked before decoding. No parser panics on any input (property-tested).
//! - Errors are typed by what failed ([`jose::VerifyError`], [`jose::ClaimError`],
//!   [`jose::KeyError`], ...) and never carry token-controlled text.
//!
//! # Features
//!
//! - `std`: `std::error::Error` impls only.
//! - `aws-lc`: the aws-lc-rs crypto provider (implies `std`).
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod authz;
pub mod claim_schema;
pub mod config;
pub mod crypto;
pub mod discovery;
pub mod engine;
pub mod jose;
pub mod session;
pub mod time;
mod util;

pub use time::UnixTime;

#[cfg(feature = "std")]
mod std_impls {
    //! `std::error::Error` for the public error types.
    use crate::config::{ConfigError, ConfigErrors};
    use crate::crypto::{AeadError, BadSignature, KeyRejected};
    use crate::discovery::DiscoveryError;
    use crate::jose::base64url::Base64Error;
    use crate::jose::json::JsonError;
    use crate::jose::{ClaimError, JwksError, JwsError, KeyError, VerifyError};
    use crate::session::{CodecError, SealError};

    impl std::error::Error for crate::authz::AuthzError {}
    impl std::error::Error for ConfigError {}
    impl std::error::Error for ConfigErrors {}
    impl std::error::Error for BadSignature {}
    impl std::error::Error for AeadError {}
    impl std::error::Error for CodecError {}
    impl std::error::Error for SealError {}
    impl std::error::Error for KeyRejected {}
    impl std::error::Error for DiscoveryError {}
    impl std::error::Error for Base64Error {}
    impl std::error::Error for JsonError {}
    impl std::error::Error for ClaimError {}
    impl std::error::Error for JwksError {}
    impl std::error::Error for JwsError {}
    impl std::error::Error for KeyError {}
    impl std::error::Error for VerifyError {}
    impl std::error::Error for crate::engine::ApiMisuse {}
    impl std::error::Error for crate::engine::RouteError {}
    impl std::error::Error for crate::claim_schema::SchemaViolation {}
}
