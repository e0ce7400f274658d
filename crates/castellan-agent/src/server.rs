//! The agent process: socket, peer checks, request handling, background tasks.

use std::future::Future;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use castellan_client::home::Home;
use castellan_client::ClientError;
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;

use crate::paths::AgentPaths;
use crate::protocol::{
    write_line, ErrorCode, Line, LineReader, Request, Response, Secret, MAX_LINE_BYTES,
    PROTOCOL_VERSION,
};
use crate::state::Agent;
use crate::sync::{sync_loop, sync_once, SyncError};
use crate::{push, AgentError};

/// How long a probe of an existing socket waits for an agent to accept.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
const LOCKED: &str = "the agent is locked; run `castellan unlock`";

/// What the agent runs with.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub home: Home,
    /// Time between background syncs while unlocked (default 300 s).
    pub interval: Duration,
    /// Idle time after which the keys are dropped (default 900 s). Activity is a `keys`,
    /// `sync` or `unlock` request.
    pub lock_after: Duration,
    /// Whether to subscribe to the server's push hints (default true).
    pub push: bool,
}

impl AgentConfig {
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
    pub const DEFAULT_LOCK_AFTER: Duration = Duration::from_secs(900);

    /// The defaults for a home.
    pub fn new(home: Home) -> Self {
        AgentConfig {
            home,
            interval: Self::DEFAULT_INTERVAL,
            lock_after: Self::DEFAULT_LOCK_AFTER,
            push: true,
        }
    }
}

/// Runs the agent until a `stop` request, SIGTERM or SIGINT. SIGHUP is ignored, so closing the
/// terminal that started the agent does not stop it.
pub async fn run_agent(config: AgentConfig) -> Result<(), AgentError> {
    use tokio::signal::unix::{signal, SignalKind};
    let ctx = |e| AgentError::io("cannot install signal handlers", e);
    let mut term = signal(SignalKind::terminate()).map_err(ctx)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ctx)?;
    let mut hup = signal(SignalKind::hangup()).map_err(ctx)?;
    let signals = async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM"); return; }
                _ = int.recv() => { tracing::info!("SIGINT"); return; }
                _ = hup.recv() => tracing::info!("SIGHUP ignored"),
            }
        }
    };
    run_agent_until(config, signals).await
}

/// Runs the agent until a `stop` request or until `shutdown` completes (no signal handling).
/// On exit the keys are dropped and the socket and pid file removed.
pub async fn run_agent_until(
    config: AgentConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), AgentError> {
    let paths = AgentPaths::for_home(&config.home);
    let uid = paths.ensure_dir()?;
    let listener = bind(&paths, &config.home).await?;
    let (agent, channels) =
        Agent::new(config.home, config.interval, config.lock_after, config.push);
    if let Err(e) = write_pid_file(&paths) {
        agent.remove_files();
        return Err(e);
    }
    tracing::info!(
        pid = std::process::id(),
        socket = %paths.socket.display(),
        interval_secs = config.interval.as_secs(),
        lock_after_secs = config.lock_after.as_secs(),
        push = config.push,
        "agent started"
    );

    let mut tasks = JoinSet::new();
    tasks.spawn(sync_loop(
        agent.clone(),
        channels.sync_rx,
        channels.shutdown_rx.clone(),
    ));
    tasks.spawn(idle_loop(agent.clone()));
    if config.push {
        tasks.spawn(push::push_loop(agent.clone()));
    }

    let mut connections = JoinSet::new();
    let mut stopping = channels.shutdown_rx;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = stopped(&mut stopping) => break,
            Some(_) = connections.join_next() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if peer_is_us(&stream, uid) {
                        connections.spawn(serve_connection(agent.clone(), stream));
                    } else {
                        connections.spawn(refuse(stream));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }

    agent.lock("agent stopping");
    agent.shutdown();
    agent.remove_files();
    drop(listener);
    connections.abort_all();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    while connections.join_next().await.is_some() {}
    tracing::info!("agent stopped");
    Ok(())
}

/// Completes once the shutdown flag is set (or its sender is gone).
pub(crate) async fn stopped(rx: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Binds the socket (mode 0600). An existing socket is removed only when no agent accepts on it.
async fn bind(paths: &AgentPaths, home: &Home) -> Result<UnixListener, AgentError> {
    let running = || AgentError::AlreadyRunning {
        home: home.dir().display().to_string(),
    };
    let sock = &paths.socket;
    let ctx = |e| AgentError::io(format!("cannot use {}", sock.display()), e);
    match std::fs::symlink_metadata(sock) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ctx(e)),
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(AgentError::unsafe_dir(
                &paths.dir,
                format!("{} exists and is not a socket", sock.display()),
            ));
        }
        Ok(_) => match tokio::time::timeout(PROBE_TIMEOUT, UnixStream::connect(sock)).await {
            Ok(Ok(_)) | Err(_) => return Err(running()),
            Ok(Err(e)) => {
                tracing::info!(reason = %e, "removing a stale agent socket");
                match std::fs::remove_file(sock) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(ctx(e)),
                }
            }
        },
    }
    let listener = UnixListener::bind(sock).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            running()
        } else {
            ctx(e)
        }
    })?;
    // The directory is 0700 already; the socket itself is private too.
    if let Err(e) = std::fs::set_permissions(sock, std::fs::Permissions::from_mode(0o600)) {
        let _ = std::fs::remove_file(sock);
        return Err(ctx(e));
    }
    Ok(listener)
}

