//! Signed access lists (`ShareAclBody`, statement `share-acl`).
//!
//! Who may sign version N of a share's list:
//! - a member (their identity key, taken from their member certificate verified against the
//!   pinned company key) who is an owner in the previous list this device pinned, or in this
//!   list when it is version 1 or the first list this device sees of the share;
//! - the company root key (an admin acting from the portal), verified with the pinned key.
//!
//! A list below the version pinned on this device is refused (see `pins`).

use std::collections::BTreeSet;

use castellan_crypto::SigningKey;
use castellan_types::{
    share_statement, AclEntryDto, AclSignerDto, PrincipalDto, PrincipalKindDto, ShareAclBody,
    ShareRoleDto, SignedDoc,
};
use uuid::Uuid;

use super::directory::Directory;
use crate::org::docs;
use crate::{ClientError, ClientResult};

/// Strength of a role (higher is stronger).
pub fn rank(r: ShareRoleDto) -> u8 {
    match r {
        ShareRoleDto::Owner => 3,
        ShareRoleDto::Editor => 2,
        ShareRoleDto::ReadOnly => 1,
        ShareRoleDto::ReadOnlyHidden => 0,
    }
}

pub fn role_str(r: ShareRoleDto) -> &'static str {
    match r {
        ShareRoleDto::Owner => "owner",
        ShareRoleDto::Editor => "editor",
        ShareRoleDto::ReadOnly => "read-only",
        ShareRoleDto::ReadOnlyHidden => "read-only-hidden",
    }
}

pub fn parse_role(s: &str) -> ClientResult<ShareRoleDto> {
    match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "owner" => Ok(ShareRoleDto::Owner),
        "editor" => Ok(ShareRoleDto::Editor),
        "read-only" | "readonly" | "reader" => Ok(ShareRoleDto::ReadOnly),
        "read-only-hidden" | "hidden" => Ok(ShareRoleDto::ReadOnlyHidden),
        other => Err(ClientError::Invalid(format!(
            "unknown share role {other:?}: use owner, editor, read-only or read-only-hidden"
        ))),
    }
}

pub fn sign_member(key: &SigningKey, body: &ShareAclBody) -> SignedDoc {
    docs::sign(key, share_statement::ACL, body)
}

/// Users with an owner entry.
pub fn owners(body: &ShareAclBody) -> BTreeSet<Uuid> {
    body.entries
        .iter()
        .filter(|e| e.principal.kind == PrincipalKindDto::User && e.role == ShareRoleDto::Owner)
        .map(|e| e.principal.id)
        .collect()
}

pub fn is_owner(body: &ShareAclBody, user: Uuid) -> bool {
    owners(body).contains(&user)
}

pub fn entry(body: &ShareAclBody, p: PrincipalDto) -> Option<&AclEntryDto> {
    body.entries.iter().find(|e| e.principal == p)
}

/// The strongest role of a user: their own entry and those of the groups they are in.
pub fn role_of(body: &ShareAclBody, user: Uuid, groups: &[Uuid]) -> Option<ShareRoleDto> {
    body.entries
        .iter()
        .filter(|e| match e.principal.kind {
            PrincipalKindDto::User => e.principal.id == user,
            PrincipalKindDto::Group => groups.contains(&e.principal.id),
        })
        .map(|e| e.role)
        .max_by_key(|r| rank(*r))
}

/// Users who may write: user entries with a writing role, and the members (from the verified
/// rosters) of group entries with a writing role. A group without a verified roster adds no
/// one.
pub fn writers(body: &ShareAclBody, dir: &Directory) -> BTreeSet<Uuid> {
    let mut out = BTreeSet::new();
    for e in body.entries.iter().filter(|e| e.role.can_write()) {
        match e.principal.kind {
            PrincipalKindDto::User => {
                out.insert(e.principal.id);
            }
            PrincipalKindDto::Group => {
                if let Some(g) = dir.groups.get(&e.principal.id) {
                    out.extend(g.members.iter().copied());
                }
            }
        }
    }
    out
}

