//! register, login, logout, lock, unlock, status, change-password, sessions.

use anyhow::{Context as _, Result};
use castellan_client::account;
use castellan_client::api::ApiClient;
use castellan_client::org::{self, admin, InviteLink};
use castellan_client::vault::VaultSession;
use castellan_client::{ClientError, Secret};
use serde_json::json;

use super::Ctx;
use crate::cli::{AccountArgs, SessionsCommand};
use crate::output::print_json;
use crate::prompt;

fn device_name(args: &AccountArgs) -> String {
    args.device_name.clone().unwrap_or_else(|| {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty());
        format!(
            "castellan CLI on {}",
            host.unwrap_or_else(|| std::env::consts::OS.to_string())
        )
    })
}

fn emergency_kit(server: &str, email: &str, secret_key: &str) -> String {
    format!(
        "CASTELLAN EMERGENCY KIT\n\
         =======================\n\
         Server:      {server}\n\
         Email:       {email}\n\
         Secret Key:  {secret_key}\n\
         Master password: ______________________ (write it here by hand)\n\n\
         You need the Secret Key and your master password to sign in on a new device.\n\
         Nobody, including your administrator and the server, can recover them for you.\n\
         Print this page or keep it somewhere safe and offline.\n"
    )
}

fn required<'a>(v: &'a Option<String>, what: &str) -> Result<&'a str> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ClientError::Invalid(format!("--{what} is required")).into())
}

pub async fn register(ctx: &Ctx, args: AccountArgs) -> Result<()> {
    let (server, reg, joined) = match &args.invite {
        Some(link) => {
            let link = InviteLink::parse(link)?;
            let server = args.server.clone().unwrap_or_else(|| link.server.clone());
            let password = prompt::master_password(true)?;
            let (reg, joined) = admin::register_with_invite(
                &ctx.home,
                &server,
                &link,
                args.email.as_deref(),
                &password,
                &device_name(&args),
            )
            .await?;
            (server, reg, Some(joined))
        }
        None => {
            let server = required(&args.server, "server")?.to_string();
            let email = required(&args.email, "email")?;
            let password = prompt::master_password(true)?;
            let (reg, _unlocked) =
                account::register(&ctx.home, &server, email, &password, &device_name(&args))
                    .await?;
            (server, reg, None)
        }
    };
    let kit = emergency_kit(server.trim_end_matches('/'), &reg.email, &reg.secret_key);
    if let Some(path) = &args.kit_file {
        write_private(path, kit.as_bytes()).with_context(|| {
            format!(
                "account created, but the kit could not be written to {}",
                path.display()
            )
        })?;
    }
    if let Some(j) = &joined {
        for w in &j.warnings {
            eprintln!("warning: {w}");
        }
    }
    if ctx.json {
        let mut v = json!({
            "user_id": reg.user_id,
            "email": reg.email,
            "server": server.trim_end_matches('/'),
            "secret_key": reg.secret_key.as_str(),
        });
        if let Some(j) = &joined {
            v["company"] = serde_json::to_value(j)?;
        }
        print_json(&v);
    } else {
        println!("Account created and this device is logged in.\n");
        println!("{kit}");
        if let Some(path) = &args.kit_file {
            println!("The Emergency Kit was also saved to {}.", path.display());
        }
        if let Some(j) = &joined {
            println!(
                "You joined {} as {}; an administrator confirms you next. Company key fingerprint: {}",
                j.company_name,
                super::admin::lower(j.role),
                j.fingerprint
            );
        }
    }
    Ok(())
}

fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

