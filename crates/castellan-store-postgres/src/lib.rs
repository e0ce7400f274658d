//! PostgreSQL backend of the Castellan storage trait.
//!
//! [`PgStore::connect`] opens a pool on a `postgres://` (or `postgresql://`) URL and applies the
//! migrations embedded from `migrations/` (the same schema as the SQLite backend: native `uuid`
//! ids, `BYTEA` blobs, `BIGINT` times). Several server instances may start at once on one
//! database: sqlx's migrator holds a PostgreSQL advisory lock (`pg_advisory_lock`, keyed on the
//! database name) while it checks and applies migrations, so one instance migrates and the others
//! wait and then find nothing to do.
//!
//! # Concurrency
//!
//! Write transactions run at READ COMMITTED with explicit row locks, so the compare-and-swap
//! rules of [`Store`] hold with any number of connections and instances:
//! - an object update or delete first locks the object row (`SELECT ... FOR UPDATE`); a
//!   concurrent write of the same object waits for the commit and then sees the new version
//!   (`VersionConflict`) or no row (`NotFound`);
//! - creates of one id are serialised by a transaction-level advisory lock on the id, so the
//!   second create sees the first one's row and fails with `AlreadyExists("object")`, in the same
//!   order of checks as SQLite;
//! - manifests are compare-and-swapped with `UPDATE ... WHERE counter = $n - 1` (re-checked on
//!   the newest row after a wait) or `INSERT ... ON CONFLICT DO NOTHING` for counter 1;
//! - the feed position comes from a one-row counter (`UPDATE ... RETURNING`), taken last in the
//!   transaction; its row lock is held until the commit, so positions are handed out in commit
//!   order and a reader that sees position N sees every write below N;
//! - unique violations (SQLSTATE 23505) map to `AlreadyExists(..)` by constraint name;
//! - a transaction that PostgreSQL aborts as a deadlock victim (40P01) or a serialization
//!   failure (40001) is retried a few times from the start.
//!
//! # Change hints across instances
//!
//! Every object write and delete queues `pg_notify('castellan_changes', '<user_id>:<seq>')` in
//! its own transaction; PostgreSQL delivers it on commit (never for a rollback). Each server
//! instance relays those notifications to its hint bus with [`PgStore::listen_changes`]. The
//! payload holds an id and a position, nothing else.
//!
//! The SQL text lives in [`sql`].

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use castellan_store::{
    ChangePage, LoginAttempt, ManifestRecord, ManifestWrite, NewUser, NewVault, ObjectKind,
    ObjectRecord, ObjectWrite, SessionRecord, Store, StoreError, StoreResult, Tombstone,
    UserRecord, VaultKind, VaultRecord,
};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Row};
use uuid::Uuid;

mod backups;
mod org;
mod shares;
pub mod sql;

/// Connections of the pool when [`PgStore::connect`] is used.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;
/// The channel of the change hints (see [`PgStore::listen_changes`]).
pub const CHANGES_CHANNEL: &str = "castellan_changes";

/// How long opening the first connection may take before `connect` gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts of a transaction that PostgreSQL aborted as a deadlock victim or a serialization
/// failure (each attempt starts over from `BEGIN`).
const MAX_ATTEMPTS: u32 = 8;
/// Class of the advisory locks on object ids (`OBJECT_CREATE_LOCK`): "Cstl".
const OBJECT_LOCK_CLASS: i32 = 0x4373_746c;
/// Reconnect backoff of the change listener.
const LISTEN_BACKOFF_MIN: Duration = Duration::from_millis(250);
const LISTEN_BACKOFF_MAX: Duration = Duration::from_secs(30);

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

