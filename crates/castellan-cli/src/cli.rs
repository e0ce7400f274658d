//! The command-line grammar (clap derive). Every command has `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "castellan",
    version,
    about = "End-to-end encrypted business password manager",
    propagate_version = true
)]
pub struct Cli {
    /// Print machine-readable JSON instead of text (stable shapes, documented in docs/cli.md).
    #[arg(long, global = true)]
    pub json: bool,
    /// Client state directory (one per device). Default: the per-user config directory.
    #[arg(long, global = true, env = "CASTELLAN_HOME", hide_env_values = true)]
    pub home: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (embedded SQLite under --data-dir, or PostgreSQL with --database-url);
    /// `server migrate-db`, `server backup` and `server restore` are operator commands.
    Server(ServerArgs),
    /// Create an account; prints the Secret Key for your Emergency Kit.
    Register(AccountArgs),
    /// Log this device in with the master password and Secret Key.
    Login(AccountArgs),
    /// End this device's session and forget the account here.
    Logout {
        /// Log out even though changes made on this device have not reached the server yet
        /// (they are lost).
        #[arg(long)]
        force: bool,
    },
    /// Lock the vault on this device until `castellan unlock`.
    Lock,
    /// Unlock the vault on this device with the master password.
    Unlock,
    /// Show the account, device, lock and server state.
    Status,
    /// Change the master password (re-wraps the account key; other sessions are signed out).
    ChangePassword,
    /// List or revoke the account's sessions (devices).
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Add, list, read, edit, move and delete items.
    #[command(subcommand)]
    Item(ItemCommand),
    /// Manage folders (per profile, nested).
    #[command(subcommand)]
    Folder(FolderCommand),
    /// List, restore or empty the trash.
    #[command(subcommand)]
    Trash(TrashCommand),
    /// Run, stop or inspect the background agent (keeps the vault unlocked in memory, syncs
    /// every few minutes and within seconds of a change elsewhere).
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Sync now with the server ("Backup Now"): send queued changes, fetch others' changes.
    Sync {
        /// Only show the sync state: queued changes, last sync, server reachability.
        #[arg(long)]
        status: bool,
    },
    /// Generate a password.
    Generate(GenerateArgs),
    /// Show the current one-time code of an item.
    Totp {
        /// Item id (or a unique id prefix, or an exact title).
        item: String,
    },
}

/// Without a subcommand, runs the server with the options below. The subcommands are operator
/// commands that do not start a server (see docs/operations.md).
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
    /// A TOML configuration file with any of: data_dir, database_url, bind, log_format,
    /// max_failed_logins. Flags and environment variables take precedence over it.
    #[arg(long, env = "CASTELLAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the database and server state [default: ./castellan-data].
    #[arg(long, env = "CASTELLAN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database instead of the SQLite file in --data-dir: postgres://USER[:PASSWORD]@HOST[:PORT]/DB
    /// (or postgresql://; several servers may share one database), or sqlite://PATH. Prefer the
    /// environment variable or the config file for a URL with a password: command lines are
    /// visible to other users.
    #[arg(long, env = "CASTELLAN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,
    /// Address to listen on [default: 127.0.0.1:8087].
    #[arg(long, env = "CASTELLAN_BIND")]
    pub bind: Option<String>,
    /// Log format on stderr: text, or json (one object per line) for log collectors
    /// [default: text].
    #[arg(long, value_enum, env = "CASTELLAN_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Failed logins allowed per account per 15 minutes [default: 10].
    #[arg(long)]
    pub max_failed_logins: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub enum ServerCommand {
    /// Copy a SQLite deployment into a new, empty PostgreSQL database and verify the copy (row
    /// counts and content checksums of every table). Stop the server first: writes made after
    /// the copy starts are not copied. Refuses a target that is not empty; on any failure
    /// nothing is written.
    MigrateDb(MigrateDbArgs),
    /// Write a consistent backup of a SQLite deployment to a new file (mode 0600), safe while
    /// the server runs. For PostgreSQL use pg_dump (see docs/operations.md).
    Backup(BackupArgs),
    /// Replace a SQLite deployment's database with a backup file. Stop the server first.
    Restore(RestoreArgs),
}

