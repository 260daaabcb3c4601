//! `proxy_opts.http_proxy` / `https_proxy` URLs.
//!
//! The gateway reaches a forward proxy over plain TCP (absolute-form requests for `http://`
//! identity providers, a CONNECT tunnel with TLS inside it for `https://` ones), so the only
//! usable form is `http://host[:port]`. The check is strict on purpose: the IdP client drops
//! a proxy URL it cannot parse and connects directly, which would silently bypass an egress
//! proxy that the network depends on. Every URL accepted here is one the IdP client parses.
//!
//! Messages never repeat the URL: it may carry credentials (`http://user:password@proxy`).

/// A proxy address taken from an accepted URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyAddr<'a> {
    /// Host name, IPv4 address, or IPv6 address without its brackets.
    pub(crate) host: &'a str,
    /// Port; 80 when the URL has none (the `http` default).
    pub(crate) port: u16,
}

/// Parses `http://host[:port]` with at most a trailing `/`. The error is the config message.
pub(crate) fn parse(url: &str) -> Result<ProxyAddr<'_>, &'static str> {
    const FORM: &str = "must be a URL of the form http://host[:port]";
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("must be a URL of the form http://host[:port] (the scheme is missing)");
    };
    if scheme.eq_ignore_ascii_case("https") {
        return Err("must be an http:// URL: the connection to the proxy is plain HTTP (requests \
                    to https identity providers still go through it in an end-to-end TLS \
                    tunnel)");
    }
    if scheme != "http" {
        return Err(if scheme.eq_ignore_ascii_case("http") {
            "must be a URL of the form http://host[:port] (write the scheme in lower case)"
        } else {
            "must be a URL of the form http://host[:port] (only the http scheme is supported)"
        });
    }
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err("must not contain credentials (user:password@); set \
                    http_proxy_authorization / https_proxy_authorization instead");
    }
    if !tail.is_empty() && tail != "/" {
        return Err("must be a URL of the form http://host[:port] (no path, query or fragment)");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or(FORM)?;
        let ipv6 = !host.is_empty()
            && host.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !ipv6 || !host.contains(':') {
            return Err("has an invalid IPv6 address between [ and ]");
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(FORM)?),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("must be a URL of the form http://host[:port] (the host is missing)");
    }
    if !authority.starts_with('[')
        && !host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err("has an invalid host name");
    }
    let port = match port {
        None => 80,
        Some(p) => parse_port(p).ok_or("has an invalid port (expected 1-65535)")?,
    };
    Ok(ProxyAddr { host, port })
}

/// Decimal digits only (`str::parse` would also take a leading `+`), 1..=65535.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|p| *p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_host_port_forms() {
        for (url, host, port) in [
            ("http://proxy:3128", "proxy", 3128),
            ("http://proxy.corp.example", "proxy.corp.example", 80),
            ("http://proxy.corp.example:8080/", "proxy.corp.example", 8080),
            ("http://10.0.0.1:3128", "10.0.0.1", 3128),
            ("http://[::1]:3128", "::1", 3128),
            ("http://[2001:db8::1]", "2001:db8::1", 80),
            ("http://egress_proxy:65535", "egress_proxy", 65535),
        ] {
            assert_eq!(parse(url), Ok(ProxyAddr { host, port }), "{url}");
        }
    }

    #[test]
    fn refuses_what_the_idp_client_cannot_use() {
        for url in [
            "",
            "proxy:3128",
            "https://proxy:3128",
            "HTTP://proxy:3128",
            "socks5://proxy:1080",
            "http://user:pass@proxy:3128",
            "http://",
            "http://:3128",
            "http://proxy:",
            "http://proxy:0",
            "http://proxy:65536",
            "http://proxy:+80",
            "http://proxy:80:80",
            "http://proxy/path",
            "http://proxy?x=1",
            "http://proxy#frag",
            "http://pro xy",
            "http://[::1",
            "http://[]:80",
            "http://[::1]x",
            "http://[zz::1]",
            " http://proxy",
        ] {
            assert!(parse(url).is_err(), "{url:?} accepted");
        }
    }

    #[test]
    fn messages_never_repeat_the_url() {
        let msg = parse("http://alice:s3cr3t@proxy:3128").unwrap_err();
        assert!(!msg.contains("s3cr3t") && !msg.contains("alice"), "{msg}");
    }
}
