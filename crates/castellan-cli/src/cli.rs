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
    /// Administer the organisation: partner, customers, users, groups, policies, audit log.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Join a company with this account through an invitation link (checks the link's company
    /// key fingerprint before accepting).
    Join {
        /// The invitation link, `https://…/join#v1.…` (quote it in the shell).
        link: String,
    },
    /// Two-step verification (TOTP) for logging in.
    #[command(name = "2fa", subcommand)]
    TwoFactor(TwoFactorCommand),
    /// Share items and folders with users and groups of your company (shown to them under
    /// "Shared folders").
    #[command(subcommand)]
    Share(ShareCommand),
    /// Organisation backup of Business profiles: enable, list, restore, self-check
    /// (docs/org-backup.md; Advanced subscription).
    #[command(subcommand)]
    Backup(BackupCommand),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackupModeArg {
    /// The private key is saved by you (recovery kit file and words); the server never has it.
    OfflineKey,
    /// The private key is held by the members of the company's Recovery Group.
    RecoveryGroup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RestoreIntoArg {
    /// Into your own Business profile, as new items (under "Restored <email>").
    Me,
    /// To the user's new account: their client imports the items at its next sync.
    User,
    /// An encrypted export file (--output; passphrase from CASTELLAN_EXPORT_PASSPHRASE or a prompt).
    File,
}

/// Organisation backup. Exit codes as every command (docs/cli.md): 0 ok, 1 invalid input or a
/// key that does not open the backup, 2 usage, 5 not found, 8 integrity (tampered, forged or
/// uncertified backup), 10 not allowed (incl. plan_required).
#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Turn organisation backup on (or make a new key): signs a new company policy.
    Enable {
        #[arg(long, value_enum)]
        mode: BackupModeArg,
        /// Offline-key mode: where to write the recovery kit (mode 0600; default
        /// ./castellan-backup-kit-<company>-v<version>.json).
        #[arg(long, value_name = "FILE")]
        kit: Option<std::path::PathBuf>,
        /// Delete backups older than this (default 90).
        #[arg(long, value_name = "N")]
        retention_days: Option<u32>,
        /// A customer you administer (partner admins and technicians); default: your company.
        #[arg(long, value_name = "COMPANY")]
        company: Option<String>,
    },
    /// Turn organisation backup off and delete every backup of the company.
    Disable {
        #[arg(long)]
        yes: bool,
        /// A customer you administer (partner admins and technicians); default: your company.
        #[arg(long, value_name = "COMPANY")]
        company: Option<String>,
    },
    /// Users and their backup points.
    List {
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
        /// A customer you administer (partner admins and technicians); default: your company.
        #[arg(long, value_name = "COMPANY")]
        company: Option<String>,
    },
    /// Restore a user's backup (the newest at or before --at), verified before it is opened.
    Restore {
        #[arg(long, value_name = "EMAIL")]
        user: String,
        /// Unix seconds or RFC 3339 (default: now).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// The recovery kit file (offline-key mode).
        #[arg(long, value_name = "FILE", conflicts_with = "words")]
        key_file: Option<std::path::PathBuf>,
        /// The recovery words (offline-key mode); without --key-file or --words, the key of the
        /// Recovery Group you are a member of.
        #[arg(long, value_name = "WORDS")]
        words: Option<String>,
        #[arg(long, value_enum, default_value = "me")]
        into: RestoreIntoArg,
        /// The export file for --into file.
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        /// A customer you administer (partner admins and technicians); default: your company.
        #[arg(long, value_name = "COMPANY")]
        company: Option<String>,
    },
    /// The Recovery Group (recovery-group mode).
    #[command(subcommand, name = "recovery-group")]
    RecoveryGroup(RecoveryGroupCommand),
    /// Lists each precondition of a backup with pass or fail.
    Check {
        /// Check another member (admins).
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
    },
    /// Write a backup of your Business profile now (normally done after each sync).
    Now,
}

