//! Outgoing mail: invitations and notices to admins, through the SMTP relay named by
//! `smtp_url`. Sending is best effort: a failure is logged (never with the message body, which
//! holds an invitation link) and reported to the caller, which carries on.

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::Settings;

/// A configured mail relay.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
    /// The relay URL without its password, for logs.
    shown: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("relay", &self.shown)
            .finish()
    }
}

/// One mail to send.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Mailer {
    /// `Ok(None)` when no relay is configured; `Err` with a message (without the relay's
    /// password) when the settings are unusable.
    pub fn from_settings(settings: &Settings) -> Result<Option<Mailer>, String> {
        let Some(url) = settings.smtp_url.as_deref().map(str::trim) else {
            return Ok(None);
        };
        if url.is_empty() {
            return Ok(None);
        }
        let shown = redact_smtp_url(url);
        let timeout = Duration::from_secs(settings.smtp_timeout_secs.max(1));
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("smtp_url {shown}: {e}"))?
            .timeout(Some(timeout))
            .build();
        let from_text = settings
            .smtp_from
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("Castellan <castellan@localhost>");
        let from: Mailbox = from_text
            .parse()
            .map_err(|e| format!("smtp_from {from_text:?} is not a mail address: {e}"))?;
        Ok(Some(Mailer {
            transport,
            from,
            timeout,
            shown,
        }))
    }

    /// Sends one plain-text mail; the error is a message fit for a log line.
    pub async fn send(&self, mail: Mail) -> Result<(), String> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|_| "the recipient is not a mail address".to_string())?;
        let body = body(mail.body);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| format!("cannot build the message: {e}"))?;
        // The transport has its own timeouts per command; this bounds the whole exchange.
        match tokio::time::timeout(
            self.timeout + Duration::from_secs(1),
            self.transport.send(message),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("relay {}: {e}", self.shown)),
            Err(_) => Err(format!("relay {}: timed out", self.shown)),
        }
    }
}

/// Longest line of a 7bit body (RFC 5322).
const MAX_LINE: usize = 998;

/// 7bit when the text is ASCII with lines of at most 998 characters (as RFC 5322 allows), so
/// that links stay whole in the raw message; otherwise the encoding lettre picks (which wraps
/// lines at 76 characters).
fn body(text: String) -> Body {
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if text.is_ascii()
        && text
            .split("\r\n")
            .all(|l| l.len() <= MAX_LINE && !l.contains('\r'))
    {
        Body::dangerous_pre_encoded(text.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text)
    }
}

/// `scheme://user:***@host...`: the URL without the password of its user info.
pub fn redact_smtp_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// `YYYY-MM-DD HH:MM UTC` for a Unix time.
pub fn utc_time(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// The invitation mail. `fingerprint_groups` is the company key fingerprint as people read it.
pub fn invitation_mail(
    to: &str,
    company: &str,
    role: &str,
    inviter: &str,
    link: &str,
    fingerprint_groups: &str,
    expires_at: i64,
) -> Mail {
    let body = format!(
        "{inviter} invited you to join {company} on Castellan as {role}.\r\n\
         \r\n\
         Open this link to accept the invitation (it works once and expires {expires}):\r\n\
         \r\n\
         {link}\r\n\
         \r\n\
         Your Castellan client checks the company's keys against this link. Before you join,\r\n\
         also make sure the company fingerprint your client shows is this one, and that your\r\n\
         administrator reads you the same (by phone or in person, not by mail):\r\n\
         \r\n\
         \x20   {fingerprint_groups}\r\n\
         \r\n\
         If you did not expect this invitation, ignore this mail.\r\n",
        expires = utc_time(expires_at),
    );
    Mail {
        to: to.to_string(),
        subject: format!("Invitation to join {company} on Castellan"),
        body,
    }
}

/// A notice to an admin (or a notification address) that a member joined or was removed.
pub fn member_change_mail(
    to: &str,
    company: &str,
    member_email: &str,
    joined: bool,
    public_url: Option<&str>,
) -> Mail {
    let (subject, what) = if joined {
        (
            format!("{member_email} joined {company} on Castellan"),
            format!(
                "{member_email} accepted an invitation to {company}. An administrator confirms\r\n\
                 the new member (after comparing their key fingerprint) with:\r\n\
                 \r\n\
                 \x20   castellan admin user confirm {member_email}\r\n"
            ),
        )
    } else {
        (
            format!("{member_email} was removed from {company} on Castellan"),
            format!("{member_email} is no longer a member of {company}.\r\n"),
        )
    };
    let footer = public_url
        .map(|u| format!("\r\nCastellan: {}\r\n", u.trim_end_matches('/')))
        .unwrap_or_default();
    Mail {
        to: to.to_string(),
        subject,
        body: format!("{what}{footer}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_passwords_are_hidden() {
        assert_eq!(
            redact_smtp_url("smtps://mailer:hunter2@mail.example.com:465"),
            "smtps://mailer:***@mail.example.com:465"
        );
        assert_eq!(
            redact_smtp_url("smtp://127.0.0.1:2525"),
            "smtp://127.0.0.1:2525"
        );
        assert!(!redact_smtp_url("smtp://u:p@ss@h/x?tls=required").contains("p@ss"));
        assert_eq!(redact_smtp_url("hunter2"), "(not a URL)");
    }

    #[test]
    fn bodies_are_7bit_when_they_can_be() {
        let long = format!("see https://x.example/join#{}\r\n", "a".repeat(200));
        assert_eq!(
            body(long.clone()).encoding(),
            ContentTransferEncoding::SevenBit
        );
        assert_eq!(
            body("bare\nnewline".into()).encoding(),
            ContentTransferEncoding::SevenBit
        );
        assert_ne!(
            body(format!("Zürich {long}")).encoding(),
            ContentTransferEncoding::SevenBit
        );
        assert_ne!(
            body("x".repeat(1200)).encoding(),
            ContentTransferEncoding::SevenBit
        );
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_time(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn settings_debug_hides_the_relay_password() {
        let s = Settings {
            smtp_url: Some("smtp://u:topsecret@h:25".into()),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("topsecret"));
    }
}
