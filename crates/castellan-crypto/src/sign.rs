//! Ed25519 signatures over domain-separated statements (`verify_strict` only).

use ed25519_dalek::Signature;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{CryptoError, Result};

const SIG_LABEL: &[u8] = b"castellan/v1/sig/";

fn statement_message(statement_type: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIG_LABEL.len() + statement_type.len() + 1 + body.len());
    m.extend_from_slice(SIG_LABEL);
    m.extend_from_slice(statement_type.as_bytes());
    m.push(0);
    m.extend_from_slice(body);
    m
}

/// An Ed25519 signing key (secret; zeroized on drop by `ed25519-dalek`).
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Self {
        Self {
            inner: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// The key for a 32-byte seed (RFC 8032 private key).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut seed = seed;
        let inner = ed25519_dalek::SigningKey::from_bytes(&seed);
        seed.zeroize();
        Self { inner }
    }

    /// The 32-byte seed (secret).
    pub fn seed(&self) -> &[u8; 32] {
        self.inner.as_bytes()
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            inner: self.inner.verifying_key(),
        }
    }

    /// Ed25519 signature over `"castellan/v1/sig/" || statement_type || 0x00 || body`.
    ///
    /// `statement_type` is a fixed label chosen by the caller's code and must not contain a NUL
    /// byte (the verifier rejects such types).
    pub fn sign_statement(&self, statement_type: &str, body: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.inner
            .sign(&statement_message(statement_type, body))
            .to_bytes()
    }

    /// Plain Ed25519 over `msg` (for test vectors; application code signs statements).
    #[doc(hidden)]
    pub fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.inner.sign(msg).to_bytes()
    }
}

impl Zeroize for SigningKey {
    fn zeroize(&mut self) {
        // Replacing drops (and thereby zeroizes) the old key.
        self.inner = ed25519_dalek::SigningKey::from_bytes(&[0u8; 32]);
    }
}
impl ZeroizeOnDrop for SigningKey {}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// An Ed25519 public key; never a weak (small-order) point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyingKey {
    inner: ed25519_dalek::VerifyingKey,
}

impl VerifyingKey {
    /// Parses 32 bytes; rejects invalid encodings and small-order ("weak") keys.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let arr: [u8; 32] = b
            .try_into()
            .map_err(|_| CryptoError::InvalidKey("an Ed25519 public key is 32 bytes"))?;
        let inner = ed25519_dalek::VerifyingKey::from_bytes(&arr)
            .map_err(|_| CryptoError::InvalidKey("not a valid Ed25519 public key"))?;
        if inner.is_weak() {
            return Err(CryptoError::InvalidKey(
                "weak (small-order) Ed25519 public key",
            ));
        }
        Ok(Self { inner })
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.inner.to_bytes()
    }

    /// Verifies a [`SigningKey::sign_statement`] signature (strict verification).
    pub fn verify_statement(&self, statement_type: &str, body: &[u8], sig: &[u8]) -> Result<()> {
        if statement_type.as_bytes().contains(&0) {
            return Err(CryptoError::BadSignature);
        }
        self.verify_raw(&statement_message(statement_type, body), sig)
    }

    /// Plain Ed25519 `verify_strict` over `msg` (canonical S, no small-order R or key).
    pub fn verify_raw(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        let sig: [u8; 64] = sig.try_into().map_err(|_| CryptoError::BadSignature)?;
        self.inner
            .verify_strict(msg, &Signature::from_bytes(&sig))
            .map_err(|_| CryptoError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_round_trip_and_domain_separation() {
        let sk = SigningKey::generate();
        let vk = sk.verifying_key();
        let sig = sk.sign_statement("key-binding", b"body");
        vk.verify_statement("key-binding", b"body", &sig).unwrap();
        assert_eq!(
            vk.verify_statement("key-bindinG", b"body", &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            vk.verify_statement("key-binding", b"bodY", &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            vk.verify_statement("key-binding", b"body", &sig[..63]),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            vk.verify_statement("key\0binding", b"body", &sig),
            Err(CryptoError::BadSignature)
        );
        assert!(vk.verify_raw(b"body", &sig).is_err());
        assert_eq!(VerifyingKey::from_bytes(&vk.to_bytes()).unwrap(), vk);
    }

    #[test]
    fn seed_round_trip() {
        let sk = SigningKey::generate();
        let sk2 = SigningKey::from_seed(*sk.seed());
        assert_eq!(sk.verifying_key(), sk2.verifying_key());
        assert_eq!(format!("{sk:?}"), "SigningKey(<redacted>)");
    }
}
