//! Codec tests: sealing, opening, chunk bookkeeping, timeouts. Property tests over random
//! sessions and every crypto provider are in `tests/session.rs`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::*;
use crate::crypto::RUST_CRYPTO;

struct Counter(u64);

impl Entropy for Counter {
    fn fill_public(&mut self, b: &mut [u8]) {
        self.fill_secret(b);
    }
    fn fill_secret(&mut self, b: &mut [u8]) {
        for x in b {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *x = (self.0 >> 56) as u8;
        }
    }
}

struct Zeros;

impl Entropy for Zeros {
    fn fill_public(&mut self, b: &mut [u8]) {
        b.fill(0);
    }
    fn fill_secret(&mut self, b: &mut [u8]) {
        b.fill(0);
    }
}

const SECRET: &[u8] = b"correct horse battery staple";
const T0: UnixTime = UnixTime::from_secs(1_800_000_000);

fn binding() -> Binding<'static> {
    Binding { issuer: "https://idp.example/.well-known/openid-configuration", client_id: "web" }
}

fn codec_with(cookie: CookieSettings, timeouts: Timeouts) -> SessionCodec {
    SessionCodec::new(&[SECRET], binding(), cookie, timeouts, &RUST_CRYPTO).unwrap()
}

fn codec() -> SessionCodec {
    codec_with(CookieSettings::new("session"), Timeouts::default())
}

fn session(access_len: usize) -> Session {
    let at = "a".repeat(access_len);
    Session::start(
        &SessionTokens {
            access_token: &at,
            access_token_expires_at: Some(T0.saturating_add(300)),
            id_token: Some("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"),
            refresh_token: Some("refresh"),
            subject: "alice",
            userinfo: Some(r#"{"sub":"alice"}"#),
            scope: Some("openid email"),
        },
        T0,
    )
}

/// The `Cookie` header a browser would send back for these `Set-Cookie` values.
fn header_for(set: &[SetCookie]) -> String {
    set.iter()
        .filter(|c| !c.is_deletion())
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn open_at(
    codec: &SessionCodec,
    header: &str,
    now: UnixTime,
) -> Result<(Session, Reissue), NoSession> {
    match codec.open(&codec.collect([header.as_bytes()]), now) {
        Opened::Session { session, reissue } => Ok((session, reissue)),
        Opened::NoSession(why) => Err(why),
    }
}

#[test]
fn seal_then_open() {
    let c = codec();
    let s = session(100);
    let set = c.seal(&s, T0, &mut Counter(1), CookieContext::new(false, 0)).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].name(), "session");
    assert!(
        set[0].as_str().ends_with("; Path=/; Max-Age=900; HttpOnly; SameSite=Lax"),
        "{}",
        set[0]
    );
    let (back, reissue) = open_at(&c, &header_for(&set), T0.saturating_add(1)).unwrap();
    assert_eq!(back, s);
    assert_eq!(reissue, Reissue::Keep);
}

#[test]
fn two_seals_of_one_session_differ() {
    let c = codec();
    let s = session(10);
    let mut rng = Counter(7);
    let a = c.seal(&s, T0, &mut rng, CookieContext::new(true, 0)).unwrap();
    let b = c.seal(&s, T0, &mut rng, CookieContext::new(true, 0)).unwrap();
    assert_ne!(a[0].value(), b[0].value());
}

#[test]
fn chunks_and_surplus_expiry() {
    let c = codec();
    // ~5 KB of base64: two chunks.
    let big = session(3600);
    let set = c.seal(&big, T0, &mut Counter(1), CookieContext::new(true, 0)).unwrap();
    let names: Vec<_> = set.iter().map(SetCookie::name).collect();
    assert_eq!(names, ["session", "session2"]);
    for cookie in &set {
        assert!(cookie.name().len() + 1 + cookie.value().len() <= 4000);
    }
    assert_eq!(set[0].value().len() % 4, 0);
    let (back, _) = open_at(&c, &header_for(&set), T0).unwrap();
    assert_eq!(back, big);

    // A smaller session replacing a three-chunk one expires chunks 2 and 3.
    let small = c.seal(&session(10), T0, &mut Counter(2), CookieContext::new(true, 3)).unwrap();
    let lines: Vec<_> = small.iter().map(|c| (c.name(), c.is_deletion())).collect();
    assert_eq!(lines, [("session", false), ("session2", true), ("session3", true)]);
    assert!(small[2].as_str().contains("; Max-Age=0; Secure; HttpOnly"), "{}", small[2]);
}

#[test]
fn budget_is_a_clear_error() {
    let c = codec();
    let err =
        c.seal(&session(20_000), T0, &mut Counter(1), CookieContext::new(true, 0)).unwrap_err();
    assert_eq!(err, SealError::TooLarge { needed: 7, max: 3 });
    assert!(format!("{err}").contains("needs 7 chunks, the budget is 3"));
}

