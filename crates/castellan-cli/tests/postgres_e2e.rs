//! A deployment of several server instances on one PostgreSQL database, through the real binary:
//! `castellan server --database-url` processes on different loopback ports sharing a fresh
//! database per test, and devices (each with its own CASTELLAN_HOME) talking to one instance or
//! to a comma-separated list of them.
//!
//! PostgreSQL comes from `CASTELLAN_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`, a user allowed to create databases). When it is
//! unreachable these tests fail with a message saying so; they never skip.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const EMAIL: &str = "pg@example.com";

/// Stops a device's agent when the test ends (also when it fails).
struct AgentGuard<'a>(&'a Device);

impl Drop for AgentGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["agent", "stop"]);
    }
}

/// Kills a background CLI process if the test fails before waiting for it.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn synced_items(d: &Device) -> u64 {
    d.json(&["sync", "--status"])["synced"].as_u64().unwrap()
}

/// Polls `cond` every `every` until it holds; panics with `what` after `within`.
fn wait_until(what: &str, within: Duration, every: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        if cond() {
            return;
        }
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(every);
    }
}

/// Items (not folders) in the shared database, whatever their state.
fn server_items(db: &PgDatabase) -> u64 {
    db.query("SELECT count(*) FROM objects WHERE kind = 'item'")
        .parse()
        .unwrap()
}

/// When to kill instance 1 during a sync.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// This long after the `castellan sync` process started.
    AfterMs(u64),
    /// As soon as this many of the queued items have reached the database through it.
    AfterWrites(u64),
}

