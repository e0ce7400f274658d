//! `castellan server migrate-db`: moves a SQLite deployment to PostgreSQL.
//!
//! [`migrate_sqlite_to_postgres`] copies every table of a SQLite database (`sqlite://PATH`) into
//! an empty PostgreSQL database (`postgres://…`) and verifies the copy before it commits:
//!
//! 1. The source is opened read only, in one read transaction (a consistent snapshot: a server
//!    that still writes to it is not seen after the start, which is why the documentation says
//!    to stop the server first). It must be a Castellan database whose applied migrations are
//!    exactly the ones of this build, with the tables and columns this module knows.
//! 2. The target must hold nothing but Castellan's tables (none at all for a new database), all
//!    empty; then [`castellan_store_postgres::PgStore::connect`] applies the migrations.
//! 3. In ONE PostgreSQL transaction, which first takes an exclusive lock on every table (so no
//!    server can use the target meanwhile) and checks again that they are empty, every table is
//!    copied in dependency order (the one self-reference, a customer's partner, is checked at the
//!    commit), converting the types (TEXT ids to `uuid`, 0/1 to `boolean`, INTEGER to
//!    `bigint`/`integer`, BLOB to `bytea`). Values are copied as they are, so the feed counter,
//!    the feed floor, the audit counter and every `seq` stay exactly what they were and the
//!    devices' cursors stay valid; sessions are copied too (with their restrictions), so devices
//!    stay logged in. The organisation (companies, members, invitations, key grants, technician
//!    assignments, groups, policy templates, two-step verification) and the append-only audit
//!    log are copied like every other table.
//! 4. Still inside that transaction, every table is read back and compared with the source: the
//!    row count and a content checksum (SHA-256 over a canonical encoding of the rows in primary
//!    key order, the same on both sides, see [`TableSummary`]). Only if every table matches is the
//!    transaction committed. Any failure rolls it back: the target is left as it was (apart from
//!    the migrations of step 2 on a new database), nothing half-written.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use futures_util::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteRow};
use sqlx::{Connection, PgConnection, Postgres, QueryBuilder, Row, SqliteConnection};
use uuid::Uuid;

use crate::{backend_for, redact_database_url, Backend, SQLITE_FILE};

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the copy waits for the exclusive locks on the target's tables (held by a server
/// that uses the target) before it gives up.
const LOCK_TIMEOUT: &str = "10s";
/// Rows per `INSERT` (well below PostgreSQL's 65 535 bind parameters for every table).
const BATCH_ROWS: usize = 500;
/// How often (in rows) progress is reported.
const PROGRESS_EVERY: u64 = 5_000;

fn progress_due(rows: u64) -> bool {
    rows.checked_rem(PROGRESS_EVERY) == Some(0)
}

// ---- the schema this module copies

/// The type of a column, as the copy sees it (the logical value, whatever the backend stores).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    /// SQLite TEXT (hyphenated lowercase), PostgreSQL `uuid`.
    Uuid,
    /// TEXT on both sides.
    Text,
    /// SQLite INTEGER, PostgreSQL `bigint`.
    Int8,
    /// SQLite INTEGER, PostgreSQL `integer`.
    Int4,
    /// SQLite BLOB, PostgreSQL `bytea`.
    Bytes,
    /// SQLite INTEGER 0/1, PostgreSQL `boolean`.
    Bool,
}

impl Ty {
    fn sqlite_type(self) -> &'static str {
        match self {
            Ty::Uuid | Ty::Text => "TEXT",
            Ty::Int8 | Ty::Int4 | Ty::Bool => "INTEGER",
            Ty::Bytes => "BLOB",
        }
    }

    /// `information_schema.columns.data_type`.
    fn postgres_type(self) -> &'static str {
        match self {
            Ty::Uuid => "uuid",
            Ty::Text => "text",
            Ty::Int8 => "bigint",
            Ty::Int4 => "integer",
            Ty::Bytes => "bytea",
            Ty::Bool => "boolean",
        }
    }
}

struct Col {
    name: &'static str,
    ty: Ty,
    nullable: bool,
}

const fn col(name: &'static str, ty: Ty) -> Col {
    Col {
        name,
        ty,
        nullable: false,
    }
}

const fn null(name: &'static str, ty: Ty) -> Col {
    Col {
        name,
        ty,
        nullable: true,
    }
}

struct Table {
    name: &'static str,
    /// The primary key (one or more columns): rows are read in its order on both sides.
    key: &'static [&'static str],
    cols: &'static [Col],
    /// The migrations insert the row `(1, 0)`: a new database has exactly that row, and the copy
    /// replaces it.
    seeded: bool,
}

impl Table {
    /// The positions of the key columns in `cols`.
    fn key_indexes(&self) -> impl Iterator<Item = usize> + '_ {
        self.key
            .iter()
            .map(|k| self.cols.iter().position(|c| c.name == *k).unwrap_or(0))
    }

    fn column_list(&self) -> String {
        self.cols
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn sqlite_select(&self) -> String {
        format!(
            "SELECT {} FROM {} ORDER BY {}",
            self.column_list(),
            self.name,
            self.key.join(", ")
        )
    }

    fn postgres_select(&self) -> String {
        // Text keys in byte order whatever the database's collation, like SQLite's BINARY and
        // Rust's `String` order; `uuid`, `bytea` and integers order the same way everywhere.
        let order: Vec<String> = self
            .key_indexes()
            .map(|i| {
                let c = &self.cols[i];
                if c.ty == Ty::Text {
                    format!("{} COLLATE \"C\"", c.name)
                } else {
                    c.name.to_string()
                }
            })
            .collect();
        format!(
            "SELECT {} FROM {} ORDER BY {}",
            self.column_list(),
            self.name,
            order.join(", ")
        )
    }
}

