//! Strict base64url (RFC 4648 §5) without padding, as JOSE requires (RFC 7515 §2).
//!
//! Strict means: only the URL-safe alphabet, no `=` padding, no whitespace, and the unused low
//! bits of the last character must be zero, so every byte string has exactly one encoding. A
//! token whose segments are not canonical is rejected rather than silently normalised, because
//! two spellings of one signature would let an attacker mint distinct tokens (and distinct cache
//! keys) from one valid token.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Why a base64url string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Base64Error {
    /// A character outside the URL-safe alphabet (this includes `=`, `+`, `/` and whitespace).
    InvalidCharacter,
    /// A length that no unpadded encoding can have (4n + 1 characters).
    InvalidLength,
    /// The last character carries non-zero unused bits: not the canonical encoding.
    NonCanonical,
    /// The input is longer than the caller's limit.
    TooLong,
}

impl core::fmt::Display for Base64Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::InvalidCharacter => "invalid base64url character",
            Self::InvalidLength => "invalid base64url length",
            Self::NonCanonical => "non-canonical base64url encoding",
            Self::TooLong => "base64url input too long",
        })
    }
}

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Decodes strict unpadded base64url.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
    let mut out = Vec::with_capacity(decoded_len_estimate(input.len()));
    decode_into(input, &mut out)?;
    Ok(out)
}

/// Decodes strict unpadded base64url, refusing inputs longer than `max_input` characters before
/// allocating anything.
pub fn decode_limited(input: &[u8], max_input: usize) -> Result<Vec<u8>, Base64Error> {
    if input.len() > max_input {
        return Err(Base64Error::TooLong);
    }
    decode(input)
}

/// Decodes strict unpadded base64url, appending to `out` (which is left unchanged on error).
pub fn decode_into(input: &[u8], out: &mut Vec<u8>) -> Result<(), Base64Error> {
    if input.len() % 4 == 1 {
        return Err(Base64Error::InvalidLength);
    }
    let start = out.len();
    ENGINE.decode_vec(input, out).map_err(|e| {
        out.truncate(start);
        match e {
            base64::DecodeError::InvalidLastSymbol { .. } => Base64Error::NonCanonical,
            base64::DecodeError::InvalidLength(_) => Base64Error::InvalidLength,
            base64::DecodeError::InvalidByte(..) | base64::DecodeError::InvalidPadding => {
                Base64Error::InvalidCharacter
            }
        }
    })
}

/// Encodes bytes as unpadded base64url.
pub fn encode(input: &[u8]) -> String {
    ENGINE.encode(input)
}

/// Appends the unpadded base64url encoding of `input` to `out`.
pub fn encode_into(input: &[u8], out: &mut String) {
    ENGINE.encode_string(input, out);
}

/// An upper bound on the decoded size of `len` base64 characters.
pub const fn decoded_len_estimate(len: usize) -> usize {
    len / 4 * 3 + 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_known_values() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg");
        assert_eq!(encode(b"fo"), "Zm8");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode(b"-_8").unwrap(), [0xfb, 0xff]);
    }

    #[test]
    fn rejects_padding_standard_alphabet_and_whitespace() {
        assert_eq!(decode(b"Zg=="), Err(Base64Error::InvalidCharacter));
        assert_eq!(decode(b"+/8"), Err(Base64Error::InvalidCharacter));
        assert_eq!(decode(b"Zm9 "), Err(Base64Error::InvalidCharacter));
        assert_eq!(decode(b"Zm9v\n"), Err(Base64Error::InvalidLength));
    }

    #[test]
    fn rejects_non_canonical_trailing_bits() {
        // "Zg" is canonical for "f"; "Zh" decodes to the same byte with a stray low bit.
        assert_eq!(decode(b"Zh"), Err(Base64Error::NonCanonical));
        assert_eq!(decode(b"Zm9"), Err(Base64Error::NonCanonical));
    }

    #[test]
    fn rejects_impossible_length() {
        assert_eq!(decode(b"Z"), Err(Base64Error::InvalidLength));
        assert_eq!(decode(b"Zm9vY"), Err(Base64Error::InvalidLength));
    }

    #[test]
    fn limit_is_checked_before_decoding() {
        assert_eq!(decode_limited(b"Zm9v", 3), Err(Base64Error::TooLong));
        assert_eq!(decode_limited(b"Zm9v", 4).unwrap(), b"foo");
    }
}
