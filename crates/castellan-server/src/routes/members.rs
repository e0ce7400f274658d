//! Members of a company: list, confirm (with a certificate signed by an admin's client),
//! change (disable, role, password change), remove, reset and delete.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_store::{
    CompanyKind, CompanyRecord, KeyGrantRecord, MemberRecord, MemberStatus, MemberUpdate, Role,
    RosterWrite, Store, StoreError,
};
use castellan_types::{
    statement, AccountKeyset, ConfirmMemberRequest, ErrorBody, ErrorCode,
    InvitationCreatedResponse, KeyGrantDto, MemberCertBody, MemberDto, MemberListResponse,
    ResetMemberRequest, RoleDto, UpdateMemberRequest,
};
use serde_json::json;
use uuid::Uuid;

use super::invitations::{invitation_store_error, mail_invitation, prepare_invitation};
use super::now;
use super::org::{
    account_keys, body, check_grant, check_group_grants, check_role_for, company_policy,
    confirmed_member_ids, doc_bytes, invitation_dto, member_dto, notify_member_change, record,
    role_dto, role_of, verify_doc, verify_roster, Body, Event, RosterExpect,
};
use crate::authz::{Caller, Need};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::Shared;

async fn member_of<S: Store>(
    state: &Shared<S>,
    company: &CompanyRecord,
    uid: Uuid,
) -> ApiResult<MemberRecord> {
    state
        .store
        .member(company.id, uid)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))
}

async fn member_keys<S: Store>(state: &Shared<S>, uid: Uuid) -> ApiResult<AccountKeyset> {
    let user = state
        .store
        .user_by_id(uid)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    account_keys(&user.keyset)
}

fn not_yourself(caller: &Caller, uid: Uuid, what: &str) -> ApiResult<()> {
    if caller.user_id() == uid {
        return Err(ApiError::invalid(format!(
            "you cannot {what} yourself; ask another administrator"
        )));
    }
    Ok(())
}

/// Verifies a member certificate: signed by the company root key, for exactly this member
/// (company, id, email, account keys), with `role`, issued by the caller.
fn verify_cert(
    doc: &castellan_types::SignedDoc,
    company: &CompanyRecord,
    member: &MemberRecord,
    role: RoleDto,
    keys: &AccountKeyset,
    caller: &Caller,
) -> ApiResult<Vec<u8>> {
    let cert: MemberCertBody = verify_doc(
        doc,
        statement::MEMBER_CERT,
        &company.signing_public_key,
        "member certificate",
    )?;
    if cert.company_id != company.id
        || cert.user_id != member.user_id
        || cert.email != member.email
        || cert.role != role
        || cert.signing_public_key != keys.signing_public_key
        || cert.encryption_public_key != keys.encryption_public_key
    {
        return Err(ApiError::invalid(
            "the member certificate must certify this member's id, email, role and account keys for this company",
        ));
    }
    if cert.issued_by != caller.user_id() {
        return Err(ApiError::invalid(
            "the member certificate must be issued by you",
        ));
    }
    doc_bytes(doc)
}

#[utoipa::path(get, path = "/api/v1/companies/{cid}/members", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")),
    responses((status = 200, body = MemberListResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_members<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
) -> ApiResult<Json<MemberListResponse>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let mut members = Vec::new();
    for m in state.store.members_of(company.id).await? {
        members.push(member_dto(&state, &m).await?);
    }
    Ok(Json(MemberListResponse { members }))
}

/// The customers' keys for an admin of a partner (every customer of the partner, sealed to
/// `uid`); nothing for anyone else, who must send none.
async fn customer_grants<S: Store>(
    state: &Shared<S>,
    company: &CompanyRecord,
    uid: Uuid,
    becomes_partner_admin: bool,
    grants: &[KeyGrantDto],
    granted_by: Uuid,
    now: i64,
) -> ApiResult<Vec<KeyGrantRecord>> {
    if !becomes_partner_admin {
        if !grants.is_empty() {
            return Err(ApiError::invalid(
                "customer_key_grants are only for an admin of a partner",
            ));
        }
        return Ok(Vec::new());
    }
    let customers: HashSet<Uuid> = state
        .store
        .customers_of(company.id)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut covered = HashSet::new();
    let mut records = Vec::with_capacity(grants.len());
    for g in grants {
        if g.user_id != uid || !customers.contains(&g.company_id) {
            return Err(ApiError::invalid(
                "customer_key_grants must name this member and customers of this partner",
            ));
        }
        if !covered.insert(g.company_id) {
            return Err(ApiError::invalid(
                "customer_key_grants names a customer twice",
            ));
        }
        check_grant("a customer key grant", g.sealed.as_slice())?;
        records.push(KeyGrantRecord {
            company_id: g.company_id,
            user_id: uid,
            sealed: g.sealed.as_slice().to_vec(),
            granted_by,
            created_at: now,
        });
    }
    if covered.len() != customers.len() {
        return Err(ApiError::invalid(format!(
            "an admin of a partner needs the keys of all {} customers: customer_key_grants covers {}",
            customers.len(),
            covered.len()
        )));
    }
    Ok(records)
}

