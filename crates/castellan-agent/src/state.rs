//! The agent's shared state: the keys (in memory only), activity, sync results.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use castellan_client::account::UnlockedAccount;
use castellan_client::home::Home;
use tokio::sync::{mpsc, watch};

use crate::paths::AgentPaths;
use crate::protocol::AgentStatus;

/// The message a 401 from the push endpoint leaves in `last_error`.
pub(crate) const SESSION_EXPIRED: &str = "session expired; run castellan login";

pub(crate) struct Agent {
    pub home: Home,
    pub paths: AgentPaths,
    pub interval: Duration,
    pub lock_after: Duration,
    pub push: bool,
    inner: Mutex<Inner>,
    /// Held while a sync runs: at most one sync in flight.
    pub sync_lock: tokio::sync::Mutex<()>,
    /// Sync triggers (capacity 1: a burst of hints queues one sync).
    sync_tx: mpsc::Sender<()>,
    /// Whether keys are held; the push task follows it.
    unlocked_tx: watch::Sender<bool>,
    /// Set once, when the agent stops.
    shutdown_tx: watch::Sender<bool>,
}

#[derive(Default)]
struct Inner {
    /// The unlocked account. An in-flight sync holds a clone of the `Arc`, so after a lock
    /// the keys live until that sync returns, then are zeroized on drop.
    account: Option<Arc<UnlockedAccount>>,
    last_activity: Option<Instant>,
    push_connected: bool,
    last_sync_at: Option<i64>,
    last_sync: Option<serde_json::Value>,
    last_error: Option<String>,
    syncs: u64,
    files_removed: bool,
    /// The company policy's maximum vault timeout (verified, from the device's pins).
    policy_lock_cap: Option<Duration>,
}

/// The outcome of one sync attempt, recorded in the state.
pub(crate) enum SyncOutcome {
    /// The sync reached the server.
    Done(serde_json::Value),
    /// The sync ran but could not reach the server (the report says `offline`).
    Offline(serde_json::Value),
    Failed(String),
}

pub(crate) struct Channels {
    pub sync_rx: mpsc::Receiver<()>,
    pub shutdown_rx: watch::Receiver<bool>,
}

