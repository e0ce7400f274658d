//! Malicious-server tests for the organisation: a proxy in front of the real server (accounts
//! and sessions are real) that answers the organisation endpoints with what a compromised server
//! would send. The client must refuse, never obey, and must not send the request that would act
//! on the forged data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes as BodyBytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use castellan_client::account::{self, UnlockedAccount};
use castellan_client::home::Home;
use castellan_client::org::admin::{self, OrgSession};
use castellan_client::org::docs::sign;
use castellan_client::org::keys::KeyPair;
use castellan_client::org::pins::update_pins;
use castellan_client::org::{self, InviteLink};
use castellan_client::{ClientError, Secret};
use castellan_types::*;
use serde_json::{json, Value};
use uuid::Uuid;

const PW: &str = "malicious org server test password";
const SETUP_TOKEN: &str = "test-setup-token";

/// Canned answers by (method, path): status and JSON body.
type Canned = HashMap<(String, String), (u16, Value)>;
/// Rewrites a forwarded JSON answer (method, path, body).
type Mutator = Box<dyn Fn(&str, &str, &mut Value) + Send + Sync>;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    /// Canned answers by method and path (the organisation endpoints of a hostile server).
    canned: Arc<Mutex<Canned>>,
    mutator: Arc<Mutex<Option<Mutator>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Proxy {
    fn answer(&self, method: &str, path: &str, body: Value) {
        self.canned
            .lock()
            .unwrap()
            .insert((method.to_string(), format!("/api/v1{path}")), (200, body));
    }
    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .get(&format!("/api/v1{path}"))
            .copied()
            .unwrap_or(0)
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
    let canned = p
        .canned
        .lock()
        .unwrap()
        .get(&(method.as_str().to_string(), path.clone()))
        .cloned();
    if let Some((status, v)) = canned {
        return (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            serde_json::to_vec(&v).unwrap(),
        );
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
        canned: Arc::new(Mutex::new(HashMap::new())),
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
    account: UnlockedAccount,
}

async fn user(env: &Env, email: &str) -> User {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path());
    let (_, account) = account::register(&home, &env.url, email, PW, "test")
        .await
        .unwrap();
    User {
        home,
        _dir: dir,
        account,
    }
}

fn keys_dto(k: &KeyPair) -> CompanyKeysDto {
    k.public().company_dto()
}

fn company(id: Uuid, kind: CompanyKindDto, keys: &KeyPair, name: &str) -> CompanyDto {
    CompanyDto {
        id,
        kind,
        partner_id: None,
        name: name.into(),
        status: CompanyStatusDto::Active,
        plan: PlanDto::Advanced,
        seats: Some(10),
        seats_used: 1,
        trial_ends_at: None,
        keys: keys_dto(keys),
        created_at: 0,
    }
}

/// The member record a server would serve for `u`, with their real key binding.
fn member(u: &User, company_id: Uuid, role: RoleDto, status: MemberStatusDto) -> MemberDto {
    let k = u.home.device().unwrap().account.keyset;
    MemberDto {
        company_id,
        user_id: u.account.user_id,
        email: u.account.email.clone(),
        role,
        status,
        disabled: false,
        signing_key_id: k.signing_key_id,
        signing_public_key: k.signing_public_key,
        encryption_key_id: k.encryption_key_id,
        encryption_public_key: k.encryption_public_key,
        ak_version: k.ak_version,
        key_binding_signature: k.key_binding_signature,
        cert: None,
        invitation: None,
        two_factor_enabled: false,
        require_password_change: false,
        joined_at: 0,
        confirmed_at: None,
    }
}

fn cert(company: &KeyPair, company_id: Uuid, m: &MemberDto, role: RoleDto) -> SignedDoc {
    sign(
        &company.signing,
        statement::MEMBER_CERT,
        &MemberCertBody {
            company_id,
            user_id: m.user_id,
            email: m.email.clone(),
            role,
            signing_public_key: m.signing_public_key.clone(),
            encryption_public_key: m.encryption_public_key.clone(),
            serial: Uuid::new_v4(),
            issued_at: 0,
            issued_by: m.user_id,
        },
    )
}

