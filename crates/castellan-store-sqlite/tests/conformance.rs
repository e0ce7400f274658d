//! The shared conformance suite on file and in-memory databases, plus SQLite-specific checks
//! (file mode, WAL, backups, the sync feed counter).

use std::borrow::Borrow;

use castellan_store::{NewUser, NewVault, ObjectKind, ObjectWrite, Store, StoreError, VaultKind};
use castellan_store_sqlite::SqliteStore;
use sqlx::Row;
use tempfile::TempDir;
use uuid::Uuid;

/// A store on a fresh database file that is removed with the fixture.
struct FileDb {
    store: SqliteStore,
    dir: TempDir,
}

impl Borrow<SqliteStore> for FileDb {
    fn borrow(&self) -> &SqliteStore {
        &self.store
    }
}

async fn file_db() -> FileDb {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("castellan.db"))
        .await
        .unwrap();
    FileDb { store, dir }
}

mod file {
    castellan_store_tests::conformance_tests!(castellan_store_sqlite::SqliteStore, super::file_db);
}

mod memory {
    castellan_store_tests::conformance_tests!(
        async fn make_store() -> castellan_store_sqlite::SqliteStore {
            castellan_store_sqlite::SqliteStore::open_in_memory()
                .await
                .unwrap()
        }
    );
}

/// Every scenario against one shared database, as they would run against a long-lived server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_scenarios_share_one_database() {
    let db = file_db().await;
    castellan_store_tests::run_all(&db.store).await;
}

fn user() -> (NewUser, NewVault) {
    let user = NewUser {
        id: Uuid::new_v4(),
        email: format!("{}@example.test", Uuid::new_v4().simple()),
        opaque_record: vec![1, 2, 3],
        keyset: "{}".into(),
        created_at: 1,
    };
    let vault = NewVault {
        id: Uuid::new_v4(),
        kind: VaultKind::Personal,
        key_wrap: vec![4, 5],
        key_version: 1,
    };
    (user, vault)
}

fn item(user: &NewUser, vault: &NewVault, version: i64) -> ObjectWrite {
    ObjectWrite {
        id: Uuid::new_v4(),
        user_id: user.id,
        vault_id: vault.id,
        kind: ObjectKind::Item,
        version,
        trashed: false,
        key_wrap: vec![1],
        overview: vec![2],
        details: vec![3],
        now: 10,
    }
}

#[cfg(unix)]
#[tokio::test]
async fn database_file_is_private_and_in_wal_mode() {
    use std::os::unix::fs::PermissionsExt;

    let db = file_db().await;
    let path = db.dir.path().join("castellan.db");
    // Write something so the WAL and shared-memory files exist.
    let (u, v) = user();
    db.store.create_user(u, vec![v]).await.unwrap();

    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "database file mode is {mode:o}");
    for suffix in ["-wal", "-shm"] {
        let side = db.dir.path().join(format!("castellan.db{suffix}"));
        if let Ok(meta) = std::fs::metadata(&side) {
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{suffix} file mode is {mode:o}");
        }
    }
    assert_eq!(db.store.journal_mode().await.unwrap(), "wal");

    // An independent connection sees WAL too (the mode is persistent in the file).
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
    conn = conn.read_only(true);
    let pool = sqlx::SqlitePool::connect_with(conn).await.unwrap();
    let row = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "wal");
    pool.close().await;
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let db = file_db().await;
    let path = db.dir.path().join("castellan.db");
    let (u, v) = user();
    db.store.create_user(u.clone(), vec![v]).await.unwrap();
    db.store.close().await;

    let again = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        again.user_by_id(u.id).await.unwrap().map(|r| r.email),
        Some(u.email)
    );
}

#[tokio::test]
async fn open_fails_cleanly_in_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let result = SqliteStore::open(&dir.path().join("missing").join("castellan.db")).await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
}

