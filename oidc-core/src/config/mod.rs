//! The plugin configuration: loading, validation and warnings.
//!
//! [`OidcConfig::from_json`] and [`OidcConfig::from_value`] read the APISIX `openid-connect`
//! object into the validated types of [`model`], checking every member's type, range and
//! enumeration and the rules between members. They do not stop at the first problem: every
//! problem is reported, named by its path (`session.secret`, `claim_validator.audience.claim`,
//! `introspection_addon_headers[1]`), in a fixed order (root members in [`OidcConfig`] field
//! order, then the rules between members).
//!
//! Where APISIX is looser, this loader refuses what would fail or misbehave at request time:
//! unknown client authentication methods, unknown `token_signing_alg_values_expected` names,
//! a `private_key_jwt` endpoint without a key, a private key that does not parse or does not fit
//! `client_jwt_assertion_alg`, an assertion algorithm the signer does not implement (`ES512`),
//! DPoP key material that does not fit or is not one pair, and proxy URLs the IdP client would
//! ignore (and so connect directly).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use crate::claim_schema::SchemaCompiler;
use crate::jose::json;

mod keys;
pub mod model;
mod parse;
pub(crate) mod private_key;
mod proxy_url;
mod reader;
pub use reader::type_name;
mod secret;
pub use secret::Secret;
mod session;
mod validate;
mod warnings;

pub use model::*;

/// One configuration problem, named by its path (e.g. `session.secret`,
/// `claim_validator.audience.claim`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path of the member, with `[i]` for array items; empty for the document itself.
    pub path: String,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found, in a fixed order (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    /// One `path: message` per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl OidcConfig {
    /// Parses the plugin's JSON object (strict JSON: duplicate members are refused) and
    /// validates it. There is no schema compiler: a `claim_schema` is refused.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigErrors> {
        let value = json::parse_value(bytes).map_err(|e| {
            ConfigErrors(alloc::vec![ConfigError { path: String::new(), message: e.to_string() }])
        })?;
        Self::from_value(&value, "")
    }

    /// Validates an already parsed value. `base` prefixes every error path (e.g.
    /// `routes[2].plugins.openid-connect`), joined with `.`; when it is empty the path is just
    /// the member's. There is no schema compiler: a `claim_schema` is refused (use
    /// [`Self::from_value_with`]).
    pub fn from_value(value: &Value, base: &str) -> Result<Self, ConfigErrors> {
        Self::load(value, base, None)
    }

    /// [`Self::from_value`], compiling `claim_schema` with `schemas` into
    /// [`Self::compiled_claim_schema`]; a schema the compiler refuses is an error at
    /// `claim_schema`.
    pub fn from_value_with(
        value: &Value,
        base: &str,
        schemas: &dyn SchemaCompiler,
    ) -> Result<Self, ConfigErrors> {
        Self::load(value, base, Some(schemas))
    }

    fn load(
        value: &Value,
        base: &str,
        schemas: Option<&dyn SchemaCompiler>,
    ) -> Result<Self, ConfigErrors> {
        let mut errs = reader::Errors::default();
        let Some(root) = reader::Obj::new(value, String::from(base), &mut errs) else {
            return Err(ConfigErrors(errs.0));
        };
        let (config, facts) = parse::root(&root, schemas, &mut errs);
        validate::cross_member(&config, &facts, &root, &mut errs);
        if errs.0.is_empty() { Ok(config) } else { Err(ConfigErrors(errs.0)) }
    }

    /// Warnings that do not refuse the config (APISIX `check_https` / `check_tls_bool`): a
    /// non-https `discovery`, `introspection_endpoint`, absolute `redirect_uri` or
    /// `post_logout_redirect_uri`, `par.endpoint`, proxy credentials (sent to the proxy in clear:
    /// proxy URLs can only be `http://`), and `ssl_verify: false`. Paths are relative to the
    /// plugin object.
    pub fn warnings(&self) -> Vec<ConfigError> {
        warnings::collect(self)
    }

    /// Whether the bearer branch runs, as in APISIX: `bearer_only`, `introspection_endpoint`,
    /// `public_key` or `use_jwks`.
    pub fn bearer_branch(&self) -> bool {
        self.bearer_only
            || self.introspection_endpoint.is_some()
            || self.public_key.is_some()
            || self.use_jwks
    }
}
