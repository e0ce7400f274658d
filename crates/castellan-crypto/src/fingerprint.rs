//! Public-key fingerprints, SHA-256 and constant-time comparison.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::util::put_lp;

const FPR_LABEL: &[u8] = b"castellan/v1/fpr";

/// `SHA-256("castellan/v1/fpr" || LP(key_type) || raw_public_key)`.
pub fn fingerprint(key_type: &str, raw_public_key: &[u8]) -> [u8; 32] {
    let mut lp = Vec::with_capacity(4 + key_type.len());
    put_lp(&mut lp, key_type.as_bytes());
    let mut h = Sha256::new();
    h.update(FPR_LABEL);
    h.update(&lp);
    h.update(raw_public_key);
    h.finalize().into()
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Constant-time equality (the lengths are not secret: different lengths return `false`).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_abc() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn fingerprint_is_domain_separated() {
        assert_ne!(fingerprint("ed25519", b"k"), fingerprint("x25519", b"k"));
        assert_ne!(fingerprint("a", b"bc"), fingerprint("ab", b"c"));
    }
}
