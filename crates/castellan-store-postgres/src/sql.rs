//! The SQL text of the PostgreSQL backend.
//!
//! Conventions as in `castellan_store_sqlite::sql`: numbered `$1, $2, ...` placeholders,
//! `ON CONFLICT` upserts, `RETURNING`. Ids are bound as native `uuid`s, times as Unix seconds
//! (`i64`), flags as `bool`.
//!
//! Most statements here are, character for character, the ones of the SQLite backend
//! (`castellan-store-sqlite/src/sql.rs`); they are written out again rather than imported because
//! depending on that crate would pull the SQLite store into this one. Only the statements
//! marked `PostgreSQL-specific` differ (explicit row locks, advisory locks, `NOTIFY`, one-statement
//! pruning, the snapshot isolation of feed reads). The next step is a shared
//! `castellan-store-sql` crate holding the common statements, with each backend keeping only its
//! specific ones; until then a change to a shared statement must be made in both files (the
//! conformance suite catches a behaviour drift, not a textual one).

// ---- transactions (PostgreSQL-specific)

/// Every write transaction runs at READ COMMITTED whatever the server's
/// `default_transaction_isolation`: each statement sees what committed before it started, and an
/// `UPDATE`/`SELECT ... FOR UPDATE` that waited on a row lock re-reads the row's newest version.
/// The compare-and-swap logic relies on both.
pub const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";
/// A read-only snapshot over several statements (the change feed), so a page, the feed position
/// and the floor come from one instant.
pub const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

// ---- change hints (PostgreSQL-specific)

/// Queues a notification (`$1` channel, `$2` payload); PostgreSQL delivers it on commit and drops
/// it on rollback.
pub const NOTIFY: &str = "SELECT pg_notify($1, $2)";

// ---- server configuration

pub const CONFIG_INSERT_IF_ABSENT: &str =
    "INSERT INTO server_config (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
pub const CONFIG_GET: &str = "SELECT value FROM server_config WHERE key = $1";

// ---- users and vaults

pub const USER_INSERT: &str = "INSERT INTO users \
     (id, email, opaque_record, keyset, credentials_version, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, 1, $5, $5)";
macro_rules! user_columns {
    () => {
        "id, email, opaque_record, keyset, credentials_version, created_at, updated_at"
    };
}
pub const USER_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
pub const USER_BY_EMAIL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");
pub const USER_CREDENTIALS_VERSION: &str = "SELECT credentials_version FROM users WHERE id = $1";
/// Compare-and-swap on `credentials_version` ($2 = expected).
pub const USER_UPDATE_CREDENTIALS: &str = "UPDATE users \
     SET opaque_record = $3, keyset = $4, credentials_version = credentials_version + 1, updated_at = $5 \
     WHERE id = $1 AND credentials_version = $2";

pub const VAULT_INSERT: &str = "INSERT INTO vaults \
     (id, user_id, kind, key_wrap, key_version, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
pub const VAULTS_FOR_USER: &str = "SELECT id, user_id, kind, key_wrap, key_version, created_at \
     FROM vaults WHERE user_id = $1 ORDER BY created_at, id";
pub const VAULT_OWNED_BY: &str = "SELECT id FROM vaults WHERE id = $1 AND user_id = $2";

// ---- login attempts

pub const LOGIN_ATTEMPT_INSERT: &str =
    "INSERT INTO login_attempts (id, user_id, email, state, expires_at) VALUES ($1, $2, $3, $4, $5)";
pub const LOGIN_ATTEMPT_TAKE: &str =
    "DELETE FROM login_attempts WHERE id = $1 RETURNING id, user_id, email, state, expires_at";
pub const LOGIN_ATTEMPT_PURGE_EXPIRED: &str = "DELETE FROM login_attempts WHERE expires_at <= $1";

// ---- sessions

