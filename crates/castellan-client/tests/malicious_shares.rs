//! Malicious-server tests for sharing (properties 12 and 22–30 of the security reference §9,
//! docs/security-design.md §9.4): a proxy in front of the real server rewrites what it answers
//! to one user (told apart by their session token). Accounts, the company, its certificates,
//! rosters and shares are real; only the rewritten answers are hostile. Each test checks what the
//! user would notice: the error, and that nothing was sealed, sent, accepted or changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes as BodyBytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use castellan_client::account::{self, UnlockedAccount};
use castellan_client::home::Home;
use castellan_client::item::{ItemData, ItemType};
use castellan_client::manifest::{self, Manifest};
use castellan_client::org::admin::{self, OrgSession};
use castellan_client::org::docs::sign;
use castellan_client::org::keys::{KeyPair, PublicKeys};
use castellan_client::org::{ConfirmIntent, InviteLink};
use castellan_client::share::grant;
use castellan_client::share::ops::Recipient;
use castellan_client::vault::codec::{self, VaultRef};
use castellan_client::vault::VaultSession;
use castellan_client::ClientError;
use castellan_crypto::{SetHash, SymmetricKey};
use castellan_types::*;
use serde_json::Value;
use uuid::Uuid;

const PW: &str = "malicious shares test password";
const SETUP_TOKEN: &str = "test-setup-token";

/// Rewrites a forwarded JSON answer: (method, path, the caller's bearer token, body).
type Mutator = Box<dyn Fn(&str, &str, &str, &mut Value) + Send + Sync>;
/// Rewrites one directory entry.
type EntryEdit = Box<dyn Fn(&mut Value) + Send + Sync>;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    mutator: Arc<Mutex<Option<Mutator>>>,
    /// Requests seen, by "METHOD path".
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Proxy {
    fn set(&self, m: impl Fn(&str, &str, &str, &mut Value) + Send + Sync + 'static) {
        *self.mutator.lock().unwrap() = Some(Box::new(m));
    }
    fn clear(&self) {
        *self.mutator.lock().unwrap() = None;
    }
    fn hits(&self, method: &str, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .get(&format!("{method} /api/v1{path}"))
            .copied()
            .unwrap_or(0)
    }
    /// Requests whose path starts with `prefix` (all methods but GET).
    fn writes_under(&self, prefix: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| {
                !k.starts_with("GET ") && k.split_once(' ').unwrap().1.starts_with(prefix)
            })
            .map(|(_, n)| *n)
            .sum()
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
    *p.hits
        .lock()
        .unwrap()
        .entry(format!("{} {path}", method.as_str()))
        .or_insert(0) += 1;
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
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    let resp = req.send().await.unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let bytes = resp.bytes().await.unwrap();
    let mut out = bytes.to_vec();
    if let Some(m) = p.mutator.lock().unwrap().as_ref() {
        if let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) {
            m(method.as_str(), &path, &token, &mut v);
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
    email: String,
    account: UnlockedAccount,
}

impl User {
    fn id(&self) -> Uuid {
        self.account.user_id
    }
    fn token(&self) -> String {
        self.home.device().unwrap().session_token.unwrap()
    }
    fn public(&self) -> PublicKeys {
        PublicKeys::from_slices(
            &self.account.signing.verifying_key().to_bytes(),
            &self.account.encryption.public_key().to_bytes(),
        )
        .unwrap()
    }
    async fn session(&self) -> VaultSession {
        VaultSession::open(&self.home, PW, false).await.unwrap()
    }
}

/// A company "Acme" made by `owner@acme.example` (its admin, who shares) with confirmed
/// members bob, carol and dave.
struct Co {
    owner: User,
    bob: User,
    carol: User,
    dave: User,
    cid: Uuid,
    org: OrgSession,
}

async fn company(env: &Env) -> Co {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path());
    let (_, account) = account::register(&home, &env.url, "owner@acme.example", PW, "test")
        .await
        .unwrap();
    let created = admin::setup(&home, &account, SETUP_TOKEN, "Acme")
        .await
        .unwrap();
    let owner = User {
        home: home.clone(),
        _dir: dir,
        email: "owner@acme.example".into(),
        account,
    };
    let (_, acct) = account::unlock_local(&home, PW).unwrap();
    let org = OrgSession::open(&home, acct).await.unwrap();
    let c = org.my_company().unwrap().clone();
    let mut members = Vec::new();
    for email in [
        "bob@acme.example",
        "carol@acme.example",
        "dave@acme.example",
    ] {
        let inv = org.invite(&c, email, RoleDto::User).await.unwrap();
        let link = InviteLink::parse(inv.link.expose()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        admin::register_with_invite(&home, &env.url, &link, None, PW, "test")
            .await
            .unwrap();
        let preview = org.prepare_confirm(&c, email).await.unwrap();
        org.confirm(&preview, ConfirmIntent::human_confirmed(&preview))
            .await
            .unwrap();
        let (_, account) = account::unlock_local(&home, PW).unwrap();
        members.push(User {
            home,
            _dir: dir,
            email: email.into(),
            account,
        });
    }
    let dave = members.pop().unwrap();
    let carol = members.pop().unwrap();
    let bob = members.pop().unwrap();
    Co {
        owner,
        bob,
        carol,
        dave,
        cid: created.id,
        org,
    }
}

async fn add_business(s: &mut VaultSession, title: &str) -> Uuid {
    let mut d = ItemData::new(ItemType::Login, title, 1).unwrap();
    d.set_field("password", &format!("{title}-secret"), 1)
        .unwrap();
    s.create_item(VaultKindDto::Business, &d).await.unwrap()
}

fn user(email: &str) -> Recipient {
    Recipient::User(email.into())
}

fn assert_integrity<T: std::fmt::Debug>(r: Result<T, ClientError>, what: &str) -> String {
    match r {
        Err(ClientError::Integrity(m)) => {
            eprintln!("{what}: refused: {m}");
            m
        }
        other => panic!("{what}: expected an integrity error, got {other:?}"),
    }
}

/// Titles of the items of share `sid` in the device's verified local data.
async fn shared_titles(s: &VaultSession, sid: Uuid) -> Vec<String> {
    let mut t: Vec<String> = s
        .local_snapshot()
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|i| i.share_id == Some(sid))
        .map(|i| i.overview.title.clone())
        .collect();
    t.sort();
    t
}

