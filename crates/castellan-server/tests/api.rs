//! HTTP API behaviour that a client cannot see from the CLI: account enumeration, login rate
//! limits, session revocation, the fresh-login rule for credential changes, manifests on writes,
//! the change feed and change hints. Real server on a loopback port, real OPAQUE messages.

use std::time::Duration;

mod common;

use castellan_crypto as crypto;
use castellan_types::*;
use common::Events;
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
    // Each write of this one object is the next manifest of its vault.
    let put = |version: i64, expected: Option<i64>| PutObjectRequest {
        manifests: vec![manifest(vault, version)],
        ..item(vault, version, expected)
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

// ---------------------------------------------------------------------------------------------
// manifests, the change feed and change hints

fn manifest(vault_id: Uuid, counter: i64) -> ManifestDto {
    ManifestDto {
        vault_id,
        counter,
        manifest: Bytes(vec![9; 200]),
    }
}

/// An item write without manifests.
fn item(vault_id: Uuid, version: i64, expected_version: Option<i64>) -> PutObjectRequest {
    PutObjectRequest {
        vault_id,
        kind: ObjectKindDto::Item,
        version,
        expected_version,
        trashed: false,
        key_wrap: Bytes(vec![1; 90]),
        overview: Bytes(vec![2; 200]),
        details: Bytes(vec![3; 300]),
        manifests: Vec::new(),
    }
}

/// A registered and logged-in user: its token and its two vaults (personal, business).
struct User {
    token: String,
    personal: Uuid,
    business: Uuid,
}

async fn user(s: &Srv, email: &str) -> User {
    register(s, email).await;
    let (code, v, _) = login(s, email, PW).await;
    assert_eq!(code, 200, "{v}");
    let vaults = v["account"]["vaults"].as_array().unwrap();
    let of_kind = |kind: &str| -> Uuid {
        let vault = vaults.iter().find(|x| x["kind"] == kind).unwrap();
        serde_json::from_value(vault["id"].clone()).unwrap()
    };
    User {
        token: v["session_token"].as_str().unwrap().to_string(),
        personal: of_kind("personal"),
        business: of_kind("business"),
    }
}

impl Srv {
    async fn put(&self, token: &str, id: Uuid, body: &PutObjectRequest) -> (u16, Value) {
        let r = self
            .http
            .put(format!("{}/objects/{id}", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn delete(&self, token: &str, id: Uuid, body: &DeleteObjectRequest) -> (u16, Value) {
        let r = self
            .http
            .delete(format!("{}/objects/{id}", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn sync_raw(&self, token: &str, query: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/sync{query}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn sync(&self, token: &str, since: i64, limit: u32) -> SyncResponse {
        let (code, v) = self
            .sync_raw(token, &format!("?since={since}&limit={limit}"))
            .await;
        assert_eq!(code, 200, "{v}");
        serde_json::from_value(v).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_must_carry_the_manifests_of_their_vaults() {
    let s = start(Default::default()).await;
    let u = user(&s, "manifests@example.com").await;
    let t = u.token.as_str();
    let id = Uuid::new_v4();

    // Missing, for another vault, too many, counter 0, duplicated, empty, too large.
    let (code, v) = s.put(t, id, &item(u.personal, 1, None)).await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["error"]["code"], "invalid_value");
    assert_eq!(
        v["error"]["message"],
        "a write must carry the updated manifest of its vault"
    );
    let bad: Vec<(Vec<ManifestDto>, u16)> = vec![
        (vec![manifest(u.business, 1)], 422),
        (
            vec![
                manifest(u.personal, 1),
                manifest(u.business, 1),
                manifest(Uuid::new_v4(), 1),
            ],
            422,
        ),
        (vec![manifest(u.personal, 0)], 422),
        (vec![manifest(u.personal, 1), manifest(u.personal, 2)], 422),
        (
            vec![ManifestDto {
                manifest: Bytes(Vec::new()),
                ..manifest(u.personal, 1)
            }],
            422,
        ),
        (
            vec![ManifestDto {
                manifest: Bytes(vec![0; 8 * 1024 + 1]),
                ..manifest(u.personal, 1)
            }],
            413,
        ),
    ];
    for (manifests, expected) in bad {
        let body = PutObjectRequest {
            manifests,
            ..item(u.personal, 1, None)
        };
        let (code, v) = s.put(t, id, &body).await;
        assert_eq!(code, expected, "{v}");
    }
    // Exactly 8 KiB is fine.
    let body = PutObjectRequest {
        manifests: vec![ManifestDto {
            manifest: Bytes(vec![0; 8 * 1024]),
            ..manifest(u.personal, 1)
        }],
        ..item(u.personal, 1, None)
    };
    let (code, v) = s.put(t, id, &body).await;
    assert_eq!(code, 200, "{v}");
    let created: ObjectDto = serde_json::from_value(v).unwrap();
    assert!(created.seq > 0);

    // A stale manifest: 409 manifest_conflict with the stored counter.
    let body = PutObjectRequest {
        manifests: vec![manifest(u.personal, 1)],
        ..item(u.personal, 2, Some(1))
    };
    let (code, v) = s.put(t, id, &body).await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["error"]["code"], "manifest_conflict");
    assert_eq!(v["error"]["current_version"], 1);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&u.personal.to_string()));
    // A stale version still wins: version_conflict.
    let body = PutObjectRequest {
        manifests: vec![manifest(u.personal, 2)],
        ..item(u.personal, 3, Some(2))
    };
    let (code, v) = s.put(t, id, &body).await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["error"]["code"], "version_conflict");

    // A move needs the manifest of the vault it leaves too.
    let body = PutObjectRequest {
        manifests: vec![manifest(u.business, 1)],
        ..item(u.business, 2, Some(1))
    };
    let (code, v) = s.put(t, id, &body).await;
    assert_eq!(code, 422, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("a write must carry the updated manifest of its vault"));
    let body = PutObjectRequest {
        manifests: vec![manifest(u.business, 1), manifest(u.personal, 2)],
        ..item(u.business, 2, Some(1))
    };
    let (code, v) = s.put(t, id, &body).await;
    assert_eq!(code, 200, "{v}");
    let moved: ObjectDto = serde_json::from_value(v).unwrap();
    assert_eq!(moved.vault_id, u.business);
    assert!(moved.seq > created.seq);

    // Deletes: a JSON body with the version and the manifest of the object's vault.
    let r = s
        .http
        .delete(format!("{}/objects/{id}?version=2", s.url))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "the old query form is gone");
    let del =
        |manifests: Vec<ManifestDto>, version: i64| DeleteObjectRequest { version, manifests };
    let (code, v) = s.delete(t, id, &del(vec![], 2)).await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(
        v["error"]["message"],
        "a write must carry the updated manifest of its vault"
    );
    let (code, v) = s
        .delete(t, id, &del(vec![manifest(u.personal, 3)], 2))
        .await;
    assert_eq!(code, 422, "the manifest of another vault: {v}");
    let (code, v) = s
        .delete(t, id, &del(vec![manifest(u.business, 5)], 2))
        .await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["error"]["code"], "manifest_conflict");
    assert_eq!(v["error"]["current_version"], 1);
    let (code, v) = s
        .delete(t, id, &del(vec![manifest(u.business, 2)], 1))
        .await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["error"]["code"], "version_conflict");
    let (code, v) = s
        .delete(t, id, &del(vec![manifest(u.business, 2)], 2))
        .await;
    assert_eq!(code, 204, "{v}");
    let (code, _) = s
        .delete(t, id, &del(vec![manifest(u.business, 3)], 2))
        .await;
    assert_eq!(code, 404);

    // The manifests are in the sync response.
    let page = s.sync(t, 0, 10).await;
    let mut counters: Vec<(Uuid, i64)> = page
        .manifests
        .iter()
        .map(|m| (m.vault_id, m.counter))
        .collect();
    counters.sort();
    let mut expected = vec![(u.personal, 2), (u.business, 2)];
    expected.sort();
    assert_eq!(counters, expected);
    assert!(page.objects.is_empty());
    assert_eq!(page.tombstones.len(), 1);
    assert_eq!(page.tombstones[0].id, id);
    assert_eq!(page.tombstones[0].vault_id, u.business);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_pages_through_objects_and_tombstones() {
    let s = start(Default::default()).await;
    let a = user(&s, "feed-a@example.com").await;
    let b = user(&s, "feed-b@example.com").await;
    let mut counter = 0;
    let mut ids = Vec::new();
    for _ in 0..12 {
        counter += 1;
        let id = Uuid::new_v4();
        let body = PutObjectRequest {
            manifests: vec![manifest(a.personal, counter)],
            ..item(a.personal, 1, None)
        };
        let (code, v) = s.put(&a.token, id, &body).await;
        assert_eq!(code, 200, "{v}");
        ids.push(id);
    }
    let body = PutObjectRequest {
        manifests: vec![manifest(b.personal, 1)],
        ..item(b.personal, 1, None)
    };
    let (code, _) = s.put(&b.token, Uuid::new_v4(), &body).await;
    assert_eq!(code, 200);
    // Change the first object, delete the second.
    counter += 1;
    let body = PutObjectRequest {
        manifests: vec![manifest(a.personal, counter)],
        ..item(a.personal, 2, Some(1))
    };
    let (code, _) = s.put(&a.token, ids[0], &body).await;
    assert_eq!(code, 200);
    counter += 1;
    let (code, _) = s
        .delete(
            &a.token,
            ids[1],
            &DeleteObjectRequest {
                version: 1,
                manifests: vec![manifest(a.personal, counter)],
            },
        )
        .await;
    assert_eq!(code, 204);

    // 11 objects and 1 tombstone in pages of 5.
    let mut cursor = 0;
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    let mut tombstones = Vec::new();
    loop {
        let page = s.sync(&a.token, cursor, 5).await;
        assert!(!page.reset);
        let mut seqs: Vec<i64> = page
            .objects
            .iter()
            .map(|o| o.seq)
            .chain(page.tombstones.iter().map(|t| t.seq))
            .collect();
        seqs.sort();
        assert!(seqs.iter().all(|x| *x > cursor));
        assert_eq!(page.cursor, *seqs.last().unwrap());
        sizes.push(seqs.len());
        seen.extend(page.objects.iter().map(|o| (o.id, o.version)));
        tombstones.extend(page.tombstones.clone());
        assert_eq!(page.manifests.len(), 1);
        assert_eq!(page.manifests[0].counter, counter);
        cursor = page.cursor;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(sizes, vec![5, 5, 2]);
    assert_eq!(seen.len(), 11);
    assert_eq!(
        seen.last(),
        Some(&(ids[0], 2)),
        "the changed object comes last"
    );
    assert_eq!(tombstones.len(), 1);
    assert_eq!(tombstones[0].id, ids[1]);

    // Up to date: nothing, same cursor.
    let page = s.sync(&a.token, cursor, 5).await;
    assert!(page.objects.is_empty() && page.tombstones.is_empty());
    assert_eq!(page.cursor, cursor);
    assert!(!page.has_more && !page.reset);
    // Unknown cursor: a reset listing from the start.
    let page = s.sync(&a.token, cursor + 1_000_000, 100).await;
    assert!(page.reset);
    assert_eq!(page.objects.len(), 11);
    assert_eq!(page.tombstones.len(), 1);
    assert_eq!(page.cursor, cursor);
    // Defaults and bounds of the parameters.
    let (code, v) = s.sync_raw(&a.token, "").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["objects"].as_array().unwrap().len(), 11);
    let (code, v) = s.sync_raw(&a.token, "?limit=0").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["objects"].as_array().unwrap().len(), 1, "clamped to 1");
    assert_eq!(v["has_more"], true);
    let (code, v) = s.sync_raw(&a.token, "?limit=1000000").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["has_more"], false);
    let (code, v) = s.sync_raw(&a.token, "?since=-1").await;
    assert_eq!(code, 422, "{v}");
    let (code, v) = s.sync_raw(&a.token, "?since=abc").await;
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["error"]["code"], "invalid_request");
    let (code, _) = s.sync_raw("not-a-token", "").await;
    assert_eq!(code, 401);
    // B sees only B's.
    let page = s.sync(&b.token, 0, 100).await;
    assert_eq!(page.objects.len(), 1);
    assert!(page.tombstones.is_empty());
    assert_eq!(page.manifests.len(), 1);
    assert_eq!(page.manifests[0].vault_id, b.personal);
}

