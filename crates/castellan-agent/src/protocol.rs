//! The agent protocol: newline-delimited JSON over the agent's Unix socket.
//!
//! One request per line, one response line per request, in order, on a connection that stays
//! open until the client closes it. Requests are tagged by `op` (snake case):
//!
//! ```text
//! {"op":"hello","version":1}         → {"ok":true,"version":1}
//! {"op":"unlock","password":"…"}     → {"ok":true}      | code wrong_password
//! {"op":"keys"}                      → {"ok":true,"ak":"<base64url, no padding>"} | code locked
//! {"op":"sync"}                      → {"ok":true,"report":{…SyncReport…}} | code locked / error
//! {"op":"status"}                    → {"ok":true,"unlocked":…,"pid":…,…}  (see AgentStatus)
//! {"op":"lock"}                      → {"ok":true}
//! {"op":"stop"}                      → {"ok":true}   (then the agent exits)
//! ```
//!
//! A failure is `{"ok":false,"error":"<one line>","code":"locked"|"wrong_password"|
//! "bad_request"|"error"}`. A line longer than [`MAX_LINE_BYTES`], not UTF-8, not JSON, or with
//! an unknown `op` gets a `bad_request` answer and the connection stays usable.
//!
//! Secrets (the password of `unlock`, the account key of `keys`) are held in [`Secret`]: wiped
//! when dropped, `<redacted>` in `Debug`. The line buffers that carry them are wiped too.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::{Zeroize, Zeroizing};

/// The version both sides must speak; `hello` with another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest request line the agent reads, newline excluded.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Longest response line the client reads (a sync report can be larger than a request).
pub(crate) const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// A secret string: zeroized on drop, never printed.
#[derive(Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(Zeroizing::new(s.into()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Secret(Zeroizing::new(String::deserialize(d)?)))
    }
}

/// A request from a client to the agent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Protocol handshake; refused unless `version` is [`PROTOCOL_VERSION`].
    Hello { version: u32 },
    /// Unlocks the agent with the master password (checked locally, no server needed).
    Unlock { password: Secret },
    /// The account key, when unlocked. Counts as activity for the idle lock.
    Keys,
    /// Runs a two-way sync now and returns its report. Counts as activity.
    Sync,
    /// What the agent is doing. Not activity.
    Status,
    /// Forgets the keys.
    Lock,
    /// Forgets the keys, removes the socket and the pid file, and exits.
    Stop,
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The agent holds no keys.
    Locked,
    /// `unlock` with a wrong master password.
    WrongPassword,
    /// The line was not a valid request.
    BadRequest,
    /// Anything else (the message says what).
    Error,
}

/// The agent's state, as returned by `status` (flattened into the response object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    pub unlocked: bool,
    pub pid: u32,
    pub interval_secs: u64,
    pub lock_after_secs: u64,
    /// Whether push hints are enabled.
    pub push: bool,
    /// Whether the push stream is connected right now.
    pub push_connected: bool,
    /// Unix time (seconds) of the last sync that reached the server.
    pub last_sync_at: Option<i64>,
    /// The report of the last completed sync (a `castellan_client::sync::SyncReport`).
    pub last_sync: Option<serde_json::Value>,
    /// The last sync or push error; cleared by the next sync that reaches the server.
    pub last_error: Option<String>,
    /// How many syncs reached the server since the agent started.
    pub syncs: u64,
}

/// A response line. `ok` tells success; on failure `error` and `code` are set; the other fields
/// depend on the request.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
    /// `hello`: the agent's protocol version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// `keys`: the account key, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ak: Option<Secret>,
    /// `sync`: the sync report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
    /// `status`: its fields sit at the top level of the response object.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AgentStatus>,
}

impl Response {
    pub fn ok() -> Self {
        Response {
            ok: true,
            ..Default::default()
        }
    }

    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Response {
            ok: false,
            error: Some(message.into()),
            code: Some(code),
            ..Default::default()
        }
    }

    /// `Ok(self)` when `ok`, else the matching [`crate::AgentError`].
    pub fn into_result(self) -> Result<Self, crate::AgentError> {
        use crate::AgentError as E;
        if self.ok {
            return Ok(self);
        }
        let message = self
            .error
            .unwrap_or_else(|| "the agent reported an error".into());
        Err(match self.code {
            Some(ErrorCode::Locked) => E::Locked,
            Some(ErrorCode::WrongPassword) => E::WrongPassword,
            Some(ErrorCode::BadRequest) => E::BadRequest(message),
            Some(ErrorCode::Error) | None => E::Failed(message),
        })
    }
}

