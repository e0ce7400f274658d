//! The shared conformance suite on PostgreSQL, plus PostgreSQL-specific checks (migrations
//! racing, the feed counter under concurrency, change hints across instances).
//!
//! # Test databases
//!
//! `CASTELLAN_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`) names a server and
//! an existing database to connect to for administration; the role needs `CREATEDB`. Every test
//! gets a database of its own, `castellan_test_<random>`, created with `CREATE DATABASE` and
//! dropped when its [`Database`] guard is dropped, i.e. at the end of the test, whether it passed
//! or panicked. `Drop` cannot await, so it runs `DROP DATABASE ... WITH (FORCE)` (which also ends
//! the store's still-open connections) on a short-lived thread with its own runtime and waits
//! for it; a failure to drop only prints a warning. A test process that is killed leaves its
//! databases behind; `psql -c '\l castellan_test_*'` lists them.
//!
//! If PostgreSQL cannot be reached the tests fail with a message saying so: they never skip.

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use castellan_store::{
    ManifestWrite, NewUser, NewVault, ObjectKind, ObjectWrite, Store, StoreError, VaultKind,
};
use castellan_store_postgres::{redact_url, PgStore};
use sqlx::{Connection, Executor, PgConnection, PgPool, Row};
use tokio::sync::mpsc;
use uuid::Uuid;

const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn admin_url() -> String {
    std::env::var("CASTELLAN_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_TEST_PG_URL.to_string())
}

/// `url` with its database replaced by `database` (query parameters kept).
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .expect("CASTELLAN_TEST_PG_URL must be a postgres:// URL");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |q| &tail[q..]);
    format!("{scheme}://{authority}/{database}{query}")
}

async fn admin_connection() -> PgConnection {
    let url = admin_url();
    match PgConnection::connect(&url).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "PostgreSQL is unreachable at {} ({e}). The PostgreSQL storage tests need a server: \
             start one (CI does, see .ci/run) or point CASTELLAN_TEST_PG_URL at one. \
             These tests fail rather than skip.",
            redact_url(&url)
        ),
    }
}

/// A fresh, empty database, dropped with the guard.
struct Database {
    name: String,
    url: String,
}

impl Database {
    async fn create() -> Database {
        let name = format!("castellan_test_{}", Uuid::new_v4().simple());
        let mut admin = admin_connection().await;
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
        let _ = admin.close().await;
        let url = with_database(&admin_url(), &name);
        Database { name, url }
    }

    /// A raw pool on the database, for checks below the trait.
    async fn raw(&self) -> PgPool {
        PgPool::connect(&self.url).await.unwrap()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = admin_url();
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}

/// A store on a fresh database; the database goes when the fixture does (after the store).
struct TestDb {
    store: PgStore,
    db: Database,
}

impl Borrow<PgStore> for TestDb {
    fn borrow(&self) -> &PgStore {
        &self.store
    }
}

async fn fresh_db() -> TestDb {
    let db = Database::create().await;
    let store = PgStore::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("PgStore::connect on a fresh database failed: {e}"));
    TestDb { store, db }
}

mod conformance {
    castellan_store_tests::conformance_tests!(castellan_store_postgres::PgStore, super::fresh_db);
}

/// Every scenario against one shared database, as they would run against a long-lived server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_scenarios_share_one_database() {
    let db = fresh_db().await;
    castellan_store_tests::run_all(&db.store).await;
}

// ---------------------------------------------------------------------------------------------
// helpers

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

fn item(user_id: Uuid, vault_id: Uuid, version: i64) -> ObjectWrite {
    ObjectWrite {
        id: Uuid::new_v4(),
        user_id,
        vault_id,
        kind: ObjectKind::Item,
        version,
        trashed: false,
        key_wrap: vec![1],
        overview: vec![2],
        details: vec![3],
        now: 10,
    }
}

/// A listener on `store` whose hints arrive on the returned channel.
async fn hints(
    store: &PgStore,
) -> (
    mpsc::UnboundedReceiver<(Uuid, i64)>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = store
        .listen_changes(move |user, seq| {
            let _ = tx.send((user, seq));
        })
        .await
        .unwrap();
    (rx, handle)
}

async fn next_hint(rx: &mut mpsc::UnboundedReceiver<(Uuid, i64)>, within: Duration) -> (Uuid, i64) {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("a change hint within the deadline")
        .expect("the listener is running")
}

// ---------------------------------------------------------------------------------------------
// migrations and connections

