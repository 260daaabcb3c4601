//! The claim-schema seam: how a route's `claim_schema` (a JSON Schema the token's claims must
//! satisfy, as in APISIX) is compiled and checked.
//!
//! A JSON Schema validator is large, needs `std` in every good implementation, and is a policy
//! choice (which drafts, which formats, which regular-expression engine), so this crate ships
//! none. The embedder plugs one in, the way it picks a [`crate::crypto::CryptoProvider`]:
//!
//! - a [`SchemaCompiler`] turns the configured schema into a [`ClaimSchema`] once, when the
//!   configuration is loaded ([`OidcConfig::from_value_with`](crate::config::OidcConfig::from_value_with));
//!   a schema it cannot enforce *exactly* is refused there, named by its path;
//! - the compiled [`ClaimSchema`] travels with the route's configuration
//!   ([`OidcConfig::compiled_claim_schema`](crate::config::OidcConfig::compiled_claim_schema))
//!   and is asked, for every accepted token, whether its claims satisfy the schema.
//!
//! A configuration loaded without a compiler refuses a `claim_schema`: a schema that is
//! accepted but not enforced lets through exactly the tokens it was written to stop.
//!
//! The gateway's implementation (on the `jsonschema` crate, JSON-Schema-Test-Suite-proven) is
//! `oidc_proxy::schema`.

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;

use serde_json::{Map, Value};

/// A compiled claim schema. Implementations must be cheap to call on the request path and must
/// not do I/O.
pub trait ClaimSchema: fmt::Debug + Send + Sync {
    /// Whether `claims` (a JWT payload or an introspection response) satisfy the schema. The
    /// error names where the *schema* failed, never a claim value: it may reach logs.
    fn check(&self, claims: &Map<String, Value>) -> Result<(), SchemaViolation>;
}

/// Compiles `claim_schema` values into [`ClaimSchema`]s.
pub trait SchemaCompiler: fmt::Debug + Send + Sync {
    /// Compiles `schema`. Must refuse (never silently ignore) a schema that is invalid or that
    /// uses a draft, keyword, format or reference the implementation does not enforce, and must
    /// not fetch anything. The error is a message that reads after the member's path, lowercase,
    /// without a trailing period: `claim_schema: <message>`.
    fn compile(&self, schema: &Value) -> Result<Arc<dyn ClaimSchema>, String>;
}

/// Why claims failed a schema: the schema keyword and its location in the configured schema.
/// Both come from the configuration, never from the token, so the value is safe to log; it is
/// still not meant for the client (a gateway answers 401 `invalid_token` with a fixed text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaViolation {
    /// The failing keyword (`required`, `type`, `pattern`, ...).
    pub keyword: String,
    /// JSON Pointer to that keyword in the configured schema (`/properties/email/type`).
    pub schema_path: String,
}

impl SchemaViolation {
    /// A violation of `keyword` at `schema_path`.
    pub fn new(keyword: impl Into<String>, schema_path: impl Into<String>) -> Self {
        Self { keyword: keyword.into(), schema_path: schema_path.into() }
    }
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "claims do not satisfy claim_schema: \"{}\" at {}",
            self.keyword, self.schema_path
        )
    }
}

/// A compiled `claim_schema` held by a configuration. Two are equal only when they are the same
/// compiled object (a compiled schema has no meaningful structural equality; the source
/// schema, [`OidcConfig::claim_schema`](crate::config::OidcConfig::claim_schema), is compared
/// alongside it).
#[derive(Clone)]
pub struct CompiledClaimSchema(Arc<dyn ClaimSchema>);

impl CompiledClaimSchema {
    /// Wraps a compiled schema.
    pub fn new(schema: Arc<dyn ClaimSchema>) -> Self {
        Self(schema)
    }

    /// The compiled schema.
    pub fn get(&self) -> &Arc<dyn ClaimSchema> {
        &self.0
    }

    /// [`ClaimSchema::check`].
    pub fn check(&self, claims: &Map<String, Value>) -> Result<(), SchemaViolation> {
        self.0.check(claims)
    }
}

impl fmt::Debug for CompiledClaimSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq for CompiledClaimSchema {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
