//! Helpers of the organisation tests: an in-process server over real loopback HTTP on SQLite
//! (with a second handle on the same store for fixtures), users with real key pairs, company
//! root keys that sign documents exactly as a client does, and an SMTP sink that really
//! receives the server's mail.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use castellan_crypto as crypto;
use castellan_store::{NewUser, NewVault, OrgStore, SessionRecord, Store, VaultKind};
use castellan_store_sqlite::SqliteStore;
use castellan_types::*;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use uuid::Uuid;

pub const PW: &str = "org test password";

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------- server

pub struct Srv {
    pub url: String,
    pub http: reqwest::Client,
    /// The server's store, for fixtures and for checking what was (not) stored.
    pub store: SqliteStore,
    _dir: tempfile::TempDir,
}

pub async fn start(settings: castellan_server::Settings) -> Srv {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db.sqlite3"))
        .await
        .unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1", l.local_addr().unwrap());
    tokio::spawn(castellan_server::serve(
        store.clone(),
        settings,
        l,
        std::future::pending(),
    ));
    Srv {
        url,
        http: reqwest::Client::new(),
        store,
        _dir: dir,
    }
}

/// A response: status, JSON body (or `Value::String` of a non-JSON body) and content type.
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone())
            .unwrap_or_else(|e| panic!("unexpected body ({e}): {}", self.body))
    }
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {}: {}",
            self.status,
            self.body
        );
        self
    }
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected answer: {}",
            self.body
        );
        self
    }
}

impl Srv {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut r = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            body,
            content_type,
        }
    }
    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(reqwest::Method::GET, path, token, None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: &impl Serialize) -> Resp {
        let v = serde_json::to_value(body).unwrap();
        self.call(reqwest::Method::POST, path, token, Some(&v))
            .await
    }
    pub async fn put(&self, path: &str, token: Option<&str>, body: &impl Serialize) -> Resp {
        let v = serde_json::to_value(body).unwrap();
        self.call(reqwest::Method::PUT, path, token, Some(&v)).await
    }
    pub async fn patch(&self, path: &str, token: Option<&str>, body: &impl Serialize) -> Resp {
        let v = serde_json::to_value(body).unwrap();
        self.call(reqwest::Method::PATCH, path, token, Some(&v))
            .await
    }
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(reqwest::Method::DELETE, path, token, None).await
    }

    /// Sets a known setup token (as the operator command does) and returns it.
    pub async fn setup_token(&self) -> String {
        let t = format!("test-token-{}", Uuid::new_v4());
        self.store.setup_token_set(t.clone()).await.unwrap();
        t
    }
}

// ---------------------------------------------------------------- users

/// An account with real identity keys and a session.
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub token: String,
    pub sign: crypto::SigningKey,
    pub enc: crypto::HpkePrivateKey,
}

impl User {
    pub fn t(&self) -> Option<&str> {
        Some(&self.token)
    }
    pub fn signing_pk(&self) -> Bytes {
        Bytes(self.sign.verifying_key().to_bytes().to_vec())
    }
    pub fn encryption_pk(&self) -> Bytes {
        Bytes(self.enc.public_key().to_bytes().to_vec())
    }
}

fn keyset(
    sign: &crypto::SigningKey,
    enc: &crypto::HpkePrivateKey,
    ksf: KsfProfile,
) -> AccountKeyset {
    let blob = || Bytes(vec![1u8; 100]);
    AccountKeyset {
        format: 1,
        ak_version: 1,
        account_key_wrap: blob(),
        ksf,
        signing_key_id: Uuid::new_v4(),
        signing_public_key: Bytes(sign.verifying_key().to_bytes().to_vec()),
        signing_key_wrap: blob(),
        encryption_key_id: Uuid::new_v4(),
        encryption_public_key: Bytes(enc.public_key().to_bytes().to_vec()),
        encryption_key_wrap: blob(),
        key_binding_signature: Bytes(vec![4; 64]),
    }
}

fn vaults() -> Vec<VaultDto> {
    [VaultKindDto::Personal, VaultKindDto::Business]
        .into_iter()
        .map(|kind| VaultDto {
            id: Uuid::new_v4(),
            kind,
            key_wrap: Bytes(vec![1u8; 100]),
            key_version: 1,
        })
        .collect()
}