/// Several instances starting at once on an empty database: one migrates, all come up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_migrate_once() {
    let db = Database::create().await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let url = db.url.clone();
        set.spawn(async move { PgStore::connect_with(&url, 2).await });
    }
    let stores: Vec<PgStore> = set
        .join_all()
        .await
        .into_iter()
        .map(|r| r.expect("every instance starts"))
        .collect();

    let raw = db.raw().await;
    let rows = sqlx::query("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&raw)
        .await
        .unwrap();
    let applied: Vec<(i64, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        applied,
        vec![
            (1, true),
            (2, true),
            (3, true),
            (4, true),
            (5, true),
            (6, true)
        ]
    );

    // Every instance works on the one schema, and a later start finds nothing to do.
    let (u, v) = user();
    stores[0].create_user(u.clone(), vec![v]).await.unwrap();
    for store in &stores {
        assert!(store.user_by_id(u.id).await.unwrap().is_some());
        store.close().await;
    }
    let again = PgStore::connect(&db.url).await.unwrap();
    assert_eq!(
        again.user_by_email(&u.email).await.unwrap().map(|r| r.id),
        Some(u.id)
    );
    again.close().await;
    raw.close().await;
}

/// Connection errors say where, never with the password.
#[tokio::test]
async fn connect_errors_name_the_server_but_not_the_password() {
    let secret = "pw-hunter2-not-for-logs";
    let err = PgStore::connect(&format!(
        "postgres://someone:{secret}@127.0.0.1:1/castellan"
    ))
    .await
    .unwrap_err();
    let StoreError::Backend(message) = err else {
        panic!("expected a backend error, got {err:?}");
    };
    assert!(!message.contains(secret), "{message}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(message.contains("someone@"), "{message}");

    let err = PgStore::connect(&format!("mysql://someone:{secret}@127.0.0.1/x"))
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(secret), "{err}");
    assert!(matches!(
        PgStore::connect_with(&admin_url(), 0).await,
        Err(StoreError::Backend(_))
    ));
}

/// The store's `Debug` form (as a careless log line would print it) has no password, even when
/// the URL carries one.
#[tokio::test]
async fn debug_output_hides_the_password() {
    let db = Database::create().await;
    let (scheme, rest) = db.url.split_once("://").unwrap();
    let at = rest.find('@').expect("CASTELLAN_TEST_PG_URL names a user");
    let (userinfo, host) = rest.split_at(at);
    // With trust authentication the server never asks for the password we add here.
    let (url, secret) = match userinfo.split_once(':') {
        Some((_, password)) => (db.url.clone(), password.to_string()),
        None => {
            let secret = "pw-never-in-debug-output".to_string();
            (format!("{scheme}://{userinfo}:{secret}{host}"), secret)
        }
    };
    let store = PgStore::connect_with(&url, 1).await.unwrap();
    let shown = format!("{store:?}");
    assert!(!shown.contains(&secret), "{shown}");
    assert!(!redact_url(&url).contains(&secret));
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// schema and feed

/// The schema itself refuses an object in another user's vault (defence in depth).
#[tokio::test]
async fn schema_enforces_vault_ownership() {
    let db = fresh_db().await;
    let (a, _) = user();
    let (b, vb) = user();
    db.store.create_user(a.clone(), vec![]).await.unwrap();
    db.store.create_user(b, vec![vb.clone()]).await.unwrap();
    let raw = db.db.raw().await;
    let result = sqlx::query(
        "INSERT INTO objects (id, user_id, vault_id, kind, version, trashed, key_wrap, overview, \
         details, seq, created_at, updated_at) \
         VALUES ($1, $2, $3, 'item', 1, false, '', '', '', 999999, 0, 0)",
    )
    .bind(Uuid::new_v4())
    .bind(a.id)
    .bind(vb.id)
    .execute(&raw)
    .await;
    let err = result.expect_err("an object in a foreign vault violates the foreign key");
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("23503")
    );
    raw.close().await;
}

/// Every object write takes the next value of the feed counter; failed writes take none;
/// concurrent writers never share or skip a number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_writes_take_consecutive_positions() {
    let db = fresh_db().await;
    let (u, v) = user();
    db.store
        .create_user(u.clone(), vec![v.clone()])
        .await
        .unwrap();
    let raw = db.db.raw().await;
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
    let a = db
        .store
        .put_object(item(u.id, v.id, 1), None, &[])
        .await
        .unwrap();
    assert_eq!(a.seq, start + 1);
    let stale = ObjectWrite {
        id: a.id,
        version: 3,
        ..item(u.id, v.id, 3)
    };
    assert!(db.store.put_object(stale, Some(2), &[]).await.is_err());
    let bad_manifest = [ManifestWrite {
        vault_id: v.id,
        counter: 5,
        blob: vec![1],
    }];
    assert!(db
        .store
        .put_object(item(u.id, v.id, 1), None, &bad_manifest)
        .await
        .is_err());
    assert_eq!(counter().await, start + 1, "failed writes take no position");
    db.store
        .delete_object(u.id, a.id, 1, &[], 11)
        .await
        .unwrap();
    assert_eq!(counter().await, start + 2, "a delete takes a position");

    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = db.store.clone();
        let w = item(u.id, v.id, 1);
        set.spawn(async move { store.put_object(w, None, &[]).await.unwrap().seq });
    }
    let mut seqs = set.join_all().await;
    seqs.sort();
    assert_eq!(seqs, (start + 3..=start + 22).collect::<Vec<_>>());
    raw.close().await;
}