#[tokio::test]
async fn backup_contains_the_same_users() {
    let db = file_db().await;
    let mut users = Vec::new();
    for _ in 0..3 {
        let (u, v) = user();
        db.store
            .create_user(u.clone(), vec![v.clone()])
            .await
            .unwrap();
        db.store
            .put_object(item(&u, &v, 1), None, &[])
            .await
            .unwrap();
        users.push(u);
    }
    db.store.checkpoint().await.unwrap();

    let backup_path = db.dir.path().join("backup.db");
    db.store.backup_to(&backup_path).await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup_path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "backup file mode is {mode:o}");
    }

    // Refuses to overwrite.
    let again = db.store.backup_to(&backup_path).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(_))),
        "{again:?}"
    );

    let restored = SqliteStore::open(&backup_path).await.unwrap();
    for u in &users {
        let got = restored.user_by_id(u.id).await.unwrap().unwrap();
        assert_eq!(got.email, u.email);
        assert_eq!(got.opaque_record, u.opaque_record);
        assert_eq!(restored.list_objects(u.id, None).await.unwrap().len(), 1);
    }
    // The original keeps working after the backup.
    let (u, v) = user();
    db.store.create_user(u.clone(), vec![v]).await.unwrap();
    assert!(restored.user_by_id(u.id).await.unwrap().is_none());
}

#[tokio::test]
async fn backup_of_in_memory_store_works_too() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let (u, v) = user();
    store.create_user(u.clone(), vec![v]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mem-backup.db");
    store.backup_to(&path).await.unwrap();
    let restored = SqliteStore::open(&path).await.unwrap();
    assert!(restored.user_by_email(&u.email).await.unwrap().is_some());
}

#[tokio::test]
async fn checkpoint_truncates_the_wal() {
    let db = file_db().await;
    let (u, v) = user();
    db.store.create_user(u, vec![v]).await.unwrap();
    db.store.checkpoint().await.unwrap();
    let wal = db.dir.path().join("castellan.db-wal");
    if let Ok(meta) = std::fs::metadata(&wal) {
        assert_eq!(meta.len(), 0, "WAL truncated");
    }
    // The in-memory store has no WAL; checkpointing it is harmless.
    SqliteStore::open_in_memory()
        .await
        .unwrap()
        .checkpoint()
        .await
        .unwrap();
}

