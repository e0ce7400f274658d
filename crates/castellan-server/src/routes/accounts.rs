//! Registration, OPAQUE login, the account's key set and master password change.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use castellan_crypto as crypto;
use castellan_store::{
    LoginAttempt, NewUser, NewVault, SessionRecord, Store, UserRecord, VaultKind,
};
use castellan_types::{
    AccountKeyset, AccountResponse, ErrorBody, ErrorCode, KsfProfile, LoginFinishRequest,
    LoginFinishResponse, LoginStartRequest, LoginStartResponse, PasswordChangeFinishRequest,
    PasswordChangeFinishResponse, PasswordChangeStartRequest, RegisterFinishRequest,
    RegisterFinishResponse, RegisterStartRequest, RegisterStartResponse, VaultDto, VaultKindDto,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use super::{normalize_email, now, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientAddr, Session};
use crate::Shared;

/// The profile every account gets; the client refuses anything weaker.
pub(crate) fn floor_profile() -> KsfProfile {
    let f = crypto::KsfParams::FLOOR;
    KsfProfile {
        m_kib: f.m_kib,
        t: f.t,
        p: f.p,
    }
}

pub(crate) fn addr_key(prefix: &str, addr: &ClientAddr) -> String {
    match addr.0 {
        Some(ip) => format!("{prefix}:ip:{ip}"),
        None => format!("{prefix}:ip:local"),
    }
}

fn check_blob(name: &str, b: &[u8], min: usize, max: usize) -> ApiResult<()> {
    if b.len() < min || b.len() > max {
        return Err(ApiError::invalid(format!("{name} has an invalid size")));
    }
    Ok(())
}

fn check_keyset(k: &AccountKeyset) -> ApiResult<()> {
    if k.format != 1 {
        return Err(ApiError::invalid("unsupported keyset format"));
    }
    check_blob("account_key_wrap", k.account_key_wrap.as_slice(), 16, 4096)?;
    check_blob(
        "signing_public_key",
        k.signing_public_key.as_slice(),
        32,
        32,
    )?;
    check_blob(
        "encryption_public_key",
        k.encryption_public_key.as_slice(),
        32,
        32,
    )?;
    check_blob("signing_key_wrap", k.signing_key_wrap.as_slice(), 16, 4096)?;
    check_blob(
        "encryption_key_wrap",
        k.encryption_key_wrap.as_slice(),
        16,
        4096,
    )?;
    check_blob(
        "key_binding_signature",
        k.key_binding_signature.as_slice(),
        64,
        64,
    )?;
    Ok(())
}

fn vault_dto(v: &castellan_store::VaultRecord) -> VaultDto {
    VaultDto {
        id: v.id,
        kind: match v.kind {
            VaultKind::Personal => VaultKindDto::Personal,
            VaultKind::Business => VaultKindDto::Business,
        },
        key_wrap: v.key_wrap.clone().into(),
        key_version: v.key_version.max(0) as u64,
    }
}

async fn account_response<S: Store>(
    state: &Shared<S>,
    user: &UserRecord,
) -> ApiResult<AccountResponse> {
    let keyset: AccountKeyset =
        serde_json::from_str(&user.keyset).map_err(|_| ApiError::internal())?;
    let vaults = state.store.vaults_for_user(user.id).await?;
    Ok(AccountResponse {
        user_id: user.id,
        email: user.email.clone(),
        credentials_version: user.credentials_version,
        password_changed_at: user.updated_at,
        keyset,
        vaults: vaults.iter().map(vault_dto).collect(),
    })
}

/// Step 1 of registration: the OPAQUE registration response for the client's blinded password.
#[utoipa::path(post, path = "/api/v1/accounts/register/start", tag = "accounts", request_body = RegisterStartRequest,
    responses((status = 200, body = RegisterStartResponse), (status = 409, body = ErrorBody, description = "email taken"),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn register_start<S: Store>(
    State(state): State<Shared<S>>,
    addr: ClientAddr,
    ApiJson(req): ApiJson<RegisterStartRequest>,
) -> ApiResult<Json<RegisterStartResponse>> {
    let now = now();
    state
        .rate_limit(
            &addr_key("register", &addr),
            state.settings.rate_limits.registrations_per_address,
            now,
        )
        .await?;
    let email = normalize_email(&req.email)?;
    check_blob(
        "registration_request",
        req.registration_request.as_slice(),
        1,
        1024,
    )?;
    if state.store.user_by_email(&email).await?.is_some() {
        return Err(castellan_store::StoreError::AlreadyExists("email").into());
    }
    let response = crypto::server_registration_start(
        &state.opaque,
        req.registration_request.as_slice(),
        req.user_id.as_bytes(),
    )
    .map_err(|_| ApiError::invalid("malformed OPAQUE registration request"))?;
    Ok(Json(RegisterStartResponse {
        registration_response: response.into(),
        ksf: floor_profile(),
    }))
}

/// Step 2 of registration: stores the OPAQUE record, the wrapped keys and the two vaults.
#[utoipa::path(post, path = "/api/v1/accounts/register/finish", tag = "accounts", request_body = RegisterFinishRequest,
    responses((status = 201, body = RegisterFinishResponse), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn register_finish<S: Store>(
    State(state): State<Shared<S>>,
    ApiJson(req): ApiJson<RegisterFinishRequest>,
) -> ApiResult<(StatusCode, Json<RegisterFinishResponse>)> {
    let email = normalize_email(&req.email)?;
    check_keyset(&req.keyset)?;
    let kinds: Vec<VaultKindDto> = req.vaults.iter().map(|v| v.kind).collect();
    if req.vaults.len() != 2
        || !kinds.contains(&VaultKindDto::Personal)
        || !kinds.contains(&VaultKindDto::Business)
        || req.vaults[0].id == req.vaults[1].id
    {
        return Err(ApiError::invalid(
            "an account needs exactly one personal and one business vault",
        ));
    }
    for v in &req.vaults {
        check_blob("vault key_wrap", v.key_wrap.as_slice(), 16, 4096)?;
    }
    let record = crypto::server_registration_finish(req.registration_record.as_slice())
        .map_err(|_| ApiError::invalid("malformed OPAQUE registration record"))?;
    let keyset = serde_json::to_string(&req.keyset).map_err(|_| ApiError::internal())?;
    let user = NewUser {
        id: req.user_id,
        email,
        opaque_record: record,
        keyset,
        created_at: now(),
    };
    let vaults = req
        .vaults
        .iter()
        .map(|v| NewVault {
            id: v.id,
            kind: match v.kind {
                VaultKindDto::Personal => VaultKind::Personal,
                VaultKindDto::Business => VaultKind::Business,
            },
            key_wrap: v.key_wrap.as_slice().to_vec(),
            key_version: v.key_version as i64,
        })
        .collect();
    state.store.create_user(user, vaults).await?;
    tracing::info!(user_id = %req.user_id, "account registered");
    Ok((
        StatusCode::CREATED,
        Json(RegisterFinishResponse {
            user_id: req.user_id,
        }),
    ))
}

/// A stable stand-in user id for an unknown email, so probing reveals nothing.
fn fake_user_id<S>(state: &Shared<S>, email: &str) -> Uuid {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&state.enumeration_key) {
        Ok(m) => m,
        Err(_) => return Uuid::nil(),
    };
    mac.update(email.as_bytes());
    let out = mac.finalize().into_bytes();
    let mut b = [0u8; 16];
    b.copy_from_slice(&out[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

pub(crate) fn failure_key(email: &str) -> String {
    format!("login-fail:{email}")
}

/// Step 1 of login: the OPAQUE credential response (a same-shaped dummy for unknown emails).
#[utoipa::path(post, path = "/api/v1/auth/login/start", tag = "auth", request_body = LoginStartRequest,
    responses((status = 200, body = LoginStartResponse), (status = 429, body = ErrorBody)))]
pub(crate) async fn login_start<S: Store>(
    State(state): State<Shared<S>>,
    addr: ClientAddr,
    ApiJson(req): ApiJson<LoginStartRequest>,
) -> ApiResult<Json<LoginStartResponse>> {
    let now = now();
    let limits = &state.settings.rate_limits;
    state
        .rate_limit(&addr_key("login", &addr), limits.logins_per_address, now)
        .await?;
    let email = normalize_email(&req.email)?;
    state
        .rate_limit_check(&failure_key(&email), limits.failed_logins_per_account, now)
        .await?;
    check_blob(
        "credential_request",
        req.credential_request.as_slice(),
        1,
        1024,
    )?;
    let user = state.store.user_by_email(&email).await?;
    let (user_id, record, ksf) = match &user {
        Some(u) => {
            let keyset: AccountKeyset =
                serde_json::from_str(&u.keyset).map_err(|_| ApiError::internal())?;
            (u.id, Some(u.opaque_record.as_slice()), keyset.ksf)
        }
        None => (fake_user_id(&state, &email), None, floor_profile()),
    };
    let (server_state, response) = crypto::server_login_start(
        &state.opaque,
        record,
        req.credential_request.as_slice(),
        user_id.as_bytes(),
    )
    .map_err(|_| ApiError::invalid("malformed OPAQUE credential request"))?;
    let login_id = Uuid::new_v4();
    state
        .store
        .put_login_attempt(LoginAttempt {
            id: login_id,
            user_id: user.as_ref().map(|u| u.id),
            email,
            state: server_state.to_bytes().to_vec(),
            expires_at: now + state.settings.login_attempt_ttl_secs,
        })
        .await?;
    Ok(Json(LoginStartResponse {
        login_id,
        user_id,
        credential_response: response.into(),
        ksf,
    }))
}

/// Step 2 of login: checks the client's OPAQUE finalization and opens a session. With
/// two-step verification on, answers `401 two_factor_required` with a `challenge` instead (the
/// login finishes at `/auth/login/2fa`). A disabled member, or a member of a disabled company,
/// gets `403 account_disabled` (only after the password proved right).
#[utoipa::path(post, path = "/api/v1/auth/login/finish", tag = "auth", request_body = LoginFinishRequest,
    responses((status = 200, body = LoginFinishResponse),
              (status = 401, body = ErrorBody, description = "invalid_credentials, login_expired, or two_factor_required (with challenge)"),
              (status = 403, body = ErrorBody, description = "account_disabled"),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn login_finish<S: Store>(
    State(state): State<Shared<S>>,
    addr: ClientAddr,
    ApiJson(req): ApiJson<LoginFinishRequest>,
) -> ApiResult<Json<LoginFinishResponse>> {
    let now = now();
    let attempt = state
        .store
        .take_login_attempt(req.login_id, now)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::LoginExpired,
                "login attempt expired or unknown; start again",
            )
        })?;
    let fkey = failure_key(&attempt.email);
    state
        .rate_limit_check(
            &fkey,
            state.settings.rate_limits.failed_logins_per_account,
            now,
        )
        .await?;
    let server_state =
        crypto::ServerLogin::from_bytes(&attempt.state).map_err(|_| ApiError::internal())?;
    let verified =
        crypto::server_login_finish(server_state, req.credential_finalization.as_slice()).is_ok();
    let user = match (verified, attempt.user_id) {
        (true, Some(id)) => state.store.user_by_id(id).await?,
        _ => None,
    };
    let Some(user) = user else {
        state.rate_limit_record(&fkey, now).await?;
        tracing::info!("failed login");
        let (actor_id, company_id) = match attempt.user_id {
            Some(id) => (
                Some(id),
                state
                    .store
                    .membership_of(id)
                    .await
                    .ok()
                    .flatten()
                    .map(|m| m.company_id),
            ),
            None => (None, None),
        };
        super::org::record(
            &state,
            super::org::Event {
                company_id,
                actor_id,
                actor_email: Some(attempt.email.clone()),
                target_user_id: None,
                target_email: None,
                event: "login.failed".into(),
                details: serde_json::json!({"reason": "credentials"}),
                ip: addr.0.map(|ip| ip.to_string()),
            },
        )
        .await;
        return Err(ApiError::invalid_credentials());
    };
    let device_name: String = req
        .device_name
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    check_login_allowed(&state, &user, &addr).await?;
    if state
        .store
        .two_factor(user.id)
        .await?
        .is_some_and(|t| t.enabled)
    {
        // The failure counter is not reset yet: wrong codes keep counting against it.
        return Err(super::two_factor::new_challenge(&state, &user, device_name).await?);
    }
    Ok(Json(
        open_session(&state, &user, device_name, &addr, "password").await?,
    ))
}

/// Logins that need two-step verification but may still go without it.
pub(crate) const TWO_FACTOR_GRACE_LOGINS: i64 = 3;

/// Refuses the login of a disabled member or of a member of a disabled company (the password
/// was right, so this reveals nothing to someone guessing it).
pub(crate) async fn check_login_allowed<S: Store>(
    state: &Shared<S>,
    user: &UserRecord,
    addr: &ClientAddr,
) -> ApiResult<()> {
    let Some(member) = state.store.membership_of(user.id).await? else {
        return Ok(());
    };
    let company_disabled = state
        .store
        .company(member.company_id)
        .await?
        .is_some_and(|c| c.status == castellan_store::CompanyStatus::Disabled);
    if member.disabled || company_disabled {
        super::org::record(
            state,
            super::org::Event {
                company_id: Some(member.company_id),
                actor_id: Some(user.id),
                actor_email: Some(user.email.clone()),
                target_user_id: None,
                target_email: None,
                event: "login.refused".into(),
                details: serde_json::json!({
                    "reason": if member.disabled { "member_disabled" } else { "company_disabled" }
                }),
                ip: addr.0.map(|ip| ip.to_string()),
            },
        )
        .await;
        return Err(crate::authz::account_disabled());
    }
    Ok(())
}

/// Whether the user's company requires two-step verification, the user has not set it up
/// and the grace logins are used up.
pub(crate) async fn two_factor_setup_due<S: Store>(
    state: &Shared<S>,
    user_id: Uuid,
) -> ApiResult<bool> {
    let Some(member) = state.store.membership_of(user_id).await? else {
        return Ok(false);
    };
    let Some(company) = state.store.company(member.company_id).await? else {
        return Ok(false);
    };
    if !super::org::company_policy(&company).require_two_factor {
        return Ok(false);
    }
    let enabled = state
        .store
        .two_factor(user_id)
        .await?
        .is_some_and(|t| t.enabled);
    Ok(!enabled && member.logins_without_2fa > TWO_FACTOR_GRACE_LOGINS)
}

/// Opens the session of a login whose credentials (and second factor, when on) are proven:
/// counts a grace login when the company requires two-step verification and the user has
/// none (after three the session may only set it up), restricts the session to a password
/// change when an admin requires one, resets the failure counter and records the login.
pub(crate) async fn open_session<S: Store>(
    state: &Shared<S>,
    user: &UserRecord,
    device_name: String,
    addr: &ClientAddr,
    method: &str,
) -> ApiResult<LoginFinishResponse> {
    let now = now();
    let mut restriction = None;
    let mut grace = None;
    let member = state.store.membership_of(user.id).await?;
    if let Some(m) = &member {
        let company = state.store.company(m.company_id).await?;
        let requires_2fa = company
            .as_ref()
            .is_some_and(|c| super::org::company_policy(c).require_two_factor);
        let has_2fa = state
            .store
            .two_factor(user.id)
            .await?
            .is_some_and(|t| t.enabled);
        if m.require_password_change {
            restriction = Some(crate::extract::RESTRICTION_PASSWORD_CHANGE.to_string());
        }
        if requires_2fa && !has_2fa {
            let count = m.logins_without_2fa + 1;
            state
                .store
                .update_member(
                    m.company_id,
                    m.user_id,
                    castellan_store::MemberUpdate {
                        logins_without_2fa: Some(count),
                        ..Default::default()
                    },
                )
                .await?;
            grace = Some((TWO_FACTOR_GRACE_LOGINS - count).max(0) as u32);
            if count > TWO_FACTOR_GRACE_LOGINS && restriction.is_none() {
                restriction = Some(crate::extract::RESTRICTION_TWO_FACTOR_SETUP.to_string());
            }
        }
    }
    state.rate_limit_clear(&failure_key(&user.email)).await?;

    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let session = SessionRecord {
        id: Uuid::new_v4(),
        user_id: user.id,
        token_hash: token_hash(&token),
        device_name,
        created_at: now,
        last_seen_at: now,
        expires_at: now + state.settings.session_ttl_secs,
        revoked_at: None,
        restriction: restriction.clone(),
    };
    let (session_id, expires_at) = (session.id, session.expires_at);
    state.store.create_session(session).await?;
    tracing::info!(user_id = %user.id, %session_id, "login");
    super::org::record(
        state,
        super::org::Event {
            company_id: member.as_ref().map(|m| m.company_id),
            actor_id: Some(user.id),
            actor_email: Some(user.email.clone()),
            target_user_id: None,
            target_email: None,
            event: "login.succeeded".into(),
            details: serde_json::json!({
                "method": method, "restriction": restriction, "two_factor_grace_remaining": grace,
            }),
            ip: addr.0.map(|ip| ip.to_string()),
        },
    )
    .await;
    Ok(LoginFinishResponse {
        session_token: token,
        session_id,
        expires_at,
        account: account_response(state, user).await?,
        restriction,
        two_factor_grace_remaining: grace,
    })
}

/// The signed-in account: key set and vault key wraps.
#[utoipa::path(get, path = "/api/v1/account", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = AccountResponse), (status = 401, body = ErrorBody)))]
pub(crate) async fn get_account<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
) -> ApiResult<Json<AccountResponse>> {
    let user = state
        .store
        .user_by_id(session.user_id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(Json(account_response(&state, &user).await?))
}

/// A stolen session token must not be enough to take over an account: credential changes need
/// a session from a login (which proves the password) within the last few minutes.
fn require_fresh<S>(state: &Shared<S>, session: &Session) -> ApiResult<()> {
    if now() - session.created_at > state.settings.reauth_window_secs {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ReauthRequired,
            "this change needs a fresh login (within the last few minutes)",
        ));
    }
    Ok(())
}