#[test]
fn missing_extra_and_oversized_chunks() {
    let c = codec();
    let set = c.seal(&session(3600), T0, &mut Counter(1), CookieContext::new(true, 0)).unwrap();
    let first = format!("session={}", set[0].value());
    let second = format!("session2={}", set[1].value());
    assert_eq!(open_at(&c, &first, T0).unwrap_err(), NoSession::MissingChunk);
    assert_eq!(open_at(&c, &second, T0).unwrap_err(), NoSession::Absent);
    let extra = format!("{first}; {second}; session3=AAAA");
    assert_eq!(open_at(&c, &extra, T0).unwrap_err(), NoSession::ExtraChunk);
    let beyond = format!("{first}; {second}; session4=AAAA");
    assert_eq!(open_at(&c, &beyond, T0).unwrap_err(), NoSession::Oversized);
    let long = format!("session={}", "A".repeat(3993));
    assert_eq!(open_at(&c, &long, T0).unwrap_err(), NoSession::Oversized);
    // A single-chunk session with a leftover second chunk is refused, then healed by a seal
    // that expires the leftover.
    let one = c.seal(&session(10), T0, &mut Counter(3), CookieContext::new(true, 0)).unwrap();
    let stale = format!("{}; {second}", header_for(&one));
    let jar = c.collect([stale.as_bytes()]);
    assert!(matches!(c.open(&jar, T0), Opened::NoSession(NoSession::ExtraChunk)));
    let healed = c.seal(&session(10), T0, &mut Counter(4), CookieContext::of(&jar, true)).unwrap();
    assert!(healed[1].is_deletion() && healed[1].name() == "session2");
}

