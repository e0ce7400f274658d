use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use castellan_store::StoreError;
use castellan_types::{ErrorBody, ErrorCode, ErrorDetail};

/// The one error type of the HTTP layer: a status, a stable code and a message for humans.
/// Messages never contain secrets or request bodies.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub current_version: Option<i64>,
    /// For `two_factor_required`: the challenge token of the login's second step.
    pub challenge: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            current_version: None,
            challenge: None,
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidValue,
            message,
        )
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "missing, expired or revoked session; log in again",
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    }
    pub fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCredentials,
            "wrong email, master password or Secret Key",
        )
    }
    pub fn rate_limited(retry_after_secs: i64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!(
                "too many attempts; try again in {} minutes",
                (retry_after_secs + 59) / 60
            ),
        )
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal server error",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists("email") => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::EmailTaken,
                "an account with this email already exists",
            ),
            StoreError::AlreadyExists(what) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyExists,
                format!("this {what} id already exists"),
            ),
            StoreError::VersionConflict { current } => ApiError {
                status: StatusCode::CONFLICT,
                code: ErrorCode::VersionConflict,
                message: format!(
                    "the object was changed elsewhere (current version {current}); sync and retry"
                ),
                current_version: Some(current),
                challenge: None,
            },
            StoreError::ManifestConflict { vault_id, current } => ApiError {
                status: StatusCode::CONFLICT,
                code: ErrorCode::ManifestConflict,
                message: format!(
                    "the manifest of vault {vault_id} was changed elsewhere (current counter {current}); sync and retry"
                ),
                current_version: Some(current),
                challenge: None,
            },
            StoreError::NotFound => ApiError::not_found("object"),
            StoreError::LimitReached("seats") => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::SeatLimit,
                "every seat of the subscription is taken; ask your partner for more seats",
            ),
            StoreError::LimitReached(what) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::InvalidValue,
                format!("limit reached: {what}"),
            ),
            StoreError::Backend(msg) => {
                tracing::error!(error = %msg, "storage error");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                current_version: self.current_version,
                challenge: self.challenge,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