/// Every table of schema version 6, in an order where each table comes after the tables it
/// references.
static TABLES: &[Table] = &[
    Table {
        name: "server_config",
        key: &["key"],
        cols: &[col("key", Ty::Text), col("value", Ty::Bytes)],
        seeded: false,
    },
    Table {
        name: "users",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            col("email", Ty::Text),
            col("opaque_record", Ty::Bytes),
            col("keyset", Ty::Text),
            col("credentials_version", Ty::Int8),
            col("created_at", Ty::Int8),
            col("updated_at", Ty::Int8),
        ],
        seeded: false,
    },
    // Schema version 3: the organisation. `companies.partner_id` references `companies`: its
    // foreign key is deferred during the copy (rows come in id order, not partners first).
    Table {
        name: "companies",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            col("kind", Ty::Text),
            null("partner_id", Ty::Uuid),
            col("name", Ty::Text),
            col("status", Ty::Text),
            col("plan", Ty::Text),
            null("seats", Ty::Int8),
            null("trial_ends_at", Ty::Int8),
            col("signing_public_key", Ty::Bytes),
            col("encryption_public_key", Ty::Bytes),
            null("policy", Ty::Bytes),
            col("policy_counter", Ty::Int8),
            col("created_at", Ty::Int8),
            col("updated_at", Ty::Int8),
            // Schema version 6: the certificate revocation list.
            null("revocations", Ty::Bytes),
            col("revocations_version", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "members",
        key: &["user_id"],
        cols: &[
            col("user_id", Ty::Uuid),
            col("company_id", Ty::Uuid),
            col("role", Ty::Text),
            col("status", Ty::Text),
            col("disabled", Ty::Bool),
            null("cert", Ty::Bytes),
            null("invitation", Ty::Bytes),
            col("require_password_change", Ty::Bool),
            col("logins_without_2fa", Ty::Int8),
            col("joined_at", Ty::Int8),
            null("confirmed_at", Ty::Int8),
            null("confirmed_by", Ty::Uuid),
        ],
        seeded: false,
    },
    // Schema version 4: share vaults belong to a company (`user_id` NULL, `company_id` set).
    Table {
        name: "vaults",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            null("user_id", Ty::Uuid),
            col("kind", Ty::Text),
            col("key_wrap", Ty::Bytes),
            col("key_version", Ty::Int8),
            col("created_at", Ty::Int8),
            null("company_id", Ty::Uuid),
        ],
        seeded: false,
    },
    Table {
        name: "login_attempts",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            null("user_id", Ty::Uuid),
            col("email", Ty::Text),
            col("state", Ty::Bytes),
            col("expires_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "sessions",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            col("user_id", Ty::Uuid),
            col("token_hash", Ty::Bytes),
            col("device_name", Ty::Text),
            col("created_at", Ty::Int8),
            col("last_seen_at", Ty::Int8),
            col("expires_at", Ty::Int8),
            null("revoked_at", Ty::Int8),
            null("restriction", Ty::Text),
        ],
        seeded: false,
    },
    Table {
        name: "rate_limits",
        key: &["key"],
        cols: &[
            col("key", Ty::Text),
            col("window_start", Ty::Int8),
            col("count", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "feed_counter",
        key: &["id"],
        cols: &[col("id", Ty::Int4), col("value", Ty::Int8)],
        seeded: true,
    },
    Table {
        name: "objects",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            null("user_id", Ty::Uuid),
            col("vault_id", Ty::Uuid),
            col("kind", Ty::Text),
            col("version", Ty::Int8),
            col("trashed", Ty::Bool),
            col("key_wrap", Ty::Bytes),
            col("overview", Ty::Bytes),
            col("details", Ty::Bytes),
            col("seq", Ty::Int8),
            col("created_at", Ty::Int8),
            col("updated_at", Ty::Int8),
            null("author_id", Ty::Uuid),
        ],
        seeded: false,
    },
    Table {
        name: "tombstones",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            null("user_id", Ty::Uuid),
            col("vault_id", Ty::Uuid),
            col("seq", Ty::Int8),
            col("deleted_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "feed_floor",
        key: &["id"],
        cols: &[col("id", Ty::Int4), col("value", Ty::Int8)],
        seeded: true,
    },
    Table {
        name: "vault_manifests",
        key: &["vault_id"],
        cols: &[
            col("vault_id", Ty::Uuid),
            null("user_id", Ty::Uuid),
            col("counter", Ty::Int8),
            col("blob", Ty::Bytes),
            col("updated_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "key_grants",
        key: &["company_id", "user_id"],
        cols: &[
            col("company_id", Ty::Uuid),
            col("user_id", Ty::Uuid),
            col("sealed", Ty::Bytes),
            col("granted_by", Ty::Uuid),
            col("created_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "technician_assignments",
        key: &["customer_id", "technician_id"],
        cols: &[
            col("customer_id", Ty::Uuid),
            col("technician_id", Ty::Uuid),
            col("assigned_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "invitations",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            col("company_id", Ty::Uuid),
            col("email", Ty::Text),
            col("role", Ty::Text),
            col("secret_hash", Ty::Bytes),
            col("signed", Ty::Bytes),
            col("created_by", Ty::Uuid),
            col("created_at", Ty::Int8),
            col("expires_at", Ty::Int8),
            null("accepted_by", Ty::Uuid),
            null("accepted_at", Ty::Int8),
            null("revoked_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "groups",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            col("company_id", Ty::Uuid),
            col("name", Ty::Text),
            col("is_everyone", Ty::Bool),
            col("signing_public_key", Ty::Bytes),
            col("encryption_public_key", Ty::Bytes),
            col("roster", Ty::Bytes),
            col("roster_version", Ty::Int8),
            col("admin_grant", Ty::Bytes),
            col("created_at", Ty::Int8),
            col("updated_at", Ty::Int8),
            // Schema version 5.
            col("is_recovery", Ty::Bool),
        ],
        seeded: false,
    },
    Table {
        name: "group_members",
        key: &["group_id", "user_id"],
        cols: &[
            col("group_id", Ty::Uuid),
            col("user_id", Ty::Uuid),
            col("position", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "group_grants",
        key: &["group_id", "user_id"],
        cols: &[
            col("group_id", Ty::Uuid),
            col("user_id", Ty::Uuid),
            col("sealed", Ty::Bytes),
        ],
        seeded: false,
    },
    Table {
        name: "policy_templates",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            col("partner_id", Ty::Uuid),
            col("name", Ty::Text),
            col("policies", Ty::Text),
            col("created_at", Ty::Int8),
            col("updated_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "two_factor",
        key: &["user_id"],
        cols: &[
            col("user_id", Ty::Uuid),
            col("secret_sealed", Ty::Bytes),
            col("enabled", Ty::Bool),
            col("last_used_step", Ty::Int8),
            col("created_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "two_factor_recovery_codes",
        key: &["user_id", "code_hash"],
        cols: &[
            col("user_id", Ty::Uuid),
            col("code_hash", Ty::Bytes),
            col("position", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "two_factor_challenges",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            col("user_id", Ty::Uuid),
            col("token_hash", Ty::Bytes),
            col("device_name", Ty::Text),
            col("expires_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "audit_counter",
        key: &["id"],
        cols: &[col("id", Ty::Int4), col("value", Ty::Int8)],
        seeded: true,
    },
    // Append-only (triggers refuse UPDATE and DELETE); the copy only inserts.
    Table {
        name: "audit_log",
        key: &["seq"],
        cols: &[
            col("seq", Ty::Int8),
            col("at", Ty::Int8),
            null("company_id", Ty::Uuid),
            null("actor_id", Ty::Uuid),
            null("actor_email", Ty::Text),
            null("target_user_id", Ty::Uuid),
            null("target_email", Ty::Text),
            col("event", Ty::Text),
            col("details", Ty::Text),
            null("ip", Ty::Text),
        ],
        seeded: false,
    },
    // Schema version 4: sharing.
    Table {
        name: "shares",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            col("company_id", Ty::Uuid),
            col("acl", Ty::Bytes),
            col("acl_version", Ty::Int8),
            col("key_version", Ty::Int8),
            null("expires_at", Ty::Int8),
            col("name", Ty::Bytes),
            col("name_for_admins", Ty::Bytes),
            col("created_at", Ty::Int8),
            col("updated_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "share_entries",
        key: &["share_id", "principal_kind", "principal_id"],
        cols: &[
            col("share_id", Ty::Uuid),
            col("principal_kind", Ty::Text),
            col("principal_id", Ty::Uuid),
            col("role", Ty::Text),
        ],
        seeded: false,
    },
    Table {
        name: "share_grants",
        key: &["share_id", "principal_kind", "principal_id", "key_version"],
        cols: &[
            col("share_id", Ty::Uuid),
            col("principal_kind", Ty::Text),
            col("principal_id", Ty::Uuid),
            col("key_version", Ty::Int8),
            col("sealed", Ty::Bytes),
            col("granted_by", Ty::Uuid),
            col("signature", Ty::Bytes),
            col("created_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "share_states",
        key: &["share_id", "user_id"],
        cols: &[
            col("share_id", Ty::Uuid),
            col("user_id", Ty::Uuid),
            col("state", Ty::Text),
            col("updated_at", Ty::Int8),
        ],
        seeded: false,
    },
    Table {
        name: "deleted_share_readers",
        key: &["share_id", "user_id"],
        cols: &[
            col("share_id", Ty::Uuid),
            col("user_id", Ty::Uuid),
            col("deleted_at", Ty::Int8),
        ],
        seeded: false,
    },
    // Schema version 5: organisation backup (no foreign key to users).
    Table {
        name: "backups",
        key: &["backup_id"],
        cols: &[
            col("backup_id", Ty::Uuid),
            col("company_id", Ty::Uuid),
            col("user_id", Ty::Uuid),
            col("user_email", Ty::Text),
            col("created_at", Ty::Int8),
            col("key_version", Ty::Int8),
            col("public_key", Ty::Bytes),
            col("sealed_key", Ty::Bytes),
            col("envelope", Ty::Bytes),
            col("member_cert", Ty::Bytes),
            col("signature", Ty::Bytes),
        ],
        seeded: false,
    },
    Table {
        name: "backup_handovers",
        key: &["id"],
        cols: &[
            col("id", Ty::Uuid),
            col("company_id", Ty::Uuid),
            col("user_id", Ty::Uuid),
            col("created_by", Ty::Uuid),
            col("created_at", Ty::Int8),
            col("sealed", Ty::Bytes),
            col("admin_cert", Ty::Bytes),
            col("signature", Ty::Bytes),
        ],
        seeded: false,
    },
];

/// The bookkeeping table of the migrations (sqlx's), not copied: the target has its own.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

// ---- values and checksums

/// One value of a row, as the copy and the checksums see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Uuid(Uuid),
    Bool(bool),
}

impl Value {
    /// The canonical encoding: a tag byte, then the value (integers as 8 bytes big-endian, text
    /// and bytes with their length as 8 bytes big-endian first, a uuid as its 16 bytes, a
    /// boolean as one byte).
    fn encode(&self, out: &mut Sha256) {
        match self {
            Value::Null => out.update([0u8]),
            Value::Int(i) => {
                out.update([1u8]);
                out.update(i.to_be_bytes());
            }
            Value::Text(s) => {
                out.update([2u8]);
                out.update((s.len() as u64).to_be_bytes());
                out.update(s.as_bytes());
            }
            Value::Bytes(b) => {
                out.update([3u8]);
                out.update((b.len() as u64).to_be_bytes());
                out.update(b);
            }
            Value::Uuid(u) => {
                out.update([4u8]);
                out.update(u.as_bytes());
            }
            Value::Bool(b) => {
                out.update([5u8]);
                out.update([u8::from(*b)]);
            }
        }
    }
}

/// The row count and checksum of one table, computed while its rows stream by.
struct TableHasher {
    table: &'static Table,
    sha: Sha256,
    rows: u64,
    last_key: Option<Vec<Value>>,
}

impl TableHasher {
    fn new(table: &'static Table) -> Self {
        let mut sha = Sha256::new();
        sha.update(b"castellan table checksum v1\0");
        sha.update(table.name.as_bytes());
        sha.update([0u8]);
        for c in table.cols {
            sha.update(c.name.as_bytes());
            sha.update([0u8]);
        }
        TableHasher {
            table,
            sha,
            rows: 0,
            last_key: None,
        }
    }

    /// Adds a row; rows must come in strictly increasing key order.
    fn add(&mut self, row: &[Value]) -> Result<(), String> {
        let key: Vec<Value> = self.table.key_indexes().map(|i| row[i].clone()).collect();
        if let Some(last) = &self.last_key {
            if key <= *last {
                return Err(format!(
                    "the rows of table {} do not come in primary key order",
                    self.table.name
                ));
            }
        }
        self.last_key = Some(key);
        for v in row {
            v.encode(&mut self.sha);
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(self) -> TableSummary {
        TableSummary {
            table: self.table.name,
            rows: self.rows,
            sha256: hex(&self.sha.finalize()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The row count and content checksum of one table.
///
/// `sha256` is SHA-256 over `"castellan table checksum v1\0"`, the table name and each column
/// name (each followed by a zero byte), then every row in primary key order (uuids and byte
/// strings by their bytes, text by its UTF-8 bytes, a key of several columns column by column),
/// each row as its columns' canonical encodings in schema
/// order: a tag byte (0 null, 1 integer, 2 text, 3 bytes, 4 uuid, 5 boolean) followed by the
/// value (integers as 8 bytes big-endian; text and bytes as their length, 8 bytes big-endian,
/// then the bytes; a uuid as its 16 bytes; a boolean as one byte 0 or 1). It is computed on
/// the logical values, so a SQLite database and its PostgreSQL copy have the same checksums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSummary {
    pub table: &'static str,
    pub rows: u64,
    pub sha256: String,
}

/// One table of a migration: the source's summary and the target's, read back after the copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableReport {
    pub table: &'static str,
    pub rows: u64,
    pub sha256: String,
    pub target_rows: u64,
    pub target_sha256: String,
    /// Same row count and checksum on both sides.
    pub ok: bool,
}

/// The outcome of a migration that committed (every table matched).
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    /// The source database file.
    pub source: PathBuf,
    /// The target URL without its password.
    pub target: String,
    /// The schema version (the last migration) of both databases.
    pub schema_version: i64,
    /// The feed position carried over (the next write gets the one after it).
    pub feed_counter: i64,
    /// The highest pruned tombstone position carried over.
    pub feed_floor: i64,
    pub tables: Vec<TableReport>,
}

/// Where a migration is; passed to the progress callback after each batch of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Rows copied into the target.
    Copy,
    /// Rows of the target read back and checked.
    Verify,
}

/// Progress of one table: `done` of `total` rows.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub phase: Phase,
    pub table: &'static str,
    pub done: u64,
    pub total: u64,
}

/// Why a migration did not happen. In every case the target holds no copied row.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// `--from` or `--to` is not what migrate-db takes.
    #[error("{0}")]
    Usage(String),
    #[error("cannot read the source database {path}: {reason}")]
    Source { path: String, reason: String },
    #[error("cannot use the target database {target}: {reason}")]
    Target { target: String, reason: String },
    #[error(
        "the target database {target} is not empty ({what}): migrate-db only writes into a new, \
         empty database; nothing was written"
    )]
    NotEmpty { target: String, what: String },
    #[error("the copy does not match the source ({0}); it was rolled back, nothing was written")]
    Verification(String),
}

// ---- URLs

/// The SQLite file named by `url` (`sqlite://PATH`; a directory means its `castellan.sqlite3`).
fn source_path(url: &str) -> Result<PathBuf, MigrateError> {
    match backend_for(Path::new("."), Some(url)) {
        Ok(Backend::Sqlite { path, .. }) => Ok(if path.is_dir() {
            path.join(SQLITE_FILE)
        } else {
            path
        }),
        Ok(Backend::Postgres(_)) => Err(MigrateError::Usage(
            "--from must be a SQLite database (sqlite://PATH): migrate-db moves a SQLite \
             deployment to PostgreSQL"
                .into(),
        )),
        Err(e) => Err(MigrateError::Usage(format!("--from: {e}"))),
    }
}

fn target_options(url: &str) -> Result<(PgConnectOptions, String), MigrateError> {
    match backend_for(Path::new("."), Some(url)) {
        Ok(Backend::Postgres(url)) => {
            let shown = redact_database_url(url);
            let options = PgConnectOptions::from_str(url).map_err(|e| {
                MigrateError::Usage(format!("--to: invalid PostgreSQL URL {shown}: {e}"))
            })?;
            Ok((options, shown))
        }
        Ok(Backend::Sqlite { .. }) => Err(MigrateError::Usage(
            "--to must be a PostgreSQL database (postgres://USER@HOST/DB): migrate-db moves a \
             SQLite deployment to PostgreSQL"
                .into(),
        )),
        Err(e) => Err(MigrateError::Usage(format!("--to: {e}"))),
    }
}

// ---- the SQLite side

/// Opens a SQLite database read only (never creating it). `immutable` for a file nothing else
/// writes (a backup): no locks, no `-wal`/`-shm` files.
pub(crate) async fn open_sqlite_read_only(
    path: &Path,
    immutable: bool,
) -> Result<SqliteConnection, String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err("not a regular file".into()),
        Err(e) => return Err(e.to_string()),
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(immutable)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(5));
    SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| e.to_string())
}

/// What makes a SQLite file a Castellan database: sqlx's migrations table and the users table.
/// Returns the applied migration versions.
pub(crate) async fn sqlite_castellan_versions(
    conn: &mut SqliteConnection,
) -> Result<Vec<i64>, String> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| format!("not a SQLite database ({e})"))?;
    if !names.iter().any(|n| n == MIGRATIONS_TABLE) || !names.iter().any(|n| n == "users") {
        return Err("not a Castellan database (no migrations table or no users table)".into());
    }
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| format!("unreadable migrations table ({e})"))?;
    if let Some((v, _)) = rows.iter().find(|(_, ok)| !ok) {
        return Err(format!("migration {v} failed on this database"));
    }
    Ok(rows.into_iter().map(|(v, _)| v).collect())
}

/// Checks that applied `versions` are those of this build (`expected`): an older database must
/// be upgraded by a server start first, a newer one belongs to a newer castellan.
fn check_versions(versions: &[i64], expected: &[i64], upgrade_hint: &str) -> Result<(), String> {
    if versions == expected {
        return Ok(());
    }
    let last = |v: &[i64]| v.last().copied().unwrap_or(0);
    if versions.iter().all(|v| expected.contains(v)) && versions.len() < expected.len() {
        Err(format!(
            "its schema version is {}, this castellan's is {}: {upgrade_hint}",
            last(versions),
            last(expected)
        ))
    } else {
        Err(format!(
            "its schema version ({}) is not one this castellan knows (version {}): use the \
             castellan version that wrote it",
            last(versions),
            last(expected)
        ))
    }
}

fn sqlite_value(row: &SqliteRow, i: usize, c: &Col) -> Result<Value, String> {
    let bad = |what: &str| format!("invalid value in column {}: {what}", c.name);
    let err = |e: sqlx::Error| bad(&e.to_string());
    let v = match c.ty {
        Ty::Uuid => match row.try_get::<Option<String>, _>(i).map_err(err)? {
            None => Value::Null,
            Some(s) => Value::Uuid(Uuid::from_str(&s).map_err(|_| bad("not a uuid"))?),
        },
        Ty::Text => row
            .try_get::<Option<String>, _>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Text),
        Ty::Int8 => row
            .try_get::<Option<i64>, _>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Int),
        Ty::Int4 => match row.try_get::<Option<i64>, _>(i).map_err(err)? {
            None => Value::Null,
            Some(n) => {
                i32::try_from(n).map_err(|_| bad("out of range"))?;
                Value::Int(n)
            }
        },
        Ty::Bytes => row
            .try_get::<Option<Vec<u8>>, _>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Bytes),
        Ty::Bool => match row.try_get::<Option<i64>, _>(i).map_err(err)? {
            None => Value::Null,
            Some(0) => Value::Bool(false),
            Some(1) => Value::Bool(true),
            Some(_) => return Err(bad("not 0 or 1")),
        },
    };
    if v == Value::Null && !c.nullable {
        return Err(bad("null"));
    }
    Ok(v)
}

fn sqlite_row(table: &Table, row: &SqliteRow) -> Result<Vec<Value>, String> {
    table
        .cols
        .iter()
        .enumerate()
        .map(|(i, c)| sqlite_value(row, i, c))
        .map(|r| r.map_err(|e| format!("table {}: {e}", table.name)))
        .collect()
}

/// Checks the source's tables and columns against [`TABLES`].
async fn check_sqlite_schema(conn: &mut SqliteConnection) -> Result<(), String> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| e.to_string())?;
    for name in &names {
        if name != MIGRATIONS_TABLE && !TABLES.iter().any(|t| t.name == name) {
            return Err(format!("unexpected table {name}"));
        }
    }
    for table in TABLES {
        if !names.iter().any(|n| n == table.name) {
            return Err(format!("table {} is missing", table.name));
        }
        let cols: Vec<(String, String, i64)> = sqlx::query_as(&format!(
            "SELECT name, type, \"notnull\" FROM pragma_table_info('{}') ORDER BY cid",
            table.name
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
        let expected: Vec<(String, String, i64)> = table
            .cols
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    c.ty.sqlite_type().to_string(),
                    i64::from(!c.nullable),
                )
            })
            .collect();
        let found: Vec<(String, String, i64)> = cols
            .into_iter()
            .map(|(n, t, nn)| (n, t.to_ascii_uppercase(), nn))
            .collect();
        if found != expected {
            return Err(format!(
                "table {} does not have the columns this castellan copies",
                table.name
            ));
        }
    }
    Ok(())
}

// ---- the PostgreSQL side

fn pg_value(row: &PgRow, i: usize, c: &Col) -> Result<Value, String> {
    let err = |e: sqlx::Error| format!("column {}: {e}", c.name);
    Ok(match c.ty {
        Ty::Uuid => row
            .try_get::<Option<Uuid>, _>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Uuid),
        Ty::Text => row
            .try_get::<Option<String>, _>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Text),
        Ty::Int8 => row
            .try_get::<Option<i64>, _>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Int),
        Ty::Int4 => row
            .try_get::<Option<i32>, _>(i)
            .map_err(err)?
            .map_or(Value::Null, |n| Value::Int(i64::from(n))),
        Ty::Bytes => row
            .try_get::<Option<Vec<u8>>, _>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Bytes),
        Ty::Bool => row
            .try_get::<Option<bool>, _>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Bool),
    })
}

