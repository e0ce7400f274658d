//! Signed vault manifests: the client's defence against a server that drops, duplicates or
//! rolls back objects, or replays an old state of a whole vault.
//!
//! For each vault the client keeps, and signs with the account's signing key, a manifest
//! `{vault_id, counter, count, set_hash}` where `set_hash` is a multiset hash (Ristretto sum)
//! over one element per object: `(id, kind, version, trashed, SHA-256 of each envelope)`. Every
//! write sends the next manifest (counter + 1) and the server stores it with a compare-and-swap
//! in the same transaction. After every pull the client checks that the objects it holds hash to
//! the newest manifest, that the signature is its own, and that the counter never went down.

use castellan_crypto::{sha256, SetElement, SetHash, SigningKey, VerifyingKey};
use castellan_types::{Bytes, ObjectDto, ObjectKindDto};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ClientError, ClientResult};

const STATEMENT: &str = "vault-manifest";

/// The set element of one object's current state.
pub fn element(o: &ObjectDto) -> SetElement {
    let mut b = Vec::with_capacity(16 + 1 + 8 + 1 + 96);
    b.extend_from_slice(o.id.as_bytes());
    b.push(match o.kind {
        ObjectKindDto::Item => 1,
        ObjectKindDto::Folder => 2,
    });
    b.extend_from_slice(&o.version.to_be_bytes());
    b.push(o.trashed as u8);
    b.extend_from_slice(&sha256(o.key_wrap.as_slice()));
    b.extend_from_slice(&sha256(o.overview.as_slice()));
    b.extend_from_slice(&sha256(o.details.as_slice()));
    SetElement::of(&b)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub vault_id: Uuid,
    pub counter: i64,
    pub count: i64,
    pub set_hash: Bytes,
    pub signature: Bytes,
}

fn body(vault_id: Uuid, counter: i64, count: i64, set_hash: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(80);
    for f in [
        vault_id.as_bytes().as_slice(),
        &counter.to_be_bytes(),
        &count.to_be_bytes(),
        set_hash,
    ] {
        b.extend_from_slice(&(f.len() as u32).to_be_bytes());
        b.extend_from_slice(f);
    }
    b
}

impl Manifest {
    pub fn sign(
        key: &SigningKey,
        vault_id: Uuid,
        counter: i64,
        count: i64,
        set_hash: &SetHash,
    ) -> Manifest {
        let h = set_hash.to_bytes();
        let sig = key.sign_statement(STATEMENT, &body(vault_id, counter, count, &h));
        Manifest {
            format: 1,
            vault_id,
            counter,
            count,
            set_hash: Bytes(h.to_vec()),
            signature: Bytes(sig.to_vec()),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses and verifies a manifest blob for `vault_id` and `counter` (as the server claims
    /// them) against the account's own verifying key.
    pub fn verify(
        blob: &[u8],
        key: &VerifyingKey,
        vault_id: Uuid,
        counter: i64,
    ) -> ClientResult<Manifest> {
        let m: Manifest = serde_json::from_slice(blob).map_err(|_| {
            ClientError::integrity(format!("the manifest of vault {vault_id} is malformed"))
        })?;
        if m.format != 1 || m.vault_id != vault_id || m.counter != counter || m.count < 0 {
            return Err(ClientError::integrity(format!(
                "the manifest of vault {vault_id} is mislabelled"
            )));
        }
        key.verify_statement(
            STATEMENT,
            &body(m.vault_id, m.counter, m.count, m.set_hash.as_slice()),
            m.signature.as_slice(),
        )
        .map_err(|_| {
            ClientError::integrity(format!(
                "the manifest of vault {vault_id} is not signed by this account"
            ))
        })?;
        SetHash::from_bytes(m.set_hash.as_slice())
            .map_err(|_| ClientError::integrity("a manifest carries an invalid set hash"))?;
        Ok(m)
    }
}
