//! Shared fixtures for the criterion benches (see `benches/`).
//!
//! Everything here is fixed, so every run verifies the same tokens with the same keys: the
//! private keys are test keys generated once for these benches (never use them for anything
//! else), the claims are a constant access token, and "now" is a constant inside the token's
//! validity window. Only the PS256 signature changes between runs (PSS salts are random),
//! which does not change the cost of verifying it.

use oidc_core::UnixTime;
use oidc_core::jose::{AlgorithmPolicy, ClaimPolicy, JwtValidator, base64url};

/// The `iss` of every bench token, and the only issuer the validators accept.
pub const ISSUER: &str = "https://login.example.com/7d1c0b2e-5f4a-4c11-9e3b-2a8f6d0c4b19/v2.0";
/// The `aud` of every bench token, and the only audience the validators accept.
pub const AUDIENCE: &str = "api://orders-service";
/// `iat`: 2026-01-01T00:00:00Z.
pub const IAT: i64 = 1_767_225_600;
/// `exp`: 2100-01-01T00:00:00Z, far enough ahead for `jsonwebtoken`, which reads the system
/// clock and cannot be given a time.
pub const EXP: i64 = 4_102_444_800;
/// The `now` handed to oidc-core: one minute after `iat`.
pub const NOW: i64 = IAT + 60;

