//! Printing results and errors, and mapping errors to exit codes.

use castellan_client::ClientError;
use castellan_types::ErrorCode;

pub fn exit_code(err: &anyhow::Error) -> i32 {
    let Some(e) = err.downcast_ref::<ClientError>() else {
        return 1;
    };
    match e {
        ClientError::NotLoggedIn
        | ClientError::Locked
        | ClientError::SessionExpired
        | ClientError::ReauthRequired => 3,
        ClientError::WrongCredentials | ClientError::WrongPassword => 4,
        ClientError::NotFound(_) => 5,
        ClientError::Conflict(_) => 6,
        ClientError::Unreachable { .. } => 7,
        ClientError::Integrity(_) => 8,
        ClientError::TwoFactorRequired { .. } => 4,
        ClientError::Api { code, .. } => match code {
            ErrorCode::Unauthorized | ErrorCode::LoginExpired | ErrorCode::ReauthRequired => 3,
            ErrorCode::InvalidCredentials | ErrorCode::InvalidTwoFactorCode => 4,
            ErrorCode::NotFound => 5,
            ErrorCode::VersionConflict
            | ErrorCode::ManifestConflict
            | ErrorCode::EmailTaken
            | ErrorCode::AlreadyExists => 6,
            ErrorCode::RateLimited => 9,
            ErrorCode::Forbidden
            | ErrorCode::PlanRequired
            | ErrorCode::SeatLimit
            | ErrorCode::AccountDisabled
            | ErrorCode::TwoFactorSetupRequired
            | ErrorCode::PasswordChangeRequired => 10,
            _ => 1,
        },
        _ => 1,
    }
}

fn code_name(err: &anyhow::Error) -> &'static str {
    match exit_code(err) {
        3 => "not_unlocked",
        4 => "wrong_credentials",
        5 => "not_found",
        6 => "conflict",
        7 => "unreachable",
        8 => "integrity",
        9 => "rate_limited",
        10 => "forbidden",
        _ => "error",
    }
}

/// A hint after the server's message for the errors a user can act on: the command to run.
/// (The server's messages already say what went wrong and whom to ask.)
fn hint(err: &anyhow::Error) -> Option<&'static str> {
    match err.downcast_ref::<ClientError>()? {
        ClientError::Api { code, .. } => match code {
            ErrorCode::PlanRequired => {
                Some("a partner admin changes it with `castellan admin subscription set`")
            }
            ErrorCode::SeatLimit => Some(
                "revoke an invitation (`castellan admin user revoke-invite`) or raise the seats (`castellan admin subscription set`)",
            ),
            ErrorCode::TwoFactorSetupRequired => Some("run `castellan 2fa enable`"),
            ErrorCode::PasswordChangeRequired => Some("run `castellan change-password`"),
            _ => None,
        },
        ClientError::TwoFactorRequired { .. } => Some(
            "pass the code with --totp CODE or CASTELLAN_TOTP_CODE, or log in on a terminal",
        ),
        _ => None,
    }
}

/// One line on stderr: text, or a JSON object with `--json`.
pub fn print_error(err: &anyhow::Error, json: bool) {
    let mut msg = format!("{err:#}").replace('\n', " ");
    if let Some(h) = hint(err) {
        msg = format!("{msg} ({h})");
    }
    if json {
        let v = serde_json::json!({ "error": { "code": code_name(err), "message": msg } });
        eprintln!("{v}");
    } else {
        eprintln!("error: {msg}");
    }
}

pub fn print_json(v: &serde_json::Value) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(_) => println!("{v}"),
    }
}

/// A Unix time as RFC 3339 (UTC), or the number if it is out of range.
pub fn fmt_time(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}
