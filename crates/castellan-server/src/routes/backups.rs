//! Organisation backup (docs/org-backup.md): members upload encrypted backups of their Business
//! profile, company admins list and download them (to restore on their own client), Recovery
//! Groups, and handovers of restored items to a member's new account.
//!
//! The server checks what it can without any key: the caller, the plan, that the policy is on,
//! that the backup names the policy's key version and public key, the member certificate
//! against the company root key and the member's signature over the backup. It cannot see
//! what is inside a backup; restoring clients verify everything again.

use std::collections::{BTreeMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_crypto as crypto;
use castellan_store::{
    BackupRecord, CompanyRecord, GroupRecord, HandoverRecord, MemberStatus, Store, StoreError,
};
use castellan_types::{
    backup_signed_bytes, handover_signed_bytes, statement, BackupDto, BackupListResponse,
    BackupPointDto, BackupRestoredRequest, BackupUserDto, BackupsDeletedResponse, ErrorBody,
    ErrorCode, GroupDto, HandoverDto, HandoverListResponse, MemberCertBody, NewHandoverRequest,
    NewRecoveryGroupDto, OrgBackupPolicy, RoleDto, SignedDoc, UploadBackupRequest,
    BACKUP_STATEMENT, HANDOVER_STATEMENT, MAX_BACKUP_ENVELOPE_BYTES, MAX_HANDOVER_BYTES,
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::now;
use super::org::{
    body, check_group_grants, check_key_pair, check_name, check_size, company_policy,
    confirmed_member_ids, doc_bytes, group_dto, record, stored_doc, verify_doc, verify_roster,
    Body, Event, RosterExpect, CLOCK_SLACK,
};
use crate::authz::{forbidden, Caller, Need};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::Shared;

/// Largest request body of an upload or a handover (base64 of the envelope plus the rest).
pub(crate) const MAX_BACKUP_BODY_BYTES: usize = 4 * 1024 * 1024;
const MAX_SEALED_KEY_BYTES: usize = 256;
const DAY: i64 = 86_400;

fn plan_required(company: &CompanyRecord) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::PlanRequired,
        format!(
            "organisation backup needs the Advanced subscription (this company has {}); ask your partner to upgrade",
            company.effective_plan(now()).as_str()
        ),
    )
}

/// The company's backup policy, or `409` when it is off.
fn backup_policy(company: &CompanyRecord) -> ApiResult<OrgBackupPolicy> {
    company_policy(company).org_backup.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Forbidden,
            "organisation backup is off for this company",
        )
    })
}

/// Deletes backups older than the policy's retention (when the policy is on).
async fn prune<S: Store>(state: &Shared<S>, company: &CompanyRecord) -> ApiResult<()> {
    if let Some(p) = company_policy(company).org_backup {
        let before = now() - i64::from(p.retention_days.max(1)) * DAY;
        let n = state.store.prune_backups(company.id, before).await?;
        if n > 0 {
            tracing::info!(company = %company.id, pruned = n, "backups past retention deleted");
        }
    }
    Ok(())
}

fn signed(bytes: &[u8]) -> ApiResult<SignedDoc> {
    stored_doc(bytes).ok_or_else(ApiError::internal)
}

/// Verifies a member certificate of `user_id` in `company` and returns its body.
fn verify_cert(
    company: &CompanyRecord,
    cert: &SignedDoc,
    user_id: Uuid,
) -> ApiResult<MemberCertBody> {
    let body: MemberCertBody = verify_doc(
        cert,
        statement::MEMBER_CERT,
        &company.signing_public_key,
        "member certificate",
    )?;
    if body.company_id != company.id || body.user_id != user_id {
        return Err(ApiError::invalid(
            "the member certificate names another company or user",
        ));
    }
    Ok(body)
}

fn verify_member_signature(
    cert: &MemberCertBody,
    statement_type: &str,
    bytes: &[u8],
    signature: &[u8],
) -> ApiResult<()> {
    let key = crypto::VerifyingKey::from_bytes(cert.signing_public_key.as_slice())
        .map_err(|_| ApiError::invalid("the certified signing key is not a valid Ed25519 key"))?;
    key.verify_statement(statement_type, bytes, signature)
        .map_err(|_| ApiError::invalid("the signature does not verify with the certified key"))
}

