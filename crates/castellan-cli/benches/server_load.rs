//! Load driver for the server: real HTTP over loopback against a server on a temporary SQLite
//! database. Measures item create (PUT) and read (GET) latency, sequential and with concurrent
//! clients. Run with `cargo bench -p castellan-cli --bench server_load` (add `-- --quick` for a
//! short run). Figures go to docs/benchmarks.md.

use std::time::{Duration, Instant};

use castellan_client::account;
use castellan_client::api::ApiClient;
use castellan_client::home::Home;
use castellan_client::item::{ItemData, ItemType};
use castellan_client::vault::{codec, VaultSession};
use castellan_crypto::SymmetricKey;
use castellan_types::{ObjectKindDto, PutObjectRequest, VaultKindDto};
use uuid::Uuid;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut d: Vec<Duration>, wall: Duration) {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    println!(
        "{name:<34} n={:<6} p50={:>7.3} ms  p90={:>7.3} ms  p99={:>7.3} ms  max={:>7.3} ms  throughput={:>8.0}/s",
        d.len(),
        ms(pct(&d, 0.5)),
        ms(pct(&d, 0.9)),
        ms(pct(&d, 0.99)),
        ms(*d.last().unwrap_or(&Duration::ZERO)),
        d.len() as f64 / wall.as_secs_f64()
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: usize = if quick { 300 } else { 2000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let data = tempfile::tempdir().unwrap();
        let store = castellan_store_sqlite::SqliteStore::open(&data.path().join("bench.sqlite3")).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(castellan_server::serve(store, castellan_server::Settings::default(), listener, std::future::pending()));

        let home_dir = tempfile::tempdir().unwrap();
        let home = Home::new(home_dir.path());
        account::register(&home, &url, "bench@example.com", "benchmark password", "bench").await.unwrap();
        let session = VaultSession::open(&home, "benchmark password", false).unwrap();
        let token = session.state.session_token.clone();
        let vault = session.account.vault(VaultKindDto::Business).unwrap();

        // Pre-seal the items so only the server and HTTP are measured.
        let mut reqs = Vec::with_capacity(n);
        for i in 0..n {
            let mut d = ItemData::new(ItemType::Login, &format!("Item {i}"), 1).unwrap();
            d.set_field("password", "xxxxxxxxxxxxxxxxxxxx", 1).unwrap();
            d.set_field("url", &format!("https://site{i}.example"), 1).unwrap();
            let id = Uuid::new_v4();
            let (key_wrap, overview, details) = codec::seal_item(&session.account, vault, id, &SymmetricKey::generate(), 1, &d).unwrap();
            reqs.push((
                id,
                PutObjectRequest {
                    vault_id: vault.id,
                    kind: ObjectKindDto::Item,
                    version: 1,
                    expected_version: None,
                    trashed: false,
                    key_wrap: key_wrap.into(),
                    overview: overview.into(),
                    details: details.into(),
                },
            ));
        }
        let api = ApiClient::new(&url).unwrap().with_token(token);

        println!("castellan server load driver: {n} items, SQLite (WAL), loopback HTTP/1.1, 2 server worker threads");
        let half = n / 2;
        let start = Instant::now();
        let mut lat = Vec::new();
        for (id, req) in &reqs[..half] {
            let t = Instant::now();
            api.put_object(*id, req).await.unwrap();
            lat.push(t.elapsed());
        }
        report("create item (sequential)", lat, start.elapsed());

        let start = Instant::now();
        let mut lat = Vec::new();
        for (id, _) in &reqs[..half] {
            let t = Instant::now();
            api.get_object(*id).await.unwrap();
            lat.push(t.elapsed());
        }
        report("read item (sequential)", lat, start.elapsed());

        // Concurrent clients.
        let clients = 16;
        let chunks: Vec<Vec<(Uuid, PutObjectRequest)>> = reqs[half..].chunks((n - half).div_ceil(clients)).map(|c| c.to_vec()).collect();
        let start = Instant::now();
        let mut handles = Vec::new();
        for chunk in chunks.clone() {
            let api = api.clone();
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                for (id, req) in chunk {
                    let t = Instant::now();
                    api.put_object(id, &req).await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for h in handles {
            lat.extend(h.await.unwrap());
        }
        report(&format!("create item ({clients} concurrent)"), lat, start.elapsed());

        let start = Instant::now();
        let mut handles = Vec::new();
        for chunk in chunks {
            let api = api.clone();
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                for (id, _) in chunk {
                    let t = Instant::now();
                    api.get_object(id).await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for h in handles {
            lat.extend(h.await.unwrap());
        }
        report(&format!("read item ({clients} concurrent)"), lat, start.elapsed());

        let start = Instant::now();
        let mut lat = Vec::new();
        for _ in 0..if quick { 5 } else { 20 } {
            let t = Instant::now();
            let list = api.list_objects(None).await.unwrap();
            assert_eq!(list.objects.len(), n);
            lat.push(t.elapsed());
        }
        report(&format!("list all {n} objects"), lat, start.elapsed());
    });
}
