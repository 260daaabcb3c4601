//! Session cookie properties, on every crypto provider and across them: seal → open is the
//! identity; any single-bit change to any chunk fails to open; a cookie sealed for one issuer,
//! client or cookie name does not open for another; rotation; chunk boundaries and the budget;
//! surplus chunks are expired; nothing a client sends makes opening panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use oidc_core::UnixTime;
use oidc_core::crypto::{AEAD_NONCE_LEN, CryptoProvider, all_providers};
use oidc_core::engine::Entropy;
use oidc_core::session::{
    Binding, CookieContext, CookieLimits, CookieSettings, MAX_CHUNKS, NoSession, Opened, SealError,
    Session, SessionCodec, SessionTimes, SessionTokens, SetCookie, Timeouts,
};
use proptest::prelude::*;

/// A seeded PRNG (SplitMix64): deterministic per proptest case.
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
const OTHER_SECRET: &[u8] = b"second secret, rotated in later.";
const ISSUER: &str = "https://idp.example/.well-known/openid-configuration";
/// No timeout: times decide nothing in the properties that are not about time.
const NO_TIMEOUTS: Timeouts = Timeouts { idling: 0, rolling: 0, absolute: 0 };
const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

fn codec_on(
    provider: &dyn CryptoProvider,
    secrets: &[&[u8]],
    binding: Binding<'_>,
    cookie: CookieSettings,
) -> SessionCodec {
    SessionCodec::new(secrets, binding, cookie, NO_TIMEOUTS, provider).unwrap()
}

fn codec(provider: &dyn CryptoProvider) -> SessionCodec {
    codec_on(
        provider,
        &[SECRET],
        Binding { issuer: ISSUER, client_id: "web" },
        CookieSettings::new("session"),
    )
}

/// The `Cookie` header a browser sends back after these `Set-Cookie` values.
fn header_for(set: &[SetCookie]) -> String {
    set.iter()
        .filter(|c| !c.is_deletion())
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn open(codec: &SessionCodec, header: &[u8]) -> Result<Session, NoSession> {
    match codec.open(&codec.collect([header]), NOW) {
        Opened::Session { session, .. } => Ok(session),
        Opened::NoSession(why) => Err(why),
    }
}

#[derive(Debug, Clone)]
struct Parts {
    access_token: String,
    expires: Option<i64>,
    id_token: Option<String>,
    refresh_token: Option<String>,
    subject: String,
    userinfo: Option<String>,
    scope: Option<String>,
    times: [i64; 3],
}

impl Parts {
    fn session(&self) -> Session {
        Session::new(
            &SessionTokens {
                access_token: &self.access_token,
                access_token_expires_at: self.expires.map(UnixTime::from_secs),
                id_token: self.id_token.as_deref(),
                refresh_token: self.refresh_token.as_deref(),
                subject: &self.subject,
                userinfo: self.userinfo.as_deref(),
                scope: self.scope.as_deref(),
            },
            SessionTimes {
                created: UnixTime::from_secs(self.times[0]),
                renewed: UnixTime::from_secs(self.times[1]),
                last_seen: UnixTime::from_secs(self.times[2]),
            },
        )
    }
}

/// Token-like text (JWT alphabet) and arbitrary Unicode, in sizes that cover one to three
/// chunks of the default budget.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::string::string_regex(&format!("[A-Za-z0-9_.-]{{0,{max}}}")).unwrap(),
        1 => proptest::collection::vec(any::<char>(), 0..max / 4)
            .prop_map(|c| c.into_iter().collect()),
    ]
}

fn parts() -> impl Strategy<Value = Parts> {
    let time = -(1 << 40)..=NOW.as_secs() + 300;
    (
        (text(2000), proptest::option::of(any::<i64>())),
        (proptest::option::of(text(1500)), proptest::option::of(text(800))),
        (text(64), proptest::option::of(text(500)), proptest::option::of(text(80))),
        [time.clone(), time.clone(), time],
    )
        .prop_map(
            |(
                (access_token, expires),
                (id_token, refresh_token),
                (subject, userinfo, scope),
                times,
            )| {
                Parts {
                    access_token,
                    expires,
                    id_token,
                    refresh_token,
                    subject,
                    userinfo,
                    scope,
                    times,
                }
            },
        )
}

