//! One module per command group. Each returns `anyhow::Result<()>` and prints its own output.

mod account;
mod admin;
mod agent;
mod backup;
mod folder;
mod item;
mod share;
mod sync;
mod tools;

use std::path::PathBuf;

use anyhow::Result;
use castellan_client::home::Home;
use castellan_client::vault::VaultSession;
use castellan_types::VaultKindDto;

use crate::cli::{Cli, Command, Profile};
use crate::prompt;

pub struct Ctx {
    pub json: bool,
    pub home: Home,
}

fn default_home() -> PathBuf {
    directories::ProjectDirs::from("", "", "castellan")
        .map(|d| d.config_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".castellan"))
}

impl Ctx {
    /// An unlocked session: the agent's keys when an unlocked agent runs, else the master
    /// password (refused while the device is locked).
    pub async fn session(&self) -> Result<VaultSession> {
        let state = self.home.device()?;
        if state.locked {
            return Err(castellan_client::ClientError::Locked.into());
        }
        if let Some(mut agent) = castellan_agent::AgentClient::connect(&self.home).await {
            if let Ok(Some(ak)) = agent.keys().await {
                let account = castellan_client::account::open_account(
                    state.user_id,
                    &state.email,
                    ak,
                    &state.account,
                )?;
                let mut s = VaultSession::from_parts(&self.home, state, account).await?;
                s.set_agent_syncs(true);
                return Ok(s);
            }
        }
        let pw = prompt::master_password(false)?;
        Ok(VaultSession::open(&self.home, &pw, false).await?)
    }
}

impl Ctx {
    /// The unlocked account keys (agent or master password), for organisation commands.
    pub async fn account(&self) -> Result<castellan_client::account::UnlockedAccount> {
        let state = self.home.device()?;
        if state.locked {
            return Err(castellan_client::ClientError::Locked.into());
        }
        if let Some(mut agent) = castellan_agent::AgentClient::connect(&self.home).await {
            if let Ok(Some(ak)) = agent.keys().await {
                return Ok(castellan_client::account::open_account(
                    state.user_id,
                    &state.email,
                    ak,
                    &state.account,
                )?);
            }
        }
        let pw = prompt::master_password(false)?;
        let (_, account) = castellan_client::account::unlock_local(&self.home, &pw)?;
        Ok(account)
    }
}

pub fn profile(p: Profile) -> VaultKindDto {
    match p {
        Profile::Personal => VaultKindDto::Personal,
        Profile::Business => VaultKindDto::Business,
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx {
        json: cli.json,
        home: Home::new(cli.home.clone().unwrap_or_else(default_home)),
    };
    match cli.command {
        Command::Server(args) => tools::server(args).await,
        Command::Register(args) => account::register(&ctx, args).await,
        Command::Login(args) => account::login(&ctx, args).await,
        Command::Logout { force } => account::logout(&ctx, force).await,
        Command::Lock => account::lock(&ctx).await,
        Command::Unlock => account::unlock(&ctx).await,
        Command::Status => account::status(&ctx).await,
        Command::ChangePassword => account::change_password(&ctx).await,
        Command::Sessions(c) => account::sessions(&ctx, c).await,
        Command::Item(c) => item::run(&ctx, c).await,
        Command::Folder(c) => folder::run(&ctx, c).await,
        Command::Trash(c) => item::trash(&ctx, c).await,
        Command::Sync { status } => sync::run(&ctx, status).await,
        Command::Agent(c) => agent::run(&ctx, c).await,
        Command::Generate(args) => tools::generate(&ctx, args),
        Command::Totp { item } => item::totp(&ctx, &item).await,
        Command::Admin(c) => admin::run(&ctx, c).await,
        Command::Join { link } => admin::join(&ctx, &link).await,
        Command::TwoFactor(c) => admin::two_factor(&ctx, c).await,
        Command::Share(c) => share::run(&ctx, c).await,
        Command::Backup(c) => backup::run(&ctx, c).await,
    }
}
