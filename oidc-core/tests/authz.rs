//! The authorization request, the per-flow state cookie and the callback: every parameter in
//! the URL, encoded; PKCE against RFC 7636 Appendix B; options that turn nonce and PKCE off;
//! `authorization_params` never replacing a protocol parameter; several tabs; replayed and
//! unknown states; the state cookie's round trip, tamper and binding properties on every crypto
//! provider; and a callback parser that never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use oidc_core::UnixTime;
use oidc_core::authz::{
    Callback, DEFAULT_FLOW_TTL, FlowCodec, FlowSet, IdpErrorCode, IssuerCheck, MAX_FLOWS,
    Malformed, NoFlows, OpenedFlows, RESERVED_PARAMS, authorization_request, default_redirect_path,
    parse_callback, pkce_challenge, resolve_callback,
};
use oidc_core::config::OidcConfig;
use oidc_core::crypto::{CryptoProvider, all_providers, default_provider};
use oidc_core::engine::Entropy;
use oidc_core::session::{Binding, CookieSettings};
use proptest::prelude::*;

/// A seeded PRNG (SplitMix64).
struct Rng(u64);

impl Entropy for Rng {
    fn fill_public(&mut self, b: &mut [u8]) {
        self.fill_secret(b);
    }
    fn fill_secret(&mut self, b: &mut [u8]) {
        for chunk in b.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

const SECRET: &[u8] = b"first secret, 32 bytes or so....";
const ISSUER: &str = "https://idp.example/.well-known/openid-configuration";
const ENDPOINT: &str = "https://idp.example/authorize";
const REDIRECT: &str = "https://app.example/cb?x=1";
const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

fn config(extra: &str) -> OidcConfig {
    let json = format!(
        r#"{{"client_id": "my app&co", "client_secret": "0123456789abcdef",
            "discovery": "{ISSUER}", "scope": "openid email",
            "session": {{"secret": "a secret of at least 16 bytes"}} {extra}}}"#
    );
    OidcConfig::from_json(json.as_bytes()).unwrap()
}

fn codec_on(provider: &dyn CryptoProvider, client_id: &str) -> FlowCodec {
    FlowCodec::new(
        &[SECRET],
        Binding { issuer: ISSUER, client_id },
        &CookieSettings::new("session"),
        provider,
    )
    .unwrap()
}

fn codec() -> FlowCodec {
    codec_on(default_provider(), "app")
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => panic!("a space must be %20 in a query we build"),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The query's pairs, decoded, in order.
fn query(location: &str) -> Vec<(String, String)> {
    let (_, q) = location.split_once('?').unwrap();
    q.split('&')
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap();
            // Only RFC 3986 unreserved characters and escapes: nothing any parser reads two ways.
            assert!(p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%=".contains(&b)), "{p}");
            (decode(n), decode(v))
        })
        .collect()
}

fn one<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut it = pairs.iter().filter(|(n, _)| n == name);
    let first = it.next().map(|(_, v)| v.as_str());
    assert!(it.next().is_none(), "{name} appears twice");
    first
}

/// The `Cookie` header that carries a `Set-Cookie` back.
fn cookie_header(set: &oidc_core::session::SetCookie) -> String {
    format!("other=1; {}={}", set.name(), set.value())
}

/// Starts a login in a browser whose state cookie is `header` (if any): the new state and the
/// new `Cookie` header.
fn start_login(
    codec: &FlowCodec,
    header: Option<&str>,
    page: &str,
    now: UnixTime,
    rng: &mut Rng,
) -> (String, String) {
    let req = authorization_request(ENDPOINT, &config(""), REDIRECT, page, now, rng).unwrap();
    let state = req.flow.state().to_owned();
    let mut set = codec.open(header.map(str::as_bytes), now).into_set();
    set.push(req.flow);
    let sc = codec.seal(&mut set, now, rng, true).unwrap();
    (state, cookie_header(&sc))
}

