//! A malicious-server test double: a proxy in front of the real server that rewrites responses.
//! Each test is one property of docs/security-design.md §9 "What a malicious server can and cannot do":
//! the client must refuse, never obey.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes as BodyBytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use castellan_client::account;
use castellan_client::home::Home;
use castellan_client::item::{ItemData, ItemType};
use castellan_client::vault::VaultSession;
use castellan_client::ClientError;
use castellan_types::{Bytes, VaultKindDto};
use serde_json::Value;

const PW: &str = "malicious server test password";

type Mutator = Box<dyn Fn(&Method, &str, &mut Value) + Send + Sync>;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    mutator: Arc<Mutex<Option<Mutator>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Proxy {
    fn set(&self, m: impl Fn(&Method, &str, &mut Value) + Send + Sync + 'static) {
        *self.mutator.lock().unwrap() = Some(Box::new(m));
    }
    fn clear(&self) {
        *self.mutator.lock().unwrap() = None;
    }
    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

async fn forward(
    State(p): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: BodyBytes,
) -> impl IntoResponse {
    let path = uri.path().to_string();
    *p.hits.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
    let url = format!(
        "{}{}",
        p.upstream,
        uri.path_and_query().map(|x| x.as_str()).unwrap_or("/")
    );
    let mut req = p
        .http
        .request(
            reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
            url,
        )
        .body(body.to_vec());
    for name in ["authorization", "content-type"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.to_str().unwrap());
        }
    }
    let resp = req.send().await.unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let bytes = resp.bytes().await.unwrap();
    let mut out = bytes.to_vec();
    if let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) {
        if let Some(m) = p.mutator.lock().unwrap().as_ref() {
            m(&method, &path, &mut v);
            out = serde_json::to_vec(&v).unwrap();
        }
    }
    (status, [("content-type", "application/json")], out)
}

struct Env {
    proxy: Proxy,
    url: String,
    _data: tempfile::TempDir,
}

async fn env() -> Env {
    let data = tempfile::tempdir().unwrap();
    let store = castellan_store_sqlite::SqliteStore::open(&data.path().join("db.sqlite3"))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(castellan_server::serve(
        store,
        castellan_server::Settings::default(),
        listener,
        std::future::pending(),
    ));
    let proxy = Proxy {
        upstream,
        http: reqwest::Client::new(),
        mutator: Arc::new(Mutex::new(None)),
        hits: Arc::new(Mutex::new(HashMap::new())),
    };
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(proxy.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    Env {
        proxy,
        url,
        _data: data,
    }
}

struct User {
    home: Home,
    _dir: tempfile::TempDir,
    secret_key: String,
}

async fn user(env: &Env, email: &str) -> User {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path());
    let (reg, _) = account::register(&home, &env.url, email, PW, "test")
        .await
        .unwrap();
    User {
        home,
        _dir: dir,
        secret_key: reg.secret_key.to_string(),
    }
}

async fn session(u: &User) -> VaultSession {
    VaultSession::open(&u.home, PW, false).await.unwrap()
}

async fn add(s: &mut VaultSession, profile: VaultKindDto, title: &str) -> uuid::Uuid {
    let mut d = ItemData::new(ItemType::Login, title, 1).unwrap();
    d.set_field("password", &format!("{title}-secret"), 1)
        .unwrap();
    s.create_item(profile, &d).await.unwrap()
}

fn objects(v: &mut Value) -> &mut Vec<Value> {
    v["objects"].as_array_mut().unwrap()
}

fn assert_integrity<T: std::fmt::Debug>(r: Result<T, ClientError>, what: &str) {
    match r {
        Err(ClientError::Integrity(_)) => {}
        other => panic!("{what}: expected an integrity error, got {other:?}"),
    }
}

fn b64_mutate(v: &mut Value, f: impl Fn(&mut Vec<u8>)) {
    let mut b = Bytes::from_b64(v.as_str().unwrap()).unwrap().0;
    f(&mut b);
    *v = Value::String(Bytes(b).to_b64());
}

fn is_sync(m: &Method, p: &str) -> bool {
    m == Method::GET && p == "/api/v1/sync"
}

/// Makes the next sync a full one, so the server's answer contains every object.
async fn full_resync(s: &VaultSession) {
    s.cache().set_meta("cursor", "0").await.unwrap();
}