fn b64(b: &[u8]) -> Value {
    Value::String(Bytes(b.to_vec()).to_b64())
}

fn is_share_view(method: &str, path: &str, sid: Uuid) -> bool {
    method == "GET" && (path == "/api/v1/shares" || path == format!("/api/v1/shares/{sid}"))
}

/// The share `sid` in a `GET /shares` list or a `GET /shares/{sid}` answer.
fn share_in(v: &mut Value, sid: Uuid) -> Option<&mut Value> {
    let sid = sid.to_string();
    if v["id"] == sid.as_str() {
        return Some(v);
    }
    v["shares"]
        .as_array_mut()?
        .iter_mut()
        .find(|s| s["id"] == sid.as_str())
}

/// P22, P23: the server substitutes a recipient's keys (a certificate it made itself, the
/// user's own self-signed binding, another member's certificate, an edited certificate, group
/// keys other than the signed roster's). The client finds no verified key to seal to, refuses,
/// and sends nothing: no share is created, no access list changed, the items stay where they
/// were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p22_p23_substituted_recipient_keys_are_never_sealed_to() {
    let env = env().await;
    let co = company(&env).await;
    co.org
        .create_group(co.cid, "Readers", std::slice::from_ref(&co.carol.email))
        .await
        .unwrap();
    let mut os = co.owner.session().await;
    let router = add_business(&mut os, "Router").await;
    let dir_path = format!("/api/v1/companies/{}/directory", co.cid);
    let bob_id = co.bob.id().to_string();
    let evil = KeyPair::generate();
    let cid = co.cid;

    // The variants of a substituted certificate for bob.
    let bob_cert_body = |keys: &PublicKeys| MemberCertBody {
        company_id: cid,
        user_id: co.bob.id(),
        email: co.bob.email.clone(),
        role: RoleDto::User,
        signing_public_key: Bytes(keys.signing.to_vec()),
        encryption_public_key: Bytes(keys.encryption.to_vec()),
        serial: Uuid::new_v4(),
        issued_at: 0,
        issued_by: co.owner.id(),
    };
    let server_made = sign(
        &evil.signing,
        statement::MEMBER_CERT,
        &bob_cert_body(&evil.public()),
    );
    let self_signed = sign(
        &co.bob.account.signing,
        statement::MEMBER_CERT,
        &bob_cert_body(&evil.public()),
    );
    let variants: Vec<(&str, EntryEdit)> = vec![
        (
            "a certificate signed by a key of the server's",
            Box::new(move |e: &mut Value| e["cert"] = serde_json::to_value(&server_made).unwrap()),
        ),
        (
            "the user's own self-signed key binding, no member certificate",
            Box::new(move |e: &mut Value| e["cert"] = serde_json::to_value(&self_signed).unwrap()),
        ),
        (
            "the certified body with the encryption key swapped (signature left as is)",
            Box::new({
                let evil = evil.public();
                move |e: &mut Value| {
                    let doc: SignedDoc = serde_json::from_value(e["cert"].clone()).unwrap();
                    let mut body: Value = serde_json::from_slice(doc.body.as_slice()).unwrap();
                    body["encryption_public_key"] = b64(&evil.encryption);
                    e["cert"]["body"] = b64(&serde_json::to_vec(&body).unwrap());
                }
            }),
        ),
    ];
    for (what, f) in variants {
        let (bid, f) = (bob_id.clone(), Arc::new(f));
        let dp = dir_path.clone();
        let f2 = f.clone();
        env.proxy.set(move |m, p, _, v| {
            if m == "GET" && p == dp {
                for e in v["members"].as_array_mut().unwrap() {
                    if e["user_id"] == bid.as_str() {
                        f2(e);
                    }
                }
            }
        });
        let r = os
            .create_share(
                "Team",
                &[router],
                &[],
                &[(user(&co.bob.email), ShareRoleDto::ReadOnly)],
                None,
            )
            .await;
        match r {
            Err(ClientError::NotFound(m)) => {
                assert!(m.contains("valid certificate"), "{what}: {m}");
                eprintln!("{what}: refused: {m}");
            }
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
    }
    // Another member's genuine certificate served as bob's.
    let carol_id = co.carol.id().to_string();
    let (dp, bid) = (dir_path.clone(), bob_id.clone());
    env.proxy.set(move |m, p, _, v| {
        if m == "GET" && p == dp {
            let members = v["members"].as_array_mut().unwrap();
            let carol_cert = members
                .iter()
                .find(|e| e["user_id"] == carol_id.as_str())
                .unwrap()["cert"]
                .clone();
            for e in members.iter_mut() {
                if e["user_id"] == bid.as_str() {
                    e["cert"] = carol_cert.clone();
                }
            }
        }
    });
    assert!(matches!(
        os.create_share(
            "Team",
            &[router],
            &[],
            &[(user(&co.bob.email), ShareRoleDto::ReadOnly)],
            None
        )
        .await,
        Err(ClientError::NotFound(_))
    ));
    // A group whose served keys are not the ones its signed roster names.
    let dp = dir_path.clone();
    let evil_pub = evil.public();
    env.proxy.set(move |m, p, _, v| {
        if m == "GET" && p == dp {
            for g in v["groups"].as_array_mut().unwrap() {
                g["keys"] = serde_json::to_value(evil_pub.group_dto()).unwrap();
            }
        }
    });
    match os
        .create_share(
            "Team",
            &[router],
            &[],
            &[(Recipient::Group("Readers".into()), ShareRoleDto::ReadOnly)],
            None,
        )
        .await
    {
        Err(ClientError::NotFound(m)) => assert!(m.contains("valid roster"), "{m}"),
        other => panic!("substituted group keys: expected a refusal, got {other:?}"),
    }
    assert_eq!(env.proxy.hits("POST", "/shares"), 0, "no share was sent");
    let snap = os.local_snapshot().await.unwrap();
    let r = snap.items.iter().find(|i| i.id == router).unwrap();
    assert_eq!(r.share_id, None, "the item stayed in the Business profile");

    // Adding a recipient to an existing share: the same refusal, no access list is sent.
    env.proxy.clear();
    let sid = os
        .create_share("Team", &[router], &[], &[], None)
        .await
        .unwrap();
    let (dp, bid) = (dir_path.clone(), bob_id.clone());
    let evil_cert = sign(
        &evil.signing,
        statement::MEMBER_CERT,
        &bob_cert_body(&evil.public()),
    );
    env.proxy.set(move |m, p, _, v| {
        if m == "GET" && p == dp {
            for e in v["members"].as_array_mut().unwrap() {
                if e["user_id"] == bid.as_str() {
                    e["cert"] = serde_json::to_value(&evil_cert).unwrap();
                }
            }
        }
    });
    assert!(matches!(
        os.share_add_recipient(&sid.to_string(), &user(&co.bob.email), ShareRoleDto::Editor)
            .await,
        Err(ClientError::NotFound(_))
    ));
    assert_eq!(env.proxy.hits("PUT", &format!("/shares/{sid}/acl")), 0);
    assert_eq!(env.proxy.hits("POST", &format!("/shares/{sid}/grants")), 0);
    env.proxy.clear();
    let d = os.api().share(sid).await.unwrap();
    assert_eq!(
        (d.acl_version, d.grants.len()),
        (1, 1),
        "only the owner's grant"
    );
}