/// An account and a session made directly in the store (no OPAQUE: fast, for tests that do
/// not log in).
pub async fn quick_user(s: &Srv, email: &str) -> User {
    let id = Uuid::new_v4();
    let sign = crypto::SigningKey::generate();
    let enc = crypto::HpkePrivateKey::generate();
    let ks = keyset(
        &sign,
        &enc,
        KsfProfile {
            m_kib: 65536,
            t: 3,
            p: 4,
        },
    );
    let email = email.to_lowercase();
    s.store
        .create_user(
            NewUser {
                id,
                email: email.clone(),
                opaque_record: vec![0u8; 64],
                keyset: serde_json::to_string(&ks).unwrap(),
                created_at: now(),
            },
            vaults()
                .into_iter()
                .map(|v| NewVault {
                    id: v.id,
                    kind: if v.kind == VaultKindDto::Personal {
                        VaultKind::Personal
                    } else {
                        VaultKind::Business
                    },
                    key_wrap: v.key_wrap.0,
                    key_version: 1,
                })
                .collect(),
        )
        .await
        .unwrap();
    let token = URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes());
    s.store
        .create_session(SessionRecord {
            id: Uuid::new_v4(),
            user_id: id,
            token_hash: crypto::sha256(token.as_bytes()).to_vec(),
            device_name: "test".into(),
            created_at: now(),
            last_seen_at: now(),
            expires_at: now() + 3600,
            revoked_at: None,
            restriction: None,
        })
        .await
        .unwrap();
    User {
        id,
        email,
        token,
        sign,
        enc,
    }
}

fn secret_key() -> crypto::SecretKey {
    crypto::SecretKey::from_bytes([9u8; 16])
}

/// Registers through the API with real OPAQUE messages and logs in (for tests of the login).
pub async fn register(s: &Srv, email: &str) -> User {
    let id = Uuid::new_v4();
    let pw_in = crypto::password_input(PW, &secret_key());
    let (st, req) = crypto::client_registration_start(&pw_in).unwrap();
    let r = s
        .post(
            "/accounts/register/start",
            None,
            &RegisterStartRequest {
                email: email.into(),
                user_id: id,
                registration_request: req.into(),
            },
        )
        .await;
    r.ok();
    let start: RegisterStartResponse = r.json();
    let (upload, _, _) = crypto::client_registration_finish(
        st,
        &pw_in,
        start.registration_response.as_slice(),
        crypto::KsfParams::FLOOR,
    )
    .unwrap();
    let sign = crypto::SigningKey::generate();
    let enc = crypto::HpkePrivateKey::generate();
    s.post(
        "/accounts/register/finish",
        None,
        &RegisterFinishRequest {
            email: email.into(),
            user_id: id,
            registration_record: upload.into(),
            keyset: keyset(&sign, &enc, start.ksf),
            vaults: vaults(),
        },
    )
    .await
    .ok();
    let login = login(s, email, PW).await;
    login.ok();
    User {
        id,
        email: email.to_lowercase(),
        token: login.body["session_token"].as_str().unwrap().to_string(),
        sign,
        enc,
    }
}

/// Both OPAQUE messages of a login; the answer of `/auth/login/finish`.
pub async fn login(s: &Srv, email: &str, password: &str) -> Resp {
    let pw_in = crypto::password_input(password, &secret_key());
    let (st, req) = crypto::client_login_start(&pw_in).unwrap();
    let r = s
        .post(
            "/auth/login/start",
            None,
            &LoginStartRequest {
                email: email.into(),
                credential_request: req.into(),
            },
        )
        .await;
    if r.status != 200 {
        return r;
    }
    let start: LoginStartResponse = r.json();
    let fin = match crypto::client_login_finish(
        st,
        &pw_in,
        start.credential_response.as_slice(),
        crypto::KsfParams::FLOOR,
    ) {
        Ok((fin, _, _, _)) => fin,
        Err(_) => vec![0u8; 64],
    };
    s.post(
        "/auth/login/finish",
        None,
        &LoginFinishRequest {
            login_id: start.login_id,
            credential_finalization: fin.into(),
            device_name: "test device".into(),
        },
    )
    .await
}

// ---------------------------------------------------------------- companies and documents