macro_rules! session_columns {
    () => {
        "id, user_id, token_hash, device_name, created_at, last_seen_at, expires_at, revoked_at, \
         restriction"
    };
}
pub const SESSION_INSERT: &str = "INSERT INTO sessions \
     (id, user_id, token_hash, device_name, created_at, last_seen_at, expires_at, revoked_at, restriction) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub const SESSION_BY_TOKEN_HASH: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2"
);
pub const SESSION_TOUCH: &str = "UPDATE sessions SET last_seen_at = $2 WHERE id = $1";
/// Newest first; `id` breaks ties so the order is total.
pub const SESSIONS_LIVE_FOR_USER: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2",
    " ORDER BY created_at DESC, id DESC"
);
/// Keeps the first revocation time when revoked twice.
pub const SESSION_REVOKE: &str =
    "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $2 AND user_id = $1";
pub const SESSIONS_REVOKE_ALL: &str = "UPDATE sessions SET revoked_at = $2 \
     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2";
pub const SESSIONS_REVOKE_ALL_EXCEPT: &str = "UPDATE sessions SET revoked_at = $2 \
     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND id <> $3";

// ---- rate limits

/// A hit in a different window than the stored one starts the count again at 1. Concurrent hits
/// on one key are serialised by the upsert's row lock, so every hit is counted.
pub const RATE_LIMIT_HIT: &str = "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
     ON CONFLICT (key) DO UPDATE SET \
     count = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.count + 1 ELSE 1 END, \
     window_start = excluded.window_start \
     RETURNING count";
pub const RATE_LIMIT_COUNT: &str =
    "SELECT count FROM rate_limits WHERE key = $1 AND window_start = $2";
pub const RATE_LIMIT_CLEAR: &str = "DELETE FROM rate_limits WHERE key = $1";

// ---- objects

/// Takes the next value of the sync feed counter (same transaction as the object write). The
/// row lock it takes is held until the commit, so positions are handed out in commit order.
pub const FEED_NEXT_SEQ: &str =
    "UPDATE feed_counter SET value = value + 1 WHERE id = 1 RETURNING value";
/// PostgreSQL-specific: serialises the creates of one object id (`$1` class, `$2` key derived
/// from the id) until the commit, so that a second create of the id sees the first one's row
/// (or tombstone) and fails in the same order of checks as in SQLite. The two-key form of
/// advisory locks does not share its key space with sqlx's migration lock (one `bigint`).
pub const OBJECT_CREATE_LOCK: &str = "SELECT pg_advisory_xact_lock($1, $2)";
/// PostgreSQL-specific (`FOR UPDATE`): owner and version of an object, whoever owns it (create
/// must refuse ids taken by anyone), locking the row until the commit so that concurrent
/// updates of one object run one after the other and each sees its predecessor's version.
pub const OBJECT_OWNER_VERSION_FOR_UPDATE: &str =
    "SELECT user_id, version FROM objects WHERE id = $1 FOR UPDATE";
pub const OBJECT_INSERT: &str = "INSERT INTO objects \
     (id, user_id, vault_id, kind, version, trashed, key_wrap, overview, details, seq, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)";
/// Compare-and-swap on `version` ($11 = expected); returns the preserved `created_at`.
pub const OBJECT_UPDATE: &str = "UPDATE objects SET \
     vault_id = $3, kind = $4, version = $5, trashed = $6, key_wrap = $7, overview = $8, details = $9, \
     seq = $10, updated_at = $12 \
     WHERE id = $1 AND user_id = $2 AND version = $11 \
     RETURNING created_at";
macro_rules! object_columns {
    () => {
        "id, user_id, vault_id, kind, version, trashed, key_wrap, overview, details, seq, created_at, updated_at"
    };
}
pub const OBJECT_GET: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE id = $1 AND user_id = $2"
);
pub const OBJECTS_FOR_USER: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE user_id = $1 ORDER BY id"
);
pub const OBJECTS_FOR_USER_VAULT: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE user_id = $1 AND vault_id = $2 ORDER BY id"
);
/// PostgreSQL-specific (`FOR UPDATE`): the version of the user's object, row locked until the
/// commit (concurrent deletes and updates of one object serialise on it).
pub const OBJECT_VERSION_FOR_USER_FOR_UPDATE: &str =
    "SELECT version FROM objects WHERE id = $1 AND user_id = $2 FOR UPDATE";
