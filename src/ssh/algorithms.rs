//! The algorithms `ssh-serve` offers: the one place they are listed.
//!
//! The lists follow what hardened OpenSSH (9.9 and later, and the
//! ssh-audit hardening guides) still offers, nothing weaker:
//! - **Key exchange:** `mlkem768x25519-sha256` first (hybrid post-quantum:
//!   a recording of today's session stays safe against a future quantum
//!   computer), then `curve25519-sha256` and its older
//!   `curve25519-sha256@libssh.org` name for clients from before OpenSSH
//!   9.9. No finite-field Diffie-Hellman at all: group14 is 2048-bit, and
//!   the group-exchange and large groups cost the server an expensive
//!   modular exponentiation per connection before anyone is authenticated
//!   (the DHEat denial of service, CVE-2002-20001). No NIST curves.
//!   The `ext-info-s` and strict-kex markers are protocol extensions, not
//!   algorithms; strict kex closes the Terrapin attack (CVE-2023-48795).
//! - **Host key:** Ed25519 only: russh offers the algorithms of
//!   [`PUBLIC_KEYS`] for which it holds a host key, and
//!   [`super::host_key`] makes only an Ed25519 one. [`PUBLIC_KEYS`] is
//!   also the `server-sig-algs` list: the operator keys accepted (Ed25519
//!   and ECDSA, as `keydesk operators add-key` takes; no RSA).
//! - **Ciphers:** chacha20-poly1305 and AES-GCM (authenticated
//!   encryption), AES-CTR (with an encrypt-then-MAC below). No CBC, no
//!   3DES.
//! - **MACs:** only the encrypt-then-MAC (`-etm@openssh.com`) SHA-2 ones:
//!   the plain `hmac-sha2-*` MAC the clear text (encrypt-and-MAC), and
//!   SHA-1 is gone.
//! - **Compression:** none (compression before encryption leaks sizes,
//!   and frames are small).

use std::borrow::Cow;

use russh::keys::{Algorithm, EcdsaCurve};
use russh::{Preferred, cipher, compression, kex, mac};

/// Key exchange, most preferred first, with the protocol markers after.
pub const KEX: &[kex::Name] = &[
    kex::MLKEM768X25519_SHA256,
    kex::CURVE25519,
    kex::CURVE25519_PRE_RFC_8731,
    kex::EXTENSION_SUPPORT_AS_SERVER,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
];

/// Ciphers, most preferred first.
pub const CIPHERS: &[cipher::Name] = &[
    cipher::CHACHA20_POLY1305,
    cipher::AES_256_GCM,
    cipher::AES_128_GCM,
    cipher::AES_256_CTR,
    cipher::AES_192_CTR,
    cipher::AES_128_CTR,
];

/// MACs (used only with AES-CTR; the AEAD ciphers carry their own).
pub const MACS: &[mac::Name] = &[mac::HMAC_SHA512_ETM, mac::HMAC_SHA256_ETM];

/// Public key algorithms: the host key's (filtered by russh to the keys it
/// holds, so Ed25519) and the operator keys' signatures.
pub const PUBLIC_KEYS: &[Algorithm] = &[
    Algorithm::Ed25519,
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP384,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP521,
    },
];

/// Compression.
pub const COMPRESSION: &[compression::Name] = &[compression::NONE];

/// The lists above, as russh takes them.
#[must_use]
pub fn preferred() -> Preferred {
    Preferred {
        kex: Cow::Borrowed(KEX),
        key: Cow::Borrowed(PUBLIC_KEYS),
        cipher: Cow::Borrowed(CIPHERS),
        mac: Cow::Borrowed(MACS),
        compression: Cow::Borrowed(COMPRESSION),
        ..Preferred::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_weaker_than_curve25519_and_only_etm_macs() {
        let names: Vec<&str> = KEX.iter().map(AsRef::as_ref).collect();
        assert_eq!(names[0], "mlkem768x25519-sha256");
        assert!(
            names
                .iter()
                .all(|n| !n.starts_with("diffie-hellman") && !n.starts_with("ecdh-sha2")),
            "{names:?}"
        );
        assert!(
            MACS.iter()
                .all(|m| m.as_ref().ends_with("-etm@openssh.com")),
        );
        assert!(CIPHERS.iter().all(|c| !c.as_ref().contains("cbc")));
        let p = preferred();
        assert_eq!(p.key.as_ref(), PUBLIC_KEYS);
        assert_eq!(p.kex.as_ref(), KEX);
    }
}
