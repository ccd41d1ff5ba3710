//! What the cluster tests share: real processes on free loopback ports, each killed
//! when dropped: `nats-server` with file storage, `moto_server` (S3), `conveyor-worker`
//! and `upload-server`; a blocking HTTP client; the test images.
//!
//! `nats-server` and `moto_server` are found on PATH or in `target/cluster-venv/bin/`
//! (made by `scripts/install-cluster-tools.sh`); a missing one fails the test with
//! that fix. `upload-server` is the workspace's debug binary, next to
//! `conveyor-worker`.
#![allow(missing_docs, dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A tool on PATH or in target/cluster-venv/bin, or a failure naming the fix.
pub fn tool(name: &str) -> PathBuf {
    let venv = root().join("target/cluster-venv/bin").join(name);
    if venv.is_file() {
        return venv;
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!("{name} not found on PATH or in target/cluster-venv/bin: run scripts/install-cluster-tools.sh");
}

/// The upload server's debug binary, next to this package's worker binary.
pub fn upload_server_bin() -> PathBuf {
    let worker = PathBuf::from(env!("CARGO_BIN_EXE_conveyor-worker"));
    let p = worker.with_file_name("upload-server");
    assert!(
        p.is_file(),
        "{} is missing: build it first (cargo build -p conveyor-upload-server)",
        p.display()
    );
    p
}

/// A free loopback port (bound once, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16, limit: Duration) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < limit,
            "nothing listens on port {port} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process, killed (SIGKILL) when dropped; its stderr kept for failures.
pub struct Proc {
    pub child: Child,
    pub name: String,
    pub log: Arc<Mutex<String>>,
    pub ready: Option<String>,
}

impl Proc {
    /// Starts `cmd`; when `ready` is given, waits up to 30 s for a stdout line that
    /// contains it (returned in `ready`).
    pub fn spawn(name: &str, mut cmd: Command, ready: Option<&str>) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let l = log.clone();
        let tag = name.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if std::env::var_os("CLUSTER_TEST_LOG").is_some() {
                    eprintln!("[{tag}] {line}");
                }
                let mut g = l.lock().unwrap();
                g.push_str(&line);
                g.push('\n');
            }
        });
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut p = Proc {
            child,
            name: name.to_owned(),
            log,
            ready: None,
        };
        if let Some(needle) = ready {
            let start = Instant::now();
            loop {
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(line) if line.contains(needle) => {
                        p.ready = Some(line);
                        break;
                    }
                    Ok(_) => {}
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        panic!("{name} exited before {needle:?}: {}", p.log())
                    }
                }
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "{name}: no {needle:?} in 30 s: {}",
                    p.log()
                );
            }
        }
        p
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGKILL, and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and wait up to 10 s (then SIGKILL).
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A nats-server with JetStream on file storage in its own folder.
pub struct Nats {
    pub proc: Proc,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Nats {
    /// Starts a server on a free port. Tests start servers concurrently, and a port
    /// that was free when picked may be taken before the server binds it (by another
    /// test's server, which then answers for ours until its test ends): a server that
    /// does not come up on its port is started again on another.
    pub fn start() -> Nats {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = free_port();
            if let Some(proc) = Nats::try_spawn(port, dir.path()) {
                return Nats { proc, port, dir };
            }
        }
        panic!("nats-server did not come up on any of 5 free ports");
    }

    fn spawn(port: u16, dir: &Path) -> Proc {
        Nats::try_spawn(port, dir)
            .unwrap_or_else(|| panic!("nats-server did not come up on port {port}"))
    }

    /// Starts the server and waits until it says it is ready; `None` if it exits first
    /// (its port was taken).
    fn try_spawn(port: u16, dir: &Path) -> Option<Proc> {
        let mut cmd = Command::new(tool("nats-server"));
        cmd.args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir);
        let mut p = Proc::spawn("nats", cmd, None);
        let start = Instant::now();
        // nats-server logs to stderr, which `Proc` keeps.
        while !p.log().contains("Server is ready") {
            if p.exited() {
                return None;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "nats-server not ready after 20 s: {}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        wait_port(port, Duration::from_secs(20));
        Some(p)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGTERM) and starts it again on the same port and folder.
    pub fn restart(&mut self, down_for: Duration) {
        self.proc.terminate();
        std::thread::sleep(down_for);
        self.proc = Nats::spawn(self.port, self.dir.path());
    }
}

/// A moto S3 server with one bucket.
pub struct S3 {
    pub proc: Proc,
    pub port: u16,
    pub bucket: String,
}

impl S3 {
    pub fn start() -> S3 {
        let port = free_port();
        let mut cmd = Command::new(tool("moto_server"));
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let proc = Proc::spawn("moto", cmd, None);
        wait_port(port, Duration::from_secs(30));
        let bucket = "conveyor-test".to_owned();
        let res = client()
            .put(format!("http://127.0.0.1:{port}/{bucket}"))
            .send()
            .unwrap();
        assert!(res.status().is_success(), "create bucket: {}", res.status());
        S3 { proc, port, bucket }
    }

