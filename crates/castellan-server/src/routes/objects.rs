//! Vault objects (items and folders): ciphertext with a version for optimistic concurrency.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_store::{ObjectKind, ObjectRecord, ObjectWrite, Store};
use castellan_types::{
    ErrorBody, ObjectDto, ObjectKindDto, ObjectListResponse, PutObjectRequest, MAX_ENVELOPE_BYTES,
};
use serde::Deserialize;
use uuid::Uuid;

use super::now;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Session};
use crate::Shared;

fn dto(o: ObjectRecord) -> ObjectDto {
    ObjectDto {
        id: o.id,
        vault_id: o.vault_id,
        kind: match o.kind {
            ObjectKind::Item => ObjectKindDto::Item,
            ObjectKind::Folder => ObjectKindDto::Folder,
        },
        version: o.version,
        trashed: o.trashed,
        key_wrap: o.key_wrap.into(),
        overview: o.overview.into(),
        details: o.details.into(),
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct ListQuery {
    /// Only objects of this vault.
    vault_id: Option<Uuid>,
}

/// Every object of the signed-in user (optionally one vault).
#[utoipa::path(get, path = "/api/v1/objects", tag = "vault", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = ObjectListResponse), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_objects<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ObjectListResponse>> {
    let objects = state
        .store
        .list_objects(session.user_id, q.vault_id)
        .await?;
    Ok(Json(ObjectListResponse {
        objects: objects.into_iter().map(dto).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/objects/{id}", tag = "vault", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "object id")),
    responses((status = 200, body = ObjectDto), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn get_object<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<ObjectDto>> {
    let o = state
        .store
        .get_object(session.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("object"))?;
    Ok(Json(dto(o)))
}

fn check_envelope(name: &str, b: &[u8], required: bool) -> ApiResult<()> {
    if b.len() > MAX_ENVELOPE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            castellan_types::ErrorCode::PayloadTooLarge,
            format!("{name} is larger than {MAX_ENVELOPE_BYTES} bytes"),
        ));
    }
    if required && b.is_empty() {
        return Err(ApiError::invalid(format!("{name} is required")));
    }
    Ok(())
}

/// Creates (no `expected_version`) or updates an object; 409 `version_conflict` when stale.
#[utoipa::path(put, path = "/api/v1/objects/{id}", tag = "vault", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "object id, chosen by the client")), request_body = PutObjectRequest,
    responses((status = 200, body = ObjectDto), (status = 409, body = ErrorBody), (status = 404, body = ErrorBody, description = "vault not found"),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn put_object<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<PutObjectRequest>,
) -> ApiResult<Json<ObjectDto>> {
    let kind = match req.kind {
        ObjectKindDto::Item => ObjectKind::Item,
        ObjectKindDto::Folder => ObjectKind::Folder,
    };
    let is_item = kind == ObjectKind::Item;
    check_envelope("key_wrap", req.key_wrap.as_slice(), is_item)?;
    check_envelope("overview", req.overview.as_slice(), true)?;
    check_envelope("details", req.details.as_slice(), is_item)?;
    if req.version < 1 {
        return Err(ApiError::invalid("version must be at least 1"));
    }
    let write = ObjectWrite {
        id,
        user_id: session.user_id,
        vault_id: req.vault_id,
        kind,
        version: req.version,
        trashed: req.trashed,
        key_wrap: req.key_wrap.into_vec(),
        overview: req.overview.into_vec(),
        details: req.details.into_vec(),
        now: now(),
    };
    let stored = state
        .store
        .put_object(write, req.expected_version)
        .await
        .map_err(|e| match e {
            castellan_store::StoreError::NotFound => ApiError::not_found("vault or object"),
            other => other.into(),
        })?;
    Ok(Json(dto(stored)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct DeleteQuery {
    /// The version being deleted; a newer stored version makes the delete fail with 409.
    version: i64,
}

/// Deletes an object for good (emptying the trash).
#[utoipa::path(delete, path = "/api/v1/objects/{id}", tag = "vault", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "object id"), DeleteQuery),
    responses((status = 204), (status = 409, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn delete_object<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_object(session.user_id, id, q.version)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