#[derive(Subcommand, Debug)]
pub enum RecoveryGroupCommand {
    /// Add a member (run by a current member: seals the group key to them).
    AddMember { email: String },
    /// Remove a member and rotate the backup key.
    RemoveMember { email: String },
}

/// SHARE is a share id or its name.
#[derive(Subcommand, Debug)]
pub enum ShareCommand {
    /// Create a share, move items and folders into it and give it to recipients.
    Create {
        /// The share's name (its folder under "Shared folders").
        #[arg(long)]
        name: String,
        /// An item (id, unique id prefix or exact title) to move into the share; repeatable.
        #[arg(long = "item", value_name = "ITEM")]
        items: Vec<String>,
        /// A folder path (Business, else Personal) to move in with its subfolders; repeatable.
        #[arg(long = "folder", value_name = "PATH")]
        folders: Vec<String>,
        /// A user by email, with a role (default read-only): EMAIL[:ROLE]; repeatable.
        #[arg(long = "to", value_name = "EMAIL[:ROLE]")]
        to: Vec<String>,
        /// A group by name, with a role (default read-only): NAME[:ROLE]; repeatable.
        #[arg(long = "group", value_name = "NAME[:ROLE]")]
        groups: Vec<String>,
        /// Expiry: YYYY-MM-DD (end of that day, UTC) or an RFC 3339 time.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List my shares: owned, accepted and invitations.
    List,
    /// Show a share: recipients with their roles, versions, expiry.
    Show { share: String },
    /// Move items and folders into a share (owners and editors).
    AddItems {
        share: String,
        #[arg(long = "item", value_name = "ITEM")]
        items: Vec<String>,
        #[arg(long = "folder", value_name = "PATH")]
        folders: Vec<String>,
    },
    /// Move items out of a share, back to your Business profile (owners and editors).
    RemoveItems {
        share: String,
        #[arg(long = "item", value_name = "ITEM", required = true)]
        items: Vec<String>,
    },
    /// Give the share to a user or a group (owners).
    AddRecipient {
        share: String,
        #[command(flatten)]
        who: ShareWho,
        #[arg(long, value_enum)]
        role: ShareRoleArg,
    },
    /// Take the share away from a user or a group (owners). The share key is rotated and the
    /// items they could read are listed: change those passwords.
    RemoveRecipient {
        share: String,
        #[command(flatten)]
        who: ShareWho,
    },
    /// Change a recipient's role (owners).
    SetRole {
        share: String,
        #[command(flatten)]
        who: ShareWho,
        #[arg(long, value_enum)]
        role: ShareRoleArg,
    },
    /// Set or clear the expiry (owners).
    Expire {
        share: String,
        /// YYYY-MM-DD (end of that day, UTC) or an RFC 3339 time.
        #[arg(long, conflicts_with = "never", required_unless_present = "never")]
        at: Option<String>,
        /// Remove the expiry.
        #[arg(long)]
        never: bool,
    },
    /// Accept a share offered to you (by id, see `share list`).
    Accept { share: String },
    /// Decline a share offered to you.
    Decline { share: String },
    /// Delete a share (owners): its items return to your Business profile.
    Rm { share: String },
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ShareWho {
    /// A user of your company, by email.
    #[arg(long)]
    pub user: Option<String>,
    /// A group of your company, by name.
    #[arg(long)]
    pub group: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ShareRoleArg {
    Owner,
    Editor,
    ReadOnly,
    ReadOnlyHidden,
}

#[derive(Subcommand, Debug)]
pub enum TwoFactorCommand {
    /// Set up two-step verification: shows a QR code for an authenticator app, asks for a code
    /// and prints one-time recovery codes (once). With --code, confirms a pending setup.
    Enable {
        /// A code from the authenticator app, to confirm a setup started earlier (for scripts:
        /// `2fa enable` without a terminal prints the secret and stops there).
        #[arg(long, env = "CASTELLAN_TOTP_CODE", hide_env_values = true)]
        code: Option<String>,
    },
    /// Turn two-step verification off (needs a current code or a recovery code).
    Disable {
        #[arg(long, env = "CASTELLAN_TOTP_CODE", hide_env_values = true)]
        code: Option<String>,
    },
    /// Show whether two-step verification is on.
    Status,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    pub fn on(self) -> bool {
        self == OnOff::On
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PlanArg {
    Trial,
    Standard,
    Advanced,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RoleArg {
    Admin,
    User,
    Technician,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AuditFormat {
    Json,
    Csv,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create the first partner with a setup token (printed by the server) and become its admin.
    Setup {
        /// The one-time setup token from the server's output or `castellan server setup-token`.
        #[arg(long, allow_hyphen_values = true)]
        token: String,
        /// The partner's name.
        #[arg(long)]
        name: String,
    },
    /// Your partner (MSP) company.
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Customers of your partner.
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// A customer's subscription (plan and seats).
    #[command(subcommand)]
    Subscription(SubscriptionCommand),
    /// Members and invitations of a company.
    #[command(subcommand)]
    User(UserCommand),
    /// Assign partner technicians to customers.
    #[command(subcommand)]
    Technician(TechnicianCommand),
    /// Groups of a company (signed rosters, group keys).
    #[command(subcommand)]
    Group(GroupCommand),
    /// Security policies (signed by the company key) and partner policy templates.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Query or export the audit log of a company.
    Audit(AuditArgs),
    /// Every share of a company: recipients, ownership (changes signed with the company key).
    #[command(subcommand)]
    Share(AdminShareCommand),
}

/// SHARE is a share id or its name.
#[derive(Subcommand, Debug)]
pub enum AdminShareCommand {
    /// List the company's shares with their owners, recipients and roles.
    List {
        #[arg(long)]
        company: Option<String>,
    },
    /// Take a user or group off a share's access list (their access ends at once; the share
    /// key rotates at the owner's next change).
    RemoveRecipient {
        share: String,
        #[arg(long, value_name = "EMAIL", conflicts_with = "group")]
        user: Option<String>,
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
        #[arg(long)]
        company: Option<String>,
    },
    /// Make a current recipient the share's owner; the previous owners become editors.
    Transfer {
        share: String,
        #[arg(long, value_name = "EMAIL")]
        to: String,
        #[arg(long)]
        company: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum PartnerCommand {
    /// Show your partner company, its key fingerprint and your role.
    Show,
}

#[derive(Subcommand, Debug)]
pub enum CustomerCommand {
    /// Create a customer (its keys are made on this device and sealed to every partner admin).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        plan: PlanArg,
        #[arg(long)]
        seats: i64,
    },
    /// List the customers you administer.
    List,
    /// Show a customer (id or exact name).
    Show { company: String },
    /// Rename a customer.
    Rename { company: String, name: String },
    /// Disable a customer: its members cannot log in, it accepts no invitations.
    Disable { company: String },
    /// Enable a disabled customer.
    Enable { company: String },
}

#[derive(Subcommand, Debug)]
pub enum SubscriptionCommand {
    /// Set a customer's plan and seats (partner admins).
    Set {
        /// Company id or exact name.
        #[arg(long)]
        company: String,
        #[arg(long, value_enum)]
        plan: PlanArg,
        #[arg(long)]
        seats: i64,
    },
    /// Show a company's plan and seats.
    Show {
        /// Company id or exact name [default: your company].
        #[arg(long)]
        company: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Invite someone by email; prints the link (and mails it when the server can).
    Invite {
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Company id or exact name [default: your company].
        #[arg(long)]
        company: Option<String>,
    },
    /// List the members of a company.
    List {
        #[arg(long)]
        company: Option<String>,
    },
    /// List the invitations of a company.
    Invitations {
        #[arg(long)]
        company: Option<String>,
    },
    /// Revoke an open invitation (by email or invitation id).
    RevokeInvite {
        email: String,
        #[arg(long)]
        company: Option<String>,
    },
    /// Confirm a member who accepted an invitation: shows their key fingerprint and asks.
    Confirm {
        email: String,
        #[arg(long)]
        company: Option<String>,
        /// Confirm without asking (scripts): you vouch for the fingerprint shown.
        #[arg(long)]
        yes: bool,
    },
    /// Disable a member (cannot log in).
    Disable {
        email: String,
        #[arg(long)]
        company: Option<String>,
    },
    /// Enable a disabled member.
    Enable {
        email: String,
        #[arg(long)]
        company: Option<String>,
    },
    /// Remove a member from the company (Business items are deleted when the policy says so).
    Remove {
        email: String,
        #[arg(long)]
        company: Option<String>,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Delete a member's account and all its data.
    Delete {
        email: String,
        #[arg(long)]
        company: Option<String>,
        #[arg(long)]
        yes: bool,
    },
    /// Delete a member's account and invite the same email with the same role again.
    Reset {
        email: String,
        #[arg(long)]
        company: Option<String>,
        #[arg(long)]
        yes: bool,
    },
    /// Require a new master password at the member's next login.
    RequirePasswordChange {
        email: String,
        #[arg(long)]
        company: Option<String>,
    },
    /// Change a confirmed member's role (signs a new member certificate; a new admin gets the
    /// company keys, and in a partner every customer's keys).
    SetRole {
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long)]
        company: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TechnicianCommand {
    /// Give a partner technician access to a customer (its keys are sealed to them).
    Assign {
        email: String,
        #[arg(long)]
        company: String,
    },
    /// Take a technician's access to a customer away.
    Unassign {
        email: String,
        #[arg(long)]
        company: String,
    },
    /// List the customers a technician is assigned to.
    List { email: String },
}

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Create a group (its keys are sealed to each member).
    Create {
        name: String,
        /// A member's email (repeatable).
        #[arg(long = "member")]
        members: Vec<String>,
        #[arg(long)]
        company: Option<String>,
    },
    /// List groups with their signed member lists.
    List {
        #[arg(long)]
        company: Option<String>,
    },
    /// Rename a group.
    Rename {
        group: String,
        name: String,
        #[arg(long)]
        company: Option<String>,
    },
    /// Delete a group.
    Rm {
        group: String,
        #[arg(long)]
        company: Option<String>,
        #[arg(long)]
        yes: bool,
    },
    /// Add a confirmed member to a group.
    AddMember {
        group: String,
        email: String,
        #[arg(long)]
        company: Option<String>,
    },
    /// Remove a member from a group.
    RemoveMember {
        group: String,
        email: String,
        #[arg(long)]
        company: Option<String>,
    },
}

/// One flag per policy; a flag not given leaves the policy as it is.
#[derive(Args, Debug, Default, Clone)]
pub struct PolicyFlags {
    /// Require two-step verification (3 grace logins).
    #[arg(long, value_enum)]
    pub require_2fa: Option<OnOff>,
    /// Minimum master password length (0 = no master password policy).
    #[arg(long)]
    pub mp_min_length: Option<u32>,
    #[arg(long, value_enum)]
    pub mp_require_upper: Option<OnOff>,
    #[arg(long, value_enum)]
    pub mp_require_lower: Option<OnOff>,
    #[arg(long, value_enum)]
    pub mp_require_digits: Option<OnOff>,
    #[arg(long, value_enum)]
    pub mp_require_symbols: Option<OnOff>,
    /// Days after which the master password must be changed (0 = never).
    #[arg(long)]
    pub mp_max_age_days: Option<u32>,
    /// Longest auto-lock timeout in minutes (0 = no limit).
    #[arg(long)]
    pub max_vault_timeout: Option<u32>,
    /// Delete a removed user's Business items.
    #[arg(long, value_enum)]
    pub remove_business_items: Option<OnOff>,
    /// (Advanced) Only admins may use the Customer Portal.
    #[arg(long, value_enum)]
    pub restrict_portal: Option<OnOff>,
    /// (Advanced) Allowed share recipient domains, comma-separated ("" = off).
    #[arg(long, value_name = "DOMAINS")]
    pub restrict_sharing_domains: Option<String>,
    /// (Advanced) Clients report item events to the audit log.
    #[arg(long, value_enum)]
    pub password_auditing: Option<OnOff>,
    /// Domains whose items belong in the Business profile, comma-separated ("" = none).
    #[arg(long, value_name = "DOMAINS")]
    pub force_business_domains: Option<String>,
    /// More addresses notified of user changes, comma-separated ("" = none).
    #[arg(long, value_name = "EMAILS")]
    pub notify: Option<String>,
    #[arg(long, value_enum)]
    pub disable_personal_export: Option<OnOff>,
    /// Minimum length of generated passwords (0 = no generator policy).
    #[arg(long)]
    pub generator_min_length: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Show the verified policy of a company.
    Show {
        #[arg(long)]
        company: Option<String>,
    },
    /// Change policies: signs a new policy document with the company key.
    Set {
        #[arg(long)]
        company: Option<String>,
        #[command(flatten)]
        flags: PolicyFlags,
    },
    /// Partner policy templates.
    #[command(subcommand)]
    Template(TemplateCommand),
}

#[derive(Subcommand, Debug)]
pub enum TemplateCommand {
    /// Create a template from policy flags.
    Create {
        name: String,
        #[command(flatten)]
        flags: PolicyFlags,
    },
    /// List templates.
    List,
    /// Delete a template (name or id).
    Rm { template: String },
    /// Apply a template to customers: one signed policy document per customer.
    Apply {
        #[arg(long)]
        template: String,
        /// Company ids or exact names, comma-separated.
        #[arg(long, conflicts_with = "all", value_delimiter = ',')]
        companies: Vec<String>,
        /// Every customer you administer.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Company id or exact name [default: your company].
    #[arg(long)]
    pub company: Option<String>,
    /// Only events of this user (actor or target).
    #[arg(long)]
    pub user: Option<String>,
    /// Event type prefix, e.g. `login` or `member.confirmed`.
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// From this time (RFC 3339 or Unix seconds).
    #[arg(long)]
    pub since: Option<String>,
    /// Until this time (RFC 3339 or Unix seconds).
    #[arg(long)]
    pub until: Option<String>,
    /// Output format [default: a table, or json with --json].
    #[arg(long, value_enum)]
    pub format: Option<AuditFormat>,
    /// Write to this file (mode 0600) instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// At most this many events.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
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
    /// Outgoing mail (invitations): smtp://HOST:PORT, smtp://HOST:587?tls=required or
    /// smtps://HOST:465, optionally with USER:PASSWORD@. Unset: no mail; admins pass links on.
    #[arg(long, env = "CASTELLAN_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender address of the server's mail [default: castellan@localhost].
    #[arg(long, env = "CASTELLAN_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// The base URL people use to reach this server, for links in mail.
    #[arg(long, env = "CASTELLAN_PUBLIC_URL")]
    pub public_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ServerCommand {
    /// Issue a new one-time setup token (replacing an unused one) with which a registered user
    /// creates another partner (`castellan admin setup --token`).
    SetupToken(SetupTokenArgs),
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
pub struct SetupTokenArgs {
    /// The deployment's data directory.
    #[arg(long, default_value = "./castellan-data", env = "CASTELLAN_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The database instead of the one in --data-dir (sqlite://PATH or postgres://…).
    #[arg(long, env = "CASTELLAN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,
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
    /// Server URL, for example http://127.0.0.1:8087 (register --invite: default the link's).
    #[arg(long, env = "CASTELLAN_SERVER")]
    pub server: Option<String>,
    /// The account's email (register --invite: default the invitation's).
    #[arg(long)]
    pub email: Option<String>,
    /// (register) Create the account through an invitation link and join the company; the
    /// master password must meet the company's policy.
    #[arg(long, value_name = "LINK")]
    pub invite: Option<String>,
    /// (login) The two-step verification code (or a recovery code), for scripts.
    #[arg(long, env = "CASTELLAN_TOTP_CODE", hide_env_values = true)]
    pub totp: Option<String>,
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
