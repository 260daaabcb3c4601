//! The sealed form: header, AES-256-GCM ciphertext and tag, in base64url.
//!
//! ```text
//! offset  size  field
//!      0     1  format version (1)
//!      1     1  chunk count (1..=9)
//!      2     4  key id
//!      6    12  nonce (random, from the caller's secret entropy)
//!     18     n  ciphertext of the payload
//!   18+n    16  tag
//! ```
//!
//! The 18-byte header is exactly 24 base64url characters, so the opener decodes it from the
//! first chunk alone and knows the version, how many chunks to expect and which key to use
//! before it touches the rest. Associated data is `version || count || key id || binding
//! digest`: the header cannot be edited, and the cookie is bound to its issuer, client and
//! cookie name. The nonce is authenticated implicitly (another nonce gives another keystream
//! and tag).
//!
//! Nonces are 96 random bits per seal. With random nonces, GCM stays within NIST SP 800-38D's
//! 2^-32 collision bound for 2^32 seals per key, and keys are per route and per secret; a
//! gateway re-seals on login, refresh and renewal (at most about once a minute per active
//! session), so that bound is orders of magnitude away from any deployment that rotates its
//! secret now and then.

use alloc::string::String;

use super::chunk::{SessionCookies, chunk_name_len, chunks_needed, plan};
use super::cookie::CookieSettings;
use super::keyring::{KEY_ID_LEN, Keyring};
use super::payload::Session;
use super::wipe::WipedBytes;
use super::{NoSession, SealError};
use crate::crypto::{AEAD_NONCE_LEN, AEAD_TAG_LEN};
use crate::engine::Entropy;
use crate::jose::base64url;

/// The only format this build seals and opens.
pub(crate) const VERSION: u8 = 1;
/// Version, count, key id, nonce.
pub(crate) const HEADER_LEN: usize = 2 + KEY_ID_LEN + AEAD_NONCE_LEN;
/// The header in base64url: 18 bytes are 24 characters, with no bits shared with the ciphertext.
pub(crate) const HEADER_CHARS: usize = HEADER_LEN / 3 * 4;
/// Version, count, key id, binding digest.
const AAD_LEN: usize = 2 + KEY_ID_LEN + 32;

/// Unpadded base64url length of `n` bytes.
pub(crate) const fn encoded_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

fn aad(count: u8, key_id: &[u8; KEY_ID_LEN], binding: &[u8; 32]) -> [u8; AAD_LEN] {
    let mut aad = [0u8; AAD_LEN];
    let (head, digest) = aad.split_at_mut(2 + KEY_ID_LEN);
    let (vc, kid) = head.split_at_mut(2);
    vc.copy_from_slice(&[VERSION, count]);
    kid.copy_from_slice(key_id);
    digest.copy_from_slice(binding);
    aad
}

/// Seals `session` into its base64url text, and the number of chunks that text needs.
pub(crate) fn seal(
    ring: &Keyring,
    session: &Session,
    cookie: &CookieSettings,
    rng: &mut dyn Entropy,
) -> Result<(String, usize), SealError> {
    let sealed_len = HEADER_LEN + session.encoded_len() + AEAD_TAG_LEN;
    let text_len = encoded_len(sealed_len);
    let name_len = cookie.name.len();
    // The budget is checked before anything is allocated or encrypted.
    let count = plan(&cookie.limits, name_len, text_len).ok_or(SealError::TooLarge {
        needed: chunks_needed(&cookie.limits, name_len, text_len),
        max: cookie.limits.max_chunks,
    })?;
    let count_byte = u8::try_from(count).map_err(|_| SealError::Crypto)?;
    let (key_id, key) = ring.sealing().ok_or(SealError::Crypto)?;
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    rng.fill_secret(&mut nonce);
    // A source that fills nothing would repeat this nonce forever; catch at least that.
    if nonce == [0u8; AEAD_NONCE_LEN] {
        return Err(SealError::Entropy);
    }
    let mut buf = WipedBytes::with_capacity(sealed_len);
    buf.extend_from_slice(&[VERSION, count_byte]);
    buf.extend_from_slice(key_id);
    buf.extend_from_slice(&nonce);
    session.encode_into(&mut buf);
    let aad = aad(count_byte, key_id, ring.binding_digest());
    let body = buf.get_mut(HEADER_LEN..).ok_or(SealError::Crypto)?;
    let tag = key.seal_in_place(&nonce, &aad, body).map_err(|_| SealError::Crypto)?;
    buf.extend_from_slice(&tag);
    Ok((base64url::encode(&buf), count))
}

