//! Organisation backup end to end (issue 6, docs/org-backup.md), through the real binary as
//! server and clients: offline-key and Recovery Group modes, restore after the user is deleted,
//! point in time, wrong or foreign keys, tampered and forged backups, the plan gate and the
//! self-check. The server's SQLite file is read (sentinel scan) and rewritten (tampering) with
//! the `sqlite3` command-line tool.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use castellan_client::backup::{read_export, BackupPayload};
use castellan_types::{backup_signed_bytes, MemberCertBody, SignedDoc, BACKUP_STATEMENT};
use common::*;
use serde_json::Value;

const SENTINEL_TITLE: &str = "SENTINEL-personal-title-7f3a91";
const SENTINEL_PASSWORD: &str = "SENTINEL-personal-password-c4e2d8";
const EXPORT_PASS: &str = "export passphrase 2026";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn db_path(server: &OrgServer) -> PathBuf {
    server.data.path().join("data").join("castellan.sqlite3")
}

/// One SQL statement through the `sqlite3` CLI (with a busy timeout: the server has it open).
fn sql(db: &Path, stmt: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(".timeout 10000")
        .arg(stmt)
        .output()
        .expect("the sqlite3 command-line tool");
    assert!(
        out.status.success(),
        "sqlite3 {stmt}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Every file under `dir` (the database, its WAL and anything else the server wrote).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn business(d: &Device, title: &str, username: &str, password: &str) {
    d.add(&[
        "--profile",
        "business",
        "--type",
        "login",
        "--title",
        title,
        "--username",
        username,
        "--password",
        password,
    ]);
}

fn personal(d: &Device, title: &str, password: &str) {
    d.add(&[
        "--profile",
        "personal",
        "--type",
        "login",
        "--title",
        title,
        "--username",
        "me@home.example",
        "--password",
        password,
    ]);
}

/// (profile, title) of every item, sorted.
fn items(d: &Device) -> Vec<(String, String)> {
    let list = d.json(&["item", "list"]);
    let mut v: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["profile"].as_str().unwrap().to_string(),
                i["title"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn field(d: &Device, item: &str, name: &str) -> String {
    d.ok(&["item", "get", item, "--field", name])
        .trim()
        .to_string()
}

fn enable_offline(admin: &Device, kit: &Path) -> Value {
    admin.json(&[
        "backup",
        "enable",
        "--mode",
        "offline-key",
        "--kit",
        kit.to_str().unwrap(),
    ])
}

/// Backup points of `email`, newest first.
fn points(admin: &Device, email: &str) -> Vec<Value> {
    let list = admin.json(&["backup", "list", "--user", email]);
    list["users"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["points"].as_array().unwrap().clone())
        .collect()
}

fn restore_to_file(admin: &Device, args: &[&str], out: &Path) -> BackupPayload {
    let mut a = vec!["backup", "restore"];
    a.extend_from_slice(args);
    a.extend_from_slice(&[
        "--into",
        "file",
        "--output",
        out.to_str().unwrap(),
        "--json",
    ]);
    let o = admin
        .cmd(&a)
        .env("CASTELLAN_EXPORT_PASSPHRASE", EXPORT_PASS)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "restore into a file: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    read_export(out, EXPORT_PASS).expect("the export opens with its passphrase")
}

fn payload_titles(p: &BackupPayload) -> Vec<String> {
    let mut v: Vec<String> = p.items.iter().map(|i| i.title.clone()).collect();
    v.sort();
    v
}

/// The first acceptance criterion: a deleted user's Business items come back from the offline
/// key; no Personal item is in any backup (server database bytes, and the decrypted backup).
#[test]
fn deleted_user_business_items_restored_with_the_kit_and_no_personal_item_backed_up() {
    let server = OrgServer::start("");
    let company = Company::setup(
        &server,
        "Backup Corp",
        "admin@backup.example",
        &["leaver@backup.example"],
    );
    let admin = &company.admin;
    let leaver = company.member("leaver@backup.example");
    let tmp = tempfile::tempdir().unwrap();
    let kit = tmp.path().join("kit.json");
    let e = enable_offline(admin, &kit);
    assert_eq!(e["mode"], "offline-key");
    assert_eq!(e["key_version"], 1);
    assert_eq!(e["words"].as_str().unwrap().split_whitespace().count(), 33);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kit).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the recovery kit is private");
    }

    business(
        leaver,
        "Company VPN",
        "leaver@backup.example",
        "vpn-pass-111",
    );
    business(leaver, "Payroll portal", "leaver.hr", "payroll-pass-222");
    leaver.add(&[
        "--profile",
        "business",
        "--type",
        "secure_note",
        "--title",
        "Alarm code",
        "--notes",
        "4711",
    ]);
    personal(leaver, SENTINEL_TITLE, SENTINEL_PASSWORD);
    leaver.ok(&["sync"]);
    let pts = points(admin, "leaver@backup.example");
    assert!(!pts.is_empty(), "a sync writes a backup");
    // A sync with no change writes none.
    leaver.ok(&["sync"]);
    assert_eq!(points(admin, "leaver@backup.example").len(), pts.len());

    admin.json(&[
        "admin",
        "user",
        "delete",
        "leaver@backup.example",
        "--company",
        "Backup Corp",
        "--yes",
    ]);
    // The backups outlive the account.
    assert_eq!(points(admin, "leaver@backup.example").len(), pts.len());

    let before = items(admin);
    let r = admin.json(&[
        "backup",
        "restore",
        "--user",
        "leaver@backup.example",
        "--key-file",
        kit.to_str().unwrap(),
        "--into",
        "me",
    ]);
    assert_eq!(r["items"], 3, "{r}");
    admin.ok(&["sync"]);
    let after = items(admin);
    for t in ["Company VPN", "Payroll portal", "Alarm code"] {
        assert!(
            after.contains(&("business".to_string(), t.to_string())),
            "{t} restored: {after:?}"
        );
    }
    assert_eq!(after.len(), before.len() + 3, "{after:?}");
    assert!(!after.iter().any(|(_, t)| t == SENTINEL_TITLE));
    assert_eq!(field(admin, "Company VPN", "password"), "vpn-pass-111");
    assert_eq!(
        field(admin, "Company VPN", "username"),
        "leaver@backup.example"
    );
    assert_eq!(
        field(admin, "Payroll portal", "password"),
        "payroll-pass-222"
    );
    assert_eq!(field(admin, "Alarm code", "notes"), "4711");

    // No sentinel in any file of the server (plaintext would never be there anyway).
    let data = server.data.path().join("data");
    for f in files_under(&data) {
        for s in [SENTINEL_TITLE, SENTINEL_PASSWORD] {
            assert!(!file_contains(&f, s.as_bytes()), "{s} in {}", f.display());
        }
    }
    // And decrypted: every backup point, opened, holds only the Business items.
    for p in points(admin, "leaver@backup.example") {
        let at = p["created_at"].as_i64().unwrap().to_string();
        let out = tmp
            .path()
            .join(format!("export-{}.json", p["backup_id"].as_str().unwrap()));
        let payload = restore_to_file(
            admin,
            &[
                "--user",
                "leaver@backup.example",
                "--at",
                &at,
                "--key-file",
                kit.to_str().unwrap(),
            ],
            &out,
        );
        // Earlier points hold the Business items of their time; the newest holds all three.
        let titles = payload_titles(&payload);
        assert!(
            titles
                .iter()
                .all(|t| ["Alarm code", "Company VPN", "Payroll portal"].contains(&t.as_str())),
            "{titles:?}"
        );
        if p["backup_id"] == pts[0]["backup_id"] {
            assert_eq!(titles, vec!["Alarm code", "Company VPN", "Payroll portal"]);
        }
        let json = String::from_utf8(std::fs::read(&out).unwrap()).unwrap();
        assert!(!json.contains(SENTINEL_TITLE) && !json.contains(SENTINEL_PASSWORD));
        for i in &payload.items {
            assert!(!i.title.contains("SENTINEL"));
            assert!(!i.fields.values().any(|v| v.contains("SENTINEL")));
        }
    }
    // The words restore too.
    let words = e["words"].as_str().unwrap();
    let payload = restore_to_file(
        admin,
        &["--user", "leaver@backup.example", "--words", words],
        &tmp.path().join("from-words.json"),
    );
    assert_eq!(payload.items.len(), 3);
}

/// Point in time: a backup taken before the user wiped their Business profile restores the
/// items as they were.
#[test]
fn point_in_time_restore_brings_back_wiped_items() {
    let server = OrgServer::start("");
    let company = Company::setup(
        &server,
        "Timely Ltd",
        "admin@timely.example",
        &["wiper@timely.example"],
    );
    let admin = &company.admin;
    let wiper = company.member("wiper@timely.example");
    let tmp = tempfile::tempdir().unwrap();
    let kit = tmp.path().join("kit.json");
    enable_offline(admin, &kit);
    business(wiper, "Router admin", "root", "router-pass-1");
    business(wiper, "Cloud console", "ops", "cloud-pass-2");
    let now_out = wiper.json(&["backup", "now"]);
    assert_eq!(now_out["items"], 2, "{now_out}");
    std::thread::sleep(Duration::from_millis(1100));
    let before_wipe = now();
    std::thread::sleep(Duration::from_millis(1100));
    for t in ["Router admin", "Cloud console"] {
        wiper.ok(&["item", "rm", t, "--purge"]);
    }
    wiper.ok(&["sync"]);
    let pts = points(admin, "wiper@timely.example");
    assert!(pts.len() >= 2, "the wipe made a new backup: {pts:?}");
    // The newest backup is the empty one.
    let newest = restore_to_file(
        admin,
        &[
            "--user",
            "wiper@timely.example",
            "--key-file",
            kit.to_str().unwrap(),
        ],
        &tmp.path().join("newest.json"),
    );
    assert!(
        newest.items.iter().all(|i| i.trashed) || newest.items.is_empty(),
        "{newest:?}"
    );
    // The one before the wipe has both.
    let at = before_wipe.to_string();
    let r = admin.json(&[
        "backup",
        "restore",
        "--user",
        "wiper@timely.example",
        "--at",
        &at,
        "--key-file",
        kit.to_str().unwrap(),
    ]);
    assert_eq!(r["items"], 2, "{r}");
    assert!(r["created_at"].as_i64().unwrap() <= before_wipe);
    assert_eq!(field(admin, "Router admin", "password"), "router-pass-1");
    assert_eq!(field(admin, "Cloud console", "password"), "cloud-pass-2");
    assert_eq!(field(admin, "Cloud console", "username"), "ops");
    // Before any backup: nothing.
    let (code, msg) = admin.fails(&[
        "backup",
        "restore",
        "--user",
        "wiper@timely.example",
        "--at",
        "1000",
        "--key-file",
        kit.to_str().unwrap(),
    ]);
    assert_eq!(code, 5, "{msg}");
}

/// Hex of one column of one backup.
fn column(db: &Path, backup_id: &str, col: &str) -> Vec<u8> {
    unhex(&sql(
        db,
        &format!("SELECT hex({col}) FROM backups WHERE backup_id = '{backup_id}'"),
    ))
}

fn set_column(db: &Path, backup_id: &str, col: &str, value: &[u8]) {
    sql(
        db,
        &format!(
            "UPDATE backups SET {col} = X'{}' WHERE backup_id = '{backup_id}'",
            hex(value)
        ),
    );
}

/// Wrong keys, a foreign company's kit, a tampered backup and backups signed by an uncertified
/// key: clear one-line errors with the documented exit codes, and nothing imported.
#[test]
fn wrong_keys_tampered_and_forged_backups_are_refused_and_nothing_is_imported() {
    let server = OrgServer::start("");
    let company = Company::setup(
        &server,
        "Careful Co",
        "admin@careful.example",
        &["user@careful.example"],
    );
    let admin = &company.admin;
    let user = company.member("user@careful.example");
    let tmp = tempfile::tempdir().unwrap();
    let kit1 = tmp.path().join("kit1.json");
    enable_offline(admin, &kit1);
    business(user, "Door code", "front", "door-1234");
    user.ok(&["sync"]);
    let restore = |kit: &Path| -> (i32, String) {
        admin.fails(&[
            "backup",
            "restore",
            "--user",
            "user@careful.example",
            "--key-file",
            kit.to_str().unwrap(),
        ])
    };
    let before = items(admin);

    // A random key of the same company and version (a kit that never was the company's).
    let mut forged: Value = serde_json::from_slice(&std::fs::read(&kit1).unwrap()).unwrap();
    forged["private_key"] = Value::String(castellan_types::Bytes(vec![7u8; 32]).to_b64());
    let random_kit = tmp.path().join("random.json");
    std::fs::write(&random_kit, serde_json::to_vec(&forged).unwrap()).unwrap();
    let (code, msg) = restore(&random_kit);
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains("another backup key"), "{msg}");

    // A new kit after enabling again: the existing backup is sealed to the first key.
    let kit2 = tmp.path().join("kit2.json");
    let e2 = enable_offline(admin, &kit2);
    assert_eq!(e2["key_version"], 2);
    let (code, msg) = restore(&kit2);
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains("version 1"), "{msg}");
    // The first kit still opens it (checked to a file, so nothing is imported here).
    let ok = restore_to_file(
        admin,
        &[
            "--user",
            "user@careful.example",
            "--key-file",
            kit1.to_str().unwrap(),
        ],
        &tmp.path().join("ok.json"),
    );
    assert_eq!(payload_titles(&ok), vec!["Door code"]);

    // The kit of another company: a customer with its own admin who enables backup there.
    admin.json(&[
        "admin", "customer", "create", "--name", "Other Co", "--plan", "advanced", "--seats", "5",
    ]);
    let inv = admin.json(&[
        "admin",
        "user",
        "invite",
        "boss@other.example",
        "--role",
        "admin",
        "--company",
        "Other Co",
    ]);
    let mut other = Device::new();
    let j = other.json(&[
        "register",
        "--invite",
        inv["link"].as_str().unwrap(),
        "--server",
        &server.url,
    ]);
    other.secret_key = Some(j["secret_key"].as_str().unwrap().to_string());
    admin.json(&[
        "admin",
        "user",
        "confirm",
        "boss@other.example",
        "--company",
        "Other Co",
        "--yes",
    ]);
    let other_kit = tmp.path().join("other.json");
    enable_offline(&other, &other_kit);
    let (code, msg) = restore(&other_kit);
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains("another company"), "{msg}");
    // Not a kit at all.
    let (code, msg) = restore(&tmp.path().join("ok.json"));
    assert_eq!(code, 1, "{msg}");

    // Tampering with the stored backup (one byte of the envelope) is detected before opening.
    let db = db_path(&server);
    let bid = points(admin, "user@careful.example")[0]["backup_id"]
        .as_str()
        .unwrap()
        .to_string();
    let envelope = column(&db, &bid, "envelope");
    let mut bad = envelope.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    set_column(&db, &bid, "envelope", &bad);
    let (code, msg) = restore(&kit1);
    assert_eq!(code, 8, "{msg}");
    assert!(msg.contains("tampered") || msg.contains("signed"), "{msg}");
    set_column(&db, &bid, "envelope", &envelope);

    // Signed by an uncertified key: the genuine certificate, a signature by another key.
    let created_at: i64 = sql(
        &db,
        &format!("SELECT created_at FROM backups WHERE backup_id = '{bid}'"),
    )
    .parse()
    .unwrap();
    let cert_bytes = column(&db, &bid, "member_cert");
    let cert: SignedDoc = serde_json::from_slice(&cert_bytes).unwrap();
    let body: MemberCertBody = serde_json::from_slice(cert.body.as_slice()).unwrap();
    let public_key = column(&db, &bid, "public_key");
    let sealed_key = column(&db, &bid, "sealed_key");
    let signed = backup_signed_bytes(
        bid.parse().unwrap(),
        body.company_id,
        body.user_id,
        created_at,
        1,
        &public_key,
        &castellan_crypto::sha256(&sealed_key),
        &castellan_crypto::sha256(&envelope),
    );
    let rogue = castellan_crypto::SigningKey::generate();
    let signature = column(&db, &bid, "signature");
    set_column(
        &db,
        &bid,
        "signature",
        &rogue.sign_statement(BACKUP_STATEMENT, &signed),
    );
    let (code, msg) = restore(&kit1);
    assert_eq!(code, 8, "{msg}");
    assert!(
        msg.contains("not signed by the user's certified key"),
        "{msg}"
    );
    // ... and a certificate for the rogue key, signed by a key that is not the company's.
    let rogue_body = MemberCertBody {
        signing_public_key: castellan_types::Bytes(rogue.verifying_key().to_bytes().to_vec()),
        ..body.clone()
    };
    let fake_root = castellan_crypto::SigningKey::generate();
    let rogue_cert = castellan_client::org::docs::sign(
        &fake_root,
        castellan_types::statement::MEMBER_CERT,
        &rogue_body,
    );
    set_column(
        &db,
        &bid,
        "member_cert",
        &serde_json::to_vec(&rogue_cert).unwrap(),
    );
    let (code, msg) = restore(&kit1);
    assert_eq!(code, 8, "{msg}");
    assert!(msg.contains("certificate"), "{msg}");
    set_column(&db, &bid, "member_cert", &cert_bytes);
    set_column(&db, &bid, "signature", &signature);

    // Nothing of all that was imported.
    admin.ok(&["sync"]);
    assert_eq!(items(admin), before);
}

