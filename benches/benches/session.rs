//! Session cookies: opening (the per-request cost of every authenticated browser request) and
//! sealing (login, refresh, touch), on each crypto provider.
//!
//! The session is a typical one: a 1.2 KiB RS256 access token, a 1 KiB ID token, a 0.8 KiB
//! refresh token (JWT-shaped, as Keycloak issues them), a subject and the access-token expiry,
//! sealed to about 3 KiB: two chunks of the default budget. Benchmark ids:
//!
//! - `session_open/<provider>`: `SessionCodec::collect` over a `Cookie` header that also holds
//!   two unrelated cookies, then `SessionCodec::open` (size checks, base64url decode of both
//!   chunks, key lookup, AES-256-GCM open, payload decode into one buffer, timeout checks), and
//!   dropping the session (which wipes its buffer).
//! - `session_open/base64url_only`: only the strict base64url decode of the two chunks, for
//!   scale.
//! - `session_seal/<provider>`: `SessionCodec::seal` to the two `Set-Cookie` values.
//!
//! Setup checks that every opened cookie is a valid session, so no bench measures an error path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use oidc_benches::{self as fx, BenchRng};
use oidc_core::UnixTime;
use oidc_core::crypto::{AWS_LC, CryptoProvider, RUST_CRYPTO};
use oidc_core::jose::base64url;
use oidc_core::session::{
    Binding, CookieContext, CookieSettings, Opened, Session, SessionCodec, SessionTokens, Timeouts,
};

const SECRET: &[u8] = b"bench session secret: 32 bytes..";

struct Fixture {
    access: String,
    id: String,
    refresh: String,
}

impl Fixture {
    fn new() -> Self {
        Self {
            access: fx::jwt_shaped("at", 700),
            id: fx::jwt_shaped("id", 450),
            refresh: fx::jwt_shaped("rt", 230),
        }
    }

    fn session(&self, now: UnixTime) -> Session {
        Session::start(
            &SessionTokens {
                access_token: &self.access,
                access_token_expires_at: Some(now.saturating_add(300)),
                id_token: Some(&self.id),
                refresh_token: Some(&self.refresh),
                subject: "248289761001",
                userinfo: None,
                scope: None,
            },
            now,
        )
    }
}

fn codec(provider: &dyn CryptoProvider) -> SessionCodec {
    SessionCodec::new(
        &[SECRET],
        Binding {
            issuer: "https://login.example.com/.well-known/openid-configuration",
            client_id: "web",
        },
        CookieSettings::new("session"),
        Timeouts::default(),
        provider,
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let now = fx::now();
    let fixture = Fixture::new();
    let providers: [(&str, &dyn CryptoProvider); 2] =
        [("aws-lc", &AWS_LC), ("rustcrypto", &RUST_CRYPTO)];

    let mut open = c.benchmark_group("session_open");
    let mut chunks_for_b64 = Vec::new();
    for (name, provider) in providers {
        let codec = codec(provider);
        let set = codec
            .seal(&fixture.session(now), now, &mut BenchRng(1), CookieContext::new(true, 0))
            .unwrap();
        let sealed: usize = set.iter().map(|c| c.value().len()).sum::<usize>() * 3 / 4;
        assert!(
            (2900..3300).contains(&sealed) && set.len() == 2,
            "{sealed} bytes, {} chunks",
            set.len()
        );
        let header = format!(
            "theme=dark; {}; lang=en",
            set.iter()
                .map(|c| format!("{}={}", c.name(), c.value()))
                .collect::<Vec<_>>()
                .join("; ")
        );
        chunks_for_b64 = set.iter().map(|c| c.value().to_string()).collect();
        let later = now.saturating_add(10);
        match codec.open(&codec.collect([header.as_bytes()]), later) {
            Opened::Session { session, .. } => assert_eq!(session.access_token(), fixture.access),
            Opened::NoSession(why) => panic!("{}", why.code()),
        }
        if name == "aws-lc" {
            println!(
                "session_open: {sealed} bytes sealed, {} bytes of Cookie header",
                header.len()
            );
        }
        open.bench_function(name, |b| {
            b.iter(|| {
                let jar = codec.collect([black_box(header.as_bytes())]);
                match codec.open(&jar, later) {
                    Opened::Session { session, .. } => black_box(session.access_token().len()),
                    Opened::NoSession(_) => unreachable!(),
                }
            });
        });
    }
    open.bench_function("base64url_only", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            for chunk in &chunks_for_b64 {
                base64url::decode_into(black_box(chunk.as_bytes()), &mut out).unwrap();
            }
            black_box(out.len())
        });
    });
    open.finish();

    let mut seal = c.benchmark_group("session_seal");
    for (name, provider) in providers {
        let codec = codec(provider);
        let session = fixture.session(now);
        let mut rng = BenchRng(2);
        seal.bench_function(name, |b| {
            b.iter(|| {
                codec.seal(black_box(&session), now, &mut rng, CookieContext::new(true, 2)).unwrap()
            });
        });
    }
    seal.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
