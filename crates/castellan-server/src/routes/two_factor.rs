//! Two-step verification (TOTP, SHA-1, 6 digits, 30 s) with one-time recovery codes.
//!
//! The TOTP secret is sealed at rest under the server's 2FA key (a `CAE1` envelope bound to
//! the user id). A code is accepted within ±1 step of the server's clock and only once: the
//! store keeps the last step used and refuses that step and older ones. Recovery codes are
//! stored as SHA-256 hashes and removed when used. Wrong codes count against the account's
//! failed-login limit.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use castellan_crypto as crypto;
use castellan_store::{Store, TwoFactorChallenge, TwoFactorRecord, UserRecord};
use castellan_types::{
    ErrorBody, ErrorCode, LoginFinishResponse, TwoFactorCodeRequest, TwoFactorConfirmResponse,
    TwoFactorEnrollResponse, TwoFactorLoginRequest,
};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::accounts::{check_login_allowed, failure_key, open_session};
use super::org::{body, record, Body, Event};
use super::{addr_key, now};
use crate::authz::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientAddr, RESTRICTION_TWO_FACTOR_SETUP};
use crate::Shared;

/// Key id of the server's 2FA sealing key (there is one).
const TWO_FACTOR_KEY_ID: Uuid = Uuid::from_u128(0x63617374_656c_6c61_6e32_666163746f72);
/// Context purpose of a sealed TOTP secret.
const SEAL_PURPOSE: &str = "totp-secret";
const PERIOD: u64 = 30;
const DIGITS: u32 = 6;
/// Recovery codes issued at confirmation.
pub(crate) const RECOVERY_CODES: usize = 10;
/// Longest code accepted (a recovery code with separators).
const MAX_CODE_CHARS: usize = 64;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
fn base32(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn seal_context(user_id: Uuid) -> crypto::Context {
    crypto::Context::private_key_wrap(user_id, TWO_FACTOR_KEY_ID, SEAL_PURPOSE)
}

fn totp<S>(state: &Shared<S>, rec: &TwoFactorRecord) -> ApiResult<crypto::TotpSpec> {
    let secret = crypto::open(
        &state.two_factor_key,
        TWO_FACTOR_KEY_ID,
        &seal_context(rec.user_id),
        &rec.secret_sealed,
    )
    .map_err(|_| {
        tracing::error!(user_id = %rec.user_id, "a sealed TOTP secret does not open");
        ApiError::internal()
    })?;
    Ok(crypto::TotpSpec {
        secret: secret.to_vec(),
        algorithm: crypto::TotpAlgorithm::Sha1,
        digits: DIGITS,
        period: PERIOD,
    })
}

/// `xxxxx-xxxxx` (50 random bits in base32, lowercase).
fn recovery_code() -> String {
    let mut raw = [0u8; 7];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    let s = base32(&raw).to_lowercase();
    format!("{}-{}", &s[..5], &s[5..10])
}

/// A recovery code as stored: separators and spaces dropped, lowercase, SHA-256.
fn recovery_hash(code: &str) -> Vec<u8> {
    let norm: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    crypto::sha256(norm.as_bytes()).to_vec()
}

/// Which kind of code was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeKind {
    Totp,
    Recovery,
}

impl CodeKind {
    fn as_str(self) -> &'static str {
        match self {
            CodeKind::Totp => "totp",
            CodeKind::Recovery => "recovery_code",
        }
    }
}

