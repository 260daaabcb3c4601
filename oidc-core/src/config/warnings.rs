//! Problems that do not refuse a config but deserve a log line (APISIX `check_https` and
//! `check_tls_bool`, adapted to what this gateway accepts).

use alloc::string::String;
use alloc::vec::Vec;

use super::ConfigError;
use super::model::OidcConfig;

const NOT_HTTPS: &str = "is not https: traffic to and from it can be read and changed in transit";
const PROXY_CREDENTIALS: &str =
    "is sent to the proxy in clear text: the connection to a forward proxy is plain HTTP";

/// Every warning for `cfg`, in member order. Paths are relative to the plugin object.
pub(super) fn collect(cfg: &OidcConfig) -> Vec<ConfigError> {
    let mut out = Vec::new();
    let mut check = |path: &str, url: Option<&str>, relative_ok: bool| {
        let Some(url) = url else { return };
        // A relative redirect URI takes its scheme from the request, not from the config.
        if relative_ok && url.starts_with('/') {
            return;
        }
        if !is_https(url) {
            out.push(ConfigError { path: String::from(path), message: String::from(NOT_HTTPS) });
        }
    };
    check("discovery", Some(&cfg.discovery), false);
    check("introspection_endpoint", cfg.introspection_endpoint.as_deref(), false);
    check("redirect_uri", cfg.redirect_uri.as_deref(), true);
    check("post_logout_redirect_uri", cfg.post_logout_redirect_uri.as_deref(), true);
    check("par.endpoint", cfg.par.as_ref().and_then(|p| p.endpoint.as_deref()), false);
    // APISIX warns about a non-https proxy URL; here every accepted proxy URL is http:// (the
    // gateway speaks plain HTTP to its proxy), so only what that exposes is worth a warning:
    // the proxy credentials.
    if let Some(proxy) = &cfg.proxy_opts {
        for (path, auth) in [
            ("proxy_opts.http_proxy_authorization", &proxy.http_proxy_authorization),
            ("proxy_opts.https_proxy_authorization", &proxy.https_proxy_authorization),
        ] {
            if auth.is_some() {
                out.push(ConfigError {
                    path: String::from(path),
                    message: String::from(PROXY_CREDENTIALS),
                });
            }
        }
    }
    if !cfg.ssl_verify {
        out.push(ConfigError {
            path: String::from("ssl_verify"),
            message: String::from(
                "is false: the identity provider's TLS certificate is not verified",
            ),
        });
    }
    out
}

/// `https://…`, scheme compared case-insensitively.
fn is_https(url: &str) -> bool {
    url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}
