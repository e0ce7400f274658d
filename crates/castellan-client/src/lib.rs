//! The Castellan client library: everything a client does except talking to a terminal.
//!
//! - [`api`]: typed HTTP calls to the server (`castellan-types` on the wire).
//! - [`home`]: the device state under `$CASTELLAN_HOME` (wrapped keys, pins, the Secret Key and
//!   the session token; no unwrapped key).
//! - [`account`]: registration, OPAQUE login, unlocking, password change.
//! - [`item`] / [`folder`]: the plaintext models that are encrypted into envelopes.
//! - [`vault`]: an unlocked session: list, read, write, move, trash, folders.
//! - [`search`]: the client-side index.
//! - [`cache`] / [`sync`] / [`manifest`] / [`merge`]: the offline cache (server ciphertext and
//!   queued changes), two-way sync, signed vault manifests, and the field-by-field merge of
//!   concurrent edits.
//! - [`org`]: the organisation (companies, members, groups, policies, 2FA, audit): company and
//!   group keys, signed documents, pins, the verified policy, and the admin operations.
//! - [`share`]: sharing: share keys, signed access lists, grants, share vaults in the sync, and
//!   the share operations.
//!
//! Invariant: this crate never depends on the server crates (only as dev-dependencies for
//! tests). Every ciphertext is opened with an associated-data context rebuilt from what the
//! client expects, never from fields the server chose.

#![forbid(unsafe_code)]

pub mod account;
pub mod api;
pub mod backup;
pub mod cache;
mod error;
pub mod folder;
pub mod home;
pub mod item;
mod keyids;
pub mod manifest;
pub mod merge;
pub mod org;
pub mod search;
pub mod share;
pub mod sync;
pub mod vault;

pub use error::{ClientError, ClientResult, Secret};
