//! Signed documents: member certificates, invitations, group rosters and company policies,
//! signed with a company root key (`sign_statement`, statement types in
//! `castellan_types::statement`).
//!
//! Verification always checks the signature against a key the caller chose (the pinned company
//! key) BEFORE the body is parsed, then checks that the body names the company and ids the
//! caller expects: a valid document of another company or another member is refused.

use castellan_crypto::{SigningKey, VerifyingKey};
use castellan_types::{
    statement, Bytes, GroupRosterBody, InvitationBody, MemberCertBody, PolicyBody,
    RevocationListBody, RoleDto, SignedDoc,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::keys::PublicKeys;
use crate::{ClientError, ClientResult};

/// Serialises `body` and signs the exact bytes.
pub fn sign<T: Serialize>(key: &SigningKey, statement_type: &str, body: &T) -> SignedDoc {
    let bytes = serde_json::to_vec(body).expect("statement bodies serialise");
    let signature = key.sign_statement(statement_type, &bytes);
    SignedDoc {
        body: Bytes(bytes),
        signature: Bytes(signature.to_vec()),
    }
}

/// Verifies the signature over the exact bytes, then parses them.
pub fn verify<T: DeserializeOwned>(
    key: &VerifyingKey,
    statement_type: &str,
    doc: &SignedDoc,
) -> ClientResult<T> {
    key.verify_statement(
        statement_type,
        doc.body.as_slice(),
        doc.signature.as_slice(),
    )
    .map_err(|_| {
        ClientError::integrity(format!(
            "the signature of a {statement_type} document is invalid"
        ))
    })?;
    serde_json::from_slice(doc.body.as_slice()).map_err(|e| {
        ClientError::integrity(format!(
            "a signed {statement_type} document is malformed: {e}"
        ))
    })
}

/// Parses a body WITHOUT verifying it; only for values that are checked elsewhere (for example
/// the counter of a policy that failed verification, to compute the next counter).
pub fn peek<T: DeserializeOwned>(doc: &SignedDoc) -> Option<T> {
    serde_json::from_slice(doc.body.as_slice()).ok()
}

pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn expect(cond: bool, what: &str) -> ClientResult<()> {
    if cond {
        Ok(())
    } else {
        Err(ClientError::integrity(what.to_string()))
    }
}

/// A member certificate of `company_id` for `user_id`.
pub fn verify_member_cert(
    company: &PublicKeys,
    doc: &SignedDoc,
    company_id: Uuid,
    user_id: Uuid,
) -> ClientResult<MemberCertBody> {
    let body: MemberCertBody = verify(&company.verifying_key()?, statement::MEMBER_CERT, doc)?;
    expect(
        body.company_id == company_id,
        "a member certificate names another company",
    )?;
    expect(
        body.user_id == user_id,
        "a member certificate names another user",
    )?;
    PublicKeys::from_slices(
        body.signing_public_key.as_slice(),
        body.encryption_public_key.as_slice(),
    )?;
    Ok(body)
}

/// A signed invitation of `company_id`.
pub fn verify_invitation(
    company: &PublicKeys,
    doc: &SignedDoc,
    company_id: Uuid,
) -> ClientResult<InvitationBody> {
    let body: InvitationBody = verify(&company.verifying_key()?, statement::INVITATION, doc)?;
    expect(
        body.company_id == company_id,
        "an invitation names another company",
    )?;
    Ok(body)
}

/// A group roster of `group_id` in `company_id`.
pub fn verify_roster(
    company: &PublicKeys,
    doc: &SignedDoc,
    company_id: Uuid,
    group_id: Uuid,
) -> ClientResult<GroupRosterBody> {
    let body: GroupRosterBody = verify(&company.verifying_key()?, statement::GROUP_ROSTER, doc)?;
    expect(
        body.company_id == company_id,
        "a group roster names another company",
    )?;
    expect(
        body.group_id == group_id,
        "a group roster names another group",
    )?;
    PublicKeys::from_slices(
        body.signing_public_key.as_slice(),
        body.encryption_public_key.as_slice(),
    )?;
    Ok(body)
}

/// The certificate revocation list of `company_id`.
pub fn verify_revocations(
    company: &PublicKeys,
    doc: &SignedDoc,
    company_id: Uuid,
) -> ClientResult<RevocationListBody> {
    let body: RevocationListBody =
        verify(&company.verifying_key()?, statement::REVOKED_CERTS, doc)?;
    expect(
        body.company_id == company_id,
        "a revocation list names another company",
    )?;
    expect(body.version >= 1, "a revocation list has no version")?;
    Ok(body)
}

/// A policy document of `company_id`.
pub fn verify_policy(
    company: &PublicKeys,
    doc: &SignedDoc,
    company_id: Uuid,
) -> ClientResult<PolicyBody> {
    let body: PolicyBody = verify(&company.verifying_key()?, statement::POLICY, doc)?;
    expect(
        body.company_id == company_id,
        "a policy document names another company",
    )?;
    expect(body.counter >= 1, "a policy document has a counter below 1")?;
    Ok(body)
}

/// Orders roles by power, for "a role higher than the invitation" checks.
pub fn role_rank(r: RoleDto) -> u8 {
    match r {
        RoleDto::User => 0,
        RoleDto::Technician => 1,
        RoleDto::Admin => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::keys::KeyPair;
    use castellan_types::PolicySet;

    fn policy(company_id: Uuid, counter: i64) -> PolicyBody {
        PolicyBody {
            company_id,
            counter,
            issued_at: 1,
            issued_by: Uuid::nil(),
            policies: PolicySet::default(),
        }
    }

    #[test]
    fn signed_policy_verifies_and_names_the_company() {
        let k = KeyPair::generate();
        let cid = Uuid::new_v4();
        let doc = sign(&k.signing, statement::POLICY, &policy(cid, 3));
        let body = verify_policy(&k.public(), &doc, cid).unwrap();
        assert_eq!(body.counter, 3);
        // Another company's valid document is refused.
        assert!(matches!(
            verify_policy(&k.public(), &doc, Uuid::new_v4()),
            Err(ClientError::Integrity(_))
        ));
        // Another key is refused.
        assert!(verify_policy(&KeyPair::generate().public(), &doc, cid).is_err());
        // Another statement type is refused (a policy is not a roster).
        assert!(verify::<PolicyBody>(
            &k.public().verifying_key().unwrap(),
            statement::GROUP_ROSTER,
            &doc
        )
        .is_err());
    }

    #[test]
    fn tampered_body_is_refused_before_parsing() {
        let k = KeyPair::generate();
        let cid = Uuid::new_v4();
        let mut doc = sign(&k.signing, statement::POLICY, &policy(cid, 1));
        let mut v: serde_json::Value = serde_json::from_slice(doc.body.as_slice()).unwrap();
        v["counter"] = 99.into();
        doc.body = Bytes(serde_json::to_vec(&v).unwrap());
        assert!(matches!(
            verify_policy(&k.public(), &doc, cid),
            Err(ClientError::Integrity(m)) if m.contains("signature")
        ));
        // Garbage that is not JSON, even when "signed" by nobody, never reaches the parser.
        let junk = SignedDoc {
            body: Bytes(b"not json".to_vec()),
            signature: Bytes(vec![0; 64]),
        };
        assert!(matches!(
            verify_policy(&k.public(), &junk, cid),
            Err(ClientError::Integrity(m)) if m.contains("signature")
        ));
    }

    #[test]
    fn member_cert_names_the_user() {
        let k = KeyPair::generate();
        let member = KeyPair::generate().public();
        let (cid, uid) = (Uuid::new_v4(), Uuid::new_v4());
        let body = MemberCertBody {
            company_id: cid,
            user_id: uid,
            email: "a@x".into(),
            role: RoleDto::User,
            signing_public_key: Bytes(member.signing.to_vec()),
            encryption_public_key: Bytes(member.encryption.to_vec()),
            serial: Uuid::new_v4(),
            issued_at: 0,
            issued_by: uid,
        };
        let doc = sign(&k.signing, statement::MEMBER_CERT, &body);
        assert!(verify_member_cert(&k.public(), &doc, cid, uid).is_ok());
        assert!(verify_member_cert(&k.public(), &doc, cid, Uuid::new_v4()).is_err());
        assert!(role_rank(RoleDto::Admin) > role_rank(RoleDto::User));
    }
}