/// Stores a backup of the caller's Business profile.
#[utoipa::path(post, path = "/api/v1/companies/{cid}/backups", tag = "backups", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")), request_body = UploadBackupRequest,
    responses((status = 201), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "forbidden or plan_required"),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the policy is off, or version_conflict: another key version"),
              (status = 422, body = ErrorBody)))]
pub(crate) async fn upload_backup<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
    req: Body<UploadBackupRequest>,
) -> ApiResult<StatusCode> {
    let (company, _) = caller.company(&state, cid, Need::Member).await?;
    if !company.effective_plan(now()).has_advanced() {
        return Err(plan_required(&company));
    }
    let policy = backup_policy(&company)?;
    let req = body(req)?;
    if req.key_version != policy.key_version {
        return Err(ApiError {
            current_version: Some(policy.key_version),
            ..ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::VersionConflict,
                format!(
                    "the company's backup key is version {}; refresh the policy and retry",
                    policy.key_version
                ),
            )
        });
    }
    if req.public_key.as_slice() != policy.public_key.as_slice() {
        return Err(ApiError::invalid(
            "the backup is sealed to another key than the policy's",
        ));
    }
    check_size(
        "the sealed backup key",
        req.sealed_key.as_slice(),
        48,
        MAX_SEALED_KEY_BYTES,
    )?;
    check_size(
        "the backup",
        req.envelope.as_slice(),
        1,
        MAX_BACKUP_ENVELOPE_BYTES,
    )?;
    check_size("the backup signature", req.signature.as_slice(), 64, 64)?;
    if (req.created_at - now()).abs() > CLOCK_SLACK {
        return Err(ApiError::invalid(
            "the backup's time is too far from the server's clock",
        ));
    }
    let cert = verify_cert(&company, &req.member_cert, caller.user_id())?;
    let signed_bytes = backup_signed_bytes(
        req.backup_id,
        company.id,
        caller.user_id(),
        req.created_at,
        req.key_version,
        req.public_key.as_slice(),
        &crypto::sha256(req.sealed_key.as_slice()),
        &crypto::sha256(req.envelope.as_slice()),
    );
    verify_member_signature(
        &cert,
        BACKUP_STATEMENT,
        &signed_bytes,
        req.signature.as_slice(),
    )?;
    state
        .store
        .put_backup(BackupRecord {
            company_id: company.id,
            user_id: caller.user_id(),
            user_email: caller.user.email.clone(),
            backup_id: req.backup_id,
            created_at: req.created_at,
            key_version: req.key_version,
            public_key: req.public_key.0,
            sealed_key: req.sealed_key.0,
            envelope: req.envelope.0,
            member_cert: doc_bytes(&req.member_cert)?,
            signature: req.signature.0,
        })
        .await?;
    prune(&state, &company).await?;
    Ok(StatusCode::CREATED)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct BackupListParams {
    /// Only this user's backups.
    pub user_id: Option<Uuid>,
}

/// Users and their backup points (backups past the retention are deleted first).
#[utoipa::path(get, path = "/api/v1/companies/{cid}/backups", tag = "backups", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), BackupListParams),
    responses((status = 200, body = BackupListResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_backups<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
    q: Result<ApiQuery<BackupListParams>, ApiError>,
) -> ApiResult<Json<BackupListResponse>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let ApiQuery(q) = q?;
    prune(&state, &company).await?;
    let mut users: BTreeMap<Uuid, BackupUserDto> = BTreeMap::new();
    for s in state.store.list_backups(company.id, q.user_id).await? {
        let u = users.entry(s.user_id).or_insert_with(|| BackupUserDto {
            user_id: s.user_id,
            email: s.user_email.clone(),
            points: Vec::new(),
        });
        u.points.push(BackupPointDto {
            backup_id: s.backup_id,
            created_at: s.created_at,
            key_version: s.key_version,
            size: s.size,
        });
    }
    let mut users: Vec<BackupUserDto> = users.into_values().collect();
    users.sort_by(|a, b| a.email.cmp(&b.email).then(a.user_id.cmp(&b.user_id)));
    Ok(Json(BackupListResponse {
        users,
        retention_days: company_policy(&company)
            .org_backup
            .map(|p| p.retention_days),
    }))
}

