//! register, login, logout, lock, unlock, status, change-password, sessions.

use anyhow::{Context as _, Result};
use castellan_client::account;
use castellan_client::api::ApiClient;
use castellan_client::vault::VaultSession;
use castellan_client::ClientError;
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

pub async fn register(ctx: &Ctx, args: AccountArgs) -> Result<()> {
    let password = prompt::master_password(true)?;
    let (reg, _unlocked) = account::register(
        &ctx.home,
        &args.server,
        &args.email,
        &password,
        &device_name(&args),
    )
    .await?;
    let kit = emergency_kit(
        args.server.trim_end_matches('/'),
        &reg.email,
        &reg.secret_key,
    );
    if let Some(path) = &args.kit_file {
        write_private(path, kit.as_bytes()).with_context(|| {
            format!(
                "account created, but the kit could not be written to {}",
                path.display()
            )
        })?;
    }
    if ctx.json {
        print_json(&json!({
            "user_id": reg.user_id,
            "email": reg.email,
            "server": args.server.trim_end_matches('/'),
            "secret_key": reg.secret_key.as_str(),
        }));
    } else {
        println!("Account created and this device is logged in.\n");
        println!("{kit}");
        if let Some(path) = &args.kit_file {
            println!("The Emergency Kit was also saved to {}.", path.display());
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
    let existing = ctx.home.load_device()?;
    let password = prompt::master_password(false)?;
    let sk = match &existing {
        Some(s) if s.email.eq_ignore_ascii_case(args.email.trim()) => prompt::secret_key_from_env(),
        _ => prompt::secret_key()?,
    };
    if existing.is_none() && sk.is_none() {
        anyhow::bail!("the Secret Key is required on a new device: set CASTELLAN_SECRET_KEY or run in a terminal");
    }
    let unlocked = account::login(
        &ctx.home,
        &args.server,
        &args.email,
        &password,
        sk.as_deref().map(|s| s.as_str()),
        &device_name(&args),
    )
    .await?;
    let state = ctx.home.device()?;
    if ctx.json {
        print_json(
            &json!({ "user_id": unlocked.user_id, "email": unlocked.email, "device_id": state.device_id, "server": state.server }),
        );
    } else {
        println!("Logged in as {} on {}.", unlocked.email, state.server);
    }
    Ok(())
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
    if ctx.json {
        print_json(&json!({
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
    let revoked = account::change_password(&ctx.home, &session.account, &old, &new).await?;
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
