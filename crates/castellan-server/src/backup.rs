//! `castellan server backup` and `castellan server restore`: online backups of a SQLite
//! deployment. (A PostgreSQL deployment is backed up with PostgreSQL's own tools, `pg_dump` and
//! `pg_restore`; see `docs/operations.md`.)
//!
//! - [`backup`] writes a consistent copy of the live database to a new file with
//!   [`castellan_store_sqlite::SqliteStore::backup_to`] (`VACUUM INTO`, one read transaction:
//!   safe while the server runs and writes), mode 0600, and then checks the copy
//!   (`PRAGMA quick_check`, and that it is a Castellan database).
//! - [`restore`] puts a backup file in place of a deployment's database: it checks the file
//!   first (a Castellan SQLite database, intact, of a schema this build can open), copies it to
//!   a temporary file in the database's directory, flushes it to disk, removes the old
//!   database's `-wal`, `-shm` and `-journal` files, and renames the copy over the database (an
//!   atomic replacement: a crash leaves the old database or the new one, never a mix). It must
//!   not run while a server uses the database: a server that has it open would keep writing to
//!   the replaced file. Nothing here can detect such a server reliably; the documentation says
//!   to stop it first.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sqlx::{Connection, SqliteConnection};

use crate::migrate::{open_sqlite_read_only, sqlite_castellan_versions};
use crate::{backend_for, prepare_data_dir, Backend, SQLITE_FILE};

/// Why a backup or a restore did not happen. Nothing was changed (a backup file that could not
/// be completed is removed).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database URL is not a SQLite file (PostgreSQL has its own tools) or is malformed.
    #[error("{0}")]
    Unsupported(String),
    /// The backup file exists already (a backup never overwrites a file).
    #[error("the backup file {0} already exists: choose a new file name (a backup never overwrites a file)")]
    BackupExists(String),
    /// There is a database where a restore would put the backup, and `force` was not given.
    #[error(
        "a database already exists at {0}: stop the server, then pass --force to replace it with \
         the backup"
    )]
    DatabaseExists(String),
    /// The file given as a backup is not a usable Castellan SQLite database.
    #[error("{path} is not a usable Castellan backup: {reason}")]
    NotABackup { path: String, reason: String },
    /// The database to back up is missing or not a Castellan database.
    #[error("cannot back up {path}: {reason}")]
    Database { path: String, reason: String },
    #[error("{0}")]
    Io(String),
}

/// What [`backup`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// The database that was backed up.
    pub database: PathBuf,
    /// The backup file.
    pub backup: PathBuf,
    pub bytes: u64,
    pub schema_version: i64,
    /// Accounts and vault objects in the backup.
    pub users: u64,
    pub objects: u64,
}

/// What [`restore`] put in place.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub backup: PathBuf,
    /// The database file that now holds the backup.
    pub database: PathBuf,
    /// Whether a database was there before (and was replaced).
    pub replaced: bool,
    pub bytes: u64,
    pub schema_version: i64,
    pub users: u64,
    pub objects: u64,
}

/// The database file of a SQLite deployment: `database_url` (`sqlite://PATH`) when given, else
/// `<data_dir>/castellan.sqlite3`. The boolean tells whether it is the data directory's.
fn sqlite_file(
    data_dir: &Path,
    database_url: Option<&str>,
    verb: &str,
) -> Result<(PathBuf, bool), BackupError> {
    match backend_for(data_dir, database_url) {
        Ok(Backend::Sqlite { path, in_data_dir }) => Ok((path, in_data_dir)),
        Ok(Backend::Postgres(_)) => Err(BackupError::Unsupported(format!(
            "castellan server {verb} works on SQLite deployments; for PostgreSQL use pg_dump and \
             pg_restore (see docs/operations.md)"
        ))),
        Err(e) => Err(BackupError::Unsupported(e.to_string())),
    }
}

/// Facts about a Castellan SQLite file, read without changing it.
struct Inspection {
    schema_version: i64,
    users: u64,
    objects: u64,
}

/// Opens `path` read only and checks that it is a Castellan database of a schema this build can
/// serve (`exact`: exactly this build's; otherwise an older one is fine, the server migrates it
/// when it starts), optionally that it is intact (`PRAGMA quick_check`).
async fn inspect(
    path: &Path,
    immutable: bool,
    exact: bool,
    quick_check: bool,
) -> Result<Inspection, String> {
    let mut conn = open_sqlite_read_only(path, immutable).await?;
    let result = inspect_on(&mut conn, exact, quick_check).await;
    let _ = conn.close().await;
    result
}