/// Checks a code: a current TOTP code (±1 step, each step once), or with `allow_recovery` a
/// recovery code (once). `Ok(None)` = wrong, replayed or used.
async fn check_code<S: Store>(
    state: &Shared<S>,
    rec: &TwoFactorRecord,
    code: &str,
    allow_recovery: bool,
) -> ApiResult<Option<(CodeKind, i64)>> {
    let code = code.trim();
    if code.is_empty() || code.chars().count() > MAX_CODE_CHARS {
        return Ok(None);
    }
    let digits: String = code.chars().filter(|c| *c != ' ').collect();
    if digits.len() == DIGITS as usize && digits.chars().all(|c| c.is_ascii_digit()) {
        let spec = totp(state, rec)?;
        let now = now().max(0) as u64;
        let current = (now / PERIOD) as i64;
        let mut matched = None;
        for step in [current - 1, current, current + 1] {
            let expected = spec.code_at(step.max(0) as u64 * PERIOD);
            // Every candidate is compared, so the time taken does not tell which one matched.
            if crypto::ct_eq(expected.as_bytes(), digits.as_bytes()) && matched.is_none() {
                matched = Some(step);
            }
        }
        return match matched {
            Some(step) if state.store.use_totp_step(rec.user_id, step).await? => {
                Ok(Some((CodeKind::Totp, step)))
            }
            _ => Ok(None),
        };
    }
    if allow_recovery
        && state
            .store
            .use_recovery_code(rec.user_id, &recovery_hash(code))
            .await?
    {
        return Ok(Some((CodeKind::Recovery, rec.last_used_step)));
    }
    Ok(None)
}

fn wrong_code(status: StatusCode) -> ApiError {
    ApiError::new(
        status,
        ErrorCode::InvalidTwoFactorCode,
        "the two-step code is wrong, expired or used already",
    )
}

async fn company_of<S: Store>(state: &Shared<S>, user_id: Uuid) -> Option<Uuid> {
    state
        .store
        .membership_of(user_id)
        .await
        .ok()
        .flatten()
        .map(|m| m.company_id)
}

/// Starts enrolment: a new secret (shown once) for the authenticator app. Refused while 2FA
/// is on (disable it first).
#[utoipa::path(post, path = "/api/v1/account/2fa/enroll", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = TwoFactorEnrollResponse), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "two-step verification is on already")))]
pub(crate) async fn two_factor_enroll<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
) -> ApiResult<Json<TwoFactorEnrollResponse>> {
    let user_id = caller.user_id();
    if state
        .store
        .two_factor(user_id)
        .await?
        .is_some_and(|r| r.enabled)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyExists,
            "two-step verification is on already; disable it first to enrol a new authenticator",
        ));
    }
    let mut secret = Zeroizing::new([0u8; 20]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, secret.as_mut());
    let sealed = crypto::try_seal(
        &state.two_factor_key,
        TWO_FACTOR_KEY_ID,
        &seal_context(user_id),
        secret.as_ref(),
    )
    .map_err(|_| ApiError::internal())?;
    state
        .store
        .put_two_factor(TwoFactorRecord {
            user_id,
            secret_sealed: sealed,
            enabled: false,
            last_used_step: 0,
            recovery_code_hashes: Vec::new(),
            created_at: now(),
        })
        .await?;
    let b32 = base32(secret.as_ref());
    let label = percent_encode(&format!("Castellan:{}", caller.user.email));
    Ok(Json(TwoFactorEnrollResponse {
        otpauth_uri: format!(
            "otpauth://totp/{label}?secret={b32}&issuer=Castellan&algorithm=SHA1&digits={DIGITS}&period={PERIOD}"
        ),
        secret: b32,
    }))
}

/// Confirms enrolment with a current code; turns 2FA on, returns ten recovery codes (shown
/// once) and lifts the "set up two-step verification" restriction of the user's sessions.
#[utoipa::path(post, path = "/api/v1/account/2fa/confirm", tag = "accounts", security(("bearer" = [])),
    request_body = TwoFactorCodeRequest,
    responses((status = 200, body = TwoFactorConfirmResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "invalid_two_factor_code"),
              (status = 409, body = ErrorBody, description = "not enrolled, or on already"), (status = 429, body = ErrorBody)))]
