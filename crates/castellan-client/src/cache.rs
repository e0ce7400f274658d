//! The offline cache: a SQLite file in the device's home holding the server's ciphertext as last
//! synced, the queue of changes not yet on the server, and sync bookkeeping. Never plaintext,
//! never a key. Shared by the CLI and the agent (WAL, busy timeout).

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use castellan_types::{Bytes, ObjectDto, ObjectKindDto};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;
use uuid::Uuid;

use crate::{ClientError, ClientResult};

pub const CACHE_FILE: &str = "cache.sqlite3";

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS objects (
        id TEXT PRIMARY KEY, vault_id TEXT NOT NULL, kind TEXT NOT NULL, version INTEGER NOT NULL,
        trashed INTEGER NOT NULL, key_wrap BLOB NOT NULL, overview BLOB NOT NULL, details BLOB NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, seq INTEGER NOT NULL, element BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS objects_vault ON objects(vault_id)",
    "CREATE TABLE IF NOT EXISTS pending (
        op INTEGER PRIMARY KEY AUTOINCREMENT, object_id TEXT NOT NULL UNIQUE, base TEXT, target TEXT,
        state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    // Shares this device can read: the verified state and the share key wrapped under the
    // account key (JSON of `share::StoredShare`), so share objects open offline too.
    "CREATE TABLE IF NOT EXISTS shares (id TEXT PRIMARY KEY, data TEXT NOT NULL)",
];

/// A change made on this device that the server has not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOp {
    pub op: i64,
    pub object_id: Uuid,
    /// The server state the change started from (`None`: a new object).
    pub base: Option<ObjectDto>,
    /// The new state (`None`: delete for good).
    pub target: Option<ObjectDto>,
    pub state: PendingState,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// `Pending`: waiting or being sent (yellow). `Failed`: the last attempt could not reach the
/// server or was refused (red); retried at the next sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingState {
    Pending,
    Failed,
}

impl PendingState {
    fn as_str(self) -> &'static str {
        match self {
            PendingState::Pending => "pending",
            PendingState::Failed => "failed",
        }
    }
}

/// The last verified manifest of a vault, and the set hash of the synced objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultSyncState {
    /// Highest manifest counter accepted (never goes down).
    pub counter: i64,
    /// The signed manifest blob as received (or as we wrote it).
    pub manifest: Option<Bytes>,
    /// Count and set hash of the synced objects of the vault, kept incrementally.
    pub count: i64,
    pub set_hash: Bytes,
}

#[derive(Clone)]
pub struct Cache {
    pool: SqlitePool,
}

fn db_err(e: sqlx::Error) -> ClientError {
    ClientError::CorruptState {
        path: CACHE_FILE.into(),
        detail: e.to_string(),
    }
}

fn kind_str(k: ObjectKindDto) -> &'static str {
    match k {
        ObjectKindDto::Item => "item",
        ObjectKindDto::Folder => "folder",
    }
}

fn row_to_object(r: &sqlx::sqlite::SqliteRow) -> ClientResult<ObjectDto> {
    let parse_id = |s: String| {
        Uuid::parse_str(&s).map_err(|e| ClientError::CorruptState {
            path: CACHE_FILE.into(),
            detail: e.to_string(),
        })
    };
    Ok(ObjectDto {
        id: parse_id(r.try_get("id").map_err(db_err)?)?,
        vault_id: parse_id(r.try_get("vault_id").map_err(db_err)?)?,
        kind: match r.try_get::<String, _>("kind").map_err(db_err)?.as_str() {
            "folder" => ObjectKindDto::Folder,
            _ => ObjectKindDto::Item,
        },
        version: r.try_get("version").map_err(db_err)?,
        trashed: r.try_get::<i64, _>("trashed").map_err(db_err)? != 0,
        key_wrap: Bytes(r.try_get("key_wrap").map_err(db_err)?),
        overview: Bytes(r.try_get("overview").map_err(db_err)?),
        details: Bytes(r.try_get("details").map_err(db_err)?),
        created_at: r.try_get("created_at").map_err(db_err)?,
        updated_at: r.try_get("updated_at").map_err(db_err)?,
        seq: r.try_get("seq").map_err(db_err)?,
        author_id: r
            .try_get::<Option<String>, _>("author_id")
            .map_err(db_err)?
            .map(parse_id)
            .transpose()?,
    })
}

