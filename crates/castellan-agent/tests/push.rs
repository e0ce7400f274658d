//! Push hints. A proxy in front of the real server serves a scripted `/api/v1/events` stream
//! (so hints, reconnects and 401 can be driven), and one test uses the server's own endpoint.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use castellan_agent::AgentConfig;
use castellan_client::home::Home;
use common::*;
use tokio::sync::mpsc;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    unauthorized: Arc<Mutex<bool>>,
    streams: Arc<Mutex<Vec<mpsc::UnboundedSender<Bytes>>>>,
    connects: Arc<AtomicUsize>,
}

impl Proxy {
    fn send(&self, bytes: &'static [u8]) {
        for tx in self.streams.lock().unwrap().iter() {
            let _ = tx.send(Bytes::from_static(bytes));
        }
    }
    /// Ends every open event stream (the server "restarts").
    fn drop_streams(&self) {
        self.streams.lock().unwrap().clear();
    }
    fn connects(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }
}

async fn events(State(p): State<Proxy>, headers: HeaderMap) -> Response {
    p.connects.fetch_add(1, Ordering::SeqCst);
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 7);
    if !bearer || *p.unauthorized.lock().unwrap() {
        return (
            StatusCode::UNAUTHORIZED,
            [("content-type", "application/json")],
            r#"{"error":{"code":"unauthorized","message":"no session"}}"#,
        )
            .into_response();
    }
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    p.streams.lock().unwrap().push(tx);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn forward(
    State(p): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!(
        "{}{}",
        p.upstream,
        uri.path_and_query().map(|x| x.as_str()).unwrap_or("/")
    );
    let mut req = p
        .http
        .request(
            reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
            url,
        )
        .body(body.to_vec());
    for name in ["authorization", "content-type", "if-match", "if-none-match"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.to_str().unwrap());
        }
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let bytes = resp.bytes().await.unwrap_or_default();
    (status, [("content-type", content_type)], bytes.to_vec()).into_response()
}

async fn proxy(upstream: &str) -> (Proxy, String) {
    let p = Proxy {
        upstream: upstream.to_string(),
        http: reqwest::Client::new(),
        unauthorized: Arc::new(Mutex::new(false)),
        streams: Arc::new(Mutex::new(Vec::new())),
        connects: Arc::new(AtomicUsize::new(0)),
    };
    let app = axum::Router::new()
        .route("/api/v1/events", axum::routing::get(events))
        .fallback(forward)
        .with_state(p.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (p, url)
}

fn push_config(home: &Home) -> AgentConfig {
    AgentConfig {
        push: true,
        ..AgentConfig::new(home.clone())
    }
}

/// Waits until the push stream is up and the syncs it caused are done; returns the count.
async fn settled_syncs(home: &Home) -> u64 {
    wait_status(home, 10, "push connected and a first sync", |s| {
        s.push_connected && s.syncs >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client(home).await.status().await.unwrap().syncs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_trigger_coalesced_syncs() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path()).await;
    let (p, url) = proxy(&server.url).await;
    let h = registered_home(&url, "hints@example.com").await;
    let agent = TestAgent::start(push_config(&h.home)).await;
    let mut c = client(&h.home).await;
    assert!(
        !c.status().await.unwrap().push_connected,
        "push only while unlocked"
    );
    c.unlock(PW).await.unwrap();

    let before = settled_syncs(&h.home).await;
    p.send(b": keep-alive\n\n");
    p.send(b"event: other\ndata: {}\n\n");
    p.send(b"event: change\r\n");
    p.send(b"data: {\"cursor\": 5}\r\n\r\n");
    wait_status(&h.home, 5, "a sync after the hint", |s| s.syncs > before).await;

    // A burst of hints gives one sync in flight and at most one queued.
    let before = settled_syncs(&h.home).await;
    for _ in 0..20 {
        p.send(b"event: change\ndata: {\"cursor\": 6}\n\n");
    }
    wait_status(&h.home, 5, "a sync after the burst", |s| s.syncs > before).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = c.status().await.unwrap().syncs;
    assert!(
        after - before <= 2,
        "{} syncs for one burst",
        after - before
    );

    // Locking closes the stream.
    c.lock().await.unwrap();
    wait_status(&h.home, 5, "push disconnected", |s| !s.push_connected).await;
    agent.shutdown().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_a_drop_and_reports_an_expired_session() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path()).await;
    let (p, url) = proxy(&server.url).await;
    let h = registered_home(&url, "reconnect@example.com").await;
    let agent = TestAgent::start(push_config(&h.home)).await;
    let mut c = client(&h.home).await;
    c.unlock(PW).await.unwrap();
    settled_syncs(&h.home).await;
    let connects = p.connects();

    // The stream ends: the agent reconnects within the first backoff step (at most 1 s).
    p.drop_streams();
    wait_status(&h.home, 5, "push reconnected", |s| {
        s.push_connected && p.connects() > connects
    })
    .await;
    // And the hints work on the new stream.
    let before = settled_syncs(&h.home).await;
    p.send(b"event: change\ndata: {\"cursor\": 9}\n\n");
    wait_status(&h.home, 5, "a sync after the hint", |s| s.syncs > before).await;

    // The session is refused: push stops with a clear error, the agent keeps running.
    *p.unauthorized.lock().unwrap() = true;
    p.drop_streams();
    let s = wait_status(&h.home, 10, "the session error", |s| {
        s.last_error.as_deref() == Some("session expired; run castellan login")
    })
    .await;
    assert!(!s.push_connected);
    assert!(s.unlocked);
    agent.shutdown().await;
    server.stop().await;
}

/// Uses the server's own `/api/v1/events`: a write from another device reaches the agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_another_device_triggers_a_sync_via_the_real_server() {
    use castellan_client::item::{ItemData, ItemType};
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path()).await;
    let h = registered_home(&server.url, "realpush@example.com").await;
    let other = empty_home();
    castellan_client::account::login(
        &other.home,
        &server.url,
        "realpush@example.com",
        PW,
        h.secret_key.as_deref(),
        "second device",
    )
    .await
    .unwrap();

    let agent = TestAgent::start(push_config(&h.home)).await;
    let mut c = client(&h.home).await;
    c.unlock(PW).await.unwrap();
    let before = settled_syncs(&h.home).await;

    let mut session = castellan_client::vault::VaultSession::open(&other.home, PW, false)
        .await
        .unwrap();
    let item = ItemData::new(ItemType::Login, "pushed", 1).unwrap();
    session
        .create_item(castellan_types::VaultKindDto::Personal, &item)
        .await
        .unwrap();
    let s = wait_status(&h.home, 5, "a sync after the other device's write", |s| {
        s.syncs > before
    })
    .await;
    let pulled = s.last_sync.as_ref().and_then(|r| r["pulled"].as_u64());
    assert!(pulled.is_some_and(|n| n >= 1), "{s:?}");
    agent.shutdown().await;
    server.stop().await;
}
