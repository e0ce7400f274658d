//! End to end through the real binary: server on a temp dir and a free loopback port, two
//! devices, items of many types in both profiles, folders three deep.

mod common;

use common::*;
use serde_json::Value;

/// Sentinel strings that must never reach the server in the clear.
const SENTINELS: &[&str] = &[
    "SentinelTitleGithub7731",
    "sentinel-user-4411",
    "SentinelPassw0rd!9931",
    "https://sentinel-url-5521.example",
    "SentinelNoteText8812",
    "SentinelFolderAlpha",
    "SentinelFolderBeta",
    "SentinelFolderGamma",
    "SentinelBizFolder3",
    "sentinel-db-host-7.internal",
    "SentinelCardholder6611",
    "4111222233334444",
    "SentinelWifiNet0099",
    "SentinelLicenseKey-ABCD-1234",
    "SentinelSshPrivate5577",
    "SentinelCustomValue2288",
    "SentinelTagOmega",
];

fn item_ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn register_add_many_types_and_read_back_identically_on_a_second_device() {
    let server = Server::start();
    let mut a = Device::new();
    let sk = a.register(&server, "alice@example.com");
    assert!(sk.starts_with("CK1-"), "secret key format: {sk}");

    let login = a.add(&[
        "--profile",
        "personal",
        "--type",
        "login",
        "--title",
        "SentinelTitleGithub7731",
        "--username",
        "sentinel-user-4411",
        "--password",
        "SentinelPassw0rd!9931",
        "--url",
        "https://sentinel-url-5521.example",
        "--folder",
        "SentinelFolderAlpha/SentinelFolderBeta/SentinelFolderGamma",
        "--notes",
        "SentinelNoteText8812",
        "--tag",
        "SentinelTagOmega",
        "--field",
        "recovery=SentinelCustomValue2288",
        "--totp",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    ]);
    let server_item = a.add(&[
        "--profile",
        "business",
        "--type",
        "server",
        "--title",
        "Web server",
        "--field",
        "hostname=web1.corp",
        "--username",
        "root",
        "--generate",
        "--folder",
        "Infra/DC1/SentinelBizFolder3",
    ]);
    let db = a.add(&[
        "--profile",
        "business",
        "--type",
        "database",
        "--title",
        "Orders DB",
        "--field",
        "hostname=sentinel-db-host-7.internal",
        "--field",
        "port=5432",
        "--username",
        "app",
        "--password",
        "db-pass-1",
        "--folder",
        "Infra/DC1/SentinelBizFolder3",
    ]);
    let card = a.add(&[
        "--profile",
        "personal",
        "--type",
        "credit_card",
        "--title",
        "Visa",
        "--field",
        "cardholder=SentinelCardholder6611",
        "--field",
        "number=4111222233334444",
        "--field",
        "expiry=12/29",
        "--field",
        "cvv=123",
    ]);
    let wifi = a.add(&[
        "--profile",
        "business",
        "--type",
        "wifi",
        "--title",
        "Office wifi",
        "--field",
        "ssid=SentinelWifiNet0099",
        "--password",
        "wifi-pass",
    ]);
    let lic = a.add(&[
        "--profile",
        "business",
        "--type",
        "software_license",
        "--title",
        "IDE licence",
        "--field",
        "license_key=SentinelLicenseKey-ABCD-1234",
    ]);
    let ssh = a.add(&[
        "--profile",
        "personal",
        "--type",
        "ssh_key",
        "--title",
        "Deploy key",
        "--field",
        "private_key=SentinelSshPrivate5577",
    ]);
    let note = a.add(&[
        "--profile",
        "personal",
        "--type",
        "secure_note",
        "--title",
        "Alarm code",
        "--notes",
        "1234#",
    ]);
    let all = [&login, &server_item, &db, &card, &wifi, &lic, &ssh, &note];

    // The three-level folder exists in both profiles' trees as created.
    let folders = a.json(&["folder", "list"]);
    let paths: Vec<String> = folders
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["profile"].as_str().unwrap(),
                f["path"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        paths.contains(
            &"personal:SentinelFolderAlpha/SentinelFolderBeta/SentinelFolderGamma".to_string()
        ),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"business:Infra/DC1/SentinelBizFolder3".to_string()),
        "{paths:?}"
    );

    let list_a = a.json(&["item", "list"]);
    assert_eq!(list_a.as_array().unwrap().len(), all.len());
    let personal = a.json(&["item", "list", "--profile", "personal"]);
    assert_eq!(personal.as_array().unwrap().len(), 4);
    let in_folder = a.json(&[
        "item",
        "list",
        "--profile",
        "business",
        "--folder",
        "Infra/DC1/SentinelBizFolder3",
    ]);
    assert_eq!(item_ids(&in_folder), {
        let mut v = vec![server_item.clone(), db.clone()];
        v.sort();
        v
    });
    let recursive = a.json(&[
        "item",
        "list",
        "--profile",
        "business",
        "--folder",
        "Infra",
        "--recursive",
    ]);
    assert_eq!(recursive.as_array().unwrap().len(), 2);

    // A second device logs in with the password and the Secret Key and reads everything back.
    let mut b = Device::new();
    b.secret_key = Some(sk.clone());
    b.ok(&[
        "login",
        "--server",
        &server.url,
        "--email",
        "alice@example.com",
    ]);
    let list_b = b.json(&["item", "list"]);
    assert_eq!(list_a, list_b, "both devices list the same items");
    for id in all {
        let on_a = a.json(&["item", "get", id]);
        let on_b = b.json(&["item", "get", id]);
        assert_eq!(on_a, on_b, "item {id} reads back identically");
    }
    let got = b.json(&["item", "get", &login]);
    assert_eq!(got["title"], "SentinelTitleGithub7731");
    assert_eq!(got["username"], "sentinel-user-4411");
    assert_eq!(got["password"], "SentinelPassw0rd!9931");
    assert_eq!(got["url"], "https://sentinel-url-5521.example");
    assert_eq!(got["notes"], "SentinelNoteText8812");
    assert_eq!(
        got["folder"],
        "SentinelFolderAlpha/SentinelFolderBeta/SentinelFolderGamma"
    );
    assert_eq!(got["profile"], "personal");
    assert_eq!(got["custom_fields"][0]["value"], "SentinelCustomValue2288");
    assert_eq!(
        b.ok(&["item", "get", &db, "--field", "hostname"]).trim(),
        "sentinel-db-host-7.internal"
    );
    assert_eq!(
        b.json(&["item", "get", &card])["number"],
        "4111222233334444"
    );
    // Search over titles, usernames, URLs and tags.
    assert_eq!(
        item_ids(&b.json(&["item", "list", "--search", "sentinel-url-5521"])),
        vec![login.clone()]
    );
    assert_eq!(
        item_ids(&b.json(&["item", "list", "--search", "sentineltagomega"])),
        vec![login.clone()]
    );
    // A live TOTP code of 6 digits.
    let code = b.json(&["totp", &login]);
    assert_eq!(code["code"].as_str().unwrap().len(), 6);

    // Wrong password and wrong Secret Key fail with clear messages and exit code 4.
    let mut wrong_pw = Device::new();
    wrong_pw.password = "not the password at all".into();
    wrong_pw.secret_key = Some(sk.clone());
    let (code, msg) = wrong_pw.fails(&[
        "login",
        "--server",
        &server.url,
        "--email",
        "alice@example.com",
    ]);
    assert_eq!(code, 4, "{msg}");
    assert!(msg.contains("wrong master password or Secret Key"), "{msg}");

    let mut other = Device::new();
    let other_sk = other.register(&server, "bob@example.com");
    let mut wrong_sk = Device::new();
    wrong_sk.secret_key = Some(other_sk);
    let (code, msg) = wrong_sk.fails(&[
        "login",
        "--server",
        &server.url,
        "--email",
        "alice@example.com",
    ]);
    assert_eq!(code, 4, "{msg}");
    assert!(msg.contains("wrong master password or Secret Key"), "{msg}");

    let mut typo_sk = Device::new();
    let mut typo = sk.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'A' { 'B' } else { 'A' });
    typo_sk.secret_key = Some(typo);
    let (_, msg) = typo_sk.fails(&[
        "login",
        "--server",
        &server.url,
        "--email",
        "alice@example.com",
    ]);
    assert!(msg.to_lowercase().contains("secret key"), "{msg}");

    let mut unknown = Device::new();
    unknown.secret_key = Some(sk.clone());
    let (code, _) = unknown.fails(&[
        "login",
        "--server",
        &server.url,
        "--email",
        "nobody@example.com",
    ]);
    assert_eq!(code, 4);

    // Zero knowledge: the database (and its WAL) hold none of the sentinels, the master
    // password or the Secret Key.
    let data = server.stop();
    let db_path = data.path().join("castellan.sqlite3");
    let wal = data.path().join("castellan.sqlite3-wal");
    assert!(db_path.exists());
    let mut secrets: Vec<String> = SENTINELS.iter().map(|s| s.to_string()).collect();
    secrets.push(PASSWORD.to_string());
    secrets.push(sk.clone());
    secrets.push(sk.replace('-', ""));
    for s in &secrets {
        for f in [&db_path, &wal] {
            assert!(
                !file_contains(f, s.as_bytes()),
                "{} contains {s:?}",
                f.display()
            );
            assert!(
                !file_contains(f, s.to_lowercase().as_bytes()),
                "{} contains {s:?} (lowercase)",
                f.display()
            );
        }
    }
}