/// Confirms an accepted member: their certificate, the Everyone roster with them added (and
/// their group grant), and for an admin the company keys sealed to them.
#[utoipa::path(post, path = "/api/v1/companies/{cid}/members/{uid}/confirm", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), ("uid" = Uuid, Path, description = "member's user id")),
    request_body = ConfirmMemberRequest,
    responses((status = 200, body = MemberDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn confirm_member<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((cid, uid)): ApiPath<(Uuid, Uuid)>,
    req: Body<ConfirmMemberRequest>,
) -> ApiResult<Json<MemberDto>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let req = body(req)?;
    let now = now();
    let m = member_of(&state, &company, uid).await?;
    if m.status == MemberStatus::Confirmed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyExists,
            format!("{} is confirmed already", m.email),
        ));
    }
    let keys = member_keys(&state, uid).await?;
    let cert = verify_cert(&req.cert, &company, &m, role_dto(m.role), &keys, &caller)?;
    let grant = match (&req.key_grant, m.role) {
        (Some(g), Role::Admin) => {
            check_grant("the key grant", g.as_slice())?;
            Some(g.as_slice().to_vec())
        }
        (None, Role::Admin) => {
            return Err(ApiError::invalid(
                "an admin needs the company keys: send key_grant",
            ))
        }
        (Some(_), _) => {
            return Err(ApiError::invalid(
                "only admins get the company keys: send no key_grant",
            ))
        }
        (None, _) => None,
    };
    let customer_grants = customer_grants(
        &state,
        &company,
        uid,
        company.kind == CompanyKind::Partner && m.role == Role::Admin,
        &req.customer_key_grants,
        caller.user_id(),
        now,
    )
    .await?;
    let everyone = state
        .store
        .groups_of(company.id)
        .await?
        .into_iter()
        .find(|g| g.is_everyone)
        .ok_or_else(|| {
            tracing::error!(company_id = %company.id, "company without an Everyone group");
            ApiError::internal()
        })?;
    let roster = verify_roster(
        &req.everyone_roster.roster,
        &RosterExpect {
            company: &company,
            group_id: everyone.id,
            version: everyone.roster_version + 1,
            is_everyone: true,
            signing_public_key: &everyone.signing_public_key,
            encryption_public_key: &everyone.encryption_public_key,
        },
    )?;
    // The current roster without anyone who left the company since it was signed (a removed
    // member stays listed until an admin's client signs a new roster), plus the new member.
    let confirmed = confirmed_member_ids(&state, company.id).await?;
    let mut expected: HashSet<Uuid> = everyone
        .members
        .iter()
        .copied()
        .filter(|u| confirmed.contains(u))
        .collect();
    expected.insert(uid);
    let listed: HashSet<Uuid> = roster.members.iter().copied().collect();
    if roster.name != everyone.name || listed != expected {
        return Err(ApiError::invalid(
            "the new Everyone roster must list the company's confirmed members and the new member",
        ));
    }
    let added: HashSet<Uuid> = [uid].into_iter().collect();
    let grants = check_group_grants(&req.everyone_roster.grants, &added, everyone.id)?;

    // The roster first: if another admin changed it meanwhile, nothing has happened yet. The
    // confirmation itself comes last.
    state
        .store
        .update_group(
            company.id,
            everyone.id,
            RosterWrite {
                name: roster.name,
                roster: doc_bytes(&req.everyone_roster.roster)?,
                version: roster.version,
                members: roster.members,
                grants,
                now,
            },
        )
        .await?;
    if let Some(sealed) = grant {
        let mut all = customer_grants;
        all.push(KeyGrantRecord {
            company_id: company.id,
            user_id: uid,
            sealed,
            granted_by: caller.user_id(),
            created_at: now,
        });
        state.store.put_key_grants(all).await?;
    }
    let confirmed = state
        .store
        .confirm_member(company.id, uid, cert, caller.user_id(), now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyExists,
                "the member is no longer waiting for confirmation",
            ),
            other => other.into(),
        })?;
    tracing::info!(company_id = %company.id, user_id = %uid, "member confirmed");
    record(
        &state,
        Event::by(&caller, Some(company.id), "member.confirmed")
            .target(uid, &m.email)
            .details(json!({"role": m.role.as_str()})),
    )
    .await;
    Ok(Json(member_dto(&state, &confirmed).await?))
}

