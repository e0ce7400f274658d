//! A partner's customers, policy templates and technician assignments.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_store::{
    CompanyCreate, CompanyKind, CompanyRecord, CompanyStatus, KeyGrantRecord, MemberStatus,
    NewCompany, PolicyTemplateRecord, Role, Store, StoreError,
};
use castellan_types::{
    statement, AssignTechnicianRequest, CompanyDto, CompanyListResponse, CreateCustomerRequest,
    ErrorBody, ErrorCode, PlanDto, PolicyBody, PolicyTemplateDto, PolicyTemplateListResponse,
    PutPolicyTemplateRequest, TechnicianCustomersResponse,
};
use serde_json::json;
use uuid::Uuid;

use super::now;
use super::org::{
    body, check_grant, check_key_pair, check_name, check_plan_allows, check_policy_set,
    company_dto, doc_bytes, new_group, plan_of, record, template_dto, verify_doc, Body, Event,
    MAX_GRANTS, MAX_SEATS,
};
use crate::authz::{Caller, Need, PartnerNeed};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::Shared;

/// Length of a trial when the partner does not say.
pub(crate) const DEFAULT_TRIAL_SECS: i64 = 30 * 24 * 3600;

/// The partner's customers (a technician sees those assigned to them).
#[utoipa::path(get, path = "/api/v1/partners/{pid}/customers", tag = "organisation", security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "partner id")),
    responses((status = 200, body = CompanyListResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_customers<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(pid): ApiPath<Uuid>,
) -> ApiResult<Json<CompanyListResponse>> {
    let partner = caller.partner(pid, PartnerNeed::Staff)?;
    let all = state.store.customers_of(partner.id).await?;
    let managed = caller.managed_customers(&all);
    Ok(Json(CompanyListResponse {
        companies: all
            .iter()
            .filter(|c| managed.contains(&c.id))
            .map(company_dto)
            .collect(),
    }))
}

/// Creates a customer: its public keys, its private keys sealed to every partner admin, the
/// Everyone group and optionally the first policy document.
#[utoipa::path(post, path = "/api/v1/partners/{pid}/customers", tag = "organisation", security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "partner id")), request_body = CreateCustomerRequest,
    responses((status = 201, body = CompanyDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_customer<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(pid): ApiPath<Uuid>,
    req: Body<CreateCustomerRequest>,
) -> ApiResult<(StatusCode, Json<CompanyDto>)> {
    let partner = caller.partner(pid, PartnerNeed::Admin)?;
    let req = body(req)?;
    let now = now();
    let name = check_name(&req.name, "company name")?;
    if !(1..=MAX_SEATS).contains(&req.seats) {
        return Err(ApiError::invalid(format!("seats must be 1 to {MAX_SEATS}")));
    }
    check_key_pair(
        "company",
        req.keys.signing_public_key.as_slice(),
        req.keys.encryption_public_key.as_slice(),
    )?;
    let plan = plan_of(req.plan);
    let trial_ends_at = (req.plan == PlanDto::Trial).then_some(now + DEFAULT_TRIAL_SECS);
    let company = CompanyRecord {
        id: req.company_id,
        kind: CompanyKind::Customer,
        partner_id: Some(partner.id),
        name: name.clone(),
        status: CompanyStatus::Active,
        plan,
        seats: Some(req.seats),
        trial_ends_at,
        signing_public_key: req.keys.signing_public_key.as_slice().to_vec(),
        encryption_public_key: req.keys.encryption_public_key.as_slice().to_vec(),
        policy: None,
        policy_counter: 0,
        revocations: None,
        revocations_version: 0,
        seats_used: 0,
        created_at: now,
        updated_at: now,
    };

    // Every partner admin holds the keys of every customer.
    if req.key_grants.len() > MAX_GRANTS {
        return Err(ApiError::invalid("too many key grants"));
    }
    let admins: HashSet<Uuid> = state
        .store
        .members_of(partner.id)
        .await?
        .into_iter()
        .filter(|m| m.role == Role::Admin && m.status == MemberStatus::Confirmed)
        .map(|m| m.user_id)
        .collect();
    let mut granted = HashSet::new();
    let mut key_grants = Vec::with_capacity(req.key_grants.len());
    for g in &req.key_grants {
        check_grant("a key grant", g.sealed.as_slice())?;
        if g.company_id != company.id {
            return Err(ApiError::invalid("a key grant names another company"));
        }
        if !admins.contains(&g.user_id) {
            return Err(ApiError::invalid(format!(
                "{} is not an administrator of the partner; technicians get a customer's keys when they are assigned to it",
                g.user_id
            )));
        }
        if !granted.insert(g.user_id) {
            return Err(ApiError::invalid(format!(
                "two key grants for {}",
                g.user_id
            )));
        }
        key_grants.push(KeyGrantRecord {
            company_id: company.id,
            user_id: g.user_id,
            sealed: g.sealed.as_slice().to_vec(),
            granted_by: caller.user_id(),
            created_at: now,
        });
    }
    if let Some(missing) = admins.iter().find(|a| !granted.contains(a)) {
        return Err(ApiError::invalid(format!(
            "no key grant for the partner administrator {missing}; every partner administrator must hold the new company's keys"
        )));
    }

    let (everyone, everyone_grants) =
        new_group(&req.everyone, &company, true, &HashSet::new(), now)?;
    let policy = match &req.policy {
        None => None,
        Some(doc) => {
            let p: PolicyBody = verify_doc(
                doc,
                statement::POLICY,
                &company.signing_public_key,
                "policy",
            )?;
            if p.company_id != company.id || p.counter != 1 {
                return Err(ApiError::invalid(
                    "the first policy document must name the new company and have counter 1",
                ));
            }
            check_policy_set(&p.policies)?;
            check_plan_allows(plan, &p.policies)?;
            Some(doc_bytes(doc)?)
        }
    };

    let created = state
        .store
        .create_company(CompanyCreate {
            company: NewCompany {
                id: company.id,
                kind: CompanyKind::Customer,
                partner_id: Some(partner.id),
                name,
                plan,
                seats: Some(req.seats),
                trial_ends_at,
                signing_public_key: company.signing_public_key.clone(),
                encryption_public_key: company.encryption_public_key.clone(),
                created_at: now,
            },
            setup_token: None,
            founder: None,
            key_grants,
            everyone,
            everyone_grants,
            policy,
        })
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists(_) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyExists,
                "a company or group with this id already exists; retry with new ids",
            ),
            other => other.into(),
        })?;
    tracing::info!(company_id = %created.id, partner_id = %partner.id, "customer created");
    record(
        &state,
        Event::by(&caller, Some(created.id), "company.created").details(json!({
            "name": created.name, "plan": created.plan.as_str(), "seats": created.seats,
            "partner_id": partner.id,
        })),
    )
    .await;
    Ok((StatusCode::CREATED, Json(company_dto(&created))))
}

