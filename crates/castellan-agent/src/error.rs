use std::path::Path;

/// The one error type of the agent crate, for both the agent process and the CLI side.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Another agent answers on the socket of this home.
    #[error("an agent is already running for {home}")]
    AlreadyRunning { home: String },
    /// The agent directory exists but is not ours or not private; nothing was used.
    #[error("refusing to use {path}: {reason}")]
    UnsafeDir { path: String, reason: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// The agent holds no keys.
    #[error("the agent is locked; run `castellan unlock`")]
    Locked,
    #[error("wrong master password")]
    WrongPassword,
    /// The agent could not parse the request.
    #[error("the agent refused the request: {0}")]
    BadRequest(String),
    /// The agent ran the request and it failed (for example a sync while the server is down).
    #[error("{0}")]
    Failed(String),
    #[error("the agent closed the connection")]
    Disconnected,
    /// The agent sent something this client does not understand.
    #[error("unexpected answer from the agent: {0}")]
    Protocol(String),
}

impl AgentError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        AgentError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn unsafe_dir(path: &Path, reason: impl Into<String>) -> Self {
        AgentError::UnsafeDir {
            path: path.display().to_string(),
            reason: reason.into(),
        }
    }
}