#[test]
fn url_carries_every_parameter_encoded() {
    let mut rng = Rng(1);
    let cfg = config(
        r#", "authorization_params": {"prompt": "login consent", "max_age": 300, "ui_locales": "fr-CA é", "x": true}"#,
    );
    let req = authorization_request(ENDPOINT, &cfg, REDIRECT, "/page?a=b", NOW, &mut rng).unwrap();
    assert!(
        req.location.starts_with("https://idp.example/authorize?response_type=code&client_id=")
    );
    let q = query(&req.location);
    let names: Vec<&str> = q.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[..8],
        [
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method"
        ]
    );
    assert_eq!(one(&q, "response_type"), Some("code"));
    assert_eq!(one(&q, "client_id"), Some("my app&co"));
    assert_eq!(one(&q, "redirect_uri"), Some(REDIRECT));
    assert_eq!(one(&q, "scope"), Some("openid email"));
    assert_eq!(one(&q, "state"), Some(req.flow.state()));
    assert_eq!(one(&q, "nonce"), req.flow.nonce());
    let verifier = req.flow.code_verifier().unwrap();
    assert_eq!(one(&q, "code_challenge"), Some(pkce_challenge(verifier).as_str()));
    assert_eq!(one(&q, "code_challenge_method"), Some("S256"));
    assert_eq!(one(&q, "prompt"), Some("login consent"));
    assert_eq!(one(&q, "max_age"), Some("300"));
    assert_eq!(one(&q, "ui_locales"), Some("fr-CA é"));
    assert_eq!(one(&q, "x"), Some("true"));
    assert!(req.location.contains("client_id=my%20app%26co&"));
    // RFC 7636 §4.1: 43 to 128 unreserved characters.
    assert!((43..=128).contains(&verifier.len()));
    assert!(verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
    assert_eq!(req.flow.original_url(), "/page?a=b");
    assert_eq!(req.flow.redirect_uri(), REDIRECT);
    assert_eq!(req.flow.created_at(), NOW);
    // The secrets stay out of Debug.
    let dbg = format!("{:?}", req.flow);
    assert!(!dbg.contains(verifier) && !dbg.contains(req.flow.nonce().unwrap()));
}

#[test]
fn endpoint_with_a_query_gets_an_ampersand() {
    let mut rng = Rng(2);
    let req = authorization_request(
        "https://idp.example/authorize?tenant=a",
        &config(""),
        REDIRECT,
        "/",
        NOW,
        &mut rng,
    )
    .unwrap();
    assert!(req.location.starts_with("https://idp.example/authorize?tenant=a&response_type=code&"));
}

#[test]
fn default_redirect_path_is_apisix_s() {
    assert_eq!(default_redirect_path("/hello"), "/hello/.apisix/redirect");
    assert_eq!(default_redirect_path("/hello/"), "/hello/.apisix/redirect");
    assert_eq!(default_redirect_path("/"), "/.apisix/redirect");
    assert_eq!(default_redirect_path("/a/.apisix/redirect"), "/a/.apisix/redirect");
}

