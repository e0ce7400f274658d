//! Wire types of Castellan's HTTP API (version 1, under `/api/v1`).
//!
//! These are the only types that cross the network. Byte strings are base64url without padding
//! ([`Bytes`]). Nothing here is a key type: wrapped keys and envelopes are ciphertext, produced
//! and checked by the client; the server stores them as it receives them.

#![forbid(unsafe_code)]

mod account;
mod backups;
mod bytes;
mod error;
mod objects;
mod org;
mod shares;

pub use account::*;
pub use backups::*;
pub use bytes::Bytes;
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use objects::*;
pub use org::*;
pub use shares::*;

/// The API version this crate describes; every path starts with `/api/v1`.
pub const API_PREFIX: &str = "/api/v1";

/// Largest request body the server accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Largest single envelope (item overview or details) the server accepts, in bytes.
pub const MAX_ENVELOPE_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct HealthResponse {
    pub status: String,
    pub version: String,
}
