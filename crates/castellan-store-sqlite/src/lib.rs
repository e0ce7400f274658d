//! SQLite backend of the Castellan storage trait.
//!
//! One database file in WAL mode, created with mode 0600, migrated on open by the migrations
//! embedded from `migrations/`. Every write that reads before it writes runs in a
//! `BEGIN IMMEDIATE` transaction, so writers queue on SQLite's lock (bounded by `busy_timeout`)
//! instead of failing when they upgrade a read lock.
//!
//! The SQL text lives in [`sql`] so that a PostgreSQL backend can reuse it.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use castellan_store::{
    ChangePage, LoginAttempt, ManifestRecord, ManifestWrite, NewUser, NewVault, ObjectKind,
    ObjectRecord, ObjectWrite, SessionRecord, Store, StoreError, StoreResult, Tombstone,
    UserRecord, VaultKind, VaultRecord,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

mod backups;
mod org;
mod shares;
pub mod sql;

/// Connections of a file-backed store: WAL allows any number of readers next to one writer.
const MAX_CONNECTIONS: u32 = 8;
/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The versions of the migrations this build applies, ascending (the schema version is the
/// last). A database whose applied migrations (`_sqlx_migrations`) are exactly these has the
/// schema this build reads and writes. Migration numbers stay in step between the backends.
pub fn schema_versions() -> Vec<i64> {
    MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .collect()
}

/// The SQLite store. Cheap to clone (it is a connection pool handle).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing, with mode 0600 on unix) the database at `path`, switches it to
    /// WAL mode and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        create_private_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(backend)?;
        Self::migrated(pool).await
    }

    /// A private in-memory database (for tests). The pool holds exactly one connection that is
    /// never recycled, so every query sees the same database for the life of the store.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        // The plain ":memory:" name rather than `in_memory(true)`: the latter opens with
        // SQLITE_OPEN_MEMORY, which VACUUM INTO inherits, so a backup would land in memory too.
        let options = SqliteConnectOptions::new()
            .filename(":memory:")
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(backend)?;
        Self::migrated(pool).await
    }

    /// Applies pending migrations on one connection with foreign keys off (migration 0004
    /// rebuilds tables that others reference, which SQLite allows only so), then turns them on
    /// again and checks every foreign key.
    async fn migrated(pool: SqlitePool) -> Result<Self, StoreError> {
        let failed =
            |e: &dyn std::fmt::Display| StoreError::Backend(format!("migration failed: {e}"));
        let mut conn = pool.acquire().await.map_err(backend)?;
        sqlx::query(sql::FOREIGN_KEYS_OFF)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        let migrated = MIGRATOR.run(&mut *conn).await;
        sqlx::query(sql::FOREIGN_KEYS_ON)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        migrated.map_err(|e| failed(&e))?;
        let violations = sqlx::query(sql::FOREIGN_KEY_CHECK)
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
        if !violations.is_empty() {
            return Err(failed(&"the migrated database violates foreign keys"));
        }
        drop(conn);
        Ok(Self { pool })
    }

    /// Writes a consistent copy of the live database to `dest` (`VACUUM INTO`) while the store
    /// stays online. `dest` must not exist (`AlreadyExists("backup")`); it is created with mode
    /// 0600 on unix.
    pub async fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        let dest_str = dest
            .to_str()
            .ok_or_else(|| StoreError::Backend("backup path is not valid UTF-8".into()))?
            .to_owned();
        // Creating the (empty) file first refuses an existing destination atomically and fixes
        // its mode; VACUUM INTO accepts an empty target file.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open_private(dest)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::AlreadyExists("backup"))
            }
            Err(e) => {
                return Err(StoreError::Backend(format!(
                    "cannot create backup file: {e}"
                )))
            }
        }
        let result = sqlx::query(sql::VACUUM_INTO)
            .bind(dest_str)
            .execute(&self.pool)
            .await;
        if let Err(e) = result {
            // Do not leave a half-written or empty backup behind.
            let _ = std::fs::remove_file(dest);
            return Err(backend(e));
        }
        Ok(())
    }

    /// Copies the WAL into the database file and truncates the WAL (`wal_checkpoint(TRUNCATE)`).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        let row = sqlx::query(sql::WAL_CHECKPOINT_TRUNCATE)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        let busy: i64 = row.try_get(0).map_err(backend)?;
        if busy != 0 {
            tracing::debug!("WAL checkpoint could not complete: readers or a writer were active");
        }
        Ok(())
    }

    /// The journal mode of the database (`"wal"` for a file opened with [`SqliteStore::open`]).
    pub async fn journal_mode(&self) -> Result<String, StoreError> {
        let row = sqlx::query(sql::JOURNAL_MODE)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        row.try_get(0).map_err(backend)
    }

    /// Closes every connection; waits for checked-out connections to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool
            .begin_with(sql::BEGIN_WRITE)
            .await
            .map_err(backend)
    }

    async fn begin_read(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool.begin_with(sql::BEGIN_READ).await.map_err(backend)
    }
}

