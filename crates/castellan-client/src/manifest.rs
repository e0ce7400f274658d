//! Signed vault manifests: the client's defence against a server that drops, duplicates or
//! rolls back objects, or replays an old state of a whole vault.
//!
//! For each vault the client keeps, and signs with the account's signing key, a manifest
//! `{vault_id, counter, count, set_hash}` where `set_hash` is a multiset hash (Ristretto sum)
//! over one element per object: `(id, kind, version, trashed, SHA-256 of each envelope)`. Every
//! write sends the next manifest (counter + 1) and the server stores it with a compare-and-swap
//! in the same transaction. After every pull the client checks that the objects it holds hash to
//! the newest manifest, that the signature is its own, and that the counter never went down.
//!
//! Share vaults (format 2): the manifest also names its `signer`, the writer who made the
//! change, and the signature covers it. Clients verify it with the signer's certified key and
//! accept it only when the signer is a writer (owner or editor) of the share's verified access
//! list. The set element of a share object also covers its `author_id`, so a server cannot
//! relabel who wrote an object.

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
    if let Some(a) = o.author_id {
        b.extend_from_slice(a.as_bytes());
    }
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
    /// Share vaults (format 2): the writer who signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<Uuid>,
    pub signature: Bytes,
}

fn body(
    vault_id: Uuid,
    counter: i64,
    count: i64,
    set_hash: &[u8],
    signer: Option<Uuid>,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(100);
    let mut put = |f: &[u8]| {
        b.extend_from_slice(&(f.len() as u32).to_be_bytes());
        b.extend_from_slice(f);
    };
    put(vault_id.as_bytes());
    put(&counter.to_be_bytes());
    put(&count.to_be_bytes());
    put(set_hash);
    if let Some(s) = signer {
        put(s.as_bytes());
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
        let sig = key.sign_statement(STATEMENT, &body(vault_id, counter, count, &h, None));
        Manifest {
            format: 1,
            vault_id,
            counter,
            count,
            set_hash: Bytes(h.to_vec()),
            signer: None,
            signature: Bytes(sig.to_vec()),
        }
    }

    /// The manifest of a share vault, signed by the writer `signer_id`.
    pub fn sign_share(
        key: &SigningKey,
        signer_id: Uuid,
        vault_id: Uuid,
        counter: i64,
        count: i64,
        set_hash: &SetHash,
    ) -> Manifest {
        let h = set_hash.to_bytes();
        let sig = key.sign_statement(
            STATEMENT,
            &body(vault_id, counter, count, &h, Some(signer_id)),
        );
        Manifest {
            format: 2,
            vault_id,
            counter,
            count,
            set_hash: Bytes(h.to_vec()),
            signer: Some(signer_id),
            signature: Bytes(sig.to_vec()),
        }
    }

    /// Parses and verifies the manifest of a share vault: format 2, signed by `signer` with the
    /// key `writer_key` returns for them (their certified key if they are a writer; `None`
    /// refuses the manifest).
    pub fn verify_share(
        blob: &[u8],
        vault_id: Uuid,
        counter: i64,
        writer_key: impl Fn(Uuid) -> Option<VerifyingKey>,
    ) -> ClientResult<Manifest> {
        let m: Manifest = serde_json::from_slice(blob).map_err(|_| {
            ClientError::integrity(format!("the manifest of share {vault_id} is malformed"))
        })?;
        let signer = match m.signer {
            Some(s) if m.format == 2 => s,
            _ => {
                return Err(ClientError::integrity(format!(
                    "the manifest of share {vault_id} does not name a signer"
                )))
            }
        };
        if m.vault_id != vault_id || m.counter != counter || m.count < 0 {
            return Err(ClientError::integrity(format!(
                "the manifest of share {vault_id} is mislabelled"
            )));
        }
        let key = writer_key(signer).ok_or_else(|| {
            ClientError::integrity(format!(
                "the manifest of share {vault_id} is signed by {signer}, who is not a writer of the share"
            ))
        })?;
        key.verify_statement(
            STATEMENT,
            &body(
                m.vault_id,
                m.counter,
                m.count,
                m.set_hash.as_slice(),
                Some(signer),
            ),
            m.signature.as_slice(),
        )
        .map_err(|_| {
            ClientError::integrity(format!(
                "the manifest of share {vault_id} has an invalid signature"
            ))
        })?;
        SetHash::from_bytes(m.set_hash.as_slice())
            .map_err(|_| ClientError::integrity("a manifest carries an invalid set hash"))?;
        Ok(m)
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
        if m.format != 1
            || m.signer.is_some()
            || m.vault_id != vault_id
            || m.counter != counter
            || m.count < 0
        {
            return Err(ClientError::integrity(format!(
                "the manifest of vault {vault_id} is mislabelled"
            )));
        }
        key.verify_statement(
            STATEMENT,
            &body(m.vault_id, m.counter, m.count, m.set_hash.as_slice(), None),
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
