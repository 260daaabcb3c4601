//! The callback: the provider sends the browser back to `redirect_uri` with a `code` (or an
//! `error`) and the `state` of the flow it belongs to.

use alloc::string::String;
use core::fmt;

use zeroize::Zeroizing;

use super::encode::form_decode;
use super::flows::FlowSet;
use super::request::FlowState;

/// Longest request target parsed; a longer one is [`Malformed::TooLong`] before any decoding.
pub const MAX_TARGET: usize = 8192;
/// Longest authorization code accepted (decoded).
pub const MAX_CODE: usize = 4096;
/// Longest `state` accepted (decoded); ours are 22 characters.
pub const MAX_STATE: usize = 128;
/// Longest `iss` accepted (decoded).
pub const MAX_ISS: usize = 1024;
/// Longest `error` value looked at; a longer one is [`IdpErrorCode::Other`].
const MAX_ERROR: usize = 64;

/// Why a callback request could not be read. The client's text is never kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Malformed {
    /// The target is longer than [`MAX_TARGET`].
    TooLong,
    /// Bytes outside printable ASCII, a bad `%` escape, or invalid UTF-8.
    BadEncoding,
    /// `code`, `state`, `error` or `iss` appears twice (RFC 6749 §3.1).
    Duplicate,
    /// A value longer than its limit.
    FieldTooLong,
    /// No `state`.
    MissingState,
    /// Neither `code` nor `error`.
    MissingCode,
}

impl Malformed {
    /// A stable snake_case code for logs and metrics.
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::BadEncoding => "bad_encoding",
            Self::Duplicate => "duplicate_parameter",
            Self::FieldTooLong => "field_too_long",
            Self::MissingState => "missing_state",
            Self::MissingCode => "missing_code",
        }
    }
}

/// The `error` of an authorization error response (RFC 6749 §4.1.2.1, OpenID Connect Core
/// §3.1.2.6), reduced to the known codes so that no client text goes further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdpErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `access_denied`: the user declined.
    AccessDenied,
    /// `unsupported_response_type`
    UnsupportedResponseType,
    /// `invalid_scope`
    InvalidScope,
    /// `server_error`
    ServerError,
    /// `temporarily_unavailable`: worth restarting the flow (APISIX does, bounded).
    TemporarilyUnavailable,
    /// `interaction_required`
    InteractionRequired,
    /// `login_required`: a `prompt=none` request found no login.
    LoginRequired,
    /// `account_selection_required`
    AccountSelectionRequired,
    /// `consent_required`
    ConsentRequired,
    /// `invalid_request_uri`
    InvalidRequestUri,
    /// `invalid_request_object`
    InvalidRequestObject,
    /// `request_not_supported`
    RequestNotSupported,
    /// `request_uri_not_supported`
    RequestUriNotSupported,
    /// `registration_not_supported`
    RegistrationNotSupported,
    /// Anything else.
    Other,
}

impl IdpErrorCode {
    const ALL: [(Self, &'static str); 16] = [
        (Self::InvalidRequest, "invalid_request"),
        (Self::UnauthorizedClient, "unauthorized_client"),
        (Self::AccessDenied, "access_denied"),
        (Self::UnsupportedResponseType, "unsupported_response_type"),
        (Self::InvalidScope, "invalid_scope"),
        (Self::ServerError, "server_error"),
        (Self::TemporarilyUnavailable, "temporarily_unavailable"),
        (Self::InteractionRequired, "interaction_required"),
        (Self::LoginRequired, "login_required"),
        (Self::AccountSelectionRequired, "account_selection_required"),
        (Self::ConsentRequired, "consent_required"),
        (Self::InvalidRequestUri, "invalid_request_uri"),
        (Self::InvalidRequestObject, "invalid_request_object"),
        (Self::RequestNotSupported, "request_not_supported"),
        (Self::RequestUriNotSupported, "request_uri_not_supported"),
        (Self::RegistrationNotSupported, "registration_not_supported"),
    ];

    /// The code for an `error` value; unknown values are [`Self::Other`].
    pub fn from_value(value: &str) -> Self {
        Self::ALL.iter().find(|(_, name)| *name == value).map_or(Self::Other, |(code, _)| *code)
    }

    /// The code as the specifications spell it (`"other"` for [`Self::Other`]): fixed text,
    /// safe for logs, metrics and pages.
    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(code, _)| *code == self).map_or("other", |(_, name)| name)
    }
}

/// An authorization code: a short-lived credential, wiped on drop and never printed.
pub struct AuthorizationCode(Zeroizing<String>);

impl AuthorizationCode {
    /// The code, for the token request.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorizationCode(<redacted>)")
    }
}

/// The parameters of a callback request, decoded and bounded.
#[derive(Debug, Default)]
pub struct CallbackParams {
    /// `code`.
    pub code: Option<AuthorizationCode>,
    /// `state`.
    pub state: Option<String>,
    /// `error`, reduced to a known code.
    pub error: Option<IdpErrorCode>,
    /// Whether an `error_description` was present (its text is dropped: it is the provider's
    /// or an attacker's, and pages and headers must not repeat it).
    pub has_error_description: bool,
    /// `iss` (RFC 9207).
    pub iss: Option<String>,
}

