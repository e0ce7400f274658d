//! The verified effective policy of a company, and the checks the client enforces itself.
//!
//! A served policy document is used only when its signature verifies against the pinned
//! company key, it names the company, and its counter is at least the highest one this device
//! verified. Anything else is IGNORED with a warning and the last verified document applies:
//! a server cannot weaken a client by flipping, replaying or forging a policy.

use std::time::Duration;

use castellan_types::{MasterPasswordPolicy, PolicySet, SignedDoc};
use uuid::Uuid;

use super::docs::verify_policy;
use super::pins::OrgPins;
use crate::{ClientError, ClientResult};

#[derive(Debug, Clone, Default)]
pub struct EffectivePolicy {
    pub company_id: Uuid,
    /// Counter of the document in force (0 = no policy document).
    pub counter: i64,
    pub policies: PolicySet,
    /// Why a served document was ignored, for the user to see.
    pub warnings: Vec<String>,
}

/// The last verified policy of a pinned company (re-verified), without asking the server.
pub fn pinned_policy(pins: &OrgPins, company_id: Uuid) -> Option<EffectivePolicy> {
    let pin = pins.get(company_id)?;
    let keys = pin.keys().ok()?;
    let doc = pin.policy.as_ref()?;
    let body = verify_policy(&keys, doc, company_id).ok()?;
    Some(EffectivePolicy {
        company_id,
        counter: body.counter,
        policies: body.policies,
        warnings: Vec::new(),
    })
}

/// The effective policy given the document the server served: verified against the pin, never
/// older than the highest verified counter. Records a newer verified document in the pins.
pub fn resolve(
    pins: &mut OrgPins,
    company_id: Uuid,
    served: Option<&SignedDoc>,
) -> ClientResult<EffectivePolicy> {
    let Some(pin) = pins.get(company_id) else {
        return Err(ClientError::integrity(format!(
            "company {company_id} is not pinned on this device; its policy cannot be verified"
        )));
    };
    let keys = pin.keys()?;
    let pinned_counter = pin.policy_counter;
    let pinned_doc = pin.policy.clone();
    let mut fallback = pinned_policy(pins, company_id).unwrap_or(EffectivePolicy {
        company_id,
        ..Default::default()
    });
    let Some(doc) = served else {
        if pinned_counter > 0 {
            fallback.warnings.push(format!(
                "the server sent no policy although this device verified policy #{pinned_counter}; the verified one applies"
            ));
        }
        return Ok(fallback);
    };
    match verify_policy(&keys, doc, company_id) {
        Ok(body) if body.counter > pinned_counter => {
            pins.record_policy(company_id, &body, doc);
            Ok(EffectivePolicy {
                company_id,
                counter: body.counter,
                policies: body.policies,
                warnings: Vec::new(),
            })
        }
        Ok(body) if body.counter == pinned_counter => {
            if pinned_doc.as_ref() != Some(doc) {
                fallback.warnings.push(format!(
                    "the server sent a different policy with the same number (#{}) as the verified one; it is ignored",
                    body.counter
                ));
            }
            Ok(fallback)
        }
        Ok(body) => {
            fallback.warnings.push(format!(
                "the server sent an older policy (#{} < #{pinned_counter}); it is ignored and the last verified one applies",
                body.counter
            ));
            Ok(fallback)
        }
        Err(e) => {
            fallback.warnings.push(format!(
                "the server sent a policy that does not verify ({e}); it is ignored and the last verified one applies"
            ));
            Ok(fallback)
        }
    }
}

/// What the master password lacks under the policy; empty = it complies.
pub fn master_password_problems(p: &MasterPasswordPolicy, password: &str) -> Vec<String> {
    let mut out = Vec::new();
    let n = password.chars().count();
    if n < p.min_length as usize {
        out.push(format!("at least {} characters", p.min_length));
    }
    if p.require_uppercase && !password.chars().any(char::is_uppercase) {
        out.push("an uppercase letter".into());
    }
    if p.require_lowercase && !password.chars().any(char::is_lowercase) {
        out.push("a lowercase letter".into());
    }
    if p.require_digits && !password.chars().any(|c| c.is_numeric()) {
        out.push("a digit".into());
    }
    if p.require_symbols
        && !password
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
    {
        out.push("a symbol".into());
    }
    out
}

/// Refuses a new master password that does not meet the company's policy.
pub fn check_master_password(policies: &PolicySet, password: &str) -> ClientResult<()> {
    let Some(p) = &policies.master_password else {
        return Ok(());
    };
    let problems = master_password_problems(p, password);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ClientError::Invalid(format!(
            "the master password does not meet your company's policy: it needs {}",
            problems.join(", ")
        )))
    }
}

