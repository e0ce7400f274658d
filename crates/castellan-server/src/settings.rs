/// Tunables of the server. Defaults suit a small deployment; tests shorten the windows.
#[derive(Clone)]
pub struct Settings {
    /// Lifetime of a session, in seconds.
    pub session_ttl_secs: i64,
    /// How long an OPAQUE login attempt may take between its two messages, in seconds.
    pub login_attempt_ttl_secs: i64,
    /// How recent a login must be for a master password change, in seconds.
    pub reauth_window_secs: i64,
    pub rate_limits: RateLimitSettings,
    /// Outgoing mail server (`smtp_url` in the config file): `smtp://host:port` (plain SMTP,
    /// for a relay on loopback), `smtp://host:587?tls=required` (STARTTLS) or
    /// `smtps://host:465` (TLS), optionally with `user:password@`. `None`: no mail is sent and
    /// admins pass invitation links on themselves.
    pub smtp_url: Option<String>,
    /// Sender address of the server's mail (`smtp_from`); default `castellan@localhost`.
    pub smtp_from: Option<String>,
    /// The base URL people use to reach this server (`public_url`, e.g.
    /// `https://vault.example.com`), used in the links of the mail it sends. Without it,
    /// invitation mail carries the link exactly as the inviting client built it.
    pub public_url: Option<String>,
    /// How long a login may wait for its two-step code, in seconds.
    pub two_factor_challenge_ttl_secs: i64,
    /// How long sending one mail may take, in seconds.
    pub smtp_timeout_secs: u64,
}

#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// Window length in seconds.
    pub window_secs: i64,
    /// Failed logins allowed per account per window (wrong two-step codes count too).
    pub failed_logins_per_account: u32,
    /// Login attempts allowed per client address per window.
    pub logins_per_address: u32,
    /// Registrations allowed per client address per window.
    pub registrations_per_address: u32,
    /// Wrong setup tokens and wrong invitation secrets allowed per client address (and per
    /// account) per window.
    pub token_guesses_per_address: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_ttl_secs: 30 * 24 * 3600,
            login_attempt_ttl_secs: 120,
            reauth_window_secs: 300,
            rate_limits: RateLimitSettings {
                window_secs: 15 * 60,
                failed_logins_per_account: 10,
                logins_per_address: 200,
                registrations_per_address: 50,
                token_guesses_per_address: 20,
            },
            smtp_url: None,
            smtp_from: None,
            public_url: None,
            two_factor_challenge_ttl_secs: 300,
            smtp_timeout_secs: 20,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("session_ttl_secs", &self.session_ttl_secs)
            .field("login_attempt_ttl_secs", &self.login_attempt_ttl_secs)
            .field("reauth_window_secs", &self.reauth_window_secs)
            .field("rate_limits", &self.rate_limits)
            // The URL may carry the relay's password.
            .field(
                "smtp_url",
                &self.smtp_url.as_deref().map(crate::mail::redact_smtp_url),
            )
            .field("smtp_from", &self.smtp_from)
            .field("public_url", &self.public_url)
            .field(
                "two_factor_challenge_ttl_secs",
                &self.two_factor_challenge_ttl_secs,
            )
            .field("smtp_timeout_secs", &self.smtp_timeout_secs)
            .finish()
    }
}
