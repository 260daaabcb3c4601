//! The 14 real provider JWKS: every one parses, with exactly the usable keys expected.

use oidc_core::crypto::all_providers;
use oidc_core::jose::{JwkOptions, KeyError, KeyFamily, KeySet};

use crate::data;

#[test]
fn provider_jwks() {
    // (provider, usable keys with the default 2048-bit RSA minimum, skipped keys)
    let expected = [
        ("google", 2, 0),
        ("microsoft-entra-common", 7, 0),
        ("microsoft-entra-organizations", 6, 0),
        ("apple", 3, 0),
        ("gitlab", 2, 0),
        ("yahoo", 1, 3), // three RSA-1024 keys below the minimum; the ES256 key loads
        ("paypal", 14, 1), // the OKP X25519 key is for key agreement, not signatures
        ("slack", 1, 0),
        ("facebook", 2, 0),
        ("keycloak", 1, 1), // the RSA-OAEP `use: enc` key
        ("okta", 2, 0),
        ("auth0", 2, 0),
        ("onelogin", 1, 0),
        ("hashicorp-vault", 2, 0),
    ];
    for provider in all_providers() {
        for (name, usable, skipped) in expected {
            let doc = data(&format!("providers/{name}_jwks.json")).to_string();
            let set =
                KeySet::from_jwks_json(doc.as_bytes(), &JwkOptions::PUBLISHED, provider).unwrap();
            assert_eq!(
                (set.len(), set.skipped().len()),
                (usable, skipped),
                "{name}: {:?}",
                set.skipped()
            );
            for s in set.skipped() {
                assert!(
                    matches!(
                        s.reason,
                        KeyError::RsaTooSmall { bits: 1024 }
                            | KeyError::NotForSignatures
                            | KeyError::UnsupportedCurve
                    ),
                    "{name}: {s:?}"
                );
            }
            assert!(set.keys().iter().all(|k| k.family() != KeyFamily::Hmac));
        }
        println!("provider JWKS [{}]: {} sets parsed", provider.name(), expected.len());
        assert!(expected.len() >= 14, "provider JWKS files went missing");
    }
}

#[test]
fn provider_discovery_documents() {
    use oidc_core::discovery::ProviderMetadata;
    let names = [
        "google",
        "microsoft-entra-common",
        "microsoft-entra-organizations",
        "apple",
        "gitlab",
        "yahoo",
        "paypal",
        "slack",
        "facebook",
        "keycloak",
        "okta",
        "auth0",
        "onelogin",
        "hashicorp-vault",
    ];
    for name in names {
        let doc = data(&format!("providers/{name}_openid-configuration.json"));
        let meta = ProviderMetadata::parse(doc.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(meta.issuer, doc["issuer"].as_str().unwrap());
        assert_eq!(meta.jwks_uri, doc["jwks_uri"].as_str().unwrap());
        assert_eq!(
            meta.introspection_endpoint.as_deref(),
            doc.get("introspection_endpoint").and_then(|v| v.as_str())
        );
        meta.check_issuer(&meta.issuer.clone()).unwrap();
    }
    println!("provider discovery documents: {} parsed", names.len());
    assert!(names.len() >= 14, "provider discovery documents went missing");
}