/// A tampered sync is refused, and leaves the device's data as it was.
async fn refused(s: &mut VaultSession, what: &str) {
    let before = s.local_snapshot().await.unwrap().items.len();
    full_resync(s).await;
    assert_integrity(s.sync().await, what);
    assert_eq!(
        s.local_snapshot().await.unwrap().items.len(),
        before,
        "{what}: the cache is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_swapped_p2_moved_p3_swapped_envelopes_p7_dropped_p8_duplicated_items_are_refused() {
    let env = env().await;
    let u = user(&env, "p1@example.com").await;
    let mut s = session(&u).await;
    add(&mut s, VaultKindDto::Personal, "one").await;
    add(&mut s, VaultKindDto::Personal, "two").await;
    assert_eq!(s.snapshot().await.unwrap().items.len(), 2);

    // 1: swap the ciphertexts of two items in the same vault.
    env.proxy.set(|m, p, v| {
        if is_sync(m, p) {
            let objs = objects(v);
            let (a, b) = (objs[0].clone(), objs[1].clone());
            for k in ["key_wrap", "overview", "details"] {
                objs[0][k] = b[k].clone();
                objs[1][k] = a[k].clone();
            }
        }
    });
    refused(&mut s, "swapped items").await;

    // 3: swap the overview and details envelopes of one item.
    env.proxy.set(|m, p, v| {
        if is_sync(m, p) {
            let o = &mut objects(v)[0];
            let ov = o["overview"].clone();
            o["overview"] = o["details"].clone();
            o["details"] = ov;
        }
    });
    refused(&mut s, "swapped overview/details").await;

    // 2: move an item (envelopes and key wrap) into the user's other vault.
    let business = s.account.vault(VaultKindDto::Business).unwrap().id;
    env.proxy.set(move |m, p, v| {
        if is_sync(m, p) {
            objects(v)[0]["vault_id"] = Value::String(business.to_string());
        }
    });
    refused(&mut s, "item moved to another vault").await;

    // 7: drop an item: a new device gets a listing without it, and a known device is told it
    // was deleted (a forged tombstone).
    env.proxy.set(|m, p, v| {
        if is_sync(m, p) {
            objects(v).remove(0);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let fresh = Home::new(dir.path());
    account::login(
        &fresh,
        &env.url,
        "p1@example.com",
        PW,
        Some(&u.secret_key),
        "second device",
    )
    .await
    .unwrap();
    let mut s2 = VaultSession::open(&fresh, PW, false).await.unwrap();
    assert_integrity(s2.sync().await, "dropped item on a new device");
    assert!(
        s2.local_snapshot().await.unwrap().items.is_empty(),
        "nothing accepted"
    );
    let victim = s.local_snapshot().await.unwrap().items[0].clone();
    env.proxy.set(move |m, p, v| {
        if is_sync(m, p) {
            v["tombstones"] =
                serde_json::json!([{ "id": victim.id, "vault_id": victim.vault_id, "seq": 1 }]);
        }
    });
    refused(&mut s, "forged tombstone").await;

    // 8: duplicate an item under a new id.
    env.proxy.set(|m, p, v| {
        if is_sync(m, p) {
            let mut copy = objects(v)[0].clone();
            copy["id"] = Value::String(uuid::Uuid::new_v4().to_string());
            objects(v).push(copy);
        }
    });
    refused(&mut s, "duplicated item").await;

    env.proxy.clear();
    full_resync(&s).await;
    assert_eq!(
        s.snapshot().await.unwrap().items.len(),
        2,
        "honest answers still work"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p4_rollback_p20_replayed_state_p5_bit_flips_p6_suite_downgrade_p9_relabelled_key_id_are_refused(
) {
    let env = env().await;
    let u = user(&env, "p4@example.com").await;
    let mut s = session(&u).await;
    let id = add(&mut s, VaultKindDto::Business, "rollback me").await;

    // Capture the full state at version 1, then edit to version 2.
    let old: Arc<Mutex<Option<Value>>> = Arc::new(Mutex::new(None));
    let cap = old.clone();
    env.proxy.set(move |m, p, v| {
        if is_sync(m, p) {
            *cap.lock().unwrap() = Some(v.clone());
        }
    });
    full_resync(&s).await;
    s.sync().await.unwrap();
    env.proxy.clear();
    s.update_item(id, None, None, |d| d.set_field("password", "newer", 2))
        .await
        .unwrap();
    assert_eq!(s.snapshot().await.unwrap().items[0].version, 2);

    // 4 and 20: the server replays the old state (old object, old manifest).
    let replay = old.lock().unwrap().clone().unwrap();
    env.proxy.set(move |m, p, v| {
        if is_sync(m, p) {
            *v = replay.clone();
        }
    });
    refused(&mut s, "rollback to an older version").await;
    // A new session on the same device remembers what it saw.
    let mut s2 = session(&u).await;
    refused(&mut s2, "rollback seen by a new session on the same device").await;
    env.proxy.clear();

    // 5: single bits flipped (sampled positions; the crypto crate checks every bit).
    let len = s.api().list_objects(None).await.unwrap().objects[0]
        .overview
        .len();
    for pos in [0, 4, 5, 10, 30, 50, 77, 100, len - 1] {
        env.proxy.set(move |m, p, v| {
            if is_sync(m, p) {
                b64_mutate(&mut objects(v)[0]["overview"], |b| b[pos] ^= 0x01);
            }
        });
        refused(&mut s, &format!("bit flip at {pos}")).await;
    }
    env.proxy.set(|m, p, v| {
        if is_sync(m, p) {
            b64_mutate(&mut objects(v)[0]["key_wrap"], |b| b[60] ^= 0x80);
        }
    });
    refused(&mut s, "bit flip in the key wrap").await;

    // 6: the suite byte downgraded or unknown.
    for suite in [0x00u8, 0x02, 0xff] {
        env.proxy.set(move |m, p, v| {
            if is_sync(m, p) {
                b64_mutate(&mut objects(v)[0]["overview"], |b| b[4] = suite);
            }
        });
        refused(&mut s, &format!("suite {suite:#x}")).await;
    }

    // 9: the envelope relabelled with another key id.
    env.proxy.set(|m, p, v| {
        if is_sync(m, p) {
            b64_mutate(&mut objects(v)[0]["overview"], |b| {
                b[6..22].copy_from_slice(&[7u8; 16])
            });
        }
    });
    refused(&mut s, "relabelled key id").await;

    // A manifest signed by someone else, or with its counter lowered.
    env.proxy.set(|m, p, v| {
        if is_sync(m, p) {
            for man in v["manifests"].as_array_mut().unwrap() {
                b64_mutate(&mut man["manifest"], |b| {
                    let n = b.len();
                    b[n - 5] ^= 0x01;
                });
            }
        }
    });
    refused(&mut s, "forged manifest signature").await;

    env.proxy.clear();
    full_resync(&s).await;
    let snap = s.snapshot().await.unwrap();
    assert_eq!(snap.items[0].version, 2);
    let (_, data) = s.get_item(id).await.unwrap();
    assert_eq!(data.field("password").as_deref(), Some("newer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p13_p14_weakened_kdf_is_refused_before_the_password_is_used() {
    let env = env().await;
    let u = user(&env, "p13@example.com").await;

    // 13: below the compiled floor.
    env.proxy.set(|m, p, v| {
        if m == Method::POST && p == "/api/v1/auth/login/start" {
            v["ksf"] = serde_json::json!({ "m_kib": 8, "t": 1, "p": 1 });
        }
    });
    let before = env.proxy.hits("/api/v1/auth/login/finish");
    let r = account::login(&u.home, &env.url, "p13@example.com", PW, None, "t").await;
    assert_integrity(r, "KSF below floor");
    assert_eq!(
        env.proxy.hits("/api/v1/auth/login/finish"),
        before,
        "no password-derived message was sent"
    );

    // 14: at the floor, but below what this device pinned.
    env.proxy.clear();
    let mut state = u.home.device().unwrap();
    state.ksf.m_kib *= 2;
    u.home.save_device(&state).unwrap();
    let r = account::login(&u.home, &env.url, "p13@example.com", PW, None, "t").await;
    assert_integrity(r, "KSF below the pinned profile");
    assert_eq!(env.proxy.hits("/api/v1/auth/login/finish"), before);

    // Registration also refuses a weak profile.
    env.proxy.set(|m, p, v| {
        if m == Method::POST && p == "/api/v1/accounts/register/start" {
            v["ksf"] = serde_json::json!({ "m_kib": 65536, "t": 1, "p": 4 });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let r = account::register(
        &Home::new(dir.path()),
        &env.url,
        "weak@example.com",
        PW,
        "t",
    )
    .await;
    assert!(
        matches!(r, Err(ClientError::Integrity(_))),
        "weak KSF at registration"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p15_changed_server_key_p18_missing_keys_p19_other_users_key_wrap_are_refused() {
    let env = env().await;
    let alice = user(&env, "alice@example.com").await;
    let bob = user(&env, "bob@example.com").await;

    // 15: the OPAQUE server key differs from the one this device pinned.
    let mut state = alice.home.device().unwrap();
    let real = state.server_public_key.clone();
    state.server_public_key = Bytes(vec![9u8; real.len()]);
    alice.home.save_device(&state).unwrap();
    assert_integrity(
        account::login(&alice.home, &env.url, "alice@example.com", PW, None, "t").await,
        "changed server key",
    );
    state.server_public_key = real;
    alice.home.save_device(&state).unwrap();
    account::login(&alice.home, &env.url, "alice@example.com", PW, None, "t")
        .await
        .unwrap();

    // 18: the server claims the account has no keys / no vaults.
    for mutation in ["no_vaults", "empty_wrap", "no_binding"] {
        env.proxy.set(move |m, p, v| {
            if m == Method::POST && p == "/api/v1/auth/login/finish" {
                match mutation {
                    "no_vaults" => v["account"]["vaults"] = serde_json::json!([]),
                    "empty_wrap" => {
                        v["account"]["keyset"]["signing_key_wrap"] = Value::String(String::new())
                    }
                    _ => {
                        v["account"]["keyset"]["key_binding_signature"] =
                            Value::String(Bytes(vec![0; 64]).to_b64())
                    }
                }
            }
        });
        let before = alice.home.device().unwrap();
        let r = account::login(&alice.home, &env.url, "alice@example.com", PW, None, "t").await;
        assert_integrity(r, mutation);
        let after = alice.home.device().unwrap();
        assert_eq!(
            before.account.keyset, after.account.keyset,
            "{mutation}: no new keys were generated or stored"
        );
    }

    // 19: another user's account key wrap.
    let bob_wrap = bob
        .home
        .device()
        .unwrap()
        .account
        .keyset
        .account_key_wrap
        .to_b64();
    env.proxy.set(move |m, p, v| {
        if m == Method::POST && p == "/api/v1/auth/login/finish" {
            v["account"]["keyset"]["account_key_wrap"] = Value::String(bob_wrap.clone());
        }
    });
    assert_integrity(
        account::login(&alice.home, &env.url, "alice@example.com", PW, None, "t").await,
        "another user's key wrap",
    );

    // ... or Bob's whole account answer for Alice's login.
    env.proxy.clear();
    let bob_sk = bob.secret_key.clone();
    let dir = tempfile::tempdir().unwrap();
    let fresh = Home::new(dir.path());
    let bob_account = serde_json::to_value(bob.home.device().unwrap().account).unwrap();
    env.proxy.set(move |m, p, v| {
        if m == Method::POST && p == "/api/v1/auth/login/finish" {
            v["account"] = bob_account.clone();
        }
    });
    let r = account::login(
        &fresh,
        &env.url,
        "alice@example.com",
        PW,
        Some(&alice.secret_key),
        "t",
    )
    .await;
    assert_integrity(r, "another user's whole account");
    assert!(
        fresh.load_device().unwrap().is_none(),
        "nothing stored after a refused login"
    );
    let _ = bob_sk;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p11_a_server_flipping_the_trash_flag_is_detected() {
    let env = env().await;
    let u = user(&env, "p11@example.com").await;
    let mut s = session(&u).await;
    let keep = add(&mut s, VaultKindDto::Personal, "keep").await;
    let gone = add(&mut s, VaultKindDto::Personal, "gone").await;
    s.update_item(gone, None, Some(true), |_| Ok(()))
        .await
        .unwrap();
    let snap = s.snapshot().await.unwrap();
    assert!(snap.items.iter().any(|i| i.id == gone && i.trashed));

    // The server hides a live item in the trash, or brings a trashed one back.
    for target in [keep, gone] {
        env.proxy.set(move |m, p, v| {
            if is_sync(m, p) {
                for o in objects(v) {
                    if o["id"] == Value::String(target.to_string()) {
                        let t = o["trashed"].as_bool().unwrap();
                        o["trashed"] = Value::Bool(!t);
                    }
                }
            }
        });
        refused(&mut s, "flipped trash flag").await;
    }
    env.proxy.clear();
    full_resync(&s).await;
    assert_eq!(s.snapshot().await.unwrap().items.len(), 2);
}
