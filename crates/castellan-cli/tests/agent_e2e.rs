//! The background agent through the real binary: `castellan agent start` on a device, changes
//! made on another device arriving through push hints, and through polling alone.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn synced_items(d: &Device) -> u64 {
    d.json(&["sync", "--status"])["synced"].as_u64().unwrap()
}

/// Waits until device `d`'s offline cache holds `n` synced items, without syncing from `d`'s
/// CLI (`sync --status` only reads the cache): only the agent can have fetched them.
fn wait_for_items(d: &Device, n: u64, within: Duration) -> Duration {
    let start = Instant::now();
    while start.elapsed() < within {
        if synced_items(d) == n {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "device did not receive {n} items within {within:?} (has {})",
        synced_items(d)
    );
}

struct AgentGuard<'a>(&'a Device);

impl Drop for AgentGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["agent", "stop"]);
    }
}

#[test]
fn a_change_reaches_the_other_devices_agent_through_push_within_seconds() {
    let server = Server::start();
    let (a, b) = two_devices(&server, "push@example.com");
    let v = b.json(&["agent", "start"]);
    let _guard = AgentGuard(&b);
    assert_eq!(v["unlocked"], true);
    // Wait until the agent's push stream is connected.
    let start = Instant::now();
    while !b.json(&["agent", "status"])["push_connected"]
        .as_bool()
        .unwrap()
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "push never connected"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(synced_items(&b), 0);
    a.add(&["--title", "Pushed item", "--password", "p"]);
    let took = wait_for_items(&b, 1, Duration::from_secs(5));
    eprintln!("push delivered the change in {took:?}");

    // Commands on the agent's device use its keys: no password needed.
    let out = b
        .cmd(&["item", "list", "--json"])
        .env_remove("CASTELLAN_PASSWORD")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["title"], "Pushed item");

    // Locking the device locks the agent: commands need the password again.
    b.ok(&["lock"]);
    assert_eq!(b.json(&["agent", "status"])["unlocked"], false);
    let out = b
        .cmd(&["item", "list"])
        .env_remove("CASTELLAN_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn without_push_the_agent_still_syncs_on_its_interval_and_flushes_offline_changes() {
    let mut server = Server::start();
    let (a, b) = two_devices(&server, "poll@example.com");
    b.ok(&["agent", "start", "--no-push", "--interval", "2"]);
    let _guard = AgentGuard(&b);
    a.add(&["--title", "Polled item"]);
    let took = wait_for_items(&b, 1, Duration::from_secs(5));
    eprintln!("polling delivered the change in {took:?}");
    assert_eq!(b.json(&["agent", "status"])["push"], false);

    // Offline edit on the agent's device: red while the server is down, green on its own after.
    let id = b.json(&["item", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    server.kill();
    let out = b
        .cmd(&["item", "edit", &id, "--password", "changed offline"])
        .env_remove("CASTELLAN_PASSWORD")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(b.json(&["sync", "--status"])["offline"], 1);
    let list = b
        .cmd(&["item", "list", "--json"])
        .env_remove("CASTELLAN_PASSWORD")
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(
        list[0]["sync_status"], "offline",
        "red while the server is down"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        b.json(&["agent", "status"])["last_error"].is_string(),
        "the agent reports the unreachable server"
    );
    server.restart();
    // Yellow (about to be sent) or already green, never red once the server answers.
    let list = b
        .cmd(&["item", "list", "--json"])
        .env_remove("CASTELLAN_PASSWORD")
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let st = list[0]["sync_status"].as_str().unwrap().to_string();
    assert!(st == "pending" || st == "synced", "{st}");
    let start = Instant::now();
    loop {
        let st = b.json(&["sync", "--status"]);
        if st["offline"] == 0 && st["pending"] == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "the agent did not flush the offline change: {st}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    a.ok(&["sync"]);
    assert_eq!(a.json(&["item", "get", &id])["password"], "changed offline");
}