/// Opens the session the request's chunks carry. Every failure is a reason, never a panic.
pub(crate) fn open(
    ring: &Keyring,
    jar: &SessionCookies<'_>,
    cookie: &CookieSettings,
) -> Result<Session, NoSession> {
    let limits = &cookie.limits;
    let name_len = cookie.name.len();
    let first = jar.chunk(1).ok_or(NoSession::Absent)?;
    // Sizes first, so an oversized request costs neither decoding nor allocation.
    let mut total = 0;
    for index in 1..=jar.carried() {
        if let Some(chunk) = jar.chunk(index) {
            if index > limits.max_chunks
                || chunk_name_len(name_len, index) + 1 + chunk.len() > limits.chunk_bytes
            {
                return Err(NoSession::Oversized);
            }
            total += chunk.len();
        }
    }
    let (head, first_rest) = first.split_at_checked(HEADER_CHARS).ok_or(NoSession::Malformed)?;
    let mut buf = WipedBytes::with_capacity(base64url::decoded_len_estimate(total));
    base64url::decode_into(head, &mut buf).map_err(|_| NoSession::Malformed)?;
    let header: [u8; HEADER_LEN] = buf.as_slice().try_into().map_err(|_| NoSession::Malformed)?;
    let [version, count, k0, k1, k2, k3, nonce @ ..] = header;
    if version != VERSION {
        return Err(NoSession::UnsupportedVersion);
    }
    let count_byte = count;
    let count = usize::from(count);
    if count == 0 || count > limits.max_chunks {
        return Err(if count == 0 { NoSession::Malformed } else { NoSession::Oversized });
    }
    jar.check_count(count)?;
    for index in 1..=count {
        let chunk = if index == 1 { first_rest } else { jar.chunk(index).unwrap_or_default() };
        // Every chunk but the last ends on a 4-character boundary (see the chunk module).
        if index < count && chunk.len() % 4 != 0 {
            return Err(NoSession::Malformed);
        }
        base64url::decode_into(chunk, &mut buf).map_err(|_| NoSession::Malformed)?;
    }
    let tag_at = buf.len().checked_sub(AEAD_TAG_LEN).filter(|&t| t >= HEADER_LEN);
    let tag_at = tag_at.ok_or(NoSession::Malformed)?;
    let tag: [u8; AEAD_TAG_LEN] =
        buf.get(tag_at..).and_then(|t| t.try_into().ok()).ok_or(NoSession::Malformed)?;
    buf.truncate(tag_at);
    let key_id = [k0, k1, k2, k3];
    let aad = aad(count_byte, &key_id, ring.binding_digest());
    let body = buf.get_mut(HEADER_LEN..).ok_or(NoSession::Malformed)?;
    // A failed open leaves the buffer unspecified, so a second candidate key (a key-id
    // collision, about 2^-32 per pair of secrets) gets a fresh copy of the ciphertext.
    let candidates = ring.by_id(&key_id).count();
    let backup = (candidates > 1).then(|| WipedBytes(body.to_vec()));
    let mut opened = false;
    for (i, key) in ring.by_id(&key_id).enumerate() {
        if let (true, Some(copy)) = (i > 0, &backup) {
            body.copy_from_slice(copy);
        }
        if key.open_in_place(&nonce, &aad, body, &tag).is_ok() {
            opened = true;
            break;
        }
    }
    match (candidates, opened) {
        (0, _) => Err(NoSession::UnknownKey),
        (_, false) => Err(NoSession::Unauthentic),
        (_, true) => Session::decode_from(&mut buf, HEADER_LEN).map_err(|_| NoSession::BadPayload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_whole_base64_quanta() {
        assert_eq!(HEADER_LEN, 18);
        assert_eq!(HEADER_CHARS, 24);
        assert_eq!(HEADER_LEN % 3, 0);
        assert_eq!(encoded_len(0), 0);
        assert_eq!(encoded_len(1), 2);
        assert_eq!(encoded_len(2), 3);
        assert_eq!(encoded_len(3), 4);
        assert_eq!(encoded_len(34), 46);
    }
}