/// Parses the query of a callback's request target (`/cb?code=...&state=...`). Unknown
/// parameters are ignored, a fragment is cut off, and every failure is a [`Malformed`] reason:
/// no input panics or allocates more than [`MAX_TARGET`] bytes.
pub fn parse_callback(target: &[u8]) -> Result<CallbackParams, Malformed> {
    if target.len() > MAX_TARGET {
        return Err(Malformed::TooLong);
    }
    if !target.iter().all(|&b| b > 0x20 && b < 0x7f) {
        return Err(Malformed::BadEncoding);
    }
    let target = target.split(|&b| b == b'#').next().unwrap_or_default();
    let query = match target.iter().position(|&b| b == b'?') {
        Some(at) => target.get(at + 1..).unwrap_or_default(),
        None => &[],
    };
    let mut params = CallbackParams::default();
    for pair in query.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => {
                (pair.get(..eq).unwrap_or_default(), pair.get(eq + 1..).unwrap_or_default())
            }
            None => (pair, &[][..]),
        };
        // Names are compared raw: ours need no escaping, and a percent-encoded `state` name
        // is not one a provider sends.
        match name {
            b"code" => {
                let v = bounded(value, MAX_CODE)?;
                set_once(&mut params.code, AuthorizationCode(Zeroizing::new(v)))?;
            }
            b"state" => set_once(&mut params.state, bounded(value, MAX_STATE)?)?,
            b"iss" => set_once(&mut params.iss, bounded(value, MAX_ISS)?)?,
            b"error" => {
                let code = if value.len() > MAX_ERROR * 3 {
                    IdpErrorCode::Other
                } else {
                    form_decode(value).map_or(IdpErrorCode::Other, |v| IdpErrorCode::from_value(&v))
                };
                set_once(&mut params.error, code)?;
            }
            b"error_description" => params.has_error_description = true,
            _ => {}
        }
    }
    Ok(params)
}

fn bounded(value: &[u8], max: usize) -> Result<String, Malformed> {
    // Escapes only shrink a value, so the raw length bounds the work before decoding.
    if value.len() > max.saturating_mul(3) {
        return Err(Malformed::FieldTooLong);
    }
    let decoded = form_decode(value).ok_or(Malformed::BadEncoding)?;
    if decoded.len() > max {
        return Err(Malformed::FieldTooLong);
    }
    Ok(decoded)
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), Malformed> {
    if slot.is_some() {
        return Err(Malformed::Duplicate);
    }
    *slot = Some(value);
    Ok(())
}

/// What the callback must match for RFC 9207 (authorization server issuer identification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuerCheck<'a> {
    /// The provider's `issuer` from its metadata.
    pub expected: &'a str,
    /// The provider advertises `authorization_response_iss_parameter_supported`: a callback
    /// without `iss` is then refused too.
    pub required: bool,
}

/// What a callback request means.
#[derive(Debug)]
#[must_use]
pub enum Callback {
    /// A code for a live flow: exchange it, with the flow's verifier and redirect URI.
    Code {
        /// The authorization code.
        code: AuthorizationCode,
        /// The flow it belongs to (removed from the set).
        flow: FlowState,
    },
    /// The provider answered a live flow with an error.
    IdpError {
        /// The error, reduced to a known code.
        error: IdpErrorCode,
        /// The flow it belongs to (removed from the set).
        flow: FlowState,
    },
    /// The `state` matches no live flow: forged, replayed, expired, or its cookie was lost.
    /// The caller restarts the login (bounded) rather than failing.
    UnknownState,
    /// The `iss` parameter is absent when required or names another issuer: a possible
    /// mix-up attack (RFC 9207). The flow is consumed; do not exchange anything.
    IssuerMismatch {
        /// The flow the `state` matched (removed from the set).
        flow: FlowState,
    },
    /// The request could not be read.
    Malformed(Malformed),
}

impl Callback {
    /// A stable snake_case code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Code { .. } => "code",
            Self::IdpError { .. } => "idp_error",
            Self::UnknownState => "unknown_state",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::Malformed(m) => m.code(),
        }
    }
}

/// Reads a callback's request target and matches it to one of `flows`, which loses the flow
/// it matched (re-seal the set in the response so that the state cannot be used twice).
/// `issuer`: the RFC 9207 check, when the provider's issuer is known.
pub fn resolve_callback(
    target: &[u8],
    flows: &mut FlowSet,
    issuer: Option<IssuerCheck<'_>>,
) -> Callback {
    let params = match parse_callback(target) {
        Ok(p) => p,
        Err(why) => return Callback::Malformed(why),
    };
    let Some(state) = params.state.as_deref() else {
        return Callback::Malformed(Malformed::MissingState);
    };
    if params.code.is_none() && params.error.is_none() {
        return Callback::Malformed(Malformed::MissingCode);
    }
    let Some(flow) = flows.take(state) else {
        return Callback::UnknownState;
    };
    if let Some(check) = issuer {
        let ok = match params.iss.as_deref() {
            Some(iss) => iss == check.expected,
            None => !check.required,
        };
        if !ok {
            return Callback::IssuerMismatch { flow };
        }
    }
    // An error response carries no code (RFC 6749 §4.1.2.1); if both came, the error wins.
    match (params.error, params.code) {
        (Some(error), _) => Callback::IdpError { error, flow },
        (None, Some(code)) => Callback::Code { code, flow },
        (None, None) => Callback::Malformed(Malformed::MissingCode),
    }
}