/// A grant for `to` of a key the server chose, signed by `signer` in the name of `granted_by`.
fn forged_grant(
    sid: Uuid,
    to: &User,
    key: &SymmetricKey,
    signer: &castellan_crypto::SigningKey,
    granted_by: Uuid,
) -> ShareGrantDto {
    grant::seal_grant(
        signer,
        granted_by,
        sid,
        key,
        1,
        PrincipalDto {
            kind: PrincipalKindDto::User,
            id: to.id(),
        },
        &to.public(),
    )
    .unwrap()
}

/// P26, P27: the server hands a recipient a share key of its own choosing, in a grant it signed
/// itself (in an owner's name) or had a member who is not an owner sign. The recipient refuses
/// the share: it does not appear, nothing can be written under that key; with the real grant
/// it opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p26_p27_a_server_made_share_key_grant_is_refused() {
    let env = env().await;
    let co = company(&env).await;
    let mut os = co.owner.session().await;
    let router = add_business(&mut os, "Router").await;
    let sid = os
        .create_share(
            "Team",
            &[router],
            &[],
            &[
                (user(&co.bob.email), ShareRoleDto::Editor),
                (user(&co.carol.email), ShareRoleDto::ReadOnly),
            ],
            None,
        )
        .await
        .unwrap();
    let server_key = SymmetricKey::generate();
    let grants = vec![
        (
            "signed by a key of the server's in the owner's name",
            forged_grant(
                sid,
                &co.bob,
                &server_key,
                &KeyPair::generate().signing,
                co.owner.id(),
            ),
            "invalid signature",
        ),
        (
            "signed by a member who is not an owner",
            forged_grant(
                sid,
                &co.bob,
                &server_key,
                &co.carol.account.signing,
                co.carol.id(),
            ),
            "not signed by an owner",
        ),
        (
            "signed by a member outside the share",
            forged_grant(
                sid,
                &co.bob,
                &server_key,
                &co.dave.account.signing,
                co.dave.id(),
            ),
            "not signed by an owner",
        ),
    ];
    let mut bs = co.bob.session().await;
    // Bob accepts the invitation (the server records it); every sync then meets the forgery.
    bs.api().accept_share(sid).await.unwrap();
    let writes = env.proxy.writes_under("/api/v1/objects");
    for (what, g, expect) in grants {
        let bob = co.bob.token();
        let gv = serde_json::to_value(&g).unwrap();
        env.proxy.set(move |m, p, t, v| {
            if t == bob && is_share_view(m, p, sid) {
                if let Some(s) = share_in(v, sid) {
                    s["grant"] = gv.clone();
                }
            }
        });
        let msg = assert_integrity(bs.sync().await, what);
        assert!(msg.contains(expect), "{what}: {msg}");
        assert!(bs.account.shares.get(sid).is_none(), "{what}: not opened");
        assert!(shared_titles(&bs, sid).await.is_empty(), "{what}");
        // Nothing can be written under that key: the share is not there to write to.
        assert!(matches!(
            bs.share_add_items(&sid.to_string(), &[], &[]).await,
            Err(ClientError::Integrity(_)) | Err(ClientError::NotFound(_))
        ));
    }
    assert_eq!(
        env.proxy.writes_under("/api/v1/objects"),
        writes,
        "no object was written under the server's key"
    );
    // The real grant opens.
    env.proxy.clear();
    bs.sync().await.unwrap();
    assert_eq!(shared_titles(&bs, sid).await, vec!["Router"]);
}

