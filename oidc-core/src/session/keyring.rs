//! Session keys: derived once per route from the configured secrets, selected by key id.
//!
//! Derivation, for each secret:
//!
//! ```text
//! prk  = HKDF-Extract(salt = "oidc-gateway session cookie v1", ikm = secret)
//! key  = HKDF-Expand(prk, "aes-256-gcm" 0x00 || binding, 32)
//! kid  = HKDF-Expand(prk, "key-id" 0x00 || binding, 4)
//! ```
//!
//! where `binding` is the length-prefixed issuer, client id and cookie name. The operator's
//! secret is text of at least 16 characters, not a uniformly random key, which is why it goes
//! through HKDF-Extract rather than being used (or hashed) directly; the version in the salt
//! gives a later cookie format fresh keys. Deriving per binding means two routes that share a
//! secret still have unrelated keys: a cookie cannot be replayed across them, and each route's
//! nonce budget is its own.
//!
//! The key id is a pseudorandom function of the secret, so it reveals nothing about it beyond
//! what the AEAD tag of any captured cookie already lets an attacker test offline; it saves
//! trial decryption during key rotation.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use hkdf::Hkdf;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::CodecError;
use crate::crypto::{AEAD_KEY_LEN, AeadKey, CryptoProvider};

/// Length of the key id carried in every sealed cookie.
pub(crate) const KEY_ID_LEN: usize = 4;

/// At most this many secrets per route: opening may try each whose key id matches, and a long
/// list only means old keys were never retired.
pub const MAX_SECRETS: usize = 8;

/// Shortest accepted secret, in bytes (APISIX's `minLength: 16`, counted in bytes here because
/// bytes are what the key is derived from).
pub const MIN_SECRET_BYTES: usize = 16;

const SALT: &[u8] = b"oidc-gateway session cookie v1";
const KEY_LABEL: &[u8] = b"aes-256-gcm\0";
const KID_LABEL: &[u8] = b"key-id\0";

/// What a session cookie is bound to: a cookie sealed for one binding never opens under
/// another, even with the same secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The identity provider, as configured (the route's `discovery` URL): known before
    /// discovery runs, and the same for every worker.
    pub issuer: &'a str,
    /// The route's `client_id`.
    pub client_id: &'a str,
}

/// One derived key.
struct SessionKey {
    id: [u8; KEY_ID_LEN],
    aead: Box<dyn AeadKey>,
}

/// The keys of one route, newest first: the first seals, all open.
pub(crate) struct Keyring {
    keys: Vec<SessionKey>,
    /// SHA-256 of the encoded binding, authenticated as associated data with every cookie.
    binding_digest: [u8; 32],
}

impl fmt::Debug for Keyring {
    // Ids are public (they travel in every cookie); keys are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

impl Keyring {
    /// Derives one key per secret (duplicates collapse), newest first.
    pub(crate) fn derive(
        secrets: &[&[u8]],
        binding: &Binding<'_>,
        cookie_name: &str,
        provider: &dyn CryptoProvider,
    ) -> Result<Self, CodecError> {
        if secrets.is_empty() {
            return Err(CodecError::NoSecret);
        }
        if secrets.len() > MAX_SECRETS {
            return Err(CodecError::TooManySecrets);
        }
        let encoded = encode_binding(binding, cookie_name);
        let mut keys: Vec<SessionKey> = Vec::with_capacity(secrets.len());
        for (i, secret) in secrets.iter().enumerate() {
            if secret.len() < MIN_SECRET_BYTES {
                return Err(CodecError::WeakSecret { index: i });
            }
            let earlier = secrets.get(..i).unwrap_or_default();
            if earlier.iter().any(|s| crate::util::ct_eq(s, secret)) {
                continue;
            }
            let hk = Hkdf::<Sha256>::new(Some(SALT), secret);
            let mut key = Zeroizing::new([0u8; AEAD_KEY_LEN]);
            let mut id = [0u8; KEY_ID_LEN];
            // Both lengths are far below HKDF-SHA256's 255 * 32 byte limit: these cannot fail.
            hk.expand_multi_info(&[KEY_LABEL, &encoded], key.as_mut_slice())
                .map_err(|_| CodecError::Crypto)?;
            hk.expand_multi_info(&[KID_LABEL, &encoded], &mut id)
                .map_err(|_| CodecError::Crypto)?;
            let aead = provider.aes256_gcm_key(&key).map_err(|_| CodecError::Crypto)?;
            keys.push(SessionKey { id, aead });
        }
        Ok(Self { keys, binding_digest: Sha256::digest(&encoded).into() })
    }