/// The PostgreSQL store. Cheap to clone (it is a connection pool handle).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database[?params]`, the
    /// parameters libpq and sqlx accept, e.g. `sslmode`) with a pool of
    /// [`DEFAULT_MAX_CONNECTIONS`] and applies pending migrations.
    ///
    /// Errors name the host, port, database and user, never the password or the URL.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, DEFAULT_MAX_CONNECTIONS).await
    }

    /// [`PgStore::connect`] with a pool of at most `max_connections` (at least 1). The change
    /// listener ([`PgStore::listen_changes`]) uses a connection of its own, outside this pool.
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        if max_connections == 0 {
            return Err(StoreError::Backend(
                "the PostgreSQL pool needs at least one connection".into(),
            ));
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        let target = describe(&options);

        // Migrate on a connection of its own: a refused or unreachable server fails here at once
        // with the driver's reason (a pool would retry until its acquire timeout and then only
        // report a timeout), and the migration lock ends with this connection whatever happens.
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| {
                StoreError::Backend(format!(
                    "cannot connect to PostgreSQL at {target}: timed out after {}s",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| {
                StoreError::Backend(format!("cannot connect to PostgreSQL at {target}: {e}"))
            })?;
        // `run_direct` is `run` on a connection without the `Acquire` indirection, whose future
        // is not provably `Send` for every lifetime (sqlx documents this workaround).
        let migrated = MIGRATOR.run_direct(&mut conn).await;
        let _ = conn.close().await;
        migrated.map_err(|e| {
            StoreError::Backend(format!("migration of PostgreSQL at {target} failed: {e}"))
        })?;

        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Backend(format!("cannot connect to PostgreSQL at {target}: {e}"))
            })?;
        Ok(Self { pool })
    }

    /// Relays the change hints of every instance on this database (including this one) to
    /// `on_change(user_id, seq)`, from a task that runs until the store is closed (or the
    /// returned handle is aborted).
    ///
    /// The task `LISTEN`s on [`CHANGES_CHANNEL`] over a connection of its own. When that
    /// connection drops it reconnects (with backoff while the server is unreachable) and listens
    /// again; notifications sent in between are lost, and nothing is called for them: hints are
    /// best effort, and a client that missed one still syncs from its own cursor later.
    /// `on_change` runs on the task and should return quickly.
    ///
    /// Fails if the first connection or the `LISTEN` fails.
    pub async fn listen_changes(
        &self,
        on_change: impl Fn(Uuid, i64) + Send + Sync + 'static,
    ) -> Result<tokio::task::JoinHandle<()>, StoreError> {
        let options = self.pool.connect_options().as_ref().clone();
        let target = describe(&options);
        // One connection, held by the listener for as long as it lives.
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        let mut listener = PgListener::connect_with(&listen_pool).await.map_err(|e| {
            StoreError::Backend(format!("cannot listen on PostgreSQL at {target}: {e}"))
        })?;
        listener.listen(CHANGES_CHANNEL).await.map_err(|e| {
            StoreError::Backend(format!("cannot listen on PostgreSQL at {target}: {e}"))
        })?;
        let store_closed = self.pool.close_event();
        Ok(tokio::spawn(relay_changes(
            listener,
            listen_pool,
            store_closed,
            on_change,
        )))
    }

    /// Closes every connection; waits for checked-out connections to come back. A running
    /// change listener stops too.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, Error> {
        Ok(self.pool.begin_with(sql::BEGIN_WRITE).await?)
    }

    async fn begin_read(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, Error> {
        Ok(self.pool.begin_with(sql::BEGIN_READ).await?)
    }
}

/// `user@host:port/database` for messages: never the password.
fn describe(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    format!(
        "{}@{host}/{}",
        options.get_username(),
        options.get_database().unwrap_or(options.get_username())
    )
}

