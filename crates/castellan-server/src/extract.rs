//! Request extractors: JSON bodies with our error format, the session, the client address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use castellan_store::Store;
use castellan_types::ErrorCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;
use crate::Shared;

/// `axum::Json`, but every rejection becomes our JSON error body with a stable code.
pub struct ApiJson<T>(pub T);

impl<T, St> FromRequest<St> for ApiJson<T>
where
    T: DeserializeOwned,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

fn json_rejection(rej: JsonRejection) -> ApiError {
    let status = rej.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            status,
            ErrorCode::PayloadTooLarge,
            "request body is too large",
        );
    }
    let message = match &rej {
        JsonRejection::MissingJsonContentType(_) => {
            "expected a JSON body with Content-Type: application/json".to_string()
        }
        JsonRejection::JsonSyntaxError(_) => "request body is not valid JSON".to_string(),
        JsonRejection::JsonDataError(e) => {
            format!("request body does not match the schema: {}", e.body_text())
        }
        _ => "could not read the request body".to_string(),
    };
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message)
}

/// An authenticated session, from `Authorization: Bearer <token>`.
pub struct Session {
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// When the session was created by a successful OPAQUE login.
    pub created_at: i64,
    /// What the session is restricted to until it is done (see [`check_restriction`]).
    pub restriction: Option<String>,
}

/// The session may only set up two-step verification (the company requires it and the grace
/// logins are used up).
pub const RESTRICTION_TWO_FACTOR_SETUP: &str = "two_factor_setup";
/// The session may only change the master password (an admin requires it).
pub const RESTRICTION_PASSWORD_CHANGE: &str = "password_change";

/// A restricted session reaches only the account, logout and what lifts the restriction;
/// everything else answers 403 with the restriction's code. `path` is relative to `/api/v1`.
fn check_restriction(
    restriction: Option<&str>,
    method: &Method,
    path: &str,
) -> Result<(), ApiError> {
    let Some(r) = restriction else {
        return Ok(());
    };
    let path = path
        .strip_prefix(castellan_types::API_PREFIX)
        .unwrap_or(path)
        .trim_end_matches('/');
    let always = (method == Method::GET && path == "/account")
        || (method == Method::POST && path == "/auth/logout");
    let (fix, code, message) = if r == RESTRICTION_PASSWORD_CHANGE {
        (
            ["/account/password/start", "/account/password/finish"],
            ErrorCode::PasswordChangeRequired,
            "an administrator requires a new master password; change it before anything else",
        )
    } else {
        (
            ["/account/2fa/enroll", "/account/2fa/confirm"],
            ErrorCode::TwoFactorSetupRequired,
            "your company requires two-step verification; set it up before anything else",
        )
    };
    if always || (method == Method::POST && fix.contains(&path)) {
        return Ok(());
    }
    Err(ApiError::new(StatusCode::FORBIDDEN, code, message))
}

impl<S: Store> FromRequestParts<Shared<S>> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared<S>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(ApiError::unauthorized)?
            .trim();
        if token.is_empty() || token.len() > 256 {
            return Err(ApiError::unauthorized());
        }
        let now = crate::routes::now();
        let hash = crate::routes::token_hash(token);
        let session = state
            .store
            .session_by_token_hash(&hash, now)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        if now - session.last_seen_at > 60 {
            state.store.touch_session(session.id, now).await?;
        }
        check_restriction(
            session.restriction.as_deref(),
            &parts.method,
            parts.uri.path(),
        )?;
        Ok(Session {
            session_id: session.id,
            user_id: session.user_id,
            created_at: session.created_at,
            restriction: session.restriction,
        })
    }
}

/// The peer address when the server runs on a socket; `None` in in-process tests.
pub struct ClientAddr(pub Option<IpAddr>);

impl<St: Send + Sync> FromRequestParts<St> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// `axum::extract::Path` with our error body.
pub struct ApiPath<T>(pub T);

impl<T, St> FromRequestParts<St> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    "invalid id in the path",
                )
            })
    }
}

/// `axum::extract::Query` with our error body.
pub struct ApiQuery<T>(pub T);

impl<T, St> FromRequestParts<St> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    format!("invalid query: {}", e.body_text()),
                )
            })
    }
}