fn sorted_titles(list: &Value) -> Vec<String> {
    let mut t: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[test]
fn a_write_through_instance_2_reaches_an_agent_subscribed_to_instance_1_within_2_s() {
    let db = PgDatabase::create();
    let inst1 = DbServer::start(&db.url);
    let inst2 = DbServer::start(&db.url);

    // A only knows instance 2; B only knows instance 1, so its push stream and its syncs go
    // there.
    let mut a = Device::new();
    let sk = a.register_at(&inst2.url, EMAIL);
    let b = Device::login_at(&inst1.url, EMAIL, &sk);
    // Polling every 5 minutes: within the test only a push hint makes B's agent sync.
    let v = b.json(&["agent", "start", "--interval", "300"]);
    let _agent = AgentGuard(&b);
    assert_eq!(v["unlocked"], true);
    wait_until(
        "B's agent connects its push stream to instance 1 and syncs once",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || {
            let st = b.json(&["agent", "status"]);
            st["push_connected"] == true && st["syncs"].as_u64().unwrap() >= 1
        },
    );
    assert_eq!(synced_items(&b), 0);

    let mut latencies = Vec::new();
    // How long one look at B's cache takes: the resolution of the measurement.
    let mut polls = Vec::new();
    for n in 1..=3u64 {
        let t = Instant::now();
        a.add(&[
            "--title",
            &format!("Written through instance 2 #{n}"),
            "--password",
            &format!("secret-{n}"),
        ]);
        let add_took = t.elapsed();
        // The write is committed when `item add` returns; from then on, B has 2 s.
        let committed = Instant::now();
        loop {
            let poll = Instant::now();
            let synced = synced_items(&b);
            polls.push(poll.elapsed());
            if synced == n {
                break;
            }
            assert!(
                committed.elapsed() < Duration::from_secs(2),
                "B (subscribed to instance 1) did not receive write #{n} made through \
                 instance 2 within 2 s; agent: {}",
                b.json(&["agent", "status"])
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = committed.elapsed();
        eprintln!(
            "write #{n} through instance 2 reached B's agent on instance 1 {took:?} after the \
             write committed ({:?} after `item add` started)",
            add_took + took
        );
        latencies.push(took);
    }
    polls.sort();
    eprintln!(
        "cross-instance hint + sync latencies: {latencies:?} (one `sync --status` poll takes \
         {:?} at the median)",
        polls[polls.len() / 2]
    );

    // B's agent fetched the items itself (B's CLI only read its cache), and they decrypt.
    let st = b.json(&["agent", "status"]);
    assert!(st["syncs"].as_u64().unwrap() >= 4, "{st}");
    assert!(st["last_error"].is_null(), "{st}");
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
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        sorted_titles(&list),
        (1..=3)
            .map(|n| format!("Written through instance 2 #{n}"))
            .collect::<Vec<_>>()
    );
    let id = list[0]["id"].as_str().unwrap();
    let title = list[0]["title"].as_str().unwrap();
    let n = title.rsplit('#').next().unwrap();
    assert_eq!(
        b.json(&["item", "get", id])["password"],
        format!("secret-{n}")
    );
}

#[test]
fn killing_the_instance_serving_a_sync_loses_and_duplicates_nothing() {
    let db = PgDatabase::create();
    let mut inst1 = DbServer::start(&db.url);
    let mut inst2 = DbServer::start(&db.url);
    let both = format!("{},{}", inst1.url, inst2.url);
    let mut a = Device::new();
    let sk = a.register_at(&both, EMAIL);

    // Rounds: queue changes while every instance is down, bring both back, start a sync (it
    // tries instance 1 first) and SIGKILL instance 1 while the sync runs: early (while the CLI
    // starts and pulls), right after its first write landed, and a third of the way through its
    // writes.
    let per_round = 40;
    let mut expected = Vec::new();
    let kills = [
        Kill::AfterMs(100),
        Kill::AfterWrites(1),
        Kill::AfterWrites(per_round / 3),
    ];
    for (round, kill) in kills.into_iter().enumerate() {
        inst1.kill();
        inst2.kill();
        for i in 0..per_round {
            let title = format!("Round {round} item {i:02}");
            a.add(&["--title", &title, "--password", &format!("pw-{round}-{i}")]);
            expected.push(title);
        }
        let st = a.json(&["sync", "--status"]);
        assert_eq!(st["offline"], per_round, "{st}");
        assert_eq!(st["server_reachable"], false);
        inst1.restart();
        inst2.restart();

        let before = server_items(&db);
        let t = Instant::now();
        let mut sync = ChildGuard(Some(
            a.cmd(&["sync", "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ));
        match kill {
            Kill::AfterMs(ms) => std::thread::sleep(Duration::from_millis(ms)),
            Kill::AfterWrites(n) => wait_until(
                "the sync writes through instance 1",
                Duration::from_secs(20),
                Duration::from_millis(2),
                || server_items(&db) >= before + n,
            ),
        }
        let running = sync.0.as_mut().unwrap().try_wait().unwrap().is_none();
        inst1.kill();
        let killed_after = t.elapsed();
        let landed = server_items(&db) - before;
        eprintln!(
            "round {round} ({kill:?}): instance 1 killed {killed_after:?} after the sync \
             started, {landed} of {per_round} items written through it"
        );
        assert!(running, "round {round}: the sync ended before the kill");
        if let Kill::AfterWrites(_) = kill {
            assert!(
                landed < per_round,
                "round {round}: the kill came after the last write ({landed} written)"
            );
        }
        let out = sync.0.take().unwrap().wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "round {round}: the sync did not fail over to instance 2 ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        eprintln!(
            "round {round}: the sync finished through instance 2 {:?} after it started: {report}",
            t.elapsed()
        );
        assert_eq!(report["offline"], false, "{report}");
        assert_eq!(report["pending"], 0, "{report}");
        let st = a.json(&["sync", "--status"]);
        assert_eq!(st["pending"], 0, "round {round}: {st}");
        assert_eq!(st["offline"], 0, "round {round}: {st}");
        assert_eq!(
            st["server_reachable"], true,
            "instance 2 answers for the deployment: {st}"
        );
        assert_eq!(server_items(&db), expected.len() as u64, "round {round}");
        assert!(!inst1.is_running());
        inst1.restart();
    }

    // A second device that only knows instance 2 sees every item exactly once.
    inst1.kill();
    let c = Device::login_at(&inst2.url, EMAIL, &sk);
    c.ok(&["sync"]);
    let list = c.json(&["item", "list"]);
    expected.sort();
    assert_eq!(sorted_titles(&list), expected, "every item exactly once");
    assert_eq!(a.json(&["item", "list"]), list, "both devices agree");
    assert_eq!(server_items(&db), expected.len() as u64);
    for item in list.as_array().unwrap().iter().step_by(7) {
        let title = item["title"].as_str().unwrap();
        let round = &title["Round ".len().."Round ".len() + 1];
        let i: u32 = title.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(
            c.json(&["item", "get", item["id"].as_str().unwrap()])["password"],
            format!("pw-{round}-{i}")
        );
    }
}

#[test]
fn items_written_through_one_instance_read_back_identically_through_the_other() {
    let db = PgDatabase::create();
    let inst1 = DbServer::start(&db.url);
    let inst2 = DbServer::start(&db.url);

    let mut a = Device::new();
    let sk = a.register_at(&inst1.url, EMAIL);
    let mut ids = vec![
        a.add(&[
            "--title",
            "Router",
            "--username",
            "admin",
            "--password",
            "base-pass",
            "--url",
            "https://router.lan",
            "--tag",
            "network",
            "--favorite",
        ]),
        a.add(&[
            "--title",
            "Mail",
            "--folder",
            "Work/Accounts",
            "--username",
            "me@example.com",
            "--password",
            "mail-pass",
            "--totp",
            "JBSWY3DPEHPK3PXP",
            "--notes",
            "two-factor on",
        ]),
        a.add(&[
            "--profile",
            "business",
            "--type",
            "secure_note",
            "--title",
            "Door code",
            "--notes",
            "4711",
        ]),
    ];
    a.ok(&["item", "edit", &ids[0], "--password", "second-pass"]);

    // Another device, logged in through the other instance.
    let b = Device::login_at(&inst2.url, EMAIL, &sk);
    b.ok(&["sync"]);
    let list_a = a.json(&["item", "list"]);
    let list_b = b.json(&["item", "list"]);
    assert_eq!(list_a.as_array().unwrap().len(), 3, "{list_a}");
    assert_eq!(list_a, list_b, "item list --json is identical");
    assert_eq!(a.json(&["folder", "list"]), b.json(&["folder", "list"]));
    for id in &ids {
        assert_eq!(
            a.json(&["item", "get", id]),
            b.json(&["item", "get", id]),
            "item {id}"
        );
        assert_eq!(
            a.json(&["item", "history", id]),
            b.json(&["item", "history", id])
        );
    }
    assert_eq!(b.json(&["item", "get", &ids[0]])["password"], "second-pass");
    assert_eq!(
        b.json(&["item", "history", &ids[0]])[0]["password"],
        "base-pass"
    );

    // And back: B writes through instance 2, A reads through instance 1.
    ids.push(b.add(&["--title", "From B", "--password", "b-pass"]));
    b.ok(&["item", "edit", &ids[1], "--username", "me2@example.com"]);
    a.ok(&["sync"]);
    assert_eq!(a.json(&["item", "list"]), b.json(&["item", "list"]));
    for id in &ids {
        assert_eq!(a.json(&["item", "get", id]), b.json(&["item", "get", id]));
    }
    assert_eq!(
        a.json(&["item", "get", &ids[1]])["username"],
        "me2@example.com"
    );
    for d in [&a, &b] {
        let st = d.json(&["sync", "--status"]);
        assert_eq!(st["synced"], 4, "{st}");
        assert_eq!(st["pending"], 0, "{st}");
    }
}
