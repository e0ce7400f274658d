//! Symmetric keys.

use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{CryptoError, Result};

/// A 256-bit symmetric key (account key, vault key, item key, unlock keys, ...).
///
/// Zeroized on drop, `Debug` is redacted, not `Clone` (use [`SymmetricKey::duplicate`]).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SymmetricKey {
    bytes: [u8; 32],
}

impl SymmetricKey {
    /// Length in bytes.
    pub const LEN: usize = 32;

    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self { bytes }
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self { bytes: b }
    }

    /// Copies a key out of a slice; `InvalidKey` unless it is exactly 32 bytes.
    pub fn try_from_slice(b: &[u8]) -> Result<Self> {
        let bytes: [u8; 32] = b
            .try_into()
            .map_err(|_| CryptoError::InvalidKey("a symmetric key must be exactly 32 bytes"))?;
        Ok(Self { bytes })
    }

    /// The raw key bytes. Do not copy them anywhere that is not zeroized.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Explicit copy (the type is deliberately not `Clone`).
    pub fn duplicate(&self) -> Self {
        Self { bytes: self.bytes }
    }
}

impl std::fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SymmetricKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = SymmetricKey::from_bytes([7u8; 32]);
        assert_eq!(format!("{k:?}"), "SymmetricKey(<redacted>)");
    }

    #[test]
    fn try_from_slice_checks_length() {
        assert!(SymmetricKey::try_from_slice(&[0u8; 31]).is_err());
        assert!(SymmetricKey::try_from_slice(&[0u8; 33]).is_err());
        let k = SymmetricKey::try_from_slice(&[9u8; 32]).unwrap();
        assert_eq!(k.expose_secret(), &[9u8; 32]);
        assert_eq!(k.duplicate().expose_secret(), &[9u8; 32]);
    }

    #[test]
    fn generate_is_random() {
        assert_ne!(
            SymmetricKey::generate().expose_secret(),
            SymmetricKey::generate().expose_secret()
        );
    }
}
