//! Malicious-server tests for organisation backup (security reference §9, properties 31–38 as
//! far as they apply): a proxy in front of the real server rewrites what the client reads (the
//! company policy in `/me/membership`, the groups) and records every backup the client uploads.
//! The client must seal backups only to the backup key of the policy it VERIFIED (signed with
//! the pinned company key, counter pinned), never to a substituted, replayed or unsigned one,
//! and must not start backing up because the server says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes as BodyBytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use castellan_client::account::{self, UnlockedAccount};
use castellan_client::backup::{self, RecoveryKit, WriteOutcome};
use castellan_client::home::Home;
use castellan_client::item::{ItemData, ItemType};
use castellan_client::org::admin::{self, OrgSession};
use castellan_client::org::docs::sign;
use castellan_client::org::keys::KeyPair;
use castellan_client::vault::VaultSession;
use castellan_client::ClientError;
use castellan_crypto::HpkePrivateKey;
use castellan_types::*;
use serde_json::Value;
use uuid::Uuid;

const PW: &str = "malicious backup server test password";
const SETUP_TOKEN: &str = "test-setup-token";

/// Rewrites a forwarded JSON answer (method, path, body).
type Mutator = Box<dyn Fn(&str, &str, &mut Value) + Send + Sync>;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    mutator: Arc<Mutex<Option<Mutator>>>,
    /// Every backup the client uploaded (whatever the server answered).
    uploads: Arc<Mutex<Vec<UploadBackupRequest>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Proxy {
    fn mutate(&self, m: impl Fn(&str, &str, &mut Value) + Send + Sync + 'static) {
        *self.mutator.lock().unwrap() = Some(Box::new(m));
    }
    fn honest(&self) {
        *self.mutator.lock().unwrap() = None;
    }
    fn uploads(&self) -> Vec<UploadBackupRequest> {
        self.uploads.lock().unwrap().clone()
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
    if method == Method::POST && path.ends_with("/backups") {
        if let Ok(u) = serde_json::from_slice::<UploadBackupRequest>(&body) {
            p.uploads.lock().unwrap().push(u);
        }
    }
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
    if let Some(m) = p.mutator.lock().unwrap().as_ref() {
        if let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) {
            m(method.as_str(), &path, &mut v);
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
    castellan_store::OrgStore::setup_token_get_or_init(&store, SETUP_TOKEN.into())
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
        uploads: Arc::new(Mutex::new(Vec::new())),
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

/// The partner admin (a confirmed, certified member of the Advanced partner company) with one
/// Business item.
struct Admin {
    home: Home,
    dir: tempfile::TempDir,
    cid: Uuid,
}

async fn admin(env: &Env) -> Admin {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path());
    let (_, account) = account::register(&home, &env.url, "admin@backup.example", PW, "test")
        .await
        .unwrap();
    let created = admin::setup(&home, &account, SETUP_TOKEN, "Backup MSP")
        .await
        .unwrap();
    let mut s = VaultSession::open(&home, PW, false).await.unwrap();
    let mut item = ItemData::new(ItemType::Login, "Firewall", 1).unwrap();
    item.set_field("password", "firewall-pass", 1).unwrap();
    s.create_items(VaultKindDto::Business, &[item])
        .await
        .unwrap();
    s.sync().await.unwrap();
    Admin {
        home,
        dir,
        cid: created.id,
    }
}

async fn org(a: &Admin) -> OrgSession {
    let (_, account) = account::unlock_local(&a.home, PW).unwrap();
    OrgSession::open(&a.home, account).await.unwrap()
}

/// Writes a backup now (forced), as `castellan backup now` does.
async fn write(a: &Admin) -> Result<WriteOutcome, ClientError> {
    let s = VaultSession::open(&a.home, PW, false).await.unwrap();
    backup::write_backup(s.home(), s.cache(), s.api(), &s.account, true).await
}

fn account_of(a: &Admin) -> UnlockedAccount {
    account::unlock_local(&a.home, PW).unwrap().1
}

/// A policy document like `doc` with `change` applied to its body, signed by `key`.
fn resigned(doc: &SignedDoc, key: &KeyPair, change: impl FnOnce(&mut PolicyBody)) -> SignedDoc {
    let mut body: PolicyBody = serde_json::from_slice(doc.body.as_slice()).unwrap();
    change(&mut body);
    sign(&key.signing, statement::POLICY, &body)
}

/// Serves `doc` as the company policy in `/me/membership` (and `/companies/{cid}/policy`).
fn serve_policy(env: &Env, doc: SignedDoc) {
    env.proxy.mutate(move |m, p, v| {
        if m == "GET" && (p == "/api/v1/me/membership" || p.ends_with("/policy")) {
            v["policy"] = serde_json::to_value(&doc).unwrap();
        }
    });
}

fn kit_key(path: &std::path::Path) -> HpkePrivateKey {
    RecoveryKit::read(path).unwrap().private_key().unwrap()
}

/// The last upload is sealed to `key` (and opens with it), never to anything else.
fn assert_last_upload_sealed_to(env: &Env, key: &HpkePrivateKey, what: &str) {
    let up = env.proxy.uploads().pop().expect("a backup was uploaded");
    assert_eq!(
        up.public_key.as_slice(),
        key.public_key().to_bytes().as_slice(),
        "{what}: sealed to the verified key"
    );
}

/// Properties 31 and 32: a substituted backup key (a policy with a key but an invalid
/// signature, signed by another key, or an older document replayed) is never used; the client
/// keeps sealing to the verified key, and the backups it writes open with the admin's kit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn substituted_forged_or_replayed_backup_keys_are_never_used() {
    let env = env().await;
    let a = admin(&env).await;
    let o = org(&a).await;
    let kit1 = a.dir.path().join("kit1.json");
    backup::enable_offline(&o, a.cid, &kit1, None)
        .await
        .unwrap();
    let first_doc = o.api.policy(a.cid).await.unwrap().policy.unwrap();
    // A second key (enabling again): the verified, pinned policy now names key 2.
    let kit2 = a.dir.path().join("kit2.json");
    backup::enable_offline(&o, a.cid, &kit2, None)
        .await
        .unwrap();
    let current = o.api.policy(a.cid).await.unwrap().policy.unwrap();
    let k2 = kit_key(&kit2);
    assert!(matches!(
        write(&a).await.unwrap(),
        WriteOutcome::Written { .. }
    ));
    assert_last_upload_sealed_to(&env, &k2, "honest server");

    let attacker = HpkePrivateKey::generate();
    let attacker_pk = Bytes(attacker.public_key().to_bytes().to_vec());
    let substitute = |p: &mut PolicyBody| {
        p.counter += 1;
        let b = p.policies.org_backup.as_mut().unwrap();
        b.public_key = attacker_pk.clone();
        b.key_version += 1;
    };

    // 1. Signed by another key (a higher counter, the attacker's backup key).
    serve_policy(&env, resigned(&current, &KeyPair::generate(), substitute));
    let before = env.proxy.uploads().len();
    let _ = write(&a).await;
    for up in &env.proxy.uploads()[before..] {
        assert_ne!(up.public_key, attacker_pk, "never sealed to a forged key");
    }
    assert_last_upload_sealed_to(&env, &k2, "forged signature");

    // 2. The genuine signature over an edited body (the key swapped in).
    let mut edited = current.clone();
    let mut body: Value = serde_json::from_slice(edited.body.as_slice()).unwrap();
    body["policies"]["org_backup"]["public_key"] = Value::String(attacker_pk.to_b64());
    edited.body = Bytes(serde_json::to_vec(&body).unwrap());
    serve_policy(&env, edited);
    assert!(matches!(
        write(&a).await.unwrap(),
        WriteOutcome::Written { .. }
    ));
    assert_last_upload_sealed_to(&env, &k2, "edited body");

    // 3. The older, validly signed document (the retired key 1) replayed.
    serve_policy(&env, first_doc.clone());
    assert!(matches!(
        write(&a).await.unwrap(),
        WriteOutcome::Written { .. }
    ));
    assert_last_upload_sealed_to(&env, &k2, "replayed policy");
    let eff = castellan_client::org::current_policy(&a.home)
        .await
        .unwrap()
        .unwrap();
    assert!(!eff.warnings.is_empty(), "the replay is reported");

    // Nothing was ever sealed to the attacker's key; every backup opens with kit 2 only
    // after verification.
    assert!(env
        .proxy
        .uploads()
        .iter()
        .all(|u| u.public_key != attacker_pk));
    env.proxy.honest();
    let list = o.api.backups(a.cid, None).await.unwrap();
    let newest = list.users[0].points[0].backup_id;
    let b = o.api.backup(a.cid, newest).await.unwrap();
    let keys = o.company_public(a.cid).await.unwrap();
    let account = account_of(&a);
    backup::verify_backup(&keys, a.cid, account.user_id, &b).unwrap();
    let payload = backup::open_backup(&k2, &b).unwrap();
    assert_eq!(payload.items.len(), 1);
    assert!(backup::open_backup(&attacker, &b).is_err());
}

/// Property 33: the server turning organisation backup on by itself (a policy flipped to
/// `org_backup` without the company's signature) enrols nobody: nothing is uploaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_set_enrolment_is_ignored() {
    let env = env().await;
    let a = admin(&env).await;
    let o = org(&a).await;
    // A verified policy without backup (another setting, signed by the admin).
    o.set_policy(a.cid, |p| p.password_auditing = true)
        .await
        .unwrap();
    let genuine = o.api.policy(a.cid).await.unwrap().policy.unwrap();
    let attacker = HpkePrivateKey::generate();
    let enrol = |p: &mut PolicyBody| {
        p.counter += 1;
        p.policies.org_backup = Some(OrgBackupPolicy {
            mode: OrgBackupMode::OfflineKey,
            public_key: Bytes(attacker.public_key().to_bytes().to_vec()),
            key_version: 1,
            recovery_group_id: None,
            retention_days: 90,
        });
    };
    // Signed by another key.
    serve_policy(&env, resigned(&genuine, &KeyPair::generate(), enrol));
    let out = write(&a).await.unwrap();
    assert!(matches!(out, WriteOutcome::NotEnrolled(_)), "{out:?}");
    // The genuine signature over a body with backup switched on.
    let mut edited = genuine.clone();
    let mut body: PolicyBody = serde_json::from_slice(edited.body.as_slice()).unwrap();
    enrol(&mut body);
    body.counter -= 1;
    edited.body = Bytes(serde_json::to_vec(&body).unwrap());
    serve_policy(&env, edited);
    let out = write(&a).await.unwrap();
    assert!(matches!(out, WriteOutcome::NotEnrolled(_)), "{out:?}");
    // A sync (which writes backups when due) uploads nothing either.
    let mut s = VaultSession::open(&a.home, PW, false).await.unwrap();
    s.sync().await.unwrap();
    assert!(
        env.proxy.uploads().is_empty(),
        "no backup was ever uploaded"
    );
    // The self-check reports the policy as off and the forged document.
    let checks = backup::check(&org(&a).await, None).await;
    assert!(
        checks
            .iter()
            .any(|l| l.check == "backup policy on" && !l.pass),
        "{checks:?}"
    );
    assert!(
        checks
            .iter()
            .any(|l| l.check == "policy verified" && !l.pass),
        "{checks:?}"
    );
}