/// RSA 2048-bit test key (e = 65537), PKCS#8 DER, base64url. Generated once with
/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`.
pub const RSA_2048_PKCS8: &str = concat!(
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDIqdsCoPpb9CnTS4KBTNj-1MzMr_Es-KwWlwhi2LPo",
    "M2qmTlrz2bPS8oOEjKrBF3zovS7QXAgMLZDH85vEU_tWZsnLqbmhyRP_V4NP8flvnk1R-s06nomMVHEEc4TRZFTHdqrB",
    "fZ7W_jK_rilL7CowjhnZSBvWBJUFbVUPN575gmaUmh62ZGfdiUjeW8NuwAyKHxc36XaCeZ8WUxdpiqj18DrYJCYUXs_q",
    "IF06WR_HhyQrK59jKbyDRIcs-hJ3SBFkSY1Xje7YyEX_WT7ht84_KRIsKFoovu_fPtr_-bXY-SqXsjafh9mkGouNLx2R",
    "44FUgUv6rqbG3M884CDW6zlhAgMBAAECggEACm25ciOHn2vLGK4d9DZYOLY6hpDGSf4Kg4oJ54k3oGO7sTT1SSMRU29D",
    "Iopk_XAJD9d1LWL7EBb2JU4l1EhBEbZ52lnRyfS3U1fq_SaoPgLOJeqQ6_D9WQuya_bM-kzqkws5yKCMtsOzQ377qnR1",
    "pNxdv4sd1zuZuxR5jTbozjK_JujHnJ8VtJmMr7axXGiQ0DmpESGDbfBV3nCcPmujP3aJQCfM3zmjQR2UWV3AgMPTfqIL",
    "naSJ99PuHCU0iBWLtnN5yuqDyyCrfoRcvmio9UV18oHc9cS7HKtAu3SLQ3ZFvUe-IvPtKc4aanO37PulvMvbMqLQyVjj",
    "BI2pj-MNuQKBgQDuvmwpbg0iumjTmgvI5nqVkNRJ9X4sUrE65anIaX0MCxcKdFu5QCAaEIlgiGwClsG5Hge2NFbIKsnC",
    "42AiBH5-tYRH8lGZVrQzCEAGefSJuTfAGKnXK9As_RAVKNnZTRZ8PGIYEa7U1q7b6T7zDdU9aXoWK-sHInoR40tR8CeE",
    "DwKBgQDXKtEE9g_Xk1LestixF4jeL6xqIxu6EW9qJQzr3CKIZAZh8cJVwKonvPc76O_UZTWKIjhWCkivxVIvKVVXUpzK",
    "wN7Owt0gUhcvIwDsbyxkGKBa8pZz-8DYubfpkGByRIRWmglcb1PS6lZ5VQItKz83aG2Un9zFXGfSvOTFdwc7jwKBgG1M",
    "KhJRepwCgQkWhfykX0xnsHhndirudIrFJ5RDjubbkOHNYUyO6eNk3K-f5OrOf8Oy1s74aR5cUF_zXkhUjGCP0w5pBihQ",
    "BFE0nrMYU_ZVIAvGfsKuITDnbdxyBkGwQ_H-Zt4kAkkYO5cb0iDNnWjvB-BsnL14cDAOQaYybrTLAoGBAKIl1haTCCVB",
    "FLZWuQ3b2nz2GExz4LU75mZrPW2RG0UFe_nbosPUyWXg9b_kLrg0_T_3wdS1M0mivehkkbeYvifdaQsPtmxg8K_JBS0o",
    "Kp_UHyPqpI8LLa0lZ_9Pmh8Cm2hX9K4AB39usXQGJ_m6GY272LikME9a77LUPuLAbGbpAoGBAJbxkcsZHwwMzuSUb9Jc",
    "84VzZVN4NavHuf512vlYWdteJsKgvtURNcQuAPFcvKkxDGHcqWxozC85gAF__oTkNOb_645HNHv6hwVCZmfhQtqX1qc2",
    "8AQCv5Gs_7SIu7eDSG-q1_YW1RrJXA1SA-75BYyiv-JgZE1tf2hnQhbzApaC",
);

/// P-256 test private scalar (big-endian).
pub const P256_SCALAR: [u8; 32] = [
    0x6d, 0xf7, 0x99, 0xc7, 0x2b, 0xe1, 0x00, 0x72, 0xa5, 0x5a, 0x60, 0x36, 0x87, 0x6b, 0x50, 0xc0,
    0x7a, 0x67, 0x5a, 0xa9, 0xb4, 0x44, 0xb7, 0x0c, 0xa6, 0x09, 0xf8, 0x68, 0x5b, 0x5e, 0x83, 0xe5,
];

/// Ed25519 test seed.
pub const ED25519_SEED: [u8; 32] = [
    0x0f, 0xf6, 0x4b, 0xad, 0x3b, 0xb5, 0xfe, 0xa1, 0x9e, 0xe4, 0x20, 0x57, 0xb1, 0x71, 0xc4, 0x49,
    0x4d, 0x74, 0xcf, 0xec, 0x8f, 0x15, 0xeb, 0xa8, 0x12, 0xa9, 0x86, 0x2d, 0x9e, 0x56, 0x84, 0x64,
];

/// HS256 test secret (32 bytes, the minimum RFC 7518 §3.2 allows for HS256).
pub const HMAC_SECRET: [u8; 32] = [
    0x47, 0x3b, 0x44, 0x04, 0xf3, 0x7b, 0x9a, 0x35, 0xfd, 0x6f, 0x82, 0x5b, 0x00, 0xfe, 0x86, 0x22,
    0xd7, 0xe1, 0x59, 0x44, 0x5c, 0x49, 0x7f, 0xa2, 0x0e, 0x66, 0x22, 0x9e, 0x5b, 0xb3, 0x42, 0xf4,
];

/// The `now` handed to oidc-core.
pub fn now() -> UnixTime {
    UnixTime::from_secs(NOW)
}

/// The protected header of a bench token: `alg`, `kid` and `typ: at+jwt` (RFC 9068).
pub fn header_json(alg: &str, kid: &str) -> String {
    format!(r#"{{"alg":"{alg}","kid":"{kid}","typ":"at+jwt"}}"#)
}

/// A JWT-shaped token: a real header, a claims segment of about `claims_len` JSON bytes, and an
/// RS256 signature's worth (256 bytes) of signature (not a valid one: for session payloads).
pub fn jwt_shaped(kid: &str, claims_len: usize) -> String {
    let header = b64url(header_json("RS256", kid).as_bytes());
    let base = format!(r#"{{"iss":"{ISSUER}","sub":"248289761001","pad":""}}"#);
    let pad = "p".repeat(claims_len.saturating_sub(base.len()));
    let claims = base.replace(r#""pad":"""#, &format!(r#""pad":"{pad}""#));
    format!("{header}.{}.{}", b64url(claims.as_bytes()), b64url(&[7; 256]))
}

/// The claims of a bench token: a realistic RFC 9068 access token of about 400 bytes.
pub fn claims_json() -> String {
    format!(
        concat!(
            r#"{{"iss":"{iss}","sub":"5f0c6a2e-9d41-4b7a-8c3e-71d2a4f9e006","aud":"{aud}","#,
            r#""exp":{exp},"iat":{iat},"auth_time":{iat},"#,
            r#""jti":"b7e4f1c2-3a9d-4e58-a6b0-d1c8f2e7a394","#,
            r#""client_id":"orders-web-7f3a9c","#,
            r#""scope":"openid profile email orders:read orders:write invoices:read","#,
            r#""roles":["orders.reader","orders.writer"]}}"#,
        ),
        iss = ISSUER,
        aud = AUDIENCE,
        exp = EXP,
        iat = IAT,
    )
}

/// `BASE64URL(header) || '.' || BASE64URL(claims)` for a token with this `alg` and `kid`.
pub fn signing_input(alg: &str, kid: &str) -> String {
    let mut s = base64url::encode(header_json(alg, kid).as_bytes());
    s.push('.');
    base64url::encode_into(claims_json().as_bytes(), &mut s);
    s
}

/// The compact JWS of `signing_input` and `signature`.
pub fn compact(signing_input: &str, signature: &[u8]) -> String {
    let mut s = String::with_capacity(signing_input.len() + 1 + signature.len() * 4 / 3 + 4);
    s.push_str(signing_input);
    s.push('.');
    base64url::encode_into(signature, &mut s);
    s
}

/// The claim policy every bench validator uses: the issuer and the audience, plus the
/// defaults (`exp` required, no leeway).
pub fn claim_policy() -> ClaimPolicy {
    ClaimPolicy {
        issuers: Some(vec![ISSUER.to_owned()]),
        audiences: Some(vec![AUDIENCE.to_owned()]),
        ..ClaimPolicy::default()
    }
}

/// The validator every bench uses: any signed algorithm (each only with a key of its own
/// family) and [`claim_policy`].
pub fn validator() -> JwtValidator {
    JwtValidator::new(AlgorithmPolicy::default(), claim_policy())
}

/// Decodes base64url, panicking on bad input (fixtures only).
pub fn b64url_decode(s: &str) -> Vec<u8> {
    base64url::decode(s.as_bytes()).expect("fixture is valid base64url")
}

/// Encodes base64url.
pub fn b64url(bytes: &[u8]) -> String {
    base64url::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_about_400_bytes() {
        let n = claims_json().len();
        assert!((380..=440).contains(&n), "{n}");
        assert!(b64url_decode(RSA_2048_PKCS8).len() > 1100);
    }
}

/// A deterministic [`oidc_core::engine::Entropy`] for benchmarks (an LCG; not for real use).
#[derive(Debug)]
pub struct BenchRng(pub u64);

impl oidc_core::engine::Entropy for BenchRng {
    fn fill_public(&mut self, b: &mut [u8]) {
        self.fill_secret(b);
    }
    fn fill_secret(&mut self, b: &mut [u8]) {
        for x in b {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            *x = (self.0 >> 56) as u8;
        }
    }
}
