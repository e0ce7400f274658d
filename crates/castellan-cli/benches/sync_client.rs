//! End-to-end sync cost on the client side, over loopback against a real server on SQLite (or
//! on PostgreSQL when `CASTELLAN_BENCH_DATABASE_URL` is set: a `postgres://` URL of an empty
//! database, whose tables the bench creates with `PgStore::connect`): a first full sync of a
//! large vault on a new device (fetch, verify every object against the signed manifest, store
//! in the offline cache), then decrypting and indexing it, then a delta sync with one change.
//! Run with `cargo bench -p castellan-cli --bench sync_client` (`-- --quick` for 1,000 items
//! instead of 10,000).

use std::future::Future;
use std::time::{Duration, Instant};

use castellan_client::account;
use castellan_client::home::Home;
use castellan_client::item::{ItemData, ItemType};
use castellan_client::sync::sync_now;
use castellan_client::vault::VaultSession;
use castellan_types::VaultKindDto;
use tokio::net::TcpListener;

const PW: &str = "benchmark password";

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The server under test, on loopback.
struct BenchServer {
    url: String,
    /// The store, for the report.
    backend: String,
    /// The SQLite database's directory, kept until the end.
    _data: Option<tempfile::TempDir>,
}

/// The database of the server: `CASTELLAN_BENCH_DATABASE_URL` (PostgreSQL) when set.
const DATABASE_URL_VAR: &str = "CASTELLAN_BENCH_DATABASE_URL";

/// Starts the server on PostgreSQL (`CASTELLAN_BENCH_DATABASE_URL`, an empty database) or on
/// SQLite in a temporary directory. Only the opening of the store differs; both are served by
/// the generic `castellan_server::serve` through [`spawn_server`] and measured by the same code.
async fn start_server() -> BenchServer {
    match std::env::var(DATABASE_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        Some(db) => {
            let shown = castellan_server::redact_database_url(&db);
            let store = castellan_store_postgres::PgStore::connect(&db)
                .await
                .unwrap_or_else(|e| panic!("{DATABASE_URL_VAR} ({shown}): {e}"));
            BenchServer {
                url: spawn_server(|l| {
                    castellan_server::serve(store, Default::default(), l, std::future::pending())
                })
                .await,
                backend: format!(
                    "PostgreSQL {shown} (pool of {})",
                    castellan_store_postgres::DEFAULT_MAX_CONNECTIONS
                ),
                _data: None,
            }
        }
        None => {
            let data = tempfile::tempdir().unwrap();
            let store =
                castellan_store_sqlite::SqliteStore::open(&data.path().join("bench.sqlite3"))
                    .await
                    .unwrap();
            BenchServer {
                url: spawn_server(|l| {
                    castellan_server::serve(store, Default::default(), l, std::future::pending())
                })
                .await,
                backend: "SQLite (WAL)".into(),
                _data: Some(data),
            }
        }
    }
}

/// Binds a free loopback port and runs `serve` on it in the background (the bench's runtime, so
/// the server and the client share its 2 worker threads); returns the base URL.
/// `castellan-store` (the `Store` trait) is not a dependency of this package, so the generic
/// part is the serving future rather than a `S: Store` parameter.
async fn spawn_server<F>(serve: impl FnOnce(TcpListener) -> F) -> String
where
    F: Future<Output = Result<(), castellan_server::ServerError>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = serve(listener);
    tokio::spawn(async move {
        if let Err(e) = server.await {
            panic!("bench server: {e}");
        }
    });
    url
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: usize = if quick { 1_000 } else { 10_000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let server = start_server().await;
        let url = server.url.clone();
        println!("server: {}, loopback HTTP/1.1, sharing the bench's 2 worker threads", server.backend);

        let d1 = tempfile::tempdir().unwrap();
        let h1 = Home::new(d1.path());
        let (reg, _) = account::register(&h1, &url, "bench@example.com", PW, "device 1").await.unwrap();
        let mut s1 = VaultSession::open(&h1, PW, false).await.unwrap();
        let items: Vec<ItemData> = (0..n)
            .map(|i| {
                let mut d = ItemData::new(ItemType::Login, &format!("Service {i} at customer {}", i % 97), 1).unwrap();
                d.set_field("username", &format!("user{i}@customer{}.example", i % 97), 1).unwrap();
                d.set_field("password", &format!("pw-{i}-xxxxxxxxxxxxxxxxxxxxxxxx"), 1).unwrap();
                d.set_field("url", &format!("https://app{i}.customer{}.example/login", i % 97), 1).unwrap();
                d.notes = "notes of a realistic length for a business login item, ".repeat(3);
                d
            })
            .collect();
        let t = Instant::now();
        s1.create_items(VaultKindDto::Business, &items).await.unwrap();
        println!("setup: {n} items created and pushed from device 1 in {}", ms(t.elapsed()));

        let mut full = Vec::new();
        let mut decrypt = Vec::new();
        for run in 0..3 {
            let d2 = tempfile::tempdir().unwrap();
            let h2 = Home::new(d2.path());
            let acct = account::login(&h2, &url, "bench@example.com", PW, Some(&reg.secret_key), "device 2").await.unwrap();
            let t = Instant::now();
            let report = sync_now(&h2, &acct).await.unwrap();
            full.push(t.elapsed());
            assert_eq!(report.pulled, n, "run {run}");
            let s2 = VaultSession::from_parts(&h2, h2.device().unwrap(), acct).await.unwrap();
            let t = Instant::now();
            let snap = s2.local_snapshot().await.unwrap();
            let idx = snap.index();
            decrypt.push(t.elapsed());
            assert_eq!(idx.len(), n);
        }
        full.sort();
        decrypt.sort();
        println!("first full sync of {n} items on a new device (fetch + verify manifest + store): median {}", ms(full[1]));
        println!("then decrypt and index the {n} items from the offline cache: median {}", ms(decrypt[1]));

        // Delta sync on device 1 after one change made elsewhere.
        let d3 = tempfile::tempdir().unwrap();
        let h3 = Home::new(d3.path());
        let acct3 = account::login(&h3, &url, "bench@example.com", PW, Some(&reg.secret_key), "device 3").await.unwrap();
        let mut s3 = VaultSession::from_parts(&h3, h3.device().unwrap(), acct3).await.unwrap();
        s3.sync().await.unwrap();
        let mut delta = Vec::new();
        let mut noop = Vec::new();
        for i in 0..20 {
            let mut d = ItemData::new(ItemType::Login, &format!("Change {i}"), 1).unwrap();
            d.set_field("password", "x", 1).unwrap();
            s1.create_item(VaultKindDto::Personal, &d).await.unwrap();
            let t = Instant::now();
            let r = s3.sync().await.unwrap();
            delta.push(t.elapsed());
            assert_eq!(r.pulled, 1);
            let t = Instant::now();
            s3.sync().await.unwrap();
            noop.push(t.elapsed());
        }
        delta.sort();
        noop.sort();
        println!("delta sync with one change in a {n}-item vault (client end to end): median {}, max {}", ms(delta[10]), ms(delta[19]));
        println!("delta sync with nothing changed (client end to end): median {}", ms(noop[10]));
    });
}
