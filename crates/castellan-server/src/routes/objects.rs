//! Vault objects (items and folders): ciphertext with a version for optimistic concurrency.
//! Every write carries the updated signed manifest of each vault it touches and is announced
//! on the hint bus once committed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_store::{ManifestWrite, ObjectKind, ObjectRecord, ObjectWrite, Store};
use castellan_types::{
    DeleteObjectRequest, ErrorBody, ErrorCode, ManifestDto, ObjectDto, ObjectKindDto,
    ObjectListResponse, PutObjectRequest, MAX_ENVELOPE_BYTES,
};
use serde::Deserialize;
use uuid::Uuid;

use super::now;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Session};
use crate::Shared;

/// Most manifests one write may carry: the vault it writes to and the vault it leaves.
pub(crate) const MAX_MANIFESTS_PER_WRITE: usize = 2;
/// Largest signed manifest the server stores, in bytes.
pub(crate) const MAX_MANIFEST_BYTES: usize = 8 * 1024;

pub(crate) fn dto(o: ObjectRecord) -> ObjectDto {
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
        seq: o.seq,
        author_id: o.author_id,
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

/// Checks the manifests of a write against the limits and converts them for the store.
pub(crate) fn manifest_writes(manifests: Vec<ManifestDto>) -> ApiResult<Vec<ManifestWrite>> {
    if manifests.len() > MAX_MANIFESTS_PER_WRITE {
        return Err(ApiError::invalid(format!(
            "a write carries at most {MAX_MANIFESTS_PER_WRITE} manifests"
        )));
    }
    let mut writes: Vec<ManifestWrite> = Vec::with_capacity(manifests.len());
    for m in manifests {
        let vault_id = m.vault_id;
        if m.manifest.len() > MAX_MANIFEST_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                format!(
                    "the manifest of vault {vault_id} is larger than {MAX_MANIFEST_BYTES} bytes"
                ),
            ));
        }
        if m.manifest.is_empty() {
            return Err(ApiError::invalid(format!(
                "the manifest of vault {vault_id} is empty"
            )));
        }
        if m.counter < 1 {
            return Err(ApiError::invalid("a manifest counter must be at least 1"));
        }
        if writes.iter().any(|w| w.vault_id == vault_id) {
            return Err(ApiError::invalid(format!(
                "two manifests for vault {vault_id}"
            )));
        }
        writes.push(ManifestWrite {
            vault_id,
            counter: m.counter,
            blob: m.manifest.into_vec(),
        });
    }
    Ok(writes)
}

