//! HTTP routes under `/api/v1`. One module per resource; every handler is generic over the store.

mod accounts;
mod audit;
mod backups;
mod companies;
mod groups;
mod health;
mod invitations;
mod me;
mod members;
mod objects;
pub(crate) mod org;
mod org_setup;
mod partners;
mod policies;
mod sessions;
mod shares;
mod sync;
mod two_factor;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::{delete, get, patch, post, put};
use axum::Router;
use castellan_store::Store;
use castellan_types::{ErrorCode, MAX_BODY_BYTES};
use sha2::{Digest, Sha256};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::Shared;

pub(crate) use accounts::*;
pub(crate) use audit::*;
pub(crate) use backups::*;
pub(crate) use companies::*;
pub(crate) use groups::*;
pub(crate) use health::*;
pub(crate) use invitations::*;
pub(crate) use me::*;
pub(crate) use members::*;
pub(crate) use objects::*;
pub(crate) use org::company_policy;
pub(crate) use org_setup::*;
pub(crate) use partners::*;
pub(crate) use policies::*;
pub(crate) use sessions::*;
pub(crate) use shares::*;
pub(crate) use sync::*;
pub(crate) use two_factor::*;

/// How long a request may take before it is answered with 408 (every route but `/events`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub fn router<S: Store>(state: Shared<S>) -> Router {
    // Requests that end: bounded by the timeout.
    let bounded = Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/accounts/register/start", post(register_start::<S>))
        .route("/accounts/register/finish", post(register_finish::<S>))
        .route("/auth/login/start", post(login_start::<S>))
        .route("/auth/login/finish", post(login_finish::<S>))
        .route("/auth/logout", post(logout::<S>))
        .route("/account", get(get_account::<S>))
        .route("/account/password/start", post(password_change_start::<S>))
        .route(
            "/account/password/finish",
            post(password_change_finish::<S>),
        )
        .route("/sessions", get(list_sessions::<S>))
        .route("/sessions/{id}", axum::routing::delete(revoke_session::<S>))
        .route("/objects", get(list_objects::<S>))
        .route(
            "/objects/{id}",
            put(put_object::<S>)
                .get(get_object::<S>)
                .delete(delete_object::<S>),
        )
        .route("/sync", get(sync::<S>))
        // Organisation (see castellan_types::org and docs/organisation.md).
        .route("/setup", get(setup_status::<S>).post(setup::<S>))
        .route("/me/membership", get(my_membership::<S>))
        .route("/me/key-grants", get(my_key_grants::<S>))
        .route("/me/groups", get(my_groups::<S>))
        .route("/me/audit-events", post(report_item_events::<S>))
        .route(
            "/partners/{pid}/customers",
            get(list_customers::<S>).post(create_customer::<S>),
        )
        .route(
            "/partners/{pid}/policy-templates",
            get(list_policy_templates::<S>).post(put_policy_template::<S>),
        )
        .route(
            "/partners/{pid}/policy-templates/{tid}",
            delete(delete_policy_template::<S>),
        )
        .route(
            "/partners/{pid}/technicians/{uid}/customers",
            get(technician_customers::<S>),
        )
        .route(
            "/partners/{pid}/technicians/{uid}/customers/{cid}",
            put(assign_technician::<S>).delete(unassign_technician::<S>),
        )
        .route(
            "/companies/{cid}",
            get(get_company::<S>).patch(update_company::<S>),
        )
        .route("/companies/{cid}/subscription", put(set_subscription::<S>))
        .route(
            "/companies/{cid}/policy",
            get(get_policy::<S>).put(set_policy::<S>),
        )
        .route("/companies/{cid}/revocations", put(set_revocations::<S>))
        .route(
            "/companies/{cid}/invitations",
            get(list_invitations::<S>).post(create_invitation::<S>),
        )
        .route(
            "/companies/{cid}/invitations/{id}",
            delete(revoke_invitation::<S>),
        )
        .route("/invitations/{id}/preview", post(preview_invitation::<S>))
        .route("/invitations/{id}/accept", post(accept_invitation::<S>))
        .route("/companies/{cid}/members", get(list_members::<S>))
        .route(
            "/companies/{cid}/members/{uid}",
            patch(update_member::<S>).delete(delete_member::<S>),
        )
        .route(
            "/companies/{cid}/members/{uid}/confirm",
            post(confirm_member::<S>),
        )
        .route(
            "/companies/{cid}/members/{uid}/remove",
            post(remove_member::<S>),
        )
        .route(
            "/companies/{cid}/members/{uid}/reset",
            post(reset_member::<S>),
        )
        .route(
            "/companies/{cid}/groups",
            get(list_groups::<S>).post(create_group::<S>),
        )
        .route("/companies/{cid}/groups/{gid}", delete(delete_group::<S>))
        .route(
            "/companies/{cid}/groups/{gid}/roster",
            put(update_roster::<S>),
        )
        .route("/companies/{cid}/audit", get(company_audit::<S>))
        // Sharing (see castellan_types::shares and docs/sharing.md).
        .route("/companies/{cid}/directory", get(company_directory::<S>))
        .route("/companies/{cid}/shares", get(company_shares::<S>))
        .route("/shares", get(list_shares::<S>).post(create_share::<S>))
        .route(
            "/shares/{sid}",
            get(get_share::<S>).delete(delete_share::<S>),
        )
        .route("/shares/{sid}/acl", put(update_share_acl::<S>))
        .route("/shares/{sid}/grants", post(add_share_grants::<S>))
        .route(
            "/shares/{sid}/rotate",
            // A rotation carries every object of the share.
            post(rotate_share::<S>).layer(DefaultBodyLimit::max(shares::MAX_ROTATE_BODY_BYTES)),
        )
        .route("/shares/{sid}/accept", post(accept_share::<S>))
        .route("/shares/{sid}/decline", post(decline_share::<S>))
        .route(
            "/companies/{cid}/backups",
            get(list_backups::<S>)
                .post(upload_backup::<S>)
                .delete(delete_backups::<S>)
                .layer(DefaultBodyLimit::max(backups::MAX_BACKUP_BODY_BYTES)),
        )
        .route("/companies/{cid}/backups/{bid}", get(get_backup::<S>))
        .route(
            "/companies/{cid}/backups/{bid}/restored",
            post(backup_restored::<S>),
        )
        .route(
            "/companies/{cid}/recovery-groups",
            post(create_recovery_group::<S>),
        )
        .route(
            "/companies/{cid}/handovers",
            post(create_handover::<S>).layer(DefaultBodyLimit::max(backups::MAX_BACKUP_BODY_BYTES)),
        )
        .route("/me/handovers", get(my_handovers::<S>))
        .route("/me/handovers/{id}", delete(delete_my_handover::<S>))
        .route("/account/2fa/enroll", post(two_factor_enroll::<S>))
        .route("/account/2fa/confirm", post(two_factor_confirm::<S>))
        .route("/account/2fa/disable", post(two_factor_disable::<S>))
        .route("/auth/login/2fa", post(login_two_factor::<S>))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));
    // Long-lived streams: no timeout (they end with the session or the server).
    let streams = Router::new().route("/events", get(events::<S>));
    let api = bounded
        .merge(streams)
        .fallback(api_not_found)
        .with_state(state);

    Router::new()
        .nest(castellan_types::API_PREFIX, api)
        // The web app for every other path; `/api/*` paths keep the JSON 404 (`api_not_found`).
        .fallback(crate::webapp::fallback)
        // Every body is read through an extractor, which enforces this limit and answers with
        // our JSON error (`payload_too_large`).
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // `if_not_present`: the web app sets its own (immutable assets, no-cache HTML).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal())
        }))
}

pub(crate) async fn api_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "no such endpoint",
    )
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Trims and lowercases; refuses anything that is not plausibly an email address.
pub(crate) fn normalize_email(email: &str) -> Result<String, ApiError> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.chars().all(|c| !c.is_whitespace() && !c.is_control())
        && matches!(e.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
    if !valid {
        return Err(ApiError::invalid("not a valid email address"));
    }
    Ok(e)
}
