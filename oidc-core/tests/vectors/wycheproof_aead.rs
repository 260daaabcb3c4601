//! Wycheproof AES-GCM through the provider seam that seals session cookies: every case with a
//! 256-bit key, a 96-bit nonce and a 128-bit tag (the only parameters the seam offers; the
//! other key, nonce and tag sizes cannot be expressed in its types), sealed and opened on every
//! provider.

use oidc_core::crypto::{
    AEAD_KEY_LEN, AEAD_NONCE_LEN, AEAD_TAG_LEN, CryptoProvider, all_providers,
};
use serde_json::Value;

use crate::{data, hex};

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    other_sizes: usize,
}

fn run(provider: &dyn CryptoProvider) -> Tally {
    let doc = data("wycheproof/aes_gcm_test.json");
    let mut tally = Tally::default();
    for group in doc["testGroups"].as_array().unwrap() {
        let sizes = (&group["keySize"], &group["ivSize"], &group["tagSize"]);
        let tests = group["tests"].as_array().unwrap();
        if sizes != (&Value::from(256), &Value::from(96), &Value::from(128)) {
            tally.other_sizes += tests.len();
            continue;
        }
        for t in tests {
            let id = &t["tcId"];
            let field = |name: &str| hex(t[name].as_str().unwrap());
            let key: [u8; AEAD_KEY_LEN] = field("key").try_into().unwrap();
            let nonce: [u8; AEAD_NONCE_LEN] = field("iv").try_into().unwrap();
            let (aad, msg, ct) = (field("aad"), field("msg"), field("ct"));
            let tag: [u8; AEAD_TAG_LEN] = field("tag").try_into().unwrap();
            let sealer = provider.aes256_gcm_key(&key).unwrap();

            let mut opened = ct.clone();
            let ok = sealer.open_in_place(&nonce, &aad, &mut opened, &tag).is_ok();
            match t["result"].as_str().unwrap() {
                "valid" => {
                    assert!(ok, "tcId {id} on {}: a valid case did not open", provider.name());
                    assert_eq!(opened, msg, "tcId {id} on {}: wrong plaintext", provider.name());
                    // Sealing is deterministic given the nonce: it must reproduce the vector.
                    let mut sealed = msg.clone();
                    let got = sealer.seal_in_place(&nonce, &aad, &mut sealed).unwrap();
                    assert_eq!((sealed, got), (ct, tag), "tcId {id} on {}: seal", provider.name());
                    tally.valid += 1;
                }
                _ => {
                    assert!(!ok, "tcId {id} ({}) on {}: opened", t["comment"], provider.name());
                    tally.invalid += 1;
                }
            }
        }
    }
    tally
}

#[test]
fn aes_256_gcm() {
    for provider in all_providers() {
        let t = run(provider);
        println!(
            "aes_gcm_test.json [{}]: {} cases (AES-256, 96-bit nonce: {} valid sealed and opened, \
             {} invalid refused; {} with other sizes not expressible)",
            provider.name(),
            t.valid + t.invalid,
            t.valid,
            t.invalid,
            t.other_sizes
        );
        // 66 upstream (39 valid, 27 invalid): fail if the file or a group goes missing.
        assert!(t.valid >= 39 && t.invalid >= 27, "too few cases: {t:?}");
    }
}
