//! The CLI's side: talking to a running agent, and starting one in the background.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use castellan_client::home::Home;
use castellan_crypto::SymmetricKey;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use zeroize::{Zeroize, Zeroizing};

use crate::paths::AgentPaths;
use crate::protocol::{
    write_line, AgentStatus, ErrorCode, Line, LineReader, Request, Response, Secret,
    MAX_RESPONSE_BYTES, PROTOCOL_VERSION,
};
use crate::AgentError;

/// How long [`AgentClient::connect`] waits for an agent to answer `hello`.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// A log file larger than this is moved to `agent.log.1` when a new agent is spawned.
const MAX_LOG_BYTES: u64 = 1024 * 1024;

/// A connection to the agent of a home. Requests are answered in order.
pub struct AgentClient {
    reader: LineReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentClient").finish_non_exhaustive()
    }
}

impl AgentClient {
    /// Connects to the agent of `home` and checks the protocol version. `None` when no agent
    /// answers within about 500 ms (no socket, a stale socket, a hung or incompatible agent),
    /// or when the agent directory is not private to us.
    pub async fn connect(home: &Home) -> Option<AgentClient> {
        match tokio::time::timeout(CONNECT_TIMEOUT, Self::try_connect(home)).await {
            Ok(Ok(client)) => Some(client),
            Ok(Err(e)) => {
                match &e {
                    AgentError::UnsafeDir { .. } | AgentError::BadRequest(_) => {
                        tracing::warn!(error = %e, "not using the agent")
                    }
                    _ => tracing::debug!(error = %e, "no agent"),
                }
                None
            }
            Err(_) => {
                tracing::debug!("no agent answered in time");
                None
            }
        }
    }

    async fn try_connect(home: &Home) -> Result<AgentClient, AgentError> {
        let paths = AgentPaths::for_home(home);
        let Some(uid) = paths.existing_uid()? else {
            return Err(AgentError::Disconnected);
        };
        let stream = UnixStream::connect(&paths.socket)
            .await
            .map_err(|e| AgentError::io("cannot connect to the agent", e))?;
        // The agent must run as us too (the directory check makes this near certain).
        let cred = stream
            .peer_cred()
            .map_err(|e| AgentError::io("cannot read the agent's credentials", e))?;
        if cred.uid() != uid {
            return Err(AgentError::unsafe_dir(
                &paths.socket,
                format!("the agent runs as uid {}, not as us", cred.uid()),
            ));
        }
        let (read, writer) = stream.into_split();
        let mut client = AgentClient {
            reader: LineReader::new(read, MAX_RESPONSE_BYTES),
            writer,
        };
        client
            .request(Request::Hello {
                version: PROTOCOL_VERSION,
            })
            .await?
            .into_result()?;
        Ok(client)
    }

    /// Sends one request and reads its response (which may have `ok: false`).
    pub async fn request(&mut self, request: Request) -> Result<Response, AgentError> {
        write_line(&mut self.writer, &request)
            .await
            .map_err(|e| AgentError::io("cannot write to the agent", e))?;
        drop(request);
        let line = self
            .reader
            .read_line()
            .await
            .map_err(|e| AgentError::io("cannot read from the agent", e))?;
        match line {
            Line::Eof => Err(AgentError::Disconnected),
            Line::TooLong => Err(AgentError::Protocol("response too long".into())),
            Line::Text => {
                let parsed = serde_json::from_slice::<Response>(self.reader.line());
                self.reader.wipe();
                parsed.map_err(|e| AgentError::Protocol(e.to_string()))
            }
        }
    }

    /// The account key, or `None` when the agent is locked. Keeps the agent unlocked.
    pub async fn keys(&mut self) -> Result<Option<SymmetricKey>, AgentError> {
        let response = self.request(Request::Keys).await?;
        if !response.ok && response.code == Some(ErrorCode::Locked) {
            return Ok(None);
        }
        let response = response.into_result()?;
        let ak = response
            .ak
            .ok_or_else(|| AgentError::Protocol("no key in the answer".into()))?;
        decode_key(&ak).map(Some)
    }

    pub async fn status(&mut self) -> Result<AgentStatus, AgentError> {
        self.request(Request::Status)
            .await?
            .into_result()?
            .status
            .ok_or_else(|| AgentError::Protocol("no status in the answer".into()))
    }

    /// Runs a sync now; returns its report (a `castellan_client::sync::SyncReport` as JSON).
    pub async fn sync(&mut self) -> Result<serde_json::Value, AgentError> {
        self.request(Request::Sync)
            .await?
            .into_result()?
            .report
            .ok_or_else(|| AgentError::Protocol("no report in the answer".into()))
    }

    /// Unlocks the agent with the master password. `WrongPassword` when it does not open.
    pub async fn unlock(&mut self, password: &str) -> Result<(), AgentError> {
        self.request(Request::Unlock {
            password: Secret::new(password),
        })
        .await?
        .into_result()
        .map(drop)
    }

    pub async fn lock(&mut self) -> Result<(), AgentError> {
        self.request(Request::Lock).await?.into_result().map(drop)
    }

    /// Stops the agent; returns once it has dropped its keys and removed its socket.
    pub async fn stop(&mut self) -> Result<(), AgentError> {
        self.request(Request::Stop).await?.into_result()?;
        // The agent closes the connection as it exits.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.reader.read_line()).await;
        Ok(())
    }
}

fn decode_key(text: &Secret) -> Result<SymmetricKey, AgentError> {
    let mut buf = Zeroizing::new([0u8; 48]);
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode_slice(text.expose(), &mut buf[..])
        .map_err(|_| AgentError::Protocol("the key is not base64url".into()))?;
    if n != 32 {
        return Err(AgentError::Protocol("the key is not 32 bytes".into()));
    }
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&buf[..32]);
    let key = SymmetricKey::from_bytes(bytes);
    bytes.zeroize();
    Ok(key)
}

/// Starts `exe agent run <args>` in the background for `home` (passed as `CASTELLAN_HOME`):
/// stdin from /dev/null, stdout and stderr appended to `<home>/agent/agent.log` (mode 0600),
/// in its own process group so it outlives the terminal. Returns the child's pid. Does not
/// wait: use [`wait_ready`].
pub fn spawn_detached(exe: &Path, home: &Path, args: &[String]) -> std::io::Result<u32> {
    let home = std::path::absolute(home)?;
    let paths = AgentPaths::new(&home);
    paths
        .ensure_dir()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    if std::fs::metadata(&paths.log).is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
        let _ = std::fs::rename(&paths.log, paths.log.with_extension("log.1"));
    }
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&paths.log)?;
    let child = Command::new(exe)
        .arg("agent")
        .arg("run")
        .args(args)
        .env("CASTELLAN_HOME", &home)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()?;
    Ok(child.id())
}

/// Polls until an agent answers on `home`'s socket; false after `timeout`.
pub async fn wait_ready(home: &Home, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if AgentClient::connect(home).await.is_some() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
