//! Invitations: created and revoked by company admins, previewed and accepted by the invitee
//! with the secret from the link.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_crypto as crypto;
use castellan_store::{CompanyRecord, CompanyStatus, InvitationRecord, Store, StoreError};
use castellan_types::{
    statement, CreateInvitationRequest, ErrorBody, ErrorCode, InvitationBody,
    InvitationCreatedResponse, InvitationListResponse, InvitationPreviewResponse,
    InvitationSecretRequest, MemberDto,
};
use serde_json::json;
use uuid::Uuid;

use super::org::{
    body, check_link, check_role_for, check_size, doc_bytes, fingerprint_groups, invitation_dto,
    member_dto, notify_member_change, record, role_dto, role_of, stored_doc, verify_doc, Body,
    Event, CLOCK_SLACK, INVITATION_TTL_SECS,
};
use super::{addr_key, normalize_email, now};
use crate::authz::{Caller, Need};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ClientAddr};
use crate::Shared;

/// Longest link secret accepted on preview and accept.
const MAX_SECRET_CHARS: usize = 256;

pub(crate) fn invitation_invalid(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ErrorCode::InvitationInvalid, message)
}

fn company_disabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::AccountDisabled,
        "this company is disabled and accepts no invitations",
    )
}

/// Checks an invitation request for `company` (signed body, link, sizes) and builds the
/// record to store. The company must be active.
pub(crate) fn prepare_invitation(
    caller: &Caller,
    company: &CompanyRecord,
    req: &CreateInvitationRequest,
    now: i64,
) -> ApiResult<InvitationRecord> {
    if company.status == CompanyStatus::Disabled {
        return Err(company_disabled());
    }
    let email = normalize_email(&req.email)?;
    check_role_for(company, req.role)?;
    check_size("secret_hash", req.secret_hash.as_slice(), 32, 32)?;
    let body: InvitationBody = verify_doc(
        &req.invitation,
        statement::INVITATION,
        &company.signing_public_key,
        "invitation",
    )?;
    if body.company_id != company.id
        || body.invitation_id != req.invitation_id
        || body.email != email
        || body.role != req.role
    {
        return Err(ApiError::invalid(
            "the signed invitation must name this company, this invitation id, the (lowercase) email and the role",
        ));
    }
    if body.invited_by != caller.user_id() {
        return Err(ApiError::invalid(
            "the signed invitation must be issued by you",
        ));
    }
    if body.expires_at <= now || body.expires_at > now + INVITATION_TTL_SECS + CLOCK_SLACK {
        return Err(ApiError::invalid(
            "the invitation must expire in the future, at most 7 days from now",
        ));
    }
    check_link(
        &req.link,
        req.invitation_id,
        req.secret_hash.as_slice(),
        company,
    )?;
    Ok(InvitationRecord {
        id: req.invitation_id,
        company_id: company.id,
        email,
        role: role_of(req.role),
        secret_hash: req.secret_hash.as_slice().to_vec(),
        signed: doc_bytes(&req.invitation)?,
        created_by: caller.user_id(),
        created_at: now,
        expires_at: body.expires_at,
        accepted_by: None,
        accepted_at: None,
        revoked_at: None,
    })
}

/// The store's refusals of a new invitation, in words.
pub(crate) fn invitation_store_error(e: StoreError, email: &str) -> ApiError {
    match e {
        StoreError::LimitReached("seats") => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::SeatLimit,
            "every seat of the subscription is taken (members and open invitations count); ask your partner for more seats or revoke an invitation",
        ),
        StoreError::AlreadyExists("member") => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyExists,
            format!("{email} is already a member of this company"),
        ),
        StoreError::AlreadyExists("invitation") => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyExists,
            format!("an open invitation for {email} exists already; revoke it first to send another"),
        ),
        StoreError::AlreadyExists(_) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyExists,
            "an invitation with this id exists already; retry with a new id",
        ),
        other => other.into(),
    }
}

