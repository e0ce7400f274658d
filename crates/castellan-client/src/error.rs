use castellan_types::ErrorCode;

/// The one error type of the client library. Every variant has a message a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{message}")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
        current_version: Option<i64>,
    },
    #[error("cannot reach the server at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// Wrong master password or Secret Key (the protocol cannot tell which).
    #[error("wrong master password or Secret Key")]
    WrongCredentials,
    #[error("{0}")]
    BadSecretKey(String),
    /// The server sent something the client refuses: tampered, swapped, rolled back, downgraded.
    #[error("integrity check failed: {0}. The server may be compromised; nothing was changed.")]
    Integrity(String),
    /// The local unlock failed: the master password is wrong for this device.
    #[error("wrong master password")]
    WrongPassword,
    /// The server no longer accepts this device's session.
    #[error("the session has expired or was revoked; run `castellan login`")]
    SessionExpired,
    /// The server wants a fresh login before a sensitive change.
    #[error("this change needs a fresh login; run the command again")]
    ReauthRequired,
    #[error("the vault is locked; run `castellan unlock`")]
    Locked,
    #[error("not logged in; run `castellan login` or `castellan register`")]
    NotLoggedIn,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// The local state under CASTELLAN_HOME is unreadable; nothing was overwritten.
    #[error("local state in {path} is corrupted ({detail}); move it away and log in again")]
    CorruptState { path: String, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("unexpected response from the server: {0}")]
    Protocol(String),
    /// The password was right and the account has two-step verification: the login needs a
    /// code for this challenge (`POST /auth/login/2fa`).
    #[error("this login needs a two-step verification code")]
    TwoFactorRequired { challenge: Secret },
}

/// A secret string (a 2FA challenge, a code): wiped on drop, never printed.
#[derive(Clone, Default)]
pub struct Secret(pub zeroize::Zeroizing<String>);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(zeroize::Zeroizing::new(s.into()))
    }
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl ClientError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ClientError::Io {
            context: context.into(),
            source,
        }
    }
    pub fn integrity(what: impl Into<String>) -> Self {
        ClientError::Integrity(what.into())
    }
}

impl From<castellan_crypto::CryptoError> for ClientError {
    fn from(e: castellan_crypto::CryptoError) -> Self {
        use castellan_crypto::CryptoError as C;
        match e {
            C::BadSecretKey(m) => ClientError::BadSecretKey(m),
            C::WeakKdf(m) => ClientError::Integrity(format!(
                "the server asked for weakened key derivation ({m})"
            )),
            C::Opaque(_) => ClientError::WrongCredentials,
            other => ClientError::Integrity(other.to_string()),
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;
