//! The agent with a real account on a real in-process server.

mod common;

use std::time::Duration;

use castellan_agent::{AgentClient, AgentConfig, AgentError, AgentPaths, ErrorCode, Request};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_keys_lock_stop() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path()).await;
    let h = registered_home(&server.url, "keys@example.com").await;
    let agent = TestAgent::start(config(&h.home)).await;
    let mut c = client(&h.home).await;

    assert!(matches!(
        c.unlock("not the password").await,
        Err(AgentError::WrongPassword)
    ));
    let r = c
        .request(Request::Unlock {
            password: castellan_agent::protocol::Secret::new("still wrong"),
        })
        .await
        .unwrap();
    assert_eq!(r.code, Some(ErrorCode::WrongPassword));
    assert!(c.keys().await.unwrap().is_none());

    c.unlock(PW).await.unwrap();
    let ak = c.keys().await.unwrap().expect("unlocked");
    let (_, local) = castellan_client::account::unlock_local(&h.home, PW).unwrap();
    assert_eq!(ak.expose_secret(), local.ak.expose_secret());
    let s = c.status().await.unwrap();
    assert!(s.unlocked);

    // A sync on request reaches the server.
    let report = c.sync().await.unwrap();
    assert_eq!(report["offline"], serde_json::json!(false), "{report}");
    let s = c.status().await.unwrap();
    assert!(s.syncs >= 1);
    assert!(s.last_sync_at.is_some());
    assert_eq!(s.last_error, None);

    c.lock().await.unwrap();
    assert!(c.keys().await.unwrap().is_none());
    assert!(!c.status().await.unwrap().unlocked);

    // A second connection sees the same agent; stop from it.
    c.unlock(PW).await.unwrap();
    let mut c2 = client(&h.home).await;
    c2.stop().await.unwrap();
    let paths = AgentPaths::for_home(&h.home);
    assert!(!paths.socket.exists());
    assert!(!paths.pid.exists());
    assert!(AgentClient::connect(&h.home).await.is_none());
    // The first connection was closed by the exiting agent.
    assert!(c.status().await.is_err());
    tokio::time::timeout(Duration::from_secs(5), agent.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_after_idle_timeout() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path()).await;
    let h = registered_home(&server.url, "idle@example.com").await;
    let agent = TestAgent::start(AgentConfig {
        lock_after: Duration::from_secs(1),
        ..config(&h.home)
    })
    .await;
    let mut c = client(&h.home).await;
    c.unlock(PW).await.unwrap();
    // Activity keeps it unlocked.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(c.keys().await.unwrap().is_some());
    }
    // Status is not activity: it locks about a second after the last `keys`.
    let s = wait_status(&h.home, 5, "the idle lock", |s| !s.unlocked).await;
    assert_eq!(s.lock_after_secs, 1);
    assert!(c.keys().await.unwrap().is_none());
    agent.shutdown().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_the_server_going_down_and_coming_back() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path()).await;
    let (url, addr) = (server.url.clone(), server.addr);
    let h = registered_home(&url, "down@example.com").await;
    let agent = TestAgent::start(AgentConfig {
        interval: Duration::from_secs(1),
        ..config(&h.home)
    })
    .await;
    let mut c = client(&h.home).await;
    c.unlock(PW).await.unwrap();
    let report = c.sync().await.unwrap();
    assert_eq!(report["offline"], serde_json::json!(false));

    server.stop().await;
    // An explicit sync reports the problem (as an offline report or an error) ...
    match c.sync().await {
        Ok(report) => assert_eq!(report["offline"], serde_json::json!(true), "{report}"),
        Err(AgentError::Failed(message)) => assert!(!message.is_empty()),
        Err(e) => panic!("unexpected error {e}"),
    }
    // ... and so does the status; the agent keeps answering and keeps its keys.
    let s = c.status().await.unwrap();
    assert!(s.last_error.is_some(), "{s:?}");
    assert!(s.unlocked);
    // The periodic sync fails quietly for a while.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let s = c.status().await.unwrap();
    assert!(s.last_error.is_some());
    let syncs_while_down = s.syncs;

    // The server comes back on the same port and data: the next sync succeeds.
    let server = Server::start_on(data.path(), addr).await;
    let report = c.sync().await.unwrap();
    assert_eq!(report["offline"], serde_json::json!(false), "{report}");
    let s = c.status().await.unwrap();
    assert_eq!(s.last_error, None);
    assert!(s.syncs > syncs_while_down);
    // And the periodic sync resumes on its own.
    let before = s.syncs;
    wait_status(&h.home, 10, "a periodic sync", |s| s.syncs > before).await;
    agent.shutdown().await;
    server.stop().await;
}