/// Mails the invitation if a relay is configured; `true` when the relay took it.
pub(crate) async fn mail_invitation<S: Store>(
    state: &Shared<S>,
    caller: &Caller,
    company: &CompanyRecord,
    inv: &InvitationRecord,
    link: &str,
) -> bool {
    let Some(mailer) = state.mailer.as_ref() else {
        return false;
    };
    // With a public URL the mail points there; the fragment (id, secret, fingerprint) is the
    // client's, and was checked against this invitation and company.
    let link = match (&state.settings.public_url, link.split_once('#')) {
        (Some(base), Some((_, fragment))) => {
            format!("{}/join#{fragment}", base.trim_end_matches('/'))
        }
        _ => link.to_string(),
    };
    let mail = crate::mail::invitation_mail(
        &inv.email,
        &company.name,
        inv.role.as_str(),
        &caller.user.email,
        &link,
        &fingerprint_groups(company),
        inv.expires_at,
    );
    match mailer.send(mail).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(invitation_id = %inv.id, error = %e, "cannot mail the invitation; the admin passes the link on");
            false
        }
    }
}

#[utoipa::path(get, path = "/api/v1/companies/{cid}/invitations", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")),
    responses((status = 200, body = InvitationListResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_invitations<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
) -> ApiResult<Json<InvitationListResponse>> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let now = now();
    let list = state.store.invitations_of(company.id).await?;
    Ok(Json(InvitationListResponse {
        invitations: list.iter().map(|i| invitation_dto(i, now)).collect(),
    }))
}

/// Invites an email with a role. The server mails the link when SMTP is configured
/// (`mailed`); otherwise the admin passes it on. Refused for a disabled company
/// (`403 account_disabled`), an existing member or open invitation (`409 already_exists`) and
/// when the seats are taken (`409 seat_limit`).
#[utoipa::path(post, path = "/api/v1/companies/{cid}/invitations", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id")), request_body = CreateInvitationRequest,
    responses((status = 201, body = InvitationCreatedResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "seat_limit or already_exists"), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_invitation<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(cid): ApiPath<Uuid>,
    req: Body<CreateInvitationRequest>,
) -> ApiResult<(StatusCode, Json<InvitationCreatedResponse>)> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let req = body(req)?;
    let now = now();
    let inv = prepare_invitation(&caller, &company, &req, now)?;
    state
        .store
        .create_invitation(inv.clone())
        .await
        .map_err(|e| invitation_store_error(e, &inv.email))?;
    let mailed = mail_invitation(&state, &caller, &company, &inv, &req.link).await;
    tracing::info!(invitation_id = %inv.id, company_id = %company.id, mailed, "invitation created");
    record(
        &state,
        Event::by(&caller, Some(company.id), "invitation.created").details(json!({
            "invitation_id": inv.id, "email": inv.email, "role": inv.role.as_str(), "mailed": mailed,
        })),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(InvitationCreatedResponse {
            invitation: invitation_dto(&inv, now),
            mailed,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/v1/companies/{cid}/invitations/{id}", tag = "organisation", security(("bearer" = [])),
    params(("cid" = Uuid, Path, description = "company id"), ("id" = Uuid, Path, description = "invitation id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_invitation<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath((cid, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (company, _) = caller.company(&state, cid, Need::Administer).await?;
    let now = now();
    let inv = state
        .store
        .invitation(id)
        .await?
        .filter(|i| i.company_id == company.id)
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    if !inv.is_open(now) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::InvalidValue,
            "this invitation is no longer open (accepted, revoked or expired)",
        ));
    }
    state
        .store
        .revoke_invitation(company.id, id, now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("invitation"),
            other => other.into(),
        })?;
    record(
        &state,
        Event::by(&caller, Some(company.id), "invitation.revoked")
            .details(json!({"invitation_id": id, "email": inv.email})),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The open invitation `id` whose secret is `secret`, and its company. Wrong secrets count
/// against the caller's address; every refusal is `403 invitation_invalid`.
async fn open_invitation<S: Store>(
    state: &Shared<S>,
    addr: &ClientAddr,
    id: Uuid,
    secret: &str,
) -> ApiResult<(InvitationRecord, CompanyRecord)> {
    let now = now();
    let key = addr_key("invite-guess", addr);
    let limit = state.settings.rate_limits.token_guesses_per_address;
    state.rate_limit_check(&key, limit, now).await?;
    let inv = state.store.invitation(id).await?;
    let secret = secret.trim();
    let matches = |i: &InvitationRecord| {
        !secret.is_empty()
            && secret.len() <= MAX_SECRET_CHARS
            && crypto::ct_eq(&crypto::sha256(secret.as_bytes()), &i.secret_hash)
    };
    let Some(inv) = inv.filter(matches) else {
        state.rate_limit_record(&key, now).await?;
        return Err(invitation_invalid(
            "this invitation link is not valid; ask your administrator for a new one",
        ));
    };
    if inv.accepted_at.is_some() {
        return Err(invitation_invalid(
            "this invitation link was used already; ask your administrator for a new one",
        ));
    }
    if inv.revoked_at.is_some() {
        return Err(invitation_invalid(
            "this invitation was revoked; ask your administrator for a new one",
        ));
    }
    if now >= inv.expires_at {
        return Err(invitation_invalid(
            "this invitation has expired; ask your administrator for a new one",
        ));
    }
    let company = state
        .store
        .company(inv.company_id)
        .await?
        .ok_or_else(|| invitation_invalid("this invitation link is not valid"))?;
    if company.status == CompanyStatus::Disabled {
        return Err(company_disabled());
    }
    Ok((inv, company))
}

/// What the invitee sees before joining (no session needed; the link's secret is the proof).
#[utoipa::path(post, path = "/api/v1/invitations/{id}/preview", tag = "organisation",
    params(("id" = Uuid, Path, description = "invitation id")), request_body = InvitationSecretRequest,
    responses((status = 200, body = InvitationPreviewResponse),
              (status = 403, body = ErrorBody, description = "invitation_invalid (unknown, wrong secret, used, revoked, expired) or account_disabled (company disabled)"),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn preview_invitation<S: Store>(
    State(state): State<Shared<S>>,
    addr: ClientAddr,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<InvitationSecretRequest>,
) -> ApiResult<Json<InvitationPreviewResponse>> {
    let (inv, company) = open_invitation(&state, &addr, id, &req.secret).await?;
    let invitation = stored_doc(&inv.signed).ok_or_else(ApiError::internal)?;
    Ok(Json(InvitationPreviewResponse {
        invitation_id: inv.id,
        company_id: company.id,
        company_name: company.name.clone(),
        email: inv.email.clone(),
        role: role_dto(inv.role),
        expires_at: inv.expires_at,
        keys: super::org::company_dto(&company).keys,
        invitation,
        policy: company.policy.as_deref().and_then(stored_doc),
    }))
}

/// Joins the company (status `accepted`; an admin confirms the member next). The account's
/// email must be the invited one, and the account must not belong to a company.
#[utoipa::path(post, path = "/api/v1/invitations/{id}/accept", tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "invitation id")), request_body = InvitationSecretRequest,
    responses((status = 200, body = MemberDto), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "invitation_invalid or account_disabled"),
              (status = 409, body = ErrorBody, description = "already a member of a company"), (status = 429, body = ErrorBody)))]
