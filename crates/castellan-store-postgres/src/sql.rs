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

// ---- access: the one place that decides who may read and write which vault

/// Ids of the shares user `$u` can read at `$now`, with an extra condition `$roles` on the
/// entries that grant access (empty for reading). Owners (a user entry with role owner) always;
/// other principals directly or through a group that lists them (and a membership of the
/// share's company) once they accepted, while the share has not expired.
macro_rules! share_access {
    ($u:literal, $now:literal, $roles:literal) => {
        concat!(
            "SELECT oe.share_id FROM share_entries oe WHERE oe.principal_kind = 'user' \
             AND oe.principal_id = ",
            $u,
            " AND oe.role = 'owner' \
             UNION SELECT s.id FROM shares s JOIN share_states st ON st.share_id = s.id \
             AND st.user_id = ",
            $u,
            " AND st.state = 'accepted' \
             WHERE (s.expires_at IS NULL OR s.expires_at > ",
            $now,
            ") AND (\
             EXISTS (SELECT 1 FROM share_entries e WHERE e.share_id = s.id \
             AND e.principal_kind = 'user' AND e.principal_id = ",
            $u,
            $roles,
            ") \
             OR EXISTS (SELECT 1 FROM share_entries e JOIN group_members gm \
             ON gm.group_id = e.principal_id AND gm.user_id = ",
            $u,
            " \
             JOIN members m ON m.user_id = gm.user_id AND m.company_id = s.company_id \
             WHERE e.share_id = s.id AND e.principal_kind = 'group'",
            $roles,
            "))"
        )
    };
}
macro_rules! readable_shares {
    ($u:literal, $now:literal) => {
        share_access!($u, $now, "")
    };
}
macro_rules! writable_shares {
    ($u:literal, $now:literal) => {
        share_access!($u, $now, " AND e.role IN ('owner', 'editor')")
    };
}

/// Vault `$2` if user `$1` can read it at `$3`, with its owner (NULL for a share).
pub const VAULT_READABLE: &str = concat!(
    "SELECT v.user_id FROM vaults v WHERE v.id = $2 AND (v.user_id = $1 OR v.id IN (",
    readable_shares!("$1", "$3"),
    "))"
);
/// Vault `$2` if user `$1` can write it at `$3`, with its owner (NULL for a share).
pub const VAULT_WRITABLE: &str = concat!(
    "SELECT v.user_id FROM vaults v WHERE v.id = $2 AND (v.user_id = $1 OR v.id IN (",
    writable_shares!("$1", "$3"),
    "))"
);
/// PostgreSQL-specific: queues the change hint `'<user_id>:<seq $3>'` on channel `$1` for the
/// owner of vault `$2`, or for every principal of the share `$2`.
pub const NOTIFY_VAULT: &str = "SELECT pg_notify($1, x.user_id::text || ':' || $3::bigint) FROM \
     (SELECT user_id FROM vaults WHERE id = $2 AND user_id IS NOT NULL \
     UNION SELECT e.principal_id FROM share_entries e \
     WHERE e.share_id = $2 AND e.principal_kind = 'user' \
     UNION SELECT gm.user_id FROM share_entries e JOIN shares s ON s.id = e.share_id \
     JOIN group_members gm ON gm.group_id = e.principal_id \
     JOIN members m ON m.user_id = gm.user_id AND m.company_id = s.company_id \
     WHERE e.share_id = $2 AND e.principal_kind = 'group') AS x";
/// Users who are principals of share `$1` now (owners, user entries, members of group entries
/// who are members of the share's company), whatever their state.
pub const SHARE_AUDIENCE: &str = "SELECT e.principal_id AS user_id FROM share_entries e \
     WHERE e.share_id = $1 AND e.principal_kind = 'user' \
     UNION SELECT gm.user_id FROM share_entries e JOIN shares s ON s.id = e.share_id \
     JOIN group_members gm ON gm.group_id = e.principal_id \
     JOIN members m ON m.user_id = gm.user_id AND m.company_id = s.company_id \
     WHERE e.share_id = $1 AND e.principal_kind = 'group' ORDER BY user_id";

// ---- objects

/// Takes the next value of the sync feed counter (same transaction as the object write).
pub const FEED_NEXT_SEQ: &str =
    "UPDATE feed_counter SET value = value + 1 WHERE id = 1 RETURNING value";
/// Vault and version of an object, whoever can reach it (create must refuse ids taken by
/// anyone).
/// PostgreSQL-specific (`FOR UPDATE`): the row is locked until the commit, so concurrent writes
/// of one object run one after the other and each sees its predecessor's version.
pub const OBJECT_VAULT_VERSION: &str =
    "SELECT vault_id, version FROM objects WHERE id = $1 FOR UPDATE";
