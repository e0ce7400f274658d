//! Operator commands through the real binary: `castellan server migrate-db` (a populated SQLite
//! deployment moved to PostgreSQL, then served from there to a new device and to the original
//! one with its cached cursor), `castellan server backup` while the server runs and
//! `castellan server restore` into a new data directory, and their refusals.
//!
//! The PostgreSQL databases are created and dropped with `psql` on `CASTELLAN_TEST_PG_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`), one `castellan_test_<random>` database
//! per test, dropped at the end whether the test passed or not.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

const TABLES: [&str; 32] = [
    "server_config",
    "users",
    "companies",
    "members",
    "vaults",
    "login_attempts",
    "sessions",
    "rate_limits",
    "feed_counter",
    "objects",
    "tombstones",
    "feed_floor",
    "vault_manifests",
    "key_grants",
    "technician_assignments",
    "invitations",
    "groups",
    "group_members",
    "group_grants",
    "policy_templates",
    "two_factor",
    "two_factor_recovery_codes",
    "two_factor_challenges",
    "audit_counter",
    "audit_log",
    "shares",
    "share_entries",
    "share_grants",
    "share_states",
    "deleted_share_readers",
    "backups",
    "backup_handovers",
];

fn admin_url() -> String {
    std::env::var("CASTELLAN_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_TEST_PG_URL.to_string())
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .arg(admin_url())
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .unwrap_or_else(|e| panic!("these tests need psql and PostgreSQL ({e})"));
    assert!(
        out.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new, empty PostgreSQL database, dropped with the guard.
struct PgDatabase {
    name: String,
    url: String,
}

impl PgDatabase {
    fn create() -> PgDatabase {
        let name = format!("castellan_test_{}", uuid::Uuid::new_v4().simple());
        psql(&format!("CREATE DATABASE \"{name}\""));
        let admin = admin_url();
        let (scheme, rest) = admin.split_once("://").expect("a postgres:// URL");
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let query = tail.find('?').map_or("", |q| &tail[q..]);
        let url = format!("{scheme}://{authority}/{name}{query}");
        PgDatabase { name, url }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(admin_url())
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// A server process started by a test (killed with the guard).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_healthy(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some((200, _)) = http(addr, "GET", "/api/v1/health", None, &[]) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server on {addr} did not become healthy");
}

fn serve_postgres(url: &str, addr: &str) -> Process {
    let child = Command::new(bin())
        .args(["server", "--database-url", url, "--bind", addr])
        .env("CASTELLAN_LOG", "warn")
        .env_remove("CASTELLAN_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let p = Process(child);
    wait_healthy(addr);
    p
}

/// `castellan ARGS` with no deployment settings from the environment.
fn castellan(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove("CASTELLAN_DATABASE_URL")
        .env_remove("CASTELLAN_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run castellan")
}

fn ok_json(args: &[&str]) -> Value {
    let out = castellan(args);
    assert!(
        out.status.success(),
        "castellan {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "castellan {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs and expects a failure with one line on stderr; returns that line.
fn fails(args: &[&str]) -> String {
    let out = castellan(args);
    assert!(
        !out.status.success(),
        "castellan {args:?} unexpectedly succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
    err
}

/// The per-table summaries of a database (row counts and checksums), read without writing.
fn summary(url: &str) -> Vec<castellan_server::migrate::TableSummary> {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(castellan_server::migrate::summarize(url))
        .unwrap()
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A vault with items of several types in nested folders of both profiles, an edited item (with
/// password history), one in the trash and one deleted for good (a tombstone). Returns the ids
/// of the items that remain.
fn fill(a: &Device) -> Vec<String> {
    let login = a.add(&[
        "--title",
        "Mail",
        "--username",
        "ops@example.com",
        "--password",
        "first-pass",
        "--url",
        "https://mail.example.com",
        "--folder",
        "Work/Email",
        "--tag",
        "ops",
        "--totp",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    ]);
    a.ok(&["item", "edit", &login, "--password", "second-pass"]);
    let db = a.add(&[
        "--profile",
        "business",
        "--type",
        "database",
        "--title",
        "Orders DB",
        "--field",
        "hostname=db.internal",
        "--field",
        "port=5432",
        "--username",
        "app",
        "--password",
        "db-pass",
        "--folder",
        "Infra/DC1",
    ]);
    let note = a.add(&[
        "--type",
        "secure_note",
        "--title",
        "Recovery codes",
        "--notes",
        "1111 2222 3333",
        "--folder",
        "Work",
        "--favorite",
    ]);
    let trashed = a.add(&["--title", "Old router", "--password", "r"]);
    a.ok(&["item", "rm", &trashed]);
    let purged = a.add(&["--title", "Gone", "--password", "g"]);
    a.ok(&["item", "rm", &purged, "--purge"]);
    a.ok(&["sync"]);
    vec![login, db, note, trashed]
}

/// What a device shows: the item list, every item, the folders and the trash.
fn snapshot(d: &Device, ids: &[String]) -> Vec<Value> {
    let mut out = vec![
        d.json(&["item", "list"]),
        d.json(&["folder", "list"]),
        d.json(&["trash", "list"]),
    ];
    for id in ids {
        out.push(d.json(&["item", "get", id]));
        out.push(d.json(&["item", "history", id]));
    }
    out
}

#[test]
fn migrate_db_moves_a_sqlite_deployment_to_postgres_and_devices_keep_working() {
    let server = Server::start();
    let mut a = Device::new();
    let sk = a.register(&server, "ops@example.com");
    let ids = fill(&a);
    let before = snapshot(&a, &ids);
    let cursor_before = a.json(&["sync", "--status"])["cursor"].as_i64().unwrap();
    assert!(cursor_before > 0);
    let addr = server.addr.clone();
    let url = server.url.clone();
    let data = server.stop();

    let db = PgDatabase::create();
    let from = sqlite_url(data.path());
    let report = ok_json(&[
        "server",
        "migrate-db",
        "--from",
        &from,
        "--to",
        &db.url,
        "--json",
    ]);
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["schema_version"], 6);
    assert_eq!(
        report["source"],
        data.path().join("castellan.sqlite3").display().to_string()
    );
    assert_eq!(report["feed_counter"].as_i64().unwrap(), cursor_before);
    let tables = report["tables"].as_array().unwrap();
    let names: Vec<&str> = tables
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(names, TABLES);
    for t in tables {
        assert_eq!(t["ok"], true, "{t}");
        assert_eq!(t["rows"], t["target_rows"], "{t}");
        assert_eq!(t["sha256"], t["target_sha256"], "{t}");
        assert_eq!(t["sha256"].as_str().unwrap().len(), 64);
    }
    let rows = |name: &str| {
        tables.iter().find(|t| t["table"] == name).unwrap()["rows"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(rows("users"), 1);
    assert_eq!(rows("sessions"), 1);
    assert_eq!(rows("tombstones"), 1);
    assert!(rows("objects") >= 8, "4 items and 4 folders at least");
    // Both databases summarise the same, read independently of migrate-db.
    let source_summary = summary(&from);
    assert_eq!(source_summary, summary(&db.url));

    // The same target a second time: refused, and nothing is written.
    let err = fails(&["server", "migrate-db", "--from", &from, "--to", &db.url]);
    assert!(err.contains("is not empty"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(summary(&db.url), source_summary);

    // PostgreSQL now serves the deployment on the old address.
    let _pg_server = serve_postgres(&db.url, &addr);

    // A new device logs in and reads everything back identically.
    let mut b = Device::new();
    b.secret_key = Some(sk);
    b.ok(&["login", "--server", &url, "--email", "ops@example.com"]);
    assert_eq!(snapshot(&b, &ids), before);

    // The original device keeps its session and its cursor: nothing to pull, no reset.
    let synced = a.json(&["sync"]);
    assert_eq!(synced["pulled"], 0, "{synced}");
    assert_eq!(
        synced["cursor"].as_i64().unwrap(),
        cursor_before,
        "{synced}"
    );
    assert_eq!(snapshot(&a, &ids), before);

    // And both keep working: a change on one arrives on the other.
    let new_item = a.add(&["--title", "After the move", "--folder", "Work/Email"]);
    let synced = b.json(&["sync"]);
    assert_eq!(synced["pulled"], 1, "{synced}");
    assert!(synced["cursor"].as_i64().unwrap() > cursor_before);
    assert_eq!(
        b.json(&["item", "get", &new_item])["title"],
        "After the move"
    );
}

#[test]
fn backup_while_the_server_runs_then_restore_into_a_new_data_dir() {
    let server = Server::start();
    let mut a = Device::new();
    let sk = a.register(&server, "backup@example.com");
    let ids = fill(&a);
    let before = snapshot(&a, &ids);

    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("castellan-backup.sqlite3");
    let file_s = file.to_str().unwrap();
    let data_s = server.data.path().to_str().unwrap().to_string();
    let report = ok_json(&[
        "server",
        "backup",
        "--data-dir",
        &data_s,
        "--to",
        file_s,
        "--json",
    ]);
    assert_eq!(report["users"], 1, "{report}");
    assert_eq!(report["schema_version"], 6);
    assert_eq!(report["backup"], file_s);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the backup is private");
    }
    // The server keeps serving; later changes are not in the backup.
    a.add(&["--title", "After the backup"]);

    // A backup never overwrites a file.
    let backup_bytes = std::fs::read(&file).unwrap();
    let err = fails(&["server", "backup", "--data-dir", &data_s, "--to", file_s]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), backup_bytes);

    // Restore into a new data directory and serve it.
    let restored = tempfile::tempdir().unwrap();
    let restored_s = restored.path().to_str().unwrap().to_string();
    let r = ok_json(&[
        "server",
        "restore",
        "--from",
        file_s,
        "--data-dir",
        &restored_s,
        "--json",
    ]);
    assert_eq!(r["replaced"], false, "{r}");
    assert_eq!(r["users"], 1);
    assert_eq!(
        summary(&sqlite_url(restored.path())),
        summary(&sqlite_url(&file))
    );
    // A second restore needs --force.
    let err = fails(&[
        "server",
        "restore",
        "--from",
        file_s,
        "--data-dir",
        &restored_s,
    ]);
    assert!(err.contains("--force"), "{err}");

    let second = Server::start_in(restored);
    let mut b = Device::new();
    b.secret_key = Some(sk);
    b.ok(&[
        "login",
        "--server",
        &second.url,
        "--email",
        "backup@example.com",
    ]);
    assert_eq!(
        snapshot(&b, &ids),
        before,
        "the restored server holds the vault as it was when the backup was taken"
    );
}

#[test]
fn refusals_are_one_line_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();

    // backup: an existing file, a PostgreSQL deployment, a missing database.
    std::fs::write(d("taken"), b"keep").unwrap();
    let err = fails(&[
        "server",
        "backup",
        "--data-dir",
        &d("data"),
        "--to",
        &d("taken"),
    ]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(d("taken")).unwrap(), b"keep");
    let err = fails(&[
        "server",
        "backup",
        "--database-url",
        "postgres://castellan:hunter2@127.0.0.1:1/castellan",
        "--to",
        &d("pg.backup"),
    ]);
    assert!(err.contains("pg_dump"), "{err}");
    assert!(err.contains("docs/operations.md"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let err = fails(&[
        "server",
        "backup",
        "--data-dir",
        &d("nothing"),
        "--to",
        &d("x"),
    ]);
    assert!(err.contains("cannot back up"), "{err}");
    assert!(!Path::new(&d("nothing")).exists(), "nothing is created");
    assert!(!Path::new(&d("x")).exists());

    // restore: files that are not Castellan backups; the data directory is left alone.
    std::fs::write(d("notes.txt"), b"not a database, just text").unwrap();
    for bad in [d("notes.txt"), d("missing.sqlite3"), d("taken")] {
        let err = fails(&[
            "server",
            "restore",
            "--from",
            &bad,
            "--data-dir",
            &d("restored"),
        ]);
        assert!(err.contains("is not a usable Castellan backup"), "{err}");
    }
    assert!(!Path::new(&d("restored")).exists());

    // migrate-db: only SQLite to PostgreSQL, from a Castellan database.
    let err = fails(&[
        "server",
        "migrate-db",
        "--from",
        "postgres://127.0.0.1:1/x",
        "--to",
        "postgres://127.0.0.1:1/y",
    ]);
    assert!(err.contains("--from must be a SQLite database"), "{err}");
    let err = fails(&[
        "server",
        "migrate-db",
        "--from",
        &sqlite_url(&dir.path().join("notes.txt")),
        "--to",
        "postgres://127.0.0.1:1/y",
    ]);
    assert!(err.contains("not a SQLite database"), "{err}");
    let err = fails(&[
        "server",
        "migrate-db",
        "--from",
        &sqlite_url(&dir.path().join("notes.txt")),
        "--to",
        &sqlite_url(&dir.path().join("other")),
    ]);
    assert!(err.contains("--to must be a PostgreSQL database"), "{err}");

    // The server's own options and the subcommands do not mix; every form has help.
    let err = fails(&["server", "--bind", "127.0.0.1:1", "backup", "--to", &d("y")]);
    assert!(err.contains("backup"), "{err}");
    for args in [
        vec!["server", "--help"],
        vec!["server", "migrate-db", "--help"],
        vec!["server", "backup", "--help"],
        vec!["server", "restore", "--help"],
    ] {
        let out = castellan(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}