pub(crate) async fn accept_invitation<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    req: Body<InvitationSecretRequest>,
) -> ApiResult<Json<MemberDto>> {
    let req = body(req)?;
    let (inv, company) = open_invitation(&state, &caller.addr, id, &req.secret).await?;
    if inv.email != caller.user.email {
        return Err(invitation_invalid(
            "this invitation is for another email address; sign in with the invited account",
        ));
    }
    let already = || {
        ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyExists,
            "your account already belongs to a company; leave it before joining another",
        )
    };
    if caller.member.is_some() {
        return Err(already());
    }
    let member = state
        .store
        .accept_invitation(inv.id, caller.user_id(), now())
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists(_) => already(),
            StoreError::NotFound => invitation_invalid(
                "this invitation is no longer open; ask your administrator for a new one",
            ),
            other => other.into(),
        })?;
    tracing::info!(invitation_id = %inv.id, company_id = %company.id, user_id = %caller.user_id(), "invitation accepted");
    record(
        &state,
        Event::by(&caller, Some(company.id), "invitation.accepted")
            .target(caller.user_id(), &caller.user.email)
            .details(json!({"invitation_id": inv.id, "role": inv.role.as_str()})),
    )
    .await;
    notify_member_change(&state, &company, &caller.user.email, true).await;
    Ok(Json(member_dto(&state, &member).await?))
}
