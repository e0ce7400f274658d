//! Bad input: malformed JSON, oversized bodies, invalid UTF-8, bad ids, unknown item types and
//! a corrupted client state get clear errors, no panic, and lose nothing.

mod common;

use common::*;
use serde_json::Value;

fn error_code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not a JSON error body: {}", String::from_utf8_lossy(body)));
    v["error"]["code"].as_str().expect("error.code").to_string()
}

#[test]
fn the_server_answers_bad_requests_with_stable_json_errors_and_keeps_serving() {
    let server = Server::start();
    let json = [("Content-Type", "application/json")];

    let (status, body) = http(
        &server.addr,
        "POST",
        "/api/v1/auth/login/start",
        Some(b"{not json"),
        &json,
    )
    .unwrap();
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "invalid_request");

    let (status, body) = http(
        &server.addr,
        "POST",
        "/api/v1/auth/login/start",
        Some(b"{\"email\": 5}"),
        &json,
    )
    .unwrap();
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "invalid_request");

    let invalid_utf8 = b"{\"email\": \"\xff\xfe@x.com\", \"credential_request\": \"AA\"}";
    let (status, body) = http(
        &server.addr,
        "POST",
        "/api/v1/auth/login/start",
        Some(invalid_utf8),
        &json,
    )
    .unwrap();
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "invalid_request");

    let big = vec![b'a'; 3 * 1024 * 1024];
    let (status, body) = http(
        &server.addr,
        "POST",
        "/api/v1/auth/login/start",
        Some(&big),
        &json,
    )
    .unwrap();
    assert_eq!(status, 413);
    assert_eq!(error_code(&body), "payload_too_large");

    let (status, body) = http(
        &server.addr,
        "POST",
        "/api/v1/auth/login/start",
        Some(b"{}"),
        &[],
    )
    .unwrap();
    assert_eq!(status, 400, "missing content type");
    assert_eq!(error_code(&body), "invalid_request");

    let (status, body) = http(
        &server.addr,
        "GET",
        "/api/v1/objects/not-a-uuid",
        None,
        &[("Authorization", "Bearer x")],
    )
    .unwrap();
    assert!(status == 400 || status == 401, "{status}");
    assert!(!error_code(&body).is_empty());

    let (status, body) = http(&server.addr, "GET", "/api/v1/objects", None, &[]).unwrap();
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "unauthorized");

    let (status, body) = http(&server.addr, "GET", "/api/v1/no-such-thing", None, &[]).unwrap();
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "not_found");

    let (status, body) =
        http(&server.addr, "POST", "/api/v1/accounts/register/start", Some(br#"{"email":"not-an-email","user_id":"00000000-0000-0000-0000-000000000001","registration_request":"AA"}"#), &json).unwrap();
    assert_eq!(status, 422);
    assert_eq!(error_code(&body), "invalid_value");

    // The OpenAPI document is served and describes the API.
    let (status, body) = http(&server.addr, "GET", "/api/v1/openapi.json", None, &[]).unwrap();
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert!(doc["paths"]["/api/v1/objects/{id}"]["put"].is_object());
    assert!(doc["paths"]["/api/v1/auth/login/start"]["post"].is_object());

    // Still serving after all that.
    let (status, _) = http(&server.addr, "GET", "/api/v1/health", None, &[]).unwrap();
    assert_eq!(status, 200);
}

#[test]
fn a_corrupted_client_state_is_reported_and_left_untouched() {
    let server = Server::start();
    let mut a = Device::new();
    a.register(&server, "erin@example.com");
    a.add(&["--title", "Keep me", "--password", "p"]);
    let device = a.home.path().join("device.json");
    let original = std::fs::read(&device).unwrap();

    std::fs::write(&device, b"{ this is not json").unwrap();
    let (code, msg) = a.fails(&["item", "list"]);
    assert_eq!(code, 1);
    assert!(msg.contains("corrupted"), "{msg}");
    assert_eq!(
        std::fs::read(&device).unwrap(),
        b"{ this is not json",
        "the broken file is not overwritten"
    );

    // Truncated binary garbage too.
    std::fs::write(&device, &original[..original.len() / 2]).unwrap();
    let (_, msg) = a.fails(&["status"]);
    assert!(msg.contains("corrupted"), "{msg}");

    // Restoring the file restores the device: nothing was lost on the server.
    std::fs::write(&device, &original).unwrap();
    let list = a.json(&["item", "list"]);
    assert_eq!(list[0]["title"], "Keep me");

    // A corrupted offline cache is reported and left as it is; moved away, the device rebuilds
    // it from the server.
    let cache = a.home.path().join("cache.sqlite3");
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(a.home.path().join(format!("cache.sqlite3{ext}")));
    }
    std::fs::write(
        &cache,
        b"this is not a database, it is garbage of some length......",
    )
    .unwrap();
    let (code, msg) = a.fails(&["item", "list"]);
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains("corrupted"), "{msg}");
    assert!(
        std::fs::read(&cache)
            .unwrap()
            .starts_with(b"this is not a database"),
        "left untouched"
    );
    std::fs::rename(&cache, a.home.path().join("cache.broken")).unwrap();
    assert_eq!(a.json(&["item", "list"])[0]["title"], "Keep me");

    // A tampered local key wrap cannot be opened and is reported, not silently replaced.
    let mut state: Value = serde_json::from_slice(&original).unwrap();
    state["local_wrap"] = Value::String("AAAA".into());
    std::fs::write(&device, serde_json::to_vec(&state).unwrap()).unwrap();
    let (code, msg) = a.fails(&["item", "list"]);
    assert_eq!(code, 4, "{msg}");
    assert!(msg.contains("wrong master password"), "{msg}");
}