// ---------------------------------------------------------------- policy templates

#[utoipa::path(get, path = "/api/v1/partners/{pid}/policy-templates", tag = "organisation", security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "partner id")),
    responses((status = 200, body = PolicyTemplateListResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_policy_templates<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(pid): ApiPath<Uuid>,
) -> ApiResult<Json<PolicyTemplateListResponse>> {
    let partner = caller.partner(pid, PartnerNeed::Admin)?;
    let templates = state.store.policy_templates_of(partner.id).await?;
    Ok(Json(PolicyTemplateListResponse {
        templates: templates.iter().map(template_dto).collect(),
    }))
}

/// Creates or replaces a template (an unsigned policy set the partner admin's client signs
/// once per customer when applying it).
#[utoipa::path(post, path = "/api/v1/partners/{pid}/policy-templates", tag = "organisation", security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "partner id")), request_body = PutPolicyTemplateRequest,
    responses((status = 200, body = PolicyTemplateDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn put_policy_template<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(pid): ApiPath<Uuid>,
    req: Body<PutPolicyTemplateRequest>,
) -> ApiResult<Json<PolicyTemplateDto>> {
    let partner = caller.partner(pid, PartnerNeed::Admin)?;
    let req = body(req)?;
    let name = check_name(&req.name, "template name")?;
    check_policy_set(&req.policies)?;
    let now = now();
    let existing = state.store.policy_templates_of(partner.id).await?;
    if existing.len() >= 1000 && !existing.iter().any(|t| t.id == req.id) {
        return Err(ApiError::invalid(
            "a partner has at most 1000 policy templates",
        ));
    }
    let created_at = existing
        .iter()
        .find(|t| t.id == req.id)
        .map(|t| t.created_at)
        .unwrap_or(now);
    let template = PolicyTemplateRecord {
        id: req.id,
        partner_id: partner.id,
        name,
        policies: serde_json::to_string(&req.policies).map_err(|_| ApiError::internal())?,
        created_at,
        updated_at: now,
    };
    state
        .store
        .put_policy_template(template.clone())
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists(_) | StoreError::NotFound => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyExists,
                "this template id is taken",
            ),
            other => other.into(),
        })?;
    record(
        &state,
        Event::by(&caller, Some(partner.id), "policy_template.saved")
            .details(json!({"template_id": template.id, "name": template.name})),
    )
    .await;
    Ok(Json(template_dto(&template)))
}