fn write_pid_file(paths: &AgentPaths) -> Result<(), AgentError> {
    let tmp = paths.dir.join(".agent.pid.tmp");
    let ctx = |e| AgentError::io(format!("cannot write {}", paths.pid.display()), e);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(ctx)?;
    writeln!(f, "{}", std::process::id()).map_err(ctx)?;
    f.sync_all().map_err(ctx)?;
    std::fs::rename(&tmp, &paths.pid).map_err(ctx)
}

/// Whether the connecting process runs as our uid (from the kernel's peer credentials).
fn peer_is_us(stream: &UnixStream, uid: u32) -> bool {
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == uid => true,
        Ok(cred) => {
            tracing::warn!(
                peer_uid = cred.uid(),
                peer_pid = ?cred.pid(),
                "refused a connection from another user"
            );
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "refused a connection without peer credentials");
            false
        }
    }
}

async fn refuse(mut stream: UnixStream) {
    let response = Response::error(ErrorCode::Error, "permission denied");
    let _ = write_line(&mut stream, &response).await;
}

/// Drops the keys after `lock_after` (capped by the company policy's maximum vault timeout)
/// without activity. The cap is re-read from the device's verified policy every 30 seconds.
async fn idle_loop(agent: Arc<Agent>) {
    const POLICY_EVERY: Duration = Duration::from_secs(30);
    agent.refresh_policy_cap();
    let mut policy_checked = std::time::Instant::now();
    loop {
        let every = (agent.effective_lock_after() / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(5));
        tokio::time::sleep(every).await;
        if policy_checked.elapsed() >= POLICY_EVERY {
            agent.refresh_policy_cap();
            policy_checked = std::time::Instant::now();
        }
        agent.lock_if_idle();
    }
}

async fn serve_connection(agent: Arc<Agent>, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut reader = LineReader::new(read, MAX_LINE_BYTES);
    let mut shutdown = agent.subscribe_shutdown();
    loop {
        let line = tokio::select! {
            line = reader.read_line() => line,
            _ = stopped(&mut shutdown) => return,
        };
        let mut stop = false;
        let response = match line {
            Err(e) => {
                tracing::debug!(error = %e, "connection read failed");
                return;
            }
            Ok(Line::Eof) => return,
            Ok(Line::TooLong) => Response::error(
                ErrorCode::BadRequest,
                format!("request line longer than {MAX_LINE_BYTES} bytes"),
            ),
            Ok(Line::Text) => {
                let parsed = parse_request(reader.line());
                reader.wipe();
                match parsed {
                    Ok(request) => {
                        stop = matches!(request, Request::Stop);
                        handle(&agent, request).await
                    }
                    Err(message) => Response::error(ErrorCode::BadRequest, message),
                }
            }
        };
        if let Err(e) = write_line(&mut write, &response).await {
            tracing::debug!(error = %e, "connection write failed");
            return;
        }
        if stop {
            agent.shutdown();
            return;
        }
    }
}

fn parse_request(line: &[u8]) -> Result<Request, String> {
    let text = std::str::from_utf8(line).map_err(|_| "the request is not UTF-8".to_string())?;
    let text = text.trim();
    if text.is_empty() {
        return Err("empty request".into());
    }
    serde_json::from_str(text).map_err(|e| format!("malformed request: {e}"))
}

async fn handle(agent: &Arc<Agent>, request: Request) -> Response {
    match request {
        Request::Hello { version } if version == PROTOCOL_VERSION => Response {
            version: Some(PROTOCOL_VERSION),
            ..Response::ok()
        },
        Request::Hello { version } => Response {
            version: Some(PROTOCOL_VERSION),
            ..Response::error(
                ErrorCode::BadRequest,
                format!("unsupported protocol version {version}; this agent speaks version {PROTOCOL_VERSION}"),
            )
        },
        Request::Unlock { password } => unlock(agent, password).await,
        Request::Keys => match agent.account() {
            Some(account) => {
                agent.touch();
                let ak = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(account.ak.expose_secret());
                Response {
                    ak: Some(Secret::new(ak)),
                    ..Response::ok()
                }
            }
            None => Response::error(ErrorCode::Locked, LOCKED),
        },
        Request::Sync => {
            agent.touch();
            match sync_once(agent, "request").await {
                Ok(report) => Response {
                    report: Some(report),
                    ..Response::ok()
                },
                Err(SyncError::Locked) => Response::error(ErrorCode::Locked, LOCKED),
                Err(SyncError::Failed(message)) => Response::error(ErrorCode::Error, message),
            }
        }
        Request::Status => Response {
            status: Some(agent.status()),
            ..Response::ok()
        },
        Request::Lock => {
            agent.lock("lock request");
            Response::ok()
        }
        Request::Stop => {
            agent.lock("stop request");
            // Before answering, so the client sees no socket once `stop` returns.
            agent.remove_files();
            tracing::info!("stop requested");
            Response::ok()
        }
    }
}

async fn unlock(agent: &Arc<Agent>, password: Secret) -> Response {
    agent.touch();
    let home = agent.home.clone();
    // Argon2id: keep it off the async workers.
    let result = tokio::task::spawn_blocking(move || {
        castellan_client::account::unlock_local(&home, password.expose())
    })
    .await;
    match result {
        Ok(Ok((_state, account))) => {
            agent.set_account(account);
            agent.trigger_sync();
            Response::ok()
        }
        Ok(Err(ClientError::WrongPassword | ClientError::WrongCredentials)) => {
            tracing::info!("unlock refused: wrong master password");
            Response::error(ErrorCode::WrongPassword, "wrong master password")
        }
        Ok(Err(e)) => Response::error(ErrorCode::Error, e.to_string()),
        Err(_) => Response::error(ErrorCode::Error, "the unlock failed unexpectedly"),
    }
}