// ---- files

trait OpenPrivate {
    fn open_private(&mut self, path: &Path) -> std::io::Result<std::fs::File>;
}

impl OpenPrivate for std::fs::OpenOptions {
    /// Opens with mode 0600 for files this call creates (unix); elsewhere a plain open.
    fn open_private(&mut self, path: &Path) -> std::io::Result<std::fs::File> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            self.mode(0o600);
        }
        self.open(path)
    }
}

/// Creates the database file with mode 0600 if it does not exist yet, so it is never readable
/// by others, not even for a moment. SQLite gives the `-wal` and `-shm` files the same mode.
fn create_private_file(path: &Path) -> StoreResult<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open_private(path)
    {
        Ok(_file) => {
            #[cfg(unix)]
            {
                // The umask can only remove bits, but make the mode exact anyway.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
                    |e| StoreError::Backend(format!("cannot set database file mode: {e}")),
                )?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Backend(format!(
            "cannot create database file: {e}"
        ))),
    }
}

// ---- errors and decoding

/// Maps a driver error without bound values (SQLite messages name constraints, never values).
fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a unique violation to `AlreadyExists(what)` by the constraint's column, anything else
/// to `Backend`.
fn map_unique(e: sqlx::Error, targets: &[(&str, &'static str)]) -> StoreError {
    if let Some(db) = e.as_database_error() {
        if db.is_unique_violation() {
            let message = db.message();
            for (column, what) in targets {
                // SQLite: "UNIQUE constraint failed: users.email"
                if message.ends_with(column) {
                    return StoreError::AlreadyExists(what);
                }
            }
        }
    }
    backend(e)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("invalid value in column {what}"))
}

fn get<'r, T>(row: &'r SqliteRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(backend)
}

fn get_uuid(row: &SqliteRow, column: &str) -> StoreResult<Uuid> {
    let text: &str = get(row, column)?;
    Uuid::from_str(text).map_err(|_| corrupt(column))
}

fn get_opt_uuid(row: &SqliteRow, column: &str) -> StoreResult<Option<Uuid>> {
    let text: Option<&str> = get(row, column)?;
    text.map(|t| Uuid::from_str(t).map_err(|_| corrupt(column)))
        .transpose()
}

fn id(uuid: Uuid) -> String {
    uuid.hyphenated().to_string()
}

fn user_from_row(row: &SqliteRow) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: get_uuid(row, "id")?,
        email: get(row, "email")?,
        opaque_record: get(row, "opaque_record")?,
        keyset: get(row, "keyset")?,
        credentials_version: get(row, "credentials_version")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn vault_from_row(row: &SqliteRow) -> StoreResult<VaultRecord> {
    let kind: &str = get(row, "kind")?;
    Ok(VaultRecord {
        id: get_uuid(row, "id")?,
        user_id: get_uuid(row, "user_id")?,
        kind: VaultKind::parse(kind).ok_or_else(|| corrupt("kind"))?,
        key_wrap: get(row, "key_wrap")?,
        key_version: get(row, "key_version")?,
        created_at: get(row, "created_at")?,
    })
}

