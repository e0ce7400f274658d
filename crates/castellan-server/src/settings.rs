/// Tunables of the server. Defaults suit a small deployment; tests shorten the windows.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lifetime of a session, in seconds.
    pub session_ttl_secs: i64,
    /// How long an OPAQUE login attempt may take between its two messages, in seconds.
    pub login_attempt_ttl_secs: i64,
    /// How recent a login must be for a master password change, in seconds.
    pub reauth_window_secs: i64,
    pub rate_limits: RateLimitSettings,
}

#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// Window length in seconds.
    pub window_secs: i64,
    /// Failed logins allowed per account per window.
    pub failed_logins_per_account: u32,
    /// Login attempts allowed per client address per window.
    pub logins_per_address: u32,
    /// Registrations allowed per client address per window.
    pub registrations_per_address: u32,
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
            },
        }
    }
}
