//! Key ids: every envelope names the version of the key that sealed it. Ids are derived, so both
//! sides compute the expected id from what they already know and a relabelled envelope is
//! refused before any decryption.

use sha2::{Digest, Sha256};
use uuid::Uuid;

pub(crate) fn key_id(purpose: &str, owner: Uuid, version: u64) -> Uuid {
    let mut h = Sha256::new();
    h.update(b"castellan/v1/key-id\0");
    h.update(purpose.as_bytes());
    h.update([0]);
    h.update(owner.as_bytes());
    h.update(version.to_be_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    Uuid::from_bytes(b)
}

pub(crate) fn auk_id(user_id: Uuid) -> Uuid {
    key_id("auk", user_id, 1)
}
pub(crate) fn ak_id(user_id: Uuid, ak_version: u64) -> Uuid {
    key_id("ak", user_id, ak_version)
}
pub(crate) fn luk_id(device_id: Uuid) -> Uuid {
    key_id("luk", device_id, 1)
}
pub(crate) fn vault_key_id(vault_id: Uuid, version: u64) -> Uuid {
    key_id("vault", vault_id, version)
}
pub(crate) fn item_key_id(item_id: Uuid, version: u64) -> Uuid {
    key_id("item", item_id, version)
}