/// Checks the shape of a list: ids, versions, unique principals, at least one owner, owners
/// are users.
pub fn check_shape(body: &ShareAclBody, share_id: Uuid, company_id: Uuid) -> ClientResult<()> {
    let bad = |m: &str| Err(ClientError::integrity(format!("share access list: {m}")));
    if body.share_id != share_id {
        return bad("it names another share");
    }
    if body.company_id != company_id {
        return bad("it names another company");
    }
    if body.version < 1 || body.key_version < 1 {
        return bad("bad version");
    }
    let mut seen = std::collections::HashSet::new();
    for e in &body.entries {
        if !seen.insert(e.principal) {
            return bad("a principal is listed twice");
        }
        if e.role == ShareRoleDto::Owner && e.principal.kind == PrincipalKindDto::Group {
            return bad("a group cannot be an owner");
        }
    }
    if owners(body).is_empty() {
        return bad("it has no owner");
    }
    Ok(())
}

/// Verifies a served list: the signature with the signer's verified key, the shape, and the
/// signer's authority against `previous` (the list this device pinned, if older).
pub fn verify(
    doc: &SignedDoc,
    share_id: Uuid,
    company_id: Uuid,
    dir: &Directory,
    previous: Option<&ShareAclBody>,
) -> ClientResult<ShareAclBody> {
    // The signer names the key to check with; the body is trusted only after the check.
    let claimed: ShareAclBody = docs::peek(doc)
        .ok_or_else(|| ClientError::integrity("a share access list is malformed"))?;
    let key = match claimed.signer {
        AclSignerDto::Member(uid) => dir.member(uid)?.keys.verifying_key()?,
        AclSignerDto::Company => dir.company.verifying_key()?,
    };
    let body: ShareAclBody = docs::verify(&key, share_statement::ACL, doc)?;
    check_shape(&body, share_id, company_id)?;
    if let AclSignerDto::Member(uid) = body.signer {
        // The list this device pinned decides only when it is the immediate predecessor; after
        // a gap (lists this device never saw, e.g. an admin's transfer of ownership) the signer
        // must be an owner in the list itself, as on a device that sees the share for the first
        // time.
        let authority = match previous {
            Some(p) if body.version > 1 && p.version + 1 == body.version => p,
            _ => &body,
        };
        if !is_owner(authority, uid) {
            return Err(ClientError::integrity(format!(
                "version {} of the access list of share {share_id} is signed by someone who is not an owner",
                body.version
            )));
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::keys::KeyPair;
    use castellan_types::{Bytes, MemberCertBody, RoleDto};
    use std::collections::BTreeMap;

    struct World {
        company: KeyPair,
        cid: Uuid,
        users: Vec<(Uuid, KeyPair)>,
        dir: Directory,
    }

    fn world(n: usize) -> World {
        let company = KeyPair::generate();
        let cid = Uuid::new_v4();
        let users: Vec<(Uuid, KeyPair)> = (0..n)
            .map(|_| (Uuid::new_v4(), KeyPair::generate()))
            .collect();
        let mut members = BTreeMap::new();
        for (u, k) in &users {
            let body = MemberCertBody {
                company_id: cid,
                user_id: *u,
                email: format!("{u}@x"),
                role: RoleDto::User,
                signing_public_key: Bytes(k.public().signing.to_vec()),
                encryption_public_key: Bytes(k.public().encryption.to_vec()),
                serial: Uuid::new_v4(),
                issued_at: 0,
                issued_by: *u,
            };
            let doc = docs::sign(
                &company.signing,
                castellan_types::statement::MEMBER_CERT,
                &body,
            );
            let v = docs::verify_member_cert(&company.public(), &doc, cid, *u).unwrap();
            members.insert(
                *u,
                super::super::directory::Member {
                    user_id: *u,
                    email: v.email,
                    role: v.role,
                    keys: k.public(),
                },
            );
        }
        let dir = Directory {
            company_id: cid,
            company: company.public(),
            members,
            groups: BTreeMap::new(),
            revocations_version: 0,
            rejected: vec![],
        };
        World {
            company,
            cid,
            users,
            dir,
        }
    }

    fn body(w: &World, sid: Uuid, version: i64, owner: usize, signer: usize) -> ShareAclBody {
        ShareAclBody {
            share_id: sid,
            company_id: w.cid,
            version,
            key_version: 1,
            entries: vec![AclEntryDto {
                principal: PrincipalDto {
                    kind: PrincipalKindDto::User,
                    id: w.users[owner].0,
                },
                role: ShareRoleDto::Owner,
            }],
            expires_at: None,
            issued_at: 0,
            signer: AclSignerDto::Member(w.users[signer].0),
        }
    }

    #[test]
    fn owner_signed_list_verifies() {
        let w = world(2);
        let sid = Uuid::new_v4();
        let b = body(&w, sid, 1, 0, 0);
        let doc = sign_member(&w.users[0].1.signing, &b);
        assert_eq!(verify(&doc, sid, w.cid, &w.dir, None).unwrap(), b);
        // Another share, another company: refused.
        assert!(verify(&doc, Uuid::new_v4(), w.cid, &w.dir, None).is_err());
        assert!(verify(&doc, sid, Uuid::new_v4(), &w.dir, None).is_err());
    }

    #[test]
    fn non_owner_or_forged_signer_is_refused() {
        let w = world(2);
        let sid = Uuid::new_v4();
        // User 1 signs a list naming user 0 as owner: not an owner in it.
        let b = body(&w, sid, 1, 0, 1);
        let doc = sign_member(&w.users[1].1.signing, &b);
        assert!(matches!(
            verify(&doc, sid, w.cid, &w.dir, None),
            Err(ClientError::Integrity(_))
        ));
        // Claims user 0 but signed by user 1's key.
        let b = body(&w, sid, 1, 0, 0);
        let doc = sign_member(&w.users[1].1.signing, &b);
        assert!(verify(&doc, sid, w.cid, &w.dir, None).is_err());
        // Version 2 makes user 1 an owner, signed by user 1: not an owner in version 1.
        let v1 = body(&w, sid, 1, 0, 0);
        let v2 = body(&w, sid, 2, 1, 1);
        let doc = sign_member(&w.users[1].1.signing, &v2);
        assert!(verify(&doc, sid, w.cid, &w.dir, Some(&v1)).is_err());
        // Signed by the company key: accepted.
        let mut v2c = v2.clone();
        v2c.signer = AclSignerDto::Company;
        let doc = docs::sign(&w.company.signing, share_statement::ACL, &v2c);
        assert!(verify(&doc, sid, w.cid, &w.dir, Some(&v1)).is_ok());
        // "Company" signed by someone else: refused.
        let doc = docs::sign(&w.users[0].1.signing, share_statement::ACL, &v2c);
        assert!(verify(&doc, sid, w.cid, &w.dir, Some(&v1)).is_err());
    }

    #[test]
    fn roles_and_writers() {
        let w = world(3);
        let sid = Uuid::new_v4();
        let mut b = body(&w, sid, 1, 0, 0);
        let gid = Uuid::new_v4();
        b.entries.push(AclEntryDto {
            principal: PrincipalDto {
                kind: PrincipalKindDto::Group,
                id: gid,
            },
            role: ShareRoleDto::ReadOnly,
        });
        b.entries.push(AclEntryDto {
            principal: PrincipalDto {
                kind: PrincipalKindDto::User,
                id: w.users[1].0,
            },
            role: ShareRoleDto::Editor,
        });
        assert_eq!(
            role_of(&b, w.users[1].0, &[gid]),
            Some(ShareRoleDto::Editor)
        );
        assert_eq!(
            role_of(&b, w.users[2].0, &[gid]),
            Some(ShareRoleDto::ReadOnly)
        );
        assert_eq!(role_of(&b, w.users[2].0, &[]), None);
        let ws = writers(&b, &w.dir);
        assert!(ws.contains(&w.users[0].0) && ws.contains(&w.users[1].0));
        assert!(!ws.contains(&w.users[2].0));
        assert_eq!(
            parse_role("read-only-hidden").unwrap(),
            ShareRoleDto::ReadOnlyHidden
        );
        assert!(parse_role("boss").is_err());
    }
}
