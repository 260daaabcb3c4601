//! End-to-end tests of the gateway binaries against a real OpenID Provider (`oidc-provider` from
//! npm) and a real browser (headless Chromium). The tests live in `tests/`; this library holds
//! their shared harness as it grows.
