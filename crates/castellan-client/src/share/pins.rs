//! What this device pinned about shares, in the device state (`device.json`, field `shares`):
//! the highest verified access list version per share (with the hash of that document, so a
//! server cannot show two different lists under one version) and the highest verified roster
//! version per group. Versions never go down: a lower one is an integrity error.

use std::collections::BTreeMap;

use castellan_crypto::sha256;
use castellan_types::{Bytes, SignedDoc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::home::{DeviceState, Home};
use crate::{ClientError, ClientResult};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharePins {
    #[serde(default)]
    pub acls: BTreeMap<Uuid, AclPin>,
    /// Group id → highest verified roster version.
    #[serde(default)]
    pub rosters: BTreeMap<Uuid, i64>,
    /// Company id → highest verified certificate revocation list version.
    #[serde(default)]
    pub revocations: BTreeMap<Uuid, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclPin {
    pub version: i64,
    /// SHA-256 of the signed body of that version.
    pub body_hash: Bytes,
    /// The verified document itself: the previous list the next version is checked against.
    pub doc: SignedDoc,
}

impl SharePins {
    pub fn acl(&self, share_id: Uuid) -> Option<&AclPin> {
        self.acls.get(&share_id)
    }

    /// Refuses a version below the pin, or another document under the pinned version.
    pub fn check_acl(&self, share_id: Uuid, version: i64, doc: &SignedDoc) -> ClientResult<()> {
        if let Some(pin) = self.acls.get(&share_id) {
            if version < pin.version {
                return Err(ClientError::integrity(format!(
                    "the server sent version {version} of the access list of share {share_id}, older than version {} seen on this device",
                    pin.version
                )));
            }
            if version == pin.version && sha256(doc.body.as_slice()) != pin.body_hash.as_slice() {
                return Err(ClientError::integrity(format!(
                    "the server sent two different access lists of share {share_id} as version {version}"
                )));
            }
        }
        Ok(())
    }

    pub fn record_acl(&mut self, share_id: Uuid, version: i64, doc: &SignedDoc) {
        let newer = self.acls.get(&share_id).is_none_or(|p| version > p.version);
        if newer {
            self.acls.insert(
                share_id,
                AclPin {
                    version,
                    body_hash: Bytes(sha256(doc.body.as_slice()).to_vec()),
                    doc: doc.clone(),
                },
            );
        }
    }

    pub fn check_roster(&self, group_id: Uuid, version: i64) -> ClientResult<()> {
        match self.rosters.get(&group_id) {
            Some(&v) if version < v => Err(ClientError::integrity(format!(
                "the server sent version {version} of a group roster, older than version {v} seen on this device"
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses a revocation list below the pinned version, or none when one was seen: a server
    /// that hides revocations could otherwise bring a removed member's certificate back.
    pub fn check_revocations(&self, company_id: Uuid, version: Option<i64>) -> ClientResult<()> {
        let pinned = self.revocations.get(&company_id).copied().unwrap_or(0);
        let served = version.unwrap_or(0);
        if served < pinned {
            return Err(ClientError::integrity(format!(
                "the server sent {} of the company's certificate revocation list, older than version {pinned} seen on this device",
                match version {
                    Some(v) => format!("version {v}"),
                    None => "no version".to_string(),
                }
            )));
        }
        Ok(())
    }

    pub fn record_revocations(&mut self, company_id: Uuid, version: i64) {
        let pin = self.revocations.entry(company_id).or_insert(0);
        *pin = (*pin).max(version);
    }

    pub fn record_roster(&mut self, group_id: Uuid, version: i64) {
        let e = self.rosters.entry(group_id).or_insert(version);
        if version > *e {
            *e = version;
        }
    }
}

/// Loads the device state, applies `f` to the share pins and saves them when changed (re-read
/// first so pins set by another process are kept).
pub fn update_share_pins<T>(
    home: &Home,
    f: impl FnOnce(&mut SharePins) -> ClientResult<T>,
) -> ClientResult<(T, DeviceState)> {
    let mut state = home.device()?;
    let before = state.shares.clone();
    let out = f(&mut state.shares)?;
    if state.shares != before {
        home.save_device(&state)?;
    }
    Ok((out, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(n: u8) -> SignedDoc {
        SignedDoc {
            body: Bytes(vec![n]),
            signature: Bytes(vec![]),
        }
    }

    #[test]
    fn acl_versions_never_go_down() {
        let mut p = SharePins::default();
        let sid = Uuid::new_v4();
        p.record_acl(sid, 3, &doc(3));
        assert!(p.check_acl(sid, 3, &doc(3)).is_ok());
        assert!(p.check_acl(sid, 4, &doc(4)).is_ok());
        assert!(matches!(
            p.check_acl(sid, 2, &doc(2)),
            Err(ClientError::Integrity(_))
        ));
        // Another document under the pinned version: equivocation.
        assert!(p.check_acl(sid, 3, &doc(9)).is_err());
        p.record_acl(sid, 2, &doc(2));
        assert_eq!(p.acl(sid).unwrap().version, 3);
    }

    #[test]
    fn roster_versions_never_go_down() {
        let mut p = SharePins::default();
        let g = Uuid::new_v4();
        p.record_roster(g, 5);
        p.record_roster(g, 4);
        assert!(p.check_roster(g, 5).is_ok());
        assert!(p.check_roster(g, 4).is_err());
    }
}
