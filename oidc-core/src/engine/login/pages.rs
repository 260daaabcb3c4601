//! The gateway's own responses in the login flow: redirects and small HTML pages built from
//! fixed text and configuration only (nothing from the request or the provider is shown; the
//! reason code goes to the log).

use alloc::string::String;
use alloc::vec::Vec;

use super::start::cookie_headers;
use crate::engine::decision::{Decision, Denial, Reason, Response};

/// Pages run no script, load nothing and cannot be framed; they only post forms back here.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";

/// A 302 that also sets `cookies`; never cached.
pub(super) fn redirect(reason: Reason, location: String, cookies: Vec<String>) -> Decision {
    let mut headers = alloc::vec![("location", location), ("cache-control", no_store())];
    headers.extend(cookie_headers(cookies));
    Decision::Respond(Response {
        status: 302,
        reason,
        headers,
        content_type: "text/plain; charset=utf-8",
        body: String::new(),
    })
}

fn no_store() -> String {
    String::from("no-store")
}

/// A small HTML page.
pub(super) fn page(
    status: u16,
    reason: Reason,
    title: &str,
    message: &str,
    extra_html: &str,
    cookies: Vec<String>,
) -> Decision {
    let mut body = String::with_capacity(512);
    body.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    escape_into(&mut body, title);
    body.push_str("</title><meta name=\"viewport\" content=\"width=device-width\"></head><body>");
    body.push_str("<h1>");
    escape_into(&mut body, title);
    body.push_str("</h1><p>");
    escape_into(&mut body, message);
    body.push_str("</p>");
    body.push_str(extra_html);
    body.push_str("</body></html>\n");
    let mut headers = alloc::vec![
        ("cache-control", no_store()),
        ("content-security-policy", String::from(PAGE_CSP)),
        ("x-content-type-options", String::from("nosniff")),
    ];
    headers.extend(cookie_headers(cookies));
    Decision::Respond(Response {
        status,
        reason,
        headers,
        content_type: "text/html; charset=utf-8",
        body,
    })
}

/// A login that cannot finish, with a link to start over at `/`.
pub(super) fn login_failed(status: u16, reason: Reason, cookies: Vec<String>) -> Decision {
    page(
        status,
        reason,
        "Sign-in failed",
        "The sign-in could not be completed. You can try again.",
        "<p><a href=\"/\">Start over</a></p>",
        cookies,
    )
}

/// The end of a login whose session cookie is `SameSite=Strict`: a page that moves on to
/// `location` by itself (a same-site navigation, which carries the cookie).
pub(super) fn continue_page(location: &str, cookies: Vec<String>) -> Decision {
    let mut extra = String::from("<meta http-equiv=\"refresh\" content=\"0;url=");
    escape_into(&mut extra, location);
    extra.push_str("\"><p><a href=\"");
    escape_into(&mut extra, location);
    extra.push_str("\">Continue</a></p>");
    page(200, Reason::LoginComplete, "Signed in", "Signed in.", &extra, cookies)
}

/// The route cannot run its login as configured (logged with the reason; 500).
pub(super) fn misconfigured() -> Decision {
    Decision::Deny(Denial::other(500, Reason::Misconfigured, "gateway misconfigured"))
}

/// The "confirm logout" page: a form that posts to the logout path from this origin.
pub(super) fn logout_confirm(logout_path: &str) -> Decision {
    let mut form = String::from("<form method=\"post\" action=\"");
    escape_into(&mut form, logout_path);
    form.push_str("\"><button type=\"submit\">Sign out</button></form>");
    page(200, Reason::LogoutConfirm, "Sign out", "Do you want to sign out?", &form, Vec::new())
}

/// HTML text and attribute escaping.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_paths_are_escaped_in_the_logout_form() {
        let Decision::Respond(r) = logout_confirm("/out\"><script>x</script>") else { panic!() };
        assert!(!r.body.contains("<script>"));
        assert!(r.body.contains("/out&quot;&gt;&lt;script&gt;"));
        assert_eq!(r.content_type, "text/html; charset=utf-8");
    }
}