/// Hides the password of a database URL for logs and messages: `scheme://user:***@host/db`
/// (also without the `//`), and the value of a `password=` query parameter. Anything else is
/// returned unchanged: a string without a scheme is not recognised as a URL, so do not show
/// one that failed to parse.
pub fn redact_url(url: &str) -> String {
    let scheme_end = match url.find(':') {
        Some(colon)
            if colon > 0
                && url[..colon]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            colon
        }
        _ => return redact_query(url),
    };
    let mut rest_start = scheme_end + 1;
    if url[rest_start..].starts_with("//") {
        rest_start += 2;
    }
    let rest = &url[rest_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let redacted = match authority.rfind('@') {
        // "user:password@host:port" -> "user:***@host:port"
        Some(at) => match authority[..at].find(':') {
            Some(colon) => format!("{}:***{}", &authority[..colon], &authority[at..]),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    format!(
        "{}{}{}",
        &url[..rest_start],
        redacted,
        redact_query(&rest[authority_end..])
    )
}

/// Replaces the value of every `password=` parameter after the first `?`.
fn redact_query(s: &str) -> String {
    let Some(q) = s.find('?') else {
        return s.to_string();
    };
    let (head, query) = s.split_at(q + 1);
    let (query, fragment) = match query.find('#') {
        Some(h) => query.split_at(h),
        None => (query, ""),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{head}{}{fragment}", params.join("&"))
}

/// The listener task of [`PgStore::listen_changes`].
async fn relay_changes(
    mut listener: PgListener,
    listen_pool: PgPool,
    mut store_closed: sqlx::pool::CloseEvent,
    on_change: impl Fn(Uuid, i64) + Send + Sync + 'static,
) {
    let mut backoff = LISTEN_BACKOFF_MIN;
    loop {
        let received = match store_closed.do_until(listener.try_recv()).await {
            Ok(received) => received,
            // The store was closed: stop listening.
            Err(_) => break,
        };
        match received {
            Ok(Some(notification)) => {
                backoff = LISTEN_BACKOFF_MIN;
                match parse_hint(notification.payload()) {
                    Some((user_id, seq)) => on_change(user_id, seq),
                    None => tracing::debug!("ignored a malformed change notification"),
                }
            }
            Ok(None) => {
                // The listener reconnected (and listens again); whatever was notified in
                // between is lost, which hints allow.
                tracing::warn!("change hint listener lost its connection and reconnected");
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64,
                    "change hint listener cannot reach PostgreSQL");
                if store_closed
                    .do_until(tokio::time::sleep(backoff))
                    .await
                    .is_err()
                {
                    break;
                }
                backoff = (backoff * 2).min(LISTEN_BACKOFF_MAX);
            }
        }
    }
    drop(listener);
    listen_pool.close().await;
}

/// `"<user_id>:<seq>"` → `(user_id, seq)`.
fn parse_hint(payload: &str) -> Option<(Uuid, i64)> {
    let (user, seq) = payload.split_once(':')?;
    Some((Uuid::parse_str(user).ok()?, seq.parse().ok()?))
}

fn hint_payload(user_id: Uuid, seq: i64) -> String {
    format!("{}:{seq}", user_id.hyphenated())
}

// ---- errors and decoding

/// The error of one transaction attempt: a result for the caller, or a driver error (which may
/// be a deadlock or serialization failure worth retrying).
#[derive(Debug)]
enum Error {
    Store(StoreError),
    Db(sqlx::Error),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Db(e)
    }
}

impl Error {
    /// 40001 serialization_failure, 40P01 deadlock_detected: PostgreSQL rolled the transaction
    /// back and running it again may succeed.
    fn is_retryable(&self) -> bool {
        match self {
            Error::Db(e) => e
                .as_database_error()
                .and_then(|db| db.code())
                .is_some_and(|code| code == "40001" || code == "40P01"),
            Error::Store(_) => false,
        }
    }

    fn into_store(self) -> StoreError {
        match self {
            Error::Store(e) => e,
            Error::Db(e) => backend(e),
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or was retried [`MAX_ATTEMPTS`] times.
async fn retry<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if e.is_retryable() && tries < MAX_ATTEMPTS => {
                tracing::debug!(tries, "retrying a transaction aborted by PostgreSQL");
                // Short and growing, with some spread so that two victims do not meet again.
                let spread = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::from(d.subsec_nanos() % 5));
                tokio::time::sleep(Duration::from_millis((2 << tries) + spread)).await;
                tries += 1;
            }
            result => return result.map_err(Error::into_store),
        }
    }
}

/// Maps a driver error. PostgreSQL's primary messages name constraints and types, not values
/// (the values are in the error's detail, which is not part of the message).
fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a unique violation (23505) to `AlreadyExists(what)` by constraint name, anything else to
/// a driver error.
fn map_unique(e: sqlx::Error, targets: &[(&str, &'static str)]) -> Error {
    if let Some(db) = e.as_database_error() {
        if db.is_unique_violation() {
            if let Some(constraint) = db.constraint() {
                for (name, what) in targets {
                    if constraint == *name {
                        return Error::Store(StoreError::AlreadyExists(what));
                    }
                }
            }
        }
    }
    Error::Db(e)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("invalid value in column {what}"))
}

fn get<'r, T>(row: &'r PgRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(backend)
}

fn user_from_row(row: &PgRow) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: get(row, "id")?,
        email: get(row, "email")?,
        opaque_record: get(row, "opaque_record")?,
        keyset: get(row, "keyset")?,
        credentials_version: get(row, "credentials_version")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn vault_from_row(row: &PgRow) -> StoreResult<VaultRecord> {
    let kind: &str = get(row, "kind")?;
    Ok(VaultRecord {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        kind: VaultKind::parse(kind).ok_or_else(|| corrupt("kind"))?,
        key_wrap: get(row, "key_wrap")?,
        key_version: get(row, "key_version")?,
        created_at: get(row, "created_at")?,
    })
}

