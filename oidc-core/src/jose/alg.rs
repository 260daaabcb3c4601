//! JWS algorithms (RFC 7518 §3, RFC 8037 §3.1) and the key families that may use them.

use core::fmt;

/// A JWS `alg` this crate can verify, plus `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, 32-byte salt.
    PS256,
    /// RSASSA-PSS with SHA-384, MGF1 with SHA-384, 48-byte salt.
    PS384,
    /// RSASSA-PSS with SHA-512, MGF1 with SHA-512, 64-byte salt.
    PS512,
    /// ECDSA on P-256 with SHA-256, signature as fixed-width `r || s`.
    ES256,
    /// ECDSA on P-384 with SHA-384, signature as fixed-width `r || s`.
    ES384,
    /// ECDSA on P-521 with SHA-512, signature as fixed-width `r || s`.
    ES512,
    /// EdDSA; only the Ed25519 curve is supported.
    EdDSA,
    /// The unsecured JWS (RFC 7515 §A.5). Never accepted unless explicitly allowed.
    None,
}

/// The family of a verification key, which alone decides the algorithms it may verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFamily {
    /// An RSA public key (RS* and PS*).
    Rsa,
    /// An EC public key on the given curve (ES* of that curve only).
    Ec(Curve),
    /// An Ed25519 public key (EdDSA).
    Ed25519,
    /// A symmetric key from configuration (HS*).
    Hmac,
}

/// The elliptic curves of the ES* algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
}

impl Curve {
    /// The JWK `crv` name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// Parses a JWK `crv` name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "P-256" => Some(Self::P256),
            "P-384" => Some(Self::P384),
            "P-521" => Some(Self::P521),
            _ => None,
        }
    }

    /// Size in bytes of one coordinate (and of `r` and `s` in a signature).
    pub const fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }
}

/// The SHA-2 hash an algorithm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// Output size in bytes (also the PSS salt length JOSE requires).
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

impl Algorithm {
    /// Every algorithm that verifies with a key (that is, all but `none`).
    pub const SIGNED: [Self; 13] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::ES512,
        Self::EdDSA,
    ];

    /// Parses a JWS `alg` value (case-sensitive, as RFC 7515 requires).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "HS256" => Self::HS256,
            "HS384" => Self::HS384,
            "HS512" => Self::HS512,
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "ES512" => Self::ES512,
            "EdDSA" => Self::EdDSA,
            "none" => Self::None,
            _ => return None,
        })
    }

    /// The registered `alg` name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::EdDSA => "EdDSA",
            Self::None => "none",
        }
    }

    /// The key family that may verify this algorithm (`None` for `alg: none`).
    pub const fn family(self) -> Option<KeyFamily> {
        Some(match self {
            Self::HS256 | Self::HS384 | Self::HS512 => KeyFamily::Hmac,
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyFamily::Rsa
            }
            Self::ES256 => KeyFamily::Ec(Curve::P256),
            Self::ES384 => KeyFamily::Ec(Curve::P384),
            Self::ES512 => KeyFamily::Ec(Curve::P521),
            Self::EdDSA => KeyFamily::Ed25519,
            Self::None => return None,
        })
    }

    /// The hash function, where the algorithm has one of its own choosing.
    pub const fn hash(self) -> Option<Hash> {
        match self {
            Self::HS256 | Self::RS256 | Self::PS256 | Self::ES256 => Some(Hash::Sha256),
            Self::HS384 | Self::RS384 | Self::PS384 | Self::ES384 => Some(Hash::Sha384),
            Self::HS512 | Self::RS512 | Self::PS512 | Self::ES512 => Some(Hash::Sha512),
            Self::EdDSA | Self::None => None,
        }
    }

    /// Whether `key` is allowed to verify this algorithm. This is the only place where the
    /// algorithm/key pairing is decided: an RSA, EC or OKP key can never verify an HS* token,
    /// whatever the token's header says.
    pub fn is_verified_by(self, key: KeyFamily) -> bool {
        self.family() == Some(key)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::SIGNED.iter().copied().chain([Algorithm::None]) {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
        assert_eq!(Algorithm::from_name("rs256"), None);
        assert_eq!(Algorithm::from_name("NONE"), None);
        assert_eq!(Algorithm::from_name("ES256K"), None);
    }

    #[test]
    fn only_hmac_keys_verify_hs() {
        for family in [
            KeyFamily::Rsa,
            KeyFamily::Ec(Curve::P256),
            KeyFamily::Ec(Curve::P384),
            KeyFamily::Ed25519,
        ] {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512, Algorithm::None] {
                assert!(!alg.is_verified_by(family), "{alg} by {family:?}");
            }
        }
        assert!(!Algorithm::ES256.is_verified_by(KeyFamily::Ec(Curve::P384)));
        assert!(Algorithm::PS512.is_verified_by(KeyFamily::Rsa));
    }
}