impl Agent {
    pub fn new(
        home: Home,
        interval: Duration,
        lock_after: Duration,
        push: bool,
    ) -> (Arc<Agent>, Channels) {
        let (sync_tx, sync_rx) = mpsc::channel(1);
        let (unlocked_tx, _) = watch::channel(false);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let agent = Agent {
            paths: AgentPaths::for_home(&home),
            home,
            interval,
            lock_after,
            push,
            inner: Mutex::new(Inner::default()),
            sync_lock: tokio::sync::Mutex::new(()),
            sync_tx,
            unlocked_tx,
            shutdown_tx,
        };
        (
            Arc::new(agent),
            Channels {
                sync_rx,
                shutdown_rx,
            },
        )
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe_shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    pub fn subscribe_unlocked(&self) -> watch::Receiver<bool> {
        self.unlocked_tx.subscribe()
    }

    pub fn shutdown(&self) {
        self.shutdown_tx.send_replace(true);
    }

    pub fn is_unlocked(&self) -> bool {
        self.inner().account.is_some()
    }

    pub fn account(&self) -> Option<Arc<UnlockedAccount>> {
        self.inner().account.clone()
    }

    pub fn set_account(&self, account: UnlockedAccount) {
        {
            let mut inner = self.inner();
            inner.account = Some(Arc::new(account));
            inner.last_activity = Some(Instant::now());
        }
        self.unlocked_tx.send_replace(true);
        tracing::info!("unlocked");
    }

    /// Drops the keys (zeroized as soon as no sync holds them).
    pub fn lock(&self, reason: &str) {
        let was = self.inner().account.take();
        self.unlocked_tx.send_replace(false);
        if was.is_some() {
            tracing::info!(reason, "locked");
        }
    }

    /// Records a request that keeps the agent unlocked.
    pub fn touch(&self) {
        self.inner().last_activity = Some(Instant::now());
    }

    /// Re-reads the company's verified maximum vault timeout from the device state.
    pub fn refresh_policy_cap(&self) {
        let cap = castellan_client::org::pinned_own_policy(&self.home)
            .and_then(|p| castellan_client::org::policy::max_vault_timeout(&p.policies));
        let mut inner = self.inner();
        if inner.policy_lock_cap != cap {
            tracing::info!(
                cap_secs = cap.map(|c| c.as_secs()),
                "company policy: maximum vault timeout"
            );
            inner.policy_lock_cap = cap;
        }
    }

    /// The idle time after which the keys are dropped: `--lock-after`, never longer than the
    /// company policy's maximum vault timeout.
    pub fn effective_lock_after(&self) -> Duration {
        let cap = self.inner().policy_lock_cap;
        match cap {
            Some(c) => self.lock_after.min(c),
            None => self.lock_after,
        }
    }

    /// Locks when unlocked and idle for the effective lock time. Returns whether it locked.
    pub fn lock_if_idle(&self) -> bool {
        let lock_after = self.effective_lock_after();
        let idle = {
            let inner = self.inner();
            inner.account.is_some()
                && inner
                    .last_activity
                    .is_none_or(|t| t.elapsed() >= lock_after)
        };
        if idle {
            self.lock("idle timeout");
        }
        idle
    }

    /// Asks for a sync soon; coalesced with any sync already queued.
    pub fn trigger_sync(&self) {
        let _ = self.sync_tx.try_send(());
    }

    pub fn set_push_connected(&self, connected: bool) {
        self.inner().push_connected = connected;
    }

    pub fn set_error(&self, message: impl Into<String>) {
        self.inner().last_error = Some(message.into());
    }

    pub fn record_sync(&self, outcome: &SyncOutcome) {
        let mut inner = self.inner();
        match outcome {
            SyncOutcome::Done(report) => {
                inner.last_sync_at = Some(unix_now());
                inner.last_sync = Some(report.clone());
                inner.last_error = None;
                inner.syncs += 1;
            }
            SyncOutcome::Offline(report) => {
                inner.last_sync = Some(report.clone());
                inner.last_error = Some("the server is unreachable; will retry".into());
            }
            SyncOutcome::Failed(message) => inner.last_error = Some(message.clone()),
        }
    }

    pub fn status(&self) -> AgentStatus {
        // Before taking the lock: effective_lock_after takes it too.
        let lock_after = self.effective_lock_after();
        let inner = self.inner();
        AgentStatus {
            unlocked: inner.account.is_some(),
            pid: std::process::id(),
            interval_secs: self.interval.as_secs(),
            lock_after_secs: lock_after.as_secs(),
            push: self.push,
            push_connected: inner.push_connected,
            last_sync_at: inner.last_sync_at,
            last_sync: inner.last_sync.clone(),
            last_error: inner.last_error.clone(),
            syncs: inner.syncs,
        }
    }

    /// Removes the socket and the pid file, once (a later agent may already own new ones).
    pub fn remove_files(&self) {
        {
            let mut inner = self.inner();
            if inner.files_removed {
                return;
            }
            inner.files_removed = true;
        }
        if let Err(e) = std::fs::remove_file(&self.paths.socket) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, "cannot remove the agent socket");
            }
        }
        let ours = std::fs::read_to_string(&self.paths.pid)
            .is_ok_and(|s| s.trim() == std::process::id().to_string());
        if ours {
            let _ = std::fs::remove_file(&self.paths.pid);
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_company_policy_caps_the_idle_lock_and_status_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        let (agent, _channels) = Agent::new(
            Home::new(dir.path()),
            Duration::from_secs(300),
            Duration::from_secs(900),
            false,
        );
        // No device state, no policy: --lock-after applies.
        agent.refresh_policy_cap();
        assert_eq!(agent.effective_lock_after(), Duration::from_secs(900));
        assert_eq!(agent.status().lock_after_secs, 900);
        // A policy of 5 minutes caps it; a longer one does not extend it.
        agent.inner().policy_lock_cap = Some(Duration::from_secs(300));
        assert_eq!(agent.effective_lock_after(), Duration::from_secs(300));
        assert_eq!(agent.status().lock_after_secs, 300);
        agent.inner().policy_lock_cap = Some(Duration::from_secs(3600));
        assert_eq!(agent.effective_lock_after(), Duration::from_secs(900));
    }
}