fn login_attempt_from_row(row: &SqliteRow) -> StoreResult<LoginAttempt> {
    Ok(LoginAttempt {
        id: get_uuid(row, "id")?,
        user_id: get_opt_uuid(row, "user_id")?,
        email: get(row, "email")?,
        state: get(row, "state")?,
        expires_at: get(row, "expires_at")?,
    })
}

fn session_from_row(row: &SqliteRow) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        id: get_uuid(row, "id")?,
        user_id: get_uuid(row, "user_id")?,
        token_hash: get(row, "token_hash")?,
        device_name: get(row, "device_name")?,
        created_at: get(row, "created_at")?,
        last_seen_at: get(row, "last_seen_at")?,
        expires_at: get(row, "expires_at")?,
        revoked_at: get(row, "revoked_at")?,
        restriction: get(row, "restriction")?,
    })
}

pub(crate) fn object_from_row(row: &SqliteRow) -> StoreResult<ObjectRecord> {
    let kind: &str = get(row, "kind")?;
    Ok(ObjectRecord {
        id: get_uuid(row, "id")?,
        user_id: get_opt_uuid(row, "user_id")?,
        author_id: get_opt_uuid(row, "author_id")?,
        vault_id: get_uuid(row, "vault_id")?,
        kind: ObjectKind::parse(kind).ok_or_else(|| corrupt("kind"))?,
        version: get(row, "version")?,
        trashed: get(row, "trashed")?,
        key_wrap: get(row, "key_wrap")?,
        overview: get(row, "overview")?,
        details: get(row, "details")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        seq: get(row, "seq")?,
    })
}

fn tombstone_from_row(row: &SqliteRow) -> StoreResult<Tombstone> {
    Ok(Tombstone {
        id: get_uuid(row, "id")?,
        vault_id: get_uuid(row, "vault_id")?,
        seq: get(row, "seq")?,
    })
}