fn pg_row(table: &Table, row: &PgRow) -> Result<Vec<Value>, String> {
    table
        .cols
        .iter()
        .enumerate()
        .map(|(i, c)| pg_value(row, i, c))
        .map(|r| r.map_err(|e| format!("table {}: {e}", table.name)))
        .collect()
}

async fn connect_pg(options: &PgConnectOptions) -> Result<PgConnection, String> {
    tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(options))
        .await
        .map_err(|_| format!("timed out after {}s", CONNECT_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())
}

/// The tables (and views) in the connection's current schema.
async fn pg_tables(conn: &mut PgConnection) -> Result<Vec<String>, String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() ORDER BY table_name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| e.to_string())
}

/// `None` when every Castellan table present is empty (seeded tables holding just their seed
/// row), else what is in the way.
async fn pg_first_content(
    conn: &mut PgConnection,
    present: &[String],
) -> Result<Option<String>, String> {
    if let Some(other) = present
        .iter()
        .find(|n| *n != MIGRATIONS_TABLE && !TABLES.iter().any(|t| t.name == *n))
    {
        return Ok(Some(format!(
            "it has a table {other} that is not Castellan's"
        )));
    }
    if !present.is_empty() && !present.iter().any(|n| n == MIGRATIONS_TABLE) {
        return Ok(Some(format!(
            "it has tables ({}) but no migrations table: they are not Castellan's",
            present.join(", ")
        )));
    }
    for table in TABLES
        .iter()
        .filter(|t| present.iter().any(|n| n == t.name))
    {
        if table.seeded {
            let rows: Vec<(i32, i64)> =
                sqlx::query_as(&format!("SELECT id, value FROM {} ORDER BY id", table.name))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| e.to_string())?;
            if !(rows.is_empty() || rows == [(1, 0)]) {
                return Ok(Some(format!(
                    "table {} is not at its initial value",
                    table.name
                )));
            }
        } else {
            let used: bool =
                sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {})", table.name))
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| e.to_string())?;
            if used {
                return Ok(Some(format!("table {} has rows", table.name)));
            }
        }
    }
    Ok(None)
}

