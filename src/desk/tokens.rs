//! Secret tokens for reset links and site sessions: 32 bytes from the OS
//! CSPRNG, base64url without padding for the outside world, and only the
//! lowercase hex SHA-256 for the database. A token is found again by
//! hashing what the customer presents and looking the hash up, so no
//! comparison of secrets happens in application code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRng;
use sha2::{Digest, Sha256};

use super::error::DeskError;

/// Bytes of randomness in every token.
pub const TOKEN_BYTES: usize = 32;

/// Length of a token in base64url without padding (43 characters).
pub const TOKEN_LEN: usize = 43;

/// A fresh token: the text to hand out, and the hash to store.
pub(crate) struct Minted {
    /// base64url, never stored or logged.
    pub raw: String,
    /// Lowercase hex SHA-256 of `raw`'s bytes as text.
    pub sha256: String,
}

/// Draws a token from the operating system's CSPRNG.
pub(crate) fn mint() -> Result<Minted, DeskError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| DeskError::Internal(format!("the OS random source failed: {e}")))?;
    let raw = URL_SAFE_NO_PAD.encode(bytes);
    let sha256 = sha256_hex(&raw);
    Ok(Minted { raw, sha256 })
}

/// Lowercase hex SHA-256 of a text.
#[must_use]
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in &digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether a presented token has the shape of one we mint (43 base64url
/// characters decoding to 32 bytes); anything else is not looked up.
#[must_use]
pub fn well_formed(raw: &str) -> bool {
    raw.len() == TOKEN_LEN
        && URL_SAFE_NO_PAD
            .decode(raw)
            .is_ok_and(|bytes| bytes.len() == TOKEN_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_random_bytes_in_base64url_and_hash_to_hex() {
        let a = mint().unwrap();
        let b = mint().unwrap();
        assert_ne!(a.raw, b.raw);
        assert_eq!(a.raw.len(), TOKEN_LEN);
        assert!(well_formed(&a.raw));
        assert!(
            a.raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&a.raw).unwrap().len(), 32);
        assert_eq!(a.sha256.len(), 64);
        assert_eq!(a.sha256, sha256_hex(&a.raw));
        assert!(!a.sha256.contains(&a.raw));
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn malformed_tokens_are_rejected_before_lookup() {
        assert!(!well_formed(""));
        assert!(!well_formed("short"));
        assert!(!well_formed(&"=".repeat(43)));
        assert!(!well_formed(&"a".repeat(44)));
    }
}