#[test]
fn cli_usage_errors_are_clear_and_every_command_has_help() {
    let a = Device::new();
    let (code, msg) = a.fails(&["item", "list"]);
    assert_eq!(code, 3);
    assert!(msg.contains("not logged in"), "{msg}");
    let (code, msg) = a.fails(&["item", "add"]);
    assert_eq!(code, 2, "missing --title is a usage error");
    assert!(msg.contains("--title"), "{msg}");
    let (code, msg) = a.fails(&["item", "list", "--profile", "nonsense", "--json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(msg.trim()).expect("JSON error with --json");
    assert_eq!(v["error"]["code"], "usage");
    for cmd in [
        vec!["--help"],
        vec!["server", "--help"],
        vec!["register", "--help"],
        vec!["login", "--help"],
        vec!["item", "add", "--help"],
        vec!["item", "list", "--help"],
        vec!["item", "get", "--help"],
        vec!["item", "edit", "--help"],
        vec!["item", "rm", "--help"],
        vec!["item", "history", "--help"],
        vec!["folder", "add", "--help"],
        vec!["folder", "rm", "--help"],
        vec!["generate", "--help"],
        vec!["totp", "--help"],
        vec!["status", "--help"],
        vec!["lock", "--help"],
        vec!["unlock", "--help"],
        vec!["logout", "--help"],
        vec!["trash", "--help"],
        vec!["sessions", "--help"],
        vec!["change-password", "--help"],
    ] {
        let out = a.run(&cmd);
        assert!(out.status.success(), "{cmd:?} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{cmd:?}"
        );
    }
    let (_, msg) = a.fails(&["register", "--server", "ftp://x", "--email", "a@b.c"]);
    assert!(msg.contains("http://"), "{msg}");
    let (code, msg) = a.fails(&[
        "register",
        "--server",
        &format!("http://127.0.0.1:{}", free_port()),
        "--email",
        "a@b.example",
    ]);
    assert_eq!(code, 7, "{msg}");
    assert!(msg.contains("cannot reach the server"), "{msg}");
}

#[test]
fn the_server_reads_a_config_file_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("castellan.toml");
    std::fs::write(
        &cfg,
        format!(
            "bind = \"127.0.0.1:{port}\"\ndata_dir = {:?}\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(bin())
        .args(["server", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..200 {
        if http(&addr, "GET", "/api/v1/health", None, &[]).is_some_and(|(s, _)| s == 200) {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "the server listens where the config file says");
    assert!(dir.path().join("data").join("castellan.sqlite3").exists());

    std::fs::write(&cfg, "bnd = \"127.0.0.1:1\"\n").unwrap();
    let out = std::process::Command::new(bin())
        .args(["server", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("bnd"), "{err}");
}