/// One backup, for an admin's client to verify and open (recorded in the audit log).
#[utoipa::path(get, path = "/api/v1/companies/{cid}/backups/{bid}", tag = "backups", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), ("bid" = Uuid, Path, description = "backup id")),
    responses((status = 200, body = BackupDto), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_backup<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((cid, bid)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<BackupDto>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let b = state
        .store
        .get_backup(company.id, bid)
        .await?
        .ok_or_else(|| ApiError::not_found("backup"))?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "backup.downloaded")
            .target(b.user_id, &b.user_email)
            .details(json!({"backup_id": b.backup_id, "created_at": b.created_at,
                            "key_version": b.key_version})),
    )
    .await;
    Ok(Json(BackupDto {
        company_id: b.company_id,
        user_id: b.user_id,
        user_email: b.user_email,
        backup_id: b.backup_id,
        created_at: b.created_at,
        key_version: b.key_version,
        public_key: b.public_key.into(),
        sealed_key: b.sealed_key.into(),
        envelope: b.envelope.into(),
        member_cert: signed(&b.member_cert)?,
        signature: b.signature.into(),
    }))
}

/// Deletes every backup of the company; only while the policy is off (the client turns it off
/// first, after the admin's explicit confirmation).
#[utoipa::path(delete, path = "/api/v1/companies/{cid}/backups", tag = "backups", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")),
    responses((status = 200, body = BackupsDeletedResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the policy is still on")))]
pub(crate) async fn delete_backups<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
) -> ApiResult<Json<BackupsDeletedResponse>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    if company_policy(&company).org_backup.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Forbidden,
            "turn the organisation backup policy off before deleting the backups",
        ));
    }
    let deleted = state.store.delete_company_backups(company.id).await?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "backup.deleted_all")
            .details(json!({"deleted": deleted})),
    )
    .await;
    Ok(Json(BackupsDeletedResponse { deleted }))
}

/// Records a restore in the audit log (the restore itself happens on the admin's client).
#[utoipa::path(post, path = "/api/v1/companies/{cid}/backups/{bid}/restored", tag = "backups", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), ("bid" = Uuid, Path, description = "backup id")),
    request_body = BackupRestoredRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn backup_restored<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((cid, bid)): ApiPath<(Uuid, Uuid)>,
    req: Body<BackupRestoredRequest>,
) -> ApiResult<StatusCode> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let req = body(req)?;
    let b = state
        .store
        .get_backup(company.id, bid)
        .await?
        .ok_or_else(|| ApiError::not_found("backup"))?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "backup.restored")
            .target(b.user_id, &b.user_email)
            .details(json!({"backup_id": b.backup_id, "created_at": b.created_at,
                            "into": req.into, "items": req.items})),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates a Recovery Group: a group whose keys are sealed only to its members (no admin
/// grant). Its members must be confirmed members of the company.
#[utoipa::path(post, path = "/api/v1/companies/{cid}/recovery-groups", tag = "backups", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")), request_body = NewRecoveryGroupDto,
    responses((status = 201, body = GroupDto), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "forbidden or plan_required"),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_recovery_group<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
    req: Body<NewRecoveryGroupDto>,
) -> ApiResult<(StatusCode, Json<GroupDto>)> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    if !company.effective_plan(now()).has_advanced() {
        return Err(plan_required(&company));
    }
    let req = body(req)?;
    check_key_pair(
        "group",
        req.keys.signing_public_key.as_slice(),
        req.keys.encryption_public_key.as_slice(),
    )?;
    let name = check_name(&req.name, "group name")?;
    let roster = verify_roster(
        &req.roster,
        &RosterExpect {
            company: &company,
            group_id: req.group_id,
            version: 1,
            is_everyone: false,
            signing_public_key: req.keys.signing_public_key.as_slice(),
            encryption_public_key: req.keys.encryption_public_key.as_slice(),
        },
    )?;
    if roster.name != name {
        return Err(ApiError::invalid(
            "the group name differs from the signed roster's",
        ));
    }
    if roster.members.is_empty() {
        return Err(ApiError::invalid(
            "a Recovery Group needs at least one member",
        ));
    }
    let allowed = confirmed_member_ids(&state, company.id).await?;
    if let Some(u) = roster.members.iter().find(|u| !allowed.contains(u)) {
        return Err(ApiError::invalid(format!(
            "{u} is not a confirmed member of the company"
        )));
    }
    let members: HashSet<Uuid> = roster.members.iter().copied().collect();
    let grants = check_group_grants(&req.grants, &members, req.group_id)?;
    let t = now();
    let group = GroupRecord {
        id: req.group_id,
        company_id: company.id,
        name,
        is_everyone: false,
        signing_public_key: req.keys.signing_public_key.0.clone(),
        encryption_public_key: req.keys.encryption_public_key.0.clone(),
        roster: doc_bytes(&req.roster)?,
        roster_version: 1,
        admin_grant: Vec::new(),
        members: roster.members,
        created_at: t,
        updated_at: t,
        is_recovery: true,
    };
    state
        .store
        .create_group(group.clone(), grants)
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists(_) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyExists,
                "a group with this id exists already; retry with a new id",
            ),
            other => other.into(),
        })?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "backup.recovery_group_created").details(json!({
            "group_id": group.id, "members": group.members.len(),
        })),
    )
    .await;
    Ok((StatusCode::CREATED, Json(group_dto(&group))))
}

