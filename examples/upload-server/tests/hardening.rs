//! The upload server as an operator on the internet needs it, tried with real sockets
//! and a real file system: ids that survive restarts, output sets that appear whole or
//! not at all (`kill -9`, a full disk, a multipart request partly refused), files a
//! web server can read, admission before the body, slow and idle clients cut off
//! without starving others or the file handles, SIGTERM with a deadline, and one JSON
//! error shape.
#![allow(missing_docs)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{check_saved, client, jpeg, png, walk, Server};
use reqwest::blocking::multipart;
use serde_json::Value;

/// Every upload folder visible under `root` (hidden staging folders excluded), with
/// its files.
fn visible_sets(root: &Path) -> Vec<(String, Vec<String>)> {
    let mut sets = Vec::new();
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let mut files: Vec<String> = std::fs::read_dir(e.path())
            .unwrap()
            .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        sets.push((name, files));
    }
    sets.sort();
    sets
}

fn hidden_entries(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

fn post_raw(s: &Server, body: Vec<u8>) -> (u16, Value) {
    let res = client().post(s.url("/uploads")).body(body).send().unwrap();
    let status = res.status().as_u16();
    (status, res.json().unwrap_or(Value::Null))
}

#[test]
fn kill_9_then_restart_shows_no_partial_set_and_overwrites_nothing() {
    let s = Server::start(&["--workers", "2", "--queue-capacity", "16"]);
    let (status, first) = post_raw(&s, jpeg(640, 480));
    assert_eq!(status, 201);
    let first_id = first["id"].as_str().unwrap().to_string();
    let first_large = std::fs::read(s.uploads().join(&first_id).join("large.jpg")).unwrap();

    // A burst of big uploads, killed hard while jobs are mid-save.
    let url = s.url("/uploads");
    let img = jpeg(3000, 2000);
    let burst: Vec<_> = (0..8)
        .map(|_| {
            let (url, img) = (url.clone(), img.clone());
            std::thread::spawn(move || {
                let _ = client().post(url).body(img).send();
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    // A staging folder as a crash mid-save leaves it (in case the kill missed one).
    let fake = s
        .uploads()
        .join(".0190a0b0-0000-7000-8000-000000000000.partial-Zz09Zz09");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(fake.join("large.jpg"), b"half").unwrap();
    let dir = s.crash();
    for b in burst {
        b.join().unwrap();
    }

    // Restart on the same folder: leftovers swept, every visible set whole.
    let s = Server::start_in(dir, &["--workers", "2"], None);
    assert_eq!(hidden_entries(&s.uploads()), Vec::<String>::new());
    for (id, files) in visible_sets(&s.uploads()) {
        assert_eq!(files, ["large.jpg", "thumb.webp"], "upload {id}");
    }
    // New uploads get new ids; the first upload is untouched.
    for _ in 0..3 {
        let (status, body) = post_raw(&s, jpeg(320, 200));
        assert_eq!(status, 201);
        assert_ne!(body["id"].as_str().unwrap(), first_id);
    }
    assert_eq!(
        std::fs::read(s.uploads().join(&first_id).join("large.jpg")).unwrap(),
        first_large
    );
}

#[test]
fn saved_files_are_readable_by_other_users() {
    use std::os::unix::fs::PermissionsExt;
    let s = Server::start(&[]);
    let (status, body) = post_raw(&s, png(300, 200));
    assert_eq!(status, 201);
    let folder = s.uploads().join(body["id"].as_str().unwrap());
    // The test runs with the usual umask 022: 0644 files in a 0755 folder.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&folder), 0o755);
    for f in ["large.jpg", "thumb.webp"] {
        assert_eq!(mode(&folder.join(f)), 0o644, "{f}");
    }
}

/// Mounts a small tmpfs at `dir/uploads`, unmounted on drop; `None` when not root.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let point = dir.join("uploads");
        std::fs::create_dir_all(&point).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&point)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(point))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_between_two_outputs_leaves_nothing_and_names_no_path() {
    let dir = tempfile::tempdir().unwrap();
    // A real full disk: a 256 KiB tmpfs as the output folder.
    let Some(fs) = Tmpfs::mount(dir.path(), "256k") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let recipe = dir.path().join("recipe.json");
    std::fs::write(
        &recipe,
        r#"{"outputs":[{"name":"small","format":"jpeg","width":32,"height":32},
                       {"name":"full","format":"png"}]}"#,
    )
    .unwrap();
    let s = Server::start_in(dir, &["--recipe", recipe.to_str().unwrap()], None);
    // Noise does not compress: the full-size PNG (~1 MB) cannot fit after the JPEG.
    let mut state = 0x9e37_79b9_u32;
    let noise = image::RgbImage::from_fn(600, 600, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let b = state.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut input = std::io::Cursor::new(Vec::new());
    noise.write_to(&mut input, image::ImageFormat::Png).unwrap();
    let (status, body) = post_raw(&s, input.into_inner());
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "save_failed");
    let text = body.to_string();
    assert!(!text.contains(s.dir.path().to_str().unwrap()), "{text}");
    assert!(!text.contains("/uploads/"), "{text}");
    assert_eq!(visible_sets(&fs.0), vec![]);
    assert_eq!(hidden_entries(&fs.0), Vec::<String>::new());
    drop(s);
}

#[test]
fn multipart_files_are_saved_or_not_each_and_said_so_truthfully() {
    let s = Server::start(&["--workers", "1", "--queue-capacity", "4"]);
    let part = |data: Vec<u8>, name: &str| {
        multipart::Part::bytes(data)
            .file_name(name.to_string())
            .mime_str("application/octet-stream")
            .unwrap()
    };
    let form = multipart::Form::new()
        .part("file", part(png(200, 100), "a.png"))
        .part("file", part(b"junk".to_vec(), "b.jpg"))
        .part("file", part(png(100, 200), "c.png"));
    let res = client()
        .post(s.url("/uploads"))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(res.status(), 207);
    let body: Value = res.json().unwrap();
    assert_eq!(
        (body["saved"].as_u64(), body["failed"].as_u64()),
        (Some(2), Some(1))
    );
    let uploads = body["uploads"].as_array().unwrap();
    assert!(uploads[1].get("id").is_none() && uploads[1]["error"]["code"] == "unsupported_format");
    for u in [&uploads[0], &uploads[2]] {
        check_saved(&s.uploads(), u);
    }
    assert_eq!(visible_sets(&s.uploads()).len(), 2);

    // Many small parts against a queue of 4: some are refused, and every file the
    // answer calls saved is on disk, and nothing else is.
    let mut form = multipart::Form::new();
    for i in 0..200 {
        form = form.part("file", part(png(64, 64), &format!("p{i}.png")));
    }
    let res = client()
        .post(s.url("/uploads"))
        .multipart(form)
        .send()
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().unwrap();
    let uploads = body["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 200);
    let saved: Vec<&Value> = uploads.iter().filter(|u| u.get("id").is_some()).collect();
    assert_eq!(body["saved"].as_u64(), Some(saved.len() as u64));
    assert!(status == 207 || status == 201, "{status}");
    for u in &saved {
        check_saved(&s.uploads(), u);
    }
    for u in uploads.iter().filter(|u| u.get("id").is_none()) {
        assert_eq!(u["error"]["code"], "queue_full", "{u}");
    }
    assert_eq!(visible_sets(&s.uploads()).len(), 2 + saved.len());
}

/// Sends `head` on a raw connection and returns the stream.
fn raw(addr: SocketAddr, head: &str) -> TcpStream {
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(head.as_bytes()).unwrap();
    c
}

/// Reads what the server sends until it closes, at most `limit`.
fn read_until_close(c: &mut TcpStream, limit: Duration) -> (String, bool) {
    c.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match c.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

#[test]
fn a_full_queue_refuses_before_the_body_is_read() {
    let s = Server::start(&["--workers", "1", "--queue-capacity", "1"]);
    // Keep the worker busy and the queue full.
    let url = s.url("/uploads");
    let big = jpeg(4000, 3000);
    let health = |key: &str| -> u64 {
        let h: Value = client()
            .get(s.url("/healthz"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        h[key].as_u64().unwrap()
    };
    let mut fill = Vec::new();
    for key in ["running", "queued"] {
        let (url, big) = (url.clone(), big.clone());
        fill.push(std::thread::spawn(move || {
            client().post(url).body(big).send().map(|r| r.status())
        }));
        let deadline = Instant::now() + Duration::from_secs(20);
        while health(key) != 1 {
            assert!(Instant::now() < deadline, "no job became {key}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // Headers only, announcing 10 MB that never come: the answer is immediate.
    let t = Instant::now();
    let mut c = raw(
        s.addr(),
        "POST /uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n",
    );
    let (text, _) = read_until_close(&mut c, Duration::from_secs(5));
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    assert!(text.contains("\"code\":\"queue_full\""), "{text}");
    assert!(t.elapsed() < Duration::from_secs(2));
    for f in fill {
        let _ = f.join().unwrap();
    }
}

#[test]
fn concurrent_big_bodies_stay_within_the_body_budget() {
    // 40 concurrent 50 MB bodies against a 256 MiB budget of body bytes in flight.
    let s = Server::start(&["--workers", "2", "--queue-capacity", "64"]);
    let body = bytes::Bytes::from(vec![0x5au8; 50 << 20]);
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = (0..40)
        .map(|_| {
            let (url, body, tx) = (s.url("/uploads"), body.clone(), tx.clone());
            std::thread::spawn(move || {
                let r = client()
                    .post(url)
                    .body(reqwest::blocking::Body::from(body))
                    .send();
                tx.send(r.map(|r| r.status().as_u16()).unwrap_or(0))
                    .unwrap();
            })
        })
        .collect();
    drop(tx);
    for t in threads {
        t.join().unwrap();
    }
    let statuses: Vec<u16> = rx.iter().collect();
    let read = statuses.iter().filter(|&&s| s == 422).count();
    let refused = statuses.iter().filter(|&&s| s == 503 || s == 0).count();
    let peak = s.peak_rss();
    eprintln!(
        "40 x 50 MB: {read} bodies read (422: not an image), {refused} refused before the body; server peak RSS {:.0} MiB",
        peak as f64 / (1 << 20) as f64
    );
    assert_eq!(read + refused, 40, "{statuses:?}");
    assert!(read >= 1, "{statuses:?}");
    // 256 MiB of bodies at most, plus the server itself and the pool's work.
    assert!(peak < 600 << 20, "peak RSS {} MiB", peak >> 20);
}

#[test]
fn slowloris_neither_blocks_others_nor_exhausts_file_handles() {
    // 500 slow connections against a server limited to 256 open files.
    let s = Server::start_in(
        tempfile::tempdir().unwrap(),
        &[
            "--header-timeout-secs",
            "3",
            "--max-connections-per-ip",
            "64",
        ],
        Some(256),
    );
    let addr = s.addr();
    let mut slow: Vec<TcpStream> = Vec::new();
    for _ in 0..500 {
        if let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            let _ = c.write_all(b"POST /uploads HTTP/1.1\r\nHost: x\r\n");
            slow.push(c);
        }
    }
    // A client from another address is served at once, twice over.
    let other = reqwest::blocking::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut served = Duration::ZERO;
    for _ in 0..2 {
        let t = Instant::now();
        let res = other
            .post(s.url("/uploads"))
            .body(jpeg(320, 240))
            .send()
            .unwrap();
        assert_eq!(res.status(), 201);
        served = served.max(t.elapsed());
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        // Keep dribbling header bytes, as a slowloris does.
        for c in slow.iter_mut() {
            let _ = c.write_all(b"X-a: b\r\n");
        }
    }
    let files = s.open_files();
    eprintln!(
        "slowloris: {} connections opened, server holds {files} open files (limit 256); another client served in {served:?}",
        slow.len(),
    );
    assert!(files < 200, "{files} open files");
    // The slow ones are cut off by the header timeout (3 s; 5 s leaves a margin for a
    // loaded machine).
    std::thread::sleep(Duration::from_secs(5));
    let mut closed = 0;
    for c in slow.iter_mut() {
        if read_until_close(c, Duration::from_millis(50)).1 {
            closed += 1;
        }
    }
    assert_eq!(closed, slow.len());
    assert!(s.open_files() < 32, "{} open files", s.open_files());
    let res = client().get(s.url("/healthz")).send().unwrap();
    assert_eq!(res.status(), 200);
}

#[test]
fn slow_bodies_get_408_and_idle_keep_alives_are_closed() {
    let s = Server::start(&[
        "--header-timeout-secs",
        "2",
        "--body-grace-secs",
        "1",
        "--min-body-rate",
        "10000",
    ]);
    // A body trickling at a few bytes a second.
    let mut c = raw(
        s.addr(),
        "POST /uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc",
    );
    let t = Instant::now();
    let (text, closed) = read_until_close(&mut c, Duration::from_secs(6));
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":\"request_timeout\""), "{text}");
    assert!(
        closed && t.elapsed() < Duration::from_secs(4),
        "{:?}",
        t.elapsed()
    );

    // A keep-alive connection left idle after its response is closed.
    let mut c = raw(s.addr(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let t = Instant::now();
    let (text, closed) = read_until_close(&mut c, Duration::from_secs(6));
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed, "the idle connection stayed open");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

#[test]
fn sigterm_ends_stalled_requests_and_streams_within_the_deadline() {
    let mut s = Server::start(&["--workers", "1", "--drain-timeout-secs", "8"]);
    // An SSE reader that never reads, and a request whose body stops half-way.
    let _sse = raw(s.addr(), "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    let _half = raw(
        s.addr(),
        "POST /uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nhalf a body",
    );
    // And a job in flight, which finishes and is saved.
    let url = s.url("/uploads");
    let img = jpeg(1000, 750);
    let job = std::thread::spawn(move || {
        let r = client().post(url).body(img).send().unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h: Value = client()
            .get(s.url("/healthz"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if h["running"].as_u64() == Some(1) {
            break;
        }
        assert!(Instant::now() < deadline, "the job never started: {h}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let t = Instant::now();
    s.signal("TERM");
    let status = s
        .wait_exit(Duration::from_secs(8))
        .expect("no exit after SIGTERM");
    let took = t.elapsed();
    assert!(status.success(), "{status:?}");
    // The stalled connections hold it to 80% of the 8 s deadline, not longer.
    assert!(took < Duration::from_millis(8500), "exit took {took:?}");
    let (code, body) = job.join().unwrap();
    assert_eq!(code, 201, "{body}");
    check_saved(&s.uploads(), &body);
    assert_eq!(hidden_entries(&s.uploads()), Vec::<String>::new());
    for f in walk(&s.uploads()) {
        assert!(
            !f.to_string_lossy().contains(".partial-"),
            "{}",
            f.display()
        );
    }
}

#[test]
fn every_error_has_the_json_shape_and_no_server_path() {
    let s = Server::start(&["--max-body-bytes", "1000"]);
    let c = client();
    let cases: Vec<(reqwest::blocking::RequestBuilder, u16)> = vec![
        (c.get(s.url("/nope")), 404),
        (c.get(s.url("/uploads")), 405),
        (c.delete(s.url("/healthz")), 405),
        (c.get(s.url("/uploads/not-an-id/large.jpg")), 400),
        (
            c.get(s.url("/uploads/0190a0b0-0000-7000-8000-000000000000/large.jpg")),
            404,
        ),
        (c.get(s.url("/uploads/%FF/large.jpg")), 400),
        (c.post(s.url("/uploads")).body(vec![0u8; 5000]), 413),
        (c.post(s.url("/uploads")).body(b"junk".to_vec()), 422),
        (
            c.post(s.url("/uploads"))
                .header("content-type", "multipart/form-data; boundary=x")
                .body("--x\r\nnot a part"),
            400,
        ),
    ];
    for (req, want) in cases {
        let res = req.send().unwrap();
        let status = res.status().as_u16();
        let ctype = res.headers().get("content-type").cloned();
        let text = res.text().unwrap();
        assert_eq!(status, want, "{text}");
        assert_eq!(ctype.unwrap(), "application/json", "{status}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(
            v["error"]["code"].is_string() && v["error"]["message"].is_string(),
            "{text}"
        );
        assert!(!text.contains(s.dir.path().to_str().unwrap()), "{text}");
    }
    let res = c.get(s.url("/favicon.svg")).send().unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
}