/// Step 1 of a master password change: a fresh OPAQUE registration. Needs a fresh login.
#[utoipa::path(post, path = "/api/v1/account/password/start", tag = "accounts", security(("bearer" = [])),
    request_body = PasswordChangeStartRequest, responses((status = 200, body = RegisterStartResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "reauth_required")))]
pub(crate) async fn password_change_start<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
    ApiJson(req): ApiJson<PasswordChangeStartRequest>,
) -> ApiResult<Json<RegisterStartResponse>> {
    require_fresh(&state, &session)?;
    check_blob(
        "registration_request",
        req.registration_request.as_slice(),
        1,
        1024,
    )?;
    let response = crypto::server_registration_start(
        &state.opaque,
        req.registration_request.as_slice(),
        session.user_id.as_bytes(),
    )
    .map_err(|_| ApiError::invalid("malformed OPAQUE registration request"))?;
    Ok(Json(RegisterStartResponse {
        registration_response: response.into(),
        ksf: floor_profile(),
    }))
}

/// Step 2: replaces the OPAQUE record and the account key wrap; other sessions are revoked.
#[utoipa::path(post, path = "/api/v1/account/password/finish", tag = "accounts", security(("bearer" = [])),
    request_body = PasswordChangeFinishRequest,
    responses((status = 200, body = PasswordChangeFinishResponse), (status = 409, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "reauth_required")))]
