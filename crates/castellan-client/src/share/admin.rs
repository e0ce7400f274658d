//! Company administrators and shares: the overview of every share of a company, and access
//! list changes signed with the company key (removing a recipient, transferring ownership).
//!
//! An administrator holds the company keys, not the share keys: they see who has access and
//! the share's name (sealed for admins), never its items, and they cannot make grants. A
//! recipient they remove loses access on the server at once; the share key rotates when an
//! owner next changes the share (docs/sharing.md).

use castellan_types::*;
use serde::Serialize;
use uuid::Uuid;

use super::acl;
use super::grant::open_name_for_admins;
use super::Org;
use crate::org::docs::sign;
use crate::org::{now, OrgSession};
use crate::{ClientError, ClientResult};

/// A share as a company administrator sees it (verified access list).
#[derive(Debug, Clone, Serialize)]
pub struct AdminShareView {
    pub id: Uuid,
    /// `None` when the name does not open with the company key.
    pub name: Option<String>,
    pub acl_version: i64,
    pub key_version: i64,
    pub owners: Vec<String>,
    pub recipients: Vec<AdminRecipient>,
    pub expires_at: Option<i64>,
    pub object_count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdminRecipient {
    pub principal: PrincipalDto,
    pub name: String,
    pub role: ShareRoleDto,
}

/// What an administrator changes in a share's access list.
#[derive(Debug, Clone, Copy)]
pub enum AdminChange {
    /// Takes a user or group off the list.
    RemoveRecipient(PrincipalDto),
    /// Makes a user already on the list the owner; the previous owners become editors.
    TransferTo(Uuid),
}

struct Verified {
    dto: ShareDto,
    acl: ShareAclBody,
    view: AdminShareView,
}

async fn verified_shares(org: &OrgSession, company_id: Uuid) -> ClientResult<Vec<Verified>> {
    let (keys, _) = org.company_keys(company_id).await?;
    let mut o = Org::new(&org.api, &org.home, org.me());
    let dir = o.directory(company_id).await?;
    let mut out = Vec::new();
    for dto in org.api.company_shares(company_id).await?.shares {
        let body = acl::verify(&dto.acl, dto.id, company_id, dir, None)?;
        let name = open_name_for_admins(
            &keys.encryption,
            company_id,
            dto.id,
            dto.name_for_admins.as_slice(),
        )
        .ok();
        let owners = acl::owners(&body)
            .iter()
            .map(|u| dir.principal_name(PrincipalKindDto::User, *u))
            .collect();
        let recipients = body
            .entries
            .iter()
            .filter(|e| e.role != ShareRoleDto::Owner)
            .map(|e| AdminRecipient {
                principal: e.principal,
                name: dir.principal_name(e.principal.kind, e.principal.id),
                role: e.role,
            })
            .collect();
        let view = AdminShareView {
            id: dto.id,
            name,
            acl_version: body.version,
            key_version: body.key_version,
            owners,
            recipients,
            expires_at: body.expires_at,
            object_count: dto.object_count,
        };
        out.push(Verified {
            dto,
            acl: body,
            view,
        });
    }
    Ok(out)
}

/// Every share of the company, with verified access lists.
pub async fn company_shares(
    org: &OrgSession,
    company_id: Uuid,
) -> ClientResult<Vec<AdminShareView>> {
    Ok(verified_shares(org, company_id)
        .await?
        .into_iter()
        .map(|v| v.view)
        .collect())
}

/// A principal of the company by email (a user) or group name, from the verified directory.
pub async fn principal(
    org: &OrgSession,
    company_id: Uuid,
    user: Option<&str>,
    group: Option<&str>,
) -> ClientResult<PrincipalDto> {
    let mut o = Org::new(&org.api, &org.home, org.me());
    let dir = o.directory(company_id).await?;
    match (user, group) {
        (Some(email), None) => Ok(PrincipalDto {
            kind: PrincipalKindDto::User,
            id: dir.member_by_email(email)?.user_id,
        }),
        (None, Some(name)) => Ok(PrincipalDto {
            kind: PrincipalKindDto::Group,
            id: dir.group_by_name(name)?.id,
        }),
        _ => Err(ClientError::Invalid(
            "name exactly one of a user (email) or a group".into(),
        )),
    }
}

/// Applies `change` to the share `which` (id or name) with a new access list signed by the
/// company key. Returns the new list.
pub async fn change_share(
    org: &OrgSession,
    company_id: Uuid,
    which: &str,
    change: AdminChange,
) -> ClientResult<ShareAclBody> {
    let (keys, _) = org.company_keys(company_id).await?;
    let mut found: Vec<Verified> = verified_shares(org, company_id)
        .await?
        .into_iter()
        .filter(|v| v.dto.id.to_string() == which || v.view.name.as_deref() == Some(which))
        .collect();
    let v = match found.len() {
        0 => {
            return Err(ClientError::NotFound(format!(
                "no share {which:?} in this company"
            )))
        }
        1 => found.remove(0),
        n => {
            return Err(ClientError::Invalid(format!(
                "{n} shares are named {which:?}; use the id"
            )))
        }
    };
    let mut body = v.acl.clone();
    match change {
        AdminChange::RemoveRecipient(p) => {
            if body
                .entries
                .iter()
                .any(|e| e.principal == p && e.role.can_write())
            {
                return Err(ClientError::Invalid(
                    "an owner or editor wrote the share's items and manifests: an owner removes them (their client rotates the key and signs the share again); transfer ownership first if the owner is gone".into(),
                ));
            }
            let before = body.entries.len();
            body.entries.retain(|e| e.principal != p);
            if body.entries.len() == before {
                return Err(ClientError::NotFound(
                    "that user or group is not on the share's access list".into(),
                ));
            }
            if acl::owners(&body).is_empty() {
                return Err(ClientError::Invalid(
                    "that would leave the share without an owner; transfer it first".into(),
                ));
            }
        }
        AdminChange::TransferTo(user) => {
            let target = PrincipalDto {
                kind: PrincipalKindDto::User,
                id: user,
            };
            if !body.entries.iter().any(|e| e.principal == target) {
                return Err(ClientError::Invalid(
                    "ownership goes to a current recipient (who has the items); add them first"
                        .into(),
                ));
            }
            for e in &mut body.entries {
                if e.principal == target {
                    e.role = ShareRoleDto::Owner;
                } else if e.role == ShareRoleDto::Owner {
                    e.role = ShareRoleDto::Editor;
                }
            }
        }
    }
    body.version += 1;
    body.signer = AclSignerDto::Company;
    body.issued_at = now();
    let doc = sign(&keys.signing, share_statement::ACL, &body);
    org.api
        .update_share_acl(
            v.dto.id,
            &UpdateAclRequest {
                acl: doc,
                grants: Vec::new(),
            },
        )
        .await?;
    Ok(body)
}