async fn check_pg_schema(conn: &mut PgConnection) -> Result<(), String> {
    for table in TABLES {
        let found: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, is_nullable::text \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table.name)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
        let expected: Vec<(String, String, String)> = table
            .cols
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    c.ty.postgres_type().to_string(),
                    if c.nullable { "YES" } else { "NO" }.to_string(),
                )
            })
            .collect();
        if found != expected {
            return Err(format!(
                "table {} does not have the columns this castellan copies",
                table.name
            ));
        }
    }
    Ok(())
}

async fn pg_versions(conn: &mut PgConnection) -> Result<Vec<i64>, String> {
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
    Ok(rows
        .into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(v, _)| v)
        .collect())
}

fn push_value<'args>(
    b: &mut sqlx::query_builder::Separated<'_, 'args, Postgres, &'static str>,
    c: &Col,
    v: Value,
) {
    match (v, c.ty) {
        (Value::Null, Ty::Uuid) => b.push_bind(None::<Uuid>),
        (Value::Null, Ty::Text) => b.push_bind(None::<String>),
        (Value::Null, Ty::Int8) => b.push_bind(None::<i64>),
        (Value::Null, Ty::Int4) => b.push_bind(None::<i32>),
        (Value::Null, Ty::Bytes) => b.push_bind(None::<Vec<u8>>),
        (Value::Null, Ty::Bool) => b.push_bind(None::<bool>),
        // Checked when read (`sqlite_value`).
        (Value::Int(n), Ty::Int4) => b.push_bind(i32::try_from(n).unwrap_or(i32::MAX)),
        (Value::Int(n), _) => b.push_bind(n),
        (Value::Text(s), _) => b.push_bind(s),
        (Value::Bytes(v), _) => b.push_bind(v),
        (Value::Uuid(u), _) => b.push_bind(u),
        (Value::Bool(x), _) => b.push_bind(x),
    };
}

async fn insert_batch(
    tx: &mut PgConnection,
    table: &Table,
    rows: &mut Vec<Vec<Value>>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "INSERT INTO {} ({}) ",
        table.name,
        table.column_list()
    ));
    qb.push_values(rows.drain(..), |mut b, row| {
        for (c, v) in table.cols.iter().zip(row) {
            push_value(&mut b, c, v);
        }
    });
    qb.build().persistent(false).execute(&mut *tx).await?;
    Ok(())
}

// ---- the migration

/// Copies the SQLite database `from` (`sqlite://PATH`, or `sqlite://DIR` for
/// `DIR/castellan.sqlite3`) into the empty PostgreSQL database `to` and verifies the copy (see
/// the module documentation). `progress` is called after each batch of rows.
pub async fn migrate_sqlite_to_postgres(
    from: &str,
    to: &str,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<MigrationReport, MigrateError> {
    let source = source_path(from)?;
    let (target_options, target) = target_options(to)?;
    let src_err = |reason: String| MigrateError::Source {
        path: source.display().to_string(),
        reason,
    };
    let tgt_err = |reason: String| MigrateError::Target {
        target: target.clone(),
        reason,
    };

    // The source: read only, one snapshot for everything below.
    let mut src = open_sqlite_read_only(&source, false)
        .await
        .map_err(src_err)?;
    let mut snapshot = src.begin().await.map_err(|e| src_err(e.to_string()))?;
    let versions = sqlite_castellan_versions(&mut snapshot)
        .await
        .map_err(src_err)?;
    check_versions(
        &versions,
        &castellan_store_sqlite::schema_versions(),
        "start `castellan server` on it once with this version to upgrade it, stop it, then \
         migrate again",
    )
    .map_err(src_err)?;
    check_sqlite_schema(&mut snapshot).await.map_err(src_err)?;
    let mut totals = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table.name))
            .fetch_one(&mut *snapshot)
            .await
            .map_err(|e| src_err(e.to_string()))?;
        totals.push(u64::try_from(n).unwrap_or(0));
    }

    // The target: nothing but empty Castellan tables, then this build's migrations.
    let mut pg = connect_pg(&target_options)
        .await
        .map_err(|e| tgt_err(format!("cannot connect: {e}")))?;
    let present = pg_tables(&mut pg).await.map_err(tgt_err)?;
    if let Some(what) = pg_first_content(&mut pg, &present).await.map_err(tgt_err)? {
        return Err(MigrateError::NotEmpty {
            target: target.clone(),
            what,
        });
    }
    let store = castellan_store_postgres::PgStore::connect_with(to, 1)
        .await
        .map_err(|e| tgt_err(e.to_string()))?;
    store.close().await;
    let target_versions = pg_versions(&mut pg).await.map_err(tgt_err)?;
    if target_versions != versions {
        return Err(tgt_err(format!(
            "its migrations ({target_versions:?}) are not the source's ({versions:?})"
        )));
    }
    check_pg_schema(&mut pg).await.map_err(tgt_err)?;

    // One transaction for the whole copy and its verification.
    let mut tx = pg.begin().await.map_err(|e| tgt_err(e.to_string()))?;
    sqlx::query(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        .execute(&mut *tx)
        .await
        .map_err(|e| tgt_err(e.to_string()))?;
    // Foreign keys declared DEFERRABLE (companies.partner_id, which points into its own table)
    // are checked at the commit: the copy inserts in primary key order, not in dependency order.
    sqlx::query("SET CONSTRAINTS ALL DEFERRED")
        .execute(&mut *tx)
        .await
        .map_err(|e| tgt_err(e.to_string()))?;
    let all = TABLES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ");
    sqlx::query(&format!("LOCK TABLE {all} IN ACCESS EXCLUSIVE MODE"))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            tgt_err(format!(
                "cannot lock its tables ({e}): stop every server that uses it"
            ))
        })?;
    let present = pg_tables(&mut tx).await.map_err(tgt_err)?;
    if let Some(what) = pg_first_content(&mut tx, &present).await.map_err(tgt_err)? {
        return Err(MigrateError::NotEmpty {
            target: target.clone(),
            what,
        });
    }

    let mut sources = Vec::with_capacity(TABLES.len());
    for (table, &total) in TABLES.iter().zip(&totals) {
        if table.seeded {
            sqlx::query(&format!("DELETE FROM {}", table.name))
                .execute(&mut *tx)
                .await
                .map_err(|e| tgt_err(e.to_string()))?;
        }
        let mut hasher = TableHasher::new(table);
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        let select = table.sqlite_select();
        let mut rows = sqlx::query(&select).fetch(&mut *snapshot);
        while let Some(row) = rows.try_next().await.map_err(|e| src_err(e.to_string()))? {
            let values = sqlite_row(table, &row).map_err(src_err)?;
            hasher.add(&values).map_err(src_err)?;
            batch.push(values);
            if batch.len() == BATCH_ROWS {
                insert_batch(&mut tx, table, &mut batch)
                    .await
                    .map_err(|e| tgt_err(format!("table {}: {e}", table.name)))?;
                if progress_due(hasher.rows) {
                    progress(Progress {
                        phase: Phase::Copy,
                        table: table.name,
                        done: hasher.rows,
                        total,
                    });
                }
            }
        }
        drop(rows);
        insert_batch(&mut tx, table, &mut batch)
            .await
            .map_err(|e| tgt_err(format!("table {}: {e}", table.name)))?;
        progress(Progress {
            phase: Phase::Copy,
            table: table.name,
            done: hasher.rows,
            total,
        });
        sources.push(hasher.finish());
    }
    // The source's snapshot is no longer needed.
    let _ = snapshot.rollback().await;
    let _ = src.close().await;

    // Read everything back from the target, in the same transaction, and compare.
    let mut reports = Vec::with_capacity(TABLES.len());
    let mut mismatches = Vec::new();
    for (table, source) in TABLES.iter().zip(sources) {
        let target_summary = pg_summary(&mut tx, table, source.rows, progress)
            .await
            .map_err(|e| MigrateError::Verification(format!("reading back: {e}")))?;
        let ok = target_summary == source;
        if !ok {
            mismatches.push(format!(
                "table {}: {} row(s) sha256 {} in the source, {} row(s) sha256 {} in the copy",
                table.name, source.rows, source.sha256, target_summary.rows, target_summary.sha256
            ));
        }
        reports.push(TableReport {
            table: table.name,
            rows: source.rows,
            sha256: source.sha256,
            target_rows: target_summary.rows,
            target_sha256: target_summary.sha256,
            ok,
        });
    }
    if !mismatches.is_empty() {
        let _ = tx.rollback().await;
        return Err(MigrateError::Verification(mismatches.join("; ")));
    }
    let feed_counter = singleton_value(&mut tx, "feed_counter")
        .await
        .map_err(tgt_err)?;
    let feed_floor = singleton_value(&mut tx, "feed_floor")
        .await
        .map_err(tgt_err)?;
    tx.commit()
        .await
        .map_err(|e| tgt_err(format!("commit failed: {e}")))?;
    let _ = pg.close().await;
    Ok(MigrationReport {
        source,
        target,
        schema_version: versions.last().copied().unwrap_or(0),
        feed_counter,
        feed_floor,
        tables: reports,
    })
}

