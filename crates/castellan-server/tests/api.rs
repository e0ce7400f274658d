//! HTTP API behaviour that a client cannot see from the CLI: account enumeration, login rate
//! limits, session revocation and the fresh-login rule for credential changes. Real server on a
//! loopback port, real OPAQUE messages.

use castellan_crypto as crypto;
use castellan_types::*;
use serde_json::Value;
use uuid::Uuid;

const PW: &str = "api test password";

struct Srv {
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start(settings: castellan_server::Settings) -> Srv {
    let dir = tempfile::tempdir().unwrap();
    let store = castellan_store_sqlite::SqliteStore::open(&dir.path().join("db.sqlite3"))
        .await
        .unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1", l.local_addr().unwrap());
    tokio::spawn(castellan_server::serve(
        store,
        settings,
        l,
        std::future::pending(),
    ));
    Srv {
        url,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Srv {
    async fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut r = self.http.post(format!("{}{path}", self.url)).json(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn sk() -> crypto::SecretKey {
    crypto::SecretKey::from_bytes([7u8; 16])
}

/// Registers through the raw API with a minimal but well-formed key set.
async fn register(s: &Srv, email: &str) -> Uuid {
    let user_id = Uuid::new_v4();
    let pw_in = crypto::password_input(PW, &sk());
    let (st, req) = crypto::client_registration_start(&pw_in).unwrap();
    let (code, v) = s
        .post(
            "/accounts/register/start",
            &RegisterStartRequest {
                email: email.into(),
                user_id,
                registration_request: req.into(),
            },
            None,
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let resp: RegisterStartResponse = serde_json::from_value(v).unwrap();
    let (upload, _, _) = crypto::client_registration_finish(
        st,
        &pw_in,
        resp.registration_response.as_slice(),
        crypto::KsfParams::FLOOR,
    )
    .unwrap();
    let blob = || Bytes(vec![1u8; 100]);
    let keyset = AccountKeyset {
        format: 1,
        ak_version: 1,
        account_key_wrap: blob(),
        ksf: resp.ksf,
        signing_key_id: Uuid::new_v4(),
        signing_public_key: Bytes(vec![2; 32]),
        signing_key_wrap: blob(),
        encryption_key_id: Uuid::new_v4(),
        encryption_public_key: Bytes(vec![3; 32]),
        encryption_key_wrap: blob(),
        key_binding_signature: Bytes(vec![4; 64]),
    };
    let vaults = vec![
        VaultDto {
            id: Uuid::new_v4(),
            kind: VaultKindDto::Personal,
            key_wrap: blob(),
            key_version: 1,
        },
        VaultDto {
            id: Uuid::new_v4(),
            kind: VaultKindDto::Business,
            key_wrap: blob(),
            key_version: 1,
        },
    ];
    let req = RegisterFinishRequest {
        email: email.into(),
        user_id,
        registration_record: upload.into(),
        keyset,
        vaults,
    };
    let (code, v) = s.post("/accounts/register/finish", &req, None).await;
    assert_eq!(code, 201, "{v}");
    user_id
}

/// Runs an OPAQUE login; returns (status of finish, body).
async fn login(s: &Srv, email: &str, password: &str) -> (u16, Value, LoginStartResponse) {
    let pw_in = crypto::password_input(password, &sk());
    let (st, req) = crypto::client_login_start(&pw_in).unwrap();
    let (code, v) = s
        .post(
            "/auth/login/start",
            &LoginStartRequest {
                email: email.into(),
                credential_request: req.into(),
            },
            None,
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let start: LoginStartResponse = serde_json::from_value(v).unwrap();
    let fin = match crypto::client_login_finish(
        st,
        &pw_in,
        start.credential_response.as_slice(),
        crypto::KsfParams::FLOOR,
    ) {
        Ok((fin, _, _, _)) => fin,
        Err(_) => vec![0u8; 64],
    };
    let (code, v) = s
        .post(
            "/auth/login/finish",
            &LoginFinishRequest {
                login_id: start.login_id,
                credential_finalization: fin.into(),
                device_name: "t".into(),
            },
            None,
        )
        .await;
    (code, v, start)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_emails_look_like_real_accounts() {
    let s = start(Default::default()).await;
    let real = register(&s, "real@example.com").await;
    let (_, _, a) = login(&s, "real@example.com", PW).await;
    assert_eq!(a.user_id, real);
    let (code1, v1, b1) = login(&s, "ghost@example.com", PW).await;
    let (_, _, b2) = login(&s, "ghost@example.com", PW).await;
    assert_eq!(code1, 401);
    assert_eq!(v1["error"]["code"], "invalid_credentials");
    assert_eq!(
        b1.user_id, b2.user_id,
        "a stable stand-in id for an unknown email"
    );
    assert_ne!(b1.user_id, real);
    assert_eq!(
        a.credential_response.len(),
        b1.credential_response.len(),
        "same-shaped OPAQUE response"
    );
    assert_eq!(a.ksf, b1.ksf);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_rate_limited_per_account_and_success_resets() {
    let mut settings = castellan_server::Settings::default();
    settings.rate_limits.failed_logins_per_account = 3;
    let s = start(settings).await;
    register(&s, "limited@example.com").await;
    let (code, _, _) = login(&s, "limited@example.com", "wrong one").await;
    assert_eq!(code, 401);
    let (code, _, _) = login(&s, "limited@example.com", PW).await;
    assert_eq!(code, 200, "a success resets the counter");
    for _ in 0..3 {
        let (code, v, _) = login(&s, "limited@example.com", "wrong again").await;
        assert_eq!(code, 401, "{v}");
    }
    let pw_in = crypto::password_input(PW, &sk());
    let (_, req) = crypto::client_login_start(&pw_in).unwrap();
    let (code, v) = s
        .post(
            "/auth/login/start",
            &LoginStartRequest {
                email: "limited@example.com".into(),
                credential_request: req.into(),
            },
            None,
        )
        .await;
    assert_eq!(code, 429, "{v}");
    assert_eq!(v["error"]["code"], "rate_limited");
    // Other accounts are not affected.
    register(&s, "other@example.com").await;
    let (code, _, _) = login(&s, "other@example.com", PW).await;
    assert_eq!(code, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_can_be_listed_and_revoked_and_stale_sessions_cannot_change_credentials() {
    let settings = castellan_server::Settings {
        reauth_window_secs: -1,
        ..Default::default()
    };
    let s = start(settings).await;
    register(&s, "sess@example.com").await;
    let (_, v1, _) = login(&s, "sess@example.com", PW).await;
    let (_, v2, _) = login(&s, "sess@example.com", PW).await;
    let t1 = v1["session_token"].as_str().unwrap().to_string();
    let t2 = v2["session_token"].as_str().unwrap().to_string();
    let list: SessionListResponse = s
        .http
        .get(format!("{}/sessions", s.url))
        .bearer_auth(&t1)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.sessions.len(), 2);
    assert_eq!(list.sessions.iter().filter(|x| x.current).count(), 1);

    // Credential changes need a fresh login; with a zero window every session is stale.
    let (_, req) =
        crypto::client_registration_start(&crypto::password_input("new password!", &sk())).unwrap();
    let (code, v) = s
        .post(
            "/account/password/start",
            &PasswordChangeStartRequest {
                registration_request: req.into(),
            },
            Some(&t1),
        )
        .await;
    assert_eq!(code, 403, "{v}");
    assert_eq!(v["error"]["code"], "reauth_required");

    // Revoke the second session from the first.
    let other = list.sessions.iter().find(|x| !x.current).unwrap().id;
    let r = s
        .http
        .delete(format!("{}/sessions/{other}", s.url))
        .bearer_auth(&t1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = s
        .http
        .get(format!("{}/account", s.url))
        .bearer_auth(&t2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Logout ends the first.
    let r = s
        .http
        .post(format!("{}/auth/logout", s.url))
        .bearer_auth(&t1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = s
        .http
        .get(format!("{}/account", s.url))
        .bearer_auth(&t1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_are_private_to_their_owner_and_versioned() {
    let s = start(Default::default()).await;
    register(&s, "own@example.com").await;
    register(&s, "thief@example.com").await;
    let (_, a, _) = login(&s, "own@example.com", PW).await;
    let (_, b, _) = login(&s, "thief@example.com", PW).await;
    let ta = a["session_token"].as_str().unwrap();
    let tb = b["session_token"].as_str().unwrap();
    let vault: Uuid = serde_json::from_value(a["account"]["vaults"][0]["id"].clone()).unwrap();
    let id = Uuid::new_v4();
    let put = |version: i64, expected: Option<i64>| PutObjectRequest {
        vault_id: vault,
        kind: ObjectKindDto::Item,
        version,
        expected_version: expected,
        trashed: false,
        key_wrap: Bytes(vec![1; 90]),
        overview: Bytes(vec![2; 200]),
        details: Bytes(vec![3; 300]),
    };
    let put_req = |t: &str, body: PutObjectRequest| {
        s.http
            .put(format!("{}/objects/{id}", s.url))
            .bearer_auth(t.to_string())
            .json(&body)
            .send()
    };
    assert_eq!(
        put_req(ta, put(1, None)).await.unwrap().status().as_u16(),
        200
    );
    // Another user can neither read, overwrite nor write into the owner's vault.
    assert_eq!(
        s.http
            .get(format!("{}/objects/{id}", s.url))
            .bearer_auth(tb)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        put_req(tb, put(2, Some(1)))
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let r = s
        .http
        .put(format!("{}/objects/{}", s.url, Uuid::new_v4()))
        .bearer_auth(tb)
        .json(&put(1, None))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        404,
        "writing into someone else's vault"
    );
    // A stale version is refused with the current version.
    assert_eq!(
        put_req(ta, put(2, Some(1)))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let r = put_req(ta, put(2, Some(1))).await.unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "version_conflict");
    assert_eq!(v["error"]["current_version"], 2);
    // Oversized envelope.
    let mut big = put(3, Some(2));
    big.details = Bytes(vec![0; MAX_ENVELOPE_BYTES + 1]);
    let r = put_req(ta, big).await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
}
