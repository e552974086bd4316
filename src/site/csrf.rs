//! Cross-site request forgery protection for every form.
//!
//! A signed double-submit token, bound to the session when there is one:
//! the browser holds a random nonce in the `kd_csrf` cookie, and every form
//! carries `HMAC-SHA256(key, nonce || session cookie)`. A POST is accepted
//! only when the form's token matches the one computed from the cookies
//! that came with it. Another site can make the browser send the cookies
//! but cannot read them, nor compute the HMAC without the key, so it
//! cannot forge the field; binding the session means a token minted for
//! one customer is worthless in another's session.
//!
//! `keydesk serve` signs with a secret held in the store (drawn once by
//! the first process, see `Desk::site_csrf_secret`), so several site
//! processes on one store accept each other's forms and a restart expires
//! none. A site built without a store secret ([`CsrfKey::generate`]) keys
//! itself from memory.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::TryRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The cookie holding the nonce.
pub const COOKIE: &str = "kd_csrf";

/// The form field holding the token.
pub const FIELD: &str = "csrf";

/// Bytes of randomness in the key and in each nonce.
const BYTES: usize = 32;

/// Why randomness could not be had.
#[derive(Debug, thiserror::Error)]
#[error("the OS random source failed: {0}")]
pub struct RandomError(String);

/// 32 random bytes from the OS, base64url without padding.
///
/// # Errors
/// When the OS random source fails.
pub fn random_token() -> Result<String, RandomError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes()?))
}

fn random_bytes() -> Result<[u8; BYTES], RandomError> {
    let mut bytes = [0u8; BYTES];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| RandomError(e.to_string()))?;
    Ok(bytes)
}

/// Whether a cookie value has the shape of a nonce we issue, so that an
/// attacker-chosen giant or empty cookie is replaced rather than signed.
#[must_use]
pub fn well_formed_nonce(nonce: &str) -> bool {
    nonce.len() == 43
        && URL_SAFE_NO_PAD
            .decode(nonce)
            .is_ok_and(|bytes| bytes.len() == BYTES)
}

/// The signing key for this process.
#[derive(Clone)]
pub struct CsrfKey([u8; BYTES]);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

impl CsrfKey {
    /// A fresh random key.
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self(random_bytes()?))
    }

    /// The key derived from a store-held secret: HMAC-SHA256 of a fixed
    /// label under the secret, so the stored value is never used as is.
    #[must_use]
    pub fn from_secret(secret: &str) -> Self {
        let mut key = [0u8; BYTES];
        if let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
            mac.update(b"keydesk-site-csrf-key-v1");
            key.copy_from_slice(&mac.finalize().into_bytes());
        }
        Self(key)
    }

    /// The token a form carries for this nonce and session cookie.
    #[must_use]
    pub fn token(&self, nonce: &str, session: Option<&str>) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(nonce, session))
    }

    /// Whether `presented` is the token for this nonce and session,
    /// compared in constant time. A missing part never verifies.
    #[must_use]
    pub fn verify(
        &self,
        nonce: Option<&str>,
        session: Option<&str>,
        presented: Option<&str>,
    ) -> bool {
        let (Some(nonce), Some(presented)) = (nonce, presented) else {
            return false;
        };
        if !well_formed_nonce(nonce) {
            return false;
        }
        let Ok(presented) = URL_SAFE_NO_PAD.decode(presented) else {
            return false;
        };
        let expected = self.mac(nonce, session);
        presented.len() == expected.len() && bool::from(presented.ct_eq(&expected))
    }

    fn mac(&self, nonce: &str, session: Option<&str>) -> Vec<u8> {
        // HMAC accepts any key length, so this cannot fail; an empty MAC
        // (which never verifies) is the safe answer if it ever did.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            return Vec::new();
        };
        // Length-prefixed parts: ("ab", "c") and ("a", "bc") sign differently.
        for part in ["keydesk-csrf-v1", nonce, session.unwrap_or("")] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_with_its_nonce_session_and_key() {
        let key = CsrfKey::generate().unwrap();
        let nonce = random_token().unwrap();
        let other = random_token().unwrap();
        let t = key.token(&nonce, Some("sess"));
        assert!(key.verify(Some(&nonce), Some("sess"), Some(&t)));
        assert!(!key.verify(Some(&nonce), None, Some(&t)));
        assert!(!key.verify(Some(&nonce), Some("other"), Some(&t)));
        assert!(!key.verify(Some(&other), Some("sess"), Some(&t)));
        assert!(!key.verify(None, Some("sess"), Some(&t)));
        assert!(!key.verify(Some(&nonce), Some("sess"), None));
        assert!(!key.verify(Some(&nonce), Some("sess"), Some("")));
        assert!(!key.verify(Some(&nonce), Some("sess"), Some(&t[..20])));
        let key2 = CsrfKey::generate().unwrap();
        assert!(!key2.verify(Some(&nonce), Some("sess"), Some(&t)));
        // Anonymous forms: no session on either side.
        let anon = key.token(&nonce, None);
        assert!(key.verify(Some(&nonce), None, Some(&anon)));
    }

    #[test]
    fn keys_from_one_secret_agree_and_differ_from_others() {
        let secret = random_token().unwrap();
        let nonce = random_token().unwrap();
        let a = CsrfKey::from_secret(&secret);
        let b = CsrfKey::from_secret(&secret);
        let t = a.token(&nonce, None);
        assert!(b.verify(Some(&nonce), None, Some(&t)));
        let other = CsrfKey::from_secret(&random_token().unwrap());
        assert!(!other.verify(Some(&nonce), None, Some(&t)));
    }

    #[test]
    fn odd_nonces_are_not_signed() {
        let key = CsrfKey::generate().unwrap();
        let t = key.token("short", None);
        assert!(!key.verify(Some("short"), None, Some(&t)));
        assert!(!well_formed_nonce(&"A".repeat(44)));
        assert!(well_formed_nonce(&random_token().unwrap()));
    }
}
