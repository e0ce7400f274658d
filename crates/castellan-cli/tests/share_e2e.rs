//! Sharing end to end, through the real binary as server and clients (one home per user): a
//! company with an owner, an editor and a group of readers; roles allow exactly what they
//! should; changes reach the others; removing a recipient rotates the key and hides the share
//! from them, also on a device that was offline at the time.

mod common;

use common::*;
use serde_json::Value;

fn items(d: &Device) -> Vec<Value> {
    d.json(&["item", "list"]).as_array().unwrap().clone()
}

fn shared_titles(d: &Device, share: &str) -> Vec<String> {
    let mut t: Vec<String> = items(d)
        .iter()
        .filter(|i| i["share"] == share)
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[test]
fn roles_changes_revocation_and_the_share_folder() {
    let server = OrgServer::start("public_url = \"http://127.0.0.1:1\"");
    let co = Company::setup(
        &server,
        "Acme",
        "owner@acme.example",
        &[
            "ed@acme.example",
            "reader@acme.example",
            "third@acme.example",
        ],
    );
    let owner = &co.admin;
    let ed = co.member("ed@acme.example");
    let reader = co.member("reader@acme.example");
    let third = co.member("third@acme.example");
    owner.json(&[
        "admin",
        "group",
        "create",
        "Readers",
        "--member",
        "reader@acme.example",
        "--member",
        "third@acme.example",
        "--company",
        "Acme",
    ]);

    // The owner's Business items, one in a folder.
    let a = owner.add(&[
        "--profile",
        "business",
        "--type",
        "login",
        "--title",
        "Router",
        "--username",
        "admin",
        "--password",
        "r0uter-secret",
    ]);
    owner.add(&[
        "--profile",
        "business",
        "--type",
        "login",
        "--title",
        "Mail",
        "--password",
        "m4il",
        "--folder",
        "Ops",
    ]);
    let created = owner.json(&[
        "share",
        "create",
        "--name",
        "Team",
        "--item",
        &a,
        "--folder",
        "Ops",
        "--to",
        "ed@acme.example:editor",
        "--group",
        "Readers:read-only",
    ]);
    let sid = created["id"].as_str().unwrap().to_string();
    // For the owner the items moved under "Shared folders/Team".
    assert_eq!(shared_titles(owner, "Team"), vec!["Mail", "Router"]);
    let list = items(owner);
    assert!(list
        .iter()
        .all(|i| i["title"] != "Router" || i["folder"] == "Shared folders/Team"));
    assert!(list
        .iter()
        .any(|i| i["title"] == "Mail" && i["folder"] == "Shared folders/Team/Ops"));

    // Recipients see an invitation first, then the items once they accept.
    let inv = ed.json(&["share", "list"]);
    assert_eq!(inv[0]["state"], "invited");
    assert!(shared_titles(ed, "Team").is_empty());
    ed.json(&["share", "accept", &sid]);
    assert_eq!(shared_titles(ed, "Team"), vec!["Mail", "Router"]);
    reader.json(&["share", "accept", &sid]);
    third.json(&["share", "accept", &sid]);
    assert_eq!(shared_titles(reader, "Team"), vec!["Mail", "Router"]);
    let r = items(reader);
    let router = r.iter().find(|i| i["title"] == "Router").unwrap();
    assert_eq!(router["share_role"], "read-only");
    let rid = router["id"].as_str().unwrap().to_string();

    // An editor's change reaches the others.
    ed.json(&["item", "edit", &rid, "--username", "root"]);
    let got = reader.json(&["item", "get", &rid]);
    assert_eq!(got["username"], "root");
    assert_eq!(owner.json(&["item", "get", &rid])["username"], "root");

    // A reader may read passwords but not write; the refusal is clear (exit 10).
    assert_eq!(
        reader
            .ok(&["item", "get", &rid, "--field", "password"])
            .trim(),
        "r0uter-secret"
    );
    let (code, msg) = reader.fails(&["item", "edit", &rid, "--username", "x"]);
    assert_eq!(code, 10, "{msg}");
    assert!(msg.contains("read-only"), "{msg}");
    let (code, msg) = reader.fails(&[
        "share",
        "add-recipient",
        &sid,
        "--user",
        "ed@acme.example",
        "--role",
        "owner",
    ]);
    assert_eq!(code, 10, "{msg}");
    let (code, _) = ed.fails(&["share", "rm", &sid]);
    assert_eq!(code, 10);

    // The share folder keeps its name; recipients cannot rename it; their folders are theirs.
    let (code, msg) = reader.fails(&["folder", "rename", "Shared folders/Team", "Mine"]);
    assert_eq!(code, 10, "{msg}");
    reader.ok(&["folder", "add", "Private"]);
    reader.ok(&["folder", "rename", "Private", "Still mine"]);
    assert_eq!(shared_titles(reader, "Team"), vec!["Mail", "Router"]);

    // Read-only with passwords hidden: never shown, never copied.
    owner.json(&[
        "share",
        "set-role",
        &sid,
        "--group",
        "Readers",
        "--role",
        "read-only-hidden",
    ]);
    let (code, msg) = reader.fails(&["item", "get", &rid, "--field", "password"]);
    assert_eq!(code, 10, "{msg}");
    assert!(msg.contains("hidden"), "{msg}");
    let j = reader.json(&["item", "get", &rid]);
    assert_ne!(j["password"], "r0uter-secret");
    assert!(!j.to_string().contains("r0uter-secret"));

    // Removing the editor rotates the key and lists what they could read; they lose the share.
    let removed = owner.json(&[
        "share",
        "remove-recipient",
        &sid,
        "--user",
        "ed@acme.example",
    ]);
    assert_eq!(removed["key_version"], 2);
    assert_eq!(removed["exposed_items"].as_array().unwrap().len(), 2);
    assert!(shared_titles(ed, "Team").is_empty());
    // The others still read everything under the new key.
    assert_eq!(shared_titles(reader, "Team"), vec!["Mail", "Router"]);
    assert_eq!(owner.json(&["item", "get", &rid])["username"], "root");
}