pub async fn login(ctx: &Ctx, args: AccountArgs) -> Result<()> {
    let server = required(&args.server, "server")?;
    let email = required(&args.email, "email")?;
    let existing = ctx.home.load_device()?;
    let password = prompt::master_password(false)?;
    let sk = match &existing {
        Some(s) if s.email.eq_ignore_ascii_case(email) => prompt::secret_key_from_env(),
        _ => prompt::secret_key()?,
    };
    if existing.is_none() && sk.is_none() {
        anyhow::bail!("the Secret Key is required on a new device: set CASTELLAN_SECRET_KEY or run in a terminal");
    }
    let totp = args.totp.clone();
    let mut code = move || -> castellan_client::ClientResult<Secret> {
        // No code and no terminal: the login needs one (exit 4, with a hint).
        prompt::totp_code(totp.as_deref())
            .map(|c| Secret::new(c.as_str()))
            .map_err(|_| ClientError::TwoFactorRequired {
                challenge: Secret::default(),
            })
    };
    let outcome = account::login_with(
        &ctx.home,
        server,
        email,
        &password,
        sk.as_deref().map(|s| s.as_str()),
        &device_name(&args),
        Some(&mut code),
    )
    .await?;
    let state = ctx.home.device()?;
    if let Some(n) = outcome.two_factor_grace_remaining {
        eprintln!(
            "warning: your company requires two-step verification; {n} login(s) left before you must set it up (`castellan 2fa enable`)"
        );
    }
    // The company's verified policy (an integrity failure is reported; an unreachable or
    // restricted organisation API is not an error for the login).
    let policy = match org::refresh_membership(&ctx.home).await {
        Ok(p) => p.map(|(_, eff)| eff),
        Err(e @ ClientError::Integrity(_)) => return Err(e.into()),
        Err(_) => org::pinned_own_policy(&ctx.home),
    };
    if let Some(p) = &policy {
        for w in &p.warnings {
            eprintln!("warning: {w}");
        }
    }
    let too_old = policy.as_ref().and_then(|p| {
        org::policy::password_too_old(&p.policies, outcome.password_changed_at, now())
    });
    let mut changed_password = false;
    let must_change = outcome.restriction.as_deref() == Some("password_change");
    if must_change || too_old.is_some() {
        let why = match too_old {
            Some(days) if !must_change => format!(
                "your master password is {days} days old, older than your company's policy allows"
            ),
            _ => "an administrator requires a new master password".to_string(),
        };
        if prompt::interactive()
            || std::env::var("CASTELLAN_NEW_PASSWORD").is_ok_and(|v| !v.is_empty())
        {
            eprintln!("{why}; choose a new one now.");
            let new = prompt::new_master_password()?;
            account::change_password_after_login(&ctx.home, &outcome.unlocked, &new).await?;
            changed_password = true;
        } else if must_change {
            return Err(ClientError::Api {
                status: 403,
                code: castellan_types::ErrorCode::PasswordChangeRequired,
                message: format!("logged in, but {why}"),
                current_version: None,
            }
            .into());
        } else {
            eprintln!("warning: {why}; run `castellan change-password`");
        }
    }
    if outcome.restriction.as_deref() == Some("two_factor_setup") {
        eprintln!(
            "note: your company requires two-step verification and this session can only set it up: run `castellan 2fa enable`"
        );
    }
    let unlocked = &outcome.unlocked;
    if ctx.json {
        print_json(&json!({
            "user_id": unlocked.user_id,
            "email": unlocked.email,
            "device_id": state.device_id,
            "server": state.server,
            "restriction": if changed_password { None } else { outcome.restriction.clone() },
            "two_factor_grace_remaining": outcome.two_factor_grace_remaining,
            "password_changed": changed_password,
        }));
    } else {
        println!("Logged in as {} on {}.", unlocked.email, state.server);
        if changed_password {
            println!("Master password changed.");
        }
    }
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub async fn logout(ctx: &Ctx, force: bool) -> Result<()> {
    ctx.home.device()?;
    let cache = castellan_client::cache::Cache::open(ctx.home.dir()).await?;
    let unsent = cache.pending().await?.len();
    cache.close().await;
    if unsent > 0 && !force {
        return Err(ClientError::Conflict(format!(
            "{unsent} change(s) made on this device have not reached the server; run `castellan sync` when it is reachable, or `castellan logout --force` to discard them"
        ))
        .into());
    }
    if let Some(mut agent) = castellan_agent::AgentClient::connect(&ctx.home).await {
        agent.stop().await?;
    }
    let confirmed = account::logout(&ctx.home).await?;
    if ctx.json {
        print_json(&json!({ "logged_out": true, "server_confirmed": confirmed }));
    } else if confirmed {
        println!("Logged out; the session is revoked and this device forgot the account.");
    } else {
        println!("This device forgot the account, but the server could not be reached to revoke the session.");
    }
    Ok(())
}

pub async fn lock(ctx: &Ctx) -> Result<()> {
    let mut state = ctx.home.device()?;
    if let Some(mut agent) = castellan_agent::AgentClient::connect(&ctx.home).await {
        agent.lock().await?;
    }
    state.locked = true;
    ctx.home.save_device(&state)?;
    if ctx.json {
        print_json(&json!({ "locked": true }));
    } else {
        println!("Locked. Run `castellan unlock` to use the vault again.");
    }
    Ok(())
}

pub async fn unlock(ctx: &Ctx) -> Result<()> {
    let password = prompt::master_password(false)?;
    let mut session = VaultSession::open(&ctx.home, &password, true).await?;
    session.state.locked = false;
    ctx.home.save_device(&session.state)?;
    if let Some(mut agent) = castellan_agent::AgentClient::connect(&ctx.home).await {
        agent.unlock(&password).await?;
    }
    if let Some(p) = org::pinned_own_policy(&ctx.home) {
        if let Some(days) = org::policy::password_too_old(
            &p.policies,
            session.state.account.password_changed_at,
            now(),
        ) {
            eprintln!("warning: your master password is {days} days old, older than your company's policy allows; run `castellan change-password`");
        }
    }
    if ctx.json {
        print_json(&json!({ "locked": false }));
    } else {
        println!("Unlocked.");
    }
    Ok(())
}

pub async fn status(ctx: &Ctx) -> Result<()> {
    let Some(state) = ctx.home.load_device()? else {
        if ctx.json {
            print_json(&json!({ "logged_in": false, "home": ctx.home.dir() }));
        } else {
            println!("Not logged in (home: {}).", ctx.home.dir().display());
        }
        return Ok(());
    };
    let api = ApiClient::new(&state.server)?.with_token(state.session_token.clone());
    let (reachable, session_valid) = match api.account().await {
        Ok(_) => (true, true),
        Err(ClientError::Unreachable { .. }) => (false, false),
        Err(_) => (true, false),
    };
    let fingerprint = castellan_client::org::fingerprint_display(
        &castellan_client::org::keys::member_fingerprint(
            state.account.keyset.signing_public_key.as_slice(),
            state.account.keyset.encryption_public_key.as_slice(),
        ),
    );
    if ctx.json {
        print_json(&json!({
            "fingerprint": fingerprint,
            "logged_in": true,
            "server": state.server,
            "email": state.email,
            "user_id": state.user_id,
            "device_id": state.device_id,
            "home": ctx.home.dir(),
            "locked": state.locked,
            "server_reachable": reachable,
            "session_valid": session_valid,
        }));
    } else {
        println!("Account:  {} ({})", state.email, state.user_id);
        println!(
            "Server:   {} ({})",
            state.server,
            if reachable {
                "reachable"
            } else {
                "unreachable"
            }
        );
        println!(
            "Session:  {}",
            if session_valid {
                "valid"
            } else if reachable {
                "expired or revoked; run `castellan login`"
            } else {
                "unknown"
            }
        );
        println!(
            "Vault:    {}",
            if state.locked { "locked" } else { "unlocked" }
        );
        println!(
            "Device:   {} (home {})",
            state.device_id,
            ctx.home.dir().display()
        );
        println!("Key fingerprint: {fingerprint}");
    }
    Ok(())
}

pub async fn change_password(ctx: &Ctx) -> Result<()> {
    if ctx.home.device()?.locked {
        return Err(ClientError::Locked.into());
    }
    let old = prompt::master_password(false)?;
    let session = VaultSession::open(&ctx.home, &old, false).await?;
    let new = prompt::new_master_password()?;
    let mut code = || -> castellan_client::ClientResult<Secret> {
        prompt::totp_code(None)
            .map(|c| Secret::new(c.as_str()))
            .map_err(|e| ClientError::Invalid(e.to_string()))
    };
    let revoked =
        account::change_password_with(&ctx.home, &session.account, &old, &new, Some(&mut code))
            .await?;
    if ctx.json {
        print_json(&json!({ "changed": true, "revoked_sessions": revoked }));
    } else {
        println!("Master password changed. {revoked} other session(s) were signed out; your Secret Key is unchanged.");
    }
    Ok(())
}

pub async fn sessions(ctx: &Ctx, cmd: SessionsCommand) -> Result<()> {
    let state = ctx.home.device()?;
    let api = ApiClient::new(&state.server)?.with_token(state.session_token.clone());
    match cmd {
        SessionsCommand::List => {
            let list = api.sessions().await?;
            if ctx.json {
                print_json(&serde_json::to_value(&list.sessions)?);
            } else {
                for s in &list.sessions {
                    println!(
                        "{}  {}{}",
                        s.id,
                        s.device_name,
                        if s.current { "  (this device)" } else { "" }
                    );
                }
            }
        }
        SessionsCommand::Revoke { id } => {
            let id: uuid::Uuid = id
                .parse()
                .map_err(|_| ClientError::Invalid(format!("{id:?} is not a session id")))?;
            api.revoke_session(id).await?;
            if ctx.json {
                print_json(&json!({ "revoked": id }));
            } else {
                println!("Session {id} revoked.");
            }
        }
    }
    Ok(())
}