fn invitation(company: &KeyPair, company_id: Uuid, email: &str, role: RoleDto) -> SignedDoc {
    sign(
        &company.signing,
        statement::INVITATION,
        &InvitationBody {
            company_id,
            invitation_id: Uuid::new_v4(),
            email: email.into(),
            role,
            expires_at: i64::MAX / 2,
            invited_by: Uuid::nil(),
        },
    )
}

fn policy_doc(k: &KeyPair, company_id: Uuid, counter: i64, min_length: u32) -> SignedDoc {
    sign(
        &k.signing,
        statement::POLICY,
        &PolicyBody {
            company_id,
            counter,
            issued_at: 0,
            issued_by: Uuid::nil(),
            policies: PolicySet {
                master_password: Some(MasterPasswordPolicy {
                    min_length,
                    require_uppercase: false,
                    require_lowercase: false,
                    require_digits: false,
                    require_symbols: false,
                    max_age_days: None,
                }),
                max_vault_timeout_minutes: Some(counter as u32),
                ..Default::default()
            },
        },
    )
}

fn assert_integrity<T>(r: Result<T, ClientError>, what: &str) {
    match r {
        Err(ClientError::Integrity(m)) => eprintln!("{what}: refused: {m}"),
        Err(other) => panic!("{what}: expected an integrity error, got {other:?}"),
        Ok(_) => panic!("{what}: expected an integrity error, got success"),
    }
}

/// An admin of `company` (pinned on their device) as the hostile server describes it; the
/// admin's grant of the company keys is real.
struct AdminSetup {
    admin: User,
    keys: KeyPair,
    cid: Uuid,
    company: CompanyDto,
}

async fn admin_setup(env: &Env, kind: CompanyKindDto) -> AdminSetup {
    let admin = user(env, "admin@example.com").await;
    let keys = KeyPair::generate();
    let cid = Uuid::new_v4();
    let company = company(cid, kind, &keys, "Acme");
    update_pins(&admin.home, |p| {
        p.check_or_pin(cid, &keys.public(), "created")?;
        Ok(())
    })
    .unwrap();
    let mut me = member(&admin, cid, RoleDto::Admin, MemberStatusDto::Confirmed);
    me.cert = Some(cert(&keys, cid, &me, RoleDto::Admin));
    env.proxy.answer(
        "GET",
        "/me/membership",
        json!(MembershipResponse {
            company: Some(company.clone()),
            member: Some(me),
            policy: None,
            partner: None,
            managed_customers: vec![],
        }),
    );
    env.proxy
        .answer("GET", &format!("/companies/{cid}"), json!(company.clone()));
    let sealed = keys
        .seal_company_grant(
            &admin.account.encryption.public_key().to_bytes(),
            cid,
            admin.account.user_id,
        )
        .unwrap();
    env.proxy.answer(
        "GET",
        "/me/key-grants",
        json!(KeyGrantListResponse {
            grants: vec![KeyGrantDto {
                company_id: cid,
                user_id: admin.account.user_id,
                sealed: Bytes(sealed),
            }],
        }),
    );
    AdminSetup {
        admin,
        keys,
        cid,
        company,
    }
}

