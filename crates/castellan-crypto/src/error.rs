//! The single error type of this crate.

/// Everything that can go wrong in `castellan-crypto`.
///
/// Messages never contain secret material. On the client, a wrong password or a wrong
/// Secret Key surfaces as [`CryptoError::Opaque`] (OPAQUE cannot tell the two apart).
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CryptoError {
    /// The envelope is structurally broken (bad length, bad magic, ...).
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// The envelope uses a crypto suite this build does not know.
    #[error("unsupported crypto suite 0x{0:02x}")]
    UnsupportedSuite(u8),
    /// The envelope holds a different kind of object than the caller expected.
    #[error("wrong object type: expected {expected}, found {found}")]
    WrongObjectType {
        /// Object type the caller asked for.
        expected: u8,
        /// Object type found in the envelope header.
        found: u8,
    },
    /// The envelope was sealed under a different key than the one supplied.
    #[error("envelope was sealed under a different key id")]
    WrongKeyId,
    /// Key commitment, AEAD tag or padding check failed (tampering, wrong key or wrong context).
    #[error("integrity check failed (wrong key, wrong context or tampered data)")]
    Integrity,
    /// A signature did not verify.
    #[error("bad signature")]
    BadSignature,
    /// Key stretching parameters below the compiled floor.
    #[error("key stretching parameters are too weak: {0}")]
    WeakKdf(String),
    /// The Secret Key text could not be parsed.
    #[error("invalid Secret Key: {0}")]
    BadSecretKey(String),
    /// OPAQUE protocol failure (on the client this includes wrong password / Secret Key).
    #[error("OPAQUE protocol failure: {0}")]
    Opaque(String),
    /// A key (or key-like parameter) is invalid.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// TOTP seed / URI problem.
    #[error("TOTP: {0}")]
    Totp(String),
}

/// `Result` with [`CryptoError`].
pub type Result<T> = std::result::Result<T, CryptoError>;
