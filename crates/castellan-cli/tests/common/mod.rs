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

// ---- PostgreSQL: a fresh database per test, and server instances that share it ----

/// The PostgreSQL server the tests use: `CASTELLAN_TEST_PG_URL`, by default the local one.
pub const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn test_pg_url() -> String {
    std::env::var("CASTELLAN_TEST_PG_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_PG_URL.to_string())
}

/// `url` with its database (the path) replaced by `database`; query parameters are kept.
pub fn pg_url_with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path = base[authority..]
        .find('/')
        .map(|i| authority + i)
        .unwrap_or(base.len());
    match query {
        Some(q) => format!("{}/{database}?{q}", &base[..path]),
        None => format!("{}/{database}", &base[..path]),
    }
}

/// Runs one SQL command with the `psql` binary; returns its unaligned, tuples-only output.
pub fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `psql` (is the PostgreSQL client installed?): {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// A fresh database `castellan_test_<uuid>` on the server of [`test_pg_url`], dropped
/// (`WITH (FORCE)`, so open connections do not keep it) when this value is dropped. Panics with
/// a clear message when PostgreSQL is unreachable: these tests fail rather than skip.
pub struct PgDatabase {
    pub name: String,
    /// The URL of the new database.
    pub url: String,
    admin_url: String,
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        let admin_url = test_pg_url();
        let name = format!("castellan_test_{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = psql(&admin_url, &format!("CREATE DATABASE {name}")) {
            panic!(
                "PostgreSQL tests need a reachable server: cannot create a database through \
                 {admin_url} (set CASTELLAN_TEST_PG_URL to a postgres:// URL of a user allowed \
                 to create databases): {e}"
            );
        }
        PgDatabase {
            url: pg_url_with_database(&admin_url, &name),
            name,
            admin_url,
        }
    }

    /// One SQL command on this database (panics on error).
    pub fn query(&self, sql: &str) -> String {
        psql(&self.url, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = psql(&self.admin_url, &sql) {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// A `castellan server --database-url URL` process: one instance of a deployment whose
/// instances share one database. Its stderr goes to `server.log` in its (otherwise unused)
/// data directory, and is shown when it fails to start.
pub struct DbServer {
    child: Option<Child>,
    pub url: String,
    pub addr: String,
    pub database_url: String,
    pub data: tempfile::TempDir,
}

impl DbServer {
    /// Starts an instance on a free loopback port with a temporary data directory.
    pub fn start(database_url: &str) -> DbServer {
        let addr = format!("127.0.0.1:{}", free_port());
        Self::start_at(tempfile::tempdir().unwrap(), &addr, database_url)
    }

    /// Starts an instance on `addr` with `data` as its data directory.
    pub fn start_at(data: tempfile::TempDir, addr: &str, database_url: &str) -> DbServer {
        let mut s = DbServer {
            child: None,
            url: format!("http://{addr}"),
            addr: addr.to_string(),
            database_url: database_url.to_string(),
            data,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("server log file");
        let child = Command::new(bin())
            .args(["server", "--data-dir"])
            .arg(self.data.path())
            .args(["--bind", &self.addr, "--database-url", &self.database_url])
            .env("CASTELLAN_LOG", "warn")
            .env_remove("CASTELLAN_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn server");
        self.child = Some(child);
        self.wait_healthy();
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "server on {} (database {}) exited with {status} before it was healthy: {}",
                    self.addr,
                    self.database_url,
                    self.log()
                );
            }
            if let Some((200, _)) = http(&self.addr, "GET", "/api/v1/health", None, &[]) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "server on {} did not become healthy: {}",
            self.addr,
            self.log()
        );
    }

    pub fn log_path(&self) -> PathBuf {
        self.data.path().join("server.log")
    }

    /// What the server wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Kills the instance with SIGKILL (no graceful shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the instance again on the same address and database.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for DbServer {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Device {
    /// `register` against a server setting given as a string (one URL or several, comma
    /// separated); returns the Secret Key.
    pub fn register_at(&mut self, server: &str, email: &str) -> String {
        let v = self.json(&["register", "--server", server, "--email", email]);
        let sk = v["secret_key"].as_str().expect("secret_key").to_string();
        self.secret_key = Some(sk.clone());
        sk
    }

    /// A new device logged in to the account `email` (Secret Key `secret_key`) through
    /// `server` (one URL or several, comma separated).
    pub fn login_at(server: &str, email: &str, secret_key: &str) -> Device {
        let mut d = Device::new();
        d.secret_key = Some(secret_key.to_string());
        d.ok(&["login", "--server", server, "--email", email]);
        d
    }
}

/// A server started with a config file, whose stdout is read for the one-time setup token.
pub struct OrgServer {
    child: Child,
    pub url: String,
    pub addr: String,
    pub data: tempfile::TempDir,
    pub setup_token: String,
}

impl OrgServer {
    /// Starts `castellan server --config FILE` with `extra_config` (TOML lines) added, and
    /// reads `Setup token: T` from its stdout.
    pub fn start(extra_config: &str) -> OrgServer {
        use std::io::BufRead;
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = data.path().join("castellan.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\nbind = {:?}\n{extra_config}\n",
                data.path().join("data"),
                addr
            ),
        )
        .unwrap();
        let mut child = Command::new(bin())
            .args(["server", "--config"])
            .arg(&config)
            .env("CASTELLAN_LOG", "warn")
            .env_remove("CASTELLAN_DATA_DIR")
            .env_remove("CASTELLAN_BIND")
            .env_remove("CASTELLAN_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(t) = line.strip_prefix("Setup token: ") {
                    let _ = tx.send(t.trim().to_string());
                }
            }
        });
        let setup_token = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server prints a setup token on first start");
        let s = OrgServer {
            child,
            url: format!("http://{addr}"),
            addr,
            data,
            setup_token,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some((200, _)) = http(&s.addr, "GET", "/api/v1/health", None, &[]) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not become healthy");
    }
}