/// Property 35 (as it applies here): a fresh "recovery key" offered outside the signed policy
/// (the server swaps the Recovery Group's keys for its own, or serves a forged policy naming
/// them, as during a key rotation) is ignored: backups stay sealed to the verified group key,
/// and adding a Recovery Group member over the substituted group is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_recovery_key_offered_outside_the_signed_policy_is_ignored() {
    let env = env().await;
    let a = admin(&env).await;
    let o = org(&a).await;
    let g = backup::enable_group(&o, a.cid, None).await.unwrap();
    let verified_pk = o
        .policy(a.cid)
        .await
        .unwrap()
        .policies
        .org_backup
        .unwrap()
        .public_key;
    assert!(matches!(
        write(&a).await.unwrap(),
        WriteOutcome::Written { .. }
    ));
    assert_eq!(env.proxy.uploads().last().unwrap().public_key, verified_pk);

    let fresh = KeyPair::generate();
    let fresh_pk = Bytes(fresh.public().encryption.to_vec());
    let genuine = o.api.policy(a.cid).await.unwrap().policy.unwrap();
    let forged = resigned(&genuine, &KeyPair::generate(), |p| {
        p.counter += 1;
        let b = p.policies.org_backup.as_mut().unwrap();
        b.public_key = fresh_pk.clone();
        b.key_version += 1;
    });
    let gid = g.group_id;
    let fake_root = KeyPair::generate();
    let fresh_public = fresh.public();
    env.proxy.mutate(move |m, p, v| {
        if m != "GET" {
            return;
        }
        if p == "/api/v1/me/membership" || p.ends_with("/policy") {
            v["policy"] = serde_json::to_value(&forged).unwrap();
        }
        // The groups: the Recovery Group's keys replaced with the server's fresh ones, in a
        // roster it signs itself (it has no company key).
        if let Some(groups) = v.get_mut("groups").and_then(|g| g.as_array_mut()) {
            for entry in groups {
                let g = if entry.get("group").is_some() {
                    &mut entry["group"]
                } else {
                    entry
                };
                if g["id"] != Value::String(gid.to_string()) {
                    continue;
                }
                let doc: SignedDoc = serde_json::from_value(g["roster"].clone()).unwrap();
                let mut body: GroupRosterBody =
                    serde_json::from_slice(doc.body.as_slice()).unwrap();
                body.signing_public_key = Bytes(fresh_public.signing.to_vec());
                body.encryption_public_key = Bytes(fresh_public.encryption.to_vec());
                let roster = sign(&fake_root.signing, statement::GROUP_ROSTER, &body);
                g["roster"] = serde_json::to_value(&roster).unwrap();
                g["keys"] = serde_json::to_value(fresh_public.group_dto()).unwrap();
            }
        }
    });
    let before = env.proxy.uploads().len();
    assert!(matches!(
        write(&a).await.unwrap(),
        WriteOutcome::Written { .. }
    ));
    let ups = env.proxy.uploads();
    assert!(ups.len() > before);
    assert!(ups.iter().all(|u| u.public_key != fresh_pk));
    assert_eq!(ups.last().unwrap().public_key, verified_pk);
    // Adding a member to the group (sealing the key to them) over this server: refused by the
    // client (the substituted roster does not verify with the company key).
    let err = backup::add_recovery_member(&o, a.cid, "admin@backup.example")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Integrity(_)), "{err:?}");
    // So is restoring with it: the backups name the verified key, not the served one.
    let points = o.api.backups(a.cid, None).await.unwrap();
    let r = backup::restore(
        &o,
        a.cid,
        "admin@backup.example",
        Some(points.users[0].points[0].created_at),
        &backup::KeySource::Group,
    )
    .await;
    assert!(r.is_err(), "the substituted group key opens nothing");
}