async fn inspect_on(
    conn: &mut SqliteConnection,
    exact: bool,
    quick_check: bool,
) -> Result<Inspection, String> {
    let versions = sqlite_castellan_versions(conn).await?;
    let known = castellan_store_sqlite::schema_versions();
    let schema_version = versions.last().copied().unwrap_or(0);
    if exact && versions != known {
        return Err(format!(
            "its schema version is {schema_version}, this castellan's is {}: use the castellan \
             version that serves it",
            known.last().copied().unwrap_or(0)
        ));
    }
    if !versions.iter().all(|v| known.contains(v)) {
        return Err(format!(
            "it was written by a newer castellan (schema version {schema_version}, this one \
             knows up to {})",
            known.last().copied().unwrap_or(0)
        ));
    }
    if quick_check {
        let verdicts: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| format!("integrity check failed: {e}"))?;
        if verdicts != ["ok"] {
            return Err(format!(
                "integrity check failed: {}",
                verdicts.first().map(String::as_str).unwrap_or("no answer")
            ));
        }
    }
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    let objects: i64 = sqlx::query_scalar("SELECT count(*) FROM objects")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Inspection {
        schema_version,
        users: count(users),
        objects: count(objects),
    })
}

/// Writes a consistent backup of the SQLite deployment (`database_url` `sqlite://PATH`, else
/// `<data_dir>/castellan.sqlite3`) to the new file `dest` (mode 0600; an existing file is
/// refused). Safe while a server runs on the database.
pub async fn backup(
    data_dir: &Path,
    database_url: Option<&str>,
    dest: &Path,
) -> Result<BackupReport, BackupError> {
    let (database, _) = sqlite_file(data_dir, database_url, "backup")?;
    if dest.symlink_metadata().is_ok() {
        return Err(BackupError::BackupExists(dest.display().to_string()));
    }
    // Only an existing Castellan database of exactly this build's schema is opened as a store
    // (opening applies migrations: it must not upgrade a database an older server serves).
    inspect(&database, false, true, false)
        .await
        .map_err(|reason| BackupError::Database {
            path: database.display().to_string(),
            reason,
        })?;
    let store = castellan_store_sqlite::SqliteStore::open(&database)
        .await
        .map_err(|e| BackupError::Database {
            path: database.display().to_string(),
            reason: e.to_string(),
        })?;
    let written = store.backup_to(dest).await;
    store.close().await;
    match written {
        Ok(()) => {}
        Err(castellan_store::StoreError::AlreadyExists(_)) => {
            return Err(BackupError::BackupExists(dest.display().to_string()))
        }
        Err(e) => {
            return Err(BackupError::Io(format!(
                "cannot write the backup {}: {e}",
                dest.display()
            )))
        }
    }
    // The copy must open as what it is meant to be; otherwise it is no backup.
    let checked = inspect(dest, true, true, true).await;
    let facts = match checked {
        Ok(facts) => facts,
        Err(reason) => {
            let _ = std::fs::remove_file(dest);
            return Err(BackupError::Io(format!(
                "the backup {} failed its check and was removed: {reason}",
                dest.display()
            )));
        }
    };
    let bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport {
        database,
        backup: dest.to_path_buf(),
        bytes,
        schema_version: facts.schema_version,
        users: facts.users,
        objects: facts.objects,
    })
}