/// What [`LineReader::read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line (without its newline) is in the buffer.
    Text,
    /// The line was longer than the limit; it was skipped up to its newline.
    TooLong,
    /// The peer closed the connection.
    Eof,
}

const CHUNK: usize = 8 * 1024;

/// Reads newline-terminated lines of bounded length. Every buffer has a fixed capacity (never
/// reallocated, so no stray copies of secrets) and is wiped when dropped.
pub(crate) struct LineReader<R> {
    inner: R,
    chunk: Zeroizing<Vec<u8>>,
    pos: usize,
    len: usize,
    max: usize,
    line: Zeroizing<Vec<u8>>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(crate) fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            chunk: Zeroizing::new(vec![0; CHUNK]),
            pos: 0,
            len: 0,
            max,
            line: Zeroizing::new(Vec::with_capacity(max)),
        }
    }

    /// The last line read by [`Self::read_line`].
    pub(crate) fn line(&self) -> &[u8] {
        &self.line
    }

    /// Wipes the last line (call after parsing a line that may hold a secret).
    pub(crate) fn wipe(&mut self) {
        self.line.as_mut_slice().zeroize();
        self.line.truncate(0);
    }

    pub(crate) async fn read_line(&mut self) -> std::io::Result<Line> {
        self.wipe();
        let mut too_long = false;
        loop {
            if self.pos == self.len {
                let n = self.inner.read(&mut self.chunk[..]).await?;
                if n == 0 {
                    return Ok(if too_long {
                        Line::TooLong
                    } else if self.line.is_empty() {
                        Line::Eof
                    } else {
                        // A last line without its newline: still a line.
                        Line::Text
                    });
                }
                self.pos = 0;
                self.len = n;
            }
            let avail = &self.chunk[self.pos..self.len];
            let newline = avail.iter().position(|b| *b == b'\n');
            let take = newline.unwrap_or(avail.len());
            if !too_long {
                if self.line.len() + take > self.max {
                    too_long = true;
                    self.wipe();
                } else {
                    self.line.extend_from_slice(&avail[..take]);
                }
            }
            match newline {
                Some(i) => {
                    self.pos += i + 1;
                    return Ok(if too_long { Line::TooLong } else { Line::Text });
                }
                None => self.pos = self.len,
            }
        }
    }
}

impl<R> Drop for LineReader<R> {
    fn drop(&mut self) {
        self.chunk.zeroize();
    }
}

/// Writes one JSON value and a newline, from a wiped buffer.
pub(crate) async fn write_line<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    value: &T,
) -> std::io::Result<()> {
    // Large enough for every message that carries a secret, so it is never reallocated.
    let mut buf = Zeroizing::new(Vec::with_capacity(4096));
    serde_json::to_writer(&mut *buf, value).map_err(std::io::Error::other)?;
    buf.push(b'\n');
    w.write_all(&buf).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_bounded_lines() {
        let long = vec![b'x'; 100];
        let mut input = Vec::new();
        input.extend_from_slice(b"one\n");
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\ntwo\nlast");
        let mut r = LineReader::new(&input[..], 50);
        assert_eq!(r.read_line().await.unwrap(), Line::Text);
        assert_eq!(r.line(), b"one");
        assert_eq!(r.read_line().await.unwrap(), Line::TooLong);
        assert_eq!(r.read_line().await.unwrap(), Line::Text);
        assert_eq!(r.line(), b"two");
        assert_eq!(r.read_line().await.unwrap(), Line::Text);
        assert_eq!(r.line(), b"last");
        assert_eq!(r.read_line().await.unwrap(), Line::Eof);
    }

    #[test]
    fn secrets_are_redacted() {
        let r = Request::Unlock {
            password: Secret::new("hunter22"),
        };
        assert!(!format!("{r:?}").contains("hunter22"));
        let resp = Response {
            ak: Some(Secret::new("AAAA")),
            ..Response::ok()
        };
        assert!(!format!("{resp:?}").contains("AAAA"));
    }
}