async fn session(u: &User) -> OrgSession {
    let (_, account) = account::unlock_local(&u.home, PW).unwrap();
    OrgSession::open(&u.home, account).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_without_a_valid_signature_or_with_a_lower_counter_is_ignored() {
    let env = env().await;
    let s = admin_setup(&env, CompanyKindDto::Customer).await;
    let home = &s.admin.home;
    let serve_policy = |doc: Option<SignedDoc>| {
        let mut m: MembershipResponse = serde_json::from_value(
            env.proxy.canned.lock().unwrap()[&("GET".into(), "/api/v1/me/membership".into())]
                .1
                .clone(),
        )
        .unwrap();
        m.policy = doc;
        env.proxy.answer("GET", "/me/membership", json!(m));
    };
    let min_len =
        |p: &org::EffectivePolicy| p.policies.master_password.as_ref().unwrap().min_length;

    // Policy #2 (min length 14) verifies and is pinned.
    serve_policy(Some(policy_doc(&s.keys, s.cid, 2, 14)));
    let p = org::current_policy(home).await.unwrap().unwrap();
    assert_eq!((p.counter, min_len(&p)), (2, 14));
    assert!(p.warnings.is_empty());

    // The server flips the policy: signed by another key, higher counter, min length 1.
    serve_policy(Some(policy_doc(&KeyPair::generate(), s.cid, 9, 1)));
    let p = org::current_policy(home).await.unwrap().unwrap();
    assert_eq!(
        (p.counter, min_len(&p)),
        (2, 14),
        "the forged policy is ignored"
    );
    assert_eq!(p.warnings.len(), 1);

    // The server edits the signed body.
    let mut edited = policy_doc(&s.keys, s.cid, 3, 14);
    let mut v: Value = serde_json::from_slice(edited.body.as_slice()).unwrap();
    v["policies"]["master_password"]["min_length"] = 1.into();
    edited.body = Bytes(serde_json::to_vec(&v).unwrap());
    serve_policy(Some(edited));
    assert_eq!(
        min_len(&org::current_policy(home).await.unwrap().unwrap()),
        14
    );

    // The server replays an older, validly signed policy (#1, min length 4).
    serve_policy(Some(policy_doc(&s.keys, s.cid, 1, 4)));
    let p = org::current_policy(home).await.unwrap().unwrap();
    assert_eq!(
        (p.counter, min_len(&p)),
        (2, 14),
        "the replayed policy is ignored"
    );

    // The server drops the policy altogether.
    serve_policy(None);
    let p = org::current_policy(home).await.unwrap().unwrap();
    assert_eq!((p.counter, min_len(&p)), (2, 14));

    // A policy of another company, validly signed by this company's key: refused.
    serve_policy(Some(policy_doc(&s.keys, Uuid::new_v4(), 5, 1)));
    assert_eq!(
        min_len(&org::current_policy(home).await.unwrap().unwrap()),
        14
    );

    // The last verified policy is what the client enforces: a change to a 13-character master
    // password is refused before anything is sent.
    let (_, acct) = account::unlock_local(home, PW).unwrap();
    let before = env.proxy.hits("/account/password/start");
    let err = account::change_password(home, &acct, PW, "thirteen char")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Invalid(m) if m.contains("at least 14")),
        "{err:?}"
    );
    assert_eq!(env.proxy.hits("/account/password/start"), before);
    // And the agent's cap comes from the verified policy (#2: 2 minutes), not the forged one.
    let cap = org::pinned_own_policy(home)
        .and_then(|p| org::policy::max_vault_timeout(&p.policies))
        .unwrap();
    assert_eq!(cap.as_secs(), 120);

    // A newer, validly signed policy is accepted.
    serve_policy(Some(policy_doc(&s.keys, s.cid, 3, 8)));
    let p = org::current_policy(home).await.unwrap().unwrap();
    assert_eq!((p.counter, min_len(&p)), (3, 8));
}

