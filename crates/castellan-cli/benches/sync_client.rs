//! End-to-end sync cost on the client side, over loopback against a real server on SQLite: a
//! first full sync of a large vault on a new device (fetch, verify every object against the
//! signed manifest, store in the offline cache), then decrypting and indexing it, then a delta
//! sync with one change. Run with `cargo bench -p castellan-cli --bench sync_client`
//! (`-- --quick` for 1,000 items instead of 10,000).

use std::time::{Duration, Instant};

use castellan_client::account;
use castellan_client::home::Home;
use castellan_client::item::{ItemData, ItemType};
use castellan_client::sync::sync_now;
use castellan_client::vault::VaultSession;
use castellan_types::VaultKindDto;

const PW: &str = "benchmark password";

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
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
        let data = tempfile::tempdir().unwrap();
        let store = castellan_store_sqlite::SqliteStore::open(&data.path().join("bench.sqlite3")).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(castellan_server::serve(store, castellan_server::Settings::default(), listener, std::future::pending()));

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
