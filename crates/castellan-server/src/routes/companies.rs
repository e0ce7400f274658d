//! A company's summary, name and status, and its subscription.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_store::{CompanyKind, CompanyStatus, CompanyUpdate, Store};
use castellan_types::{
    CompanyDto, CompanyStatusDto, ErrorBody, ErrorCode, PlanDto, SubscriptionRequest,
    UpdateCompanyRequest,
};
use serde_json::json;
use uuid::Uuid;

use super::now;
use super::org::{
    body, check_name, company_dto, company_policy, plan_of, record, status_of, Body, Event,
    MAX_SEATS,
};
use crate::authz::{Caller, Need};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::Shared;

/// Longest trial, from now.
const MAX_TRIAL_SECS: i64 = 366 * 24 * 3600;

/// The company's summary (its users see it too, unless "restrict portal access" is on).
#[utoipa::path(get, path = "/api/v1/companies/{cid}", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")),
    responses((status = 200, body = CompanyDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "no such company, or outside the caller's reach")))]
pub(crate) async fn get_company<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
) -> ApiResult<Json<CompanyDto>> {
    let (company, _) = caller.company(&state, cid, Need::ReadSummary).await?;
    Ok(Json(company_dto(&company)))
}

/// Renames a company (company admins) or disables / enables a customer (partner admins).
/// Disabling ends the sessions of its members; they cannot log in until it is enabled again.
#[utoipa::path(patch, path = "/api/v1/companies/{cid}", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")), request_body = UpdateCompanyRequest,
    responses((status = 200, body = CompanyDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update_company<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
    req: Body<UpdateCompanyRequest>,
) -> ApiResult<Json<CompanyDto>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let req = body(req)?;
    if req.status.is_some() {
        caller.check(&company, Need::PartnerOfCustomer)?;
    }
    let name = req
        .name
        .as_deref()
        .map(|n| check_name(n, "company name"))
        .transpose()?;
    if name.is_none() && req.status.is_none() {
        return Err(ApiError::invalid("nothing to change: give name or status"));
    }
    let status = req.status.map(status_of);
    let updated = state
        .store
        .update_company(
            company.id,
            CompanyUpdate {
                name: name.clone(),
                status,
                now: now(),
                ..Default::default()
            },
        )
        .await?;
    if status == Some(CompanyStatus::Disabled) && company.status != CompanyStatus::Disabled {
        // Its members are logged out everywhere (they cannot log in again while disabled).
        let now = now();
        for m in state.store.members_of(company.id).await? {
            state
                .store
                .revoke_other_sessions(m.user_id, None, now)
                .await?;
        }
    }
    let mut details = json!({});
    if let Some(n) = &name {
        details["name"] = json!(n);
    }
    if let Some(s) = req.status {
        details["status"] = json!(match s {
            CompanyStatusDto::Active => "active",
            CompanyStatusDto::Disabled => "disabled",
        });
    }
    let event = match status {
        Some(CompanyStatus::Disabled) => "company.disabled",
        Some(CompanyStatus::Active) if company.status == CompanyStatus::Disabled => {
            "company.enabled"
        }
        _ => "company.updated",
    };
    record(
        &state,
        Event::by(&caller, Some(company.id), event).details(details),
    )
    .await;
    Ok(Json(company_dto(&updated)))
}

/// Sets a customer's plan and seats (partner admins). Seats cannot go below the seats in use;
/// a plan without the Advanced features cannot be set while the policy uses them.
#[utoipa::path(put, path = "/api/v1/companies/{cid}/subscription", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "customer id")), request_body = SubscriptionRequest,
    responses((status = 200, body = CompanyDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "seat_limit"),
              (status = 422, body = ErrorBody)))]
pub(crate) async fn set_subscription<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
    req: Body<SubscriptionRequest>,
) -> ApiResult<Json<CompanyDto>> {
    let (company, _) = caller.company(&state, cid, Need::PartnerOfCustomer).await?;
    let req = body(req)?;
    let now = now();
    if company.kind != CompanyKind::Customer {
        return Err(ApiError::invalid("only customers have a subscription"));
    }
    if !(1..=MAX_SEATS).contains(&req.seats) {
        return Err(ApiError::invalid(format!("seats must be 1 to {MAX_SEATS}")));
    }
    if req.seats < company.seats_used {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::SeatLimit,
            format!(
                "{} seats are in use (members and open invitations); remove members or revoke invitations before lowering the seats to {}",
                company.seats_used, req.seats
            ),
        ));
    }
    let plan = plan_of(req.plan);
    let advanced = company_policy(&company).advanced_in_use();
    if !plan.has_advanced() && !advanced.is_empty() {
        return Err(ApiError::invalid(format!(
            "the company's policy uses Advanced-only policies ({}); turn them off before moving to {}",
            advanced.join(", "),
            plan.as_str()
        )));
    }
    let trial_ends_at = match req.plan {
        PlanDto::Trial => {
            let end = req
                .trial_ends_at
                .unwrap_or(now + super::partners::DEFAULT_TRIAL_SECS);
            if end <= now || end > now + MAX_TRIAL_SECS {
                return Err(ApiError::invalid(
                    "trial_ends_at must be in the future and within a year",
                ));
            }
            Some(end)
        }
        _ => None,
    };
    let updated = state
        .store
        .update_company(
            company.id,
            CompanyUpdate {
                plan: Some(plan),
                seats: Some(Some(req.seats)),
                trial_ends_at: Some(trial_ends_at),
                now,
                ..Default::default()
            },
        )
        .await?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "subscription.changed").details(json!({
            "plan": plan.as_str(), "seats": req.seats, "trial_ends_at": trial_ends_at,
            "previous_plan": company.plan.as_str(), "previous_seats": company.seats,
        })),
    )
    .await;
    Ok(Json(company_dto(&updated)))
}