fn preview_for(
    keys: &KeyPair,
    cid: Uuid,
    link: &InviteLink,
    email: &str,
) -> InvitationPreviewResponse {
    InvitationPreviewResponse {
        invitation_id: link.invitation_id,
        company_id: cid,
        company_name: "Acme".into(),
        email: email.into(),
        role: RoleDto::User,
        expires_at: i64::MAX / 2,
        keys: keys_dto(keys),
        invitation: sign(
            &keys.signing,
            statement::INVITATION,
            &InvitationBody {
                company_id: cid,
                invitation_id: link.invitation_id,
                email: email.into(),
                role: RoleDto::User,
                expires_at: i64::MAX / 2,
                invited_by: Uuid::nil(),
            },
        ),
        policy: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_whose_fingerprint_does_not_match_the_served_keys_aborts_the_join() {
    let env = env().await;
    let u = user(&env, "joiner@example.com").await;
    let real = KeyPair::generate();
    let cid = Uuid::new_v4();
    let link = InviteLink {
        server: env.url.clone(),
        invitation_id: Uuid::new_v4(),
        secret: Secret::new("c2VjcmV0c2VjcmV0"),
        fingerprint: real.public().fingerprint(),
    };
    let preview = format!("/invitations/{}/preview", link.invitation_id);
    let accept = format!("/invitations/{}/accept", link.invitation_id);
    env.proxy.answer("POST", &accept, json!({}));

    // The server substitutes its own company keys (and signs the invitation with them).
    let evil = KeyPair::generate();
    env.proxy.answer(
        "POST",
        &preview,
        json!(preview_for(&evil, cid, &link, "joiner@example.com")),
    );
    assert_integrity(
        admin::join(&u.home, &link).await,
        "substituted company keys",
    );
    assert_eq!(env.proxy.hits(&accept), 0, "no accept request was sent");
    assert!(
        u.home.device().unwrap().org.get(cid).is_none(),
        "nothing pinned"
    );

    // Registering through the link aborts before any account is created.
    let dir = tempfile::tempdir().unwrap();
    let new_home = Home::new(dir.path());
    let registrations = env.proxy.hits("/accounts/register/start");
    assert_integrity(
        admin::register_with_invite(&new_home, &env.url, &link, None, PW, "t").await,
        "register through a substituted link",
    );
    assert_eq!(env.proxy.hits("/accounts/register/start"), registrations);
    assert_eq!(env.proxy.hits(&accept), 0);

    // The right keys but an invitation signed by another key: refused too.
    let mut p = preview_for(&real, cid, &link, "joiner@example.com");
    p.invitation = preview_for(&evil, cid, &link, "joiner@example.com").invitation;
    env.proxy.answer("POST", &preview, json!(p));
    assert_integrity(
        admin::join(&u.home, &link).await,
        "invitation signed by another key",
    );
    assert_eq!(env.proxy.hits(&accept), 0);

    // The genuine preview joins (and pins the keys from the link).
    env.proxy.answer(
        "POST",
        &preview,
        json!(preview_for(&real, cid, &link, "joiner@example.com")),
    );
    let j = admin::join(&u.home, &link).await.unwrap();
    assert_eq!(j.company_id, cid);
    assert_eq!(env.proxy.hits(&accept), 1);
    let pins = u.home.device().unwrap().org;
    assert!(pins.keys(cid).unwrap().unwrap().ct_eq(&real.public()));
    assert_eq!(pins.my_company, Some(cid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_fabricated_member_is_never_confirmed() {
    let env = env().await;
    let s = admin_setup(&env, CompanyKindDto::Customer).await;
    let mallory = user(&env, "mallory@example.com").await;
    let org = session(&s.admin).await;
    let cid = s.cid;
    let confirm = format!(
        "/companies/{cid}/members/{}/confirm",
        mallory.account.user_id
    );
    env.proxy.answer("POST", &confirm, json!({}));
    env.proxy.answer(
        "GET",
        &format!("/companies/{cid}/invitations"),
        json!(InvitationListResponse {
            invitations: vec![]
        }),
    );
    let serve = |m: MemberDto| {
        env.proxy.answer(
            "GET",
            &format!("/companies/{cid}/members"),
            json!(MemberListResponse { members: vec![m] }),
        )
    };
    let base = member(&mallory, cid, RoleDto::User, MemberStatusDto::Accepted);

    // 1. No signed invitation at all.
    serve(base.clone());
    assert_integrity(
        org.prepare_confirm(&s.company, "mallory@example.com").await,
        "no invitation",
    );

    // 2. A role higher than the signed invitation.
    let mut m = base.clone();
    m.role = RoleDto::Admin;
    m.invitation = Some(invitation(
        &s.keys,
        cid,
        "mallory@example.com",
        RoleDto::User,
    ));
    serve(m);
    assert_integrity(
        org.prepare_confirm(&s.company, "mallory@example.com").await,
        "raised role",
    );

    // 3. An invitation for another email.
    let mut m = base.clone();
    m.invitation = Some(invitation(&s.keys, cid, "alice@example.com", RoleDto::User));
    serve(m);
    assert_integrity(
        org.prepare_confirm(&s.company, "mallory@example.com").await,
        "invitation for another email",
    );

    // 4. An invitation the server signed itself.
    let mut m = base.clone();
    m.invitation = Some(invitation(
        &KeyPair::generate(),
        cid,
        "mallory@example.com",
        RoleDto::User,
    ));
    serve(m);
    assert_integrity(
        org.prepare_confirm(&s.company, "mallory@example.com").await,
        "self-signed invitation",
    );

    // 5. A bad key binding (the server swapped in its own encryption key).
    let mut m = base.clone();
    m.invitation = Some(invitation(
        &s.keys,
        cid,
        "mallory@example.com",
        RoleDto::User,
    ));
    m.encryption_public_key = Bytes(KeyPair::generate().public().encryption.to_vec());
    serve(m);
    assert_integrity(
        org.prepare_confirm(&s.company, "mallory@example.com").await,
        "bad key binding",
    );
    assert_eq!(env.proxy.hits(&confirm), 0, "no confirmation was sent");

    // With a genuine invitation the preview shows the role of the signed invitation; the
    // confirmation itself needs the ConfirmIntent made from that preview.
    let mut m = base.clone();
    m.invitation = Some(invitation(
        &s.keys,
        cid,
        "mallory@example.com",
        RoleDto::User,
    ));
    serve(m);
    let preview = org
        .prepare_confirm(&s.company, "mallory@example.com")
        .await
        .unwrap();
    assert_eq!(preview.role, RoleDto::User);
    assert_eq!(preview.fingerprint.split(' ').count(), 8);
    assert_eq!(env.proxy.hits(&confirm), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn substituted_member_keys_are_refused_when_granting() {
    let env = env().await;
    let s = admin_setup(&env, CompanyKindDto::Partner).await;
    let bob = user(&env, "bob@example.com").await;
    let org = session(&s.admin).await;
    let pid = s.cid;
    let mut me = member(&s.admin, pid, RoleDto::Admin, MemberStatusDto::Confirmed);
    me.cert = Some(cert(&s.keys, pid, &me, RoleDto::Admin));
    let mut b = member(&bob, pid, RoleDto::Admin, MemberStatusDto::Confirmed);
    b.cert = Some(cert(&s.keys, pid, &b, RoleDto::Admin));
    // The server serves its own key for the second partner admin.
    let evil = KeyPair::generate().public();
    let mut swapped = b.clone();
    swapped.encryption_public_key = Bytes(evil.encryption.to_vec());
    env.proxy.answer(
        "GET",
        &format!("/companies/{pid}/members"),
        json!(MemberListResponse {
            members: vec![me.clone(), swapped]
        }),
    );
    let create = format!("/partners/{pid}/customers");
    env.proxy.answer("POST", &create, json!({}));
    assert_integrity(
        org.create_customer("Contoso", PlanDto::Standard, 5).await,
        "substituted partner admin key",
    );
    // A certificate the server made itself for the admin list: refused too.
    let mut forged = b.clone();
    forged.cert = Some(cert(&KeyPair::generate(), pid, &b, RoleDto::Admin));
    env.proxy.answer(
        "GET",
        &format!("/companies/{pid}/members"),
        json!(MemberListResponse {
            members: vec![me.clone(), forged]
        }),
    );
    assert_integrity(
        org.create_customer("Contoso", PlanDto::Standard, 5).await,
        "forged certificate",
    );
    assert_eq!(env.proxy.hits(&create), 0, "no customer was created");

    // Adding a member to a group: the served key must be the certified one.
    let gkeys = KeyPair::generate();
    let gid = Uuid::new_v4();
    let roster = sign(
        &s.keys.signing,
        statement::GROUP_ROSTER,
        &GroupRosterBody {
            company_id: pid,
            group_id: gid,
            name: "Ops".into(),
            is_everyone: false,
            version: 1,
            signing_public_key: Bytes(gkeys.public().signing.to_vec()),
            encryption_public_key: Bytes(gkeys.public().encryption.to_vec()),
            members: vec![],
        },
    );
    env.proxy.answer(
        "GET",
        &format!("/companies/{pid}/groups"),
        json!(GroupListResponse {
            groups: vec![GroupDto {
                id: gid,
                company_id: pid,
                name: "Ops".into(),
                is_everyone: false,
                keys: gkeys.public().group_dto(),
                roster,
                roster_version: 1,
                admin_grant: Bytes(
                    gkeys
                        .seal_group_admin_grant(&s.keys.public().encryption, gid, pid)
                        .unwrap()
                ),
                members: vec![],
                is_recovery: false,
            }],
        }),
    );
    let mut swapped = b.clone();
    swapped.encryption_public_key = Bytes(evil.encryption.to_vec());
    env.proxy.answer(
        "GET",
        &format!("/companies/{pid}/members"),
        json!(MemberListResponse {
            members: vec![me.clone(), swapped]
        }),
    );
    let roster_put = format!("/companies/{pid}/groups/{gid}/roster");
    env.proxy.answer("PUT", &roster_put, json!({}));
    assert_integrity(
        org.change_group(pid, "Ops", None, &["bob@example.com".into()], &[])
            .await,
        "substituted key when adding to a group",
    );
    assert_eq!(env.proxy.hits(&roster_put), 0);
    // With the certified key it goes through.
    env.proxy.answer(
        "GET",
        &format!("/companies/{pid}/members"),
        json!(MemberListResponse {
            members: vec![me, b]
        }),
    );
    org.change_group(pid, "Ops", None, &["bob@example.com".into()], &[])
        .await
        .unwrap();
    assert_eq!(env.proxy.hits(&roster_put), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_grant_that_opens_to_other_keys_than_the_pinned_ones_is_refused() {
    let env = env().await;
    let s = admin_setup(&env, CompanyKindDto::Customer).await;
    let org = session(&s.admin).await;
    let cid = s.cid;
    let invitations = format!("/companies/{cid}/invitations");
    env.proxy.answer("POST", &invitations, json!({}));

    // The server replaces the grant with one of its own keys (sealed correctly to the admin).
    let evil = KeyPair::generate();
    let sealed = evil
        .seal_company_grant(
            &s.admin.account.encryption.public_key().to_bytes(),
            cid,
            s.admin.account.user_id,
        )
        .unwrap();
    env.proxy.answer(
        "GET",
        "/me/key-grants",
        json!(KeyGrantListResponse {
            grants: vec![KeyGrantDto {
                company_id: cid,
                user_id: s.admin.account.user_id,
                sealed: Bytes(sealed),
            }],
        }),
    );
    assert_integrity(
        org.invite(&s.company, "new@example.com", RoleDto::User)
            .await,
        "grant of other keys",
    );
    // ... and also serves the matching company keys: the pin still refuses them.
    env.proxy.answer(
        "GET",
        &format!("/companies/{cid}"),
        json!(company(cid, CompanyKindDto::Customer, &evil, "Acme")),
    );
    assert_integrity(
        org.invite(&s.company, "new@example.com", RoleDto::User)
            .await,
        "grant and company keys swapped",
    );
    assert_eq!(
        env.proxy.hits(&invitations),
        0,
        "nothing was signed and sent"
    );
    assert!(s
        .admin
        .home
        .device()
        .unwrap()
        .org
        .keys(cid)
        .unwrap()
        .unwrap()
        .ct_eq(&s.keys.public()));
}

/// Against the real server's organisation API: the partner admin creates a customer and signs
/// its policy; the server then serves the policy edited, forged and rolled back. The client keeps
/// the one it verified and builds the next one from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_real_server_a_flipped_policy_is_ignored_and_never_signed_over() {
    let env = env().await;
    let admin = user(&env, "partner@example.com").await;
    let (_, account) = account::unlock_local(&admin.home, PW).unwrap();
    admin::setup(&admin.home, &account, SETUP_TOKEN, "MSP")
        .await
        .unwrap();
    let org = session(&admin).await;
    let alpha = org
        .create_customer("Alpha", PlanDto::Advanced, 5)
        .await
        .unwrap()
        .id;
    let strong = |p: &mut PolicySet| {
        p.master_password = Some(MasterPasswordPolicy {
            min_length: 14,
            require_uppercase: false,
            require_lowercase: false,
            require_digits: true,
            require_symbols: false,
            max_age_days: None,
        });
        p.password_auditing = true;
    };
    let set = org.set_policy(alpha, strong).await.unwrap();
    assert_eq!(set.counter, 1);
    let first = org.api.policy(alpha).await.unwrap().policy.unwrap();
    let policy_path = format!("/api/v1/companies/{alpha}/policy");
    let min_len =
        |p: &org::EffectivePolicy| p.policies.master_password.as_ref().map(|m| m.min_length);

    // 1. The server edits the signed body (a weaker password rule, auditing off).
    let pp = policy_path.clone();
    *env.proxy.mutator.lock().unwrap() = Some(Box::new(move |m: &str, p: &str, v: &mut Value| {
        if m == "GET" && p == pp {
            let doc: SignedDoc = serde_json::from_value(v["policy"].clone()).unwrap();
            let mut body: Value = serde_json::from_slice(doc.body.as_slice()).unwrap();
            body["policies"]["master_password"]["min_length"] = 1.into();
            body["policies"]["password_auditing"] = false.into();
            v["policy"]["body"] = Value::String(Bytes(serde_json::to_vec(&body).unwrap()).to_b64());
        }
    }));
    let p = org.policy(alpha).await.unwrap();
    assert_eq!((p.counter, min_len(&p)), (1, Some(14)));
    assert!(p.policies.password_auditing);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);

    // 2. An admin changing one policy while the server serves the edited one signs over the
    //    VERIFIED policy, never the edited one.
    let p = org
        .set_policy(alpha, |p| p.require_two_factor = true)
        .await
        .unwrap();
    assert_eq!(p.counter, 2);
    assert_eq!(min_len(&p), Some(14), "built on the verified policy");
    assert!(p.policies.require_two_factor && p.policies.password_auditing);
    *env.proxy.mutator.lock().unwrap() = None;
    let stored = org.api.policy(alpha).await.unwrap().policy.unwrap();
    let body: PolicyBody = serde_json::from_slice(stored.body.as_slice()).unwrap();
    assert_eq!(body.policies.master_password.unwrap().min_length, 14);

    // 3. The server rolls back to policy #1 (validly signed, older), then forges #3.
    let pp = policy_path.clone();
    let old = first.clone();
    *env.proxy.mutator.lock().unwrap() = Some(Box::new(move |m: &str, p: &str, v: &mut Value| {
        if m == "GET" && p == pp {
            v["policy"] = serde_json::to_value(&old).unwrap();
        }
    }));
    let p = org.policy(alpha).await.unwrap();
    assert_eq!(p.counter, 2, "the rolled back policy is ignored");
    assert!(p.policies.require_two_factor);
    let mut forged_body: PolicyBody = serde_json::from_slice(first.body.as_slice()).unwrap();
    forged_body.counter = 3;
    forged_body.policies = PolicySet::default();
    let forged = sign(
        &KeyPair::generate().signing,
        statement::POLICY,
        &forged_body,
    );
    let pp = policy_path.clone();
    *env.proxy.mutator.lock().unwrap() = Some(Box::new(move |m: &str, p: &str, v: &mut Value| {
        if m == "GET" && p == pp {
            v["policy"] = serde_json::to_value(&forged).unwrap();
        }
    }));
    let p = org.policy(alpha).await.unwrap();
    assert_eq!(p.counter, 2, "the forged policy is ignored");
    assert!(p.policies.require_two_factor && p.policies.password_auditing);
}

/// Property 28: the server adds an attacker to a group. Editing the signed roster breaks its
/// signature (refused); adding them only to the server's member list changes nothing the
/// client relies on (the client reads members from the signed roster only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_added_to_a_group_roster_by_the_server_is_refused() {
    let env = env().await;
    let admin = user(&env, "partner@example.com").await;
    let (_, account) = account::unlock_local(&admin.home, PW).unwrap();
    admin::setup(&admin.home, &account, SETUP_TOKEN, "MSP")
        .await
        .unwrap();
    let org = session(&admin).await;
    let cid = org.my_company().unwrap().id;
    let gid = org.create_group(cid, "Engineering", &[]).await.unwrap();
    let attacker = Uuid::new_v4();
    let groups_path = format!("/api/v1/companies/{cid}/groups");

    // 1. The attacker only in the server's member list: ignored.
    let gp = groups_path.clone();
    *env.proxy.mutator.lock().unwrap() = Some(Box::new(move |m: &str, p: &str, v: &mut Value| {
        if m == "GET" && p == gp {
            for g in v["groups"].as_array_mut().unwrap() {
                g["members"]
                    .as_array_mut()
                    .unwrap()
                    .push(Value::String(attacker.to_string()));
            }
        }
    }));
    let groups = org.groups(cid).await.unwrap();
    let eng = groups.iter().find(|g| g.id == gid).unwrap();
    assert!(eng.members.is_empty(), "{:?}", eng.members);

    // 2. The attacker written into the signed roster: the signature no longer verifies, and
    //    no roster is signed over it.
    let gp = groups_path.clone();
    *env.proxy.mutator.lock().unwrap() = Some(Box::new(move |m: &str, p: &str, v: &mut Value| {
        if m == "GET" && p == gp {
            for g in v["groups"].as_array_mut().unwrap() {
                let doc: SignedDoc = serde_json::from_value(g["roster"].clone()).unwrap();
                let mut body: Value = serde_json::from_slice(doc.body.as_slice()).unwrap();
                body["members"]
                    .as_array_mut()
                    .unwrap()
                    .push(Value::String(attacker.to_string()));
                g["roster"]["body"] =
                    Value::String(Bytes(serde_json::to_vec(&body).unwrap()).to_b64());
            }
        }
    }));
    assert_integrity(org.groups(cid).await, "a roster with an added attacker");
    let roster_puts = env
        .proxy
        .hits(&format!("/companies/{cid}/groups/{gid}/roster"));
    assert_integrity(
        org.change_group(cid, "Engineering", Some("Eng"), &[], &[])
            .await,
        "a rename over a tampered roster",
    );
    assert_eq!(
        env.proxy
            .hits(&format!("/companies/{cid}/groups/{gid}/roster")),
        roster_puts,
        "no roster was sent"
    );

    // 3. A roster re-signed by a key of the server's own: refused as well.
    let gp = groups_path.clone();
    *env.proxy.mutator.lock().unwrap() = Some(Box::new(move |m: &str, p: &str, v: &mut Value| {
        if m == "GET" && p == gp {
            for g in v["groups"].as_array_mut().unwrap() {
                let doc: SignedDoc = serde_json::from_value(g["roster"].clone()).unwrap();
                let mut body: GroupRosterBody =
                    serde_json::from_slice(doc.body.as_slice()).unwrap();
                body.members.push(attacker);
                g["roster"] = serde_json::to_value(sign(
                    &KeyPair::generate().signing,
                    statement::GROUP_ROSTER,
                    &body,
                ))
                .unwrap();
            }
        }
    }));
    assert_integrity(org.groups(cid).await, "a roster signed by another key");

    // Without the proxy's edits everything is as the admin left it.
    *env.proxy.mutator.lock().unwrap() = None;
    let groups = org.groups(cid).await.unwrap();
    let eng = groups.iter().find(|g| g.id == gid).unwrap();
    assert_eq!((eng.name.as_str(), eng.members.len()), ("Engineering", 0));
}
