//! `castellan`: the command-line client and, with `castellan server`, the server.
//!
//! Exit codes (stable, for scripts): 0 success; 1 other error; 2 usage error; 3 not logged in or
//! locked; 4 wrong master password or Secret Key; 5 not found; 6 conflict; 7 server
//! unreachable; 8 integrity failure (the server sent something tampered); 9 rate limited.

#![forbid(unsafe_code)]

mod cli;
mod commands;
mod output;
mod prompt;

use clap::error::ErrorKind;
use clap::Parser;

/// `--help` and `--version` print normally; any other parse error becomes one line on stderr
/// (exit 2), in JSON when `--json` was given.
fn exit_usage(e: clap::Error) -> ! {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        std::process::exit(
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                2
            } else {
                0
            },
        );
    }
    let rendered = e.render().to_string();
    // The message proper comes before clap's "Usage:" block; fold it onto one line.
    let text: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let joined = text.join(" ");
    let msg = format!("{} (see --help)", joined.trim_start_matches("error: "));
    if std::env::args().any(|a| a == "--json") {
        eprintln!(
            "{}",
            serde_json::json!({ "error": { "code": "usage", "message": msg } })
        );
    } else {
        eprintln!("error: {msg}");
    }
    std::process::exit(2);
}

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => exit_usage(e),
    };
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(commands::run(cli));
    if let Err(err) = result {
        let code = output::exit_code(&err);
        output::print_error(&err, json);
        std::process::exit(code);
    }
}