    /// The store URL workers and servers take.
    pub fn store_url(&self) -> String {
        format!(
            "s3://{}/jobs?endpoint=http://127.0.0.1:{}&region=us-east-1",
            self.bucket, self.port
        )
    }
}

/// The dummy credentials moto accepts, for processes that sign S3 requests.
pub fn s3_env(cmd: &mut Command) {
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
}

/// A worker process.
pub fn worker(nats: &str, store: &str, name: &str, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_conveyor-worker"));
    cmd.args([
        "--nats",
        nats,
        "--store",
        store,
        "--name",
        name,
        "--workers",
        "1",
    ])
    .args(extra)
    .env("RUST_LOG", "info");
    s3_env(&mut cmd);
    Proc::spawn(name, cmd, Some("worker ready"))
}

/// An upload server in cluster mode; returns it with its base URL.
pub fn server(nats: &str, store: &str, name: &str, extra: &[&str]) -> (Proc, String) {
    let mut cmd = Command::new(upload_server_bin());
    cmd.args(["--bind", "127.0.0.1:0", "--nats", nats, "--store", store])
        .args(extra)
        .env("RUST_LOG", "info");
    s3_env(&mut cmd);
    let p = Proc::spawn(name, cmd, Some("listening on http://"));
    let base = p
        .ready
        .as_deref()
        .and_then(|l| l.split("listening on ").nth(1))
        .unwrap()
        .trim()
        .to_owned();
    (p, base)
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A test image from testdata/vectors/inputs.
pub fn vector(name: &str) -> Vec<u8> {
    std::fs::read(root().join("testdata/vectors/inputs").join(name)).unwrap()
}

/// POSTs a raw body; returns status and JSON.
pub fn upload(
    c: &reqwest::blocking::Client,
    base: &str,
    body: Vec<u8>,
    respond_async: bool,
) -> (u16, Value, Option<String>) {
    let mut req = c.post(format!("{base}/uploads")).body(body);
    if respond_async {
        req = req.header("Prefer", "respond-async");
    }
    let res = req.send().unwrap();
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, res.json().unwrap_or(Value::Null), retry)
}

/// GET /uploads/{id} until it is done (or `limit` passes); returns the status object.
pub fn wait_done(c: &reqwest::blocking::Client, base: &str, id: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        if let Ok(res) = c.get(format!("{base}/uploads/{id}")).send() {
            if res.status().as_u16() == 200 {
                return res.json().unwrap();
            }
        }
        assert!(
            start.elapsed() < limit,
            "upload {id} not done after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Collects a server's `/events` on a thread: every `(type, id)` seen.
pub struct Events {
    pub seen: Arc<Mutex<Vec<Value>>>,
}

impl Events {
    pub fn listen(base: &str) -> Events {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let url = format!("{base}/events");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let c = reqwest::blocking::Client::builder().build().unwrap();
            let Ok(res) = c.get(url).send() else { return };
            let _ = tx.send(());
            for line in BufReader::new(res).lines().map_while(Result::ok) {
                if let Some(data) = line.strip_prefix("data:") {
                    if let Ok(v) = serde_json::from_str::<Value>(data.trim()) {
                        s.lock().unwrap().push(v);
                    }
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the event stream opens");
        // The subscription is made before the response head is sent.
        Events { seen }
    }

    /// How many `job_finished` events each id got.
    pub fn finished(&self) -> std::collections::HashMap<String, usize> {
        let mut m = std::collections::HashMap::new();
        for v in self.seen.lock().unwrap().iter() {
            if v["type"] == "job_finished" {
                *m.entry(v["id"].as_str().unwrap_or_default().to_owned())
                    .or_default() += 1;
            }
        }
        m
    }

    pub fn count(&self, ty: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["type"] == ty)
            .count()
    }
}
