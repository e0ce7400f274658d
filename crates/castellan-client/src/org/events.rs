//! Item events for the audit log, reported only while the company's VERIFIED policy has
//! password auditing on, only for Business items, and only with ids (never titles or values).
//! Best effort: a failure is ignored and never blocks the user.

use std::time::Duration;

use castellan_types::{ItemEventDto, ItemEventKind, ItemEventsRequest};
use uuid::Uuid;

use crate::api::ApiClient;
use crate::home::Home;

/// Whether this device should report item events (from the pinned, verified policy).
pub fn auditing_enabled(home: &Home) -> bool {
    super::pinned_own_policy(home).is_some_and(|p| p.policies.password_auditing)
}

/// Reports events on Business items; returns whether the server took them. Never fails.
pub async fn report(home: &Home, events: &[(Uuid, ItemEventKind, Option<&str>)]) -> bool {
    if events.is_empty() || !auditing_enabled(home) {
        return false;
    }
    let Ok(state) = home.device() else {
        return false;
    };
    let Ok(api) = ApiClient::new(&state.server) else {
        return false;
    };
    let api = api.with_token(state.session_token.clone());
    let now = super::now();
    let req = ItemEventsRequest {
        events: events
            .iter()
            .map(|(id, kind, field)| ItemEventDto {
                item_id: *id,
                event: *kind,
                field: field.map(str::to_string),
                at: now,
            })
            .collect(),
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), api.report_item_events(&req)).await,
        Ok(Ok(()))
    )
}