fn invite_confirm(
    admin: &Device,
    server: &OrgServer,
    email: &str,
    role: &str,
    company: &str,
) -> Device {
    let inv = admin.json(&[
        "admin",
        "user",
        "invite",
        email,
        "--role",
        role,
        "--company",
        company,
    ]);
    let mut d = Device::new();
    let j = d.json(&[
        "register",
        "--invite",
        inv["link"].as_str().unwrap(),
        "--server",
        &server.url,
    ]);
    d.secret_key = Some(j["secret_key"].as_str().unwrap().to_string());
    admin.json(&[
        "admin",
        "user",
        "confirm",
        email,
        "--company",
        company,
        "--yes",
    ]);
    d
}

/// Recovery Group mode: a member restores, a non-member admin cannot, and a member removed from
/// the group cannot read backups made after the removal (the key was rotated).
#[test]
fn recovery_group_member_restores_non_member_cannot_removed_member_loses_new_backups() {
    let server = OrgServer::start("");
    let company = Company::setup(
        &server,
        "Group Inc",
        "admin@group.example",
        &["worker@group.example"],
    );
    let admin = &company.admin;
    let worker = company.member("worker@group.example");
    let admin2 = invite_confirm(admin, &server, "admin2@group.example", "admin", "Group Inc");
    let e = admin.json(&["backup", "enable", "--mode", "recovery-group"]);
    assert_eq!(e["mode"], "recovery-group");
    business(worker, "Shared drive", "worker", "drive-pass-9");
    worker.ok(&["sync"]);

    // The group member restores (and is reminded to leave the group if temporary).
    let o = admin
        .cmd(&[
            "backup",
            "restore",
            "--user",
            "worker@group.example",
            "--into",
            "me",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("remove-member"));
    assert_eq!(field(admin, "Shared drive", "password"), "drive-pass-9");

    // A non-member admin cannot.
    let before2 = items(&admin2);
    let (code, msg) = admin2.fails(&["backup", "restore", "--user", "worker@group.example"]);
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains("not a member of the Recovery Group"), "{msg}");
    // Nor can they add themselves.
    let (code, msg) = admin2.fails(&[
        "backup",
        "recovery-group",
        "add-member",
        "admin2@group.example",
    ]);
    assert_ne!(code, 0, "{msg}");

    // A member adds them; they can restore; then they are removed and the key rotates.
    admin.json(&[
        "backup",
        "recovery-group",
        "add-member",
        "admin2@group.example",
    ]);
    let p = restore_to_file(
        &admin2,
        &["--user", "worker@group.example"],
        &Path::new(&std::env::temp_dir()).join(format!("g-{}.json", uuid::Uuid::new_v4())),
    );
    assert_eq!(payload_titles(&p), vec!["Shared drive"]);
    let rm = admin.json(&[
        "backup",
        "recovery-group",
        "remove-member",
        "admin2@group.example",
    ]);
    assert_eq!(rm["key_version"], 2, "{rm}");
    business(worker, "New secret", "worker", "after-removal-pass");
    worker.ok(&["sync"]);
    let pts = points(admin, "worker@group.example");
    assert_eq!(pts[0]["key_version"], 2, "{pts:?}");
    let (code, msg) = admin2.fails(&["backup", "restore", "--user", "worker@group.example"]);
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains("not a member"), "{msg}");
    assert_eq!(items(&admin2), before2);
    // The remaining member reads the new backup.
    let mut a = vec!["backup", "restore", "--user", "worker@group.example"];
    a.extend_from_slice(&["--into", "me"]);
    let r = admin.json(&a);
    assert_eq!(r["key_version"], 2);
    assert_eq!(field(admin, "New secret", "password"), "after-removal-pass");
}