pub(crate) async fn two_factor_confirm<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    req: Body<TwoFactorCodeRequest>,
) -> ApiResult<Json<TwoFactorConfirmResponse>> {
    let req = body(req)?;
    let now = now();
    let user_id = caller.user_id();
    let fkey = failure_key(&caller.user.email);
    state
        .rate_limit_check(
            &fkey,
            state.settings.rate_limits.failed_logins_per_account,
            now,
        )
        .await?;
    let rec = match state.store.two_factor(user_id).await? {
        Some(r) if !r.enabled => r,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyExists,
                "two-step verification is on already",
            ))
        }
        None => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::InvalidValue,
                "start with POST /account/2fa/enroll",
            ))
        }
    };
    let Some((_, step)) = check_code(&state, &rec, &req.code, false).await? else {
        state.rate_limit_record(&fkey, now).await?;
        return Err(wrong_code(StatusCode::FORBIDDEN));
    };
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    state
        .store
        .put_two_factor(TwoFactorRecord {
            enabled: true,
            last_used_step: step,
            recovery_code_hashes: codes.iter().map(|c| recovery_hash(c)).collect(),
            ..rec
        })
        .await?;
    // Every session of the user that waited for this may do everything again.
    for s in state.store.list_sessions(user_id, now).await? {
        if s.restriction.as_deref() == Some(RESTRICTION_TWO_FACTOR_SETUP) {
            state.store.set_session_restriction(s.id, None).await?;
        }
    }
    tracing::info!(%user_id, "two-step verification enabled");
    record(
        &state,
        Event::by(
            &caller,
            company_of(&state, user_id).await,
            "two_factor.enabled",
        )
        .target(user_id, &caller.user.email),
    )
    .await;
    Ok(Json(TwoFactorConfirmResponse {
        recovery_codes: codes,
    }))
}

/// Turns 2FA off; needs a current code or a recovery code.
#[utoipa::path(post, path = "/api/v1/account/2fa/disable", tag = "accounts", security(("bearer" = [])),
    request_body = TwoFactorCodeRequest,
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "invalid_two_factor_code"),
              (status = 409, body = ErrorBody, description = "two-step verification is off"), (status = 429, body = ErrorBody)))]
pub(crate) async fn two_factor_disable<S: Store>(
    State(state): State<Shared<S>>,
    caller: Caller,
    req: Body<TwoFactorCodeRequest>,
) -> ApiResult<StatusCode> {
    let req = body(req)?;
    let now = now();
    let user_id = caller.user_id();
    let fkey = failure_key(&caller.user.email);
    state
        .rate_limit_check(
            &fkey,
            state.settings.rate_limits.failed_logins_per_account,
            now,
        )
        .await?;
    let Some(rec) = state.store.two_factor(user_id).await?.filter(|r| r.enabled) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::InvalidValue,
            "two-step verification is off",
        ));
    };
    let Some((kind, _)) = check_code(&state, &rec, &req.code, true).await? else {
        state.rate_limit_record(&fkey, now).await?;
        return Err(wrong_code(StatusCode::FORBIDDEN));
    };
    state.store.delete_two_factor(user_id).await?;
    tracing::info!(%user_id, "two-step verification disabled");
    record(
        &state,
        Event::by(
            &caller,
            company_of(&state, user_id).await,
            "two_factor.disabled",
        )
        .target(user_id, &caller.user.email)
        .details(json!({"with": kind.as_str()})),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates the challenge of a login whose password was right and that needs a code; the
/// token is `{id}.{secret}` (only its SHA-256 is stored).
pub(crate) async fn new_challenge<S: Store>(
    state: &Shared<S>,
    user: &UserRecord,
    device_name: String,
) -> ApiResult<ApiError> {
    let id = Uuid::new_v4();
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    let token = format!("{id}.{}", URL_SAFE_NO_PAD.encode(raw));
    state
        .store
        .put_two_factor_challenge(TwoFactorChallenge {
            id,
            user_id: user.id,
            token_hash: crypto::sha256(token.as_bytes()).to_vec(),
            device_name,
            expires_at: now() + state.settings.two_factor_challenge_ttl_secs,
        })
        .await?;
    let mut err = ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::TwoFactorRequired,
        "enter the code from your authenticator app (or a recovery code)",
    );
    err.challenge = Some(token);
    Ok(err)
}