pub(crate) fn manifest_from_row(row: &SqliteRow) -> StoreResult<ManifestRecord> {
    Ok(ManifestRecord {
        vault_id: get_uuid(row, "vault_id")?,
        user_id: get_opt_uuid(row, "user_id")?,
        counter: get(row, "counter")?,
        blob: get(row, "blob")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn count_u32(count: i64) -> u32 {
    u32::try_from(count.max(0)).unwrap_or(u32::MAX)
}

/// Takes the next sync feed sequence number inside the caller's transaction.
pub(crate) async fn next_seq(tx: &mut sqlx::SqliteConnection) -> StoreResult<i64> {
    let row = sqlx::query(sql::FEED_NEXT_SEQ)
        .fetch_one(tx)
        .await
        .map_err(backend)?;
    row.try_get(0).map_err(backend)
}

/// The wall clock, for reads that the trait gives no `now` (share expiry).
pub(crate) fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Read or write access of a user to a vault (see `sql::VAULT_READABLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads go through the feed and list queries, which embed the same rule.
    #[allow(dead_code)]
    Read,
    Write,
}

/// The one access check of this backend: `NotFound` unless `user_id` may read (or write) the
/// vault at `now`. Returns the vault's owner (`None` for a share). The rule itself is the
/// `share_access!` macro in `sql.rs`, which the read queries embed too.
pub(crate) async fn vault_access(
    tx: &mut sqlx::SqliteConnection,
    vault_id: &str,
    user_id: &str,
    now: i64,
    access: Access,
) -> StoreResult<Option<String>> {
    let statement = match access {
        Access::Read => sql::VAULT_READABLE,
        Access::Write => sql::VAULT_WRITABLE,
    };
    let row = sqlx::query(statement)
        .bind(user_id)
        .bind(vault_id)
        .bind(now)
        .fetch_optional(tx)
        .await
        .map_err(backend)?;
    match row {
        Some(row) => get(&row, "user_id"),
        None => Err(StoreError::NotFound),
    }
}

/// Stores each manifest with a compare-and-swap on its counter, inside the caller's transaction
/// (the caller rolls back on error).
pub(crate) async fn write_manifests(
    tx: &mut sqlx::SqliteConnection,
    user_id: &str,
    manifests: &[ManifestWrite],
    now: i64,
) -> StoreResult<()> {
    for m in manifests {
        let vault_id = id(m.vault_id);
        vault_access(&mut *tx, &vault_id, user_id, now, Access::Write).await?;
        let statement = if m.counter == 1 {
            sql::MANIFEST_INSERT_FIRST
        } else {
            sql::MANIFEST_UPDATE
        };
        let written = sqlx::query(statement)
            .bind(&vault_id)
            .bind(m.counter)
            .bind(&m.blob)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if written == 0 {
            let row = sqlx::query(sql::MANIFEST_COUNTER)
                .bind(&vault_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            let current = match row {
                Some(row) => get(&row, "counter")?,
                None => 0,
            };
            return Err(StoreError::ManifestConflict {
                vault_id: m.vault_id,
                current,
            });
        }
    }
    Ok(())
}

/// Deletes the object if it is at `version` and leaves its tombstone with the next feed
/// position, inside the caller's transaction (which checked access); returns that position
/// (`None`, with nothing changed, if there is no such object at that version). The one way an
/// object is deleted: `delete_object`, the removal of a member's business items and the
/// deletion of a share all come here.
pub(crate) async fn delete_object_leaving_tombstone(
    tx: &mut sqlx::SqliteConnection,
    object_id: &str,
    version: i64,
    now: i64,
) -> StoreResult<Option<i64>> {
    let deleted = sqlx::query(sql::OBJECT_DELETE)
        .bind(object_id)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    let Some(deleted) = deleted else {
        return Ok(None);
    };
    let vault_id: String = get(&deleted, "vault_id")?;
    let user_id: Option<String> = get(&deleted, "user_id")?;
    // A delete is an object write too: it takes the next feed position, kept by the tombstone.
    let seq = next_seq(&mut *tx).await?;
    sqlx::query(sql::TOMBSTONE_INSERT)
        .bind(object_id)
        .bind(&user_id)
        .bind(&vault_id)
        .bind(seq)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(Some(seq))
}

/// Fetches `limit + 1` rows as an `i64` bind value (enough to tell whether more follow).
fn fetch_limit(limit: u32) -> i64 {
    i64::from(limit) + 1
}

#[async_trait]
impl Store for SqliteStore {
    async fn config_get_or_init(&self, key: &str, init: Vec<u8>) -> StoreResult<Vec<u8>> {
        sqlx::query(sql::CONFIG_INSERT_IF_ABSENT)
            .bind(key)
            .bind(init)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        let row = sqlx::query(sql::CONFIG_GET)
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        get(&row, "value")
    }

    async fn create_user(&self, user: NewUser, vaults: Vec<NewVault>) -> StoreResult<()> {
        const TARGETS: &[(&str, &str)] = &[
            ("users.email", "email"),
            ("users.id", "user"),
            ("vaults.id", "vault"),
        ];
        let mut tx = self.begin_write().await?;
        let user_id = id(user.id);
        sqlx::query(sql::USER_INSERT)
            .bind(&user_id)
            .bind(user.email)
            .bind(user.opaque_record)
            .bind(user.keyset)
            .bind(user.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, TARGETS))?;
        for vault in vaults {
            sqlx::query(sql::VAULT_INSERT)
                .bind(id(vault.id))
                .bind(&user_id)
                .bind(vault.kind.as_str())
                .bind(vault.key_wrap)
                .bind(vault.key_version)
                .bind(user.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| map_unique(e, TARGETS))?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query(sql::USER_BY_EMAIL)
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_id(&self, user_id: Uuid) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query(sql::USER_BY_ID)
            .bind(id(user_id))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn update_user_credentials(
        &self,
        user_id: Uuid,
        expected_credentials_version: i64,
        opaque_record: Vec<u8>,
        keyset: String,
        now: i64,
    ) -> StoreResult<()> {
        let user_id = id(user_id);
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(sql::USER_UPDATE_CREDENTIALS)
            .bind(&user_id)
            .bind(expected_credentials_version)
            .bind(opaque_record)
            .bind(keyset)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if updated == 0 {
            let row = sqlx::query(sql::USER_CREDENTIALS_VERSION)
                .bind(&user_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            return match row {
                None => Err(StoreError::NotFound),
                Some(row) => Err(StoreError::VersionConflict {
                    current: get(&row, "credentials_version")?,
                }),
            };
        }
        tx.commit().await.map_err(backend)
    }

    async fn put_login_attempt(&self, attempt: LoginAttempt) -> StoreResult<()> {
        sqlx::query(sql::LOGIN_ATTEMPT_INSERT)
            .bind(id(attempt.id))
            .bind(attempt.user_id.map(id))
            .bind(attempt.email)
            .bind(attempt.state)
            .bind(attempt.expires_at)
            .execute(&self.pool)
            .await
            .map_err(|e| map_unique(e, &[("login_attempts.id", "login_attempt")]))?;
        Ok(())
    }

    async fn take_login_attempt(
        &self,
        attempt_id: Uuid,
        now: i64,
    ) -> StoreResult<Option<LoginAttempt>> {
        let row = sqlx::query(sql::LOGIN_ATTEMPT_TAKE)
            .bind(id(attempt_id))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let attempt = row.as_ref().map(login_attempt_from_row).transpose()?;
        // Housekeeping: abandoned attempts would otherwise stay forever.
        sqlx::query(sql::LOGIN_ATTEMPT_PURGE_EXPIRED)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(attempt.filter(|a| a.expires_at > now))
    }

    async fn create_session(&self, session: SessionRecord) -> StoreResult<()> {
        sqlx::query(sql::SESSION_INSERT)
            .bind(id(session.id))
            .bind(id(session.user_id))
            .bind(session.token_hash)
            .bind(session.device_name)
            .bind(session.created_at)
            .bind(session.last_seen_at)
            .bind(session.expires_at)
            .bind(session.revoked_at)
            .bind(session.restriction)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                map_unique(
                    e,
                    &[
                        ("sessions.id", "session"),
                        ("sessions.token_hash", "session"),
                    ],
                )
            })?;
        Ok(())
    }

    async fn session_by_token_hash(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(sql::SESSION_BY_TOKEN_HASH)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_session(&self, session_id: Uuid, now: i64) -> StoreResult<()> {
        let updated = sqlx::query(sql::SESSION_TOUCH)
            .bind(id(session_id))
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<SessionRecord>> {
        let rows = sqlx::query(sql::SESSIONS_LIVE_FOR_USER)
            .bind(id(user_id))
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn revoke_session(&self, user_id: Uuid, session_id: Uuid, now: i64) -> StoreResult<()> {
        let updated = sqlx::query(sql::SESSION_REVOKE)
            .bind(id(user_id))
            .bind(id(session_id))
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn revoke_other_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        now: i64,
    ) -> StoreResult<u64> {
        let query = match keep {
            Some(keep) => sqlx::query(sql::SESSIONS_REVOKE_ALL_EXCEPT)
                .bind(id(user_id))
                .bind(now)
                .bind(id(keep)),
            None => sqlx::query(sql::SESSIONS_REVOKE_ALL)
                .bind(id(user_id))
                .bind(now),
        };
        Ok(query
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected())
    }

    async fn rate_limit_hit(&self, key: &str, window_start: i64) -> StoreResult<u32> {
        let row = sqlx::query(sql::RATE_LIMIT_HIT)
            .bind(key)
            .bind(window_start)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(count_u32(get(&row, "count")?))
    }

    async fn rate_limit_count(&self, key: &str, window_start: i64) -> StoreResult<u32> {
        let row = sqlx::query(sql::RATE_LIMIT_COUNT)
            .bind(key)
            .bind(window_start)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        match row {
            Some(row) => Ok(count_u32(get(&row, "count")?)),
            None => Ok(0),
        }
    }

    async fn rate_limit_clear(&self, key: &str) -> StoreResult<()> {
        sqlx::query(sql::RATE_LIMIT_CLEAR)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn vaults_for_user(&self, user_id: Uuid) -> StoreResult<Vec<VaultRecord>> {
        let rows = sqlx::query(sql::VAULTS_FOR_USER)
            .bind(id(user_id))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(vault_from_row).collect()
    }

    async fn put_object(
        &self,
        write: ObjectWrite,
        expected_version: Option<i64>,
        manifests: &[ManifestWrite],
    ) -> StoreResult<ObjectRecord> {
        let object_id = id(write.id);
        let user_id = id(write.user_id);
        let vault_id = id(write.vault_id);
        let mut tx = self.begin_write().await?;

        // Compare-and-swap checks against the current row, wherever it is.
        let current = sqlx::query(sql::OBJECT_VAULT_VERSION)
            .bind(&object_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let current = match &current {
            Some(row) => Some((get::<String>(row, "vault_id")?, get::<i64>(row, "version")?)),
            None => None,
        };
        // The vault the object leaves when it moves.
        let mut leaves: Option<String> = None;
        match (expected_version, current) {
            (None, Some(_)) => return Err(StoreError::AlreadyExists("object")),
            (None, None) if write.version != 1 => {
                return Err(StoreError::VersionConflict { current: 0 })
            }
            (None, None) => {}
            (Some(_), None) => return Err(StoreError::NotFound),
            (Some(expected), Some((current_vault, version))) => {
                // Someone who cannot write the object's vault learns nothing about it.
                vault_access(&mut tx, &current_vault, &user_id, write.now, Access::Write).await?;
                if version != expected || write.version != expected + 1 {
                    return Err(StoreError::VersionConflict { current: version });
                }
                if current_vault != vault_id {
                    leaves = Some(current_vault);
                }
            }
        }

        if expected_version.is_none() {
            // Ids stay unique while a tombstone remembers them: an id deleted from a vault the
            // writer cannot write is taken. A writer of that vault may create it again (below).
            let tombstone = sqlx::query(sql::TOMBSTONE_OWNER)
                .bind(&object_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            if let Some(row) = tombstone {
                let owner = get_opt_uuid(&row, "user_id")?;
                let allowed = match owner {
                    Some(owner) => owner == write.user_id,
                    None => {
                        let deleted_from: String = get(&row, "vault_id")?;
                        vault_access(&mut tx, &deleted_from, &user_id, write.now, Access::Write)
                            .await
                            .is_ok()
                    }
                };
                if !allowed {
                    return Err(StoreError::AlreadyExists("object"));
                }
            }
        }

        let owner = vault_access(&mut tx, &vault_id, &user_id, write.now, Access::Write).await?;
        // Objects of a share have no owner and record their writer.
        let author = match owner {
            Some(_) => None,
            None => Some(user_id.clone()),
        };
        write_manifests(&mut tx, &user_id, manifests, write.now).await?;

        if let Some(left) = &leaves {
            let left_is_share = sqlx::query(shares::SHARE_EXISTS)
                .bind(left)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?
                .is_some();
            if left_is_share {
                // Readers of the share who cannot read the object's new vault learn it is gone.
                let gone = next_seq(&mut tx).await?;
                sqlx::query(sql::TOMBSTONE_INSERT)
                    .bind(&object_id)
                    .bind(None::<String>)
                    .bind(left)
                    .bind(gone)
                    .bind(write.now)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
        }

        let seq = next_seq(&mut tx).await?;
        let created_at = match expected_version {
            None => {
                sqlx::query(sql::OBJECT_INSERT)
                    .bind(&object_id)
                    .bind(&owner)
                    .bind(&vault_id)
                    .bind(write.kind.as_str())
                    .bind(write.version)
                    .bind(write.trashed)
                    .bind(&write.key_wrap)
                    .bind(&write.overview)
                    .bind(&write.details)
                    .bind(seq)
                    .bind(write.now)
                    .bind(&author)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_unique(e, &[("objects.id", "object")]))?;
                // The object supersedes an earlier delete of the same id.
                sqlx::query(sql::TOMBSTONE_REMOVE)
                    .bind(&object_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                write.now
            }
            Some(expected) => {
                let row = sqlx::query(sql::OBJECT_UPDATE)
                    .bind(&object_id)
                    .bind(&owner)
                    .bind(&vault_id)
                    .bind(write.kind.as_str())
                    .bind(write.version)
                    .bind(write.trashed)
                    .bind(&write.key_wrap)
                    .bind(&write.overview)
                    .bind(&write.details)
                    .bind(seq)
                    .bind(expected)
                    .bind(write.now)
                    .bind(&author)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                // Unreachable under BEGIN IMMEDIATE (the row was checked above in the same
                // write transaction); kept so the compare-and-swap never silently loses.
                let row = row.ok_or(StoreError::VersionConflict { current: expected })?;
                get(&row, "created_at")?
            }
        };
        tx.commit().await.map_err(backend)?;

        Ok(ObjectRecord {
            id: write.id,
            user_id: owner.is_some().then_some(write.user_id),
            author_id: owner.is_none().then_some(write.user_id),
            vault_id: write.vault_id,
            kind: write.kind,
            version: write.version,
            trashed: write.trashed,
            key_wrap: write.key_wrap,
            overview: write.overview,
            details: write.details,
            created_at,
            updated_at: write.now,
            seq,
        })
    }

    async fn get_object(
        &self,
        user_id: Uuid,
        object_id: Uuid,
    ) -> StoreResult<Option<ObjectRecord>> {
        let row = sqlx::query(sql::OBJECT_GET)
            .bind(id(object_id))
            .bind(id(user_id))
            .bind(wall_clock())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(object_from_row).transpose()
    }

    async fn list_objects(
        &self,
        user_id: Uuid,
        vault_id: Option<Uuid>,
    ) -> StoreResult<Vec<ObjectRecord>> {
        let query = match vault_id {
            Some(vault_id) => sqlx::query(sql::OBJECTS_FOR_USER_VAULT)
                .bind(id(user_id))
                .bind(wall_clock())
                .bind(id(vault_id)),
            None => sqlx::query(sql::OBJECTS_FOR_USER)
                .bind(id(user_id))
                .bind(wall_clock()),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(object_from_row).collect()
    }

    async fn delete_object(
        &self,
        user_id: Uuid,
        object_id: Uuid,
        expected_version: i64,
        manifests: &[ManifestWrite],
        now: i64,
    ) -> StoreResult<i64> {
        let object_id = id(object_id);
        let user_id = id(user_id);
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sql::OBJECT_VAULT_VERSION)
            .bind(&object_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let (vault_id, current): (String, i64) = match &row {
            None => return Err(StoreError::NotFound),
            Some(row) => (get(row, "vault_id")?, get(row, "version")?),
        };
        vault_access(&mut tx, &vault_id, &user_id, now, Access::Write).await?;
        if current != expected_version {
            return Err(StoreError::VersionConflict { current });
        }
        write_manifests(&mut tx, &user_id, manifests, now).await?;
        let deleted =
            delete_object_leaving_tombstone(&mut tx, &object_id, expected_version, now).await?;
        // Unreachable under BEGIN IMMEDIATE, as in put_object.
        let seq = deleted.ok_or(StoreError::VersionConflict { current })?;
        tx.commit().await.map_err(backend)?;
        Ok(seq)
    }

    async fn changes_since(
        &self,
        user_id: Uuid,
        since: i64,
        limit: u32,
    ) -> StoreResult<ChangePage> {
        let user_id = id(user_id);
        // One snapshot for the positions and both lists, so a concurrent write is either
        // wholly in the page or wholly after it.
        let mut tx = self.begin_read().await?;
        let position: i64 = get(
            &sqlx::query(sql::FEED_POSITION)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?,
            "value",
        )?;
        let floor: i64 = get(
            &sqlx::query(sql::FEED_FLOOR)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?,
            "value",
        )?;
        let reset = since > position || since < floor;
        if !reset && since == position {
            // Nothing was written anywhere since the cursor: the common case of a client that
            // is up to date, answered without touching the user's rows.
            tx.commit().await.map_err(backend)?;
            return Ok(ChangePage {
                objects: Vec::new(),
                tombstones: Vec::new(),
                cursor: since,
                has_more: false,
                reset: false,
            });
        }
        let from = if reset { 0 } else { since };
        let now = wall_clock();

        let object_rows = sqlx::query(sql::FEED_OBJECTS)
            .bind(&user_id)
            .bind(from)
            .bind(fetch_limit(limit))
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let tombstone_rows = sqlx::query(sql::FEED_TOMBSTONES)
            .bind(&user_id)
            .bind(from)
            .bind(fetch_limit(limit))
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;

        let objects = object_rows
            .iter()
            .map(object_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let tombstones = tombstone_rows
            .iter()
            .map(tombstone_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let mut page = merge_page(objects, tombstones, from, limit, reset);
        if reset && page.objects.is_empty() && page.tombstones.is_empty() && !page.has_more {
            // Nothing of the user's up to the current position: hand out that position rather
            // than 0, which could be expired again (below the floor) on the next call.
            page.cursor = position;
        }
        Ok(page)
    }

    async fn manifests_for_user(&self, user_id: Uuid) -> StoreResult<Vec<ManifestRecord>> {
        let rows = sqlx::query(sql::MANIFESTS_FOR_USER)
            .bind(id(user_id))
            .bind(wall_clock())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(manifest_from_row).collect()
    }

    async fn prune_tombstones(&self, before: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sql::TOMBSTONES_PRUNABLE_MAX_SEQ)
            .bind(before)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let max_seq: Option<i64> = get(&row, "max_seq")?;
        let Some(max_seq) = max_seq else {
            return Ok(0);
        };
        let pruned = sqlx::query(sql::TOMBSTONES_PRUNE)
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        sqlx::query(sql::DELETED_SHARE_READERS_PRUNE)
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(sql::FEED_FLOOR_RAISE)
            .bind(max_seq)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(pruned)
    }
}

/// Merges the objects and tombstones after `from` (each in seq order, each at most `limit + 1`
/// long) into one page of at most `limit` changes in seq order.
fn merge_page(
    objects: Vec<ObjectRecord>,
    tombstones: Vec<Tombstone>,
    from: i64,
    limit: u32,
    reset: bool,
) -> ChangePage {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let available = objects.len() + tombstones.len();
    let mut page = ChangePage {
        objects: Vec::new(),
        tombstones: Vec::new(),
        cursor: from,
        has_more: available > limit,
        reset,
    };
    let mut objects = objects.into_iter().peekable();
    let mut tombstones = tombstones.into_iter().peekable();
    for _ in 0..limit {
        let take_object = match (objects.peek(), tombstones.peek()) {
            (Some(o), Some(t)) => o.seq < t.seq,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_object {
            if let Some(o) = objects.next() {
                page.cursor = o.seq;
                page.objects.push(o);
            }
        } else if let Some(t) = tombstones.next() {
            page.cursor = t.seq;
            page.tombstones.push(t);
        }
    }
    page
}