/// PostgreSQL-specific: serialises the creates of one object id (`$1` class, `$2` key derived
/// from the id) until the commit, so that a second create of the id sees the first one's row
/// (or tombstone) and fails in the same order of checks as in SQLite. The two-key form of
/// advisory locks does not share its key space with sqlx's migration lock (one `bigint`).
pub const OBJECT_CREATE_LOCK: &str = "SELECT pg_advisory_xact_lock($1, $2)";
/// PostgreSQL-specific: a write into share `$1` holds its row in share mode until the commit,
/// so an ACL change, rotation or deletion (which lock it for update) never interleaves with it.
pub const SHARE_LOCK_SHARED: &str = "SELECT id FROM shares WHERE id = $1 FOR SHARE";
pub const SHARE_LOCK: &str = "SELECT id FROM shares WHERE id = $1 FOR UPDATE";
/// `$2` = the vault's owner (NULL in a share), `$12` = the author (NULL in an own vault).
pub const OBJECT_INSERT: &str = "INSERT INTO objects \
     (id, user_id, vault_id, kind, version, trashed, key_wrap, overview, details, seq, created_at, updated_at, author_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)";
/// Compare-and-swap on `version` ($11 = expected); returns the preserved `created_at`.
/// `$2` = the target vault's owner, `$13` = the author (as in `OBJECT_INSERT`).
pub const OBJECT_UPDATE: &str = "UPDATE objects SET \
     user_id = $2, vault_id = $3, kind = $4, version = $5, trashed = $6, key_wrap = $7, overview = $8, \
     details = $9, seq = $10, updated_at = $12, author_id = $13 \
     WHERE id = $1 AND version = $11 \
     RETURNING created_at";
