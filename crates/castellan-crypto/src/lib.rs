//! Castellan's cryptographic suite v1.
//!
//! Pure functions and types, no I/O, no async. Everything is re-exported at the crate root.
//!
//! | Module | What |
//! |---|---|
//! | `keys` | [`SymmetricKey`] (256-bit) |
//! | `envelope` | SymEnvelope v1 `"CAE1"`: [`seal`], [`open`], [`wrap_key`], [`unwrap_key`], [`Context`], [`ObjType`] |
//! | `kdf` | [`hkdf_sha256`], [`argon2id`], [`KsfParams`], [`local_unlock_key`], [`account_unlock_key`] |
//! | `secret_key` | [`SecretKey`] (128-bit, text form `CK1-XXXXXX-XXXXX-XXXXX-XXXXX-XXXXX-X`), [`password_input`] |
//! | `opaque` | OPAQUE client and server steps (opaque-ke 4, compatible with `@serenity-kit/opaque` 1.x) |
//! | `sign` | Ed25519 [`SigningKey`] / [`VerifyingKey`] over domain-separated statements, `verify_strict` |
//! | `hpke` | RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM |
//! | `fingerprint` | [`fingerprint`], [`sha256`], [`ct_eq`] |
//! | `totp` | RFC 6238 [`TotpSpec`] |
//! | `generate` | [`generate_password`] |
//!
//! # Conventions
//!
//! * Secret types are not `Clone`, zeroize themselves on drop and print as `Type(<redacted>)`.
//!   They are never `Serialize`; raw bytes are reachable only through `expose_secret()` /
//!   `to_bytes()` style methods.
//! * Every domain-separation label starts with `castellan/v1/`. `LP(x)` is `u32_be(len(x)) || x`.
//! * No function panics on untrusted input; malformed data yields a [`CryptoError`].
//!
//! # Envelope format (SymEnvelope v1)
//!
//! ```text
//! magic "CAE1" (4) | suite 0x01 (1) | obj_type (1) | key_id (16) | salt (24) | commit (32) | AES-256-GCM ct || tag
//! K_enc || K_cmt = HKDF-SHA256(ikm = key, salt = salt, info = "castellan/v1/sym" || suite || obj_type, L = 64)
//! nonce  = 0^12 (K_enc is single-use thanks to the random salt)
//! commit = HMAC-SHA256(K_cmt, "castellan/v1/commit" || header[0..46] || SHA-256(ctx_bytes))
//! AAD    = header[0..78] || ctx_bytes
//! ctx_bytes = "castellan/v1/ctx/" || obj_type || LP(field)...
//! plaintext = u32_be(len) || data || 0* (to a multiple of 64 bytes)
//! ```
//!
//! # Derived keys
//!
//! * OPAQUE password input: `"castellan/v1/opaque-pw" || LP(NFKC(password)) || secret_key`.
//! * Account unlock key: `HKDF-SHA256(export_key, "", "castellan/v1/auk" || user_id)`.
//! * Local unlock key: `HKDF-SHA256(Argon2id(NFKC(password), device_salt) || secret_key, "", "castellan/v1/luk" || device_id)`.
//! * Signatures: Ed25519 over `"castellan/v1/sig/" || statement_type || 0x00 || body`.
//! * Fingerprints: `SHA-256("castellan/v1/fpr" || LP(key_type) || raw_public_key)`.
//!
//! The golden vectors in `tests/vectors/castellan_golden_v1.json` pin all of these byte for byte.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod aead;
mod envelope;
mod error;
mod fingerprint;
mod generate;
mod hpke;
mod kdf;
mod keys;
mod opaque;
mod secret_key;
mod sethash;
mod sign;
mod totp;
mod util;

pub use envelope::{
    envelope_key_id, envelope_obj_type, open, seal, seal_with_salt, try_seal, unwrap_key, wrap_key,
    Context, ObjType, ENVELOPE_HEADER_LEN, ENVELOPE_MAGIC, ENVELOPE_MIN_LEN, ENVELOPE_PAD_BLOCK,
    ENVELOPE_SALT_LEN, MAX_PLAINTEXT_LEN, SUITE_V1,
};
pub use error::{CryptoError, Result};
pub use fingerprint::{ct_eq, fingerprint, sha256};
pub use generate::{generate_password, PasswordPolicy, PASSWORD_LENGTH_RANGE};
pub use hpke::{hpke_open, hpke_seal, HpkePrivateKey, HpkePublicKey, HPKE_ENC_LEN};
pub use kdf::{
    account_unlock_key, argon2id, hkdf_sha256, local_unlock_key, try_hkdf_sha256, KsfParams,
    HKDF_SHA256_MAX_LEN,
};
pub use keys::SymmetricKey;
pub use opaque::{
    client_login_finish, client_login_start, client_registration_finish, client_registration_start,
    server_login_finish, server_login_start, server_registration_finish, server_registration_start,
    ClientLogin, ClientRegistration, ExportKey, ServerLogin, ServerSetup, SessionKey,
};
pub use secret_key::{password_input, SecretKey};
pub use sethash::{SetElement, SetHash};
pub use sign::{SigningKey, VerifyingKey};
pub use totp::{TotpAlgorithm, TotpSpec};

/// Raw primitives exposed only so that standard test vectors can exercise the exact code
/// paths used internally. Not part of the stable API; do not use in application code.
#[doc(hidden)]
pub mod hazmat {
    pub use crate::aead::{aes256gcm_open, aes256gcm_seal};
    pub use crate::hpke::hpke_derive_keypair;
    pub use crate::kdf::argon2id_with_secret_and_ad;
}
