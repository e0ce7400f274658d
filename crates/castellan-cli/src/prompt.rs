//! Reading the master password and the Secret Key: from the environment for scripts, or from a
//! hidden prompt on a terminal. Values are zeroized after use.

use std::io::IsTerminal;

use anyhow::{bail, Result};
use zeroize::Zeroizing;

fn from_env(name: &str) -> Option<Zeroizing<String>> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Zeroizing::new)
}

fn hidden(prompt: &str) -> Result<Zeroizing<String>> {
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to prompt on; set the value in the environment instead");
    }
    Ok(Zeroizing::new(rpassword::prompt_password(prompt)?))
}

/// The master password: `CASTELLAN_PASSWORD`, or a hidden prompt (twice when `confirm`).
pub fn master_password(confirm: bool) -> Result<Zeroizing<String>> {
    if let Some(p) = from_env("CASTELLAN_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no master password: set CASTELLAN_PASSWORD or run in a terminal");
    }
    let p = hidden("Master password: ")?;
    if confirm {
        let again = hidden("Repeat master password: ")?;
        if *again != *p {
            bail!("the two passwords differ; nothing was changed");
        }
    }
    Ok(p)
}

/// A new master password for `change-password`: `CASTELLAN_NEW_PASSWORD` or a prompt (twice).
pub fn new_master_password() -> Result<Zeroizing<String>> {
    if let Some(p) = from_env("CASTELLAN_NEW_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no new master password: set CASTELLAN_NEW_PASSWORD or run in a terminal");
    }
    let p = hidden("New master password: ")?;
    let again = hidden("Repeat new master password: ")?;
    if *again != *p {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(p)
}

/// The Secret Key: `CASTELLAN_SECRET_KEY`, or a hidden prompt; `None` if neither is available
/// (a device that already holds it does not need it).
pub fn secret_key() -> Result<Option<Zeroizing<String>>> {
    if let Some(k) = from_env("CASTELLAN_SECRET_KEY") {
        return Ok(Some(k));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    Ok(Some(hidden("Secret Key (from your Emergency Kit): ")?))
}

/// The Secret Key from the environment only (for a device that already holds one).
pub fn secret_key_from_env() -> Option<Zeroizing<String>> {
    from_env("CASTELLAN_SECRET_KEY")
}

/// Whether stdin is a terminal (prompts are possible).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// A yes/no question on the terminal; `false` without a terminal.
pub fn confirm(question: &str) -> Result<bool> {
    use std::io::Write;
    if !interactive() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// A two-step verification code: the given value (flag or CASTELLAN_TOTP_CODE), or a prompt.
pub fn totp_code(given: Option<&str>) -> Result<Zeroizing<String>> {
    if let Some(c) = given.filter(|c| !c.trim().is_empty()) {
        return Ok(Zeroizing::new(c.trim().to_string()));
    }
    if let Some(c) = from_env("CASTELLAN_TOTP_CODE") {
        return Ok(c);
    }
    if !interactive() {
        bail!("this needs a two-step verification code: pass --totp CODE (login) or --code CODE, or set CASTELLAN_TOTP_CODE");
    }
    use std::io::Write;
    eprint!("Two-step verification code: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(Zeroizing::new(line.trim().to_string()))
}
