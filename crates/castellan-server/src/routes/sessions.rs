//! Sessions: list, revoke one, log out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_store::Store;
use castellan_types::{ErrorBody, SessionDto, SessionListResponse};
use uuid::Uuid;

use super::now;
use crate::error::ApiResult;
use crate::extract::{ApiPath, Session};
use crate::Shared;

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub(crate) async fn logout<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
) -> ApiResult<StatusCode> {
    state
        .store
        .revoke_session(session.user_id, session.session_id, now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account's live sessions (devices).
#[utoipa::path(get, path = "/api/v1/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = SessionListResponse), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_sessions<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
) -> ApiResult<Json<SessionListResponse>> {
    let sessions = state.store.list_sessions(session.user_id, now()).await?;
    Ok(Json(SessionListResponse {
        sessions: sessions
            .into_iter()
            .map(|s| SessionDto {
                current: s.id == session.session_id,
                id: s.id,
                device_name: s.device_name,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
            })
            .collect(),
    }))
}

/// Revokes one of the account's sessions (for example a lost device).
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "session id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn revoke_session<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    state
        .store
        .revoke_session(session.user_id, id, now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