/// A reader following its cursor while writers commit concurrently sees every write exactly
/// once: positions are handed out in commit order, so no cursor passes a write that commits
/// later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_never_skips_a_concurrent_write() {
    let db = fresh_db().await;
    let (u, v) = user();
    db.store
        .create_user(u.clone(), vec![v.clone()])
        .await
        .unwrap();
    let written = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let store = db.store.clone();
        let written = written.clone();
        let (uid, vid) = (u.id, v.id);
        writers.spawn(async move {
            for _ in 0..30 {
                let rec = store
                    .put_object(item(uid, vid, 1), None, &[])
                    .await
                    .unwrap();
                written.lock().unwrap().insert(rec.id);
            }
        });
    }

    let mut seen = BTreeSet::new();
    let mut cursor = 0;
    let mut writers_done = false;
    loop {
        let page = db.store.changes_since(u.id, cursor, 7).await.unwrap();
        assert!(!page.reset);
        for o in &page.objects {
            assert!(o.seq > cursor, "every entry is after the cursor");
            assert!(seen.insert(o.id), "no object appears twice");
        }
        cursor = page.cursor;
        if page.objects.is_empty() && !page.has_more {
            if writers_done {
                break;
            }
            tokio::task::yield_now().await;
        }
        if !writers_done && writers.is_empty() {
            writers_done = true;
        }
        while let Some(joined) = writers.try_join_next() {
            joined.unwrap();
        }
    }
    assert_eq!(seen, *written.lock().unwrap(), "the reader saw every write");
    assert_eq!(seen.len(), 180);
}

/// Moves in opposite directions at once (each naming both vaults' manifests, in opposite
/// orders) never fail with a deadlock: each write succeeds or loses the compare-and-swap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opposite_moves_never_deadlock() {
    let db = fresh_db().await;
    let (u, p) = user();
    let b = NewVault {
        id: Uuid::new_v4(),
        kind: VaultKind::Business,
        ..p.clone()
    };
    db.store
        .create_user(u.clone(), vec![p.clone(), b.clone()])
        .await
        .unwrap();
    let manifest = |vault_id, counter| ManifestWrite {
        vault_id,
        counter,
        blob: vec![counter as u8],
    };
    let x = db
        .store
        .put_object(item(u.id, p.id, 1), None, &[manifest(p.id, 1)])
        .await
        .unwrap();
    let y = db
        .store
        .put_object(item(u.id, b.id, 1), None, &[manifest(b.id, 1)])
        .await
        .unwrap();
    let (mut x, mut y) = (x, y);
    for _ in 0..20 {
        let counters: std::collections::HashMap<Uuid, i64> = db
            .store
            .manifests_for_user(u.id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.vault_id, m.counter))
            .collect();
        let (cp, cb) = (counters[&p.id], counters[&b.id]);
        let to_other = |rec: &castellan_store::ObjectRecord, target: Uuid| ObjectWrite {
            id: rec.id,
            user_id: rec.user_id.expect("an own vault's object"),
            vault_id: target,
            kind: rec.kind,
            version: rec.version + 1,
            trashed: false,
            key_wrap: vec![],
            overview: vec![],
            details: vec![],
            now: 20,
        };
        let (wx, wy) = (
            to_other(&x, if x.vault_id == p.id { b.id } else { p.id }),
            to_other(&y, if y.vault_id == p.id { b.id } else { p.id }),
        );
        let (sx, sy) = (db.store.clone(), db.store.clone());
        let (vx, vy) = (x.version, y.version);
        let mx = [manifest(p.id, cp + 1), manifest(b.id, cb + 1)];
        let my = [manifest(b.id, cb + 1), manifest(p.id, cp + 1)];
        let (rx, ry) = tokio::join!(
            tokio::spawn(async move { sx.put_object(wx, Some(vx), &mx).await }),
            tokio::spawn(async move { sy.put_object(wy, Some(vy), &my).await }),
        );
        let mut wins = 0;
        for result in [rx.unwrap(), ry.unwrap()] {
            match result {
                Ok(rec) => {
                    wins += 1;
                    if rec.id == x.id {
                        x = rec;
                    } else {
                        y = rec;
                    }
                }
                Err(StoreError::ManifestConflict { .. }) => {}
                Err(e) => panic!("a move failed with {e:?}"),
            }
        }
        assert_eq!(
            wins, 1,
            "both name the same next counters: exactly one wins"
        );
    }
}

