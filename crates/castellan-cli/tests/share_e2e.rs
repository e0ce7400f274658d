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

/// An RFC 3339 time `secs` seconds from now.
fn in_seconds(secs: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn share_ids(d: &Device) -> Vec<String> {
    d.json(&["share", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn revocation_reaches_an_offline_device_and_expiry_hides_the_share_but_from_owners() {
    let server = OrgServer::start("public_url = \"http://127.0.0.1:1\"");
    let co = Company::setup(
        &server,
        "Acme",
        "owner@acme.example",
        &["ed@acme.example", "reader@acme.example"],
    );
    let owner = &co.admin;
    let ed = co.member("ed@acme.example");
    let reader = co.member("reader@acme.example");
    // The reader's second device.
    let reader2 = Device::login_at(
        &server.url,
        "reader@acme.example",
        reader.secret_key.as_deref().unwrap(),
    );
    let a = owner.add(&[
        "--profile",
        "business",
        "--title",
        "Firewall",
        "--password",
        "fw-1",
    ]);
    let sid = owner.json(&[
        "share",
        "create",
        "--name",
        "Infra",
        "--item",
        &a,
        "--to",
        "ed@acme.example:read-only",
        "--to",
        "reader@acme.example:read-only",
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();
    ed.json(&["share", "accept", &sid]);
    reader.json(&["share", "accept", &sid]);
    assert_eq!(shared_titles(&reader2, "Infra"), vec!["Firewall"]);
    // The reader's own folder and item: never touched by what happens to the share.
    reader.ok(&["folder", "add", "Home"]);
    reader.add(&["--title", "Bank", "--password", "b4nk", "--folder", "Home"]);

    // Revocation while reader2 is offline; then the owner writes a new item into the share.
    let removed = owner.json(&[
        "share",
        "remove-recipient",
        &sid,
        "--user",
        "reader@acme.example",
    ]);
    assert_eq!(removed["key_version"], 2);
    let b = owner.add(&[
        "--profile",
        "business",
        "--title",
        "VPN",
        "--password",
        "vpn-2",
    ]);
    owner.json(&["share", "add-items", &sid, "--item", &b]);
    assert_eq!(shared_titles(ed, "Infra"), vec!["Firewall", "VPN"]);
    // The removed reader loses the share at the next sync, on both devices, and never sees
    // what was written afterwards.
    for d in [reader, &reader2] {
        assert!(shared_titles(d, "Infra").is_empty());
        assert!(!share_ids(d).contains(&sid));
        let all = items(d);
        assert!(all
            .iter()
            .all(|i| i["title"] != "VPN" && i["title"] != "Firewall"));
        assert!(all
            .iter()
            .any(|i| i["title"] == "Bank" && i["folder"] == "Home"));
        let (code, _) = d.fails(&["share", "show", &sid]);
        assert_ne!(code, 0);
    }

    // Expiry a few seconds ahead: the share stays until then, is gone for the recipient at the
    // next sync after it passes, and the owner keeps it.
    let at = in_seconds(4);
    owner.json(&["share", "expire", &sid, "--at", &at]);
    assert_eq!(shared_titles(ed, "Infra"), vec!["Firewall", "VPN"]);
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert!(shared_titles(ed, "Infra").is_empty());
    assert!(!share_ids(ed).contains(&sid));
    assert_eq!(shared_titles(owner, "Infra"), vec!["Firewall", "VPN"]);
    // Clearing the expiry brings it back.
    owner.json(&["share", "expire", &sid, "--never"]);
    assert_eq!(shared_titles(ed, "Infra"), vec!["Firewall", "VPN"]);
}

#[test]
fn groups_reach_later_members_and_deleting_an_owner_removes_only_their_own_shares() {
    let server = OrgServer::start("public_url = \"http://127.0.0.1:1\"");
    let co = Company::setup(
        &server,
        "Acme",
        "owner@acme.example",
        &["ed@acme.example", "first@acme.example", "late@acme.example"],
    );
    let owner = &co.admin;
    let ed = co.member("ed@acme.example");
    let first = co.member("first@acme.example");
    let late = co.member("late@acme.example");
    owner.json(&[
        "admin",
        "group",
        "create",
        "Readers",
        "--member",
        "first@acme.example",
        "--company",
        "Acme",
    ]);
    let a = owner.add(&[
        "--profile",
        "business",
        "--title",
        "Printer",
        "--password",
        "pr1nt",
    ]);
    let g = owner.json(&[
        "share",
        "create",
        "--name",
        "Office",
        "--item",
        &a,
        "--group",
        "Readers:read-only",
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();
    first.json(&["share", "accept", &g]);
    assert_eq!(shared_titles(first, "Office"), vec!["Printer"]);
    // Not in the group yet: nothing.
    assert!(!share_ids(late).contains(&g));

    // A member added to the group later gets the share (one group key grant, no new share
    // grant); a member removed from the group loses it at the next sync.
    owner.json(&[
        "admin",
        "group",
        "add-member",
        "Readers",
        "late@acme.example",
        "--company",
        "Acme",
    ]);
    assert!(share_ids(late).contains(&g));
    late.json(&["share", "accept", &g]);
    assert_eq!(shared_titles(late, "Office"), vec!["Printer"]);
    owner.json(&[
        "admin",
        "group",
        "remove-member",
        "Readers",
        "first@acme.example",
        "--company",
        "Acme",
    ]);
    assert!(shared_titles(first, "Office").is_empty());
    assert!(!share_ids(first).contains(&g));
    assert_eq!(shared_titles(late, "Office"), vec!["Printer"]);

    // The share folder keeps its name for the recipient.
    let (code, msg) = late.fails(&["folder", "rename", "Shared folders/Office", "Mine"]);
    assert_eq!(code, 10, "{msg}");

    // Ed owns one share alone and one together with the owner.
    let e1 = ed.add(&[
        "--profile",
        "business",
        "--title",
        "Ed's",
        "--password",
        "e1",
    ]);
    let alone = ed.json(&[
        "share",
        "create",
        "--name",
        "EdOnly",
        "--item",
        &e1,
        "--to",
        "late@acme.example",
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let e2 = ed.add(&[
        "--profile",
        "business",
        "--title",
        "Shared",
        "--password",
        "e2",
    ]);
    let both = ed.json(&[
        "share",
        "create",
        "--name",
        "Both",
        "--item",
        &e2,
        "--to",
        "late@acme.example",
        "--to",
        "owner@acme.example:owner",
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();
    late.json(&["share", "accept", &alone]);
    late.json(&["share", "accept", &both]);
    assert_eq!(shared_titles(late, "EdOnly"), vec!["Ed's"]);
    assert_eq!(shared_titles(owner, "Both"), vec!["Shared"]);

    owner.json(&[
        "admin",
        "user",
        "delete",
        "ed@acme.example",
        "--company",
        "Acme",
        "--yes",
    ]);
    // The share ed owned alone is gone for its recipient; the one with another owner stays,
    // for that owner and for the recipient.
    assert!(shared_titles(late, "EdOnly").is_empty());
    assert!(!share_ids(late).contains(&alone));
    assert_eq!(shared_titles(late, "Both"), vec!["Shared"]);
    assert_eq!(shared_titles(owner, "Both"), vec!["Shared"]);
    assert_eq!(shared_titles(late, "Office"), vec!["Printer"]);
    // The remaining owner still manages it.
    owner.json(&[
        "share",
        "add-recipient",
        &both,
        "--user",
        "first@acme.example",
        "--role",
        "read-only",
    ]);
    first.json(&["share", "accept", &both]);
    assert_eq!(shared_titles(first, "Both"), vec!["Shared"]);
}

/// A company admin sees every share, takes a reader off one, and transfers ownership to a
/// recipient; the new owner keeps reading and can manage the share, the previous owner becomes
/// an editor, and removing a writer is left to an owner.
#[test]
fn company_admins_list_shares_remove_readers_and_transfer_ownership() {
    let server = OrgServer::start("");
    let co = Company::setup(
        &server,
        "Acme",
        "admin@acme.example",
        &[
            "owner@acme.example",
            "heir@acme.example",
            "reader@acme.example",
        ],
    );
    let admin = &co.admin;
    let owner = co.member("owner@acme.example");
    let heir = co.member("heir@acme.example");
    let reader = co.member("reader@acme.example");
    let a = owner.add(&[
        "--profile",
        "business",
        "--type",
        "login",
        "--title",
        "Firewall",
        "--username",
        "root",
        "--password",
        "fw-secret",
    ]);
    let sid = owner.json(&[
        "share",
        "create",
        "--name",
        "Net",
        "--item",
        &a,
        "--to",
        "heir@acme.example:read-only",
        "--to",
        "reader@acme.example:read-only",
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();
    heir.json(&["share", "accept", &sid]);
    reader.json(&["share", "accept", &sid]);
    assert_eq!(shared_titles(reader, "Net"), vec!["Firewall"]);

    // The overview: owners, recipients and the name, without the items.
    let list = admin.json(&["admin", "share", "list", "--company", "Acme"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "Net");
    assert_eq!(list[0]["owners"], serde_json::json!(["owner@acme.example"]));
    assert_eq!(list[0]["recipients"].as_array().unwrap().len(), 2);

    // A reader taken off by the admin loses the share at their next sync.
    admin.json(&[
        "admin",
        "share",
        "remove-recipient",
        "Net",
        "--user",
        "reader@acme.example",
        "--company",
        "Acme",
    ]);
    reader.ok(&["sync"]);
    assert!(shared_titles(reader, "Net").is_empty());
    assert!(share_ids(reader).is_empty());

    // Ownership moves to a recipient; the old owner becomes an editor.
    admin.json(&[
        "admin",
        "share",
        "transfer",
        "Net",
        "--to",
        "heir@acme.example",
        "--company",
        "Acme",
    ]);
    heir.ok(&["sync"]);
    assert_eq!(shared_titles(heir, "Net"), vec!["Firewall"]);
    let shown = heir.json(&["share", "show", &sid]);
    assert_eq!(shown["role"], "owner", "{shown}");
    // The new owner manages the share: a new recipient gets it.
    heir.json(&[
        "share",
        "add-recipient",
        &sid,
        "--user",
        "reader@acme.example",
        "--role",
        "read-only",
    ]);
    reader.ok(&["sync"]);
    reader.json(&["share", "accept", &sid]);
    assert_eq!(shared_titles(reader, "Net"), vec!["Firewall"]);

    // Writers are removed by an owner, not from the admin side.
    let (code, err) = admin.fails(&[
        "admin",
        "share",
        "remove-recipient",
        "Net",
        "--user",
        "owner@acme.example",
        "--company",
        "Acme",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("an owner removes them"), "{err}");
}