/// A write must carry the manifest of every vault it touches, and no other.
fn require_manifests(manifests: &[ManifestWrite], touched: &[Uuid]) -> ApiResult<()> {
    for vault in touched {
        if !manifests.iter().any(|m| m.vault_id == *vault) {
            return Err(ApiError::invalid(if Some(vault) == touched.first() {
                "a write must carry the updated manifest of its vault".to_string()
            } else {
                format!(
                    "a write must carry the updated manifest of its vault, and of the vault \
                     it leaves ({vault})"
                )
            }));
        }
    }
    if let Some(extra) = manifests.iter().find(|m| !touched.contains(&m.vault_id)) {
        return Err(ApiError::invalid(format!(
            "a manifest for vault {}, which this write does not touch",
            extra.vault_id
        )));
    }
    Ok(())
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

/// Creates (no `expected_version`) or updates an object, with the updated manifest of its vault
/// (and of the vault it leaves, when it moves), all in one transaction.
///
/// Objects of a share (`vault_id` = share id) are written by its owners and editors only; the
/// server records the writer as `author_id`. A reader's write answers `403 forbidden`.
///
/// 409 `version_conflict` (`current_version` = the stored version) when the object is stale,
/// 409 `manifest_conflict` (`current_version` = the stored counter) when a manifest is;
/// 422 `invalid_value` when a manifest is missing, more than 2 are given, one names a vault the
/// write does not touch or has a counter below 1; 413 when an envelope is larger than 512 KiB
/// or a manifest larger than 8 KiB.
#[utoipa::path(put, path = "/api/v1/objects/{id}", tag = "vault", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "object id, chosen by the client")), request_body = PutObjectRequest,
    responses((status = 200, body = ObjectDto), (status = 409, body = ErrorBody, description = "version_conflict or manifest_conflict"),
              (status = 403, body = ErrorBody, description = "a share in which the caller's role is read-only"),
              (status = 404, body = ErrorBody, description = "vault not found"),
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
    let manifests = manifest_writes(req.manifests)?;
    // The vaults the write touches: its target, and the vault it leaves when it moves.
    let mut touched = vec![req.vault_id];
    if req.expected_version.is_some() {
        if let Some(current) = state.store.get_object(session.user_id, id).await? {
            if current.vault_id != req.vault_id {
                touched.push(current.vault_id);
            }
        }
    }
    require_manifests(&manifests, &touched)?;
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
    let stored = match state
        .store
        .put_object(write, req.expected_version, &manifests)
        .await
    {
        Ok(stored) => stored,
        Err(castellan_store::StoreError::NotFound) => {
            return Err(write_refused(&state, session.user_id, &touched, "vault or object").await)
        }
        Err(other) => return Err(other.into()),
    };
    announce(&state, session.user_id, &touched, stored.seq).await;
    Ok(Json(dto(stored)))
}

/// Why a write the store refused as `NotFound` was refused: `403 forbidden` when one of the
/// vaults it touches is a share the user can read but not write (a read-only role), else
/// `404` (no such vault or object, or a share the user cannot read at all).
async fn write_refused<S: Store>(
    state: &Shared<S>,
    user_id: Uuid,
    vaults: &[Uuid],
    what: &str,
) -> ApiError {
    let shares = match state.store.shares_for_user(user_id, now()).await {
        Ok(shares) => shares,
        Err(e) => return e.into(),
    };
    let read_only = shares
        .iter()
        .any(|us| vaults.contains(&us.share.id) && us.readable && !us.role.can_write());
    if read_only {
        return crate::authz::forbidden(
            "your role in this share is read-only: only its owners and editors may add, change \
             or delete its items",
        );
    }
    ApiError::not_found(what)
}

/// Tells the writer and everyone who reads a vault the write touched (the principals of a
/// share) that their feed reached `seq`; each user once.
async fn announce<S: Store>(state: &Shared<S>, writer: Uuid, vaults: &[Uuid], seq: i64) {
    let mut users = vec![writer];
    for v in vaults {
        // Empty for an own vault (not a share).
        match state.store.share_audience(*v).await {
            Ok(audience) => users.extend(audience),
            Err(e) => tracing::warn!(error = %e, "cannot list whom to tell about a share write"),
        }
    }
    users.sort();
    users.dedup();
    for u in users {
        state.hints.publish(u, seq);
    }
}

/// Deletes an object for good (emptying the trash), with the updated manifest of its vault, in
/// one transaction. The delete stays in the change feed as a tombstone.
///
/// 409 `version_conflict` when `version` is not the stored one, 409 `manifest_conflict` when the
/// manifest is stale, 422 `invalid_value` when the manifest of the object's vault is missing.
#[utoipa::path(delete, path = "/api/v1/objects/{id}", tag = "vault", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "object id")), request_body = DeleteObjectRequest,
    responses((status = 204), (status = 409, body = ErrorBody, description = "version_conflict or manifest_conflict"),
              (status = 403, body = ErrorBody, description = "a share in which the caller's role is read-only"),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn delete_object<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<DeleteObjectRequest>,
) -> ApiResult<StatusCode> {
    let manifests = manifest_writes(req.manifests)?;
    let current = state
        .store
        .get_object(session.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("object"))?;
    require_manifests(&manifests, &[current.vault_id])?;
    let seq = match state
        .store
        .delete_object(session.user_id, id, req.version, &manifests, now())
        .await
    {
        Ok(seq) => seq,
        Err(castellan_store::StoreError::NotFound) => {
            return Err(write_refused(&state, session.user_id, &[current.vault_id], "object").await)
        }
        Err(other) => return Err(other.into()),
    };
    announce(&state, session.user_id, &[current.vault_id], seq).await;
    Ok(StatusCode::NO_CONTENT)
}