/// A transaction on the cache: sync applies a whole pull in one, so a refused (tampered) pull
/// leaves the cache as it was.
pub struct CacheTx<'a> {
    tx: sqlx::Transaction<'a, sqlx::Sqlite>,
}

impl Cache {
    pub async fn open(home: &Path) -> ClientResult<Cache> {
        let path = home.join(CACHE_FILE);
        let existed = path.exists();
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(db_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(opts)
            .await
            .map_err(|e| ClientError::CorruptState {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?;
        #[cfg(unix)]
        {
            // Private to the user, whether just created or found with looser permissions.
            use std::os::unix::fs::PermissionsExt;
            let _ = existed;
            for f in [
                path.clone(),
                home.join("cache.sqlite3-wal"),
                home.join("cache.sqlite3-shm"),
            ] {
                if f.exists() {
                    let _ = std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600));
                }
            }
        }
        for stmt in SCHEMA {
            sqlx::query(stmt)
                .execute(&pool)
                .await
                .map_err(|e| ClientError::CorruptState {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                })?;
        }
        // Objects of shares carry their author (caches made before sharing lack the column).
        let has_author =
            sqlx::query("SELECT 1 FROM pragma_table_info('objects') WHERE name = 'author_id'")
                .fetch_optional(&pool)
                .await
                .map_err(db_err)?
                .is_some();
        if !has_author {
            sqlx::query("ALTER TABLE objects ADD COLUMN author_id TEXT")
                .execute(&pool)
                .await
                .map_err(db_err)?;
        }
        Ok(Cache { pool })
    }

    pub async fn begin(&self) -> ClientResult<CacheTx<'static>> {
        Ok(CacheTx {
            tx: self.pool.begin().await.map_err(db_err)?,
        })
    }

    pub async fn objects(&self) -> ClientResult<Vec<ObjectDto>> {
        let rows = sqlx::query("SELECT * FROM objects ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(row_to_object).collect()
    }

    pub async fn object(&self, id: Uuid) -> ClientResult<Option<ObjectDto>> {
        let row = sqlx::query("SELECT * FROM objects WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(row_to_object).transpose()
    }

    pub async fn element(&self, id: Uuid) -> ClientResult<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT element FROM objects WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get::<Vec<u8>, _>("element").map_err(db_err))
            .transpose()
    }