/// The plaintext of a company or group key grant: signing seed || encryption secret key.
fn key_material(sign: &crypto::SigningKey, enc: &crypto::HpkePrivateKey) -> Vec<u8> {
    let mut v = sign.seed().to_vec();
    v.extend_from_slice(enc.to_bytes().as_ref());
    v
}

fn seal_to(recipient: &Bytes, info: &[u8], plaintext: &[u8]) -> Bytes {
    let pk = crypto::HpkePublicKey::from_bytes(recipient.as_slice()).unwrap();
    let (enc, ct) = crypto::hpke_seal(&pk, info, b"", plaintext).unwrap();
    Bytes([enc, ct].concat())
}

/// A group's keys and the roster state a client keeps to sign the next version.
pub struct Group {
    pub id: Uuid,
    pub name: String,
    pub is_everyone: bool,
    pub sign: crypto::SigningKey,
    pub enc: crypto::HpkePrivateKey,
    pub version: i64,
    pub members: Vec<Uuid>,
}

impl Group {
    pub fn new(name: &str, is_everyone: bool) -> Group {
        Group {
            id: Uuid::new_v4(),
            name: name.into(),
            is_everyone,
            sign: crypto::SigningKey::generate(),
            enc: crypto::HpkePrivateKey::generate(),
            version: 0,
            members: Vec::new(),
        }
    }
    pub fn keys(&self) -> GroupKeysDto {
        GroupKeysDto {
            signing_public_key: Bytes(self.sign.verifying_key().to_bytes().to_vec()),
            encryption_public_key: Bytes(self.enc.public_key().to_bytes().to_vec()),
        }
    }
    pub fn grant(&self, user: &User) -> GroupGrantDto {
        let mut info = b"castellan/v1/group-key-grant".to_vec();
        info.extend_from_slice(self.id.as_bytes());
        info.extend_from_slice(user.id.as_bytes());
        GroupGrantDto {
            user_id: user.id,
            sealed: seal_to(
                &user.encryption_pk(),
                &info,
                &key_material(&self.sign, &self.enc),
            ),
        }
    }
    /// The roster with `members` at `version`, signed by the company.
    pub fn roster(&self, company: &Company, version: i64, members: &[Uuid]) -> SignedDoc {
        company.sign(
            statement::GROUP_ROSTER,
            &GroupRosterBody {
                company_id: company.id,
                group_id: self.id,
                name: self.name.clone(),
                is_everyone: self.is_everyone,
                version,
                signing_public_key: self.keys().signing_public_key,
                encryption_public_key: self.keys().encryption_public_key,
                members: members.to_vec(),
            },
        )
    }
    /// The creation request (version 1) with grants for `members`.
    pub fn new_dto(&self, company: &Company, members: &[&User]) -> NewGroupDto {
        let ids: Vec<Uuid> = members.iter().map(|u| u.id).collect();
        let mut info = b"castellan/v1/group-admin-grant".to_vec();
        info.extend_from_slice(self.id.as_bytes());
        info.extend_from_slice(company.id.as_bytes());
        NewGroupDto {
            group_id: self.id,
            name: self.name.clone(),
            keys: self.keys(),
            roster: self.roster(company, 1, &ids),
            admin_grant: seal_to(
                &company.keys().encryption_public_key,
                &info,
                &key_material(&self.sign, &self.enc),
            ),
            grants: members.iter().map(|u| self.grant(u)).collect(),
        }
    }
}

/// A company's root keys, as the creating client holds them, and its Everyone group.
pub struct Company {
    pub id: Uuid,
    pub name: String,
    pub sign: crypto::SigningKey,
    pub enc: crypto::HpkePrivateKey,
    pub everyone: Group,
    pub policy_counter: i64,
}