/// P29: the server relays the grant sealed to bob over to carol, as it is or relabelled to
/// carol. Carol's client refuses (the principal is bound in the HPKE info and the signature);
/// with her own grant the share opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p29_a_grant_relayed_to_another_user_does_not_open() {
    let env = env().await;
    let co = company(&env).await;
    let mut os = co.owner.session().await;
    let router = add_business(&mut os, "Router").await;
    let sid = os
        .create_share(
            "Team",
            &[router],
            &[],
            &[
                (user(&co.bob.email), ShareRoleDto::ReadOnly),
                (user(&co.carol.email), ShareRoleDto::ReadOnly),
            ],
            None,
        )
        .await
        .unwrap();
    let served = os.api().share(sid).await.unwrap();
    let bobs = served
        .grants
        .iter()
        .find(|g| g.principal.id == co.bob.id())
        .unwrap()
        .clone();
    let mut relabelled = bobs.clone();
    relabelled.principal.id = co.carol.id();
    let mut cs = co.carol.session().await;
    cs.api().accept_share(sid).await.unwrap();
    for (what, g, expect) in [
        (
            "bob's grant as it is",
            bobs.clone(),
            "addressed to another user",
        ),
        (
            "bob's grant relabelled to carol",
            relabelled,
            "invalid signature",
        ),
    ] {
        let carol = co.carol.token();
        let gv = serde_json::to_value(&g).unwrap();
        env.proxy.set(move |m, p, t, v| {
            if t == carol && is_share_view(m, p, sid) {
                if let Some(s) = share_in(v, sid) {
                    s["grant"] = gv.clone();
                }
            }
        });
        let msg = assert_integrity(cs.sync().await, what);
        assert!(msg.contains(expect), "{what}: {msg}");
        assert!(cs.account.shares.get(sid).is_none());
        assert!(shared_titles(&cs, sid).await.is_empty());
    }
    // The HPKE layer alone: bob's sealed key does not open with carol's key, even under an
    // info naming carol (the server re-signing it would not help).
    let sealed = bobs.sealed.as_slice();
    let carol_p = PrincipalDto {
        kind: PrincipalKindDto::User,
        id: co.carol.id(),
    };
    assert!(castellan_crypto::hpke_open(
        &co.carol.account.encryption,
        &sealed[..32],
        &grant::grant_info(sid, carol_p, 1),
        b"",
        &sealed[32..],
    )
    .is_err());
    env.proxy.clear();
    cs.sync().await.unwrap();
    assert_eq!(shared_titles(&cs, sid).await, vec!["Router"]);
}