#[derive(Args, Debug)]
pub struct MigrateDbArgs {
    /// The SQLite database to copy: sqlite://PATH (a directory means its castellan.sqlite3).
    #[arg(long, value_name = "URL")]
    pub from: DatabaseUrl,
    /// The PostgreSQL database to copy into: postgres://USER[:PASSWORD]@HOST[:PORT]/DB. It must
    /// be empty (a new database). The password can also come from PGPASSWORD or ~/.pgpass.
    #[arg(long, value_name = "URL")]
    pub to: DatabaseUrl,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The backup file to write; it must not exist.
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    /// The deployment's data directory (its castellan.sqlite3 is backed up).
    #[arg(long, default_value = "./castellan-data", env = "CASTELLAN_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The database instead of the one in --data-dir: sqlite://PATH. (A postgres:// URL is
    /// refused: use pg_dump.)
    #[arg(long, env = "CASTELLAN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup file (written by `castellan server backup`).
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The data directory to restore into (as castellan.sqlite3; created if missing).
    #[arg(long, default_value = "./castellan-data", env = "CASTELLAN_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The database file to restore into instead of the one in --data-dir: sqlite://PATH.
    #[arg(long, env = "CASTELLAN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,
    /// Replace an existing database (stop the server that uses it first).
    #[arg(long)]
    pub force: bool,
}

/// A database URL as given; printed (`Debug`) without its password.
#[derive(Clone)]
pub struct DatabaseUrl(pub String);

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(DatabaseUrl(s.to_string()))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&castellan_server::redact_database_url(&self.0))
            .finish()
    }
}

#[derive(Subcommand, Debug)]
pub enum AgentCommand {
    /// Start the agent in the background and unlock it with the master password.
    Start(AgentRunArgs),
    /// Stop the agent (its keys are wiped).
    Stop,
    /// Show whether the agent runs, is unlocked, and how its syncs went.
    Status,
    /// Run the agent in the foreground (what `start` launches).
    #[command(hide = true)]
    Run(AgentRunArgs),
}