#[test]
fn pkce_matches_rfc7636_appendix_b() {
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn options_turn_pkce_and_nonce_off() {
    let mut rng = Rng(3);
    let cfg = config(r#", "use_pkce": false, "use_nonce": false"#);
    let req = authorization_request(ENDPOINT, &cfg, REDIRECT, "/", NOW, &mut rng).unwrap();
    let q = query(&req.location);
    for name in ["nonce", "code_challenge", "code_challenge_method"] {
        assert_eq!(one(&q, name), None, "{name}");
    }
    assert!(req.flow.nonce().is_none() && req.flow.code_verifier().is_none());
    let cfg = config(r#", "use_pkce": false"#);
    let req = authorization_request(ENDPOINT, &cfg, REDIRECT, "/", NOW, &mut rng).unwrap();
    let q = query(&req.location);
    assert!(one(&q, "nonce").is_some() && one(&q, "code_challenge").is_none());
}

#[test]
fn authorization_params_cannot_override_protocol_parameters() {
    let mut rng = Rng(4);
    let params: Vec<String> = RESERVED_PARAMS.iter().map(|n| format!(r#""{n}": "evil""#)).collect();
    let cfg = config(&format!(
        r#", "authorization_params": {{ {}, "prompt": "none" }}"#,
        params.join(",")
    ));
    let req = authorization_request(ENDPOINT, &cfg, REDIRECT, "/", NOW, &mut rng).unwrap();
    let q = query(&req.location);
    for name in RESERVED_PARAMS {
        assert_ne!(one(&q, name), Some("evil"), "{name}");
    }
    for name in ["state", "nonce", "code_challenge", "redirect_uri", "client_id", "response_type"] {
        assert!(one(&q, name).is_some(), "{name}");
    }
    assert_eq!(one(&q, "prompt"), Some("none"));
}

#[test]
fn refuses_bad_inputs_and_dead_entropy() {
    struct Zeros;
    impl Entropy for Zeros {
        fn fill_public(&mut self, b: &mut [u8]) {
            b.fill(0);
        }
        fn fill_secret(&mut self, b: &mut [u8]) {
            b.fill(0);
        }
    }
    let cfg = config("");
    assert!(authorization_request(ENDPOINT, &cfg, REDIRECT, "/", NOW, &mut Zeros).is_err());
    let mut rng = Rng(5);
    assert!(authorization_request("", &cfg, REDIRECT, "/", NOW, &mut rng).is_err());
    assert!(authorization_request("https://i/a#f", &cfg, REDIRECT, "/", NOW, &mut rng).is_err());
    assert!(authorization_request(ENDPOINT, &cfg, "", "/", NOW, &mut rng).is_err());
    assert!(authorization_request(ENDPOINT, &cfg, REDIRECT, "/\r\nX: y", NOW, &mut rng).is_err());
    let long = format!("/{}", "a".repeat(5000));
    assert!(authorization_request(ENDPOINT, &cfg, REDIRECT, &long, NOW, &mut rng).is_err());
}

#[test]
fn two_tabs_both_complete() {
    let codec = codec();
    let mut rng = Rng(6);
    let (state_a, h1) = start_login(&codec, None, "/a", NOW, &mut rng);
    let (state_b, h2) = start_login(&codec, Some(&h1), "/b", NOW.saturating_add(5), &mut rng);
    // Tab A comes back first with the latest cookie.
    let later = NOW.saturating_add(30);
    let mut set = codec.open([h2.as_bytes()], later).into_set();
    assert_eq!(set.len(), 2);
    let target = format!("/cb?state={state_a}&code=ca");
    let Callback::Code { code, flow } = resolve_callback(target.as_bytes(), &mut set, None) else {
        panic!()
    };
    assert_eq!((code.as_str(), flow.original_url()), ("ca", "/a"));
    let h3 = cookie_header(&codec.seal(&mut set, later, &mut rng, true).unwrap());
    // Then tab B.
    let mut set = codec.open([h3.as_bytes()], later).into_set();
    let target = format!("/cb?code=cb&state={state_b}");
    let Callback::Code { code, flow } = resolve_callback(target.as_bytes(), &mut set, None) else {
        panic!()
    };
    assert_eq!((code.as_str(), flow.original_url()), ("cb", "/b"));
    // Nothing is left: the cookie is deleted.
    let sc = codec.seal(&mut set, later, &mut rng, true).unwrap();
    assert!(sc.is_deletion());
    // And a replay of A against the cookie after A finished finds nothing.
    let mut set = codec.open([h3.as_bytes()], later).into_set();
    let target = format!("/cb?state={state_a}&code=ca");
    assert!(matches!(resolve_callback(target.as_bytes(), &mut set, None), Callback::UnknownState));
}

#[test]
fn replayed_or_unknown_state_is_unknown() {
    let codec = codec();
    let mut rng = Rng(7);
    let (state, h) = start_login(&codec, None, "/", NOW, &mut rng);
    let mut set = codec.open([h.as_bytes()], NOW).into_set();
    for target in ["/cb?state=nope&code=x", "/cb?state=&code=x"] {
        assert!(matches!(
            resolve_callback(target.as_bytes(), &mut set, None),
            Callback::UnknownState
        ));
    }
    // A prefix of the real state is not it.
    let target = format!("/cb?state={}&code=x", &state[..state.len() - 1]);
    assert!(matches!(resolve_callback(target.as_bytes(), &mut set, None), Callback::UnknownState));
    let target = format!("/cb?state={state}&code=x");
    assert!(matches!(resolve_callback(target.as_bytes(), &mut set, None), Callback::Code { .. }));
    // Same set, same state again: consumed.
    assert!(matches!(resolve_callback(target.as_bytes(), &mut set, None), Callback::UnknownState));
    // No state cookie at all.
    let mut empty = FlowSet::new();
    assert!(matches!(
        resolve_callback(target.as_bytes(), &mut empty, None),
        Callback::UnknownState
    ));
}

#[test]
fn at_most_max_flows_oldest_dropped() {
    let codec = codec();
    let mut rng = Rng(8);
    let mut header: Option<String> = None;
    let mut states = Vec::new();
    for i in 0..=MAX_FLOWS {
        let (s, h) = start_login(&codec, header.as_deref(), &format!("/{i}"), NOW, &mut rng);
        states.push(s);
        header = Some(h);
    }
    let mut set = codec.open(header.as_deref().map(str::as_bytes), NOW).into_set();
    assert_eq!(set.len(), MAX_FLOWS);
    let first = format!("/cb?state={}&code=x", states[0]);
    assert!(matches!(resolve_callback(first.as_bytes(), &mut set, None), Callback::UnknownState));
    let last = format!("/cb?state={}&code=x", states[MAX_FLOWS]);
    assert!(matches!(resolve_callback(last.as_bytes(), &mut set, None), Callback::Code { .. }));
}

#[test]
fn long_urls_drop_the_oldest_flows_to_fit_one_cookie() {
    let codec = codec();
    let mut rng = Rng(14);
    let page = format!("/{}", "p".repeat(oidc_core::authz::MAX_ORIGINAL_URL - 1));
    let mut header: Option<String> = None;
    let mut last = String::new();
    for _ in 0..3 {
        let (s, h) = start_login(&codec, header.as_deref(), &page, NOW, &mut rng);
        assert!(h.len() < 4000 + "other=1; ".len());
        last = s;
        header = Some(h);
    }
    let mut set = codec.open(header.as_deref().map(str::as_bytes), NOW).into_set();
    assert_eq!(set.len(), 1);
    let target = format!("/cb?state={last}&code=x");
    assert!(matches!(resolve_callback(target.as_bytes(), &mut set, None), Callback::Code { .. }));
}

#[test]
fn flows_expire_one_by_one() {
    let codec = codec().with_ttl(DEFAULT_FLOW_TTL);
    let mut rng = Rng(9);
    let ttl = i64::try_from(DEFAULT_FLOW_TTL).unwrap();
    let (_, h1) = start_login(&codec, None, "/old", NOW, &mut rng);
    let (_, h2) = start_login(&codec, Some(&h1), "/new", NOW.saturating_add(100), &mut rng);
    let set = codec.open([h2.as_bytes()], NOW.saturating_add(ttl)).into_set();
    assert_eq!(set.len(), 1);
    assert_eq!(set.flows()[0].original_url(), "/new");
    assert!(matches!(
        codec.open([h2.as_bytes()], NOW.saturating_add(ttl + 100)),
        OpenedFlows::NoFlows(NoFlows::Expired)
    ));
    // Dated far in the future (a wrong clock at seal time): not live either.
    assert!(matches!(
        codec.open([h2.as_bytes()], UnixTime::from_secs(NOW.as_secs() - 1000)),
        OpenedFlows::NoFlows(NoFlows::Expired)
    ));
}

#[test]
fn foreign_absent_and_session_cookies_do_not_open() {
    let mut rng = Rng(10);
    let ours = codec();
    let (_, h) = start_login(&ours, None, "/", NOW, &mut rng);
    let theirs = codec_on(default_provider(), "another-client");
    assert!(matches!(theirs.open([h.as_bytes()], NOW), OpenedFlows::NoFlows(NoFlows::UnknownKey)));
    assert!(matches!(ours.open([b"a=b".as_slice()], NOW), OpenedFlows::NoFlows(NoFlows::Absent)));
    assert!(matches!(
        ours.open([b"session_state=***".as_slice()], NOW),
        OpenedFlows::NoFlows(NoFlows::Malformed)
    ));
    // The session cookie's value under the state cookie's name (same secret, same binding
    // otherwise) does not open: the cookie name is part of the key derivation.
    let session = oidc_core::session::SessionCodec::new(
        &[SECRET],
        Binding { issuer: ISSUER, client_id: "app" },
        CookieSettings::new("session"),
        oidc_core::session::Timeouts::default(),
        default_provider(),
    )
    .unwrap();
    let s = oidc_core::session::Session::start(
        &oidc_core::session::SessionTokens {
            access_token: "at",
            access_token_expires_at: None,
            id_token: None,
            refresh_token: None,
            subject: "alice",
            userinfo: None,
            scope: None,
        },
        NOW,
    );
    let sc = session.seal(&s, NOW, &mut rng, oidc_core::session::CookieContext::new(true, 0));
    let header = format!("session_state={}", sc.unwrap()[0].value());
    assert!(matches!(ours.open([header.as_bytes()], NOW), OpenedFlows::NoFlows(_)));
    assert_eq!(ours.cookie_name(), "session_state");
    assert!(ours.clear(true).is_deletion());
}

#[test]
fn idp_errors_are_reduced_to_known_codes() {
    let codec = codec();
    let mut rng = Rng(11);
    for (value, code) in [
        ("access_denied", IdpErrorCode::AccessDenied),
        ("login_required", IdpErrorCode::LoginRequired),
        ("temporarily_unavailable", IdpErrorCode::TemporarilyUnavailable),
        ("%3Cscript%3E", IdpErrorCode::Other),
        ("", IdpErrorCode::Other),
    ] {
        let (state, h) = start_login(&codec, None, "/p", NOW, &mut rng);
        let mut set = codec.open([h.as_bytes()], NOW).into_set();
        let target =
            format!("/cb?error={value}&error_description=%3Cb%3Ehi%0D%0AX:%20y&state={state}");
        match resolve_callback(target.as_bytes(), &mut set, None) {
            Callback::IdpError { error, flow } => {
                assert_eq!(error, code);
                assert_eq!(flow.original_url(), "/p");
                assert!(error.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(IdpErrorCode::Other.as_str(), "other");
    assert_eq!(IdpErrorCode::from_value("consent_required").as_str(), "consent_required");
}

#[test]
fn issuer_identification() {
    let codec = codec();
    let mut rng = Rng(12);
    let check = |required| Some(IssuerCheck { expected: "https://idp.example", required });
    let cases: [(&str, bool, &str); 5] = [
        ("&iss=https%3A%2F%2Fidp.example", true, "code"),
        ("", false, "code"),
        ("", true, "issuer_mismatch"),
        ("&iss=https%3A%2F%2Fevil.example", false, "issuer_mismatch"),
        ("&iss=https%3A%2F%2Fidp.example%2F", true, "issuer_mismatch"),
    ];
    for (iss, required, expect) in cases {
        let (state, h) = start_login(&codec, None, "/", NOW, &mut rng);
        let mut set = codec.open([h.as_bytes()], NOW).into_set();
        let target = format!("/cb?code=c&state={state}{iss}");
        let got = resolve_callback(target.as_bytes(), &mut set, check(required));
        assert_eq!(got.code(), expect, "{iss} {required}");
        assert!(set.is_empty(), "the flow is consumed either way");
    }
}

#[test]
fn malformed_callbacks() {
    let mut set = FlowSet::new();
    let cases: [(&[u8], Malformed); 7] = [
        (b"/cb?code=a&state=b&state=c", Malformed::Duplicate),
        (b"/cb?code=a&code=a&state=b", Malformed::Duplicate),
        (b"/cb?code=a", Malformed::MissingState),
        (b"/cb?state=a", Malformed::MissingCode),
        (b"/cb?code=%zz&state=a", Malformed::BadEncoding),
        (b"/cb?code=%C3%28&state=a", Malformed::BadEncoding),
        (b"/cb?code=a b&state=a", Malformed::BadEncoding),
    ];
    for (target, why) in cases {
        match resolve_callback(target, &mut set, None) {
            Callback::Malformed(got) => assert_eq!(got, why, "{}", String::from_utf8_lossy(target)),
            other => panic!("{other:?}"),
        }
    }
    let long = format!("/cb?state=a&code={}", "a".repeat(20_000));
    assert!(matches!(
        resolve_callback(long.as_bytes(), &mut set, None),
        Callback::Malformed(Malformed::TooLong)
    ));
    let long_state = format!("/cb?code=a&state={}", "s".repeat(200));
    assert!(matches!(
        resolve_callback(long_state.as_bytes(), &mut set, None),
        Callback::Malformed(Malformed::FieldTooLong)
    ));
    // Escapes and `+` decode; a fragment and unknown parameters are ignored.
    let p = parse_callback(b"/cb?x&code=a%2Bb+c&state=s%3D&session_state=z#code=evil").unwrap();
    assert_eq!(p.code.as_ref().map(|c| c.as_str()), Some("a+b c"));
    assert_eq!(p.state.as_deref(), Some("s="));
    assert!(format!("{p:?}").contains("redacted"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn callback_parser_never_panics(target in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_callback(&target);
        let _ = resolve_callback(&target, &mut FlowSet::new(), None);
    }

    #[test]
    fn callback_parser_never_panics_on_query_shapes(
        target in "/cb\\?((code|state|error|iss|error_description|x)=[A-Za-z0-9%+=&#._~-]{0,20}&?){0,8}"
    ) {
        let codec = codec();
        let mut rng = Rng(13);
        let (_, h) = start_login(&codec, None, "/", NOW, &mut rng);
        let mut set = codec.open([h.as_bytes()], NOW).into_set();
        let check = Some(IssuerCheck { expected: "https://idp.example", required: true });
        let _ = resolve_callback(target.as_bytes(), &mut set, check);
    }

    #[test]
    fn state_cookie_round_trips_and_any_bit_flip_fails(
        seed in any::<u64>(),
        pages in proptest::collection::vec("/[a-z0-9/?=&]{0,40}", 1..=MAX_FLOWS),
        flip in any::<proptest::sample::Index>(),
        bit in 0u8..8,
    ) {
        for provider in all_providers() {
            let codec = codec_on(provider, "app");
            let mut rng = Rng(seed);
            let mut header = None;
            let mut states = Vec::new();
            for page in &pages {
                let (s, h) = start_login(&codec, header.as_deref(), page, NOW, &mut rng);
                states.push((s, page.clone()));
                header = Some(h);
            }
            let header = header.unwrap();
            let OpenedFlows::Flows(set) = codec.open([header.as_bytes()], NOW) else {
                panic!("does not open")
            };
            let got: Vec<(String, String)> = set
                .flows()
                .iter()
                .map(|f| (f.state().to_owned(), f.original_url().to_owned()))
                .collect();
            prop_assert_eq!(&got, &states);
            // Flip one bit of the value's base64url text (as a byte of its decoded form would
            // need strict decoding to catch, flip characters within the alphabet too).
            let (name, value) = header.split_once("; ").unwrap().1.split_once('=').unwrap();
            let mut bytes = value.as_bytes().to_vec();
            let i = flip.index(bytes.len());
            bytes[i] ^= 1 << bit;
            let tampered = format!("{name}={}", String::from_utf8_lossy(&bytes));
            prop_assert!(matches!(
                codec.open([tampered.as_bytes()], NOW),
                OpenedFlows::NoFlows(_)
            ));
        }
    }
}