/// P12: a read-only member's write. Their client refuses it, the real server refuses it (403),
/// and when a server accepts it anyway (this proxy injects the item, with a manifest the
/// read-only member signed, or with the owner's manifest left as it was) every other client
/// rejects the change and keeps its verified data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p12_an_item_written_by_a_read_only_member_is_rejected_by_the_others() {
    let env = env().await;
    let co = company(&env).await;
    let mut os = co.owner.session().await;
    let router = add_business(&mut os, "Router").await;
    let sid = os
        .create_share(
            "Team",
            &[router],
            &[],
            &[
                (user(&co.bob.email), ShareRoleDto::ReadOnly),
                (user(&co.carol.email), ShareRoleDto::Editor),
            ],
            None,
        )
        .await
        .unwrap();
    let mut bs = co.bob.session().await;
    bs.share_accept(&sid.to_string()).await.unwrap();
    let mut cs = co.carol.session().await;
    cs.share_accept(&sid.to_string()).await.unwrap();
    assert_eq!(shared_titles(&bs, sid).await, vec!["Router"]);
    let shared_router = bs
        .local_snapshot()
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|i| i.share_id == Some(sid))
        .unwrap()
        .id;

    // Bob's client refuses to write.
    match bs
        .update_item(shared_router, None, None, |d| {
            d.set_field("password", "bobs-choice", 2)
        })
        .await
    {
        Err(ClientError::Api {
            status: 403,
            message,
            ..
        }) => {
            assert!(message.contains("read-only"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Bob's crafted item, sealed under the share key he holds, with a manifest he signs.
    let share = bs.account.shares.get(sid).unwrap();
    let mut d = ItemData::new(ItemType::Login, "Injected", 1).unwrap();
    d.set_field("password", "attacker", 1).unwrap();
    let iid = Uuid::new_v4();
    let (w, ov, det) = codec::seal_item_in(
        &VaultRef::Share(share.clone()),
        co.bob.id(),
        iid,
        &SymmetricKey::generate(),
        1,
        &d,
    )
    .unwrap();
    let obj = ObjectDto {
        id: iid,
        vault_id: sid,
        kind: ObjectKindDto::Item,
        version: 1,
        trashed: false,
        key_wrap: Bytes(w.clone()),
        overview: Bytes(ov.clone()),
        details: Bytes(det.clone()),
        created_at: 0,
        updated_at: 0,
        seq: 0,
        author_id: Some(co.bob.id()),
    };
    let st = bs.cache().vault_state(sid).await.unwrap();
    let mut set = SetHash::from_bytes(st.set_hash.as_slice()).unwrap();
    set.add(&manifest::element(&obj)).unwrap();
    let m = Manifest::sign_share(
        &co.bob.account.signing,
        co.bob.id(),
        sid,
        st.counter + 1,
        st.count + 1,
        &set,
    );
    let bob_manifest = ManifestDto {
        vault_id: sid,
        counter: st.counter + 1,
        manifest: Bytes(m.to_bytes()),
    };
    // The real server refuses the write.
    let put = PutObjectRequest {
        vault_id: sid,
        kind: ObjectKindDto::Item,
        version: 1,
        expected_version: None,
        trashed: false,
        key_wrap: Bytes(w),
        overview: Bytes(ov),
        details: Bytes(det),
        manifests: vec![bob_manifest.clone()],
    };
    match bs.api().put_object(iid, &put).await {
        Err(ClientError::Api { status: 403, .. }) => {}
        other => panic!("the server must refuse a reader's write, got {other:?}"),
    }

    // A server that accepts it anyway: the item in the others' change feed, under bob's
    // manifest (variant 1) or the last real manifest (variant 2), or relabelled as the
    // owner's (variant 3).
    let obj_v = serde_json::to_value(&obj).unwrap();
    let man_v = serde_json::to_value(&bob_manifest).unwrap();
    let owner_id = co.owner.id().to_string();
    for (what, with_bob_manifest, relabel, expect) in [
        ("under the reader's manifest", true, false, "manifest"),
        (
            "under the last real manifest",
            false,
            false,
            "manifest mismatch",
        ),
        ("relabelled as the owner's", true, true, "manifest"),
    ] {
        let (o, mv, ow) = (obj_v.clone(), man_v.clone(), owner_id.clone());
        let sid_s = sid.to_string();
        env.proxy.set(move |m, p, _, v| {
            let mut o = o.clone();
            if relabel {
                o["author_id"] = Value::String(ow.clone());
            }
            // The share's full listing (fetched again after a refusal) carries it too.
            if m == "GET" && p == "/api/v1/objects" {
                let objects = v["objects"].as_array_mut().unwrap();
                if objects.iter().any(|x| x["vault_id"] == sid_s.as_str()) {
                    objects.push(o);
                }
                return;
            }
            if m == "GET" && p == "/api/v1/sync" {
                v["objects"].as_array_mut().unwrap().push(o);
                if with_bob_manifest {
                    let ms = v["manifests"].as_array_mut().unwrap();
                    ms.retain(|x| x["vault_id"] != sid_s.as_str());
                    ms.push(mv.clone());
                }
            }
        });
        for (who, s) in [("owner", &mut os), ("editor", &mut cs)] {
            let before = shared_titles(s, sid).await;
            let msg = assert_integrity(s.sync().await, &format!("{who}: {what}"));
            assert!(msg.contains(expect), "{who}: {what}: {msg}");
            assert_eq!(shared_titles(s, sid).await, before, "{who}: {what}");
            assert!(!before.contains(&"Injected".to_string()));
            // The refused share is set aside: the user's own vaults still sync (an item made
            // now reaches the server although its sync reports the share).
            let mut d = ItemData::new(ItemType::Login, &format!("{who} own item"), 1).unwrap();
            d.set_field("password", "own-secret", 1).unwrap();
            let own = s.create_item(VaultKindDto::Personal, &d).await;
            assert!(
                matches!(own, Err(ClientError::Integrity(_))),
                "{who}: {own:?}"
            );
            assert!(
                s.local_snapshot()
                    .await
                    .unwrap()
                    .items
                    .iter()
                    .any(|i| i.overview.title == format!("{who} own item") && i.share_id.is_none()),
                "{who}: {what}: the own item is in the vault"
            );
            assert!(
                s.cache().pending().await.unwrap().is_empty(),
                "{who}: {what}: the own item was pushed"
            );
        }
    }
    env.proxy.clear();
    os.sync().await.unwrap();
    cs.sync().await.unwrap();
    assert_eq!(shared_titles(&os, sid).await, vec!["Router"]);
}

/// P25 (shares), P28: access list tampering (an edited list, one signed by a member who is not
/// an owner or by a key posing as the company's, two lists under one version, an older list)
/// and roster tampering (an edited roster, an older roster) are refused; the device keeps the
/// list and role it verified, and an owner's client sends nothing based on a tampered roster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p28_access_list_and_roster_tampering_and_rollback_are_refused() {
    let env = env().await;
    let co = company(&env).await;
    co.org
        .create_group(co.cid, "Readers", std::slice::from_ref(&co.bob.email))
        .await
        .unwrap();
    let mut os = co.owner.session().await;
    let router = add_business(&mut os, "Router").await;
    let sid = os
        .create_share(
            "Team",
            &[router],
            &[],
            &[(user(&co.bob.email), ShareRoleDto::ReadOnly)],
            None,
        )
        .await
        .unwrap();
    let v1 = os.api().share(sid).await.unwrap().acl;
    let mut bs = co.bob.session().await;
    bs.share_accept(&sid.to_string()).await.unwrap();
    os.share_add_recipient(
        &sid.to_string(),
        &user(&co.carol.email),
        ShareRoleDto::ReadOnly,
    )
    .await
    .unwrap();
    bs.sync().await.unwrap();
    let v2 = bs.account.shares.get(sid).unwrap().acl.clone();
    assert_eq!(v2.version, 2);

    let with = |f: &dyn Fn(&mut ShareAclBody)| -> ShareAclBody {
        let mut b = v2.clone();
        f(&mut b);
        b
    };
    let bob_owner = |b: &mut ShareAclBody| {
        for e in &mut b.entries {
            if e.principal.id == co.bob.id() {
                e.role = ShareRoleDto::Owner;
            }
        }
    };
    let edited = {
        let real = bs.account.shares.get(sid).unwrap().acl_doc.clone();
        SignedDoc {
            body: Bytes(serde_json::to_vec(&with(&bob_owner)).unwrap()),
            signature: real.signature,
        }
    };
    let by_carol = sign(
        &co.carol.account.signing,
        share_statement::ACL,
        &with(&|b| {
            b.version = 3;
            b.signer = AclSignerDto::Member(co.carol.id());
            for e in &mut b.entries {
                if e.principal.id == co.carol.id() {
                    e.role = ShareRoleDto::Owner;
                }
            }
        }),
    );
    let fake_company = sign(
        &KeyPair::generate().signing,
        share_statement::ACL,
        &with(&|b| {
            b.version = 3;
            b.signer = AclSignerDto::Company;
            bob_owner(b);
        }),
    );
    // The owner's own key, but a second, different version 2 (equivocation).
    let second_v2 = sign(
        &co.owner.account.signing,
        share_statement::ACL,
        &with(&|b| {
            bob_owner(b);
            b.issued_at += 1;
        }),
    );
    let cases: Vec<(&str, SignedDoc, i64, &str)> = vec![
        ("an edited list", edited, 2, "signature"),
        (
            "a list signed by a member who is not an owner",
            by_carol,
            3,
            "not an owner",
        ),
        (
            "a list signed by a key posing as the company's",
            fake_company,
            3,
            "signature",
        ),
        (
            "another list under the pinned version",
            second_v2,
            2,
            "two different",
        ),
        ("an older list", v1.clone(), 1, "older than version 2"),
    ];
    for (what, doc, version, expect) in cases {
        let bob = co.bob.token();
        let dv = serde_json::to_value(&doc).unwrap();
        env.proxy.set(move |m, p, t, v| {
            if t == bob && is_share_view(m, p, sid) {
                if let Some(s) = share_in(v, sid) {
                    s["acl"] = dv.clone();
                    s["acl_version"] = version.into();
                }
            }
        });
        let msg = assert_integrity(bs.sync().await, what);
        assert!(msg.to_lowercase().contains(expect), "{what}: {msg}");
        let kept = bs.account.shares.get(sid).unwrap();
        assert_eq!(
            (kept.acl.version, kept.role),
            (2, ShareRoleDto::ReadOnly),
            "{what}: the verified list and role are kept"
        );
        assert_eq!(shared_titles(&bs, sid).await, vec!["Router"]);
        assert_eq!(
            bs.home().device().unwrap().shares.acl(sid).unwrap().version,
            2
        );
    }
    env.proxy.clear();
    bs.sync().await.unwrap();

    // Rosters. The server adds dave to Readers in the roster it serves (signature invalid):
    // the group has no verified roster, so the owner cannot share to it and sends nothing.
    let dir_path = format!("/api/v1/companies/{}/directory", co.cid);
    let dave_id = co.dave.id().to_string();
    let dp = dir_path.clone();
    env.proxy.set(move |m, p, _, v| {
        if m == "GET" && p == dp {
            for g in v["groups"].as_array_mut().unwrap() {
                if g["name"] == "Readers" {
                    let doc: SignedDoc = serde_json::from_value(g["roster"].clone()).unwrap();
                    let mut body: Value = serde_json::from_slice(doc.body.as_slice()).unwrap();
                    body["members"]
                        .as_array_mut()
                        .unwrap()
                        .push(Value::String(dave_id.clone()));
                    g["roster"]["body"] = b64(&serde_json::to_vec(&body).unwrap());
                }
            }
        }
    });
    match os
        .share_add_recipient(
            &sid.to_string(),
            &Recipient::Group("Readers".into()),
            ShareRoleDto::Editor,
        )
        .await
    {
        Err(ClientError::NotFound(m)) => assert!(m.contains("valid roster"), "{m}"),
        other => panic!("an edited roster: expected a refusal, got {other:?}"),
    }
    assert_eq!(env.proxy.hits("PUT", &format!("/shares/{sid}/acl")), 1);

    // A real roster change (dave added, version 2) seen by the owner; then the server serves
    // the older roster: refused as a rollback, nothing is sent.
    env.proxy.clear();
    let old_roster = os.api().share_directory(co.cid).await.unwrap();
    co.org
        .change_group(
            co.cid,
            "Readers",
            None,
            std::slice::from_ref(&co.dave.email),
            &[],
        )
        .await
        .unwrap();
    os.share_add_recipient(
        &sid.to_string(),
        &Recipient::Group("Readers".into()),
        ShareRoleDto::ReadOnly,
    )
    .await
    .unwrap();
    assert_eq!(env.proxy.hits("PUT", &format!("/shares/{sid}/acl")), 2);
    let old_groups = serde_json::to_value(&old_roster.groups).unwrap();
    let dp = dir_path.clone();
    env.proxy.set(move |m, p, _, v| {
        if m == "GET" && p == dp {
            v["groups"] = old_groups.clone();
        }
    });
    let msg = assert_integrity(
        os.share_set_role(
            &sid.to_string(),
            &Recipient::Group("Readers".into()),
            ShareRoleDto::Editor,
        )
        .await,
        "an older roster",
    );
    assert!(msg.contains("older than version"), "{msg}");
    assert_eq!(
        env.proxy.hits("PUT", &format!("/shares/{sid}/acl")),
        2,
        "nothing sent"
    );
    env.proxy.clear();
}

/// P24: the server replays a member certificate the company revoked: the certificate of a
/// removed member, or a member's older certificate superseded by a role change. The owner's
/// client finds no valid certificate and shares nothing. A server that hides the signed
/// revocation list, or serves an older version of it than the device saw, is caught too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p24_a_revoked_certificate_replayed_in_the_directory_is_refused() {
    let env = env().await;
    let co = company(&env).await;
    let mut os = co.owner.session().await;
    let router = add_business(&mut os, "Router").await;
    let dir_path = format!("/api/v1/companies/{}/directory", co.cid);
    let entry_of = |dir: &DirectoryResponse, u: &User| {
        serde_json::to_value(dir.members.iter().find(|e| e.user_id == u.id()).unwrap()).unwrap()
    };
    let before = os.api().share_directory(co.cid).await.unwrap();
    assert!(before.revocations.is_none());
    let dave_entry = entry_of(&before, &co.dave);
    let carol_old_entry = entry_of(&before, &co.carol);
    let carol_old_entry_cert = carol_old_entry["cert"].clone();

    // Dave leaves; carol becomes an admin (a new certificate supersedes her first one).
    co.org.remove_member(co.cid, &co.dave.email).await.unwrap();
    co.org
        .set_role(co.cid, &co.carol.email, RoleDto::Admin)
        .await
        .unwrap();
    let after = os.api().share_directory(co.cid).await.unwrap();
    let list: RevocationListBody =
        serde_json::from_slice(after.revocations.as_ref().unwrap().body.as_slice()).unwrap();
    assert_eq!(list.version, 2, "one version per revocation");
    assert_eq!(list.serials.len(), 2);
    let v1_list = {
        // Version 1 (only dave's serial), re-created as the server stored it before: signed by
        // the company, so only the pinned version tells it apart.
        let (keys, _) = co.org.company_keys(co.cid).await.unwrap();
        let body = RevocationListBody {
            version: 1,
            serials: list.serials[..1].to_vec(),
            ..list.clone()
        };
        sign(&keys.signing, statement::REVOKED_CERTS, &body)
    };

    // The server serves dave's old certificate again, and carol's superseded one.
    let replay = |env: &Env, entry: Value, tamper_list: Option<Option<SignedDoc>>| {
        let dp = dir_path.clone();
        env.proxy.set(move |m, p, _, v| {
            if m == "GET" && p == dp {
                let uid = entry["user_id"].clone();
                let members = v["members"].as_array_mut().unwrap();
                members.retain(|e| e["user_id"] != uid);
                members.push(entry.clone());
                if let Some(l) = &tamper_list {
                    v["revocations"] = serde_json::to_value(l).unwrap();
                }
            }
        });
    };
    for (who, entry) in [
        ("dave (removed)", dave_entry.clone()),
        ("carol (superseded)", carol_old_entry),
    ] {
        replay(&env, entry, None);
        let email = if who.starts_with("dave") {
            &co.dave.email
        } else {
            &co.carol.email
        };
        let r = os
            .create_share(
                "Team",
                &[router],
                &[],
                &[(user(email), ShareRoleDto::ReadOnly)],
                None,
            )
            .await;
        match r {
            Err(ClientError::NotFound(m)) => {
                assert!(m.contains("valid certificate"), "{who}: {m}");
                eprintln!("{who}: refused: {m}");
            }
            other => panic!("{who}: expected a refusal, got {other:?}"),
        }
    }
    // Hiding the list, or serving version 1 after version 2 was seen, fails the directory.
    for (what, list) in [
        ("no revocation list", None),
        ("an older revocation list", Some(v1_list)),
    ] {
        replay(&env, dave_entry.clone(), Some(list));
        let r = os
            .create_share(
                "Team",
                &[router],
                &[],
                &[(user(&co.dave.email), ShareRoleDto::ReadOnly)],
                None,
            )
            .await;
        let m = assert_integrity(r, what);
        assert!(m.contains("revocation list"), "{what}: {m}");
    }
    assert_eq!(
        env.proxy.writes_under("/api/v1/shares"),
        0,
        "nothing was shared"
    );

    // Removing carol while the server serves her superseded (revoked) certificate instead of
    // her current one is refused: her current certificate would otherwise never be revoked.
    let members_path = format!("/api/v1/companies/{}/members", co.cid);
    let carol_old_cert = carol_old_entry_cert.clone();
    let carol_id = co.carol.id().to_string();
    env.proxy.set(move |m, p, _, v| {
        if m == "GET" && p == members_path {
            for e in v["members"].as_array_mut().unwrap() {
                if e["user_id"] == carol_id.as_str() {
                    e["cert"] = carol_old_cert.clone();
                }
            }
        }
    });
    let m = assert_integrity(
        co.org.remove_member(co.cid, &co.carol.email).await,
        "removal over a revoked certificate",
    );
    assert!(m.contains("already revoked"), "{m}");
    assert_eq!(
        env.proxy.hits(
            "POST",
            &format!("/companies/{}/members/{}/remove", co.cid, co.carol.id())
        ),
        0,
        "carol was not removed"
    );

    // With the genuine directory, sharing to a current member still works.
    env.proxy.clear();
    os.create_share(
        "Team",
        &[router],
        &[],
        &[(user(&co.bob.email), ShareRoleDto::ReadOnly)],
        None,
    )
    .await
    .unwrap();
}
