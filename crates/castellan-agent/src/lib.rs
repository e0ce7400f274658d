//! The Castellan background agent.
//!
//! A long-lived process (`castellan agent run`) that alone keeps the unlocked account keys, in
//! memory only. The CLI stays stateless: when an agent runs, it asks the agent for the account
//! key over a Unix socket instead of prompting for the master password.
//!
//! - [`protocol`]: newline-delimited JSON requests and responses (one request per line, lines at
//!   most [`protocol::MAX_LINE_BYTES`]).
//! - [`paths`]: `<home>/agent/` (mode 0700, owned by us), the socket, the log and the pid file.
//! - [`server`]: [`run_agent`]: the socket, peer-credential checks, the in-memory keys, the idle
//!   lock, the periodic sync and the push subscription.
//! - [`client`]: [`AgentClient`], what the CLI uses, and [`spawn_detached`] / [`wait_ready`].
//!
//! The agent never exits because the server is down or the network flaps: sync errors are
//! recorded (`last_error` in `status`) and retried on the next tick or push hint.

#![forbid(unsafe_code)]

pub mod client;
mod error;
pub mod paths;
pub mod protocol;
mod push;
pub mod server;
mod sse;
mod state;
mod sync;

pub use client::{spawn_detached, wait_ready, AgentClient};
pub use error::AgentError;
pub use paths::AgentPaths;
pub use protocol::{AgentStatus, ErrorCode, Request, Response, Secret, PROTOCOL_VERSION};
pub use server::{run_agent, run_agent_until, AgentConfig};