pub(crate) async fn password_change_finish<S: Store>(
    State(state): State<Shared<S>>,
    session: Session,
    ApiJson(req): ApiJson<PasswordChangeFinishRequest>,
) -> ApiResult<Json<PasswordChangeFinishResponse>> {
    require_fresh(&state, &session)?;
    check_keyset(&req.keyset)?;
    let user = state
        .store
        .user_by_id(session.user_id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let old: AccountKeyset =
        serde_json::from_str(&user.keyset).map_err(|_| ApiError::internal())?;
    // Only the account key wrap (and the KSF profile) may change here; the identity keys stay.
    if old.signing_public_key != req.keyset.signing_public_key
        || old.encryption_public_key != req.keyset.encryption_public_key
        || old.ak_version != req.keyset.ak_version
    {
        return Err(ApiError::invalid(
            "a password change cannot replace identity keys",
        ));
    }
    let record = crypto::server_registration_finish(req.registration_record.as_slice())
        .map_err(|_| ApiError::invalid("malformed OPAQUE registration record"))?;
    let keyset = serde_json::to_string(&req.keyset).map_err(|_| ApiError::internal())?;
    let now = now();
    state
        .store
        .update_user_credentials(user.id, req.credentials_version, record, keyset, now)
        .await?;
    let revoked = state
        .store
        .revoke_other_sessions(user.id, Some(session.session_id), now)
        .await?;
    // An admin's "change the master password" is done; the session may do more again (or
    // only set up two-step verification, when that is due).
    if let Some(m) = state.store.membership_of(user.id).await? {
        if m.require_password_change {
            state
                .store
                .update_member(
                    m.company_id,
                    user.id,
                    castellan_store::MemberUpdate {
                        require_password_change: Some(false),
                        ..Default::default()
                    },
                )
                .await?;
        }
    }
    if session.restriction.as_deref() == Some(crate::extract::RESTRICTION_PASSWORD_CHANGE) {
        let next = two_factor_setup_due(&state, user.id)
            .await?
            .then(|| crate::extract::RESTRICTION_TWO_FACTOR_SETUP.to_string());
        state
            .store
            .set_session_restriction(session.session_id, next)
            .await?;
    }
    tracing::info!(user_id = %user.id, revoked, "master password changed");
    Ok(Json(PasswordChangeFinishResponse {
        credentials_version: req.credentials_version + 1,
        revoked_sessions: revoked,
    }))
}
