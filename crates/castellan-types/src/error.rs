use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON or does not match the schema.
    InvalidRequest,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// A value is well-formed JSON but not acceptable (empty email, wrong key sizes, ...).
    InvalidValue,
    /// Missing, expired or revoked session.
    Unauthorized,
    /// Login failed: wrong email, master password or Secret Key (indistinguishable by design).
    InvalidCredentials,
    /// Too many attempts; retry later.
    RateLimited,
    NotFound,
    /// The email is already registered.
    EmailTaken,
    /// The id is already used.
    AlreadyExists,
    /// The object changed since the version the client wrote against.
    VersionConflict,
    /// A vault manifest changed since the counter the client wrote against; sync and retry.
    ManifestConflict,
    /// The login attempt is unknown or expired; start again.
    LoginExpired,
    /// A sensitive change (master password) needs a login from the last few minutes.
    ReauthRequired,
    Internal,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// For `version_conflict`: the version currently stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
}

/// The body of every non-2xx response.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}