async fn open_events(s: &Srv, token: &str) -> Events {
    let r = s
        .http
        .get(format!("{}/events", s.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    assert_eq!(r.headers()["x-accel-buffering"].to_str().unwrap(), "no");
    Events::new(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_hints_reach_the_users_event_streams_only() {
    let s = start(Default::default()).await;
    let a = user(&s, "hints-a@example.com").await;
    let b = user(&s, "hints-b@example.com").await;
    // A second session of A writes; the first listens.
    let (_, v, _) = login(&s, "hints-a@example.com", PW).await;
    let a2 = v["session_token"].as_str().unwrap().to_string();

    let r = s
        .http
        .get(format!("{}/events", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "events need a session");
    let mut events = open_events(&s, &a.token).await;
    let mut events_b = open_events(&s, &b.token).await;

    let id = Uuid::new_v4();
    let body = PutObjectRequest {
        manifests: vec![manifest(a.personal, 1)],
        ..item(a.personal, 1, None)
    };
    let (code, v) = s.put(&a2, id, &body).await;
    assert_eq!(code, 200, "{v}");
    let written: ObjectDto = serde_json::from_value(v).unwrap();
    let cursor = events
        .hint(Duration::from_secs(2))
        .await
        .expect("a change event within 2 s");
    assert!(
        cursor >= written.seq,
        "hint {cursor} < write {}",
        written.seq
    );

    // B's write reaches B's stream, not A's.
    let body = PutObjectRequest {
        manifests: vec![manifest(b.personal, 1)],
        ..item(b.personal, 1, None)
    };
    let (code, v) = s.put(&b.token, Uuid::new_v4(), &body).await;
    assert_eq!(code, 200, "{v}");
    let b_written: ObjectDto = serde_json::from_value(v).unwrap();
    assert!(events_b.hint(Duration::from_secs(2)).await.unwrap() >= b_written.seq);
    assert_eq!(
        events.next(Duration::from_millis(500)).await,
        None,
        "another user's write is not announced"
    );

    // A delete is announced with a cursor at or after its tombstone.
    let (code, v) = s
        .delete(
            &a2,
            id,
            &DeleteObjectRequest {
                version: 1,
                manifests: vec![manifest(a.personal, 2)],
            },
        )
        .await;
    assert_eq!(code, 204, "{v}");
    let cursor = events
        .hint(Duration::from_secs(2))
        .await
        .expect("a hint for the delete");
    let page = s.sync(&a.token, written.seq, 10).await;
    assert_eq!(page.tombstones.len(), 1);
    assert!(cursor >= page.tombstones[0].seq);
    // A failed write announces nothing.
    let (code, _) = s
        .delete(
            &a2,
            id,
            &DeleteObjectRequest {
                version: 1,
                manifests: vec![manifest(a.personal, 3)],
            },
        )
        .await;
    assert_eq!(code, 404);
    assert_eq!(events.next(Duration::from_millis(300)).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_the_sync_endpoints() {
    let s = start(Default::default()).await;
    let doc: Value = s
        .http
        .get(format!("{}/openapi.json", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in ["/api/v1/sync", "/api/v1/events", "/api/v1/objects/{id}"] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert!(doc["paths"]["/api/v1/objects/{id}"]["delete"]["requestBody"].is_object());
    for schema in [
        "SyncResponse",
        "ChangeHint",
        "DeleteObjectRequest",
        "ManifestDto",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} is in the schemas"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_event_streams() {
    let dir = tempfile::tempdir().unwrap();
    let store = castellan_store_sqlite::SqliteStore::open(&dir.path().join("db.sqlite3"))
        .await
        .unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1", l.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(castellan_server::serve(
        store,
        Default::default(),
        l,
        async move {
            let _ = stopped.await;
        },
    ));
    let s = Srv {
        url,
        http: reqwest::Client::new(),
        _dir: dir,
    };
    let u = user(&s, "shutdown@example.com").await;
    let mut events = open_events(&s, &u.token).await;
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops although a stream was open");
    result.unwrap().unwrap();
    assert_eq!(
        events.next(Duration::from_secs(2)).await,
        None,
        "the stream ended"
    );
}