/// Restored items sealed to a member's certified key, for their client to import.
#[utoipa::path(post, path = "/api/v1/companies/{cid}/handovers", tag = "backups", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")), request_body = NewHandoverRequest,
    responses((status = 201), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_handover<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
    req: Body<NewHandoverRequest>,
) -> ApiResult<StatusCode> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let req = body(req)?;
    check_size(
        "the handover",
        req.sealed.as_slice(),
        48,
        MAX_HANDOVER_BYTES,
    )?;
    check_size("the handover signature", req.signature.as_slice(), 64, 64)?;
    let target = state
        .store
        .membership_of(req.user_id)
        .await?
        .filter(|m| m.company_id == company.id && m.status == MemberStatus::Confirmed)
        .ok_or_else(|| ApiError::not_found("member"))?;
    let admin_cert = verify_cert(&company, &req.admin_cert, caller.user_id()).map_err(|_| {
        forbidden("a handover must carry your own member certificate of this company")
    })?;
    if admin_cert.role != RoleDto::Admin {
        return Err(forbidden(
            "only an admin of this company (with its certificate) can hand items over",
        ));
    }
    let bytes = handover_signed_bytes(
        req.id,
        company.id,
        req.user_id,
        &crypto::sha256(req.sealed.as_slice()),
    );
    verify_member_signature(
        &admin_cert,
        HANDOVER_STATEMENT,
        &bytes,
        req.signature.as_slice(),
    )?;
    state
        .store
        .put_handover(HandoverRecord {
            id: req.id,
            company_id: company.id,
            user_id: req.user_id,
            created_by: caller.user_id(),
            created_at: now(),
            sealed: req.sealed.0,
            admin_cert: doc_bytes(&req.admin_cert)?,
            signature: req.signature.0,
        })
        .await?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "backup.handed_over")
            .target(target.user_id, &target.email)
            .details(json!({"handover_id": req.id})),
    )
    .await;
    Ok(StatusCode::CREATED)
}

/// Handovers waiting for the caller.
#[utoipa::path(get, path = "/api/v1/me/handovers", tag = "backups", security(("bearer" = [])),
    responses((status = 200, body = HandoverListResponse), (status = 401, body = ErrorBody)))]
pub(crate) async fn my_handovers<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
) -> ApiResult<Json<HandoverListResponse>> {
    let handovers = state
        .store
        .handovers_for(caller.user_id())
        .await?
        .into_iter()
        .map(|h| {
            Ok(HandoverDto {
                id: h.id,
                company_id: h.company_id,
                user_id: h.user_id,
                created_by: h.created_by,
                created_at: h.created_at,
                sealed: h.sealed.into(),
                admin_cert: signed(&h.admin_cert)?,
                signature: h.signature.into(),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(HandoverListResponse { handovers }))
}

/// Deletes a handover of the caller's (after their client imported it).
#[utoipa::path(delete, path = "/api/v1/me/handovers/{id}", tag = "backups", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "handover id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_my_handover<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    state.store.delete_handover(caller.user_id(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit event of a policy change that touches organisation backup, if any.
pub(crate) fn policy_event(
    before: Option<&OrgBackupPolicy>,
    after: Option<&OrgBackupPolicy>,
) -> Option<(&'static str, serde_json::Value)> {
    match (before, after) {
        (None, Some(a)) => Some((
            "backup.enabled",
            json!({"mode": a.mode, "key_version": a.key_version, "retention_days": a.retention_days}),
        )),
        (Some(b), None) => Some(("backup.disabled", json!({"key_version": b.key_version}))),
        (Some(b), Some(a)) if b != a => Some((
            "backup.changed",
            json!({"mode": a.mode, "key_version": a.key_version, "previous_key_version": b.key_version,
                   "retention_days": a.retention_days}),
        )),
        _ => None,
    }
}
