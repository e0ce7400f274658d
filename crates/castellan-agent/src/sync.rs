//! Running syncs: on request, every `interval` while unlocked, and soon after a push hint.

use std::sync::Arc;
use std::time::Duration;

use castellan_client::account::UnlockedAccount;
use castellan_client::home::Home;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, Instant};

use crate::state::{Agent, SyncOutcome};

/// How long a push hint waits for more hints before its sync starts.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// The one call into the client library's sync.
async fn run_sync(home: &Home, account: &UnlockedAccount) -> Result<serde_json::Value, String> {
    let result = match castellan_client::sync::sync_now(home, account).await {
        Ok(report) => serde_json::to_value(&report).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if result.is_ok() {
        // Keep the verified company policy current (its vault timeout caps the idle lock);
        // best effort: a failure leaves the last verified policy in force.
        if let Err(e) = castellan_client::org::refresh_membership(home).await {
            tracing::warn!(error = %e, "company policy not refreshed");
        }
    }
    result
}

/// Why [`sync_once`] did not produce a report.
pub(crate) enum SyncError {
    Locked,
    Failed(String),
}

/// Runs one sync now (waiting for one in flight to finish first) and records its outcome.
/// An offline report is returned as a report (with `"offline": true`).
pub(crate) async fn sync_once(agent: &Agent, why: &str) -> Result<serde_json::Value, SyncError> {
    let _running = agent.sync_lock.lock().await;
    let Some(account) = agent.account() else {
        return Err(SyncError::Locked);
    };
    let started = std::time::Instant::now();
    let result = run_sync(&agent.home, &account).await;
    drop(account);
    agent.refresh_policy_cap();
    let outcome = match result {
        Ok(report) if report.get("offline").and_then(|v| v.as_bool()) == Some(true) => {
            SyncOutcome::Offline(report)
        }
        Ok(report) => SyncOutcome::Done(report),
        Err(message) => SyncOutcome::Failed(message),
    };
    agent.record_sync(&outcome);
    let ms = started.elapsed().as_millis() as u64;
    match outcome {
        SyncOutcome::Done(report) => {
            tracing::info!(why, ms, report = %report, "synced");
            Ok(report)
        }
        SyncOutcome::Offline(report) => {
            tracing::warn!(why, ms, "sync: the server is unreachable; will retry");
            Ok(report)
        }
        SyncOutcome::Failed(message) => {
            tracing::warn!(why, ms, error = %message, "sync failed; will retry");
            Err(SyncError::Failed(message))
        }
    }
}

/// The background sync loop: every `interval` (skipped while locked) and after each trigger.
pub(crate) async fn sync_loop(
    agent: Arc<Agent>,
    mut triggers: mpsc::Receiver<()>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut next_tick = Instant::now() + agent.interval;
    loop {
        let why = tokio::select! {
            _ = tokio::time::sleep_until(next_tick) => "interval",
            t = triggers.recv() => {
                if t.is_none() {
                    return;
                }
                // Let a burst of hints arrive, then serve them all with one sync.
                sleep(DEBOUNCE).await;
                while triggers.try_recv().is_ok() {}
                "hint"
            }
            _ = shutdown.changed() => return,
        };
        next_tick = Instant::now() + agent.interval;
        if !agent.is_unlocked() {
            continue;
        }
        let _ = sync_once(&agent, why).await;
        next_tick = Instant::now() + agent.interval;
    }
}