#[test]
fn malformed_values() {
    let c = codec();
    for value in ["", "AAAA", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", &"A".repeat(24), &"A".repeat(61)]
    {
        let why = open_at(&c, &format!("session={value}"), T0).unwrap_err();
        assert!(
            matches!(why, NoSession::Malformed | NoSession::UnsupportedVersion),
            "{value}: {why:?}"
        );
    }
    // Version 2 header.
    let mut v2 = c.seal(&session(10), T0, &mut Counter(1), CookieContext::new(true, 0)).unwrap()[0]
        .value()
        .to_string();
    v2.replace_range(0..2, "Ag");
    assert_eq!(
        open_at(&c, &format!("session={v2}"), T0).unwrap_err(),
        NoSession::UnsupportedVersion
    );
}

#[test]
fn foreign_and_rotated_keys() {
    let s = session(50);
    let old = codec();
    let set = old.seal(&s, T0, &mut Counter(1), CookieContext::new(true, 0)).unwrap();
    let header = header_for(&set);
    let new_secret: &[u8] = b"a brand new secret, rotated in";

    let rotated = SessionCodec::new(
        &[new_secret, SECRET],
        binding(),
        CookieSettings::new("session"),
        Timeouts::default(),
        &RUST_CRYPTO,
    )
    .unwrap();
    assert_eq!(open_at(&rotated, &header, T0).unwrap().0, s);
    // The new secret seals; the old codec cannot open that.
    let resealed = rotated.seal(&s, T0, &mut Counter(2), CookieContext::new(true, 0)).unwrap();
    assert_eq!(open_at(&old, &header_for(&resealed), T0).unwrap_err(), NoSession::UnknownKey);

    let retired = SessionCodec::new(
        &[new_secret],
        binding(),
        CookieSettings::new("session"),
        Timeouts::default(),
        &RUST_CRYPTO,
    )
    .unwrap();
    assert_eq!(open_at(&retired, &header, T0).unwrap_err(), NoSession::UnknownKey);

    let other_client = SessionCodec::new(
        &[SECRET],
        Binding { client_id: "admin", ..binding() },
        CookieSettings::new("session"),
        Timeouts::default(),
        &RUST_CRYPTO,
    )
    .unwrap();
    assert_eq!(open_at(&other_client, &header, T0).unwrap_err(), NoSession::UnknownKey);
}

#[test]
fn tampering_is_unauthentic() {
    let c = codec();
    let set = c.seal(&session(50), T0, &mut Counter(1), CookieContext::new(true, 0)).unwrap();
    let value = set[0].value();
    // Flip a character in the ciphertext, keeping it base64url.
    let mut bytes = value.as_bytes().to_vec();
    bytes[40] = if bytes[40] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(
        open_at(&c, &format!("session={tampered}"), T0).unwrap_err(),
        NoSession::Unauthentic
    );
    // Dropping the last four characters (three bytes of tag) is refused too: unauthentic, or
    // malformed when the shorter text is not canonical base64url.
    let cut = &value[..value.len() - 4];
    let why = open_at(&c, &format!("session={cut}"), T0).unwrap_err();
    assert!(matches!(why, NoSession::Unauthentic | NoSession::Malformed), "{why:?}");
}

#[test]
fn timeouts_expire_and_reissue() {
    let t = Timeouts { idling: 900, rolling: 3600, absolute: 86_400 };
    let c = codec_with(CookieSettings::new("session"), t);
    let s = session(10);
    let header = header_for(&c.seal(&s, T0, &mut Counter(1), CookieContext::new(true, 0)).unwrap());
    let at = |secs| open_at(&c, &header, T0.saturating_add(secs)).map(|(_, r)| r);
    assert_eq!(at(0), Ok(Reissue::Keep));
    assert_eq!(at(59), Ok(Reissue::Keep));
    assert_eq!(at(60), Ok(Reissue::Touch));
    assert_eq!(at(899), Ok(Reissue::Touch));
    assert_eq!(at(900), Err(NoSession::IdleTimeout));
    assert_eq!(at(-300), Ok(Reissue::Keep));
    assert_eq!(at(-301), Err(NoSession::FromTheFuture));

    // Touched every 10 minutes, the session is renewed at 45 minutes, ends at 60 without
    // renewal, and at 24 hours regardless.
    let mut times = SessionTimes::starting(T0);
    times.last_seen = T0.saturating_add(2700);
    assert_eq!(t.check(&times, T0.saturating_add(2700)), Ok(Reissue::Renew));
    times.last_seen = T0.saturating_add(3599);
    assert_eq!(t.check(&times, T0.saturating_add(3600)), Err(NoSession::RollingTimeout));
    let late = SessionTimes {
        created: T0,
        renewed: T0.saturating_add(86_000),
        last_seen: T0.saturating_add(86_399),
    };
    assert_eq!(t.check(&late, T0.saturating_add(86_400)), Err(NoSession::AbsoluteTimeout));

    // Applying the decision and sealing again moves the cookie's lifetime.
    let (mut opened, reissue) = open_at(&c, &header, T0.saturating_add(600)).unwrap();
    assert!(reissue.apply(&mut opened, T0.saturating_add(600)));
    let again = c
        .seal(&opened, T0.saturating_add(600), &mut Counter(9), CookieContext::new(true, 1))
        .unwrap();
    assert!(again[0].as_str().contains("; Max-Age=900;"), "{}", again[0]);
    assert_eq!(
        open_at(&c, &header_for(&again), T0.saturating_add(1400)).unwrap().1,
        Reissue::Touch
    );
}

#[test]
fn max_age_is_the_nearest_deadline() {
    let c = codec_with(
        CookieSettings::new("session"),
        Timeouts { idling: 0, rolling: 0, absolute: 100 },
    );
    let mut s = session(1);
    let set =
        c.seal(&s, T0.saturating_add(40), &mut Counter(1), CookieContext::new(true, 0)).unwrap();
    assert!(set[0].as_str().contains("; Max-Age=60;"), "{}", set[0]);
    s.touch(T0.saturating_add(100));
    assert_eq!(
        c.seal(&s, T0.saturating_add(100), &mut Counter(1), CookieContext::new(true, 0))
            .unwrap_err(),
        SealError::Expired
    );
    let forever =
        codec_with(CookieSettings::new("session"), Timeouts { idling: 0, rolling: 0, absolute: 0 });
    let set = forever.seal(&s, T0, &mut Counter(1), CookieContext::new(true, 0)).unwrap();
    assert!(!set[0].as_str().contains("Max-Age"), "{}", set[0]);
    assert_eq!(
        open_at(&forever, &header_for(&set), UnixTime::from_secs(i64::MAX)).unwrap().1,
        Reissue::Keep
    );
}

#[test]
fn zero_entropy_is_refused() {
    let err = codec().seal(&session(1), T0, &mut Zeros, CookieContext::new(true, 0)).unwrap_err();
    assert_eq!(err, SealError::Entropy);
}

#[test]
fn clear_expires_every_carried_chunk() {
    let c = codec();
    let names =
        |set: Vec<SetCookie>| set.iter().map(|c| String::from(c.name())).collect::<Vec<_>>();
    assert_eq!(names(c.clear(CookieContext::new(true, 0))), ["session"]);
    assert_eq!(names(c.clear(CookieContext::new(true, 3))), ["session", "session2", "session3"]);
    assert!(c.clear(CookieContext::new(false, 1)).iter().all(SetCookie::is_deletion));
}

#[test]
fn own_cookie_names() {
    let c = codec();
    assert!(c.is_session_cookie(b"session"));
    assert!(c.is_session_cookie(b"session9"));
    assert!(!c.is_session_cookie(b"session1"));
    assert!(!c.is_session_cookie(b"sessions"));
    assert!(!c.is_session_cookie(b"other"));
}

#[test]
fn config_defaults_and_debug() {
    let c = codec();
    assert_eq!(c.cookie().limits.max_chunks, 3);
    let dbg = format!("{c:?}");
    assert!(dbg.contains("keys: 1"), "{dbg}");
    assert!(!dbg.contains("horse"), "{dbg}");
    assert_eq!(NoSession::Unauthentic.code(), "unauthentic");
    assert!(NoSession::IdleTimeout.is_expected());
    assert!(!NoSession::Unauthentic.is_expected());
}