#[derive(Args, Debug, Clone)]
pub struct AgentRunArgs {
    /// Seconds between background syncs.
    #[arg(long, default_value_t = 300, env = "CASTELLAN_SYNC_INTERVAL")]
    pub interval: u64,
    /// Lock (forget the keys) after this many seconds without use.
    #[arg(long, default_value_t = 900)]
    pub lock_after: u64,
    /// Do not listen for push hints from the server (sync on the interval only).
    #[arg(long)]
    pub no_push: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct AccountArgs {
    /// Server URL, for example http://127.0.0.1:8087.
    #[arg(long, env = "CASTELLAN_SERVER")]
    pub server: String,
    #[arg(long)]
    pub email: String,
    /// Name shown for this device in `castellan sessions list`.
    #[arg(long)]
    pub device_name: Option<String>,
    /// (register) Also write the Emergency Kit to this file (mode 0600).
    #[arg(long)]
    pub kit_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum SessionsCommand {
    /// List live sessions.
    List,
    /// Revoke a session by id.
    Revoke { id: String },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Profile {
    Personal,
    Business,
}

#[derive(Args, Debug)]
pub struct ItemFieldArgs {
    #[arg(long)]
    pub username: Option<String>,
    /// The password (prefer --generate; values on the command line can end up in shell history).
    #[arg(long, conflicts_with = "generate")]
    pub password: Option<String>,
    /// Generate a strong password for the item.
    #[arg(long)]
    pub generate: bool,
    #[arg(long)]
    pub url: Option<String>,
    /// TOTP seed (base32 or otpauth:// URI).
    #[arg(long)]
    pub totp: Option<String>,
    #[arg(long)]
    pub notes: Option<String>,
    /// A type field or custom field, as name=value (repeatable). An empty value removes it.
    #[arg(long = "field", value_name = "NAME=VALUE")]
    pub fields: Vec<String>,
    /// Tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum ItemCommand {
    /// Add an item; prints its id.
    Add {
        #[arg(long, value_enum, default_value_t = Profile::Personal)]
        profile: Profile,
        /// login, server, database, ssh_key, email, wifi, application, bank_account, credit_card,
        /// identity, secure_note, software_license.
        #[arg(long = "type", default_value = "login")]
        item_type: String,
        #[arg(long)]
        title: String,
        /// Folder path like "Clients/Acme/Servers" (created if missing).
        #[arg(long)]
        folder: Option<String>,
        #[arg(long)]
        favorite: bool,
        #[command(flatten)]
        fields: ItemFieldArgs,
    },
    /// List items (not in the trash).
    List {
        #[arg(long, value_enum)]
        profile: Option<Profile>,
        /// Only items in this folder path (and its subfolders with --recursive).
        #[arg(long)]
        folder: Option<String>,
        #[arg(long, requires = "folder")]
        recursive: bool,
        /// Search titles, usernames, URLs and tags.
        #[arg(long)]
        search: Option<String>,
        #[arg(long = "type")]
        item_type: Option<String>,
        #[arg(long)]
        favorites: bool,
    },
    /// Show an item (secrets are masked in text output unless --reveal).
    Get {
        item: String,
        /// Print only this field's value.
        #[arg(long)]
        field: Option<String>,
        #[arg(long)]
        reveal: bool,
    },
    /// Change an item's fields.
    Edit {
        item: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        favorite: Option<bool>,
        #[command(flatten)]
        fields: ItemFieldArgs,
    },
    /// Move an item to another folder and/or profile.
    Mv {
        item: String,
        /// Target folder path (created if missing).
        #[arg(long, conflicts_with = "no_folder")]
        folder: Option<String>,
        /// Move out of any folder.
        #[arg(long)]
        no_folder: bool,
        #[arg(long, value_enum)]
        profile: Option<Profile>,
    },
    /// Move an item to the trash (or delete it for good with --purge).
    Rm {
        item: String,
        /// Delete for good instead of moving to the trash.
        #[arg(long)]
        purge: bool,
    },
    /// Restore an item from the trash.
    Restore { item: String },
    /// Show an item's password history.
    History { item: String },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ItemsChoice {
    /// Move the folder's items and subfolders to its parent.
    MoveToParent,
    /// Move the items in the folder and its subfolders to the trash.
    Trash,
}

#[derive(Subcommand, Debug)]
pub enum FolderCommand {
    /// Create a folder path like "A/B/C".
    Add {
        path: String,
        #[arg(long, value_enum, default_value_t = Profile::Personal)]
        profile: Profile,
    },
    /// List folders.
    List {
        #[arg(long, value_enum)]
        profile: Option<Profile>,
    },
    /// Rename a folder (its last path segment).
    Rename {
        path: String,
        new_name: String,
        #[arg(long, value_enum, default_value_t = Profile::Personal)]
        profile: Profile,
    },
    /// Move a folder under another folder, or to the top level.
    Mv {
        path: String,
        /// New parent folder path.
        #[arg(long, conflicts_with = "top")]
        to: Option<String>,
        /// Move to the top level.
        #[arg(long)]
        top: bool,
        #[arg(long, value_enum, default_value_t = Profile::Personal)]
        profile: Profile,
    },
    /// Delete a folder. A folder with items needs --items to say what happens to them.
    Rm {
        path: String,
        #[arg(long, value_enum)]
        items: Option<ItemsChoice>,
        #[arg(long, value_enum, default_value_t = Profile::Personal)]
        profile: Profile,
    },
}

#[derive(Subcommand, Debug)]
pub enum TrashCommand {
    /// List items in the trash.
    List,
    /// Restore an item from the trash.
    Restore { item: String },
    /// Delete every item in the trash for good.
    Empty {
        /// Required: confirms that the items are deleted for good.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[arg(long, short = 'l', default_value_t = 20)]
    pub length: usize,
    #[arg(long)]
    pub no_symbols: bool,
    #[arg(long)]
    pub no_digits: bool,
    #[arg(long)]
    pub no_uppercase: bool,
    #[arg(long)]
    pub no_lowercase: bool,
    /// Leave out characters that look alike (0/O, 1/l/I, ...).
    #[arg(long)]
    pub avoid_ambiguous: bool,
}
