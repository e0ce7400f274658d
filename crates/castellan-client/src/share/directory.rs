//! The company directory as this client trusts it: every member certificate and group roster
//! verified against the PINNED company key. Keys are only ever taken from a verified
//! certificate or roster, never from the server's plain fields, so a server cannot substitute a
//! recipient's key (property 22) or add someone to a group (property 28).

use std::collections::{BTreeMap, HashSet};

use castellan_types::{DirectoryResponse, GroupDto, RoleDto};
use uuid::Uuid;

use super::pins::SharePins;
use crate::org::docs::{self, normalise_email};
use crate::org::keys::PublicKeys;
use crate::{ClientError, ClientResult};

/// A member whose certificate verified.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    pub keys: PublicKeys,
}

/// A group whose roster verified.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: Uuid,
    pub name: String,
    pub is_everyone: bool,
    pub version: i64,
    pub keys: PublicKeys,
    pub members: Vec<Uuid>,
}

#[derive(Debug, Clone)]
pub struct Directory {
    pub company_id: Uuid,
    pub company: PublicKeys,
    pub members: BTreeMap<Uuid, Member>,
    pub groups: BTreeMap<Uuid, Group>,
    /// The version of the verified certificate revocation list (0 = none served).
    pub revocations_version: i64,
    /// Entries the server sent that did not verify (shown, never used).
    pub rejected: Vec<String>,
}

/// Verifies a roster served as a [`GroupDto`] (also used for `GET /me/groups`): signature by
/// the company key, company and group ids, the served keys equal to the signed ones, and a
/// version not below the one pinned.
pub fn verify_group(
    company: &PublicKeys,
    company_id: Uuid,
    g: &GroupDto,
    pins: &SharePins,
) -> ClientResult<Group> {
    let group = verify_group_unpinned(company, company_id, g)?;
    pins.check_roster(g.id, group.version)?;
    Ok(group)
}

fn verify_group_unpinned(
    company: &PublicKeys,
    company_id: Uuid,
    g: &GroupDto,
) -> ClientResult<Group> {
    let body = docs::verify_roster(company, &g.roster, company_id, g.id)?;
    let keys = PublicKeys::from_slices(
        body.signing_public_key.as_slice(),
        body.encryption_public_key.as_slice(),
    )?;
    let served = PublicKeys::from_group(&g.keys)?;
    if !served.ct_eq(&keys) {
        return Err(ClientError::integrity(format!(
            "the server sent other keys for group {:?} than its signed roster",
            body.name
        )));
    }
    Ok(Group {
        id: g.id,
        name: body.name,
        is_everyone: body.is_everyone,
        version: body.version,
        keys,
        members: body.members,
    })
}

impl Directory {
    /// Verifies a served directory. Members or groups that fail are left out (listed in
    /// `rejected`), and so are members whose certificate serial the company's signed revocation
    /// list names (property 24); a group roster or a revocation list older than the pinned one,
    /// or a revocation list that does not verify, fails the whole directory.
    pub fn verify(
        resp: &DirectoryResponse,
        company_id: Uuid,
        company: &PublicKeys,
        pins: &SharePins,
    ) -> ClientResult<Directory> {
        let revoked = match &resp.revocations {
            Some(doc) => Some(docs::verify_revocations(company, doc, company_id)?),
            None => None,
        };
        pins.check_revocations(company_id, revoked.as_ref().map(|r| r.version))?;
        let mut dir = Directory {
            company_id,
            company: *company,
            members: BTreeMap::new(),
            groups: BTreeMap::new(),
            revocations_version: revoked.as_ref().map_or(0, |r| r.version),
            rejected: Vec::new(),
        };
        let revoked: HashSet<Uuid> = revoked
            .map(|r| r.serials)
            .unwrap_or_default()
            .into_iter()
            .collect();
        for m in &resp.members {
            match docs::verify_member_cert(company, &m.cert, company_id, m.user_id) {
                Ok(body) if revoked.contains(&body.serial) => dir.rejected.push(format!(
                    "member {}: their certificate was revoked by the company",
                    m.email
                )),
                Ok(body) => {
                    let keys = PublicKeys::from_slices(
                        body.signing_public_key.as_slice(),
                        body.encryption_public_key.as_slice(),
                    )?;
                    dir.members.insert(
                        m.user_id,
                        Member {
                            user_id: m.user_id,
                            email: normalise_email(&body.email),
                            role: body.role,
                            keys,
                        },
                    );
                }
                Err(e) => dir.rejected.push(format!("member {}: {e}", m.email)),
            }
        }
        for g in &resp.groups {
            match verify_group_unpinned(company, company_id, g) {
                Ok(v) => {
                    // A verified but older roster than this device saw: a rollback.
                    pins.check_roster(g.id, v.version)?;
                    dir.groups.insert(g.id, v);
                }
                Err(e) => dir.rejected.push(format!("group {}: {e}", g.name)),
            }
        }
        Ok(dir)
    }

    /// A member by user id, with a verified certificate.
    pub fn member(&self, user_id: Uuid) -> ClientResult<&Member> {
        self.members.get(&user_id).ok_or_else(|| {
            ClientError::integrity(format!(
                "user {user_id} has no valid member certificate of the company: refusing to use their keys"
            ))
        })
    }

    pub fn member_by_email(&self, email: &str) -> ClientResult<&Member> {
        let e = normalise_email(email);
        self.members.values().find(|m| m.email == e).ok_or_else(|| {
            ClientError::NotFound(format!(
                "{email} is not a confirmed member of your company with a valid certificate"
            ))
        })
    }

    pub fn group(&self, id: Uuid) -> ClientResult<&Group> {
        self.groups.get(&id).ok_or_else(|| {
            ClientError::integrity(format!(
                "group {id} has no valid signed roster: refusing to use its keys"
            ))
        })
    }

    pub fn group_by_name(&self, name: &str) -> ClientResult<&Group> {
        let n = name.trim();
        let found: Vec<&Group> = self
            .groups
            .values()
            .filter(|g| g.name.eq_ignore_ascii_case(n) || g.id.to_string() == n)
            .collect();
        match found.as_slice() {
            [g] => Ok(g),
            [] => Err(ClientError::NotFound(format!(
                "no group {name:?} with a valid roster in your company"
            ))),
            _ => Err(ClientError::Invalid(format!(
                "several groups are called {name:?}; use the group id"
            ))),
        }
    }

    /// A display name for a principal.
    pub fn principal_name(&self, kind: castellan_types::PrincipalKindDto, id: Uuid) -> String {
        match kind {
            castellan_types::PrincipalKindDto::User => self
                .members
                .get(&id)
                .map(|m| m.email.clone())
                .unwrap_or_else(|| id.to_string()),
            castellan_types::PrincipalKindDto::Group => self
                .groups
                .get(&id)
                .map(|g| format!("group {}", g.name))
                .unwrap_or_else(|| format!("group {id}")),
        }
    }
}
