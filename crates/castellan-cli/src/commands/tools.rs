//! `castellan server` (and its operator subcommands `migrate-db`, `backup`, `restore`) and
//! `castellan generate`.

use anyhow::Result;
use castellan_crypto::{generate_password, PasswordPolicy};
use castellan_server::migrate::{Phase, Progress};
use castellan_server::Settings;
use clap::Parser;
use serde_json::json;

use super::Ctx;
use crate::cli::{
    BackupArgs, Cli, DatabaseUrl, GenerateArgs, LogFormat, MigrateDbArgs, RestoreArgs, ServerArgs,
    ServerCommand,
};
use crate::output::print_json;

/// Tables with at least this many rows get progress lines on stderr during `migrate-db`.
const PROGRESS_MIN_ROWS: u64 = 10_000;

/// The global `--json` flag (`server` gets only its own arguments).
fn json_output() -> bool {
    Cli::try_parse().map(|c| c.json).unwrap_or(false)
}

pub async fn server(mut args: ServerArgs) -> Result<()> {
    match args.command.take() {
        Some(ServerCommand::MigrateDb(a)) => return migrate_db(a, json_output()).await,
        Some(ServerCommand::Backup(a)) => return backup(a, json_output()).await,
        Some(ServerCommand::Restore(a)) => return restore(a, json_output()).await,
        Some(ServerCommand::SetupToken(a)) => return setup_token(a, json_output()).await,
        None => {}
    }
    let file = match &args.config {
        Some(path) => ServerConfigFile::load(path)?,
        None => ServerConfigFile::default(),
    };
    let data_dir = args
        .data_dir
        .clone()
        .or(file.data_dir)
        .unwrap_or_else(|| "./castellan-data".into());
    let bind = args
        .bind
        .clone()
        .or(file.bind)
        .unwrap_or_else(|| "127.0.0.1:8087".into());
    let database_url = match (&args.database_url, file.database_url) {
        (Some(u), _) => Some(u.0.clone()),
        (None, Some(u)) => Some(
            u.parse::<DatabaseUrl>()
                .map_err(|e| anyhow::anyhow!("{}: database_url: {e}", display(&args.config)))?
                .0,
        ),
        (None, None) => None,
    };
    let log_format = args
        .log_format
        .or(file.log_format)
        .unwrap_or(LogFormat::Text);
    let max_failed_logins = args
        .max_failed_logins
        .or(file.max_failed_logins)
        .unwrap_or(10);
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASTELLAN_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    let mut settings = Settings::default();
    settings.rate_limits.failed_logins_per_account = max_failed_logins;
    settings.smtp_url = args.smtp_url.clone().or(file.smtp_url);
    settings.smtp_from = args.smtp_from.clone().or(file.smtp_from);
    settings.public_url = args.public_url.clone().or(file.public_url);
    castellan_server::run(&data_dir, database_url.as_deref(), &bind, settings).await?;
    Ok(())
}

/// `castellan server --config FILE`: the same settings as the flags, in TOML.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerConfigFile {
    data_dir: Option<std::path::PathBuf>,
    database_url: Option<String>,
    bind: Option<String>,
    log_format: Option<LogFormat>,
    max_failed_logins: Option<u32>,
    smtp_url: Option<String>,
    smtp_from: Option<String>,
    public_url: Option<String>,
}

/// Config files larger than this are refused.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;

impl ServerConfigFile {
    fn load(path: &std::path::Path) -> Result<Self> {
        let meta = std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        if meta.len() > MAX_CONFIG_BYTES {
            anyhow::bail!("{} is larger than {MAX_CONFIG_BYTES} bytes", path.display());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        // The message of a TOML error spans lines; keep the first (it names line and column).
        toml::from_str(&text).map_err(|e| {
            let msg: Vec<String> = e
                .to_string()
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with('|')
                        && !l
                            .chars()
                            .all(|c| c == '^' || c.is_ascii_digit() || c == '|' || c == ' ')
                })
                .collect();
            anyhow::anyhow!("{}: {}", path.display(), msg.join(" "))
        })
    }
}

