//! `castellan server` and `castellan generate`.

use anyhow::Result;
use castellan_crypto::{generate_password, PasswordPolicy};
use castellan_server::Settings;
use serde_json::json;

use super::Ctx;
use crate::cli::{GenerateArgs, LogFormat, ServerArgs};
use crate::output::print_json;

pub async fn server(args: ServerArgs) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASTELLAN_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match args.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    let mut settings = Settings::default();
    settings.rate_limits.failed_logins_per_account = args.max_failed_logins;
    let database_url = args.database_url.as_ref().map(|url| url.0.as_str());
    castellan_server::run(&args.data_dir, database_url, &args.bind, settings).await?;
    Ok(())
}

pub fn generate(ctx: &Ctx, a: GenerateArgs) -> Result<()> {
    let policy = PasswordPolicy {
        length: a.length,
        lowercase: !a.no_lowercase,
        uppercase: !a.no_uppercase,
        digits: !a.no_digits,
        symbols: !a.no_symbols,
        avoid_ambiguous: a.avoid_ambiguous,
    };
    let pw = generate_password(&policy)
        .map_err(|e| castellan_client::ClientError::Invalid(e.to_string()))?;
    if ctx.json {
        print_json(&json!({ "password": pw.as_str() }));
    } else {
        println!("{}", pw.as_str());
    }
    Ok(())
}
