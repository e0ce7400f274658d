//! Groups: keys, signed rosters and the members' sealed group keys.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_store::{RosterWrite, Store, StoreError};
use castellan_types::{
    ErrorBody, ErrorCode, GroupDto, GroupListResponse, NewGroupDto, RosterUpdateRequest,
};
use serde_json::json;
use uuid::Uuid;

use super::now;
use super::org::{
    body, check_group_grants, confirmed_member_ids, doc_bytes, group_dto, new_group, record,
    verify_roster, Body, Event, RosterExpect,
};
use crate::authz::{Caller, Need};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::Shared;

/// Most groups per company.
const MAX_GROUPS: usize = 10_000;

#[utoipa::path(get, path = "/api/v1/companies/{cid}/groups", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")),
    responses((status = 200, body = GroupListResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_groups<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
) -> ApiResult<Json<GroupListResponse>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let groups = state.store.groups_of(company.id).await?;
    Ok(Json(GroupListResponse {
        groups: groups.iter().map(group_dto).collect(),
    }))
}

/// Creates a group: its keys, roster version 1 (confirmed members only), the admin grant and
/// one grant per listed member.
#[utoipa::path(post, path = "/api/v1/companies/{cid}/groups", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")), request_body = NewGroupDto,
    responses((status = 201, body = GroupDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_group<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
    req: Body<NewGroupDto>,
) -> ApiResult<(StatusCode, Json<GroupDto>)> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let req = body(req)?;
    let allowed = confirmed_member_ids(&state, company.id).await?;
    let (group, grants) = new_group(&req, &company, false, &allowed, now())?;
    if state.store.groups_of(company.id).await?.len() >= MAX_GROUPS {
        return Err(ApiError::invalid(format!(
            "a company has at most {MAX_GROUPS} groups"
        )));
    }
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
        Event::by(&caller, Some(company.id), "group.created").details(json!({
            "group_id": group.id, "name": group.name, "members": group.members.len(),
        })),
    )
    .await;
    Ok((StatusCode::CREATED, Json(group_dto(&group))))
}

/// Replaces a group's roster (rename and membership changes): version = stored + 1, grants
/// for exactly the members it adds. The Everyone group keeps its name.
#[utoipa::path(put, path = "/api/v1/companies/{cid}/groups/{gid}/roster", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), ("gid" = Uuid, Path, description = "group id")),
    request_body = RosterUpdateRequest,
    responses((status = 200, body = GroupDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "version_conflict"),
              (status = 422, body = ErrorBody)))]
pub(crate) async fn update_roster<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((cid, gid)): ApiPath<(Uuid, Uuid)>,
    req: Body<RosterUpdateRequest>,
) -> ApiResult<Json<GroupDto>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let req = body(req)?;
    let group = state
        .store
        .group(company.id, gid)
        .await?
        .ok_or_else(|| ApiError::not_found("group"))?;
    let roster = verify_roster(
        &req.roster,
        &RosterExpect {
            company: &company,
            group_id: group.id,
            version: group.roster_version + 1,
            is_everyone: group.is_everyone,
            signing_public_key: &group.signing_public_key,
            encryption_public_key: &group.encryption_public_key,
        },
    )?;
    if group.is_everyone && roster.name != group.name {
        return Err(ApiError::invalid("the Everyone group cannot be renamed"));
    }
    let allowed = confirmed_member_ids(&state, company.id).await?;
    if let Some(u) = roster.members.iter().find(|u| !allowed.contains(u)) {
        return Err(ApiError::invalid(format!(
            "{u} is not a confirmed member of the company"
        )));
    }
    let old: HashSet<Uuid> = group.members.iter().copied().collect();
    let added: HashSet<Uuid> = roster
        .members
        .iter()
        .copied()
        .filter(|u| !old.contains(u))
        .collect();
    let removed: Vec<Uuid> = old
        .iter()
        .copied()
        .filter(|u| !roster.members.contains(u))
        .collect();
    let changed: Vec<Uuid> = added.iter().chain(removed.iter()).copied().collect();
    let grants = check_group_grants(&req.grants, &added, group.id)?;
    let updated = state
        .store
        .update_group(
            company.id,
            group.id,
            RosterWrite {
                name: roster.name,
                roster: doc_bytes(&req.roster)?,
                version: roster.version,
                members: roster.members,
                grants,
                now: now(),
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::VersionConflict { current } => ApiError {
                current_version: Some(current),
                ..ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::VersionConflict,
                    format!("the group changed meanwhile (roster version {current}); reload it and retry"),
                )
            },
            other => other.into(),
        })?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "group.changed").details(json!({
            "group_id": group.id, "version": updated.roster_version, "name": updated.name,
            "added": added.len(), "removed": removed.len(),
        })),
    )
    .await;
    // Members who joined or left see other shares now.
    super::shares::announce_group_change(&state, company.id, group.id, changed).await;
    Ok(Json(group_dto(&updated)))
}

#[utoipa::path(delete, path = "/api/v1/companies/{cid}/groups/{gid}", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), ("gid" = Uuid, Path, description = "group id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn delete_group<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((cid, gid)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let group = state
        .store
        .group(company.id, gid)
        .await?
        .ok_or_else(|| ApiError::not_found("group"))?;
    if group.is_everyone {
        return Err(ApiError::invalid("the Everyone group cannot be deleted"));
    }
    if group.is_recovery {
        return Err(ApiError::invalid(
            "a Recovery Group holds the key of organisation backups; it goes with `castellan backup disable`",
        ));
    }
    state.store.delete_group(company.id, gid).await?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "group.deleted")
            .details(json!({"group_id": gid, "name": group.name})),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