#[utoipa::path(delete, path = "/api/v1/partners/{pid}/policy-templates/{tid}", tag = "organisation", security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "partner id"), ("tid" = Uuid, Path, description = "template id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_policy_template<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((pid, tid)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let partner = caller.partner(pid, PartnerNeed::Admin)?;
    state
        .store
        .delete_policy_template(partner.id, tid)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("policy template"),
            other => other.into(),
        })?;
    record(
        &state,
        Event::by(&caller, Some(partner.id), "policy_template.deleted")
            .details(json!({"template_id": tid})),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- technicians

/// The technician `uid` of partner `pid` (404 for anyone else).
async fn technician<S: Store>(
    state: &Shared<S>,
    partner: &CompanyRecord,
    uid: Uuid,
) -> ApiResult<castellan_store::MemberRecord> {
    state
        .store
        .member(partner.id, uid)
        .await?
        .filter(|m| m.role == Role::Technician)
        .ok_or_else(|| ApiError::not_found("technician"))
}

#[utoipa::path(get, path = "/api/v1/partners/{pid}/technicians/{uid}/customers", tag = "organisation", security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "partner id"), ("uid" = Uuid, Path, description = "technician's user id")),
    responses((status = 200, body = TechnicianCustomersResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn technician_customers<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((pid, uid)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<TechnicianCustomersResponse>> {
    let partner = caller.partner(pid, PartnerNeed::Admin)?;
    technician(&state, &partner, uid).await?;
    let customers = state.store.technician_customers(uid).await?;
    Ok(Json(TechnicianCustomersResponse { customers }))
}

/// Assigns a technician to a customer, with the customer's keys sealed to them.
#[utoipa::path(put, path = "/api/v1/partners/{pid}/technicians/{uid}/customers/{cid}", tag = "organisation", security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "partner id"), ("uid" = Uuid, Path, description = "technician's user id"),
           ("cid" = Uuid, Path, description = "customer id")),
    request_body = AssignTechnicianRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn assign_technician<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((pid, uid, cid)): ApiPath<(Uuid, Uuid, Uuid)>,
    req: Body<AssignTechnicianRequest>,
) -> ApiResult<StatusCode> {
    let partner = caller.partner(pid, PartnerNeed::Admin)?;
    let (customer, _) = caller.company(&state, cid, Need::PartnerOfCustomer).await?;
    let req = body(req)?;
    let tech = technician(&state, &partner, uid).await?;
    if tech.status != MemberStatus::Confirmed {
        return Err(ApiError::invalid(
            "confirm the technician before assigning customers to them",
        ));
    }
    check_grant("the key grant", req.key_grant.as_slice())?;
    let now = now();
    state
        .store
        .assign_technician(
            customer.id,
            uid,
            KeyGrantRecord {
                company_id: customer.id,
                user_id: uid,
                sealed: req.key_grant.as_slice().to_vec(),
                granted_by: caller.user_id(),
                created_at: now,
            },
        )
        .await?;
    record(
        &state,
        Event::by(&caller, Some(customer.id), "technician.assigned").target(uid, &tech.email),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/partners/{pid}/technicians/{uid}/customers/{cid}", tag = "organisation", security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "partner id"), ("uid" = Uuid, Path, description = "technician's user id"),
           ("cid" = Uuid, Path, description = "customer id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn unassign_technician<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((pid, uid, cid)): ApiPath<(Uuid, Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let partner = caller.partner(pid, PartnerNeed::Admin)?;
    let (customer, _) = caller.company(&state, cid, Need::PartnerOfCustomer).await?;
    let tech = technician(&state, &partner, uid).await?;
    state
        .store
        .unassign_technician(customer.id, uid)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("assignment"),
            other => other.into(),
        })?;
    record(
        &state,
        Event::by(&caller, Some(customer.id), "technician.unassigned").target(uid, &tech.email),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