impl Company {
    pub fn new(name: &str) -> Company {
        Company {
            id: Uuid::new_v4(),
            name: name.into(),
            sign: crypto::SigningKey::generate(),
            enc: crypto::HpkePrivateKey::generate(),
            everyone: Group::new("Everyone", true),
            policy_counter: 0,
        }
    }
    pub fn keys(&self) -> CompanyKeysDto {
        CompanyKeysDto {
            signing_public_key: Bytes(self.sign.verifying_key().to_bytes().to_vec()),
            encryption_public_key: Bytes(self.enc.public_key().to_bytes().to_vec()),
        }
    }
    pub fn fingerprint(&self) -> [u8; 32] {
        let k = self.keys();
        crypto::fingerprint(
            "company-root",
            &[k.signing_public_key.0, k.encryption_public_key.0].concat(),
        )
    }
    /// As people compare it: 8 groups of 4 hex digits.
    pub fn fingerprint_groups(&self) -> String {
        self.fingerprint()[..16]
            .chunks(2)
            .map(|c| format!("{:02x}{:02x}", c[0], c[1]))
            .collect::<Vec<_>>()
            .join(" ")
    }
    pub fn sign(&self, statement_type: &str, body: &impl Serialize) -> SignedDoc {
        let body = serde_json::to_vec(body).unwrap();
        let signature = self.sign.sign_statement(statement_type, &body);
        SignedDoc {
            body: Bytes(body),
            signature: Bytes(signature.to_vec()),
        }
    }
    /// The company keys sealed to a holder.
    pub fn grant(&self, holder: &User) -> Bytes {
        let mut info = b"castellan/v1/company-key-grant".to_vec();
        info.extend_from_slice(self.id.as_bytes());
        info.extend_from_slice(holder.id.as_bytes());
        seal_to(
            &holder.encryption_pk(),
            &info,
            &key_material(&self.sign, &self.enc),
        )
    }
    pub fn cert(&self, member: &User, role: RoleDto, issuer: &User) -> SignedDoc {
        self.sign(
            statement::MEMBER_CERT,
            &MemberCertBody {
                company_id: self.id,
                user_id: member.id,
                email: member.email.clone(),
                role,
                signing_public_key: member.signing_pk(),
                encryption_public_key: member.encryption_pk(),
                serial: Uuid::new_v4(),
                issued_at: now(),
                issued_by: issuer.id,
            },
        )
    }
    /// The next policy document (counter + 1), issued by `issuer`.
    pub fn policy(&mut self, issuer: &User, policies: PolicySet) -> SignedDoc {
        self.policy_counter += 1;
        self.sign(
            statement::POLICY,
            &PolicyBody {
                company_id: self.id,
                counter: self.policy_counter,
                issued_at: now(),
                issued_by: issuer.id,
                policies,
            },
        )
    }
    /// An invitation as an admin's client builds it; returns the request and the link secret.
    pub fn invitation(
        &self,
        inviter: &User,
        email: &str,
        role: RoleDto,
    ) -> (CreateInvitationRequest, String) {
        let id = Uuid::new_v4();
        let secret = URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes());
        let doc = self.sign(
            statement::INVITATION,
            &InvitationBody {
                company_id: self.id,
                invitation_id: id,
                email: email.to_lowercase(),
                role,
                expires_at: now() + 7 * 24 * 3600,
                invited_by: inviter.id,
            },
        );
        let link = format!(
            "http://castellan.test/join#v1.{id}.{secret}.{}",
            URL_SAFE_NO_PAD.encode(self.fingerprint())
        );
        (
            CreateInvitationRequest {
                invitation_id: id,
                email: email.into(),
                role,
                secret_hash: Bytes(crypto::sha256(secret.as_bytes()).to_vec()),
                invitation: doc,
                link,
            },
            secret,
        )
    }
}

/// Creates the first (or a further) partner with `admin` as founder.
pub async fn setup_partner(s: &Srv, admin: &mut User, name: &str) -> Company {
    let mut p = Company::new(name);
    let req = setup_request(s, admin, &p).await;
    s.post("/setup", admin.t(), &req).await.ok();
    p.everyone.version = 1;
    p.everyone.members = vec![admin.id];
    p
}

pub async fn setup_request(s: &Srv, admin: &User, p: &Company) -> SetupRequest {
    SetupRequest {
        setup_token: s.setup_token().await,
        company_id: p.id,
        name: p.name.clone(),
        keys: p.keys(),
        key_grant: p.grant(admin),
        admin_cert: p.cert(admin, RoleDto::Admin, admin),
        everyone: p.everyone.new_dto(p, &[admin]),
    }
}