    pub async fn pending(&self) -> ClientResult<Vec<PendingOp>> {
        let rows = sqlx::query("SELECT * FROM pending ORDER BY op")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let json = |col: &str| -> ClientResult<Option<ObjectDto>> {
                    let v: Option<String> = r.try_get(col).map_err(db_err)?;
                    v.map(|s| {
                        serde_json::from_str(&s).map_err(|e| ClientError::CorruptState {
                            path: CACHE_FILE.into(),
                            detail: e.to_string(),
                        })
                    })
                    .transpose()
                };
                Ok(PendingOp {
                    op: r.try_get("op").map_err(db_err)?,
                    object_id: Uuid::parse_str(
                        &r.try_get::<String, _>("object_id").map_err(db_err)?,
                    )
                    .map_err(|e| ClientError::CorruptState {
                        path: CACHE_FILE.into(),
                        detail: e.to_string(),
                    })?,
                    base: json("base")?,
                    target: json("target")?,
                    state: if r.try_get::<String, _>("state").map_err(db_err)? == "failed" {
                        PendingState::Failed
                    } else {
                        PendingState::Pending
                    },
                    attempts: r.try_get("attempts").map_err(db_err)?,
                    last_error: r.try_get("last_error").map_err(db_err)?,
                })
            })
            .collect()
    }

    /// Queues a change. A later change of the same object replaces the queued target but keeps
    /// the original base, so the server sees one change from the state it knows.
    pub async fn enqueue(
        &self,
        object_id: Uuid,
        base: Option<&ObjectDto>,
        target: Option<&ObjectDto>,
        now: i64,
    ) -> ClientResult<()> {
        let existing = sqlx::query("SELECT base FROM pending WHERE object_id = $1")
            .bind(object_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        let target_json = target.map(|t| serde_json::to_string(t).unwrap_or_default());
        match existing {
            Some(row) => {
                let had_base: Option<String> = row.try_get("base").map_err(db_err)?;
                if target.is_none() && had_base.is_none() {
                    // Created and deleted before the server ever saw it: nothing to send.
                    sqlx::query("DELETE FROM pending WHERE object_id = $1")
                        .bind(object_id.to_string())
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                } else {
                    sqlx::query("UPDATE pending SET target = $2, state = 'pending', updated_at = $3 WHERE object_id = $1")
                        .bind(object_id.to_string())
                        .bind(target_json)
                        .bind(now)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                }
            }
            None => {
                let base_json = base.map(|b| serde_json::to_string(b).unwrap_or_default());
                sqlx::query("INSERT INTO pending (object_id, base, target, state, created_at, updated_at) VALUES ($1, $2, $3, 'pending', $4, $4)")
                    .bind(object_id.to_string())
                    .bind(base_json)
                    .bind(target_json)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
            }
        }
        Ok(())
    }

    pub async fn mark_pending(
        &self,
        state: PendingState,
        error: Option<&str>,
        now: i64,
    ) -> ClientResult<()> {
        sqlx::query("UPDATE pending SET state = $1, last_error = $2, attempts = attempts + 1, updated_at = $3")
            .bind(state.as_str())
            .bind(error)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn set_all_pending(&self) -> ClientResult<()> {
        sqlx::query("UPDATE pending SET state = 'pending'")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn mark_op(
        &self,
        op: i64,
        state: PendingState,
        error: Option<&str>,
        now: i64,
    ) -> ClientResult<()> {
        sqlx::query("UPDATE pending SET state = $2, last_error = $3, attempts = attempts + 1, updated_at = $4 WHERE op = $1")
            .bind(op)
            .bind(state.as_str())
            .bind(error)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Replaces a queued op's base (after a merge against a newer server state).
    pub async fn rebase_op(
        &self,
        op: i64,
        base: Option<&ObjectDto>,
        target: Option<&ObjectDto>,
    ) -> ClientResult<()> {
        sqlx::query("UPDATE pending SET base = $2, target = $3 WHERE op = $1")
            .bind(op)
            .bind(base.map(|b| serde_json::to_string(b).unwrap_or_default()))
            .bind(target.map(|t| serde_json::to_string(t).unwrap_or_default()))
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn meta(&self, key: &str) -> ClientResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get::<String, _>("value").map_err(db_err))
            .transpose()
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> ClientResult<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn vault_state(&self, vault_id: Uuid) -> ClientResult<VaultSyncState> {
        match self.meta(&format!("vault:{vault_id}")).await? {
            Some(s) => serde_json::from_str(&s).map_err(|e| ClientError::CorruptState {
                path: CACHE_FILE.into(),
                detail: e.to_string(),
            }),
            None => Ok(VaultSyncState::default()),
        }
    }

    pub async fn seen(&self, id: Uuid) -> ClientResult<Option<i64>> {
        let row = sqlx::query("SELECT version FROM seen WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get::<i64, _>("version").map_err(db_err))
            .transpose()
    }

    pub async fn all_seen(&self) -> ClientResult<std::collections::BTreeMap<Uuid, i64>> {
        let rows = sqlx::query("SELECT id, version FROM seen")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut m = std::collections::BTreeMap::new();
        for r in rows {
            if let Ok(id) = Uuid::parse_str(&r.try_get::<String, _>("id").map_err(db_err)?) {
                m.insert(id, r.try_get("version").map_err(db_err)?);
            }
        }
        Ok(m)
    }

    /// The stored shares as (id, JSON of `share::StoredShare`).
    pub async fn shares(&self) -> ClientResult<Vec<(Uuid, String)>> {
        let rows = sqlx::query("SELECT id, data FROM shares ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id =
                Uuid::parse_str(&r.try_get::<String, _>("id").map_err(db_err)?).map_err(|e| {
                    ClientError::CorruptState {
                        path: CACHE_FILE.into(),
                        detail: e.to_string(),
                    }
                })?;
            out.push((id, r.try_get::<String, _>("data").map_err(db_err)?));
        }
        Ok(out)
    }

    /// Objects of one vault (a share), as synced.
    pub async fn vault_objects(&self, vault_id: Uuid) -> ClientResult<Vec<ObjectDto>> {
        let rows = sqlx::query("SELECT * FROM objects WHERE vault_id = $1 ORDER BY id")
            .bind(vault_id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(row_to_object).collect()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl CacheTx<'_> {
    pub async fn put_object(&mut self, o: &ObjectDto, element: &[u8]) -> ClientResult<()> {
        sqlx::query(
            "INSERT INTO objects (id, vault_id, kind, version, trashed, key_wrap, overview, details, created_at, updated_at, seq, element, author_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT(id) DO UPDATE SET vault_id = excluded.vault_id, kind = excluded.kind, version = excluded.version,
               trashed = excluded.trashed, key_wrap = excluded.key_wrap, overview = excluded.overview, details = excluded.details,
               created_at = excluded.created_at, updated_at = excluded.updated_at, seq = excluded.seq, element = excluded.element,
               author_id = excluded.author_id",
        )
        .bind(o.id.to_string())
        .bind(o.vault_id.to_string())
        .bind(kind_str(o.kind))
        .bind(o.version)
        .bind(o.trashed as i64)
        .bind(o.key_wrap.as_slice())
        .bind(o.overview.as_slice())
        .bind(o.details.as_slice())
        .bind(o.created_at)
        .bind(o.updated_at)
        .bind(o.seq)
        .bind(element)
        .bind(o.author_id.map(|a| a.to_string()))
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        sqlx::query("INSERT INTO seen (id, version) VALUES ($1, $2) ON CONFLICT(id) DO UPDATE SET version = MAX(version, excluded.version)")
            .bind(o.id.to_string())
            .bind(o.version)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Stores a page of objects (as received) with their set elements, in a few statements.
    pub async fn put_objects(&mut self, objs: &[(&ObjectDto, [u8; 32])]) -> ClientResult<()> {
        for chunk in objs.chunks(500) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO objects (id, vault_id, kind, version, trashed, key_wrap, overview, details, created_at, updated_at, seq, element, author_id) ",
            );
            q.push_values(chunk, |mut b, (o, el)| {
                b.push_bind(o.id.to_string())
                    .push_bind(o.vault_id.to_string())
                    .push_bind(kind_str(o.kind))
                    .push_bind(o.version)
                    .push_bind(o.trashed as i64)
                    .push_bind(o.key_wrap.as_slice().to_vec())
                    .push_bind(o.overview.as_slice().to_vec())
                    .push_bind(o.details.as_slice().to_vec())
                    .push_bind(o.created_at)
                    .push_bind(o.updated_at)
                    .push_bind(o.seq)
                    .push_bind(el.to_vec())
                    .push_bind(o.author_id.map(|a| a.to_string()));
            });
            q.push(
                " ON CONFLICT(id) DO UPDATE SET vault_id = excluded.vault_id, kind = excluded.kind, version = excluded.version,
                  trashed = excluded.trashed, key_wrap = excluded.key_wrap, overview = excluded.overview, details = excluded.details,
                  created_at = excluded.created_at, updated_at = excluded.updated_at, seq = excluded.seq, element = excluded.element,
                  author_id = excluded.author_id",
            );
            q.build().execute(&mut *self.tx).await.map_err(db_err)?;
            let mut s = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO seen (id, version) ");
            s.push_values(chunk, |mut b, (o, _)| {
                b.push_bind(o.id.to_string()).push_bind(o.version);
            });
            s.push(" ON CONFLICT(id) DO UPDATE SET version = MAX(version, excluded.version)");
            s.build().execute(&mut *self.tx).await.map_err(db_err)?;
        }
        Ok(())
    }

    /// The stored (vault, element) of an object, for updating the set hash.
    pub async fn object_entry(&mut self, id: Uuid) -> ClientResult<Option<(Uuid, i64, Vec<u8>)>> {
        let row = sqlx::query("SELECT vault_id, version, element FROM objects WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_err)?;
        match row {
            None => Ok(None),
            Some(r) => {
                let v = Uuid::parse_str(&r.try_get::<String, _>("vault_id").map_err(db_err)?)
                    .map_err(|e| ClientError::CorruptState {
                        path: CACHE_FILE.into(),
                        detail: e.to_string(),
                    })?;
                Ok(Some((
                    v,
                    r.try_get("version").map_err(db_err)?,
                    r.try_get("element").map_err(db_err)?,
                )))
            }
        }
    }

    /// Every cached object's (vault, element), and every high-water mark: loaded once per pull.
    pub async fn entries(
        &mut self,
    ) -> ClientResult<(HashMap<Uuid, (Uuid, Vec<u8>)>, HashMap<Uuid, i64>)> {
        let bad = |e: uuid::Error| ClientError::CorruptState {
            path: CACHE_FILE.into(),
            detail: e.to_string(),
        };
        let mut objects = HashMap::new();
        for r in sqlx::query("SELECT id, vault_id, element FROM objects")
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_err)?
        {
            let id =
                Uuid::parse_str(&r.try_get::<String, _>("id").map_err(db_err)?).map_err(bad)?;
            let v = Uuid::parse_str(&r.try_get::<String, _>("vault_id").map_err(db_err)?)
                .map_err(bad)?;
            objects.insert(id, (v, r.try_get::<Vec<u8>, _>("element").map_err(db_err)?));
        }
        let mut seen = HashMap::new();
        for r in sqlx::query("SELECT id, version FROM seen")
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_err)?
        {
            let id =
                Uuid::parse_str(&r.try_get::<String, _>("id").map_err(db_err)?).map_err(bad)?;
            seen.insert(id, r.try_get::<i64, _>("version").map_err(db_err)?);
        }
        Ok((objects, seen))
    }

    pub async fn ids(&mut self) -> ClientResult<Vec<Uuid>> {
        let rows = sqlx::query("SELECT id FROM objects")
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>("id").ok())
            .filter_map(|s| Uuid::parse_str(&s).ok())
            .collect())
    }

    pub async fn delete_object(&mut self, id: Uuid) -> ClientResult<()> {
        sqlx::query("DELETE FROM objects WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn seen(&mut self, id: Uuid) -> ClientResult<Option<i64>> {
        let row = sqlx::query("SELECT version FROM seen WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get::<i64, _>("version").map_err(db_err))
            .transpose()
    }

    pub async fn vault_state(&mut self, vault_id: Uuid) -> ClientResult<VaultSyncState> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(format!("vault:{vault_id}"))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => serde_json::from_str(&r.try_get::<String, _>("value").map_err(db_err)?)
                .map_err(|e| ClientError::CorruptState {
                    path: CACHE_FILE.into(),
                    detail: e.to_string(),
                }),
            None => Ok(VaultSyncState::default()),
        }
    }

    pub async fn set_vault_state(
        &mut self,
        vault_id: Uuid,
        s: &VaultSyncState,
    ) -> ClientResult<()> {
        self.set_meta(
            &format!("vault:{vault_id}"),
            &serde_json::to_string(s).unwrap_or_default(),
        )
        .await
    }

    pub async fn set_meta(&mut self, key: &str, value: &str) -> ClientResult<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn put_share(&mut self, id: Uuid, data: &str) -> ClientResult<()> {
        sqlx::query("INSERT INTO shares (id, data) VALUES ($1, $2) ON CONFLICT(id) DO UPDATE SET data = excluded.data")
            .bind(id.to_string())
            .bind(data)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Forgets a share on this device: its stored state, its objects, its manifest state and
    /// any change queued for it.
    pub async fn drop_share(&mut self, id: Uuid) -> ClientResult<()> {
        for q in [
            "DELETE FROM shares WHERE id = $1",
            "DELETE FROM objects WHERE vault_id = $1",
        ] {
            sqlx::query(q)
                .bind(id.to_string())
                .execute(&mut *self.tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query("DELETE FROM meta WHERE key = $1")
            .bind(format!("vault:{id}"))
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        sqlx::query("DELETE FROM pending WHERE json_extract(target, '$.vault_id') = $1 OR (target IS NULL AND json_extract(base, '$.vault_id') = $1)")
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Objects of one vault (ids and elements).
    pub async fn vault_entries(&mut self, vault_id: Uuid) -> ClientResult<Vec<(Uuid, Vec<u8>)>> {
        let rows = sqlx::query("SELECT id, element FROM objects WHERE vault_id = $1")
            .bind(vault_id.to_string())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id =
                Uuid::parse_str(&r.try_get::<String, _>("id").map_err(db_err)?).map_err(|e| {
                    ClientError::CorruptState {
                        path: CACHE_FILE.into(),
                        detail: e.to_string(),
                    }
                })?;
            out.push((id, r.try_get::<Vec<u8>, _>("element").map_err(db_err)?));
        }
        Ok(out)
    }

    pub async fn remove_op(&mut self, op: i64) -> ClientResult<()> {
        sqlx::query("DELETE FROM pending WHERE op = $1")
            .bind(op)
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn commit(self) -> ClientResult<()> {
        self.tx.commit().await.map_err(db_err)
    }
}