    /// The key that seals, and its id.
    pub(crate) fn sealing(&self) -> Option<(&[u8; KEY_ID_LEN], &dyn AeadKey)> {
        self.keys.first().map(|k| (&k.id, &*k.aead))
    }

    /// Every key with this id, newest first (almost always one; two only on a 32-bit id
    /// collision between configured secrets).
    pub(crate) fn by_id<'s>(
        &'s self,
        id: &'s [u8; KEY_ID_LEN],
    ) -> impl Iterator<Item = &'s dyn AeadKey> + 's {
        self.keys.iter().filter(move |k| &k.id == id).map(|k| &*k.aead)
    }

    pub(crate) fn binding_digest(&self) -> &[u8; 32] {
        &self.binding_digest
    }

    /// How many distinct keys the ring holds.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Each field with a 4-byte big-endian length, so no two bindings encode alike
/// (`("ab", "c")` and `("a", "bc")` differ).
fn encode_binding(binding: &Binding<'_>, cookie_name: &str) -> Vec<u8> {
    let fields = [binding.issuer.as_bytes(), binding.client_id.as_bytes(), cookie_name.as_bytes()];
    let mut out = Vec::with_capacity(fields.iter().map(|f| f.len() + 4).sum());
    for field in fields {
        // A field of 4 GiB cannot come from a configuration; saturating keeps this total.
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::RUST_CRYPTO;

    const B: Binding<'static> = Binding { issuer: "https://idp/.well-known", client_id: "app" };

    #[test]
    fn binding_encoding_is_prefix_free() {
        let a = encode_binding(&Binding { issuer: "ab", client_id: "c" }, "s");
        let b = encode_binding(&Binding { issuer: "a", client_id: "bc" }, "s");
        assert_ne!(a, b);
    }

    #[test]
    fn key_ids_depend_on_secret_and_binding() {
        let s1: &[u8] = b"0123456789abcdef";
        let s2: &[u8] = b"0123456789abcdeg";
        let ring = Keyring::derive(&[s1, s2], &B, "session", &RUST_CRYPTO).unwrap();
        let other = Keyring::derive(&[s1], &B, "other", &RUST_CRYPTO).unwrap();
        assert_eq!(ring.len(), 2);
        let (id1, _) = ring.sealing().unwrap();
        assert_ne!(id1, &ring.keys[1].id);
        assert_ne!(id1, other.sealing().unwrap().0);
        assert_ne!(ring.binding_digest(), other.binding_digest());
        assert_eq!(ring.by_id(id1).count(), 1);
    }

    #[test]
    fn refuses_missing_short_and_too_many_secrets() {
        let ok: &[u8] = b"0123456789abcdef";
        assert_eq!(Keyring::derive(&[], &B, "s", &RUST_CRYPTO).unwrap_err(), CodecError::NoSecret);
        assert_eq!(
            Keyring::derive(&[ok, b"short"], &B, "s", &RUST_CRYPTO).unwrap_err(),
            CodecError::WeakSecret { index: 1 }
        );
        let many = [ok; MAX_SECRETS + 1];
        assert_eq!(
            Keyring::derive(&many, &B, "s", &RUST_CRYPTO).unwrap_err(),
            CodecError::TooManySecrets
        );
    }

    #[test]
    fn duplicate_secrets_collapse() {
        let s: &[u8] = b"0123456789abcdef";
        let ring = Keyring::derive(&[s, s, s], &B, "s", &RUST_CRYPTO).unwrap();
        assert_eq!(ring.len(), 1);
    }

    #[test]
    fn debug_shows_no_key_material() {
        let s: &[u8] = b"0123456789abcdef";
        let ring = Keyring::derive(&[s], &B, "s", &RUST_CRYPTO).unwrap();
        assert_eq!(alloc::format!("{ring:?}"), "Keyring { keys: 1, .. }");
    }
}
