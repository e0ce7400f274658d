//! `castellan sync` and `castellan sync --status`.

use anyhow::Result;
use castellan_client::api::ApiClient;
use castellan_client::cache::{Cache, PendingState};
use castellan_client::sync::SyncReport;
use castellan_client::ClientError;
use castellan_types::ObjectKindDto;
use serde_json::json;

use super::Ctx;
use crate::output::{fmt_time, print_json};

pub async fn run(ctx: &Ctx, status_only: bool) -> Result<()> {
    if status_only {
        return status(ctx).await;
    }
    let state = ctx.home.device()?;
    // With an unlocked agent, the agent runs the sync (it owns the keys and the schedule).
    let mut from_agent = None;
    if !state.locked {
        if let Some(mut a) = castellan_agent::AgentClient::connect(&ctx.home).await {
            if a.status().await.map(|s| s.unlocked).unwrap_or(false) {
                // An agent error falls back to syncing here, which reports it with its own
                // exit code (integrity, session, ...).
                from_agent = a.sync().await.ok();
            }
        }
    }
    let report: SyncReport = match from_agent {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| anyhow::anyhow!("unexpected answer from the agent: {e}"))?,
        None => ctx.session().await?.sync().await?,
    };
    if ctx.json {
        print_json(&serde_json::to_value(&report)?);
    } else if report.offline {
        println!("The server is unreachable; {} change(s) stay queued on this device and will be sent when it is back.", report.pending);
    } else {
        println!(
            "Synced: {} change(s) received, {} sent{}.",
            report.pulled,
            report.pushed,
            if report.conflicts > 0 {
                format!(", {} merged with edits from elsewhere", report.conflicts)
            } else {
                String::new()
            }
        );
    }
    if report.offline {
        return Err(ClientError::Unreachable {
            url: state.server.clone(),
            detail: "changes stay queued".into(),
        }
        .into());
    }
    Ok(())
}

async fn status(ctx: &Ctx) -> Result<()> {
    let state = ctx.home.device()?;
    let cache = Cache::open(ctx.home.dir()).await?;
    let pending = cache.pending().await?;
    let objects = cache.objects().await?;
    let last_sync_at: Option<i64> = cache
        .meta("last_sync_at")
        .await?
        .and_then(|v| v.parse().ok());
    let cursor: i64 = cache
        .meta("cursor")
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    cache.close().await;
    let queued: std::collections::HashSet<_> = pending.iter().map(|p| p.object_id).collect();
    let synced = objects
        .iter()
        .filter(|o| o.kind == ObjectKindDto::Item && !queued.contains(&o.id))
        .count();
    let reachable = ApiClient::new(&state.server)?.health().await.is_ok();
    // Changes that could not be sent count as offline while the server is unreachable, and as
    // pending (about to be sent) once it answers.
    let failed = if reachable {
        0
    } else {
        pending
            .iter()
            .filter(|p| p.state == PendingState::Failed)
            .count()
    };
    let waiting = pending.len() - failed;
    let last_error = pending.iter().find_map(|p| p.last_error.clone());
    if ctx.json {
        print_json(&json!({
            "synced": synced,
            "pending": waiting,
            "offline": failed,
            "last_sync_at": last_sync_at,
            "cursor": cursor,
            "server": state.server,
            "server_reachable": reachable,
            "last_error": last_error,
        }));
    } else {
        println!(
            "Server:     {} ({})",
            state.server,
            if reachable {
                "reachable"
            } else {
                "unreachable"
            }
        );
        println!("Synced:     {synced} item(s)");
        println!("Pending:    {waiting} change(s) being sent");
        println!("Offline:    {failed} change(s) that could not be sent yet");
        match last_sync_at {
            Some(t) => println!("Last sync:  {}", fmt_time(t)),
            None => println!("Last sync:  never"),
        }
        if let Some(e) = last_error {
            println!("Last error: {e}");
        }
    }
    Ok(())
}
