//! Offline editing, per-item sync status, conflicts and crash safety, through the real binary:
//! a real server process that is stopped, killed and restarted, and devices with their own
//! CASTELLAN_HOME and offline cache.

mod common;

use common::*;
use serde_json::Value;

fn status_of(list: &Value, id: &str) -> String {
    list.as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {list}"))["sync_status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn offline_edits_of_different_fields_merge_and_of_the_same_field_keep_both_values() {
    let mut server = Server::start();
    let (a, b) = two_devices(&server, "merge@example.com");
    let id = a.add(&[
        "--title",
        "Router",
        "--username",
        "admin",
        "--password",
        "base-pass",
        "--url",
        "https://router.lan",
    ]);
    b.ok(&["sync"]);
    assert_eq!(b.json(&["item", "get", &id])["username"], "admin");

    // Different fields, both devices offline.
    server.kill();
    a.ok(&["item", "edit", &id, "--username", "root"]);
    b.ok(&["item", "edit", &id, "--url", "https://gw.lan"]);
    assert_eq!(status_of(&a.json(&["item", "list"]), &id), "offline");
    assert_eq!(
        a.json(&["item", "get", &id])["username"],
        "root",
        "reads work offline, with the local edit"
    );
    server.restart();
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    for d in [&a, &b] {
        let got = d.json(&["item", "get", &id]);
        assert_eq!(got["username"], "root");
        assert_eq!(got["url"], "https://gw.lan");
        assert_eq!(got["password"], "base-pass");
        assert_eq!(status_of(&d.json(&["item", "list"]), &id), "synced");
    }

    // The same field on both devices: both values survive.
    server.kill();
    a.ok(&["item", "edit", &id, "--password", "from-a"]);
    b.ok(&["item", "edit", &id, "--password", "from-b"]);
    server.restart();
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    let list_a = a.json(&["item", "list"]);
    let list_b = b.json(&["item", "list"]);
    assert_eq!(list_a, list_b, "both devices converge");
    let items = list_a.as_array().unwrap();
    assert_eq!(items.len(), 2, "the item and one conflict copy: {list_a}");
    let copy = items.iter().find(|i| i["id"] != id.as_str()).unwrap();
    assert!(
        copy["title"].as_str().unwrap().contains("conflict copy"),
        "{copy}"
    );
    let main = a.json(&["item", "get", &id]);
    let copy = a.json(&["item", "get", copy["id"].as_str().unwrap()]);
    let mut values = vec![
        main["password"].as_str().unwrap().to_string(),
        copy["password"].as_str().unwrap().to_string(),
    ];
    values.sort();
    assert_eq!(values, vec!["from-a", "from-b"]);
    // The password that lost is also in the item's history.
    let hist = a.json(&["item", "history", &id]);
    let old: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["password"].as_str().unwrap())
        .collect();
    assert!(old.contains(&copy["password"].as_str().unwrap()), "{old:?}");
}

#[test]
fn status_goes_from_synced_to_offline_and_back_to_synced() {
    let mut server = Server::start();
    let mut a = Device::new();
    a.register(&server, "status@example.com");
    let id = a.add(&["--title", "Mail", "--password", "one"]);
    assert_eq!(status_of(&a.json(&["item", "list"]), &id), "synced");

    server.kill();
    a.ok(&["item", "edit", &id, "--password", "two"]);
    let created_offline = a.add(&["--title", "Created offline"]);
    let list = a.json(&["item", "list"]);
    assert_eq!(status_of(&list, &id), "offline");
    assert_eq!(status_of(&list, &created_offline), "offline");
    let st = a.json(&["sync", "--status"]);
    assert_eq!(st["offline"], 2);
    assert_eq!(st["server_reachable"], false);
    let (code, _) = a.fails(&["sync"]);
    assert_eq!(code, 7, "sync reports the unreachable server");

    server.restart();
    let list = a.json(&["item", "list"]);
    assert_eq!(
        status_of(&list, &id),
        "synced",
        "red turns green once the server is back"
    );
    assert_eq!(status_of(&list, &created_offline), "synced");
    assert_eq!(a.json(&["sync", "--status"])["pending"], 0);
    assert_eq!(a.json(&["item", "get", &id])["password"], "two");
}

#[test]
fn a_server_killed_in_the_middle_of_a_sync_loses_and_duplicates_nothing() {
    let mut server = Server::start();
    let (a, b) = two_devices(&server, "crash@example.com");
    server.kill();
    let n = 40;
    for i in 0..n {
        a.add(&[
            "--title",
            &format!("Offline item {i:03}"),
            "--password",
            &format!("secret-{i}"),
        ]);
    }
    server.restart();
    // Start a sync and kill the server while it runs, a few times at different moments.
    for delay_ms in [30u64, 120, 300] {
        let mut child = a.cmd(&["sync"]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        server.kill();
        let _ = child.wait();
        server.restart();
    }
    a.ok(&["sync"]);
    assert_eq!(a.json(&["sync", "--status"])["pending"], 0);
    b.ok(&["sync"]);
    let list = b.json(&["item", "list"]);
    let mut titles: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    let expected: Vec<String> = (0..n).map(|i| format!("Offline item {i:03}")).collect();
    assert_eq!(titles, expected, "every item exactly once");
    assert_eq!(a.json(&["item", "list"]), list, "both devices agree");
    let one = list.as_array().unwrap()[7]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(b.json(&["item", "get", &one])["password"], "secret-7");
}