fn login_attempt_from_row(row: &PgRow) -> StoreResult<LoginAttempt> {
    Ok(LoginAttempt {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        email: get(row, "email")?,
        state: get(row, "state")?,
        expires_at: get(row, "expires_at")?,
    })
}

fn session_from_row(row: &PgRow) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        token_hash: get(row, "token_hash")?,
        device_name: get(row, "device_name")?,
        created_at: get(row, "created_at")?,
        last_seen_at: get(row, "last_seen_at")?,
        expires_at: get(row, "expires_at")?,
        revoked_at: get(row, "revoked_at")?,
        restriction: get(row, "restriction")?,
    })
}

pub(crate) fn object_from_row(row: &PgRow) -> StoreResult<ObjectRecord> {
    let kind: &str = get(row, "kind")?;
    Ok(ObjectRecord {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        author_id: get(row, "author_id")?,
        vault_id: get(row, "vault_id")?,
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

fn tombstone_from_row(row: &PgRow) -> StoreResult<Tombstone> {
    Ok(Tombstone {
        id: get(row, "id")?,
        vault_id: get(row, "vault_id")?,
        seq: get(row, "seq")?,
    })
}

pub(crate) fn manifest_from_row(row: &PgRow) -> StoreResult<ManifestRecord> {
    Ok(ManifestRecord {
        vault_id: get(row, "vault_id")?,
        user_id: get(row, "user_id")?,
        counter: get(row, "counter")?,
        blob: get(row, "blob")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn count_u32(count: i64) -> u32 {
    u32::try_from(count.max(0)).unwrap_or(u32::MAX)
}

/// The advisory lock key of an object id (collisions only make two creates queue).
fn object_lock_key(id: Uuid) -> i32 {
    let b = id.as_bytes();
    let word = |i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    word(0) ^ word(4) ^ word(8) ^ word(12)
}

/// Takes the next sync feed position inside the caller's transaction (its row lock is held
/// until the commit).
pub(crate) async fn next_seq(tx: &mut PgConnection) -> Result<i64, Error> {
    Ok(sqlx::query(sql::FEED_NEXT_SEQ)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?)
}

/// Queues the change hint "the feed reached `seq`" for everyone who reads vault `vault_id`: its
/// owner, or every principal of the share (delivered on commit, dropped on rollback).
pub(crate) async fn notify_vault(
    tx: &mut PgConnection,
    vault_id: Uuid,
    seq: i64,
) -> Result<(), Error> {
    sqlx::query(sql::NOTIFY_VAULT)
        .bind(CHANGES_CHANNEL)
        .bind(vault_id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Queues the change hint "the feed of `user_id` reached `seq`" (delivered on commit, dropped on
/// rollback).
pub(crate) async fn notify_change(
    tx: &mut PgConnection,
    user_id: Uuid,
    seq: i64,
) -> Result<(), Error> {
    sqlx::query(sql::NOTIFY)
        .bind(CHANGES_CHANNEL)
        .bind(hint_payload(user_id, seq))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The wall clock, for reads that the trait gives no `now` (share expiry).
pub(crate) fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The one access check of this backend: `NotFound` unless `user_id` may write vault
/// `vault_id` at `now` (the rule is the `share_access!` macro of `sql.rs`, which the read
/// queries embed too). Returns the vault's owner (`None` for a share); a share's row stays
/// locked in share mode until the commit.
pub(crate) async fn writable_vault(
    tx: &mut PgConnection,
    vault_id: Uuid,
    user_id: Uuid,
    now: i64,
) -> Result<Option<Uuid>, Error> {
    sqlx::query(sql::SHARE_LOCK_SHARED)
        .bind(vault_id)
        .fetch_optional(&mut *tx)
        .await?;
    let row = sqlx::query(sql::VAULT_WRITABLE)
        .bind(user_id)
        .bind(vault_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    match row {
        Some(row) => Ok(get(&row, "user_id")?),
        None => Err(StoreError::NotFound.into()),
    }
}

/// Deletes the object if it is at `version` and leaves its tombstone with the next feed
/// position, inside the caller's transaction (which checked access); returns that position
/// (`None`, with nothing changed, if there is no such object at that version). The caller holds
/// the object's row lock and queues the change hint. The one way an object is deleted:
/// `delete_object`, the removal of a member's business items and the deletion of a share all
/// come here.
pub(crate) async fn delete_object_leaving_tombstone(
    tx: &mut PgConnection,
    object_id: Uuid,
    version: i64,
    now: i64,
) -> Result<Option<i64>, Error> {
    let deleted = sqlx::query(sql::OBJECT_DELETE)
        .bind(object_id)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(deleted) = deleted else {
        return Ok(None);
    };
    let vault_id: Uuid = get(&deleted, "vault_id")?;
    let user_id: Option<Uuid> = get(&deleted, "user_id")?;
    // A delete is an object write too: it takes the next feed position, kept by the tombstone.
    let seq = next_seq(&mut *tx).await?;
    sqlx::query(sql::TOMBSTONE_INSERT)
        .bind(object_id)
        .bind(user_id)
        .bind(vault_id)
        .bind(seq)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(Some(seq))
}

/// Stores each manifest with a compare-and-swap on its counter, inside the caller's transaction
/// (the caller rolls back on error). Checked in the order given.
pub(crate) async fn write_manifests(
    tx: &mut PgConnection,
    user_id: Uuid,
    manifests: &[ManifestWrite],
    now: i64,
) -> Result<(), Error> {
    if manifests.len() > 1 {
        let vaults: Vec<Uuid> = manifests.iter().map(|m| m.vault_id).collect();
        sqlx::query(sql::MANIFESTS_LOCK)
            .bind(&vaults)
            .fetch_all(&mut *tx)
            .await?;
    }
    for m in manifests {
        writable_vault(&mut *tx, m.vault_id, user_id, now).await?;
        let statement = if m.counter == 1 {
            sql::MANIFEST_INSERT_FIRST
        } else {
            sql::MANIFEST_UPDATE
        };
        let written = sqlx::query(statement)
            .bind(m.vault_id)
            .bind(m.counter)
            .bind(&m.blob)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if written == 0 {
            // READ COMMITTED: this reads the newest committed counter (the one that made the
            // compare-and-swap fail).
            let row = sqlx::query(sql::MANIFEST_COUNTER)
                .bind(m.vault_id)
                .fetch_optional(&mut *tx)
                .await?;
            let current = match row {
                Some(row) => get(&row, "counter")?,
                None => 0,
            };
            return Err(StoreError::ManifestConflict {
                vault_id: m.vault_id,
                current,
            }
            .into());
        }
    }
    Ok(())
}

/// Fetches `limit + 1` rows as an `i64` bind value (enough to tell whether more follow).
fn fetch_limit(limit: u32) -> i64 {
    i64::from(limit) + 1
}

impl PgStore {
    async fn create_user_once(&self, user: &NewUser, vaults: &[NewVault]) -> Result<(), Error> {
        const TARGETS: &[(&str, &str)] = &[
            ("users_email_key", "email"),
            ("users_pkey", "user"),
            ("vaults_pkey", "vault"),
            ("vaults_id_user_id_key", "vault"),
        ];
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::USER_INSERT)
            .bind(user.id)
            .bind(&user.email)
            .bind(&user.opaque_record)
            .bind(&user.keyset)
            .bind(user.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, TARGETS))?;
        for vault in vaults {
            sqlx::query(sql::VAULT_INSERT)
                .bind(vault.id)
                .bind(user.id)
                .bind(vault.kind.as_str())
                .bind(&vault.key_wrap)
                .bind(vault.key_version)
                .bind(user.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| map_unique(e, TARGETS))?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn update_user_credentials_once(
        &self,
        user_id: Uuid,
        expected_credentials_version: i64,
        opaque_record: &[u8],
        keyset: &str,
        now: i64,
    ) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(sql::USER_UPDATE_CREDENTIALS)
            .bind(user_id)
            .bind(expected_credentials_version)
            .bind(opaque_record)
            .bind(keyset)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            let row = sqlx::query(sql::USER_CREDENTIALS_VERSION)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            return match row {
                None => Err(StoreError::NotFound.into()),
                Some(row) => Err(StoreError::VersionConflict {
                    current: get(&row, "credentials_version")?,
                }
                .into()),
            };
        }
        tx.commit().await?;
        Ok(())
    }

    /// One attempt of `put_object`: returns `(created_at, seq, owner)`.
    async fn put_object_once(
        &self,
        write: &ObjectWrite,
        expected_version: Option<i64>,
        manifests: &[ManifestWrite],
    ) -> Result<(i64, i64, Option<Uuid>), Error> {
        let mut tx = self.begin_write().await?;

        if expected_version.is_none() {
            // Creates of one id queue here until the previous one commits or rolls back.
            sqlx::query(sql::OBJECT_CREATE_LOCK)
                .bind(OBJECT_LOCK_CLASS)
                .bind(object_lock_key(write.id))
                .execute(&mut *tx)
                .await?;
        }

        // Compare-and-swap checks against the current row, wherever it is (locked until the
        // commit, so the checks stay true).
        let current = sqlx::query(sql::OBJECT_VAULT_VERSION)
            .bind(write.id)
            .fetch_optional(&mut *tx)
            .await?;
        let current = match &current {
            Some(row) => Some((get::<Uuid>(row, "vault_id")?, get::<i64>(row, "version")?)),
            None => None,
        };
        let mut leaves: Option<Uuid> = None;
        match (expected_version, current) {
            (None, Some(_)) => return Err(StoreError::AlreadyExists("object").into()),
            (None, None) if write.version != 1 => {
                return Err(StoreError::VersionConflict { current: 0 }.into())
            }
            (None, None) => {}
            (Some(_), None) => return Err(StoreError::NotFound.into()),
            (Some(expected), Some((current_vault, version))) => {
                // Someone who cannot write the object's vault learns nothing about it.
                writable_vault(&mut tx, current_vault, write.user_id, write.now).await?;
                if version != expected || write.version != expected + 1 {
                    return Err(StoreError::VersionConflict { current: version }.into());
                }
                if current_vault != write.vault_id {
                    leaves = Some(current_vault);
                }
            }
        }

        if expected_version.is_none() {
            // Ids stay unique while a tombstone remembers them: an id deleted from a vault the
            // writer cannot write is taken. A writer of that vault may create it again (below).
            let tombstone = sqlx::query(sql::TOMBSTONE_OWNER)
                .bind(write.id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = tombstone {
                let allowed = match get::<Option<Uuid>>(&row, "user_id")? {
                    Some(owner) => owner == write.user_id,
                    None => {
                        let deleted_from: Uuid = get(&row, "vault_id")?;
                        match writable_vault(&mut tx, deleted_from, write.user_id, write.now).await
                        {
                            Ok(_) => true,
                            Err(Error::Store(StoreError::NotFound)) => false,
                            Err(e) => return Err(e),
                        }
                    }
                };
                if !allowed {
                    return Err(StoreError::AlreadyExists("object").into());
                }
            }
        }

        let owner = writable_vault(&mut tx, write.vault_id, write.user_id, write.now).await?;
        // Objects of a share have no owner and record their writer.
        let author = owner.is_none().then_some(write.user_id);
        write_manifests(&mut tx, write.user_id, manifests, write.now).await?;

        if let Some(left) = leaves {
            let left_is_share = sqlx::query(shares::SHARE_EXISTS)
                .bind(left)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if left_is_share {
                // Readers of the share who cannot read the object's new vault learn it is gone.
                let gone = next_seq(&mut tx).await?;
                sqlx::query(sql::TOMBSTONE_INSERT)
                    .bind(write.id)
                    .bind(None::<Uuid>)
                    .bind(left)
                    .bind(gone)
                    .bind(write.now)
                    .execute(&mut *tx)
                    .await?;
                notify_vault(&mut tx, left, gone).await?;
            }
        }

        // Last: the feed counter's row lock is held from here to the commit.
        let seq = next_seq(&mut tx).await?;
        notify_vault(&mut tx, write.vault_id, seq).await?;
        let created_at = match expected_version {
            None => {
                sqlx::query(sql::OBJECT_INSERT)
                    .bind(write.id)
                    .bind(owner)
                    .bind(write.vault_id)
                    .bind(write.kind.as_str())
                    .bind(write.version)
                    .bind(write.trashed)
                    .bind(&write.key_wrap)
                    .bind(&write.overview)
                    .bind(&write.details)
                    .bind(seq)
                    .bind(write.now)
                    .bind(author)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_unique(e, &[("objects_pkey", "object")]))?;
                // The object supersedes an earlier delete of the same id.
                sqlx::query(sql::TOMBSTONE_REMOVE)
                    .bind(write.id)
                    .execute(&mut *tx)
                    .await?;
                write.now
            }
            Some(expected) => {
                let row = sqlx::query(sql::OBJECT_UPDATE)
                    .bind(write.id)
                    .bind(owner)
                    .bind(write.vault_id)
                    .bind(write.kind.as_str())
                    .bind(write.version)
                    .bind(write.trashed)
                    .bind(&write.key_wrap)
                    .bind(&write.overview)
                    .bind(&write.details)
                    .bind(seq)
                    .bind(expected)
                    .bind(write.now)
                    .bind(author)
                    .fetch_optional(&mut *tx)
                    .await?;
                // Unreachable while the row lock taken above is held; kept so the
                // compare-and-swap never silently loses.
                let row = row.ok_or(StoreError::VersionConflict { current: expected })?;
                get(&row, "created_at")?
            }
        };
        tx.commit().await?;
        Ok((created_at, seq, owner))
    }

    async fn delete_object_once(
        &self,
        user_id: Uuid,
        object_id: Uuid,
        expected_version: i64,
        manifests: &[ManifestWrite],
        now: i64,
    ) -> Result<i64, Error> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sql::OBJECT_VAULT_VERSION)
            .bind(object_id)
            .fetch_optional(&mut *tx)
            .await?;
        let (vault_id, current): (Uuid, i64) = match &row {
            None => return Err(StoreError::NotFound.into()),
            Some(row) => (get(row, "vault_id")?, get(row, "version")?),
        };
        writable_vault(&mut tx, vault_id, user_id, now).await?;
        if current != expected_version {
            return Err(StoreError::VersionConflict { current }.into());
        }
        write_manifests(&mut tx, user_id, manifests, now).await?;
        let seq =
            delete_object_leaving_tombstone(&mut tx, object_id, expected_version, now).await?;
        // Unreachable while the row lock is held, as in put_object.
        let seq = seq.ok_or(StoreError::VersionConflict { current })?;
        notify_vault(&mut tx, vault_id, seq).await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn changes_since_once(
        &self,
        user_id: Uuid,
        since: i64,
        limit: u32,
    ) -> Result<ChangePage, Error> {
        // One snapshot for the positions and both lists, so a concurrent write is either
        // wholly in the page or wholly after it.
        let mut tx = self.begin_read().await?;
        let position: i64 = get(
            &sqlx::query(sql::FEED_POSITION).fetch_one(&mut *tx).await?,
            "value",
        )?;
        let floor: i64 = get(
            &sqlx::query(sql::FEED_FLOOR).fetch_one(&mut *tx).await?,
            "value",
        )?;
        let reset = since > position || since < floor;
        if !reset && since == position {
            // Nothing was written anywhere since the cursor: the common case of a client that
            // is up to date, answered without touching the user's rows.
            tx.commit().await?;
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
            .bind(user_id)
            .bind(from)
            .bind(fetch_limit(limit))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        let tombstone_rows = sqlx::query(sql::FEED_TOMBSTONES)
            .bind(user_id)
            .bind(from)
            .bind(fetch_limit(limit))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;

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

    async fn prune_tombstones_once(&self, before: i64) -> Result<u64, Error> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sql::TOMBSTONES_PRUNE)
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
        let pruned: i64 = get(&row, "pruned")?;
        sqlx::query(sql::DELETED_SHARE_READERS_PRUNE)
            .bind(before)
            .execute(&mut *tx)
            .await?;
        let max_seq: Option<i64> = get(&row, "max_seq")?;
        let Some(max_seq) = max_seq else {
            return Ok(0);
        };
        // Same transaction: no reader sees the tombstones gone and the floor not yet raised.
        sqlx::query(sql::FEED_FLOOR_RAISE)
            .bind(max_seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(u64::try_from(pruned).unwrap_or(0))
    }
}

#[async_trait]
impl Store for PgStore {
    async fn config_get_or_init(&self, key: &str, init: Vec<u8>) -> StoreResult<Vec<u8>> {
        // A concurrent first insert of the key makes this one wait for its commit and then do
        // nothing; the read that follows sees the winner's value.
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
        retry(|| self.create_user_once(&user, &vaults)).await
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
            .bind(user_id)
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
        retry(|| {
            self.update_user_credentials_once(
                user_id,
                expected_credentials_version,
                &opaque_record,
                &keyset,
                now,
            )
        })
        .await
    }

    async fn put_login_attempt(&self, attempt: LoginAttempt) -> StoreResult<()> {
        sqlx::query(sql::LOGIN_ATTEMPT_INSERT)
            .bind(attempt.id)
            .bind(attempt.user_id)
            .bind(attempt.email)
            .bind(attempt.state)
            .bind(attempt.expires_at)
            .execute(&self.pool)
            .await
            .map_err(|e| map_unique(e, &[("login_attempts_pkey", "login_attempt")]).into_store())?;
        Ok(())
    }

    async fn take_login_attempt(
        &self,
        attempt_id: Uuid,
        now: i64,
    ) -> StoreResult<Option<LoginAttempt>> {
        let row = sqlx::query(sql::LOGIN_ATTEMPT_TAKE)
            .bind(attempt_id)
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
            .bind(session.id)
            .bind(session.user_id)
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
                        ("sessions_pkey", "session"),
                        ("sessions_token_hash_key", "session"),
                    ],
                )
                .into_store()
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
            .bind(session_id)
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
            .bind(user_id)
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn revoke_session(&self, user_id: Uuid, session_id: Uuid, now: i64) -> StoreResult<()> {
        let updated = sqlx::query(sql::SESSION_REVOKE)
            .bind(user_id)
            .bind(session_id)
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
                .bind(user_id)
                .bind(now)
                .bind(keep),
            None => sqlx::query(sql::SESSIONS_REVOKE_ALL)
                .bind(user_id)
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
            .bind(user_id)
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
        let (created_at, seq, owner) =
            retry(|| self.put_object_once(&write, expected_version, manifests)).await?;
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
            .bind(object_id)
            .bind(user_id)
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
                .bind(user_id)
                .bind(wall_clock())
                .bind(vault_id),
            None => sqlx::query(sql::OBJECTS_FOR_USER)
                .bind(user_id)
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
        retry(|| self.delete_object_once(user_id, object_id, expected_version, manifests, now))
            .await
    }

    async fn changes_since(
        &self,
        user_id: Uuid,
        since: i64,
        limit: u32,
    ) -> StoreResult<ChangePage> {
        retry(|| self.changes_since_once(user_id, since, limit)).await
    }

    async fn manifests_for_user(&self, user_id: Uuid) -> StoreResult<Vec<ManifestRecord>> {
        let rows = sqlx::query(sql::MANIFESTS_FOR_USER)
            .bind(user_id)
            .bind(wall_clock())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(manifest_from_row).collect()
    }

    async fn prune_tombstones(&self, before: i64) -> StoreResult<u64> {
        retry(|| self.prune_tombstones_once(before)).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_and_nothing_else() {
        let cases = [
            (
                "postgres://castellan:s3cret@db.example:5432/castellan",
                "postgres://castellan:***@db.example:5432/castellan",
            ),
            (
                "postgresql://u:p%40ss:w@host/db?sslmode=require",
                "postgresql://u:***@host/db?sslmode=require",
            ),
            ("postgres://u:pw@h", "postgres://u:***@h"),
            (
                "postgres://postgres@127.0.0.1:5432/test",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            ("postgres://host/db", "postgres://host/db"),
            (
                "postgres://u@h/db?application_name=x&password=hunter2&sslmode=disable",
                "postgres://u@h/db?application_name=x&password=***&sslmode=disable",
            ),
            (
                "postgres:///db?Password=hunter2#frag",
                "postgres:///db?Password=***#frag",
            ),
            (
                "sqlite:///var/lib/castellan.db",
                "sqlite:///var/lib/castellan.db",
            ),
            ("not a url", "not a url"),
            ("postgres:u:pw@h/db", "postgres:u:***@h/db"),
            ("sqlite::memory:", "sqlite::memory:"),
            ("sqlite:data/castellan.db", "sqlite:data/castellan.db"),
            ("", ""),
        ];
        for (url, expected) in cases {
            assert_eq!(redact_url(url), expected, "{url}");
        }
        // A password containing '@' (not percent-encoded): everything up to the last '@' of the
        // authority is user info.
        let r = redact_url("postgres://u:a@b@host/db");
        assert_eq!(r, "postgres://u:***@host/db");
    }

    #[test]
    fn hint_payloads_round_trip_and_reject_garbage() {
        let user = Uuid::new_v4();
        assert_eq!(parse_hint(&hint_payload(user, 42)), Some((user, 42)));
        for bad in [
            "",
            "x",
            ":1",
            "not-a-uuid:1",
            &format!("{user}:"),
            &format!("{user}:x"),
        ] {
            assert_eq!(parse_hint(bad), None, "{bad}");
        }
    }

    #[test]
    fn describe_never_shows_the_password() {
        let options =
            PgConnectOptions::from_str("postgres://alice:topsecret@db.example:6543/vault").unwrap();
        let text = describe(&options);
        assert_eq!(text, "alice@db.example:6543/vault");
        assert!(!text.contains("topsecret"));
    }
}
