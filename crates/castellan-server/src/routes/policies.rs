//! A company's signed documents: the policy and the certificate revocation list.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_store::CompanyDoc;
use castellan_store::{Store, StoreError};
use castellan_types::{
    statement, ErrorBody, ErrorCode, PolicyBody, PolicyResponse, RevocationListBody,
    SetPolicyRequest, SetRevocationsRequest,
};
use serde_json::json;
use uuid::Uuid;

use super::now;
use super::org::{
    body, check_plan_allows, check_policy_set, doc_bytes, record, stored_doc, verify_doc, Body,
    Event,
};
use crate::authz::{Caller, Need};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::Shared;

#[utoipa::path(get, path = "/api/v1/companies/{cid}/policy", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")),
    responses((status = 200, body = PolicyResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn get_policy<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
) -> ApiResult<Json<PolicyResponse>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    Ok(Json(PolicyResponse {
        policy: company.policy.as_deref().and_then(stored_doc),
    }))
}

/// `409 version_conflict` for a document whose counter is not the stored one + 1.
fn version_conflict(what: &str, current: i64) -> ApiError {
    ApiError {
        current_version: Some(current),
        ..ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::VersionConflict,
            format!(
                "the {what} must be {} (the stored one is {current}); reload it and retry",
                current + 1
            ),
        )
    }
}

/// Replaces the policy document: a [`PolicyBody`] for this company with counter = stored + 1,
/// signed with the company root key, issued by the caller. Advanced-only policies need the
/// Advanced (or Trial) subscription (`403 plan_required`).
#[utoipa::path(put, path = "/api/v1/companies/{cid}/policy", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")), request_body = SetPolicyRequest,
    responses((status = 200, body = PolicyResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "forbidden or plan_required"),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "version_conflict: the counter is not stored + 1"),
              (status = 422, body = ErrorBody)))]
pub(crate) async fn set_policy<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
    req: Body<SetPolicyRequest>,
) -> ApiResult<Json<PolicyResponse>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let req = body(req)?;
    let p: PolicyBody = verify_doc(
        &req.policy,
        statement::POLICY,
        &company.signing_public_key,
        "policy",
    )?;
    if p.company_id != company.id {
        return Err(ApiError::invalid(
            "the policy document names another company",
        ));
    }
    if p.issued_by != caller.user_id() {
        return Err(ApiError::invalid(
            "the policy document must be issued by you",
        ));
    }
    let conflict = |current: i64| version_conflict("policy counter", current);
    if p.counter != company.policy_counter + 1 {
        return Err(conflict(company.policy_counter));
    }
    check_policy_set(&p.policies)?;
    check_plan_allows(company.effective_plan(now()), &p.policies)?;
    let backup_before = super::company_policy(&company).org_backup;
    state
        .store
        .set_policy(company.id, p.counter, doc_bytes(&req.policy)?, now())
        .await
        .map_err(|e| match e {
            StoreError::VersionConflict { current } => conflict(current),
            other => other.into(),
        })?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "policy.changed").details(json!({
            "counter": p.counter,
            "require_two_factor": p.policies.require_two_factor,
            "advanced": p.policies.advanced_in_use(),
        })),
    )
    .await;
    if let Some(event) =
        super::backups::policy_event(backup_before.as_ref(), p.policies.org_backup.as_ref())
    {
        record(
            &state,
            Event::by(&caller, Some(company.id), event.0).details(event.1),
        )
        .await;
    }
    Ok(Json(PolicyResponse {
        policy: Some(req.policy),
    }))
}

/// Replaces the certificate revocation list: a [`RevocationListBody`] for this company with
/// version = stored + 1, signed with the company root key, issued by the caller, listing every
/// serial of the stored list (serials are never taken off). Clients read it in the directory.
#[utoipa::path(put, path = "/api/v1/companies/{cid}/revocations", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")), request_body = SetRevocationsRequest,
    responses((status = 204, description = "stored"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "version_conflict: the version is not stored + 1"),
              (status = 422, body = ErrorBody)))]
pub(crate) async fn set_revocations<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
    req: Body<SetRevocationsRequest>,
) -> ApiResult<StatusCode> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let req = body(req)?;
    let list: RevocationListBody = verify_doc(
        &req.revocations,
        statement::REVOKED_CERTS,
        &company.signing_public_key,
        "revocation list",
    )?;
    if list.company_id != company.id {
        return Err(ApiError::invalid(
            "the revocation list names another company",
        ));
    }
    if list.issued_by != caller.user_id() {
        return Err(ApiError::invalid(
            "the revocation list must be issued by you",
        ));
    }
    if list.version != company.revocations_version + 1 {
        return Err(version_conflict(
            "revocation list version",
            company.revocations_version,
        ));
    }
    let stored: Option<RevocationListBody> = company
        .revocations
        .as_deref()
        .and_then(stored_doc)
        .and_then(|d| serde_json::from_slice(d.body.as_slice()).ok());
    if let Some(stored) = stored {
        if stored.serials.iter().any(|s| !list.serials.contains(s)) {
            return Err(ApiError::invalid(
                "a revocation list must keep every serial of the previous one",
            ));
        }
    }
    let revoked_total = list.serials.len();
    state
        .store
        .set_company_doc(
            company.id,
            CompanyDoc::Revocations,
            list.version,
            doc_bytes(&req.revocations)?,
            now(),
        )
        .await
        .map_err(|e| match e {
            StoreError::VersionConflict { current } => {
                version_conflict("revocation list version", current)
            }
            other => other.into(),
        })?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "certificates.revoked").details(json!({
            "version": list.version,
            "revoked_total": revoked_total,
        })),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
