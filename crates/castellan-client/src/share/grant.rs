//! Share key grants and share name envelopes.
//!
//! A grant is the 32-byte share key sealed with HPKE (aad empty) to a principal's encryption
//! key, `enc(32) || ciphertext`, with info `"castellan/v1/share-key-grant" || share_id || kind
//! (1 user, 2 group) || principal_id || key_version (u64 BE)`, and signed (statement
//! `share-grant`) by the owner who made it over `LP(share_id) || LP(kind) || LP(principal_id) ||
//! LP(key_version) || LP(SHA-256(sealed))`. The info binds the grant to one principal and key
//! version, so a grant relayed to someone else does not open (property 29); the signature must
//! be an owner's in the verified access list, so a grant the server made is refused (26, 27).
//!
//! The share name is sealed under the share key (`Context::share_metadata`, key id
//! `vault_key_id(share_id, key_version)`), and for the company admins HPKE-sealed to the company
//! encryption key with info `"castellan/v1/share-name-admin" || share_id || company_id`.

use castellan_crypto::{
    self as crypto, sha256, Context, HpkePrivateKey, HpkePublicKey, SigningKey, SymmetricKey,
};
use castellan_types::{
    share_statement, Bytes, PrincipalDto, PrincipalKindDto, ShareAclBody, ShareGrantDto,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::acl;
use super::directory::Directory;
use crate::keyids::vault_key_id;
use crate::org::keys::PublicKeys;
use crate::{ClientError, ClientResult};

pub const GRANT_INFO: &[u8] = b"castellan/v1/share-key-grant";
pub const ADMIN_NAME_INFO: &[u8] = b"castellan/v1/share-name-admin";

fn kind_byte(k: PrincipalKindDto) -> u8 {
    match k {
        PrincipalKindDto::User => 1,
        PrincipalKindDto::Group => 2,
    }
}

pub fn grant_info(share_id: Uuid, p: PrincipalDto, key_version: i64) -> Vec<u8> {
    let mut v = Vec::with_capacity(GRANT_INFO.len() + 41);
    v.extend_from_slice(GRANT_INFO);
    v.extend_from_slice(share_id.as_bytes());
    v.push(kind_byte(p.kind));
    v.extend_from_slice(p.id.as_bytes());
    v.extend_from_slice(&(key_version.max(0) as u64).to_be_bytes());
    v
}

fn lp(out: &mut Vec<u8>, f: &[u8]) {
    out.extend_from_slice(&(f.len() as u32).to_be_bytes());
    out.extend_from_slice(f);
}

pub fn grant_sig_body(share_id: Uuid, p: PrincipalDto, key_version: i64, sealed: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(120);
    lp(&mut b, share_id.as_bytes());
    lp(&mut b, &[kind_byte(p.kind)]);
    lp(&mut b, p.id.as_bytes());
    lp(&mut b, &(key_version.max(0) as u64).to_be_bytes());
    lp(&mut b, &sha256(sealed));
    b
}

/// Seals the share key to a principal's encryption key (taken by the caller from a verified
/// certificate or roster) and signs the grant.
pub fn seal_grant(
    signer: &SigningKey,
    signer_id: Uuid,
    share_id: Uuid,
    key: &SymmetricKey,
    key_version: i64,
    principal: PrincipalDto,
    recipient: &PublicKeys,
) -> ClientResult<ShareGrantDto> {
    let pk = recipient.hpke_key()?;
    let (enc, ct) = crypto::hpke_seal(
        &pk,
        &grant_info(share_id, principal, key_version),
        b"",
        key.expose_secret(),
    )?;
    if enc.len() != 32 {
        return Err(ClientError::Protocol(
            "unexpected HPKE encapsulation".into(),
        ));
    }
    let mut sealed = enc;
    sealed.extend_from_slice(&ct);
    let sig = signer.sign_statement(
        share_statement::GRANT,
        &grant_sig_body(share_id, principal, key_version, &sealed),
    );
    Ok(ShareGrantDto {
        principal,
        key_version,
        sealed: Bytes(sealed),
        granted_by: signer_id,
        signature: Bytes(sig.to_vec()),
    })
}

/// Checks a grant's signature: by an owner of the verified list, with their certified key.
///
/// After an administrator's change (a list signed with the company key, e.g. ownership
/// transferred from the owner who made the grants), a grant by any member certified by the
/// company is accepted too: the company key vouches for the list and the certificate for the
/// signer's key, so the server still cannot bring in a key of its own.
pub fn verify_grant(
    grant: &ShareGrantDto,
    share_id: Uuid,
    acl_body: &ShareAclBody,
    dir: &Directory,
) -> ClientResult<()> {
    let vouched_by_company = acl_body.signer == castellan_types::AclSignerDto::Company
        && dir.member(grant.granted_by).is_ok();
    if !acl::is_owner(acl_body, grant.granted_by) && !vouched_by_company {
        return Err(ClientError::integrity(format!(
            "the key grant of share {share_id} is not signed by an owner of the share"
        )));
    }
    let vk = dir.member(grant.granted_by)?.keys.verifying_key()?;
    vk.verify_statement(
        share_statement::GRANT,
        &grant_sig_body(
            share_id,
            grant.principal,
            grant.key_version,
            grant.sealed.as_slice(),
        ),
        grant.signature.as_slice(),
    )
    .map_err(|_| {
        ClientError::integrity(format!(
            "the key grant of share {share_id} has an invalid signature"
        ))
    })
}

/// Verifies and opens a grant addressed to `principal` (me, or one of my groups, whose private
/// key is `me`) for the list's key version.
pub fn open_grant(
    grant: &ShareGrantDto,
    share_id: Uuid,
    principal: PrincipalDto,
    acl_body: &ShareAclBody,
    dir: &Directory,
    me: &HpkePrivateKey,
) -> ClientResult<SymmetricKey> {
    if grant.principal != principal {
        return Err(ClientError::integrity(format!(
            "the key grant of share {share_id} is addressed to someone else"
        )));
    }
    if grant.key_version != acl_body.key_version {
        return Err(ClientError::integrity(format!(
            "the key grant of share {share_id} is for key version {}, the access list says {}",
            grant.key_version, acl_body.key_version
        )));
    }
    verify_grant(grant, share_id, acl_body, dir)?;
    let sealed = grant.sealed.as_slice();
    if sealed.len() < 32 {
        return Err(ClientError::integrity("a share key grant is malformed"));
    }
    let pt = crypto::hpke_open(
        me,
        &sealed[..32],
        &grant_info(share_id, principal, grant.key_version),
        b"",
        &sealed[32..],
    )
    .map_err(|_| {
        ClientError::integrity(format!("the key grant of share {share_id} does not open"))
    })?;
    SymmetricKey::try_from_slice(&pt)
        .map_err(|_| ClientError::integrity("a share key grant has the wrong length"))
}

#[derive(Serialize, Deserialize)]
struct NameDoc {
    name: String,
}

pub fn share_key_id(share_id: Uuid, key_version: i64) -> Uuid {
    vault_key_id(share_id, key_version.max(0) as u64)
}

pub fn seal_name(
    key: &SymmetricKey,
    company_id: Uuid,
    share_id: Uuid,
    key_version: i64,
    name: &str,
) -> ClientResult<Vec<u8>> {
    let pt = serde_json::to_vec(&NameDoc {
        name: name.to_string(),
    })
    .map_err(|e| ClientError::Protocol(e.to_string()))?;
    Ok(crypto::seal(
        key,
        share_key_id(share_id, key_version),
        &Context::share_metadata(company_id, share_id, key_version.max(0) as u64),
        &pt,
    ))
}

/// Opens the share name: also the check that a grant's key is the share's key.
pub fn open_name(
    key: &SymmetricKey,
    company_id: Uuid,
    share_id: Uuid,
    key_version: i64,
    envelope: &[u8],
) -> ClientResult<String> {
    let pt = crypto::open(
        key,
        share_key_id(share_id, key_version),
        &Context::share_metadata(company_id, share_id, key_version.max(0) as u64),
        envelope,
    )
    .map_err(|_| {
        ClientError::integrity(format!(
            "the share key of share {share_id} does not open its name: the key or the name was substituted"
        ))
    })?;
    let d: NameDoc = serde_json::from_slice(&pt)
        .map_err(|_| ClientError::integrity("a share name is malformed"))?;
    Ok(d.name)
}

fn admin_info(share_id: Uuid, company_id: Uuid) -> Vec<u8> {
    let mut v = ADMIN_NAME_INFO.to_vec();
    v.extend_from_slice(share_id.as_bytes());
    v.extend_from_slice(company_id.as_bytes());
    v
}

/// The name sealed to the company encryption key (the admins' overview).
pub fn seal_name_for_admins(
    company: &PublicKeys,
    company_id: Uuid,
    share_id: Uuid,
    name: &str,
) -> ClientResult<Vec<u8>> {
    let pk: HpkePublicKey = company.hpke_key()?;
    let pt = serde_json::to_vec(&NameDoc {
        name: name.to_string(),
    })
    .map_err(|e| ClientError::Protocol(e.to_string()))?;
    let (enc, ct) = crypto::hpke_seal(&pk, &admin_info(share_id, company_id), b"", &pt)?;
    let mut out = enc;
    out.extend_from_slice(&ct);
    Ok(out)
}

pub fn open_name_for_admins(
    company: &HpkePrivateKey,
    company_id: Uuid,
    share_id: Uuid,
    sealed: &[u8],
) -> ClientResult<String> {
    if sealed.len() < 32 {
        return Err(ClientError::integrity(
            "a share name for admins is malformed",
        ));
    }
    let pt: Zeroizing<Vec<u8>> = crypto::hpke_open(
        company,
        &sealed[..32],
        &admin_info(share_id, company_id),
        b"",
        &sealed[32..],
    )
    .map_err(|_| ClientError::integrity("a share name for admins does not open"))?;
    let d: NameDoc = serde_json::from_slice(&pt)
        .map_err(|_| ClientError::integrity("a share name is malformed"))?;
    Ok(d.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::keys::KeyPair;

    #[test]
    fn grant_info_layout() {
        let sid = Uuid::from_u128(1);
        let p = PrincipalDto {
            kind: PrincipalKindDto::Group,
            id: Uuid::from_u128(2),
        };
        let i = grant_info(sid, p, 3);
        assert_eq!(i.len(), GRANT_INFO.len() + 16 + 1 + 16 + 8);
        assert_eq!(i[GRANT_INFO.len() + 16], 2);
        assert_eq!(&i[i.len() - 8..], &3u64.to_be_bytes());
    }

    #[test]
    fn relayed_grant_does_not_open() {
        let owner = KeyPair::generate();
        let (a, b) = (KeyPair::generate(), KeyPair::generate());
        let (ua, ub, sid) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let key = SymmetricKey::generate();
        let pa = PrincipalDto {
            kind: PrincipalKindDto::User,
            id: ua,
        };
        let g = seal_grant(
            &owner.signing,
            Uuid::new_v4(),
            sid,
            &key,
            1,
            pa,
            &a.public(),
        )
        .unwrap();
        // Opened by A with the right info: the key.
        let sealed = g.sealed.as_slice();
        let pt = crypto::hpke_open(
            &a.encryption,
            &sealed[..32],
            &grant_info(sid, pa, 1),
            b"",
            &sealed[32..],
        )
        .unwrap();
        assert_eq!(&pt[..], key.expose_secret());
        // B cannot open it, even with B's principal in the info.
        let pb = PrincipalDto {
            kind: PrincipalKindDto::User,
            id: ub,
        };
        assert!(crypto::hpke_open(
            &b.encryption,
            &sealed[..32],
            &grant_info(sid, pb, 1),
            b"",
            &sealed[32..]
        )
        .is_err());
    }

    #[test]
    fn names_round_trip() {
        let key = SymmetricKey::generate();
        let (cid, sid) = (Uuid::new_v4(), Uuid::new_v4());
        let env = seal_name(&key, cid, sid, 2, "Team").unwrap();
        assert_eq!(open_name(&key, cid, sid, 2, &env).unwrap(), "Team");
        assert!(open_name(&key, cid, sid, 1, &env).is_err());
        assert!(open_name(&SymmetricKey::generate(), cid, sid, 2, &env).is_err());
        let company = KeyPair::generate();
        let s = seal_name_for_admins(&company.public(), cid, sid, "Team").unwrap();
        assert_eq!(
            open_name_for_admins(&company.encryption, cid, sid, &s).unwrap(),
            "Team"
        );
        assert!(open_name_for_admins(&company.encryption, sid, cid, &s).is_err());
    }
}
