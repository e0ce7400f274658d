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

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
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