/// Compare-and-swap on `version` ($3 = expected); returns the vault for the tombstone.
pub const OBJECT_DELETE: &str =
    "DELETE FROM objects WHERE id = $1 AND user_id = $2 AND version = $3 RETURNING vault_id";

// ---- tombstones

/// Whose tombstone an id has, if any (a create must not reuse another user's deleted id).
pub const TOMBSTONE_OWNER: &str = "SELECT user_id FROM tombstones WHERE id = $1";
pub const TOMBSTONE_INSERT: &str =
    "INSERT INTO tombstones (id, user_id, vault_id, seq, deleted_at) VALUES ($1, $2, $3, $4, $5)";
/// A create of a deleted id by the same user: the object supersedes its tombstone.
pub const TOMBSTONE_REMOVE: &str = "DELETE FROM tombstones WHERE id = $1 AND user_id = $2";
/// PostgreSQL-specific: removes the tombstones older than `$1` and reports how many and the
/// highest position among them, in one statement. (SQLite reads the maximum and then deletes,
/// which is safe there only because its write transaction excludes every other writer; here a
/// tombstone inserted between the two statements could be deleted without raising the floor.)
pub const TOMBSTONES_PRUNE: &str = "WITH pruned AS \
     (DELETE FROM tombstones WHERE deleted_at < $1 RETURNING seq) \
     SELECT COUNT(*) AS pruned, MAX(seq) AS max_seq FROM pruned";

// ---- change feed

/// The current (global) feed position: the last seq handed out.
pub const FEED_POSITION: &str = "SELECT value FROM feed_counter WHERE id = 1";
/// The highest pruned tombstone position; cursors below it are expired.
pub const FEED_FLOOR: &str = "SELECT value FROM feed_floor WHERE id = 1";
/// Only ever raises the floor.
pub const FEED_FLOOR_RAISE: &str = "UPDATE feed_floor SET value = $1 WHERE id = 1 AND value < $1";
/// Objects of user `$1` changed after `$2`, oldest change first, at most `$3`.
pub const FEED_OBJECTS: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
);
/// Tombstones of user `$1` after `$2`, oldest first, at most `$3`.
pub const FEED_TOMBSTONES: &str = "SELECT id, vault_id, seq FROM tombstones \
     WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

// ---- vault manifests

/// PostgreSQL-specific: locks the stored manifests of the vaults `$2` (of user `$1`) in one
/// order (by vault id) before a write that carries several of them, so that two writes naming
/// the same vaults in opposite orders (moves in both directions) queue instead of deadlocking.
pub const MANIFESTS_LOCK: &str = "SELECT vault_id FROM vault_manifests \
     WHERE user_id = $1 AND vault_id = ANY($2) ORDER BY vault_id FOR UPDATE";
/// The first manifest of a vault (counter 1); does nothing if the vault already has one (waiting
/// for a concurrent first insert to commit or roll back).
pub const MANIFEST_INSERT_FIRST: &str = "INSERT INTO vault_manifests \
     (vault_id, user_id, counter, blob, updated_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (vault_id) DO NOTHING";
/// Compare-and-swap on `counter`: stores counter `$3` only over counter `$3 - 1`. At READ
/// COMMITTED an update that waited on a concurrent one re-checks the condition on the newest row.
pub const MANIFEST_UPDATE: &str =
    "UPDATE vault_manifests SET counter = $3, blob = $4, updated_at = $5 \
     WHERE vault_id = $1 AND user_id = $2 AND counter = $3 - 1";
pub const MANIFEST_COUNTER: &str =
    "SELECT counter FROM vault_manifests WHERE vault_id = $1 AND user_id = $2";
pub const MANIFESTS_FOR_USER: &str = "SELECT vault_id, user_id, counter, blob, updated_at \
     FROM vault_manifests WHERE user_id = $1 ORDER BY vault_id";
