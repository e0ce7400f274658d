//! Test harness: the real `castellan` binary as server and as clients, each client with its own
//! CASTELLAN_HOME (a separate device).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "correct horse battery staple 42";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_castellan")
}

pub struct Server {
    child: Child,
    pub url: String,
    pub addr: String,
    pub data: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let data = tempfile::tempdir().unwrap();
        Self::start_in(data)
    }

    pub fn start_in(data: tempfile::TempDir) -> Server {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = spawn_server(data.path(), &addr);
        let s = Server {
            child,
            url: format!("http://{addr}"),
            addr,
            data,
        };
        s.wait_healthy();
        s
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some((status, _)) = http(&self.addr, "GET", "/api/v1/health", None, &[]) {
                if status == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not become healthy");
    }

    /// Kills the server with SIGKILL (no graceful shutdown).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same address and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn_server(self.data.path(), &self.addr);
        self.wait_healthy();
    }

    pub fn db_path(&self) -> PathBuf {
        self.data.path().join("castellan.sqlite3")
    }

    /// Stops the server and returns its data directory.
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.data, data)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server(data: &Path, addr: &str) -> Child {
    Command::new(bin())
        .args(["server", "--data-dir"])
        .arg(data)
        .args(["--bind", addr])
        .env("CASTELLAN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 client, so tests can send exactly the bytes they want.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    if let Some(b) = body {
        let _ = s.write_all(b);
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let status: u16 = text.split_whitespace().nth(1)?.parse().ok()?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..split]).to_lowercase();
    let mut body = buf[split..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Some((status, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        let start = eol + 2;
        if b.len() < start + n {
            return out;
        }
        out.extend_from_slice(&b[start..start + n]);
        b = &b[(start + n + 2).min(b.len())..];
    }
}

pub struct Device {
    pub home: tempfile::TempDir,
    pub password: String,
    pub secret_key: Option<String>,
}

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}

impl Device {
    pub fn new() -> Device {
        Device {
            home: tempfile::tempdir().unwrap(),
            password: PASSWORD.to_string(),
            secret_key: None,
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env("CASTELLAN_HOME", self.home.path())
            .env("CASTELLAN_PASSWORD", &self.password)
            .env_remove("CASTELLAN_SECRET_KEY")
            .env_remove("CASTELLAN_SERVER")
            .stdin(Stdio::null());
        if let Some(sk) = &self.secret_key {
            c.env("CASTELLAN_SECRET_KEY", sk);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run castellan")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "castellan {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.ok(&a);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("castellan {args:?}: not JSON ({e}): {out}"))
    }

    /// Runs and asserts failure; returns (exit code, stderr).
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "castellan {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            err.trim().lines().count(),
            1,
            "expected a one-line error, got: {err}"
        );
        (out.status.code().unwrap_or(-1), err)
    }

    pub fn register(&mut self, server: &Server, email: &str) -> String {
        let v = self.json(&["register", "--server", &server.url, "--email", email]);
        let sk = v["secret_key"].as_str().expect("secret_key").to_string();
        self.secret_key = Some(sk.clone());
        sk
    }

    pub fn add(&self, args: &[&str]) -> String {
        let mut a = vec!["item", "add"];
        a.extend_from_slice(args);
        let v = self.json(&a);
        v["id"].as_str().expect("id").to_string()
    }
}

pub fn file_contains(path: &Path, needle: &[u8]) -> bool {
    match std::fs::read(path) {
        Ok(bytes) => bytes.windows(needle.len()).any(|w| w == needle),
        Err(_) => false,
    }
}

/// Registers `email` on a first device and logs a second device in to the same account.
pub fn two_devices(server: &Server, email: &str) -> (Device, Device) {
    let mut a = Device::new();
    let sk = a.register(server, email);
    let mut b = Device::new();
    b.secret_key = Some(sk);
    b.ok(&["login", "--server", &server.url, "--email", email]);
    (a, b)
}