/// A Standard customer cannot turn organisation backup on; the self-check lists each
/// precondition with pass or fail.
#[test]
fn standard_plan_refused_and_self_check_lines() {
    let server = OrgServer::start("");
    let company = Company::setup(
        &server,
        "Checked MSP",
        "admin@checked.example",
        &["member@checked.example"],
    );
    let admin = &company.admin;
    let member = company.member("member@checked.example");

    admin.json(&[
        "admin", "customer", "create", "--name", "Cheap Co", "--plan", "standard", "--seats", "5",
    ]);
    let cheap = invite_confirm(admin, &server, "boss@cheap.example", "admin", "Cheap Co");
    let tmp = tempfile::tempdir().unwrap();
    let kit = tmp.path().join("kit.json");
    let (code, msg) = cheap.fails(&[
        "backup",
        "enable",
        "--mode",
        "offline-key",
        "--kit",
        kit.to_str().unwrap(),
    ]);
    assert_eq!(code, 10, "{msg}");
    assert!(msg.contains("Advanced"), "{msg}");
    assert!(!kit.exists(), "no kit for a key that was never published");
    let (code, msg) = cheap.fails(&["backup", "enable", "--mode", "recovery-group"]);
    assert_eq!(code, 10, "{msg}");

    // Self-check before: the policy is off.
    let check = |d: &Device, args: &[&str]| -> (bool, Vec<(String, bool)>) {
        let mut a = vec!["backup", "check", "--json"];
        a.extend_from_slice(args);
        let o = d.run(&a);
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
        assert_eq!(o.status.success(), v["ok"] == true);
        let lines = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["check"].as_str().unwrap().to_string(),
                    l["pass"].as_bool().unwrap(),
                )
            })
            .collect();
        (v["ok"] == true, lines)
    };
    let (ok, lines) = check(member, &[]);
    assert!(!ok);
    assert!(
        lines.contains(&("server reachable".into(), true)),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("backup policy on".into(), false)),
        "{lines:?}"
    );

    enable_offline(admin, &kit);
    business(member, "Printer", "admin", "printer-pass");
    member.ok(&["sync"]);
    let (ok, lines) = check(member, &[]);
    assert!(ok, "{lines:?}");
    for c in [
        "server reachable",
        "member of a company",
        "policy verified",
        "backup policy on",
        "backup key present and verified",
        "user enrolled",
        "last backup",
    ] {
        assert!(lines.contains(&(c.to_string(), true)), "{c}: {lines:?}");
    }
    let (ok, lines) = check(admin, &["--user", "member@checked.example"]);
    assert!(ok, "{lines:?}");
    assert!(lines.contains(&("last backup".into(), true)), "{lines:?}");
    // The text form: one pass/FAIL line per precondition.
    let text = String::from_utf8(member.run(&["backup", "check"]).stdout).unwrap();
    assert!(
        text.lines()
            .all(|l| l.starts_with("pass ") || l.starts_with("FAIL ")),
        "{text}"
    );
    assert!(text.lines().count() >= 7, "{text}");
}
