//! Setup: the first partner (or a further one, with a token the operator issued) and its
//! founding admin.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use castellan_crypto as crypto;
use castellan_store::{
    CompanyCreate, CompanyKind, CompanyRecord, CompanyStatus, FounderMembership, KeyGrantRecord,
    NewCompany, Plan, Store, StoreError,
};
use castellan_types::{
    statement, CompanyDto, ErrorBody, ErrorCode, MemberCertBody, RoleDto, SetupRequest,
    SetupStatusResponse,
};
use serde_json::json;

use super::org::{
    account_keys, body, check_grant, check_key_pair, check_name, company_dto, doc_bytes, new_group,
    record, verify_doc, Body, Event,
};
use super::{addr_key, now};
use crate::authz::Caller;
use crate::error::{ApiError, ApiResult};
use crate::Shared;

/// Longest setup token accepted.
const MAX_TOKEN_CHARS: usize = 256;

/// A fresh random setup token: 32 bytes as lowercase hex (never starts with `-`, so it is
/// safe as a command-line argument, and survives copying from a terminal).
pub(crate) fn new_setup_token() -> String {
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_invalid() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::SetupTokenInvalid,
        "the setup token is wrong or already used; the operator prints a new one with `castellan server setup-token`",
    )
}

/// Whether setup is still open (no partner exists yet).
#[utoipa::path(get, path = "/api/v1/setup", tag = "organisation",
    responses((status = 200, body = SetupStatusResponse)))]
pub(crate) async fn setup_status<S: Store>(
    State(state): State<Shared<S>>,
) -> ApiResult<Json<SetupStatusResponse>> {
    Ok(Json(SetupStatusResponse {
        open: !state.store.has_partner().await?,
    }))
}

/// Creates a partner with the caller as its confirmed admin. Needs the operator's setup token
/// (single use; wrong guesses are rate limited per address and per account).
#[utoipa::path(post, path = "/api/v1/setup", tag = "organisation", security(("bearer" = [])),
    request_body = SetupRequest,
    responses((status = 201, body = CompanyDto), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "setup_token_invalid"),
              (status = 409, body = ErrorBody, description = "already a member of a company, or the id is taken"),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn setup<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    req: Body<SetupRequest>,
) -> ApiResult<(StatusCode, Json<CompanyDto>)> {
    let now = now();
    let limit = state.settings.rate_limits.token_guesses_per_address;
    let keys = [
        addr_key("setup-guess", &caller.addr),
        format!("setup-guess:user:{}", caller.user_id()),
    ];
    for k in &keys {
        state.rate_limit_check(k, limit, now).await?;
    }
    let req = body(req)?;
    // The token is the authorisation: nothing else is looked at before it matches.
    let stored = state
        .store
        .setup_token_get_or_init(super::org_setup::new_setup_token())
        .await?;
    let given = req.setup_token.trim();
    if given.is_empty()
        || given.len() > MAX_TOKEN_CHARS
        || !crypto::ct_eq(given.as_bytes(), stored.as_bytes())
    {
        for k in &keys {
            state.rate_limit_record(k, now).await?;
        }
        record(
            &state,
            Event::by(&caller, None, "setup.failed").details(json!({"reason": "wrong token"})),
        )
        .await;
        return Err(token_invalid());
    }
    if caller.member.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyExists,
            "you are already a member of a company; set up the partner with another account",
        ));
    }

    let name = check_name(&req.name, "company name")?;
    check_key_pair(
        "company",
        req.keys.signing_public_key.as_slice(),
        req.keys.encryption_public_key.as_slice(),
    )?;
    check_grant("the key grant", req.key_grant.as_slice())?;
    let company = CompanyRecord {
        id: req.company_id,
        kind: CompanyKind::Partner,
        partner_id: None,
        name: name.clone(),
        status: CompanyStatus::Active,
        plan: Plan::Advanced,
        seats: None,
        trial_ends_at: None,
        signing_public_key: req.keys.signing_public_key.as_slice().to_vec(),
        encryption_public_key: req.keys.encryption_public_key.as_slice().to_vec(),
        policy: None,
        policy_counter: 0,
        revocations: None,
        revocations_version: 0,
        seats_used: 0,
        created_at: now,
        updated_at: now,
    };
    // The founder's certificate, signed by the new root key, for exactly this account.
    let cert: MemberCertBody = verify_doc(
        &req.admin_cert,
        statement::MEMBER_CERT,
        &company.signing_public_key,
        "member certificate",
    )?;
    let account = account_keys(&caller.user.keyset)?;
    if cert.company_id != company.id
        || cert.user_id != caller.user_id()
        || cert.email != caller.user.email
        || cert.role != RoleDto::Admin
        || cert.issued_by != caller.user_id()
        || cert.signing_public_key != account.signing_public_key
        || cert.encryption_public_key != account.encryption_public_key
    {
        return Err(ApiError::invalid(
            "the admin certificate must certify your account (id, email and keys) as admin of the new company, issued by you",
        ));
    }
    let founder_only: HashSet<_> = [caller.user_id()].into_iter().collect();
    let (everyone, everyone_grants) = new_group(&req.everyone, &company, true, &founder_only, now)?;
    if everyone.members != [caller.user_id()] {
        return Err(ApiError::invalid(
            "the Everyone group of a new partner lists exactly its founder",
        ));
    }

    let created = state
        .store
        .create_company(CompanyCreate {
            company: NewCompany {
                id: company.id,
                kind: CompanyKind::Partner,
                partner_id: None,
                name,
                plan: Plan::Advanced,
                seats: None,
                trial_ends_at: None,
                signing_public_key: company.signing_public_key.clone(),
                encryption_public_key: company.encryption_public_key.clone(),
                created_at: now,
            },
            setup_token: Some(stored),
            founder: Some(FounderMembership {
                user_id: caller.user_id(),
                cert: doc_bytes(&req.admin_cert)?,
            }),
            key_grants: vec![KeyGrantRecord {
                company_id: company.id,
                user_id: caller.user_id(),
                sealed: req.key_grant.as_slice().to_vec(),
                granted_by: caller.user_id(),
                created_at: now,
            }],
            everyone,
            everyone_grants,
            policy: None,
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => token_invalid(),
            StoreError::AlreadyExists("membership") => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyExists,
                "you are already a member of a company",
            ),
            StoreError::AlreadyExists(_) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyExists,
                "a company or group with this id already exists; retry with new ids",
            ),
            other => other.into(),
        })?;
    for k in &keys {
        state.rate_limit_clear(k).await?;
    }
    tracing::info!(company_id = %created.id, user_id = %caller.user_id(), "partner set up");
    record(
        &state,
        Event::by(&caller, Some(created.id), "setup.partner_created")
            .target(caller.user_id(), &caller.user.email)
            .details(json!({"name": created.name})),
    )
    .await;
    Ok((StatusCode::CREATED, Json(company_dto(&created))))
}
