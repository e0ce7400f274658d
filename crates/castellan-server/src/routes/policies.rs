//! A company's signed policy document.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_store::{Store, StoreError};
use castellan_types::{
    statement, ErrorBody, ErrorCode, PolicyBody, PolicyResponse, SetPolicyRequest,
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
    let conflict = |current: i64| {
        ApiError {
        current_version: Some(current),
        ..ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::VersionConflict,
            format!(
                "the policy counter must be {} (the stored one is {current}); reload the policy and retry",
                current + 1
            ),
        )
    }
    };
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