/// Every object write takes the next value of the feed counter, in the same transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_writes_advance_the_feed_sequence() {
    let db = file_db().await;
    let (u, v) = user();
    db.store
        .create_user(u.clone(), vec![v.clone()])
        .await
        .unwrap();

    let raw = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(db.dir.path().join("castellan.db")),
    )
    .await
    .unwrap();
    let seq_of = |id: Uuid| {
        let raw = raw.clone();
        async move {
            sqlx::query("SELECT seq FROM objects WHERE id = $1")
                .bind(id.to_string())
                .fetch_one(&raw)
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
    };
    let counter = || {
        let raw = raw.clone();
        async move {
            sqlx::query("SELECT value FROM feed_counter WHERE id = 1")
                .fetch_one(&raw)
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
    };

    let start = counter().await;
    let a = item(&u, &v, 1);
    let b = item(&u, &v, 1);
    db.store.put_object(a.clone(), None, &[]).await.unwrap();
    db.store.put_object(b.clone(), None, &[]).await.unwrap();
    assert_eq!(seq_of(a.id).await, start + 1);
    assert_eq!(seq_of(b.id).await, start + 2);

    let a2 = ObjectWrite {
        version: 2,
        now: 11,
        ..a.clone()
    };
    db.store.put_object(a2, Some(1), &[]).await.unwrap();
    assert_eq!(
        seq_of(a.id).await,
        start + 3,
        "an update moves the object to the head of the feed"
    );

    // Failed writes take no number.
    let stale = ObjectWrite {
        version: 2,
        ..b.clone()
    };
    assert!(db.store.put_object(stale, Some(5), &[]).await.is_err());
    assert!(db.store.put_object(a.clone(), None, &[]).await.is_err());
    assert_eq!(counter().await, start + 3);

    db.store
        .delete_object(u.id, b.id, 1, &[], 12)
        .await
        .unwrap();
    assert_eq!(counter().await, start + 4, "a delete advances the counter");

    // Concurrent writers never share or skip a number.
    let mut set = tokio::task::JoinSet::new();
    let mut ids = Vec::new();
    for _ in 0..10 {
        let w = item(&u, &v, 1);
        ids.push(w.id);
        let store = db.store.clone();
        set.spawn(async move { store.put_object(w, None, &[]).await.unwrap() });
    }
    set.join_all().await;
    let mut seqs = Vec::new();
    for id in ids {
        seqs.push(seq_of(id).await);
    }
    seqs.sort();
    assert_eq!(seqs, (start + 5..=start + 14).collect::<Vec<_>>());
    assert_eq!(counter().await, start + 14);
    raw.close().await;
}

/// The schema itself refuses an object in another user's vault (defence in depth).
#[tokio::test]
async fn schema_enforces_vault_ownership_and_foreign_keys() {
    let db = file_db().await;
    let (a, va) = user();
    let (b, vb) = user();
    db.store
        .create_user(a.clone(), vec![va.clone()])
        .await
        .unwrap();
    db.store
        .create_user(b.clone(), vec![vb.clone()])
        .await
        .unwrap();
    let raw = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db.dir.path().join("castellan.db"))
            .foreign_keys(true),
    )
    .await
    .unwrap();
    let result = sqlx::query(
        "INSERT INTO objects (id, user_id, vault_id, kind, version, trashed, key_wrap, overview, details, seq, \
         created_at, updated_at) VALUES ($1, $2, $3, 'item', 1, 0, x'', x'', x'', 999999, 0, 0)",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(a.id.to_string())
    .bind(vb.id.to_string())
    .execute(&raw)
    .await;
    assert!(
        result.is_err(),
        "object in a foreign vault must violate the foreign key"
    );
    raw.close().await;
}

/// The audit log is append-only below the store too: triggers refuse UPDATE and DELETE.
#[tokio::test]
async fn audit_log_refuses_update_and_delete() {
    use castellan_store::{AuditRecord, OrgStore};

    let db = file_db().await;
    let company = Uuid::new_v4();
    let seq = db
        .store
        .append_audit(AuditRecord {
            seq: 0,
            at: 1,
            company_id: Some(company),
            actor_id: None,
            actor_email: None,
            target_user_id: None,
            target_email: None,
            event: "login.succeeded".into(),
            details: "{}".into(),
            ip: None,
        })
        .await
        .unwrap();
    let raw = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(db.dir.path().join("castellan.db")),
    )
    .await
    .unwrap();
    for statement in [
        "UPDATE audit_log SET event = 'x' WHERE seq = $1",
        "UPDATE audit_log SET details = '{}' WHERE seq = $1",
        "DELETE FROM audit_log WHERE seq = $1",
    ] {
        let err = sqlx::query(statement)
            .bind(seq)
            .execute(&raw)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    let err = sqlx::query("DELETE FROM audit_log")
        .execute(&raw)
        .await
        .expect_err("a DELETE of every row");
    assert!(err.to_string().contains("append-only"), "{err}");
    let row = sqlx::query("SELECT COUNT(*), MAX(event) FROM audit_log")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>(0), 1);
    assert_eq!(row.get::<String, _>(1), "login.succeeded");
    raw.close().await;
}

/// Every table of the schema is STRICT, so a value of the wrong type fails loudly.
#[tokio::test]
async fn every_table_is_strict() {
    let db = file_db().await;
    let raw = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(db.dir.path().join("castellan.db")),
    )
    .await
    .unwrap();
    let loose: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' \
         AND strict = 0 AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&raw)
    .await
    .unwrap();
    assert!(loose.is_empty(), "tables that are not STRICT: {loose:?}");
    raw.close().await;
}