/// The request that creates customer `c` under `partner` (grants for `partner_admins`).
pub fn customer_request(
    c: &Company,
    plan: PlanDto,
    seats: i64,
    partner_admins: &[&User],
) -> CreateCustomerRequest {
    CreateCustomerRequest {
        company_id: c.id,
        name: c.name.clone(),
        plan,
        seats,
        keys: c.keys(),
        key_grants: partner_admins
            .iter()
            .map(|a| KeyGrantDto {
                company_id: c.id,
                user_id: a.id,
                sealed: c.grant(a),
            })
            .collect(),
        everyone: c.everyone.new_dto(c, &[]),
        policy: None,
    }
}

pub async fn create_customer(
    s: &Srv,
    partner: &Company,
    admin: &User,
    name: &str,
    plan: PlanDto,
    seats: i64,
) -> Company {
    let mut c = Company::new(name);
    let r = s
        .post(
            &format!("/partners/{}/customers", partner.id),
            admin.t(),
            &customer_request(&c, plan, seats, &[admin]),
        )
        .await;
    r.ok();
    c.everyone.version = 1;
    c
}

/// Invites and accepts; returns the accept answer.
pub async fn invite_and_accept(
    s: &Srv,
    c: &Company,
    admin: &User,
    user: &User,
    role: RoleDto,
) -> Resp {
    let (req, secret) = c.invitation(admin, &user.email, role);
    s.post(&format!("/companies/{}/invitations", c.id), admin.t(), &req)
        .await
        .ok();
    s.post(
        &format!("/invitations/{}/accept", req.invitation_id),
        user.t(),
        &InvitationSecretRequest { secret },
    )
    .await
}

/// The confirm request for an accepted member (with the Everyone roster + grant; the company
/// keys for an admin).
pub fn confirm_request(
    c: &Company,
    admin: &User,
    member: &User,
    role: RoleDto,
) -> ConfirmMemberRequest {
    let mut members = c.everyone.members.clone();
    members.push(member.id);
    ConfirmMemberRequest {
        cert: c.cert(member, role, admin),
        key_grant: (role == RoleDto::Admin).then(|| c.grant(member)),
        everyone_roster: RosterUpdateRequest {
            roster: c.everyone.roster(c, c.everyone.version + 1, &members),
            grants: vec![c.everyone.grant(member)],
        },
        customer_key_grants: Vec::new(),
    }
}

/// Confirms an accepted member and keeps the client's Everyone state in step.
pub async fn confirm(s: &Srv, c: &mut Company, admin: &User, member: &User, role: RoleDto) -> Resp {
    let req = confirm_request(c, admin, member, role);
    let r = s
        .post(
            &format!("/companies/{}/members/{}/confirm", c.id, member.id),
            admin.t(),
            &req,
        )
        .await;
    if r.status == 200 {
        c.everyone.version += 1;
        c.everyone.members.push(member.id);
    }
    r
}

/// Invite, accept, confirm.
pub async fn add_member(s: &Srv, c: &mut Company, admin: &User, user: &User, role: RoleDto) {
    invite_and_accept(s, c, admin, user, role).await.ok();
    confirm(s, c, admin, user, role).await.ok();
}

pub fn garbage() -> Value {
    json!({"garbage": true})
}

// ---------------------------------------------------------------- SMTP sink

/// A minimal SMTP server on loopback that accepts every message.
#[derive(Clone, Default)]
pub struct SmtpSink {
    pub messages: Arc<Mutex<Vec<Received>>>,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub rcpt: Vec<String>,
    pub data: String,
}

