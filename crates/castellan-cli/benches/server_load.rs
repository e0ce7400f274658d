//! Load driver for the server: real HTTP over loopback against a server on a temporary SQLite
//! database, or on PostgreSQL when `CASTELLAN_BENCH_DATABASE_URL` is set (a `postgres://` URL of
//! an empty database: the bench creates its tables with `PgStore::connect` and fills them).
//! Measures item create (PUT) and read (GET) latency, sequential and with concurrent clients,
//! and the sync workload: a full sync of a 10,000-item vault through `GET /sync`, a delta sync
//! after one change (1,000- and 10,000-item vaults), and concurrent no-change delta syncs. Run
//! with `cargo bench -p castellan-cli --bench server_load` (add `-- --quick` for a short run).
//! Figures go to docs/benchmarks.md.
//!
//! Every write carries the next manifest of its vault (a dummy 200-byte blob: the server checks
//! only the counter). Writes to one vault are serial by design (the manifest counter is a
//! compare-and-swap), so the concurrent measurements use one account per client.
//!
//! `GET /sync` is read with a minimal HTTP/1.1 keep-alive client over a plain TCP stream
//! ([`RawHttp`]) so that the exact response size is known; the time includes reading the whole
//! body and parsing the JSON into `SyncResponse`.

use std::future::Future;
use std::time::{Duration, Instant};

