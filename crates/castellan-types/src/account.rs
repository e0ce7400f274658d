use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Bytes;

/// Argon2id parameters of the OPAQUE key-stretching function. Advisory from the server: the
/// client refuses anything below its compiled floor or below what it pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KsfProfile {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

/// The client's wrapped keys and public keys. The server stores it as received and returns it
/// at login; only the client can open the wraps, and it rebuilds every associated-data context
/// from its own expectations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountKeyset {
    pub format: u32,
    /// Version of the account key (bumped only by a full key rotation).
    pub ak_version: u64,
    /// The account key wrapped under the account unlock key (from the OPAQUE export key).
    pub account_key_wrap: Bytes,
    pub ksf: KsfProfile,
    pub signing_key_id: Uuid,
    pub signing_public_key: Bytes,
    pub signing_key_wrap: Bytes,
    pub encryption_key_id: Uuid,
    pub encryption_public_key: Bytes,
    pub encryption_key_wrap: Bytes,
    /// Ed25519 signature by the signing key over the key binding statement.
    pub key_binding_signature: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VaultKindDto {
    Personal,
    Business,
}

impl VaultKindDto {
    pub fn as_str(self) -> &'static str {
        match self {
            VaultKindDto::Personal => "personal",
            VaultKindDto::Business => "business",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VaultDto {
    pub id: Uuid,
    pub kind: VaultKindDto,
    /// The vault key wrapped under the account key.
    pub key_wrap: Bytes,
    pub key_version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterStartRequest {
    pub email: String,
    /// Chosen by the client; also the OPAQUE credential identifier.
    pub user_id: Uuid,
    pub registration_request: Bytes,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterStartResponse {
    pub registration_response: Bytes,
    pub ksf: KsfProfile,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterFinishRequest {
    pub email: String,
    pub user_id: Uuid,
    pub registration_record: Bytes,
    pub keyset: AccountKeyset,
    /// Exactly one personal and one business vault.
    pub vaults: Vec<VaultDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterFinishResponse {
    pub user_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginStartRequest {
    pub email: String,
    pub credential_request: Bytes,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginStartResponse {
    pub login_id: Uuid,
    pub user_id: Uuid,
    pub credential_response: Bytes,
    pub ksf: KsfProfile,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginFinishRequest {
    pub login_id: Uuid,
    pub credential_finalization: Bytes,
    #[serde(default)]
    pub device_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountResponse {
    pub user_id: Uuid,
    pub email: String,
    pub credentials_version: i64,
    /// When the master password was last set (registration or change), Unix seconds.
    #[serde(default)]
    pub password_changed_at: i64,
    pub keyset: AccountKeyset,
    pub vaults: Vec<VaultDto>,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginFinishResponse {
    /// Bearer token for `Authorization: Bearer ...`. Shown once; the server keeps only a hash.
    pub session_token: String,
    pub session_id: Uuid,
    pub expires_at: i64,
    pub account: AccountResponse,
    /// Set when the session may only fix something first: `two_factor_setup` (the company
    /// requires two-step verification and the grace logins are used up) or `password_change`
    /// (an admin requires a new master password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction: Option<String>,
    /// Logins left before two-step verification becomes mandatory for this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_factor_grace_remaining: Option<u32>,
}

impl std::fmt::Debug for LoginFinishResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginFinishResponse")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasswordChangeStartRequest {
    pub registration_request: Bytes,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasswordChangeFinishRequest {
    /// The version the client read; a concurrent change makes this request fail.
    pub credentials_version: i64,
    pub registration_record: Bytes,
    /// Same keys, with the account key re-wrapped under the new unlock key.
    pub keyset: AccountKeyset,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasswordChangeFinishResponse {
    pub credentials_version: i64,
    /// Other sessions revoked by the change.
    pub revoked_sessions: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionDto {
    pub id: Uuid,
    pub device_name: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionListResponse {
    pub sessions: Vec<SessionDto>,
}
