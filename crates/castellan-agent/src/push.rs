//! Push hints: a server-sent events subscription to `GET {server}/api/v1/events`.
//!
//! Each `change` event (data `{"cursor": N}`) asks for a sync soon; hints are coalesced by the
//! sync loop. The stream is open only while the agent is unlocked. On failure it reconnects
//! with exponential backoff (1 s doubling to 60 s, with jitter), reset after a connection
//! succeeds. A 401 records "session expired; run castellan login" and retries at the maximum
//! backoff; the session token is re-read from the device state on every attempt, so a new login
//! is picked up.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rand::Rng;
use reqwest::header::{ACCEPT, CACHE_CONTROL};
use reqwest::StatusCode;
use tokio::sync::watch;
use tokio::time::timeout;

use crate::sse::{SseEvent, SseParser};
use crate::state::{Agent, SESSION_EXPIRED};

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long to wait for the response headers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A stream that sends nothing (not even a keep-alive comment) this long is considered dead.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Why a subscription ended.
enum PushEnd {
    /// The server refused the session (or this device has none).
    Unauthorized,
    /// Anything else; `connected` tells whether the stream had been established.
    Failed { connected: bool, reason: String },
}

struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Backoff { next: MIN_BACKOFF }
    }
    fn reset(&mut self) {
        self.next = MIN_BACKOFF;
    }
    fn step(&mut self) -> Duration {
        let d = self.next;
        self.next = (d * 2).min(MAX_BACKOFF);
        jitter(d)
    }
}

/// A delay between half and all of `d`.
fn jitter(d: Duration) -> Duration {
    let half = d / 2;
    let extra = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(extra)
}

/// Runs until the agent shuts down.
pub(crate) async fn push_loop(agent: Arc<Agent>) {
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("castellan-agent/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "push disabled: cannot build an HTTP client");
            return;
        }
    };
    let mut unlocked = agent.subscribe_unlocked();
    let mut shutdown = agent.subscribe_shutdown();
    let mut backoff = Backoff::new();
    let mut last_reason: Option<String> = None;
    loop {
        if !wait_for(&mut unlocked, true, &mut shutdown).await {
            return;
        }
        let end = tokio::select! {
            end = subscribe(&agent, &http) => Some(end),
            _ = wait_for(&mut unlocked, false, &mut shutdown) => None,
        };
        agent.set_push_connected(false);
        let delay = match end {
            // Locked (or shutting down): the next turn waits for an unlock.
            None => {
                backoff.reset();
                continue;
            }
            Some(PushEnd::Unauthorized) => {
                if last_reason.as_deref() != Some(SESSION_EXPIRED) {
                    tracing::warn!("push: {SESSION_EXPIRED}");
                }
                last_reason = Some(SESSION_EXPIRED.into());
                agent.set_error(SESSION_EXPIRED);
                backoff.next = MAX_BACKOFF;
                jitter(MAX_BACKOFF)
            }
            Some(PushEnd::Failed { connected, reason }) => {
                if connected {
                    backoff.reset();
                }
                if last_reason.as_deref() != Some(reason.as_str()) {
                    tracing::warn!(%reason, "push stream lost; reconnecting");
                } else {
                    tracing::debug!(%reason, "push stream lost; reconnecting");
                }
                last_reason = Some(reason);
                backoff.step()
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Waits until the unlocked flag equals `want`; false when the agent shuts down first.
async fn wait_for(
    unlocked: &mut watch::Receiver<bool>,
    want: bool,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    loop {
        if *shutdown.borrow() {
            return false;
        }
        if *unlocked.borrow_and_update() == want {
            return true;
        }
        tokio::select! {
            r = unlocked.changed() => if r.is_err() { return false; },
            _ = shutdown.changed() => return false,
        }
    }
}

/// Round-robin over the server's instances across reconnections.
static NEXT_INSTANCE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One subscription: connects, then reads events until the stream fails.
async fn subscribe(agent: &Agent, http: &reqwest::Client) -> PushEnd {
    let failed = |reason: String| PushEnd::Failed {
        connected: false,
        reason,
    };
    let device = match agent.home.device() {
        Ok(d) => d,
        Err(castellan_client::ClientError::NotLoggedIn) => return PushEnd::Unauthorized,
        Err(e) => return failed(e.to_string()),
    };
    let Some(token) = device.session_token else {
        return PushEnd::Unauthorized;
    };
    // With several server instances, each reconnection tries the next one.
    let urls = match castellan_client::api::server_urls(&device.server) {
        Ok(u) => u,
        Err(e) => return failed(e.to_string()),
    };
    let pick = NEXT_INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % urls.len();
    let url = format!("{}{}/events", urls[pick], castellan_types::API_PREFIX);
    let request = http
        .get(&url)
        .bearer_auth(token)
        .header(ACCEPT, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache");
    let response = match timeout(CONNECT_TIMEOUT, request.send()).await {
        Err(_) => return failed("timed out connecting".into()),
        Ok(Err(e)) => return failed(short(&e)),
        Ok(Ok(r)) => r,
    };
    match response.status() {
        StatusCode::UNAUTHORIZED => return PushEnd::Unauthorized,
        s if !s.is_success() => return failed(format!("HTTP {} from {url}", s.as_u16())),
        _ => {}
    }
    agent.set_push_connected(true);
    tracing::info!("push connected");
    // Hints may have been missed while disconnected.
    agent.trigger_sync();

    let lost = |reason: String| PushEnd::Failed {
        connected: true,
        reason,
    };
    let mut stream = response.bytes_stream();
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    loop {
        let chunk = match timeout(IDLE_TIMEOUT, stream.next()).await {
            Err(_) => return lost("no data or keep-alive for 90 s".into()),
            Ok(None) => return lost("the server closed the stream".into()),
            Ok(Some(Err(e))) => return lost(short(&e)),
            Ok(Some(Ok(bytes))) => bytes,
        };
        if parser.push(&chunk, &mut events).is_err() {
            return lost("an event line was too long".into());
        }
        for event in events.drain(..) {
            handle_event(agent, event);
        }
    }
}

fn handle_event(agent: &Agent, event: SseEvent) {
    if event.event != "change" {
        tracing::debug!(event = %event.event, "push: ignoring event");
        return;
    }
    let cursor = serde_json::from_str::<serde_json::Value>(&event.data)
        .ok()
        .and_then(|v| v.get("cursor").and_then(|c| c.as_i64()));
    tracing::debug!(?cursor, "push: change");
    agent.trigger_sync();
}

fn short(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused or host unreachable".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        let mut s = e.to_string();
        s.truncate(200);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter() {
        let mut b = Backoff::new();
        let mut caps = Vec::new();
        for _ in 0..9 {
            let cap = b.next;
            let d = b.step();
            assert!(
                d >= cap / 2 && d <= cap,
                "{d:?} outside [{:?}, {cap:?}]",
                cap / 2
            );
            caps.push(cap.as_secs());
        }
        assert_eq!(caps, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        b.reset();
        assert_eq!(b.next, MIN_BACKOFF);
    }
}
