//! Shared test helpers: a real server in-process, registered homes, agents on real sockets.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use castellan_agent::{run_agent_until, AgentClient, AgentConfig, AgentError, AgentPaths};
use castellan_client::home::Home;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const PW: &str = "agent test master password";

/// A real server on a fixed data directory; can be stopped and started again on the same port.
pub struct Server {
    pub url: String,
    pub addr: SocketAddr,
    pub data: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    pub async fn start(data: &Path) -> Server {
        Self::start_on(data, "127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(data: &Path, addr: SocketAddr) -> Server {
        let store = castellan_store_sqlite::SqliteStore::open(&data.join("db.sqlite3"))
            .await
            .unwrap();
        let listener = bind_retry(addr).await;
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            castellan_server::serve(
                store,
                castellan_server::Settings::default(),
                listener,
                async move {
                    let _ = rx.await;
                },
            )
            .await
            .unwrap();
        });
        Server {
            url: format!("http://{addr}"),
            addr,
            data: data.to_path_buf(),
            stop: Some(tx),
            task,
        }
    }

    /// Stops the server: graceful shutdown, then abort if a connection lingers.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(Duration::from_secs(3), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

async fn bind_retry(addr: SocketAddr) -> tokio::net::TcpListener {
    for _ in 0..50 {
        if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot bind {addr}");
}

/// A temporary home, optionally registered on a server.
pub struct TestHome {
    pub home: Home,
    pub dir: tempfile::TempDir,
    pub secret_key: Option<String>,
}

pub fn empty_home() -> TestHome {
    let dir = tempfile::tempdir().unwrap();
    TestHome {
        home: Home::new(dir.path().join("home")),
        dir,
        secret_key: None,
    }
}

pub async fn registered_home(url: &str, email: &str) -> TestHome {
    let mut h = empty_home();
    let (reg, _) = castellan_client::account::register(&h.home, url, email, PW, "test")
        .await
        .unwrap();
    h.secret_key = Some(reg.secret_key.to_string());
    h
}

pub fn config(home: &Home) -> AgentConfig {
    AgentConfig {
        push: false,
        ..AgentConfig::new(home.clone())
    }
}

/// A running agent (a task in this process).
pub struct TestAgent {
    pub task: JoinHandle<Result<(), AgentError>>,
    stop: Option<oneshot::Sender<()>>,
}

impl TestAgent {
    pub async fn start(config: AgentConfig) -> TestAgent {
        let home = config.home.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run_agent_until(config, async move {
            let _ = rx.await;
        }));
        assert!(
            castellan_agent::wait_ready(&home, Duration::from_secs(5)).await,
            "the agent did not start"
        );
        TestAgent {
            task,
            stop: Some(tx),
        }
    }

    /// Ends the agent through its shutdown future and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .expect("agent did not stop")
            .unwrap()
            .unwrap();
    }
}

pub async fn client(home: &Home) -> AgentClient {
    AgentClient::connect(home).await.expect("no agent")
}

/// A raw connection that sends bytes and reads JSON lines.
pub struct Raw {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

impl Raw {
    pub async fn connect(home: &Home) -> Raw {
        let stream = UnixStream::connect(AgentPaths::for_home(home).socket)
            .await
            .unwrap();
        let (r, w) = stream.into_split();
        Raw {
            reader: BufReader::new(r),
            writer: w,
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) -> Value {
        self.writer.write_all(bytes).await.unwrap();
        self.writer.flush().await.unwrap();
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
            .await
            .expect("no answer")
            .unwrap();
        assert!(n > 0, "the agent closed the connection");
        assert!(line.ends_with('\n'));
        serde_json::from_str(&line).unwrap()
    }
}

/// Polls the agent's status until `pred` holds; panics after `secs`.
pub async fn wait_status(
    home: &Home,
    secs: u64,
    what: &str,
    pred: impl Fn(&castellan_agent::AgentStatus) -> bool,
) -> castellan_agent::AgentStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut c = client(home).await;
    loop {
        let s = c.status().await.unwrap();
        if pred(&s) {
            return s;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out waiting for {what}; last status: {s:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
