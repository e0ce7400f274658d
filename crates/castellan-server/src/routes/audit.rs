//! The audit log: a company's events (JSON or CSV) and the item events clients report while
//! password auditing is on.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use castellan_store::{AuditQuery, Store};
use castellan_types::{
    AuditEventDto, AuditListResponse, ErrorBody, ErrorCode, ItemEventKind, ItemEventsRequest,
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::org::{audit_dto, body, company_policy, record, Body, Event};
use super::{normalize_email, now};
use crate::authz::{forbidden, Caller, Need};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::Shared;

/// Largest page of events.
pub(crate) const MAX_AUDIT_LIMIT: u32 = 1000;
const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// Most item events in one report.
pub(crate) const MAX_ITEM_EVENTS: usize = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct AuditParams {
    /// Events whose actor or target is this user (an email or a user id).
    user: Option<String>,
    /// Event type prefix, e.g. `login` or `member.confirmed`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    event_type: Option<String>,
    /// Only events at or after this Unix time.
    since: Option<i64>,
    /// Only events at or before this Unix time.
    until: Option<i64>,
    /// Only events older than this sequence number (`next_before` of the previous page).
    before: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<u32>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// A company's audit events, newest first. `format=csv` answers `text/csv` (a header row,
/// RFC 4180 quoting).
#[utoipa::path(get, path = "/api/v1/companies/{cid}/audit", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), AuditParams),
    responses((status = 200, body = AuditListResponse, description = "JSON, or text/csv with format=csv"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub(crate) async fn company_audit<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
    q: Result<ApiQuery<AuditParams>, ApiError>,
) -> ApiResult<Response> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let ApiQuery(q) = q?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format must be json or csv")),
    };
    let limit = q.limit.unwrap_or(DEFAULT_AUDIT_LIMIT);
    if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be 1 to {MAX_AUDIT_LIMIT}"
        )));
    }
    if let Some(t) = &q.event_type {
        if t.len() > 100 || t.chars().any(|c| c.is_control()) {
            return Err(ApiError::invalid("type is not an event type prefix"));
        }
    }
    if let (Some(s), Some(u)) = (q.since, q.until) {
        if s > u {
            return Err(ApiError::invalid("since is after until"));
        }
    }
    let user_id = match q.user.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) => match u.parse::<Uuid>() {
            Ok(id) => Some(id),
            Err(_) => {
                let email = normalize_email(u)
                    .map_err(|_| ApiError::invalid("user must be an email address or a user id"))?;
                match state.store.user_by_email(&email).await? {
                    Some(user) => Some(user.id),
                    // No such account: no events (and nothing said about whether it exists).
                    None => Some(Uuid::nil()),
                }
            }
        },
    };
    let events = state
        .store
        .query_audit(AuditQuery {
            company_ids: vec![company.id],
            user_id,
            event_prefix: q.event_type.filter(|t| !t.is_empty()),
            since: q.since,
            until: q.until,
            before_seq: q.before,
            limit,
        })
        .await?;
    let next_before = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    let events: Vec<AuditEventDto> = events.into_iter().map(audit_dto).collect();
    if csv {
        let mut resp = to_csv(&events).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        resp.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"castellan-audit.csv\""),
        );
        return Ok(resp);
    }
    Ok(Json(AuditListResponse {
        events,
        next_before,
    })
    .into_response())
}

/// One CSV field, quoted as RFC 4180 asks when it holds a comma, a quote or a line break. Text
/// that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) is prefixed with `'`.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub(crate) fn to_csv(events: &[AuditEventDto]) -> String {
    let mut out = String::from(
        "seq,at,company_id,actor_id,actor_email,target_user_id,target_email,event,details,ip\r\n",
    );
    let opt = |u: &Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    for e in events {
        let fields = [
            e.seq.to_string(),
            e.at.to_string(),
            opt(&e.company_id),
            opt(&e.actor_id),
            csv_field(e.actor_email.as_deref().unwrap_or("")),
            opt(&e.target_user_id),
            csv_field(e.target_email.as_deref().unwrap_or("")),
            csv_field(&e.event),
            csv_field(&e.details.to_string()),
            csv_field(e.ip.as_deref().unwrap_or("")),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

fn item_event_name(k: ItemEventKind) -> &'static str {
    match k {
        ItemEventKind::Created => "item.created",
        ItemEventKind::Changed => "item.changed",
        ItemEventKind::Copied => "item.copied",
        ItemEventKind::Deleted => "item.deleted",
        ItemEventKind::Exported => "item.exported",
        ItemEventKind::Imported => "item.imported",
        ItemEventKind::Used => "item.used",
        ItemEventKind::Viewed => "item.viewed",
    }
}

/// Item events reported by a member's client; accepted only while the company's policy has
/// password auditing on (an Advanced feature).
#[utoipa::path(post, path = "/api/v1/me/audit-events", tag = "organisation", security(("bearer" = [])),
    request_body = ItemEventsRequest,
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "forbidden (not a member, auditing off) or plan_required"),
              (status = 422, body = ErrorBody)))]
pub(crate) async fn report_item_events<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    req: Body<ItemEventsRequest>,
) -> ApiResult<StatusCode> {
    let (_, company) = caller.own_membership()?;
    if !company.effective_plan(now()).has_advanced() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::PlanRequired,
            "password auditing needs the Advanced subscription (or a running trial); item events are not recorded",
        ));
    }
    if !company_policy(company).password_auditing {
        return Err(forbidden(
            "password auditing is off in your company's policy; item events are not recorded",
        ));
    }
    let req = body(req)?;
    if req.events.len() > MAX_ITEM_EVENTS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_ITEM_EVENTS} events per report"
        )));
    }
    let now = now();
    for e in &req.events {
        if let Some(f) = &e.field {
            if f.is_empty()
                || f.len() > 64
                || !f
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Err(ApiError::invalid(
                    "field must be a field name (1 to 64 letters, digits, '_', '-', '.')",
                ));
            }
        }
        if e.at <= 0 || e.at > now + 3600 {
            return Err(ApiError::invalid("an event's time is in the future"));
        }
    }
    let company_id = company.id;
    for e in &req.events {
        record(
            &state,
            Event::by(&caller, Some(company_id), item_event_name(e.event)).details(json!({
                "item_id": e.item_id, "field": e.field, "reported_at": e.at,
            })),
        )
        .await;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_as_rfc_4180_says() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        let e = AuditEventDto {
            seq: 7,
            at: 1,
            company_id: None,
            actor_id: None,
            actor_email: Some("a@b.example".into()),
            target_user_id: None,
            target_email: None,
            event: "login.failed".into(),
            details: json!({"x": "y,z"}),
            ip: None,
        };
        let text = to_csv(&[e]);
        let mut lines = text.split("\r\n");
        assert!(lines.next().unwrap().starts_with("seq,at,"));
        assert_eq!(
            lines.next().unwrap(),
            "7,1,,,a@b.example,,,login.failed,\"{\"\"x\"\":\"\"y,z\"\"}\","
        );
    }
}