/// Disables or enables a member, requires a master password change at their next login, or
/// changes their role (a confirmed member needs a new certificate; a new admin the company
/// keys sealed to them). Disabling ends the member's sessions.
#[utoipa::path(patch, path = "/api/v1/companies/{cid}/members/{uid}", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), ("uid" = Uuid, Path, description = "member's user id")),
    request_body = UpdateMemberRequest,
    responses((status = 200, body = MemberDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update_member<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((cid, uid)): ApiPath<(Uuid, Uuid)>,
    req: Body<UpdateMemberRequest>,
) -> ApiResult<Json<MemberDto>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let req = body(req)?;
    let now = now();
    let m = member_of(&state, &company, uid).await?;
    if req.disabled.is_none() && req.require_password_change.is_none() && req.role.is_none() {
        if req.cert.is_some() || req.key_grant.is_some() || !req.customer_key_grants.is_empty() {
            return Err(ApiError::invalid(
                "a certificate or key grant comes only with a role change",
            ));
        }
        return Err(ApiError::invalid(
            "nothing to change: give disabled, require_password_change or role",
        ));
    }
    if req.disabled == Some(true) {
        not_yourself(&caller, uid, "disable")?;
    }
    let new_role = req.role.filter(|r| *r != role_dto(m.role));
    let mut cert = None;
    let mut grant = None;
    let mut partner_grants = Vec::new();
    match new_role {
        Some(role) => {
            not_yourself(&caller, uid, "change the role of")?;
            check_role_for(&company, role)?;
            if m.status == MemberStatus::Confirmed {
                let doc = req.cert.as_ref().ok_or_else(|| {
                    ApiError::invalid(
                        "a confirmed member's role changes with a new member certificate: send cert",
                    )
                })?;
                let keys = member_keys(&state, uid).await?;
                cert = Some(verify_cert(doc, &company, &m, role, &keys, &caller)?);
                if role == RoleDto::Admin {
                    let g = req.key_grant.as_ref().ok_or_else(|| {
                        ApiError::invalid("a new admin needs the company keys: send key_grant")
                    })?;
                    check_grant("the key grant", g.as_slice())?;
                    grant = Some(g.as_slice().to_vec());
                    partner_grants = customer_grants(
                        &state,
                        &company,
                        uid,
                        company.kind == CompanyKind::Partner,
                        &req.customer_key_grants,
                        caller.user_id(),
                        now,
                    )
                    .await?;
                } else if req.key_grant.is_some() || !req.customer_key_grants.is_empty() {
                    return Err(ApiError::invalid(
                        "only admins get the company keys: send no key_grant",
                    ));
                }
            } else if req.cert.is_some() || req.key_grant.is_some() {
                return Err(ApiError::invalid(
                    "a member waiting for confirmation gets a certificate and keys when confirmed, not with a role change",
                ));
            }
        }
        None if req.cert.is_some()
            || req.key_grant.is_some()
            || !req.customer_key_grants.is_empty() =>
        {
            return Err(ApiError::invalid(
                "a certificate or key grant comes only with a role change",
            ));
        }
        None => {}
    }
    let demoted = m.role == Role::Admin && new_role.is_some_and(|r| r != RoleDto::Admin);
    // A failure between these steps leaves an admin without keys at worst, never keys with
    // someone who is not an admin.
    if demoted {
        state.store.delete_key_grant(company.id, uid).await?;
        if company.kind == CompanyKind::Partner {
            for customer in state.store.customers_of(company.id).await? {
                match state.store.delete_key_grant(customer.id, uid).await {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    let updated = state
        .store
        .update_member(
            company.id,
            uid,
            MemberUpdate {
                disabled: req.disabled,
                require_password_change: req.require_password_change,
                role: new_role.map(role_of),
                cert,
                logins_without_2fa: None,
            },
        )
        .await?;
    if let Some(sealed) = grant {
        let mut all = partner_grants;
        all.push(KeyGrantRecord {
            company_id: company.id,
            user_id: uid,
            sealed,
            granted_by: caller.user_id(),
            created_at: now,
        });
        state.store.put_key_grants(all).await?;
    }
    if req.disabled == Some(true) && !m.disabled {
        state.store.revoke_other_sessions(uid, None, now).await?;
    }
    match req.disabled {
        Some(true) if !m.disabled => {
            record(
                &state,
                Event::by(&caller, Some(company.id), "member.disabled").target(uid, &m.email),
            )
            .await
        }
        Some(false) if m.disabled => {
            record(
                &state,
                Event::by(&caller, Some(company.id), "member.enabled").target(uid, &m.email),
            )
            .await
        }
        _ => {}
    }
    if new_role.is_some() || req.require_password_change.is_some() {
        record(
            &state,
            Event::by(&caller, Some(company.id), "member.updated")
                .target(uid, &m.email)
                .details(json!({
                    "role": new_role.map(|r| role_of(r).as_str()),
                    "previous_role": new_role.map(|_| m.role.as_str()),
                    "require_password_change": req.require_password_change,
                })),
        )
        .await;
    }
    Ok(Json(member_dto(&state, &updated).await?))
}

/// Ends the membership (grants and assignments too; the Business items are deleted when the
/// policy says so). The account stays.
#[utoipa::path(post, path = "/api/v1/companies/{cid}/members/{uid}/remove", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), ("uid" = Uuid, Path, description = "member's user id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn remove_member<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((cid, uid)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let m = member_of(&state, &company, uid).await?;
    not_yourself(&caller, uid, "remove")?;
    let delete_items = company_policy(&company).remove_business_items_on_removal;
    state
        .store
        .remove_member(company.id, uid, delete_items, now())
        .await?;
    tracing::info!(company_id = %company.id, user_id = %uid, "member removed");
    record(
        &state,
        Event::by(&caller, Some(company.id), "member.removed")
            .target(uid, &m.email)
            .details(json!({"business_items_deleted": delete_items})),
    )
    .await;
    notify_member_change(&state, &company, &m.email, false).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Resets a member: deletes their account and all its data, then issues the new invitation
/// (same email and role) so they start over. Business data returns only through organisation
/// backup.
#[utoipa::path(post, path = "/api/v1/companies/{cid}/members/{uid}/reset", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), ("uid" = Uuid, Path, description = "member's user id")),
    request_body = ResetMemberRequest,
    responses((status = 201, body = InvitationCreatedResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn reset_member<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((cid, uid)): ApiPath<(Uuid, Uuid)>,
    req: Body<ResetMemberRequest>,
) -> ApiResult<(StatusCode, Json<InvitationCreatedResponse>)> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let req = body(req)?;
    let now = now();
    let m = member_of(&state, &company, uid).await?;
    not_yourself(&caller, uid, "reset")?;
    let inv = prepare_invitation(&caller, &company, &req.invitation, now)?;
    if inv.email != m.email || inv.role != m.role {
        return Err(ApiError::invalid(
            "the new invitation must be for the member's email and role",
        ));
    }
    // Whatever would make the invitation fail after the account is gone is refused first.
    if state.store.invitation(inv.id).await?.is_some() {
        return Err(invitation_store_error(
            StoreError::AlreadyExists("invitation id"),
            &inv.email,
        ));
    }
    if state
        .store
        .invitations_of(company.id)
        .await?
        .iter()
        .any(|i| i.email == inv.email && i.is_open(now))
    {
        return Err(invitation_store_error(
            StoreError::AlreadyExists("invitation"),
            &inv.email,
        ));
    }
    state.store.delete_user(uid).await?;
    tracing::info!(company_id = %company.id, user_id = %uid, "member reset: account deleted");
    record(
        &state,
        Event::by(&caller, Some(company.id), "member.reset")
            .target(uid, &m.email)
            .details(json!({"invitation_id": inv.id, "role": m.role.as_str()})),
    )
    .await;
    if let Err(e) = state.store.create_invitation(inv.clone()).await {
        let mut err = invitation_store_error(e, &inv.email);
        err.message = format!(
            "the account of {} was deleted, but the new invitation could not be stored ({}); invite {} again",
            inv.email, err.message, inv.email
        );
        return Err(err);
    }
    let mailed = mail_invitation(&state, &caller, &company, &inv, &req.invitation.link).await;
    record(
        &state,
        Event::by(&caller, Some(company.id), "invitation.created").details(json!({
            "invitation_id": inv.id, "email": inv.email, "role": inv.role.as_str(),
            "mailed": mailed, "reset": true,
        })),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(InvitationCreatedResponse {
            invitation: invitation_dto(&inv, now),
            mailed,
        }),
    ))
}

/// Deletes the member's account and everything in it (the audit log keeps its events).
#[utoipa::path(delete, path = "/api/v1/companies/{cid}/members/{uid}", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), ("uid" = Uuid, Path, description = "member's user id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn delete_member<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((cid, uid)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let m = member_of(&state, &company, uid).await?;
    not_yourself(&caller, uid, "delete")?;
    state.store.delete_user(uid).await?;
    tracing::info!(company_id = %company.id, user_id = %uid, "member's account deleted");
    record(
        &state,
        Event::by(&caller, Some(company.id), "member.deleted").target(uid, &m.email),
    )
    .await;
    notify_member_change(&state, &company, &m.email, false).await;
    Ok(StatusCode::NO_CONTENT)
}