/// Concurrent creates of one id that each carry the vault's first manifest: the losers fail
/// on the object (`AlreadyExists("object")`, checked first), as in SQLite, not on the manifest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_with_manifests_fail_on_the_object_first() {
    let db = fresh_db().await;
    let (u, v) = user();
    db.store
        .create_user(u.clone(), vec![v.clone()])
        .await
        .unwrap();
    let id = Uuid::new_v4();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let store = db.store.clone();
        let w = ObjectWrite {
            id,
            ..item(u.id, v.id, 1)
        };
        let m = [ManifestWrite {
            vault_id: v.id,
            counter: 1,
            blob: vec![i],
        }];
        set.spawn(async move { store.put_object(w, None, &m).await });
    }
    let results = set.join_all().await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.into_iter().filter(|r| r.is_err()) {
        assert!(
            matches!(r, Err(StoreError::AlreadyExists("object"))),
            "losers fail on the object: {r:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// change hints

/// Two instances (pools) on one database: a write through one reaches the other's listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_cross_instances() {
    let db = fresh_db().await;
    let other = PgStore::connect(&db.db.url).await.unwrap();
    let (mut rx, handle) = hints(&db.store).await;

    let (u, v) = user();
    other.create_user(u.clone(), vec![v.clone()]).await.unwrap();
    let rec = other
        .put_object(item(u.id, v.id, 1), None, &[])
        .await
        .unwrap();
    assert_eq!(
        next_hint(&mut rx, Duration::from_secs(2)).await,
        (u.id, rec.seq)
    );

    // A failed write notifies nothing; the next hint is that of the next committed write.
    let stale = ObjectWrite {
        id: rec.id,
        version: 5,
        ..item(u.id, v.id, 5)
    };
    assert!(other.put_object(stale, Some(4), &[]).await.is_err());
    other.delete_object(u.id, rec.id, 1, &[], 20).await.unwrap();
    let page = other.changes_since(u.id, rec.seq, 10).await.unwrap();
    let tombstone = page.tombstones[0].seq;
    assert_eq!(
        next_hint(&mut rx, Duration::from_secs(2)).await,
        (u.id, tombstone),
        "a delete notifies its tombstone's position"
    );

    // Writes through the listening instance itself are relayed too.
    let mine = db
        .store
        .put_object(item(u.id, v.id, 1), None, &[])
        .await
        .unwrap();
    assert_eq!(
        next_hint(&mut rx, Duration::from_secs(2)).await,
        (u.id, mine.seq)
    );
    assert!(rx.try_recv().is_err(), "one hint per write");

    handle.abort();
    other.close().await;
}

/// The listener survives the loss of its connection: it reconnects and relays later writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_resume_after_the_listener_connection_is_killed() {
    let db = fresh_db().await;
    let (mut rx, handle) = hints(&db.store).await;
    let (u, v) = user();
    db.store
        .create_user(u.clone(), vec![v.clone()])
        .await
        .unwrap();

    let mut admin = admin_connection().await;
    let killed: i64 = sqlx::query(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND query ILIKE 'LISTEN%') AS t",
    )
    .bind(&db.db.name)
    .fetch_one(&mut admin)
    .await
    .unwrap()
    .get(0);
    assert_eq!(killed, 1, "the listener's backend was found and terminated");
    let _ = admin.close().await;

    // Hints sent while it reconnects are lost (allowed); keep writing until one arrives.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rec = db
            .store
            .put_object(item(u.id, v.id, 1), None, &[])
            .await
            .unwrap();
        match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
            Ok(Some((user, seq))) => {
                assert_eq!(user, u.id);
                assert!(seq <= rec.seq);
                break;
            }
            Ok(None) => panic!("the listener task ended"),
            Err(_) => assert!(Instant::now() < deadline, "no hint after reconnecting"),
        }
    }
    assert!(!handle.is_finished());
    handle.abort();
}

/// Closing the store ends its listener task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_stops_when_the_store_closes() {
    let db = fresh_db().await;
    let (_rx, handle) = hints(&db.store).await;
    db.store.close().await;
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("the listener ends when the store closes")
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// organisation

/// The audit log is append-only below the store too: triggers refuse UPDATE, DELETE and
/// TRUNCATE, whoever connects.
#[tokio::test]
async fn audit_log_refuses_update_delete_and_truncate() {
    use castellan_store::{AuditRecord, OrgStore};

    let db = fresh_db().await;
    let seq = db
        .store
        .append_audit(AuditRecord {
            seq: 0,
            at: 1,
            company_id: Some(Uuid::new_v4()),
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
    let raw = db.db.raw().await;
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
    for statement in ["DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let err = sqlx::query(statement)
            .execute(&raw)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    let row = sqlx::query("SELECT COUNT(*), MAX(event) FROM audit_log")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>(0), 1);
    assert_eq!(row.get::<String, _>(1), "login.succeeded");
    raw.close().await;
}
