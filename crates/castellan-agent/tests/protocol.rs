//! The wire protocol, on real sockets in a temporary home, without a server.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use castellan_agent::protocol::Secret;
use castellan_agent::{
    AgentClient, AgentError, AgentPaths, AgentStatus, ErrorCode, Request, Response,
    PROTOCOL_VERSION,
};
use common::*;
use serde_json::{json, Value};

#[test]
fn requests_and_responses_round_trip() {
    let cases = [
        (
            Request::Hello { version: 1 },
            json!({"op": "hello", "version": 1}),
        ),
        (
            Request::Unlock {
                password: Secret::new("pw"),
            },
            json!({"op": "unlock", "password": "pw"}),
        ),
        (Request::Keys, json!({"op": "keys"})),
        (Request::Sync, json!({"op": "sync"})),
        (Request::Status, json!({"op": "status"})),
        (Request::Lock, json!({"op": "lock"})),
        (Request::Stop, json!({"op": "stop"})),
    ];
    for (request, wire) in cases {
        assert_eq!(serde_json::to_value(&request).unwrap(), wire);
        let back: Request = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), wire);
    }

    assert_eq!(
        serde_json::to_value(Response::ok()).unwrap(),
        json!({"ok": true})
    );
    let err = Response::error(ErrorCode::WrongPassword, "wrong master password");
    assert_eq!(
        serde_json::to_value(&err).unwrap(),
        json!({"ok": false, "error": "wrong master password", "code": "wrong_password"})
    );
    assert!(matches!(err.into_result(), Err(AgentError::WrongPassword)));

    let status = AgentStatus {
        unlocked: true,
        pid: 42,
        interval_secs: 300,
        lock_after_secs: 900,
        push: true,
        push_connected: false,
        last_sync_at: Some(1_700_000_000),
        last_sync: Some(json!({"pulled": 1, "pushed": 0, "conflicts": 0, "offline": false})),
        last_error: None,
        syncs: 3,
    };
    let resp = Response {
        status: Some(status.clone()),
        ..Response::ok()
    };
    let wire = serde_json::to_value(&resp).unwrap();
    assert_eq!(wire["ok"], json!(true));
    assert_eq!(wire["pid"], json!(42));
    assert_eq!(wire["last_error"], Value::Null);
    let back: Response = serde_json::from_value(wire).unwrap();
    assert_eq!(back.status, Some(status));

    let keys: Response = serde_json::from_value(json!({"ok": true, "ak": "AAAA"})).unwrap();
    assert_eq!(keys.ak.unwrap().expose(), "AAAA");
    assert!(keys.status.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lines_get_bad_request_and_the_connection_stays_usable() {
    let h = empty_home();
    let agent = TestAgent::start(config(&h.home)).await;
    let mut raw = Raw::connect(&h.home).await;

    let long = format!(
        "{{\"op\":\"status\",\"x\":\"{}\"}}\n",
        "a".repeat(70 * 1024)
    );
    let bad: [&[u8]; 7] = [
        b"not json\n",
        b"{\"op\":\"nope\"}\n",
        b"{\"op\":\"hello\"}\n",
        b"\xff\xfe\n",
        b"\n",
        b"[1,2,3]\n",
        long.as_bytes(),
    ];
    for line in bad {
        let v = raw.send(line).await;
        assert_eq!(v["ok"], json!(false), "{v}");
        assert_eq!(v["code"], json!("bad_request"), "{v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let v = raw.send(b"{\"op\":\"hello\",\"version\":99}\n").await;
    assert_eq!(v["code"], json!("bad_request"));
    assert_eq!(v["version"], json!(PROTOCOL_VERSION));

    // Still usable, including two requests in one write.
    let v = raw
        .send(b"{\"op\":\"hello\",\"version\":1}\n{\"op\":\"status\"}\r\n")
        .await;
    assert_eq!(v, json!({"ok": true, "version": 1}));
    // The second answer is already on its way: send nothing, read it.
    let v = raw.send(b"").await;
    assert_eq!(v["ok"], json!(true));
    assert_eq!(v["unlocked"], json!(false));
    assert_eq!(v["pid"], json!(std::process::id()));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_agent_refuses_keys_and_sync() {
    let h = empty_home();
    let agent = TestAgent::start(config(&h.home)).await;
    let mut c = client(&h.home).await;
    assert!(c.keys().await.unwrap().is_none());
    let r = c.request(Request::Keys).await.unwrap();
    assert!(!r.ok);
    assert_eq!(r.code, Some(ErrorCode::Locked));
    assert!(matches!(c.sync().await, Err(AgentError::Locked)));
    // No account on this device: the unlock fails with a plain error.
    let r = c
        .request(Request::Unlock {
            password: Secret::new("whatever"),
        })
        .await
        .unwrap();
    assert_eq!(r.code, Some(ErrorCode::Error));
    assert!(r.error.unwrap().contains("not logged in"));
    let s = c.status().await.unwrap();
    assert!(!s.unlocked);
    assert_eq!(s.interval_secs, 300);
    assert_eq!(s.lock_after_secs, 900);
    assert!(!s.push);
    assert_eq!(s.syncs, 0);
    c.lock().await.unwrap();
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_directory_socket_and_pid_file() {
    let h = empty_home();
    let paths = AgentPaths::for_home(&h.home);
    // A pre-existing directory with loose permissions is tightened.
    std::fs::create_dir_all(&paths.dir).unwrap();
    std::fs::set_permissions(&paths.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let agent = TestAgent::start(config(&h.home)).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&paths.dir), 0o700);
    assert_eq!(mode(&paths.socket), 0o600);
    assert_eq!(mode(&paths.pid), 0o600);
    assert_eq!(
        std::fs::read_to_string(&paths.pid).unwrap().trim(),
        std::process::id().to_string()
    );
    // A client refuses an agent directory that another user could write into.
    std::fs::set_permissions(&paths.dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(AgentClient::connect(&h.home).await.is_none());
    std::fs::set_permissions(&paths.dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(AgentClient::connect(&h.home).await.is_some());
    agent.shutdown().await;
    assert!(!paths.socket.exists());
    assert!(!paths.pid.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_agent_fails_and_stale_socket_is_replaced() {
    let h = empty_home();
    let paths = AgentPaths::for_home(&h.home);
    paths.ensure_dir().unwrap();
    // A stale socket: bound once, nobody listening now.
    drop(std::os::unix::net::UnixListener::bind(&paths.socket).unwrap());
    assert!(paths.socket.exists());
    assert!(AgentClient::connect(&h.home).await.is_none());

    let first = TestAgent::start(config(&h.home)).await;
    let err = castellan_agent::run_agent_until(config(&h.home), std::future::pending())
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::AlreadyRunning { .. }), "{err}");
    assert!(err.to_string().contains("an agent is already running"));
    // The first agent is untouched.
    let mut c = client(&h.home).await;
    assert!(!c.status().await.unwrap().unlocked);

    // Stop through the protocol: socket and pid file gone, connect finds nothing.
    c.stop().await.unwrap();
    assert!(!paths.socket.exists());
    assert!(!paths.pid.exists());
    assert!(AgentClient::connect(&h.home).await.is_none());
    tokio::time::timeout(Duration::from_secs(5), first.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_detached_runs_the_agent_command_with_the_log_file() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let out = tmp.path().join("out.txt");
    let exe = tmp.path().join("fake-castellan");
    std::fs::write(
        &exe,
        format!(
            "#!/bin/sh\necho \"args=$*\" > {out}\necho \"home=$CASTELLAN_HOME\" >> {out}\necho \"pgid=$(ps -o pgid= $$ | tr -d ' ') pid=$$\" >> {out}\necho to-the-log\necho err-to-the-log >&2\n",
            out = out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let args = vec!["--interval".to_string(), "60".to_string()];
    let pid = castellan_agent::spawn_detached(&exe, &home, &args).unwrap();
    let paths = AgentPaths::new(&home);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&paths.log).unwrap_or_default();
        if log.contains("err-to-the-log") && out.exists() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child did not run"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("args=agent run --interval 60"), "{text}");
    assert!(text.contains(&format!("home={}", home.display())), "{text}");
    // Its own process group: the group id is its pid (checked when `ps` is available).
    let line = text.lines().find(|l| l.starts_with("pgid=")).unwrap();
    if !line.starts_with("pgid= ") {
        assert_eq!(line, format!("pgid={pid} pid={pid}"));
    }
    let mode = std::fs::metadata(&paths.log).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);
}

const PEER_SOCKET_ENV: &str = "CASTELLAN_AGENT_TEST_PEER_SOCKET";

/// Run by `refuses_connections_from_other_users` as another uid; a no-op otherwise.
#[test]
fn peer_helper_connect_as_other_user() {
    use std::io::{BufRead, Write};
    let Ok(socket) = std::env::var(PEER_SOCKET_ENV) else {
        return;
    };
    let mut s = std::os::unix::net::UnixStream::connect(socket).expect("connect");
    let mut r = std::io::BufReader::new(s.try_clone().unwrap());
    // The agent may already have answered and closed: a failed write is fine.
    let _ = s.write_all(b"{\"op\":\"keys\"}\n");
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    println!("PEER-ANSWER {}", line.trim());
    let mut rest = String::new();
    let n = r.read_line(&mut rest).unwrap_or(0);
    println!("PEER-AFTER {n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_connections_from_other_users() {
    use std::os::unix::fs::MetadataExt;
    let h = empty_home();
    let root = std::fs::metadata(h.dir.path()).unwrap().uid() == 0;
    let setpriv = std::path::Path::new("/usr/bin/setpriv");
    if !root || !setpriv.exists() {
        eprintln!("skipped: needs to run as root with /usr/bin/setpriv to act as another user");
        return;
    }
    let agent = TestAgent::start(config(&h.home)).await;
    let paths = AgentPaths::for_home(&h.home);
    // Open the way to the socket for everyone: only the peer check is left to refuse.
    for dir in [h.dir.path(), h.home.dir(), &paths.dir] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let exe = std::env::current_exe().unwrap();
    let socket = paths.socket.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(exe)
            .args([
                "--exact",
                "peer_helper_connect_as_other_user",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(PEER_SOCKET_ENV, socket)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r#"PEER-ANSWER {"ok":false,"error":"permission denied","code":"error"}"#),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PEER-AFTER 0"), "{stdout}");
    // We are still served (once the directory is private again: the client checks it).
    std::fs::set_permissions(&paths.dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut c = client(&h.home).await;
    assert!(c.keys().await.unwrap().is_none());
    agent.shutdown().await;
}