impl Drop for OrgServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal SMTP receiver on 127.0.0.1 that really speaks SMTP (EHLO/HELO, MAIL, RCPT, DATA,
/// RSET, NOOP, QUIT) and keeps every message it receives.
pub struct SmtpSink {
    pub addr: String,
    messages: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = messages.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let store = store.clone();
                std::thread::spawn(move || {
                    let _ = smtp_session(stream, &store);
                });
            }
        });
        SmtpSink { addr, messages }
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for a message containing `needle`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self.messages().into_iter().find(|m| m.contains(needle)) {
                return Some(m);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn smtp_session(stream: TcpStream, store: &std::sync::Mutex<Vec<String>>) -> std::io::Result<()> {
    use std::io::BufRead;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = stream.try_clone()?;
    let mut r = std::io::BufReader::new(stream);
    w.write_all(b"220 sink ESMTP test sink\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd.starts_with("EHLO") {
            w.write_all(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if cmd.starts_with("HELO") {
            w.write_all(b"250 sink\r\n")?;
        } else if cmd.starts_with("MAIL")
            || cmd.starts_with("RCPT")
            || cmd.starts_with("RSET")
            || cmd.starts_with("NOOP")
        {
            w.write_all(b"250 OK\r\n")?;
        } else if cmd == "DATA" {
            w.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
            let mut msg = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                // Undo dot-stuffing.
                let l = line.strip_prefix('.').unwrap_or(&line);
                msg.push_str(l);
            }
            store.lock().unwrap().push(msg);
            w.write_all(b"250 OK queued\r\n")?;
        } else if cmd == "QUIT" {
            w.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            w.write_all(b"502 not implemented\r\n")?;
        }
    }
}

/// Undoes quoted-printable soft line breaks and `=3D`, so a link split by the mailer can be
/// found in a received message.
pub fn unfold_qp(msg: &str) -> String {
    msg.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// A company for sharing and organisation tests: a partner admin who ran setup and members
/// who registered through invitations and were confirmed.
pub struct Company {
    pub name: String,
    pub admin: Device,
    pub members: Vec<(String, Device)>,
}

impl Company {
    /// Sets up the partner `name` with `admin_email` as its admin, then invites, registers and
    /// confirms each of `member_emails` (role user).
    pub fn setup(
        server: &OrgServer,
        name: &str,
        admin_email: &str,
        member_emails: &[&str],
    ) -> Company {
        let mut admin = Device::new();
        admin.register_at(&server.url, admin_email);
        admin.json(&[
            "admin",
            "setup",
            "--token",
            &server.setup_token,
            "--name",
            name,
        ]);
        let mut members = Vec::new();
        for email in member_emails {
            let inv = admin.json(&[
                "admin",
                "user",
                "invite",
                email,
                "--role",
                "user",
                "--company",
                name,
            ]);
            let link = inv["link"].as_str().expect("invitation link").to_string();
            let mut d = Device::new();
            let j = d.json(&["register", "--invite", &link, "--server", &server.url]);
            d.secret_key = Some(j["secret_key"].as_str().expect("secret_key").to_string());
            admin.json(&[
                "admin",
                "user",
                "confirm",
                email,
                "--company",
                name,
                "--yes",
            ]);
            members.push((email.to_string(), d));
        }
        Company {
            name: name.to_string(),
            admin,
            members,
        }
    }

    pub fn member(&self, email: &str) -> &Device {
        &self
            .members
            .iter()
            .find(|(e, _)| e == email)
            .unwrap_or_else(|| panic!("no member {email}"))
            .1
    }
}