impl SmtpSink {
    /// Starts the sink; returns it and its `smtp://` URL.
    pub async fn start() -> (SmtpSink, String) {
        let sink = SmtpSink::default();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", l.local_addr().unwrap());
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = l.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(conn).await;
                });
            }
        });
        (sink, url)
    }

    async fn session(&self, conn: tokio::net::TcpStream) -> std::io::Result<()> {
        let (r, mut w) = conn.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 sink ESMTP\r\n").await?;
        let mut rcpt = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_ascii_uppercase();
            if cmd.starts_with("EHLO") {
                w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?;
            } else if cmd.starts_with("RCPT TO:") {
                rcpt.push(line.trim_end()[8..].trim().to_string());
                w.write_all(b"250 OK\r\n").await?;
            } else if cmd == "DATA" {
                w.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(&line);
                }
                self.messages.lock().unwrap().push(Received {
                    rcpt: std::mem::take(&mut rcpt),
                    data,
                });
                w.write_all(b"250 OK queued\r\n").await?;
            } else if cmd == "QUIT" {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                w.write_all(b"250 OK\r\n").await?;
            }
        }
    }

    /// Waits (up to 10 s) for a message to `to` whose text contains `needle`.
    pub async fn wait_for(&self, to: &str, needle: &str) -> Received {
        for _ in 0..200 {
            if let Some(m) = self
                .messages
                .lock()
                .unwrap()
                .iter()
                .find(|m| m.rcpt.iter().any(|r| r.contains(to)) && m.data.contains(needle))
            {
                return m.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "no mail to {to} containing {needle:?}; got {:?}",
            self.messages.lock().unwrap()
        );
    }
}

// ---------------------------------------------------------------- sharing

/// A user principal.
pub fn user_p(u: &User) -> PrincipalDto {
    PrincipalDto {
        kind: PrincipalKindDto::User,
        id: u.id,
    }
}

/// A group principal.
pub fn group_p(g: &Group) -> PrincipalDto {
    PrincipalDto {
        kind: PrincipalKindDto::Group,
        id: g.id,
    }
}

pub fn entry(principal: PrincipalDto, role: ShareRoleDto) -> AclEntryDto {
    AclEntryDto { principal, role }
}

/// Who signs an access list in a test.
pub enum AclSigner<'a> {
    Member(&'a User),
    Company(&'a Company),
}

/// A share as its owner's client keeps it: the share key, the versions it wrote last and the
/// entries of its access list.
pub struct Share {
    pub id: Uuid,
    pub company_id: Uuid,
    pub key: [u8; 32],
    pub acl_version: i64,
    pub key_version: i64,
    pub manifest_counter: i64,
    pub entries: Vec<AclEntryDto>,
    pub expires_at: Option<i64>,
}

impl Share {
    /// A new share of `company` (nothing sent yet): `owner` is an owner, plus `others`.
    pub fn new(company: &Company, owner: &User, others: &[(PrincipalDto, ShareRoleDto)]) -> Share {
        let mut entries = vec![entry(user_p(owner), ShareRoleDto::Owner)];
        entries.extend(others.iter().map(|(p, r)| entry(*p, *r)));
        Share {
            id: Uuid::new_v4(),
            company_id: company.id,
            key: rand_key(),
            acl_version: 0,
            key_version: 1,
            manifest_counter: 0,
            entries,
            expires_at: None,
        }
    }

    /// The access list at `version` with the current entries, key version and expiry.
    pub fn acl_at(&self, version: i64, signer: AclSigner<'_>) -> SignedDoc {
        let body = ShareAclBody {
            share_id: self.id,
            company_id: self.company_id,
            version,
            key_version: self.key_version,
            entries: self.entries.clone(),
            expires_at: self.expires_at,
            issued_at: now(),
            signer: match &signer {
                AclSigner::Member(u) => AclSignerDto::Member(u.id),
                AclSigner::Company(_) => AclSignerDto::Company,
            },
        };
        let bytes = serde_json::to_vec(&body).unwrap();
        let signature = match signer {
            AclSigner::Member(u) => u.sign.sign_statement(share_statement::ACL, &bytes),
            AclSigner::Company(c) => c.sign.sign_statement(share_statement::ACL, &bytes),
        };
        SignedDoc {
            body: Bytes(bytes),
            signature: Bytes(signature.to_vec()),
        }
    }

    /// The next access list (version + 1).
    pub fn next_acl(&self, signer: AclSigner<'_>) -> SignedDoc {
        self.acl_at(self.acl_version + 1, signer)
    }

    /// The share key sealed to `recipient_pk` (a user's or group's encryption key), signed by
    /// `granter`.
    pub fn grant(
        &self,
        granter: &User,
        principal: PrincipalDto,
        recipient_pk: &Bytes,
    ) -> ShareGrantDto {
        let info = ShareGrantDto::hpke_info(self.id, principal, self.key_version);
        let sealed = seal_to(recipient_pk, &info, &self.key);
        let digest = crypto::sha256(sealed.as_slice());
        let body = ShareGrantDto::signed_body(self.id, principal, self.key_version, &digest);
        ShareGrantDto {
            principal,
            key_version: self.key_version,
            sealed,
            granted_by: granter.id,
            signature: Bytes(
                granter
                    .sign
                    .sign_statement(share_statement::GRANT, &body)
                    .to_vec(),
            ),
        }
    }

    pub fn user_grant(&self, granter: &User, user: &User) -> ShareGrantDto {
        self.grant(granter, user_p(user), &user.encryption_pk())
    }

    pub fn group_grant(&self, granter: &User, group: &Group) -> ShareGrantDto {
        self.grant(granter, group_p(group), &group.keys().encryption_public_key)
    }

    /// The share vault's next manifest (the server only checks its counter).
    pub fn next_manifest(&mut self) -> ManifestDto {
        self.manifest_counter += 1;
        self.manifest_at(self.manifest_counter)
    }

    /// The share vault's manifest with `counter` (without moving the client's counter).
    pub fn manifest_at(&self, counter: i64) -> ManifestDto {
        ManifestDto {
            vault_id: self.id,
            counter,
            manifest: Bytes(vec![0x4d; 120]),
        }
    }

    /// The creation request, signed by `owner`, with `grants`.
    pub fn create_request(
        &mut self,
        owner: &User,
        grants: Vec<ShareGrantDto>,
    ) -> CreateShareRequest {
        CreateShareRequest {
            share_id: self.id,
            company_id: self.company_id,
            acl: self.acl_at(1, AclSigner::Member(owner)),
            name: Bytes(vec![0x6e; 96]),
            name_for_admins: Bytes(vec![0x61; 96]),
            grants,
            manifest: self.next_manifest(),
        }
    }
}

pub fn rand_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    k.copy_from_slice(&crypto::sha256(Uuid::new_v4().as_bytes()));
    k
}