#[test]
fn edit_history_trash_folders_lock_and_logout() {
    let server = Server::start();
    let mut a = Device::new();
    a.register(&server, "carol@example.com");
    let id = a.add(&[
        "--title",
        "Mail",
        "--type",
        "email",
        "--username",
        "carol@corp.example",
        "--password",
        "first-pass",
        "--folder",
        "Work/Mail",
    ]);

    // Password history on every password change.
    a.ok(&["item", "edit", &id, "--password", "second-pass"]);
    a.ok(&[
        "item",
        "edit",
        &id,
        "--password",
        "third-pass",
        "--title",
        "Work mail",
    ]);
    let hist = a.json(&["item", "history", &id]);
    let olds: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["password"].as_str().unwrap())
        .collect();
    assert_eq!(olds, vec!["second-pass", "first-pass"]);
    let got = a.json(&["item", "get", &id]);
    assert_eq!(got["password"], "third-pass");
    assert_eq!(got["title"], "Work mail");
    assert_eq!(got["version"], 3);

    // Move between folders and profiles.
    a.ok(&["item", "mv", &id, "--folder", "Archive/2026"]);
    assert_eq!(a.json(&["item", "get", &id])["folder"], "Archive/2026");
    a.ok(&["item", "mv", &id, "--profile", "business"]);
    let moved = a.json(&["item", "get", &id]);
    assert_eq!(moved["profile"], "business");
    assert_eq!(moved["folder"], Value::Null);
    assert_eq!(moved["password"], "third-pass");
    a.ok(&[
        "item",
        "mv",
        &id,
        "--profile",
        "personal",
        "--folder",
        "Work/Mail",
    ]);

    // Folders: rename, move (no cycles), delete with an explicit choice.
    a.ok(&["folder", "add", "Work/Mail/Old"]);
    let (_, msg) = a.fails(&["folder", "mv", "Work", "--to", "Work/Mail/Old"]);
    assert!(msg.contains("into itself"), "{msg}");
    a.ok(&["folder", "rename", "Work/Mail", "Email"]);
    assert_eq!(a.json(&["item", "get", &id])["folder"], "Work/Email");
    a.ok(&["folder", "mv", "Work/Email/Old", "--top"]);
    let (code, msg) = a.fails(&["folder", "rm", "Work"]);
    assert_eq!(code, 1);
    assert!(msg.contains("not empty"), "{msg}");
    assert_eq!(
        a.json(&["item", "get", &id])["folder"],
        "Work/Email",
        "a refused delete changes nothing"
    );
    a.ok(&["folder", "rm", "Work/Email", "--items", "move-to-parent"]);
    assert_eq!(a.json(&["item", "get", &id])["folder"], "Work");
    a.ok(&["folder", "rm", "Work", "--items", "trash"]);
    let trashed = a.json(&["item", "get", &id]);
    assert_eq!(trashed["trashed"], true);
    assert!(a.json(&["item", "list"]).as_array().unwrap().is_empty());
    assert_eq!(a.json(&["trash", "list"]).as_array().unwrap().len(), 1);
    a.ok(&["item", "restore", &id]);
    assert_eq!(a.json(&["item", "list"]).as_array().unwrap().len(), 1);
    a.ok(&["item", "rm", &id]);
    let (_, msg) = a.fails(&["trash", "empty"]);
    assert!(msg.contains("--yes"));
    assert_eq!(a.json(&["trash", "empty", "--yes"])["deleted"], 1);
    let (code, _) = a.fails(&["item", "get", &id]);
    assert_eq!(code, 5);

    // Generator and item types.
    let pw = a.json(&["generate", "--length", "32"]);
    assert_eq!(pw["password"].as_str().unwrap().chars().count(), 32);
    let (_, msg) = a.fails(&["item", "add", "--type", "spaceship", "--title", "x"]);
    assert!(msg.contains("unknown item type"), "{msg}");

    // Lock, unlock, wrong password on unlock.
    a.ok(&["lock"]);
    let (code, msg) = a.fails(&["item", "list"]);
    assert_eq!(code, 3);
    assert!(msg.contains("locked"), "{msg}");
    let mut wrong = Device {
        home: tempfile::tempdir().unwrap(),
        password: "wrong password!".into(),
        secret_key: None,
    };
    std::mem::swap(&mut wrong.home, &mut a.home);
    let (_, msg) = wrong.fails(&["unlock"]);
    assert!(msg.contains("wrong master password"), "{msg}");
    std::mem::swap(&mut wrong.home, &mut a.home);
    a.ok(&["unlock"]);
    assert_eq!(a.json(&["status"])["locked"], false);
    assert_eq!(a.json(&["status"])["session_valid"], true);

    // Logout revokes the session and forgets the account on this device.
    a.ok(&["logout"]);
    let (code, msg) = a.fails(&["item", "list"]);
    assert_eq!(code, 3, "{msg}");
    assert_eq!(a.json(&["status"])["logged_in"], false);
}

