//! Folders: per user, per profile trees. A folder is a small envelope (name and parent) sealed
//! under its vault's key; the server sees only an id.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ClientError, ClientResult};

pub const MAX_FOLDER_NAME_CHARS: usize = 255;
pub const MAX_FOLDER_DEPTH: usize = 64;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderData {
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
}

impl std::fmt::Debug for FolderData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderData")
            .field("name", &"<redacted>")
            .field("parent_id", &self.parent_id)
            .finish()
    }
}

/// Checks a single folder name (no `/`, which separates path segments).
pub fn check_name(name: &str) -> ClientResult<String> {
    let n = name.trim();
    if n.is_empty() {
        return Err(ClientError::Invalid(
            "a folder name must not be empty".into(),
        ));
    }
    if n.contains('/') {
        return Err(ClientError::Invalid(format!(
            "a folder name cannot contain '/': {n:?}"
        )));
    }
    if n.chars().count() > MAX_FOLDER_NAME_CHARS || n.chars().any(char::is_control) {
        return Err(ClientError::Invalid(
            "the folder name is too long or contains control characters".into(),
        ));
    }
    Ok(n.to_string())
}

/// Splits "A/B/C" into checked segments.
pub fn split_path(path: &str) -> ClientResult<Vec<String>> {
    let segs: Vec<&str> = path
        .split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if segs.is_empty() {
        return Err(ClientError::Invalid(format!(
            "{path:?} is not a folder path (use A/B/C)"
        )));
    }
    if segs.len() > MAX_FOLDER_DEPTH {
        return Err(ClientError::Invalid(format!(
            "folders can be nested at most {MAX_FOLDER_DEPTH} deep"
        )));
    }
    segs.into_iter().map(check_name).collect()
}