/// Second step of a login that answered `two_factor_required`: the challenge and a code.
#[utoipa::path(post, path = "/api/v1/auth/login/2fa", tag = "auth", request_body = TwoFactorLoginRequest,
    responses((status = 200, body = LoginFinishResponse),
              (status = 401, body = ErrorBody, description = "invalid_two_factor_code, or login_expired (start again)"),
              (status = 403, body = ErrorBody, description = "account_disabled"), (status = 429, body = ErrorBody)))]
pub(crate) async fn login_two_factor<S: Store>(
    State(state): State<Shared<S>>,
    addr: ClientAddr,
    ApiJson(req): ApiJson<TwoFactorLoginRequest>,
) -> ApiResult<Json<LoginFinishResponse>> {
    let now = now();
    let limits = &state.settings.rate_limits;
    state
        .rate_limit(&addr_key("login", &addr), limits.logins_per_address, now)
        .await?;
    let expired = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::LoginExpired,
            "the login expired or is unknown; start again",
        )
    };
    let id: Uuid = req
        .challenge
        .split_once('.')
        .and_then(|(id, _)| id.parse().ok())
        .ok_or_else(expired)?;
    let challenge = state
        .store
        .two_factor_challenge(id, now)
        .await?
        .filter(|c| {
            req.challenge.len() <= 256
                && crypto::ct_eq(&crypto::sha256(req.challenge.as_bytes()), &c.token_hash)
        })
        .ok_or_else(expired)?;
    let user = state
        .store
        .user_by_id(challenge.user_id)
        .await?
        .ok_or_else(expired)?;
    let fkey = failure_key(&user.email);
    state
        .rate_limit_check(&fkey, limits.failed_logins_per_account, now)
        .await?;
    let rec = state.store.two_factor(user.id).await?.filter(|r| r.enabled);
    let accepted = match &rec {
        Some(rec) => check_code(&state, rec, &req.code, true).await?,
        None => None,
    };
    let Some((kind, _)) = accepted else {
        state.rate_limit_record(&fkey, now).await?;
        let company_id = company_of(&state, user.id).await;
        record(
            &state,
            Event {
                company_id,
                actor_id: Some(user.id),
                actor_email: Some(user.email.clone()),
                target_user_id: None,
                target_email: None,
                event: "login.failed".into(),
                details: json!({"reason": "two_factor_code"}),
                ip: addr.0.map(|ip| ip.to_string()),
            },
        )
        .await;
        return Err(wrong_code(StatusCode::UNAUTHORIZED));
    };
    state
        .store
        .delete_two_factor_challenge(challenge.id)
        .await?;
    check_login_allowed(&state, &user, &addr).await?;
    let resp = open_session(&state, &user, challenge.device_name, &addr, kind.as_str()).await?;
    Ok(Json(resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fo"), "MZXQ");
        assert_eq!(base32(b"foob"), "MZXW6YQ");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        let spec = crypto::TotpSpec::parse(&base32(b"12345678901234567890")).unwrap();
        // RFC 6238 test vector (SHA-1, time 59): 94287082 → 6 digits 287082.
        assert_eq!(spec.code_at(59), "287082");
    }

    #[test]
    fn recovery_codes_normalise() {
        let c = recovery_code();
        assert_eq!(c.len(), 11);
        assert_eq!(
            recovery_hash(&c),
            recovery_hash(&c.to_uppercase().replace('-', " "))
        );
    }

    #[test]
    fn labels_are_percent_encoded() {
        assert_eq!(percent_encode("Castellan:a@b.c"), "Castellan%3Aa%40b.c");
    }
}