#[test]
fn master_password_change_keeps_the_vault_and_signs_out_other_devices() {
    let server = Server::start();
    let mut a = Device::new();
    let sk = a.register(&server, "dan@example.com");
    let id = a.add(&["--title", "Router", "--password", "router-pass"]);
    let mut b = Device::new();
    b.secret_key = Some(sk.clone());
    b.ok(&[
        "login",
        "--server",
        &server.url,
        "--email",
        "dan@example.com",
    ]);

    let out = a
        .cmd(&["change-password", "--json"])
        .env("CASTELLAN_NEW_PASSWORD", "a brand new passphrase 9")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    a.password = "a brand new passphrase 9".into();
    assert_eq!(a.json(&["item", "get", &id])["password"], "router-pass");

    // The other device's session was revoked; it must log in again with the new password.
    let (_, msg) = b.fails(&["item", "list"]);
    assert!(msg.contains("login"), "{msg}");
    b.password = "a brand new passphrase 9".into();
    b.ok(&[
        "login",
        "--server",
        &server.url,
        "--email",
        "dan@example.com",
    ]);
    assert_eq!(b.json(&["item", "get", &id])["password"], "router-pass");

    // The old password no longer logs in anywhere.
    let mut c = Device::new();
    c.secret_key = Some(sk);
    let (code, _) = c.fails(&[
        "login",
        "--server",
        &server.url,
        "--email",
        "dan@example.com",
    ]);
    assert_eq!(code, 4);
}
