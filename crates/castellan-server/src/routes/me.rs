//! The caller's own place in the organisation: membership, key grants, groups.

use axum::extract::State;
use axum::Json;
use castellan_store::{CompanyKind, Store};
use castellan_types::{
    ErrorBody, KeyGrantDto, KeyGrantListResponse, MembershipResponse, MyGroupDto, MyGroupsResponse,
};

use super::org::{company_dto, group_dto, member_dto, stored_doc};
use crate::authz::Caller;
use crate::error::ApiResult;
use crate::Shared;

/// The caller's company, membership, signed policy, the partner (for a customer) and the
/// customers they administer. All empty for an account without a company.
#[utoipa::path(get, path = "/api/v1/me/membership", tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = MembershipResponse), (status = 401, body = ErrorBody)))]
pub(crate) async fn my_membership<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
) -> ApiResult<Json<MembershipResponse>> {
    let (Some(member), Some(company)) = (&caller.member, &caller.company) else {
        return Ok(Json(MembershipResponse {
            company: None,
            member: None,
            policy: None,
            partner: None,
            managed_customers: Vec::new(),
        }));
    };
    let partner = match (company.kind, company.partner_id) {
        (CompanyKind::Customer, Some(pid)) => state.store.company(pid).await?,
        _ => None,
    };
    let managed_customers = match caller.partner_of_managed() {
        Some(p) => caller.managed_customers(&state.store.customers_of(p.id).await?),
        None => Vec::new(),
    };
    Ok(Json(MembershipResponse {
        company: Some(company_dto(company)),
        member: Some(member_dto(&state, member).await?),
        policy: company.policy.as_deref().and_then(stored_doc),
        partner: partner.as_ref().map(company_dto),
        managed_customers,
    }))
}

/// The company private keys sealed to the caller (admins, partner admins, technicians).
#[utoipa::path(get, path = "/api/v1/me/key-grants", tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = KeyGrantListResponse), (status = 401, body = ErrorBody)))]
pub(crate) async fn my_key_grants<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
) -> ApiResult<Json<KeyGrantListResponse>> {
    let grants = state.store.key_grants_for_user(caller.user_id()).await?;
    Ok(Json(KeyGrantListResponse {
        grants: grants
            .into_iter()
            .map(|g| KeyGrantDto {
                company_id: g.company_id,
                user_id: g.user_id,
                sealed: g.sealed.into(),
            })
            .collect(),
    }))
}

/// The caller's groups, each with the group keys sealed to the caller.
#[utoipa::path(get, path = "/api/v1/me/groups", tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = MyGroupsResponse), (status = 401, body = ErrorBody)))]
pub(crate) async fn my_groups<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
) -> ApiResult<Json<MyGroupsResponse>> {
    let groups = state.store.groups_of_user(caller.user_id()).await?;
    Ok(Json(MyGroupsResponse {
        groups: groups
            .into_iter()
            .map(|(g, grant)| MyGroupDto {
                group: group_dto(&g),
                grant: grant.sealed.into(),
            })
            .collect(),
    }))
}
