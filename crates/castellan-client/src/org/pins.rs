//! Pinned company keys and the highest verified policy per company, kept in the device state
//! (`device.json`, field `org`).
//!
//! A pin is set once (at company creation, from an invite link's fingerprint, or from a grant
//! that opened to the served keys) and never changes silently: served keys that differ from the
//! pin are an integrity error. The policy counter only goes up.

use std::collections::BTreeMap;

use castellan_types::{Bytes, CompanyKeysDto, PolicyBody, SignedDoc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::PublicKeys;
use crate::home::{DeviceState, Home};
use crate::{ClientError, ClientResult};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPins {
    /// The company this account is a member of, as last seen.
    #[serde(default)]
    pub my_company: Option<Uuid>,
    #[serde(default)]
    pub companies: BTreeMap<Uuid, CompanyPin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyPin {
    pub signing_public_key: Bytes,
    pub encryption_public_key: Bytes,
    /// How the keys were pinned: `created`, `invite-link`, `grant`, `first-use`.
    #[serde(default)]
    pub source: String,
    /// The highest policy counter verified on this device (0 = none).
    #[serde(default)]
    pub policy_counter: i64,
    /// The verified policy document with that counter, for use when a served one fails.
    #[serde(default)]
    pub policy: Option<SignedDoc>,
}

impl CompanyPin {
    pub fn keys(&self) -> ClientResult<PublicKeys> {
        PublicKeys::from_slices(
            self.signing_public_key.as_slice(),
            self.encryption_public_key.as_slice(),
        )
    }
}

impl OrgPins {
    pub fn get(&self, company_id: Uuid) -> Option<&CompanyPin> {
        self.companies.get(&company_id)
    }

    /// The pinned keys of a company, if pinned.
    pub fn keys(&self, company_id: Uuid) -> ClientResult<Option<PublicKeys>> {
        self.companies
            .get(&company_id)
            .map(|p| p.keys())
            .transpose()
    }

    /// Checks served keys against the pin; pins them when there is none yet. Returns the keys.
    pub fn check_or_pin(
        &mut self,
        company_id: Uuid,
        served: &PublicKeys,
        source: &str,
    ) -> ClientResult<PublicKeys> {
        match self.companies.get(&company_id) {
            Some(pin) => {
                let pinned = pin.keys()?;
                if !pinned.ct_eq(served) {
                    return Err(ClientError::integrity(format!(
                        "the server sent other keys for company {company_id} than the ones pinned on this device"
                    )));
                }
                Ok(pinned)
            }
            None => {
                self.companies.insert(
                    company_id,
                    CompanyPin {
                        signing_public_key: Bytes(served.signing.to_vec()),
                        encryption_public_key: Bytes(served.encryption.to_vec()),
                        source: source.to_string(),
                        policy_counter: 0,
                        policy: None,
                    },
                );
                Ok(*served)
            }
        }
    }

    pub fn check_or_pin_dto(
        &mut self,
        company_id: Uuid,
        served: &CompanyKeysDto,
        source: &str,
    ) -> ClientResult<PublicKeys> {
        let keys = PublicKeys::from_company(served)?;
        self.check_or_pin(company_id, &keys, source)
    }

    /// Records a verified policy document if its counter is higher than the pinned one.
    pub fn record_policy(&mut self, company_id: Uuid, body: &PolicyBody, doc: &SignedDoc) {
        if let Some(pin) = self.companies.get_mut(&company_id) {
            if body.counter > pin.policy_counter {
                pin.policy_counter = body.counter;
                pin.policy = Some(doc.clone());
            }
        }
    }
}

/// Loads the device state, applies `f` to its pins and saves it when `f` changed them. The
/// device state is re-read so that pins set by another process are not lost.
pub fn update_pins<T>(
    home: &Home,
    f: impl FnOnce(&mut OrgPins) -> ClientResult<T>,
) -> ClientResult<(T, DeviceState)> {
    let mut state = home.device()?;
    let before = state.org.clone();
    let out = f(&mut state.org)?;
    if state.org != before {
        home.save_device(&state)?;
    }
    Ok((out, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::keys::KeyPair;

    #[test]
    fn a_pin_never_changes_silently() {
        let mut pins = OrgPins::default();
        let cid = Uuid::new_v4();
        let a = KeyPair::generate().public();
        pins.check_or_pin(cid, &a, "created").unwrap();
        assert!(pins.check_or_pin(cid, &a, "grant").is_ok());
        let b = KeyPair::generate().public();
        assert!(matches!(
            pins.check_or_pin(cid, &b, "grant"),
            Err(ClientError::Integrity(_))
        ));
        assert!(pins.keys(cid).unwrap().unwrap().ct_eq(&a));
        assert_eq!(pins.get(cid).unwrap().source, "created");
    }

    #[test]
    fn policy_counter_only_goes_up() {
        let mut pins = OrgPins::default();
        let cid = Uuid::new_v4();
        pins.check_or_pin(cid, &KeyPair::generate().public(), "created")
            .unwrap();
        let doc = |n: u8| SignedDoc {
            body: Bytes(vec![n]),
            signature: Bytes(vec![]),
        };
        let body = |c: i64| PolicyBody {
            company_id: cid,
            counter: c,
            issued_at: 0,
            issued_by: Uuid::nil(),
            policies: Default::default(),
        };
        pins.record_policy(cid, &body(2), &doc(2));
        pins.record_policy(cid, &body(1), &doc(1));
        assert_eq!(pins.get(cid).unwrap().policy_counter, 2);
        assert_eq!(pins.get(cid).unwrap().policy, Some(doc(2)));
    }
}