/// Creates `share` as `owner` with grants for `owner` and `users`; panics unless it worked.
pub async fn create_share(s: &Srv, share: &mut Share, owner: &User, users: &[&User]) -> ShareDto {
    let mut grants = vec![share.user_grant(owner, owner)];
    grants.extend(users.iter().map(|u| share.user_grant(owner, u)));
    let req = share.create_request(owner, grants);
    let r = s.post("/shares", owner.t(), &req).await;
    r.ok();
    share.acl_version = 1;
    r.json()
}

/// An item (ciphertext stand-ins) for `vault_id`.
pub fn share_item(
    vault_id: Uuid,
    version: i64,
    expected: Option<i64>,
    manifest: ManifestDto,
) -> PutObjectRequest {
    PutObjectRequest {
        vault_id,
        kind: ObjectKindDto::Item,
        version,
        expected_version: expected,
        trashed: false,
        key_wrap: Bytes(vec![1; 60]),
        overview: Bytes(vec![2; 200]),
        details: Bytes(vec![3; 300]),
        manifests: vec![manifest],
    }
}

// ---------------------------------------------------------------- change hints (SSE)

/// Reads server-sent events from a response body.
pub struct Events {
    body: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>,
    >,
    buffer: String,
}

impl Events {
    pub fn new(r: reqwest::Response) -> Self {
        Events {
            body: Box::pin(r.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next event as (name, data), skipping comments (keep-alives); `None` after `wait`.
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<(String, String)> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut name, mut data) = (String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if !data.is_empty() {
                    return Some((name, data));
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??;
            self.buffer
                .push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
    }

    /// The next `change` hint's cursor within `wait`.
    pub async fn hint(&mut self, wait: std::time::Duration) -> Option<i64> {
        let (name, data) = self.next(wait).await?;
        assert_eq!(name, "change");
        let hint: ChangeHint = serde_json::from_str(&data).unwrap();
        Some(hint.cursor)
    }

    /// Drops every hint that arrives within `wait`.
    pub async fn drain(&mut self, wait: std::time::Duration) {
        while self.next(wait).await.is_some() {}
    }
}

impl Srv {
    /// Opens `GET /events` for `user`.
    pub async fn events(&self, user: &User) -> Events {
        let r = self
            .http
            .get(format!("{}/events", self.url))
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        Events::new(r)
    }
}