/// Days since the last master password change, when that is longer than the policy allows.
pub fn password_too_old(policies: &PolicySet, changed_at: i64, now: i64) -> Option<i64> {
    let max = policies.master_password.as_ref()?.max_age_days?;
    if changed_at <= 0 {
        return None;
    }
    let age_days = (now - changed_at).max(0) / 86_400;
    (now - changed_at > i64::from(max) * 86_400).then_some(age_days)
}

/// The longest idle time before the vault locks, if the policy sets one.
pub fn max_vault_timeout(policies: &PolicySet) -> Option<Duration> {
    policies
        .max_vault_timeout_minutes
        .map(|m| Duration::from_secs(u64::from(m.max(1)) * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::docs::sign;
    use crate::org::keys::KeyPair;
    use castellan_types::{statement, Bytes, PolicyBody};

    fn doc(k: &KeyPair, cid: Uuid, counter: i64, min_len: u32) -> SignedDoc {
        sign(
            &k.signing,
            statement::POLICY,
            &PolicyBody {
                company_id: cid,
                counter,
                issued_at: 0,
                issued_by: Uuid::nil(),
                policies: PolicySet {
                    master_password: Some(MasterPasswordPolicy {
                        min_length: min_len,
                        require_uppercase: false,
                        require_lowercase: false,
                        require_digits: false,
                        require_symbols: false,
                        max_age_days: None,
                    }),
                    ..Default::default()
                },
            },
        )
    }

    fn min_len(p: &EffectivePolicy) -> u32 {
        p.policies.master_password.as_ref().unwrap().min_length
    }

    #[test]
    fn unsigned_lower_and_missing_policies_are_ignored() {
        let k = KeyPair::generate();
        let cid = Uuid::new_v4();
        let mut pins = OrgPins::default();
        pins.check_or_pin(cid, &k.public(), "created").unwrap();
        let p1 = resolve(&mut pins, cid, Some(&doc(&k, cid, 1, 12))).unwrap();
        assert_eq!((p1.counter, min_len(&p1)), (1, 12));
        let p2 = resolve(&mut pins, cid, Some(&doc(&k, cid, 2, 16))).unwrap();
        assert_eq!((p2.counter, min_len(&p2)), (2, 16));
        assert!(p2.warnings.is_empty());

        // Replaying #1 (validly signed, lower counter): ignored.
        let r = resolve(&mut pins, cid, Some(&doc(&k, cid, 1, 4))).unwrap();
        assert_eq!((r.counter, min_len(&r)), (2, 16));
        assert_eq!(r.warnings.len(), 1);

        // A document signed by another key with a higher counter: ignored.
        let forged = doc(&KeyPair::generate(), cid, 9, 1);
        let r = resolve(&mut pins, cid, Some(&forged)).unwrap();
        assert_eq!((r.counter, min_len(&r)), (2, 16));
        assert!(r.warnings[0].contains("does not verify"));

        // The body edited after signing: ignored.
        let mut edited = doc(&k, cid, 3, 16);
        let mut v: serde_json::Value = serde_json::from_slice(edited.body.as_slice()).unwrap();
        v["policies"]["master_password"]["min_length"] = 1.into();
        edited.body = Bytes(serde_json::to_vec(&v).unwrap());
        assert_eq!(
            min_len(&resolve(&mut pins, cid, Some(&edited)).unwrap()),
            16
        );

        // No policy served: the verified one stays.
        let r = resolve(&mut pins, cid, None).unwrap();
        assert_eq!(r.counter, 2);
        assert_eq!(pins.get(cid).unwrap().policy_counter, 2);
    }

    #[test]
    fn unpinned_company_is_an_error() {
        let mut pins = OrgPins::default();
        assert!(resolve(&mut pins, Uuid::new_v4(), None).is_err());
    }

    #[test]
    fn master_password_rules() {
        let p = MasterPasswordPolicy {
            min_length: 12,
            require_uppercase: true,
            require_lowercase: true,
            require_digits: true,
            require_symbols: true,
            max_age_days: Some(30),
        };
        assert_eq!(master_password_problems(&p, "short").len(), 4);
        assert!(master_password_problems(&p, "Long enough pass 1!").is_empty());
        let set = PolicySet {
            master_password: Some(p),
            ..Default::default()
        };
        assert!(check_master_password(&set, "alllowercaseletters").is_err());
        assert!(check_master_password(&PolicySet::default(), "x").is_ok());
        let now = 100 * 86_400;
        assert_eq!(password_too_old(&set, now - 31 * 86_400, now), Some(31));
        assert_eq!(password_too_old(&set, now - 29 * 86_400, now), None);
        assert_eq!(password_too_old(&set, 0, now), None);
    }

    #[test]
    fn vault_timeout() {
        let set = PolicySet {
            max_vault_timeout_minutes: Some(5),
            ..Default::default()
        };
        assert_eq!(max_vault_timeout(&set), Some(Duration::from_secs(300)));
        assert_eq!(max_vault_timeout(&PolicySet::default()), None);
    }
}