use castellan_client::account;
use castellan_client::api::ApiClient;
use castellan_client::home::Home;
use castellan_client::item::{ItemData, ItemType};
use castellan_client::vault::{codec, VaultSession};
use castellan_crypto as crypto;
use castellan_crypto::SymmetricKey;
use castellan_types::{
    AccountKeyset, Bytes, LoginFinishRequest, LoginStartRequest, ManifestDto, ObjectKindDto,
    PutObjectRequest, RegisterFinishRequest, RegisterStartRequest, SyncResponse, VaultDto,
    VaultKindDto,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

const PASSWORD: &str = "benchmark password";

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(x: Duration) -> f64 {
    x.as_secs_f64() * 1000.0
}

fn report(name: &str, mut d: Vec<Duration>, wall: Duration) {
    d.sort();
    println!(
        "{name:<44} n={:<6} p50={:>8.3} ms  p90={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms  throughput={:>8.0}/s",
        d.len(),
        ms(pct(&d, 0.5)),
        ms(pct(&d, 0.9)),
        ms(pct(&d, 0.99)),
        ms(*d.last().unwrap_or(&Duration::ZERO)),
        d.len() as f64 / wall.as_secs_f64()
    );
}

/// `n` random bytes (from v4 UUIDs: the package has no `rand`).
fn random_bytes(n: usize) -> Bytes {
    let mut b = Vec::with_capacity(n + 16);
    while b.len() < n {
        b.extend_from_slice(Uuid::new_v4().as_bytes());
    }
    b.truncate(n);
    Bytes(b)
}

/// A dummy signed manifest: the server stores it as it is and checks only the counter.
fn manifest(vault_id: Uuid, counter: i64) -> ManifestDto {
    ManifestDto {
        vault_id,
        counter,
        manifest: random_bytes(200),
    }
}

/// An item of ~1 KB of ciphertext (random bytes: the server never opens envelopes).
fn random_item(vault_id: Uuid, version: i64, counter: i64) -> PutObjectRequest {
    PutObjectRequest {
        vault_id,
        kind: ObjectKindDto::Item,
        version,
        expected_version: (version > 1).then_some(version - 1),
        trashed: false,
        key_wrap: random_bytes(100),
        overview: random_bytes(300),
        details: random_bytes(620),
        manifests: vec![manifest(vault_id, counter)],
    }
}

/// An account registered and logged in through the raw API (Argon2id at the floor).
struct Account {
    token: String,
    vault: Uuid,
    api: ApiClient,
    /// The manifest counter of `vault`.
    counter: i64,
}

async fn raw_account(url: &str, email: &str) -> Account {
    let api = ApiClient::new(url).unwrap();
    let sk = crypto::SecretKey::from_bytes([7u8; 16]);
    let pw = crypto::password_input(PASSWORD, &sk);
    let user_id = Uuid::new_v4();
    let (state, request) = crypto::client_registration_start(&pw).unwrap();
    let start = api
        .register_start(&RegisterStartRequest {
            email: email.into(),
            user_id,
            registration_request: request.into(),
        })
        .await
        .unwrap();
    let (upload, _, _) = crypto::client_registration_finish(
        state,
        &pw,
        start.registration_response.as_slice(),
        crypto::KsfParams::FLOOR,
    )
    .unwrap();
    let blob = || random_bytes(100);
    let vault = Uuid::new_v4();
    api.register_finish(&RegisterFinishRequest {
        email: email.into(),
        user_id,
        registration_record: upload.into(),
        keyset: AccountKeyset {
            format: 1,
            ak_version: 1,
            account_key_wrap: blob(),
            ksf: start.ksf,
            signing_key_id: Uuid::new_v4(),
            signing_public_key: random_bytes(32),
            signing_key_wrap: blob(),
            encryption_key_id: Uuid::new_v4(),
            encryption_public_key: random_bytes(32),
            encryption_key_wrap: blob(),
            key_binding_signature: random_bytes(64),
        },
        vaults: vec![
            VaultDto {
                id: Uuid::new_v4(),
                kind: VaultKindDto::Personal,
                key_wrap: blob(),
                key_version: 1,
            },
            VaultDto {
                id: vault,
                kind: VaultKindDto::Business,
                key_wrap: blob(),
                key_version: 1,
            },
        ],
    })
    .await
    .unwrap();
    let (state, request) = crypto::client_login_start(&pw).unwrap();
    let start = api
        .login_start(&LoginStartRequest {
            email: email.into(),
            credential_request: request.into(),
        })
        .await
        .unwrap();
    let (finalization, _, _, _) = crypto::client_login_finish(
        state,
        &pw,
        start.credential_response.as_slice(),
        crypto::KsfParams::FLOOR,
    )
    .unwrap();
    let session = api
        .login_finish(&LoginFinishRequest {
            login_id: start.login_id,
            credential_finalization: finalization.into(),
            device_name: "bench".into(),
        })
        .await
        .unwrap();
    let api = api.with_token(Some(session.session_token.clone()));
    Account {
        token: session.session_token,
        vault,
        api,
        counter: 0,
    }
}

/// Fills the account's vault with `n` random items; returns their ids.
async fn fill(acct: &mut Account, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        acct.counter += 1;
        let id = Uuid::new_v4();
        acct.api
            .put_object(id, &random_item(acct.vault, 1, acct.counter))
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

/// A minimal HTTP/1.1 client (one keep-alive connection, GET only) for `GET /sync`.
struct RawHttp {
    conn: BufReader<TcpStream>,
    host: String,
    token: String,
}

impl RawHttp {
    async fn connect(base_url: &str, token: &str) -> Self {
        let host = base_url.trim_start_matches("http://").to_string();
        let stream = TcpStream::connect(&host).await.unwrap();
        stream.set_nodelay(true).unwrap();
        RawHttp {
            conn: BufReader::new(stream),
            host,
            token: token.to_string(),
        }
    }

    /// Returns the status and the body.
    async fn get(&mut self, path: &str) -> (u16, Vec<u8>) {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\n\r\n",
            self.host, self.token
        );
        self.conn
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        self.conn.read_line(&mut line).await.unwrap();
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let (mut length, mut chunked) = (None, false);
        loop {
            line.clear();
            self.conn.read_line(&mut line).await.unwrap();
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.parse::<usize>().unwrap());
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.conn.read_line(&mut line).await.unwrap();
                let size = usize::from_str_radix(line.trim(), 16).unwrap();
                let start = body.len();
                body.resize(start + size, 0);
                self.conn.read_exact(&mut body[start..]).await.unwrap();
                line.clear();
                self.conn.read_line(&mut line).await.unwrap();
                if size == 0 {
                    break;
                }
            }
        } else {
            body.resize(length.expect("a content-length"), 0);
            self.conn.read_exact(&mut body).await.unwrap();
        }
        (status, body)
    }

    /// The cursor at the end of the feed (pages of 5000 from 0).
    async fn head(&mut self) -> i64 {
        let mut cursor = 0;
        loop {
            let (page, _) = self.sync(cursor, 5000).await;
            cursor = page.cursor;
            if !page.has_more {
                return cursor;
            }
        }
    }

    /// One `GET /sync` page: the parsed response and its body size.
    async fn sync(&mut self, since: i64, limit: u32) -> (SyncResponse, usize) {
        let (status, body) = self
            .get(&format!("/api/v1/sync?since={since}&limit={limit}"))
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        (serde_json::from_slice(&body).unwrap(), body.len())
    }
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
/// the server and the load generator share its 2 worker threads); returns the base URL.
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
    let n: usize = if quick { 300 } else { 2000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let server = start_server().await;
        let url = server.url.clone();

        let home_dir = tempfile::tempdir().unwrap();
        let home = Home::new(home_dir.path());
        account::register(&home, &url, "bench@example.com", PASSWORD, "bench").await.unwrap();
        let session = VaultSession::open(&home, PASSWORD, false).await.unwrap();
        let token = session.state.session_token.clone();
        let vault = session.account.vault(VaultKindDto::Business).unwrap();

        // Pre-seal the items so only the server and HTTP are measured. The first half goes to
        // the registered user's business vault, each write with the next manifest counter.
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
                    manifests: Vec::new(),
                },
            ));
        }
        let api = ApiClient::new(&url).unwrap().with_token(token);

        println!("castellan server load driver: {n} items, {}, loopback HTTP/1.1, 2 server worker threads", server.backend);
        let half = n / 2;
        let start = Instant::now();
        let mut lat = Vec::new();
        for (counter, (id, req)) in reqs[..half].iter().enumerate() {
            let req = PutObjectRequest { manifests: vec![manifest(vault.id, counter as i64 + 1)], ..req.clone() };
            let t = Instant::now();
            api.put_object(*id, &req).await.unwrap();
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

        // Concurrent clients: one account each (writes to one vault are serial by design).
        let clients = 16;
        let mut accounts = Vec::new();
        for c in 0..clients {
            accounts.push(raw_account(&url, &format!("bench-{c}@example.com")).await);
        }
        let chunks: Vec<Vec<(Uuid, PutObjectRequest)>> = reqs[half..].chunks((n - half).div_ceil(clients)).map(|c| c.to_vec()).collect();
        let start = Instant::now();
        let mut handles = Vec::new();
        for (chunk, acct) in chunks.iter().cloned().zip(&accounts) {
            let (api, vault_id) = (acct.api.clone(), acct.vault);
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                for (counter, (id, req)) in chunk.into_iter().enumerate() {
                    let req = PutObjectRequest { vault_id, manifests: vec![manifest(vault_id, counter as i64 + 1)], ..req };
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
        for (chunk, acct) in chunks.into_iter().zip(&accounts) {
            let api = acct.api.clone();
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
            assert_eq!(list.objects.len(), half);
            lat.push(t.elapsed());
        }
        report(&format!("list all {half} objects"), lat, start.elapsed());

        // ---- sync workload
        let big_n = 10_000;
        let small_n = 1_000;
        println!();
        println!("sync workload: vaults of {small_n} and {big_n} items of ~1 KB of ciphertext, GET /sync");
        let t = Instant::now();
        let mut big = raw_account(&url, "sync-10k@example.com").await;
        let big_ids = fill(&mut big, big_n).await;
        let mut small = raw_account(&url, "sync-1k@example.com").await;
        let small_ids = fill(&mut small, small_n).await;
        println!("(built in {:.1} s)", t.elapsed().as_secs_f64());

        // (a) Full sync from cursor 0, pages of 5000, including reading and parsing the JSON.
        let runs = if quick { 3 } else { 7 };
        let mut http = RawHttp::connect(&url, &big.token).await;
        let mut lat = Vec::new();
        let mut bytes = 0;
        let mut pages = 0;
        let start = Instant::now();
        for _ in 0..runs {
            let t = Instant::now();
            let (mut cursor, mut objects) = (0, 0);
            (bytes, pages) = (0, 0);
            loop {
                let (page, size) = http.sync(cursor, 5000).await;
                objects += page.objects.len();
                bytes += size;
                pages += 1;
                cursor = page.cursor;
                if !page.has_more {
                    break;
                }
            }
            lat.push(t.elapsed());
            assert_eq!(objects, big_n);
        }
        report(&format!("full sync {big_n} items (limit 5000)"), lat, start.elapsed());
        println!("{:<44} {pages} pages, {bytes} bytes ({:.1} MB, {:.0} bytes/item)", "", bytes as f64 / 1e6, bytes as f64 / big_n as f64);

        // (b) Delta sync after one change, on both vaults.
        let rounds = if quick { 50 } else { 300 };
        for (acct, ids) in [(&mut small, &small_ids), (&mut big, &big_ids)] {
            let mut http = RawHttp::connect(&url, &acct.token).await;
            let mut cursor = http.head().await;
            let mut versions = vec![1i64; ids.len()];
            let mut lat = Vec::new();
            let mut sizes = Vec::new();
            let start = Instant::now();
            for r in 0..rounds {
                let i = (r * 7919) % ids.len();
                versions[i] += 1;
                acct.counter += 1;
                acct.api.put_object(ids[i], &random_item(acct.vault, versions[i], acct.counter)).await.unwrap();
                let t = Instant::now();
                let (page, size) = http.sync(cursor, 1000).await;
                lat.push(t.elapsed());
                assert_eq!(page.objects.len(), 1);
                assert!(!page.has_more && !page.reset);
                cursor = page.cursor;
                sizes.push(size);
            }
            sizes.sort();
            report(&format!("delta sync, 1 change, {}-item vault", ids.len()), lat, start.elapsed());
            println!("{:<44} response {} bytes (min {}, max {})", "", sizes[sizes.len() / 2], sizes[0], sizes[sizes.len() - 1]);
        }

        // (c) 16 clients doing no-change delta syncs for ~5 s.
        let duration = Duration::from_secs(if quick { 2 } else { 5 });
        let head = RawHttp::connect(&url, &big.token).await.head().await;
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..clients {
            let (url, token) = (url.clone(), big.token.clone());
            handles.push(tokio::spawn(async move {
                let mut http = RawHttp::connect(&url, &token).await;
                let mut lat = Vec::new();
                let mut size = 0;
                while start.elapsed() < duration {
                    let t = Instant::now();
                    let (page, s) = http.sync(head, 1000).await;
                    lat.push(t.elapsed());
                    assert!(page.objects.is_empty() && page.tombstones.is_empty());
                    size = s;
                }
                (lat, size)
            }));
        }
        let mut lat = Vec::new();
        let mut size = 0;
        for h in handles {
            let (l, s) = h.await.unwrap();
            lat.extend(l);
            size = s;
        }
        report(&format!("no-change delta sync ({clients} concurrent)"), lat, start.elapsed());
        println!("{:<44} response {size} bytes", "");
    });
}
