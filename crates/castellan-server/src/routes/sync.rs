//! Delta sync: the change feed of the signed-in user (`GET /sync`) and change hints as
//! Server-Sent Events (`GET /events`).

use std::time::Duration;

use axum::extract::State;
use axum::http::header::HeaderName;
use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use castellan_store::Store;
use castellan_types::{ChangeHint, ErrorBody, ManifestDto, SyncResponse, TombstoneDto};
use serde::Deserialize;
use uuid::Uuid;

use super::objects::dto;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Session};
use crate::hints::UserHints;
use crate::Shared;

/// Changes per page when the client does not say.
pub(crate) const DEFAULT_SYNC_LIMIT: u32 = 1000;
/// Most changes per page.
pub(crate) const MAX_SYNC_LIMIT: u32 = 5000;
/// Interval of the keep-alive comments on an event stream.
pub(crate) const EVENTS_KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an event stream checks that its session is still live (not revoked or expired).
pub(crate) const EVENTS_SESSION_CHECK: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct SyncQuery {
    /// The cursor of the previous sync (0, the default, for everything).
    since: Option<i64>,
    /// Most changes in this page: 1 to 5000, default 1000 (values outside are clamped).
    limit: Option<u32>,
}

/// What changed after `since`, oldest first: objects in their latest state and tombstones, at
/// most `limit` of them, plus the current manifests of all the vaults the account reads and the
/// shares it sees (`shares`: readable ones and open invitations). Follow
/// `cursor` while `has_more`. With `reset` the cursor was unknown (ahead of the feed) or expired
/// (deletes were forgotten since): the pages are a full listing from the start.
#[utoipa::path(get, path = "/api/v1/sync", tag = "vault", security(("bearer" = [])), params(SyncQuery),
    responses((status = 200, body = SyncResponse), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn sync<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
    ApiQuery(q): ApiQuery<SyncQuery>,
) -> ApiResult<Json<SyncResponse>> {
    let since = q.since.unwrap_or(0);
    if since < 0 {
        return Err(ApiError::invalid("since must be at least 0"));
    }
    let limit = q
        .limit
        .unwrap_or(DEFAULT_SYNC_LIMIT)
        .clamp(1, MAX_SYNC_LIMIT);
    let page = state
        .store
        .changes_since(session.user_id, since, limit)
        .await?;
    // Read after the page, so a manifest is never older than the objects listed with it.
    let manifests = state.store.manifests_for_user(session.user_id).await?;
    let shares = super::shares::share_summaries(&state, session.user_id).await?;
    Ok(Json(SyncResponse {
        objects: page.objects.into_iter().map(dto).collect(),
        tombstones: page
            .tombstones
            .into_iter()
            .map(|t| TombstoneDto {
                id: t.id,
                vault_id: t.vault_id,
                seq: t.seq,
            })
            .collect(),
        cursor: page.cursor,
        has_more: page.has_more,
        reset: page.reset,
        manifests: manifests
            .into_iter()
            .map(|m| ManifestDto {
                vault_id: m.vault_id,
                counter: m.counter,
                manifest: m.blob.into(),
            })
            .collect(),
        shares,
    }))
}

/// Server-Sent Events for the signed-in user: an event `change` with a `ChangeHint` (the feed
/// position reached) after each committed write of the account, from any device; a keep-alive
/// comment every 15 seconds. Hints may be coalesced; on one, run `GET /sync` from your cursor.
/// The subscription starts before the response headers are sent, so a sync run after they
/// arrive misses nothing. The stream ends when the session is revoked or expires.
#[utoipa::path(get, path = "/api/v1/events", tag = "vault", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", body = ChangeHint,
               description = "event `change`, data: a ChangeHint as JSON"),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn events<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
) -> impl IntoResponse {
    let hints = state.hints.subscribe(session.user_id);
    let check = tokio::time::interval_at(
        tokio::time::Instant::now() + EVENTS_SESSION_CHECK,
        EVENTS_SESSION_CHECK,
    );
    let stream = futures_util::stream::unfold(
        EventStream {
            state,
            hints,
            check,
            user_id: session.user_id,
            session_id: session.session_id,
        },
        next_event,
    );
    (
        [(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        )],
        Sse::new(stream).keep_alive(KeepAlive::new().interval(EVENTS_KEEP_ALIVE)),
    )
}

struct EventStream<S> {
    state: Shared<S>,
    hints: UserHints,
    check: tokio::time::Interval,
    user_id: Uuid,
    session_id: Uuid,
}

async fn next_event<S: Store>(
    mut st: EventStream<S>,
) -> Option<(Result<Event, axum::Error>, EventStream<S>)> {
    loop {
        tokio::select! {
            hint = st.hints.next() => {
                let cursor = hint?;
                let event = Event::default()
                    .event("change")
                    .json_data(ChangeHint { cursor });
                return Some((event, st));
            }
            _ = st.check.tick() => {
                let now = super::now();
                match st.state.store.list_sessions(st.user_id, now).await {
                    Ok(live) if live.iter().any(|s| s.id == st.session_id) => {}
                    Ok(_) => return None,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot check the session of an event stream");
                    }
                }
            }
        }
    }
}