fn provider_index() -> impl Strategy<Value = (usize, usize)> {
    let n = all_providers().len();
    (0..n, 0..n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Sealed with one provider, opened with any (each with the other too): the same session.
    #[test]
    fn seal_then_open_is_identity(p in parts(), (a, b) in provider_index(), seed in any::<u64>()) {
        let providers = all_providers();
        let (sealer, opener) = (codec(providers[a]), codec(providers[b]));
        let session = p.session();
        match sealer.seal(&session, NOW, &mut Rng(seed), CookieContext::new(true, 0)) {
            Ok(set) => {
                let back = open(&opener, header_for(&set).as_bytes()).unwrap();
                prop_assert_eq!(back.tokens(), session.tokens());
                prop_assert_eq!(back.times(), session.times());
            }
            Err(SealError::TooLarge { needed, max }) => prop_assert!(needed > max),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    /// Flipping any one bit of any chunk's `name=value` never yields a session.
    #[test]
    fn any_single_bit_change_fails(
        p in parts(),
        which in any::<prop::sample::Index>(),
        bit in 0..8u8,
        seed in any::<u64>(),
    ) {
        for provider in all_providers() {
            let c = codec(provider);
            let Ok(set) = c.seal(&p.session(), NOW, &mut Rng(seed), CookieContext::new(true, 0))
            else { continue };
            let mut pairs: Vec<Vec<u8>> = set
                .iter()
                .map(|c| format!("{}={}", c.name(), c.value()).into_bytes())
                .collect();
            let total: usize = pairs.iter().map(Vec::len).sum();
            let mut at = which.index(total);
            for pair in &mut pairs {
                if at < pair.len() {
                    pair[at] ^= 1 << bit;
                    break;
                }
                at -= pair.len();
            }
            let header = pairs.join(&b"; "[..]);
            let opened = open(&c, &header);
            prop_assert!(opened.is_err(), "a changed cookie opened on {}", provider.name());
        }
    }

    /// A cookie sealed for one issuer, client or cookie name, moved under the other route's
    /// name, does not open there.
    #[test]
    fn foreign_cookies_do_not_open(p in parts(), which in 0..3usize, seed in any::<u64>()) {
        for provider in all_providers() {
            let home = codec(provider);
            let Ok(set) = home.seal(&p.session(), NOW, &mut Rng(seed), CookieContext::new(true, 0))
            else { continue };
            let (issuer, client_id, name) = match which {
                0 => ("https://other.example/.well-known/openid-configuration", "web", "session"),
                1 => (ISSUER, "admin", "session"),
                _ => (ISSUER, "web", "sid"),
            };
            let away = codec_on(
                provider,
                &[SECRET],
                Binding { issuer, client_id },
                CookieSettings::new(name),
            );
            let moved = set
                .iter()
                .map(|c| format!("{}={}", c.name().replacen("session", name, 1), c.value()))
                .collect::<Vec<_>>()
                .join("; ");
            prop_assert!(open(&away, moved.as_bytes()).is_err());
            // ... while it still opens at home.
            prop_assert!(open(&home, header_for(&set).as_bytes()).is_ok());
        }
    }

    /// Sealed with the old secret: opens once a new secret is put first, not once the old one
    /// is removed; what the new list seals, the old codec cannot open.
    #[test]
    fn rotation(p in parts(), (a, b) in provider_index(), seed in any::<u64>()) {
        let providers = all_providers();
        let binding = Binding { issuer: ISSUER, client_id: "web" };
        let cookie = || CookieSettings::new("session");
        let old = codec_on(providers[a], &[SECRET], binding, cookie());
        let both = codec_on(providers[b], &[OTHER_SECRET, SECRET], binding, cookie());
        let retired = codec_on(providers[b], &[OTHER_SECRET], binding, cookie());
        let session = p.session();
        let Ok(set) = old.seal(&session, NOW, &mut Rng(seed), CookieContext::new(true, 0))
        else { return Ok(()) };
        let header = header_for(&set);
        prop_assert_eq!(&open(&both, header.as_bytes()).unwrap(), &session);
        prop_assert_eq!(open(&retired, header.as_bytes()).unwrap_err(), NoSession::UnknownKey);
        let renewed =
            both.seal(&session, NOW, &mut Rng(!seed), CookieContext::new(true, 0)).unwrap();
        prop_assert_eq!(
            open(&old, header_for(&renewed).as_bytes()).unwrap_err(),
            NoSession::UnknownKey
        );
        prop_assert!(open(&retired, header_for(&renewed).as_bytes()).is_ok());
    }

    /// Around every chunk boundary of small limits: each chunk fits its limit, the count is
    /// the smallest that holds the value, surplus chunks from a larger earlier value are
    /// expired, and the value opens; past the budget, a TooLarge error and no cookie.
    #[test]
    fn chunk_boundaries(
        access_len in 0..2400usize,
        chunk_bytes in 64..400usize,
        max_chunks in 1..=MAX_CHUNKS,
        carried in 0..=MAX_CHUNKS,
        seed in any::<u64>(),
    ) {
        let limits = CookieLimits { chunk_bytes, max_chunks };
        let settings = CookieSettings { limits, ..CookieSettings::new("s") };
        let c = codec_on(
            all_providers()[0],
            &[SECRET],
            Binding { issuer: ISSUER, client_id: "web" },
            settings,
        );
        let at = "a".repeat(access_len);
        let session = Session::start(
            &SessionTokens {
                access_token: &at,
                access_token_expires_at: None,
                id_token: None,
                refresh_token: None,
                subject: "u",
                userinfo: None,
                scope: None,
            },
            NOW,
        );
        match c.seal(&session, NOW, &mut Rng(seed), CookieContext::new(false, carried)) {
            Ok(set) => {
                let chunks: Vec<_> = set.iter().filter(|c| !c.is_deletion()).collect();
                let count = chunks.len();
                prop_assert!((1..=max_chunks).contains(&count));
                for (i, chunk) in chunks.iter().enumerate() {
                    let expected = if i == 0 { "s".to_string() } else { format!("s{}", i + 1) };
                    prop_assert_eq!(chunk.name(), expected.as_str());
                    prop_assert!(chunk.name().len() + 1 + chunk.value().len() <= chunk_bytes);
                    if i + 1 < count {
                        prop_assert_eq!(chunk.value().len() % 4, 0);
                    }
                }
                // Smallest count: every chunk before the last is full (within the rounding
                // to four characters), so one chunk fewer could not hold the value.
                for chunk in &chunks[..count - 1] {
                    prop_assert!(chunk.name().len() + 1 + chunk.value().len() + 4 > chunk_bytes);
                }
                prop_assert!(!chunks[count - 1].value().is_empty());
                let deletions: Vec<_> =
                    set.iter().filter(|c| c.is_deletion()).map(SetCookie::name).collect();
                let expected: Vec<String> =
                    (count + 1..=carried).map(|i| format!("s{i}")).collect();
                prop_assert_eq!(deletions, expected);
                prop_assert_eq!(&open(&c, header_for(&set).as_bytes()).unwrap(), &session);
            }
            Err(SealError::TooLarge { needed, max }) => {
                prop_assert_eq!(max, max_chunks);
                prop_assert!(needed > max_chunks);
                // The same session fits a budget of `needed` chunks exactly.
                let wider = CookieSettings {
                    limits: CookieLimits { chunk_bytes, max_chunks: needed.min(MAX_CHUNKS) },
                    ..CookieSettings::new("s")
                };
                let c = codec_on(
                    all_providers()[0],
                    &[SECRET],
                    Binding { issuer: ISSUER, client_id: "web" },
                    wider,
                );
                if needed <= MAX_CHUNKS {
                    let set = c.seal(&session, NOW, &mut Rng(seed), CookieContext::new(false, 0));
                    prop_assert_eq!(set.unwrap().len(), needed);
                }
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    /// At the seam itself: what one provider seals, every provider opens to the same bytes,
    /// and a changed tag or associated data opens on none.
    #[test]
    fn providers_agree_on_aes_gcm(
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; AEAD_NONCE_LEN]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..64),
        msg in proptest::collection::vec(any::<u8>(), 0..2000),
        flip in any::<prop::sample::Index>(),
    ) {
        for sealer in all_providers() {
            let mut sealed = msg.clone();
            let sealing = sealer.aes256_gcm_key(&key).unwrap();
            let tag = sealing.seal_in_place(&nonce, &aad, &mut sealed).unwrap();
            for opener in all_providers() {
                let key = opener.aes256_gcm_key(&key).unwrap();
                let mut opened = sealed.clone();
                key.open_in_place(&nonce, &aad, &mut opened, &tag).unwrap();
                prop_assert_eq!(&opened, &msg, "{} -> {}", sealer.name(), opener.name());
                let mut bad_tag = tag;
                bad_tag[flip.index(bad_tag.len())] ^= 1;
                let mut copy = sealed.clone();
                prop_assert!(key.open_in_place(&nonce, &aad, &mut copy, &bad_tag).is_err());
                let mut bad_aad = aad.clone();
                bad_aad.push(0);
                let mut copy = sealed.clone();
                prop_assert!(key.open_in_place(&nonce, &bad_aad, &mut copy, &tag).is_err());
            }
        }
    }

    /// Whatever a client sends, opening returns (no panic), and nothing but a sealed cookie
    /// opens.
    #[test]
    fn arbitrary_cookie_headers_never_open(
        pairs in proptest::collection::vec(
            (prop_oneof![Just("session".to_string()), "session[0-9]", "[a-z]{1,8}"],
             proptest::collection::vec(any::<u8>(), 0..600)),
            0..12,
        ),
    ) {
        let c = codec(all_providers()[0]);
        let mut header = Vec::new();
        for (name, value) in &pairs {
            header.extend_from_slice(name.as_bytes());
            header.push(b'=');
            header.extend_from_slice(value);
            header.extend_from_slice(b"; ");
        }
        prop_assert!(open(&c, &header).is_err());
    }

    /// Base64url-shaped values with a valid-looking header still never open.
    #[test]
    fn well_formed_forgeries_never_open(body in proptest::collection::vec(any::<u8>(), 18..3000)) {
        let c = codec(all_providers()[0]);
        let mut body = body;
        body[0] = 1; // version
        body[1] = 1; // one chunk
        let value = oidc_core::jose::base64url::encode(&body);
        let header = format!("session={value}");
        let why = open(&c, header.as_bytes()).unwrap_err();
        prop_assert!(matches!(
            why,
            NoSession::UnknownKey | NoSession::Malformed | NoSession::Oversized
        ), "{why:?}");
    }
}

#[test]
fn nonces_are_fresh_per_seal() {
    let c = codec(all_providers()[0]);
    let session = Parts {
        access_token: "at".into(),
        expires: None,
        id_token: None,
        refresh_token: None,
        subject: "s".into(),
        userinfo: None,
        scope: None,
        times: [0; 3],
    }
    .session();
    let mut rng = Rng(1);
    let mut nonces = std::collections::HashSet::new();
    for _ in 0..1000 {
        let set = c.seal(&session, NOW, &mut rng, CookieContext::new(true, 0)).unwrap();
        let raw = oidc_core::jose::base64url::decode(set[0].value().as_bytes()).unwrap();
        assert!(nonces.insert(raw[6..6 + AEAD_NONCE_LEN].to_vec()));
    }
}

#[test]
fn a_typical_session_is_two_chunks_of_the_default_budget() {
    // Access, ID and refresh tokens of a common IdP (~1.1 KiB, ~0.9 KiB, ~0.8 KiB as JWTs),
    // plus a small userinfo: about 3 KiB sealed, two chunks.
    let jwt =
        |n| format!("eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.{}.{}", "x".repeat(n), "s".repeat(342));
    let p = Parts {
        access_token: jwt(750),
        expires: Some(NOW.as_secs() + 300),
        id_token: Some(jwt(550)),
        refresh_token: Some(jwt(450)),
        subject: "248289761001".into(),
        userinfo: Some(
            r#"{"sub":"248289761001","name":"Jane Doe","email":"jane@example.com"}"#.into(),
        ),
        scope: Some("openid email profile offline_access".into()),
        times: [NOW.as_secs(); 3],
    };
    for provider in all_providers() {
        let c = codec(provider);
        let set = c.seal(&p.session(), NOW, &mut Rng(9), CookieContext::new(true, 0)).unwrap();
        let sealed: usize = set.iter().map(|c| c.value().len()).sum::<usize>() * 3 / 4;
        assert!((2800..3400).contains(&sealed), "{sealed}");
        assert_eq!(set.len(), 2);
    }
}

#[test]
fn a_rotated_secret_from_the_configuration_still_opens_old_sessions() {
    use oidc_core::config::OidcConfig;
    let cfg = |session: &str| {
        OidcConfig::from_json(
            format!(
                r#"{{"client_id":"app","client_secret":"client-secret-0123","discovery":"https://idp.test/.well-known/openid-configuration","session":{session}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
        .session
        .unwrap()
    };
    let old = cfg(r#"{"secret":"the-old-secret-0123456789"}"#);
    let rotated = cfg(
        r#"{"secret":"the-new-secret-0123456789","previous_secrets":["the-old-secret-0123456789"]}"#,
    );
    let dropped = cfg(r#"{"secret":"the-new-secret-0123456789"}"#);
    let binding = || Binding {
        issuer: "https://idp.test/.well-known/openid-configuration",
        client_id: "app",
    };
    let provider = oidc_core::crypto::default_provider();
    let sealer = SessionCodec::from_config(&old, binding(), provider).unwrap();
    let now = UnixTime::from_secs(1_700_000_000);
    let tokens = SessionTokens {
        access_token: "at",
        id_token: None,
        refresh_token: None,
        subject: "alice",
        userinfo: None,
        scope: None,
        access_token_expires_at: None,
    };
    let session = Session::start(&tokens, now);
    let context = CookieContext { https: true, carried: 0 };
    let cookies = sealer.seal(&session, now, &mut Rng(3), context).unwrap();
    let header: String = cookies
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ");
    let opens = |cfg: &oidc_core::config::SessionConfig| {
        let codec = SessionCodec::from_config(cfg, binding(), provider).unwrap();
        let jar = codec.collect([header.as_bytes()]);
        matches!(codec.open(&jar, now), Opened::Session { .. })
    };
    assert!(opens(&rotated), "the old secret is still listed: the session opens");
    assert!(!opens(&dropped), "the old secret is gone: no session");
}