fn display(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

async fn migrate_db(a: MigrateDbArgs, json: bool) -> Result<()> {
    let mut on_progress = |p: Progress| {
        if p.total >= PROGRESS_MIN_ROWS {
            let verb = match p.phase {
                Phase::Copy => "copied",
                Phase::Verify => "verified",
            };
            eprintln!(
                "migrate-db: {}: {verb} {}/{} rows",
                p.table, p.done, p.total
            );
        }
    };
    let report =
        castellan_server::migrate::migrate_sqlite_to_postgres(&a.from.0, &a.to.0, &mut on_progress)
            .await?;
    if json {
        print_json(&json!({
            "source": report.source,
            "target": report.target,
            "schema_version": report.schema_version,
            "feed_counter": report.feed_counter,
            "feed_floor": report.feed_floor,
            "verified": report.tables.iter().all(|t| t.ok),
            "tables": report.tables,
        }));
        return Ok(());
    }
    println!(
        "Copied {} into {} (schema version {}).",
        report.source.display(),
        report.target,
        report.schema_version
    );
    println!("{:<16} {:>10}  {:<18} check", "table", "rows", "sha256");
    for t in &report.tables {
        println!(
            "{:<16} {:>10}  {:<18} {}",
            t.table,
            t.rows,
            format!("{}…", &t.sha256[..16.min(t.sha256.len())]),
            if t.ok { "ok" } else { "MISMATCH" }
        );
    }
    println!(
        "Feed position {} and feed floor {} carried over: devices keep their sync cursors and \
         sessions.",
        report.feed_counter, report.feed_floor
    );
    println!(
        "Verified: all {} tables have the same row counts and content checksums in the copy.",
        report.tables.len()
    );
    Ok(())
}

async fn backup(a: BackupArgs, json: bool) -> Result<()> {
    // An empty variable counts as unset (docs/cli.md).
    let url = a
        .database_url
        .as_ref()
        .map(|u| u.0.as_str())
        .filter(|u| !u.trim().is_empty());
    let r = castellan_server::backup::backup(&a.data_dir, url, &a.to).await?;
    if json {
        print_json(&serde_json::to_value(&r)?);
    } else {
        println!(
            "Backed up {} to {} ({} bytes, schema version {}, {} account(s), {} object(s); \
             checked).",
            r.database.display(),
            r.backup.display(),
            r.bytes,
            r.schema_version,
            r.users,
            r.objects
        );
    }
    Ok(())
}

async fn restore(a: RestoreArgs, json: bool) -> Result<()> {
    // An empty variable counts as unset (docs/cli.md).
    let url = a
        .database_url
        .as_ref()
        .map(|u| u.0.as_str())
        .filter(|u| !u.trim().is_empty());
    let r = castellan_server::backup::restore(&a.data_dir, url, &a.from, a.force).await?;
    if json {
        print_json(&serde_json::to_value(&r)?);
    } else {
        println!(
            "Restored {} into {} ({} bytes, schema version {}, {} account(s), {} object(s){}).",
            r.backup.display(),
            r.database.display(),
            r.bytes,
            r.schema_version,
            r.users,
            r.objects,
            if r.replaced {
                "; the previous database was replaced"
            } else {
                ""
            }
        );
    }
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

/// `castellan server setup-token`: a new one-time setup token for another partner.
async fn setup_token(a: crate::cli::SetupTokenArgs, json: bool) -> Result<()> {
    let token = castellan_server::issue_setup_token(
        &a.data_dir,
        a.database_url.as_ref().map(|u| u.0.as_str()),
    )
    .await?;
    if json {
        print_json(&json!({ "setup_token": token }));
    } else {
        println!("Setup token: {token}");
        println!("A registered user creates a partner with it: castellan admin setup --token {token} --name NAME");
    }
    Ok(())
}
