use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKindDto {
    Item,
    Folder,
}

/// One vault object as stored: ids, version and ciphertext. Titles, names, URLs and secrets are
/// all inside the envelopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ObjectDto {
    pub id: Uuid,
    pub vault_id: Uuid,
    pub kind: ObjectKindDto,
    pub version: i64,
    pub trashed: bool,
    pub key_wrap: Bytes,
    pub overview: Bytes,
    pub details: Bytes,
    pub created_at: i64,
    pub updated_at: i64,
    /// Position of the object's last change in the account's change feed.
    #[serde(default)]
    pub seq: i64,
    /// Objects of a share: the user who wrote this version (recorded by the server from the
    /// session; clients check it against the share's writers). Absent in own vaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<Uuid>,
}

/// A signed vault manifest as stored by the server: opaque to it, checked by clients. The
/// server only enforces that `counter` grows by exactly one per write (compare and swap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ManifestDto {
    pub vault_id: Uuid,
    pub counter: i64,
    pub manifest: Bytes,
}

/// A deleted object, as it appears in the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TombstoneDto {
    pub id: Uuid,
    pub vault_id: Uuid,
    pub seq: i64,
}

/// `GET /api/v1/sync?since=CURSOR&limit=N`: what changed after `since`, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncResponse {
    /// Objects created or changed after `since` (their latest state).
    pub objects: Vec<ObjectDto>,
    /// Objects deleted after `since`.
    pub tombstones: Vec<TombstoneDto>,
    /// Pass as `since` for the next page or the next sync.
    pub cursor: i64,
    /// More changes follow; ask again with `cursor`.
    pub has_more: bool,
    /// The given cursor was unknown or expired: this is a full listing from the start, and the
    /// client must drop local objects that do not appear in it (over all pages).
    pub reset: bool,
    /// The current manifests of all the account's vaults.
    pub manifests: Vec<ManifestDto>,
    /// The shares the user can see now: those they can read (owned, or accepted and not
    /// expired) and open invitations (`state` = `invited`). A client fetches every object of a
    /// readable share it does not hold yet (`GET /objects?vault_id=`) and drops its copy of a
    /// share that is no longer listed (revoked, expired, declined, deleted, left the group).
    #[serde(default)]
    pub shares: Vec<crate::ShareSummaryDto>,
}

/// `DELETE /api/v1/objects/{id}`: delete for good, with the updated manifest of its vault.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeleteObjectRequest {
    /// The version being deleted; a newer stored version makes the delete fail with 409.
    pub version: i64,
    #[serde(default)]
    pub manifests: Vec<ManifestDto>,
}

/// One server-sent event on `GET /api/v1/events` (event name `change`): a hint that the
/// account's feed moved. Carries no secrets; the client runs a delta sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangeHint {
    pub cursor: i64,
}

/// Create (`expected_version` absent, `version` 1) or update (`version` = `expected_version` + 1).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PutObjectRequest {
    pub vault_id: Uuid,
    pub kind: ObjectKindDto,
    pub version: i64,
    #[serde(default)]
    pub expected_version: Option<i64>,
    #[serde(default)]
    pub trashed: bool,
    pub key_wrap: Bytes,
    pub overview: Bytes,
    #[serde(default)]
    pub details: Bytes,
    /// The updated manifest of the object's vault (and of the vault it leaves, when moving),
    /// each with `counter` one above the stored one. Written in the same transaction.
    #[serde(default)]
    pub manifests: Vec<ManifestDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObjectListResponse {
    pub objects: Vec<ObjectDto>,
}
