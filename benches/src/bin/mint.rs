//! Writes a public key and RS256 access tokens for the load benchmark
//! (`scripts/bench-gateway.sh`): `mint <dir> <count>` → `<dir>/public.pem`, `<dir>/tokens.txt`,
//! and `<dir>/session-cookie.txt`: the `Cookie` header value of a typical browser session
//! (access, ID and refresh token, about 3 KiB sealed in two chunks) for the script's session
//! route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::signature::{self as lc, KeyPair as _};
use base64::Engine as _;
use oidc_benches as fx;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: mint DIR COUNT"));
    let count: usize = args.next().expect("usage: mint DIR COUNT").parse().expect("COUNT");
    let pair = lc::RsaKeyPair::from_pkcs8(&fx::b64url_decode(fx::RSA_2048_PKCS8)).unwrap();
    // SPKI = fixed rsaEncryption AlgorithmIdentifier + BIT STRING of the PKCS#1 key.
    let pkcs1 = pair.public_key().as_ref();
    let mut bits = vec![0u8];
    bits.extend_from_slice(pkcs1);
    let alg =
        [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let der_len = |n: usize| -> Vec<u8> {
        if n < 128 {
            vec![u8::try_from(n).unwrap()]
        } else {
            vec![0x82, u8::try_from(n >> 8).unwrap(), u8::try_from(n & 0xff).unwrap()]
        }
    };
    let mut bit_string = vec![0x03];
    bit_string.extend(der_len(bits.len()));
    bit_string.extend(bits);
    let mut body = alg.to_vec();
    body.extend(bit_string);
    let mut spki = vec![0x30];
    spki.extend(der_len(body.len()));
    spki.extend(body);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
    let lines: Vec<&str> =
        b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    let pem =
        format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"));
    std::fs::write(dir.join("public.pem"), pem).unwrap();

    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut out = String::new();
    for i in 0..count {
        let mut claims: serde_json::Value = serde_json::from_str(&fx::claims_json()).unwrap();
        claims["jti"] = serde_json::json!(format!("load-{i}"));
        let header = fx::header_json("RS256", "rs256-2026-01");
        let input = format!(
            "{}.{}",
            fx::b64url(header.as_bytes()),
            fx::b64url(claims.to_string().as_bytes())
        );
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(&lc::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig).unwrap();
        out.push_str(&format!("{input}.{}\n", fx::b64url(&sig)));
    }
    std::fs::write(dir.join("tokens.txt"), out).unwrap();
    std::fs::write(dir.join("session-cookie.txt"), session_cookie()).unwrap();
    println!("issuer {}", fx::ISSUER);
}

/// Sealed for the script's `session` route: its discovery URL, client id, cookie name, secret
/// and timeouts (idle and rolling off, so every request is the steady path: no re-seal).
fn session_cookie() -> String {
    use oidc_core::session::{Binding, CookieContext, CookieSettings, Session, SessionCodec};
    use oidc_core::session::{SessionTokens, Timeouts};
    let codec = SessionCodec::new(
        &[b"bench-session-secret-0123456789ab".as_slice()],
        Binding {
            issuer: "https://idp.invalid/.well-known/openid-configuration",
            client_id: "bench",
        },
        CookieSettings::new("session"),
        Timeouts { idling: 0, rolling: 0, absolute: 86_400 },
        &oidc_core::crypto::AWS_LC,
    )
    .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let now = oidc_core::UnixTime::from_secs(i64::try_from(now.as_secs()).unwrap());
    let (access, id, refresh) =
        (fx::jwt_shaped("at", 700), fx::jwt_shaped("id", 450), fx::jwt_shaped("rt", 230));
    let session = Session::start(
        &SessionTokens {
            access_token: &access,
            access_token_expires_at: Some(now.saturating_add(86_400)),
            id_token: Some(&id),
            refresh_token: Some(&refresh),
            subject: "248289761001",
            userinfo: None,
            scope: None,
        },
        now,
    );
    let cookies =
        codec.seal(&session, now, &mut fx::BenchRng(0x5eed), CookieContext::new(false, 0)).unwrap();
    cookies.iter().map(|c| format!("{}={}", c.name(), c.value())).collect::<Vec<_>>().join("; ")
}