async fn singleton_value(conn: &mut PgConnection, table: &str) -> Result<i64, String> {
    sqlx::query_scalar(&format!("SELECT value FROM {table} WHERE id = 1"))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| format!("table {table}: {e}"))
}

async fn pg_summary(
    conn: &mut PgConnection,
    table: &'static Table,
    total: u64,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<TableSummary, String> {
    let mut hasher = TableHasher::new(table);
    let select = table.postgres_select();
    let mut rows = sqlx::query(&select).fetch(&mut *conn);
    while let Some(row) = rows.try_next().await.map_err(|e| e.to_string())? {
        hasher.add(&pg_row(table, &row)?)?;
        if progress_due(hasher.rows) {
            progress(Progress {
                phase: Phase::Verify,
                table: table.name,
                done: hasher.rows,
                total,
            });
        }
    }
    Ok(hasher.finish())
}

async fn sqlite_summary(
    conn: &mut SqliteConnection,
    table: &'static Table,
) -> Result<TableSummary, String> {
    let mut hasher = TableHasher::new(table);
    let select = table.sqlite_select();
    let mut rows = sqlx::query(&select).fetch(&mut *conn);
    while let Some(row) = rows.try_next().await.map_err(|e| e.to_string())? {
        hasher.add(&sqlite_row(table, &row)?)?;
    }
    Ok(hasher.finish())
}

/// The row count and content checksum of every table of a Castellan database (`sqlite://PATH`
/// or `postgres://…`), read in one snapshot without writing anything: the same numbers that
/// [`migrate_sqlite_to_postgres`] reports, to compare two databases.
pub async fn summarize(url: &str) -> Result<Vec<TableSummary>, MigrateError> {
    match backend_for(Path::new("."), Some(url)) {
        Ok(Backend::Sqlite { .. }) => {
            let path = source_path(url)?;
            let err = |reason: String| MigrateError::Source {
                path: path.display().to_string(),
                reason,
            };
            let mut conn = open_sqlite_read_only(&path, false).await.map_err(err)?;
            let mut tx = conn.begin().await.map_err(|e| err(e.to_string()))?;
            sqlite_castellan_versions(&mut tx).await.map_err(err)?;
            let mut out = Vec::with_capacity(TABLES.len());
            for table in TABLES {
                out.push(sqlite_summary(&mut tx, table).await.map_err(err)?);
            }
            let _ = tx.rollback().await;
            let _ = conn.close().await;
            Ok(out)
        }
        Ok(Backend::Postgres(_)) => {
            let (options, target) = target_options(url)?;
            let err = |reason: String| MigrateError::Target {
                target: target.clone(),
                reason,
            };
            let mut conn = connect_pg(&options).await.map_err(err)?;
            let mut tx = conn
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(|e| err(e.to_string()))?;
            let mut out = Vec::with_capacity(TABLES.len());
            for table in TABLES {
                out.push(
                    pg_summary(&mut tx, table, 0, &mut |_| {})
                        .await
                        .map_err(err)?,
                );
            }
            let _ = tx.rollback().await;
            let _ = conn.close().await;
            Ok(out)
        }
        Err(e) => Err(MigrateError::Usage(e.to_string())),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The PostgreSQL tests need a server: `CASTELLAN_TEST_PG_URL` (default
    //! `postgres://postgres@127.0.0.1:5432/test`) names one and a database to administer from;
    //! every test creates a database `castellan_test_<random>` and drops it at the end. They
    //! fail, never skip, when PostgreSQL is unreachable.

    use super::*;
    use castellan_store::{
        AuditQuery, AuditRecord, CompanyCreate, CompanyKind, FounderMembership, GroupGrantRecord,
        GroupRecord, InvitationRecord, KeyGrantRecord, LoginAttempt, ManifestWrite, MemberUpdate,
        NewCompany, NewUser, NewVault, ObjectKind, ObjectWrite, OrgStore, Plan,
        PolicyTemplateRecord, Role, SessionRecord, Store, TwoFactorChallenge, TwoFactorRecord,
        VaultKind,
    };
    use castellan_store_postgres::PgStore;
    use castellan_store_sqlite::SqliteStore;
    use sqlx::Executor;

    const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

    fn admin_url() -> String {
        std::env::var("CASTELLAN_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_TEST_PG_URL.into())
    }

    fn with_database(url: &str, database: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let query = tail.find('?').map_or("", |q| &tail[q..]);
        format!("{scheme}://{authority}/{database}{query}")
    }

    /// A new, empty database, dropped with the guard.
    pub(crate) struct Database {
        name: String,
        pub(crate) url: String,
    }

    impl Database {
        pub(crate) async fn create() -> Database {
            let name = format!("castellan_test_{}", Uuid::new_v4().simple());
            let mut admin = PgConnection::connect(&admin_url())
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is unreachable at {} ({e}); these tests need it (see \
                     CASTELLAN_TEST_PG_URL) and fail rather than skip",
                        redact_database_url(&admin_url())
                    )
                });
            admin
                .execute(format!("CREATE DATABASE \"{name}\"").as_str())
                .await
                .unwrap();
            let _ = admin.close().await;
            let url = with_database(&admin_url(), &name);
            Database { name, url }
        }

        pub(crate) async fn conn(&self) -> PgConnection {
            PgConnection::connect(&self.url).await.unwrap()
        }
    }

    impl Drop for Database {
        fn drop(&mut self) {
            let name = self.name.clone();
            let admin = admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut c) = PgConnection::connect(&admin).await {
                        let _ = c
                            .execute(
                                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
                            )
                            .await;
                        let _ = c.close().await;
                    }
                });
            })
            .join();
        }
    }

    fn manifest(vault_id: Uuid, counter: i64) -> ManifestWrite {
        ManifestWrite {
            vault_id,
            counter,
            blob: format!("manifest {vault_id} {counter}").into_bytes(),
        }
    }

    /// What [`populate`] made, to look it up again.
    pub(crate) struct Populated {
        pub(crate) users: Vec<Uuid>,
        pub(crate) token_hash: Vec<u8>,
        pub(crate) attempt: Uuid,
        /// The partner and its customer.
        pub(crate) companies: Vec<Uuid>,
    }

    /// Fills a store with a bit of everything: two users with two vaults each, items and
    /// folders (one trashed, one moved between vaults), deletes before and after a pruning (so
    /// the feed floor is above 0), sessions (one revoked), login attempts (one for an unknown
    /// email), rate limit windows and server configuration.
    pub(crate) async fn populate<S: Store>(store: &S) -> Populated {
        store
            .config_get_or_init("server_key", (0u8..=255).collect())
            .await
            .unwrap();
        store
            .config_get_or_init("zz other", b"x".to_vec())
            .await
            .unwrap();
        let mut users = Vec::new();
        let mut token_hash = Vec::new();
        let mut attempt = Uuid::nil();
        for u in 0..2 {
            let user = NewUser {
                id: Uuid::new_v4(),
                email: format!("user{u}@example.test"),
                opaque_record: vec![u; 64],
                keyset: format!("{{\"user\":{u},\"text\":\"é ✓ \\u0000\"}}"),
                created_at: 1_700_000_000 + i64::from(u),
            };
            let vaults: Vec<NewVault> = [VaultKind::Personal, VaultKind::Business]
                .into_iter()
                .map(|kind| NewVault {
                    id: Uuid::new_v4(),
                    kind,
                    key_wrap: vec![7; 40],
                    key_version: 1,
                })
                .collect();
            let (v1, v2) = (vaults[0].id, vaults[1].id);
            store.create_user(user.clone(), vaults).await.unwrap();
            let mut counters = std::collections::HashMap::from([(v1, 0i64), (v2, 0i64)]);
            let mut next = |v: Uuid| {
                let c = counters.get_mut(&v).unwrap();
                *c += 1;
                manifest(v, *c)
            };
            let mut ids = Vec::new();
            for i in 0..6u8 {
                let vault = if i % 2 == 0 { v1 } else { v2 };
                let write = ObjectWrite {
                    id: Uuid::new_v4(),
                    user_id: user.id,
                    vault_id: vault,
                    kind: if i == 0 {
                        ObjectKind::Folder
                    } else {
                        ObjectKind::Item
                    },
                    version: 1,
                    trashed: i == 3,
                    key_wrap: if i == 0 { vec![] } else { vec![i; 60] },
                    overview: vec![i.wrapping_mul(3); 100 + usize::from(i)],
                    details: if i == 0 { vec![] } else { vec![0, 255, i] },
                    now: 1_700_000_100 + i64::from(i),
                };
                let m = next(vault);
                store.put_object(write.clone(), None, &[m]).await.unwrap();
                ids.push((write.id, vault));
            }
            // An update that moves an item to the other vault.
            let (moved, from) = ids[1];
            let mut obj = store.get_object(user.id, moved).await.unwrap().unwrap();
            let to = if from == v1 { v2 } else { v1 };
            let write = ObjectWrite {
                id: moved,
                user_id: user.id,
                vault_id: to,
                kind: obj.kind,
                version: obj.version + 1,
                trashed: false,
                key_wrap: std::mem::take(&mut obj.key_wrap),
                overview: b"moved".to_vec(),
                details: b"moved".to_vec(),
                now: 1_700_000_200,
            };
            let ms = [next(from), next(to)];
            store
                .put_object(write, Some(obj.version), &ms)
                .await
                .unwrap();
            // A delete, pruned below.
            let (gone, vault) = ids[2];
            let m = next(vault);
            store
                .delete_object(user.id, gone, 1, &[m], 1_000)
                .await
                .unwrap();
            users.push((user.id, ids));
            let session = SessionRecord {
                id: Uuid::new_v4(),
                user_id: user.id,
                token_hash: vec![u + 1; 32],
                device_name: format!("device {u}"),
                created_at: 1_700_000_000,
                last_seen_at: 1_700_000_010,
                expires_at: i64::MAX / 2,
                revoked_at: None,
                restriction: (u == 1).then(|| "two_factor_setup".to_string()),
            };
            store.create_session(session.clone()).await.unwrap();
            if u == 0 {
                token_hash = session.token_hash.clone();
                let revoked = SessionRecord {
                    id: Uuid::new_v4(),
                    token_hash: vec![9; 32],
                    ..session
                };
                store.create_session(revoked.clone()).await.unwrap();
                store
                    .revoke_session(user.id, revoked.id, 1_700_000_020)
                    .await
                    .unwrap();
                attempt = Uuid::new_v4();
                store
                    .put_login_attempt(LoginAttempt {
                        id: attempt,
                        user_id: Some(user.id),
                        email: user.email.clone(),
                        state: vec![5; 16],
                        expires_at: i64::MAX / 2,
                    })
                    .await
                    .unwrap();
                store
                    .put_login_attempt(LoginAttempt {
                        id: Uuid::new_v4(),
                        user_id: None,
                        email: "nobody@example.test".into(),
                        state: vec![6; 16],
                        expires_at: i64::MAX / 2,
                    })
                    .await
                    .unwrap();
            }
        }
        // Deletes older than 2 000 are forgotten: the feed floor moves up.
        assert_eq!(store.prune_tombstones(2_000).await.unwrap(), 2);
        // A tombstone that stays.
        let (user, ids) = &users[0];
        let (id, vault) = ids[4];
        let counter = store
            .manifests_for_user(*user)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.vault_id == vault)
            .unwrap()
            .counter;
        store
            .delete_object(*user, id, 1, &[manifest(vault, counter + 1)], 3_000)
            .await
            .unwrap();
        store.rate_limit_hit("login:1.2.3.4", 100).await.unwrap();
        store.rate_limit_hit("login:1.2.3.4", 100).await.unwrap();
        store.rate_limit_hit("Register:ÄÖ", 100).await.unwrap();
        let users: Vec<Uuid> = users.into_iter().map(|(u, _)| u).collect();
        let companies = populate_org(store, users[0], users[1]).await;
        Populated {
            users,
            token_hash,
            attempt,
            companies,
        }
    }

    fn group(company_id: Uuid, name: &str, is_everyone: bool, members: Vec<Uuid>) -> GroupRecord {
        GroupRecord {
            id: Uuid::new_v4(),
            company_id,
            name: name.into(),
            is_everyone,
            signing_public_key: vec![1; 32],
            encryption_public_key: vec![2; 32],
            roster: format!("roster of {name}").into_bytes(),
            roster_version: 1,
            admin_grant: vec![3; 80],
            members,
            created_at: 1_700_000_300,
            updated_at: 1_700_000_300,
            is_recovery: false,
        }
    }

    /// The organisation part of [`populate`]: a partner founded by `admin` with the setup token,
    /// `tech` invited, accepted and confirmed as its technician and assigned to a customer, a
    /// group, open and revoked invitations, a policy, a policy template, 2FA with a used
    /// recovery code and a challenge, and audit events (one without a company, one whose text
    /// is not ASCII). Returns the partner and customer ids.
    async fn populate_org<S: Store>(store: &S, admin: Uuid, tech: Uuid) -> Vec<Uuid> {
        store.setup_token_set("setup-token".into()).await.unwrap();
        let now = 1_700_000_300;
        // The customer's id sorts before its partner's: the copy, which inserts in id order,
        // meets the customer first (its foreign key is checked at the commit).
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let (customer, partner) = if a < b { (a, b) } else { (b, a) };
        let everyone = group(partner, "Everyone", true, vec![admin]);
        store
            .create_company(CompanyCreate {
                company: NewCompany {
                    id: partner,
                    kind: CompanyKind::Partner,
                    partner_id: None,
                    name: "Partner é".into(),
                    plan: Plan::Advanced,
                    seats: None,
                    trial_ends_at: None,
                    signing_public_key: vec![4; 32],
                    encryption_public_key: vec![5; 32],
                    created_at: now,
                },
                setup_token: Some("setup-token".into()),
                founder: Some(FounderMembership {
                    user_id: admin,
                    cert: b"founder cert".to_vec(),
                }),
                key_grants: vec![KeyGrantRecord {
                    company_id: partner,
                    user_id: admin,
                    sealed: vec![6; 96],
                    granted_by: admin,
                    created_at: now,
                }],
                everyone_grants: vec![GroupGrantRecord {
                    group_id: everyone.id,
                    user_id: admin,
                    sealed: vec![7; 96],
                }],
                everyone,
                policy: Some(b"{\"signed\":\"policy 1\"}".to_vec()),
            })
            .await
            .unwrap();
        store
            .create_company(CompanyCreate {
                company: NewCompany {
                    id: customer,
                    kind: CompanyKind::Customer,
                    partner_id: Some(partner),
                    name: "Customer".into(),
                    plan: Plan::Trial,
                    seats: Some(5),
                    trial_ends_at: Some(now + 86_400),
                    signing_public_key: vec![8; 32],
                    encryption_public_key: vec![9; 32],
                    created_at: now,
                },
                setup_token: None,
                founder: None,
                key_grants: vec![KeyGrantRecord {
                    company_id: customer,
                    user_id: admin,
                    sealed: vec![10; 96],
                    granted_by: admin,
                    created_at: now,
                }],
                everyone: group(customer, "Everyone", true, vec![]),
                everyone_grants: vec![],
                policy: None,
            })
            .await
            .unwrap();
        store
            .set_policy(customer, 1, b"customer policy".to_vec(), now + 1)
            .await
            .unwrap();

        let tech_email = store.user_by_id(tech).await.unwrap().unwrap().email;
        let invitation = |company_id: Uuid, email: &str, role: Role| InvitationRecord {
            id: Uuid::new_v4(),
            company_id,
            email: email.into(),
            role,
            secret_hash: vec![11; 32],
            signed: format!("invitation for {email}").into_bytes(),
            created_by: admin,
            created_at: now,
            expires_at: i64::MAX / 2,
            accepted_by: None,
            accepted_at: None,
            revoked_at: None,
        };
        let joined = invitation(partner, &tech_email, Role::Technician);
        store.create_invitation(joined.clone()).await.unwrap();
        store
            .accept_invitation(joined.id, tech, now + 2)
            .await
            .unwrap();
        store
            .confirm_member(partner, tech, b"tech cert".to_vec(), admin, now + 3)
            .await
            .unwrap();
        store
            .update_member(
                partner,
                tech,
                MemberUpdate {
                    logins_without_2fa: Some(2),
                    ..MemberUpdate::default()
                },
            )
            .await
            .unwrap();
        store
            .assign_technician(
                customer,
                tech,
                KeyGrantRecord {
                    company_id: customer,
                    user_id: tech,
                    sealed: vec![12; 96],
                    granted_by: admin,
                    created_at: now + 4,
                },
            )
            .await
            .unwrap();
        let open = invitation(customer, "open@example.test", Role::User);
        store.create_invitation(open).await.unwrap();
        let revoked = invitation(customer, "revoked@example.test", Role::Admin);
        store.create_invitation(revoked.clone()).await.unwrap();
        store
            .revoke_invitation(customer, revoked.id, now + 5)
            .await
            .unwrap();

        let staff = group(partner, "Staff", false, vec![tech, admin]);
        let grants = staff
            .members
            .iter()
            .map(|u| GroupGrantRecord {
                group_id: staff.id,
                user_id: *u,
                sealed: u.as_bytes().to_vec(),
            })
            .collect();
        store.create_group(staff.clone(), grants).await.unwrap();
        store
            .put_policy_template(PolicyTemplateRecord {
                id: Uuid::new_v4(),
                partner_id: partner,
                name: "Strict".into(),
                policies: "{\"require_two_factor\":true}".into(),
                created_at: now,
                updated_at: now,
            })
            .await
            .unwrap();

        store
            .put_two_factor(TwoFactorRecord {
                user_id: tech,
                secret_sealed: vec![13; 48],
                enabled: true,
                last_used_step: 0,
                recovery_code_hashes: (0u8..4).map(|i| vec![i; 32]).collect(),
                created_at: now,
            })
            .await
            .unwrap();
        assert!(store.use_totp_step(tech, 56_666_677).await.unwrap());
        assert!(store.use_recovery_code(tech, &[2; 32]).await.unwrap());
        store
            .put_two_factor_challenge(TwoFactorChallenge {
                id: Uuid::new_v4(),
                user_id: tech,
                token_hash: vec![14; 32],
                device_name: "phone".into(),
                expires_at: i64::MAX / 2,
            })
            .await
            .unwrap();

        for (company_id, event, details) in [
            (Some(partner), "setup.completed", "{}"),
            (
                Some(customer),
                "member.invited",
                "{\"email\":\"ü@example.test\"}",
            ),
            (None, "server.started", "{}"),
        ] {
            store
                .append_audit(AuditRecord {
                    seq: 0,
                    at: now + 6,
                    company_id,
                    actor_id: Some(admin),
                    actor_email: Some("user0@example.test".into()),
                    target_user_id: company_id.map(|_| tech),
                    target_email: None,
                    event: event.into(),
                    details: details.into(),
                    ip: Some("2001:db8::1".into()),
                })
                .await
                .unwrap();
        }
        vec![partner, customer]
    }

    pub(crate) async fn sqlite_store(dir: &Path) -> (SqliteStore, PathBuf) {
        let path = dir.join(SQLITE_FILE);
        (SqliteStore::open(&path).await.unwrap(), path)
    }

    /// Everything a server reads through the trait, for one user.
    async fn view<S: Store>(store: &S, user: Uuid) -> String {
        let mut out = String::new();
        let u = store.user_by_id(user).await.unwrap().unwrap();
        out += &format!(
            "{:?} {:?} {} {} {}\n",
            u.opaque_record, u.keyset, u.credentials_version, u.created_at, u.updated_at
        );
        out += &format!("{:?}\n", store.vaults_for_user(user).await.unwrap());
        out += &format!("{:?}\n", store.list_objects(user, None).await.unwrap());
        out += &format!("{:?}\n", store.changes_since(user, 0, 1000).await.unwrap());
        out += &format!("{:?}\n", store.changes_since(user, 1, 1000).await.unwrap());
        out += &format!("{:?}\n", store.changes_since(user, 12, 3).await.unwrap());
        out += &format!("{:?}\n", store.manifests_for_user(user).await.unwrap());
        out += &format!(
            "{:?}\n",
            store.list_sessions(user, 1_700_000_030).await.unwrap()
        );
        out += &format!("{:?}\n", store.membership_of(user).await.unwrap());
        out += &format!("{:?}\n", store.key_grants_for_user(user).await.unwrap());
        out += &format!("{:?}\n", store.technician_customers(user).await.unwrap());
        out += &format!("{:?}\n", store.groups_of_user(user).await.unwrap());
        out += &format!("{:?}\n", store.two_factor(user).await.unwrap());
        out
    }

    /// Everything a server reads through the trait about one company. (`Debug` of grants and
    /// 2FA records hides their bytes, so those are compared field by field.)
    async fn org_view<S: Store>(store: &S, company: Uuid) -> String {
        let mut out = String::new();
        out += &format!("{:?}\n", store.company(company).await.unwrap());
        out += &format!("{:?}\n", store.customers_of(company).await.unwrap());
        out += &format!("{:?}\n", store.members_of(company).await.unwrap());
        out += &format!("{:?}\n", store.invitations_of(company).await.unwrap());
        out += &format!("{:?}\n", store.groups_of(company).await.unwrap());
        out += &format!("{:?}\n", store.policy_templates_of(company).await.unwrap());
        let audit = store
            .query_audit(AuditQuery {
                company_ids: vec![company],
                limit: 100,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        out += &format!("{audit:?}\n");
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn copies_every_table_verifies_it_and_keeps_the_feed() {
        let dir = tempfile::tempdir().unwrap();
        let (sqlite, path) = sqlite_store(dir.path()).await;
        let populated = populate(&sqlite).await;
        let db = Database::create().await;

        let from = format!("sqlite://{}", dir.path().display());
        let mut events = Vec::new();
        let report = migrate_sqlite_to_postgres(&from, &db.url, &mut |p| events.push(p))
            .await
            .unwrap();
        assert_eq!(report.source, path);
        assert_eq!(report.tables.len(), TABLES.len());
        assert!(report.tables.iter().all(|t| t.ok), "{report:?}");
        let rows = |name: &str| report.tables.iter().find(|t| t.table == name).unwrap().rows;
        assert_eq!(rows("users"), 2);
        assert_eq!(rows("vaults"), 4);
        assert_eq!(rows("objects"), 9);
        assert_eq!(rows("tombstones"), 1);
        assert_eq!(rows("sessions"), 3);
        assert_eq!(rows("login_attempts"), 2);
        assert_eq!(rows("rate_limits"), 2);
        assert_eq!(rows("server_config"), 2, "the setup token was consumed");
        assert_eq!(rows("companies"), 2);
        assert_eq!(rows("members"), 2);
        assert_eq!(rows("key_grants"), 3);
        assert_eq!(rows("technician_assignments"), 1);
        assert_eq!(rows("invitations"), 3);
        assert_eq!(rows("groups"), 3);
        assert_eq!(rows("group_members"), 3);
        assert_eq!(rows("group_grants"), 3);
        assert_eq!(rows("policy_templates"), 1);
        assert_eq!(rows("two_factor"), 1);
        assert_eq!(rows("two_factor_recovery_codes"), 3);
        assert_eq!(rows("two_factor_challenges"), 1);
        assert_eq!(rows("audit_counter"), 1);
        assert_eq!(rows("audit_log"), 3);
        assert_eq!(report.feed_counter, 17);
        assert!(report.feed_floor > 0);
        assert_eq!(
            events.len(),
            TABLES.len(),
            "one progress event per small table"
        );

        // Both databases summarise the same, independently of the migration's own check.
        let pg_url = db.url.clone();
        assert_eq!(
            summarize(&from).await.unwrap(),
            summarize(&pg_url).await.unwrap()
        );

        // What the server reads is the same through either store.
        let pg = PgStore::connect(&db.url).await.unwrap();
        for user in &populated.users {
            assert_eq!(view(&sqlite, *user).await, view(&pg, *user).await);
        }
        for company in &populated.companies {
            assert_eq!(
                org_view(&sqlite, *company).await,
                org_view(&pg, *company).await
            );
        }
        // The bytes that `Debug` hides, and the state that single-use checks depend on.
        let tech = populated.users[1];
        for store_grants in [
            sqlite.key_grants_for_user(tech).await.unwrap(),
            pg.key_grants_for_user(tech).await.unwrap(),
        ] {
            assert_eq!(store_grants.len(), 1);
            assert_eq!(store_grants[0].sealed, vec![12; 96]);
        }
        let two_factor = pg.two_factor(tech).await.unwrap().unwrap();
        assert_eq!(
            two_factor.recovery_code_hashes,
            vec![vec![0; 32], vec![1; 32], vec![3; 32]]
        );
        assert_eq!(two_factor.secret_sealed, vec![13; 48]);
        assert!(!pg.use_totp_step(tech, 56_666_677).await.unwrap(), "replay");
        assert!(!pg.use_recovery_code(tech, &[2; 32]).await.unwrap(), "used");
        assert!(pg.use_recovery_code(tech, &[3; 32]).await.unwrap());
        let (groups, grants): (Vec<_>, Vec<_>) =
            pg.groups_of_user(tech).await.unwrap().into_iter().unzip();
        assert_eq!(groups.len(), 1);
        assert_eq!(grants[0].sealed, tech.as_bytes().to_vec());
        assert!(pg.has_partner().await.unwrap());
        assert_eq!(
            pg.membership_of(tech).await.unwrap().unwrap().company_id,
            populated.companies[0]
        );
        let session = pg
            .list_sessions(tech, 1_700_000_030)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(session.restriction.as_deref(), Some("two_factor_setup"));
        // The audit log continues after the copied events and stays append-only.
        let seq = pg
            .append_audit(AuditRecord {
                seq: 0,
                at: 1,
                company_id: None,
                actor_id: None,
                actor_email: None,
                target_user_id: None,
                target_email: None,
                event: "after.migration".into(),
                details: "{}".into(),
                ip: None,
            })
            .await
            .unwrap();
        assert_eq!(seq, 4);
        let mut conn = db.conn().await;
        assert!(sqlx::query("DELETE FROM audit_log")
            .execute(&mut conn)
            .await
            .is_err());
        let _ = conn.close().await;
        // The expired cursor is expired on both sides.
        let below_floor = report.feed_floor - 1;
        let user = populated.users[0];
        assert!(
            sqlite
                .changes_since(user, below_floor, 10)
                .await
                .unwrap()
                .reset
        );
        assert!(pg.changes_since(user, below_floor, 10).await.unwrap().reset);
        assert!(
            !pg.changes_since(user, report.feed_counter, 10)
                .await
                .unwrap()
                .reset,
            "a device's cursor at the head of the feed stays valid"
        );
        let s = pg
            .session_by_token_hash(&populated.token_hash, 1_700_000_030)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.device_name, "device 0");
        assert!(pg
            .session_by_token_hash(&[9; 32], 1_700_000_030)
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            pg.take_login_attempt(populated.attempt, 0)
                .await
                .unwrap()
                .unwrap()
                .state,
            vec![5; 16]
        );
        assert_eq!(pg.rate_limit_count("login:1.2.3.4", 100).await.unwrap(), 2);
        assert_eq!(
            pg.config_get_or_init("server_key", vec![]).await.unwrap(),
            (0u8..=255).collect::<Vec<u8>>()
        );
        // The next write continues the feed where SQLite left it.
        let vault = pg.vaults_for_user(user).await.unwrap()[0].id;
        let counter = pg
            .manifests_for_user(user)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.vault_id == vault)
            .unwrap()
            .counter;
        let written = pg
            .put_object(
                ObjectWrite {
                    id: Uuid::new_v4(),
                    user_id: user,
                    vault_id: vault,
                    kind: ObjectKind::Item,
                    version: 1,
                    trashed: false,
                    key_wrap: vec![1],
                    overview: vec![2],
                    details: vec![3],
                    now: 5,
                },
                None,
                &[manifest(vault, counter + 1)],
            )
            .await
            .unwrap();
        assert_eq!(written.seq, report.feed_counter + 1);
        pg.close().await;
        sqlite.close().await;
    }

    /// Customers whose ids sort before their partner's fill a whole batch: the partner row
    /// arrives in a later statement, which the deferred foreign key allows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn copies_customers_before_their_partner_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let (sqlite, _) = sqlite_store(dir.path()).await;
        let company = |id: Uuid, kind: CompanyKind, partner_id: Option<Uuid>| CompanyCreate {
            company: NewCompany {
                id,
                kind,
                partner_id,
                name: format!("company {id}"),
                plan: Plan::Standard,
                seats: Some(3),
                trial_ends_at: None,
                signing_public_key: vec![1; 32],
                encryption_public_key: vec![2; 32],
                created_at: 1,
            },
            setup_token: None,
            founder: None,
            key_grants: vec![],
            everyone: group(id, "Everyone", true, vec![]),
            everyone_grants: vec![],
            policy: None,
        };
        let partner = Uuid::from_u128(u128::MAX);
        sqlite
            .create_company(company(partner, CompanyKind::Partner, None))
            .await
            .unwrap();
        for _ in 0..BATCH_ROWS {
            sqlite
                .create_company(company(
                    Uuid::new_v4(),
                    CompanyKind::Customer,
                    Some(partner),
                ))
                .await
                .unwrap();
        }
        sqlite.close().await;
        let db = Database::create().await;
        let from = format!("sqlite://{}", dir.path().display());
        let report = migrate_sqlite_to_postgres(&from, &db.url, &mut |_| {})
            .await
            .unwrap();
        let companies = report
            .tables
            .iter()
            .find(|t| t.table == "companies")
            .unwrap();
        assert!(companies.ok);
        assert_eq!(companies.rows, BATCH_ROWS as u64 + 1);
        let pg = PgStore::connect(&db.url).await.unwrap();
        assert_eq!(pg.customers_of(partner).await.unwrap().len(), BATCH_ROWS);
        pg.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_a_target_that_is_not_empty_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (sqlite, _) = sqlite_store(dir.path()).await;
        populate(&sqlite).await;
        sqlite.close().await;
        let from = format!("sqlite://{}", dir.path().display());

        // A database a server has used (it holds a server key, nothing else).
        let used = Database::create().await;
        let pg = PgStore::connect(&used.url).await.unwrap();
        pg.config_get_or_init("server_key", vec![1]).await.unwrap();
        pg.close().await;
        let before = summarize(&used.url).await.unwrap();
        let err = migrate_sqlite_to_postgres(&from, &used.url, &mut |_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, MigrateError::NotEmpty { .. }), "{err}");
        assert!(err.to_string().contains("server_config"), "{err}");
        assert_eq!(summarize(&used.url).await.unwrap(), before);

        // A full copy cannot be made twice.
        let copy = Database::create().await;
        migrate_sqlite_to_postgres(&from, &copy.url, &mut |_| {})
            .await
            .unwrap();
        let before = summarize(&copy.url).await.unwrap();
        let err = migrate_sqlite_to_postgres(&from, &copy.url, &mut |_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, MigrateError::NotEmpty { .. }), "{err}");
        assert_eq!(summarize(&copy.url).await.unwrap(), before);

        // Someone else's database: not even the migrations run.
        let foreign = Database::create().await;
        let mut conn = foreign.conn().await;
        conn.execute("CREATE TABLE users (name text)")
            .await
            .unwrap();
        let err = migrate_sqlite_to_postgres(&from, &foreign.url, &mut |_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, MigrateError::NotEmpty { .. }), "{err}");
        assert_eq!(
            pg_tables(&mut conn).await.unwrap(),
            vec!["users".to_string()]
        );
        let _ = conn.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_sources_that_are_not_castellan_databases() {
        let dir = tempfile::tempdir().unwrap();
        let target = Database::create().await;
        let missing = dir.path().join("missing.sqlite3");
        let garbage = dir.path().join("garbage.sqlite3");
        std::fs::write(&garbage, b"not a database at all, just some bytes").unwrap();
        let other = dir.path().join("other.sqlite3");
        {
            let mut c = SqliteConnection::connect_with(
                &SqliteConnectOptions::new()
                    .filename(&other)
                    .create_if_missing(true),
            )
            .await
            .unwrap();
            c.execute("CREATE TABLE users (x)").await.unwrap();
            let _ = c.close().await;
        }
        for (path, needle) in [
            (&missing, "No such file"),
            (&garbage, "not a SQLite database"),
            (&other, "not a Castellan database"),
        ] {
            let err = migrate_sqlite_to_postgres(
                &format!("sqlite://{}", path.display()),
                &target.url,
                &mut |_| {},
            )
            .await
            .unwrap_err();
            assert!(matches!(err, MigrateError::Source { .. }), "{err}");
            assert!(err.to_string().contains(needle), "{err}");
        }
        assert!(!missing.exists(), "a missing source is not created");
        let err = migrate_sqlite_to_postgres(&target.url, &target.url, &mut |_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, MigrateError::Usage(_)), "{err}");
        let err = migrate_sqlite_to_postgres(
            &format!("sqlite://{}", other.display()),
            &format!("sqlite://{}", other.display()),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(err, MigrateError::Usage(_)), "{err}");
        // Nothing was created in the target.
        let mut conn = target.conn().await;
        assert!(pg_tables(&mut conn).await.unwrap().is_empty());
        let _ = conn.close().await;
    }

    /// The copy maps the schemas version for version: both backends must be at the same one
    /// (and `TABLES` must match it, which every migration test checks on both databases).
    #[test]
    fn both_backends_have_the_same_schema_versions() {
        assert_eq!(
            castellan_store_postgres::schema_versions(),
            castellan_store_sqlite::schema_versions()
        );
        // Pinned on purpose: a new migration must bring `TABLES` up to date, then this number.
        assert_eq!(
            castellan_store_sqlite::schema_versions(),
            vec![1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn checksums_cover_every_value_and_need_key_order() {
        let table = &TABLES[1];
        let row = |id: u128, email: &str| {
            vec![
                Value::Uuid(Uuid::from_u128(id)),
                Value::Text(email.into()),
                Value::Bytes(vec![1, 2]),
                Value::Text("{}".into()),
                Value::Int(1),
                Value::Int(2),
                Value::Int(3),
            ]
        };
        let sum = |rows: &[Vec<Value>]| {
            let mut h = TableHasher::new(table);
            for r in rows {
                h.add(r).unwrap();
            }
            h.finish()
        };
        let a = sum(&[row(1, "a"), row(2, "b")]);
        assert_eq!(a.rows, 2);
        assert_eq!(a.sha256.len(), 64);
        assert_eq!(a, sum(&[row(1, "a"), row(2, "b")]));
        assert_ne!(a, sum(&[row(1, "a"), row(2, "c")]));
        assert_ne!(a.sha256, sum(&[row(1, "ab"), row(2, "")]).sha256);
        assert_ne!(a.sha256, sum(&[row(1, "a")]).sha256);
        let mut h = TableHasher::new(table);
        h.add(&row(2, "b")).unwrap();
        assert!(h.add(&row(1, "a")).is_err(), "rows out of key order");
        assert!(h.add(&row(2, "b")).is_err(), "a repeated key");
    }

    #[test]
    fn composite_keys_order_column_by_column() {
        let table = TABLES.iter().find(|t| t.name == "key_grants").unwrap();
        let select = "SELECT company_id, user_id, sealed, granted_by, created_at FROM key_grants \
                      ORDER BY company_id, user_id";
        assert_eq!(table.sqlite_select(), select);
        assert_eq!(table.postgres_select(), select);
        let config = TABLES.iter().find(|t| t.name == "server_config").unwrap();
        assert!(config
            .postgres_select()
            .ends_with("ORDER BY key COLLATE \"C\""));

        let row = |company: u128, user: u128| {
            vec![
                Value::Uuid(Uuid::from_u128(company)),
                Value::Uuid(Uuid::from_u128(user)),
                Value::Bytes(vec![1]),
                Value::Uuid(Uuid::nil()),
                Value::Int(0),
            ]
        };
        let mut h = TableHasher::new(table);
        h.add(&row(1, 5)).unwrap();
        h.add(&row(1, 6)).unwrap();
        h.add(&row(2, 1)).unwrap();
        assert!(h.add(&row(2, 1)).is_err(), "a repeated key");
        assert!(h.add(&row(1, 9)).is_err(), "rows out of key order");
        // The same key with other values is another checksum.
        let sum = |sealed: u8| {
            let mut h = TableHasher::new(table);
            let mut r = row(1, 1);
            r[2] = Value::Bytes(vec![sealed]);
            h.add(&r).unwrap();
            h.finish().sha256
        };
        assert_ne!(sum(1), sum(2));
    }

    /// Every table of the schema is in `TABLES`, after the tables it references, with its
    /// primary key.
    #[tokio::test]
    async fn tables_cover_the_schema_in_dependency_order() {
        let dir = tempfile::tempdir().unwrap();
        let (sqlite, path) = sqlite_store(dir.path()).await;
        sqlite.close().await;
        let mut conn = open_sqlite_read_only(&path, false).await.unwrap();
        check_sqlite_schema(&mut conn).await.unwrap();
        for (i, table) in TABLES.iter().enumerate() {
            let key: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT name FROM pragma_table_info('{}') WHERE pk > 0 ORDER BY pk",
                table.name
            ))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            assert_eq!(key, table.key, "primary key of {}", table.name);
            let references: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list('{}')",
                table.name
            ))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for referenced in references {
                let at = TABLES.iter().position(|t| t.name == referenced).unwrap();
                assert!(
                    at < i || (at == i && table.name == "companies"),
                    "{} references {referenced}, which is copied later",
                    table.name
                );
            }
        }
        let _ = conn.close().await;
    }
}