macro_rules! object_columns {
    () => {
        "id, user_id, vault_id, kind, version, trashed, key_wrap, overview, details, seq, \
         created_at, updated_at, author_id"
    };
}
/// Object `$1` if user `$2` can read its vault at `$3`.
pub const OBJECT_GET: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE id = $1 AND (user_id = $2 OR vault_id IN (",
    readable_shares!("$2", "$3"),
    "))"
);
/// Objects of every vault user `$1` can read at `$2`.
pub const OBJECTS_FOR_USER: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE user_id = $1 OR vault_id IN (",
    readable_shares!("$1", "$2"),
    ") ORDER BY id"
);
/// Objects of vault `$3` if user `$1` can read it at `$2`.
pub const OBJECTS_FOR_USER_VAULT: &str = concat!(
    "SELECT ",
    object_columns!(),
    " FROM objects WHERE vault_id = $3 AND (user_id = $1 OR vault_id IN (",
    readable_shares!("$1", "$2"),
    ")) ORDER BY id"
);
/// Objects of share `$1` (for rotation and deletion).
pub const OBJECTS_OF_VAULT: &str =
    "SELECT id, version FROM objects WHERE vault_id = $1 ORDER BY id";
/// Compare-and-swap on `version` ($2 = expected); returns what the tombstone keeps.
pub const OBJECT_DELETE: &str =
    "DELETE FROM objects WHERE id = $1 AND version = $2 RETURNING vault_id, user_id";
/// Re-wrap of a share's object under a new share key (rotation): version `$3` over `$2`.
pub const OBJECT_REWRAP: &str = "UPDATE objects SET version = $3, key_wrap = $4, overview = $5, \
     details = $6, seq = $7, updated_at = $8 WHERE id = $1 AND version = $2 AND vault_id = $9";

// ---- tombstones

/// Whose tombstone an id has, if any (a create must not reuse an id deleted from a vault the
/// writer cannot write).
pub const TOMBSTONE_OWNER: &str = "SELECT user_id, vault_id FROM tombstones WHERE id = $1";
/// Inserts, or replaces an older tombstone of the id (an object that left a share earlier).
pub const TOMBSTONE_INSERT: &str =
    "INSERT INTO tombstones (id, user_id, vault_id, seq, deleted_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, vault_id = excluded.vault_id, \
     seq = excluded.seq, deleted_at = excluded.deleted_at";
/// A create of a deleted id by a writer of its vault: the object supersedes its tombstone.
pub const TOMBSTONE_REMOVE: &str = "DELETE FROM tombstones WHERE id = $1";
/// The position of the newest tombstone older than `$1` (NULL when there is none).
/// PostgreSQL-specific: removes the tombstones older than `$1` and reports how many and the
/// highest position among them, in one statement. (SQLite reads the maximum and then deletes,
/// which is safe there only because its write transaction excludes every other writer; here a
/// tombstone inserted between the two statements could be deleted without raising the floor.)
pub const TOMBSTONES_PRUNE: &str = "WITH pruned AS \
     (DELETE FROM tombstones WHERE deleted_at < $1 RETURNING seq) \
     SELECT COUNT(*) AS pruned, MAX(seq) AS max_seq FROM pruned";
pub const DELETED_SHARE_READERS_PRUNE: &str =
    "DELETE FROM deleted_share_readers WHERE deleted_at < $1";

// ---- change feed

/// The current (global) feed position: the last seq handed out.
pub const FEED_POSITION: &str = "SELECT value FROM feed_counter WHERE id = 1";
/// The highest pruned tombstone position; cursors below it are expired.
pub const FEED_FLOOR: &str = "SELECT value FROM feed_floor WHERE id = 1";
/// Only ever raises the floor.
pub const FEED_FLOOR_RAISE: &str = "UPDATE feed_floor SET value = $1 WHERE id = 1 AND value < $1";
/// Objects user `$1` can read (at `$4`) changed after `$2`, oldest change first, at most `$3`:
/// those of the user's own vaults and those of readable shares, each side by its index.
pub const FEED_OBJECTS: &str = concat!(
    "SELECT * FROM (SELECT ",
    object_columns!(),
    " FROM objects WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) AS own \
     UNION ALL SELECT * FROM (SELECT ",
    object_columns!(),
    " FROM objects WHERE vault_id IN (",
    readable_shares!("$1", "$4"),
    ") AND seq > $2 ORDER BY seq LIMIT $3) AS shared ORDER BY seq LIMIT $3"
);
/// Tombstones in the feed of user `$1` (at `$4`) after `$2`, oldest first, at most `$3`: of own
/// vaults, of readable shares and of shares deleted while the user could read them; not those
/// of objects the user can still read elsewhere (they moved).
pub const FEED_TOMBSTONES: &str = concat!(
    "SELECT t.id, t.vault_id, t.seq FROM tombstones t WHERE t.seq > $2 AND (t.user_id = $1 \
     OR t.vault_id IN (",
    readable_shares!("$1", "$4"),
    ") OR t.vault_id IN (SELECT d.share_id FROM deleted_share_readers d WHERE d.user_id = $1)) \
     AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.id = t.id AND (o.user_id = $1 OR o.vault_id IN (",
    readable_shares!("$1", "$4"),
    "))) ORDER BY t.seq LIMIT $3"
);

// ---- vault manifests

/// PostgreSQL-specific: locks the stored manifests of the vaults `$1` in one order (by vault id)
/// before a write that carries several of them, so that two writes naming the same vaults in
/// opposite orders (moves in both directions) queue instead of deadlocking.
pub const MANIFESTS_LOCK: &str = "SELECT vault_id FROM vault_manifests \
     WHERE vault_id = ANY($1) ORDER BY vault_id FOR UPDATE";
/// The first manifest of vault `$1` (counter 1, owner copied from the vault); does nothing if the
/// vault already has one.
pub const MANIFEST_INSERT_FIRST: &str = "INSERT INTO vault_manifests \
     (vault_id, user_id, counter, blob, updated_at) \
     SELECT id, user_id, $2, $3, $4 FROM vaults WHERE id = $1 \
     ON CONFLICT (vault_id) DO NOTHING";
/// Compare-and-swap on `counter`: stores counter `$2` only over counter `$2 - 1`.
pub const MANIFEST_UPDATE: &str =
    "UPDATE vault_manifests SET counter = $2, blob = $3, updated_at = $4 \
     WHERE vault_id = $1 AND counter = $2 - 1";
pub const MANIFEST_COUNTER: &str = "SELECT counter FROM vault_manifests WHERE vault_id = $1";
macro_rules! manifest_columns {
    () => {
        "vault_id, user_id, counter, blob, updated_at"
    };
}
/// Manifests of every vault user `$1` can read at `$2`.
pub const MANIFESTS_FOR_USER: &str = concat!(
    "SELECT ",
    manifest_columns!(),
    " FROM vault_manifests WHERE user_id = $1 OR vault_id IN (",
    readable_shares!("$1", "$2"),
    ") ORDER BY vault_id"
);
pub const MANIFEST_OF_VAULT: &str = concat!(
    "SELECT ",
    manifest_columns!(),
    " FROM vault_manifests WHERE vault_id = $1"
);