/// Puts the backup file `from` in place of the SQLite deployment's database (`database_url`
/// `sqlite://PATH`, else `<data_dir>/castellan.sqlite3`; the data directory is created 0700 if
/// missing). An existing database is replaced only with `force`. No server may be using the
/// database (see the module documentation).
pub async fn restore(
    data_dir: &Path,
    database_url: Option<&str>,
    from: &Path,
    force: bool,
) -> Result<RestoreReport, BackupError> {
    let (database, in_data_dir) = sqlite_file(data_dir, database_url, "restore")?;
    if let (Ok(a), Ok(b)) = (from.canonicalize(), database.canonicalize()) {
        if a == b {
            return Err(BackupError::Unsupported(format!(
                "{} is the database itself, not a backup of it",
                from.display()
            )));
        }
    }
    let not_a_backup = |reason: String| BackupError::NotABackup {
        path: from.display().to_string(),
        reason,
    };
    // A file with a write-ahead log is a live database (or a copy of one without its log):
    // copying the file alone would lose what the log holds.
    let mut wal = from.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(not_a_backup(format!(
            "it has a write-ahead log ({}): it is a database in use, not a backup; write a \
             backup of it with `castellan server backup`",
            Path::new(&wal).display()
        )));
    }
    let facts = inspect(from, true, false, true)
        .await
        .map_err(not_a_backup)?;

    let io = |what: &str, e: std::io::Error| BackupError::Io(format!("{what}: {e}"));
    if in_data_dir {
        prepare_data_dir(data_dir).map_err(|e| BackupError::Io(e.to_string()))?;
    }
    let replaced = database.symlink_metadata().is_ok();
    if replaced && !force {
        return Err(BackupError::DatabaseExists(database.display().to_string()));
    }
    let dir = match database.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = database
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| SQLITE_FILE.to_string());
    let temp = dir.join(format!(
        ".{file_name}.restore-{}",
        uuid::Uuid::new_v4().simple()
    ));

    // Copy into a private temporary file next to the database and flush it to disk.
    let copied = (|| -> std::io::Result<u64> {
        let mut src = std::fs::File::open(from)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut dst = options.open(&temp)?;
        let n = std::io::copy(&mut src, &mut dst)?;
        dst.flush()?;
        dst.sync_all()?;
        Ok(n)
    })();
    let bytes = match copied {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(io(
                &format!("cannot copy the backup into {}", dir.display()),
                e,
            ));
        }
    };
    // The copy must still be the backup that was checked.
    if let Err(reason) = inspect(&temp, true, false, false).await {
        let _ = std::fs::remove_file(&temp);
        return Err(BackupError::Io(format!(
            "the copy of the backup does not open: {reason}"
        )));
    }

    // Stale companions of the old database would be applied to the new one: remove them first.
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                return Err(io(
                    &format!("cannot remove {}", Path::new(&name).display()),
                    e,
                ));
            }
        }
    }
    if let Err(e) = std::fs::rename(&temp, &database) {
        let _ = std::fs::remove_file(&temp);
        return Err(io(
            &format!(
                "cannot move the backup into place at {}",
                database.display()
            ),
            e,
        ));
    }
    // Make the rename itself durable.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(RestoreReport {
        backup: from.to_path_buf(),
        database,
        replaced,
        bytes,
        schema_version: facts.schema_version,
        users: facts.users,
        objects: facts.objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::summarize;
    use crate::migrate::tests::{populate, sqlite_store};
    use castellan_store::{ManifestWrite, ObjectKind, ObjectWrite, Store};
    use uuid::Uuid;

    fn url(path: &Path) -> String {
        format!("sqlite://{}", path.display())
    }

    /// The feed position of a SQLite file and the highest position it hands out.
    async fn feed_is_consistent(path: &Path, live: bool) -> (i64, i64) {
        let mut conn = open_sqlite_read_only(path, !live).await.unwrap();
        let counter: i64 = sqlx::query_scalar("SELECT value FROM feed_counter")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let max: i64 = sqlx::query_scalar(
            "SELECT max(s) FROM (SELECT max(seq) AS s FROM objects \
             UNION ALL SELECT max(seq) FROM tombstones)",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        let _ = conn.close().await;
        (counter, max)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn backs_up_a_live_database_and_restores_it() {
        let live = tempfile::tempdir().unwrap();
        let (store, db) = sqlite_store(live.path()).await;
        let populated = populate(&store).await;

        // Writes keep coming while the backup runs.
        let user = populated.users[1];
        let vault = store.vaults_for_user(user).await.unwrap()[0].id;
        let mut counter = store
            .manifests_for_user(user)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.vault_id == vault)
            .unwrap()
            .counter;
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..200 {
                    counter += 1;
                    let write = ObjectWrite {
                        id: Uuid::new_v4(),
                        user_id: user,
                        vault_id: vault,
                        kind: ObjectKind::Item,
                        version: 1,
                        trashed: false,
                        key_wrap: vec![1],
                        overview: vec![i as u8; 200],
                        details: vec![3],
                        now: i,
                    };
                    let m = ManifestWrite {
                        vault_id: vault,
                        counter,
                        blob: vec![2],
                    };
                    store.put_object(write, None, &[m]).await.unwrap();
                }
            })
        };
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("backup.sqlite3");
        let report = backup(live.path(), None, &file).await.unwrap();
        writer.await.unwrap();
        assert_eq!(report.database, db);
        assert_eq!(report.users, 2);
        assert!(report.objects >= 9);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A snapshot: the feed position matches what the rows hold.
        let (pos, max) = feed_is_consistent(&file, false).await;
        assert_eq!(pos, max);

        // The backup, restored into a new data directory, is what was backed up.
        let backup_summary = summarize(&url(&file)).await.unwrap();
        let restored = tempfile::tempdir().unwrap();
        let data = restored.path().join("data");
        let r = restore(&data, None, &file, false).await.unwrap();
        assert!(!r.replaced);
        assert_eq!(r.database, data.join(SQLITE_FILE));
        assert_eq!(summarize(&url(&data)).await.unwrap(), backup_summary);
        // It opens as a store, at the backed-up feed position.
        let reopened = castellan_store_sqlite::SqliteStore::open(&r.database)
            .await
            .unwrap();
        let page = reopened.changes_since(user, pos, 10).await.unwrap();
        assert!(!page.reset && page.objects.is_empty());
        reopened.close().await;

        // The live database has everything, including the writes made during the backup.
        let (pos_live, _) = feed_is_consistent(&db, true).await;
        assert_eq!(pos_live, 17 + 200);
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn backup_refusals_change_nothing() {
        let live = tempfile::tempdir().unwrap();
        let (store, _) = sqlite_store(live.path()).await;
        populate(&store).await;
        let out = tempfile::tempdir().unwrap();
        let existing = out.path().join("existing");
        std::fs::write(&existing, b"keep me").unwrap();
        let err = backup(live.path(), None, &existing).await.unwrap_err();
        assert!(matches!(err, BackupError::BackupExists(_)), "{err}");
        assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");

        let err = backup(
            live.path(),
            Some("postgres://castellan:hunter2@db/castellan"),
            &out.path().join("pg"),
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("pg_dump") && text.contains("docs/operations.md"),
            "{text}"
        );
        assert!(!text.contains("hunter2"));

        let empty = tempfile::tempdir().unwrap();
        let err = backup(empty.path(), None, &out.path().join("none"))
            .await
            .unwrap_err();
        assert!(matches!(err, BackupError::Database { .. }), "{err}");
        assert!(
            !empty.path().join(SQLITE_FILE).exists(),
            "no database is created"
        );
        assert!(!out.path().join("none").exists());
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn restore_checks_the_file_and_replaces_only_with_force() {
        let live = tempfile::tempdir().unwrap();
        let (store, _) = sqlite_store(live.path()).await;
        populate(&store).await;
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("backup.sqlite3");
        backup(live.path(), None, &file).await.unwrap();
        store.close().await;

        // A deployment with a database of its own, and a stale WAL next to it.
        let target = tempfile::tempdir().unwrap();
        let (other, target_db) = sqlite_store(target.path()).await;
        other
            .config_get_or_init("server_key", vec![42])
            .await
            .unwrap();
        other.close().await;
        // Compared by content: the file's bytes may still change when the closed store's last
        // connection checkpoints its WAL.
        let before = summarize(&url(&target_db)).await.unwrap();

        let not_db = out.path().join("notes.txt");
        std::fs::write(&not_db, b"these are not the rows you are looking for").unwrap();
        let plain = out.path().join("plain.sqlite3");
        {
            let mut c = sqlx::SqliteConnection::connect_with(
                &sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&plain)
                    .create_if_missing(true),
            )
            .await
            .unwrap();
            sqlx::query("CREATE TABLE t (x)")
                .execute(&mut c)
                .await
                .unwrap();
            let _ = c.close().await;
        }
        for bad in [&not_db, &plain, &out.path().join("missing")] {
            let err = restore(target.path(), None, bad, true).await.unwrap_err();
            assert!(matches!(err, BackupError::NotABackup { .. }), "{err}");
            assert_eq!(summarize(&url(&target_db)).await.unwrap(), before);
        }

        // A backup of a newer castellan.
        let newer = out.path().join("newer.sqlite3");
        std::fs::copy(&file, &newer).unwrap();
        {
            let mut c = sqlx::SqliteConnection::connect_with(
                &sqlx::sqlite::SqliteConnectOptions::new().filename(&newer),
            )
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                 execution_time) VALUES (9999, 'future', 1, x'00', 0)",
            )
            .execute(&mut c)
            .await
            .unwrap();
            let _ = c.close().await;
        }
        let err = restore(target.path(), None, &newer, true)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("newer castellan"), "{err}");

        let err = restore(target.path(), None, &file, false)
            .await
            .unwrap_err();
        assert!(matches!(err, BackupError::DatabaseExists(_)), "{err}");
        assert_eq!(summarize(&url(&target_db)).await.unwrap(), before);

        let wal = target.path().join(format!("{SQLITE_FILE}-wal"));
        std::fs::write(&wal, vec![0xAB; 4096]).unwrap();
        let r = restore(target.path(), None, &file, true).await.unwrap();
        assert!(r.replaced);
        assert!(!wal.exists(), "the stale WAL is gone");
        assert_eq!(
            summarize(&url(target.path())).await.unwrap(),
            summarize(&url(&file)).await.unwrap()
        );
        let leftovers: Vec<_> = std::fs::read_dir(target.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("restore"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let reopened = castellan_store_sqlite::SqliteStore::open(&target_db)
            .await
            .unwrap();
        assert_eq!(
            reopened
                .config_get_or_init("server_key", vec![])
                .await
                .unwrap(),
            (0u8..=255).collect::<Vec<u8>>()
        );
        reopened.close().await;

        let live_wal = live.path().join(format!("{SQLITE_FILE}-wal"));
        std::fs::write(&live_wal, vec![1; 4096]).unwrap();
        let err = restore(target.path(), None, &live.path().join(SQLITE_FILE), true)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("write-ahead log"), "{err}");

        let err = restore(target.path(), None, &target_db, true)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("the database itself"), "{err}");
    }
}
