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
    /// The caller is known and in the right tenant but its role does not allow this.
    Forbidden,
    /// The company has no free seat for another invitation or member.
    SeatLimit,
    /// The feature needs a higher subscription (Advanced or Trial).
    PlanRequired,
    /// The password was right; the login needs a two-step code (see `challenge`).
    TwoFactorRequired,
    /// The two-step code is wrong, expired or already used.
    InvalidTwoFactorCode,
    /// The company requires two-step verification and the grace logins are used up: this
    /// session may only set it up.
    TwoFactorSetupRequired,
    /// The master password must be changed before anything else.
    PasswordChangeRequired,
    /// The account or its company is disabled by an administrator.
    AccountDisabled,
    /// The invitation link is unknown, expired, revoked or already used.
    InvitationInvalid,
    /// The setup token is wrong or already used.
    SetupTokenInvalid,
    Internal,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// For `version_conflict`: the version currently stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// For `two_factor_required`: the token to send with the code to `/auth/login/2fa`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
}

/// The body of every non-2xx response.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}
