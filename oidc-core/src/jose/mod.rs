//! JOSE: base64url, JWS compact, JWK/JWKS, PEM public keys, claims validation, verification
//! and the verified-token cache. Pure functions and types, usable without the engine.

pub mod alg;
pub mod base64url;
pub mod json;
pub mod jwk;
pub mod jws;
pub mod key;
pub mod pem;
mod roca;

pub use alg::{Algorithm, Curve, Hash, KeyFamily};
pub use jwk::{JwkOptions, JwksError, KeySet, KeySource};
pub use jws::{CompactJws, Header, JwsError, JwsLimits};
pub use key::{KeyError, KeyPolicy, VerifyingKey};
pub mod cache;
pub mod claims;
pub mod verify;

pub use cache::{CacheConfig, CacheOutcome, TokenCache};
pub use claims::{ClaimError, ClaimPolicy, RegisteredClaims, TypPolicy, ValidityWindow};
pub use verify::{AlgorithmPolicy, JwtValidator, VerifiedToken, VerifyError};
