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
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObjectListResponse {
    pub objects: Vec<ObjectDto>,
}
