//! `nvflare-admin-server` against a peer that has a certificate of the
//! project and uses it to exhaust the server: huge requests before login,
//! long ids echoed, zips whose entries overlap or lie about their names
//! and sizes, metas that cost more parsed than stored, downloads staged
//! and never fetched. Memory, CPU and disk stay bounded; each is refused
//! with the status `flare_api` expects, and the server goes on serving.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::admin_server::*;
use nvflare_hci::{Connection, Exchange, GenerateDataFromFile};
use nvflare_hci_tools::admin::session::{self, Kit};
use nvflare_hci_tools::jobs;
use serde_json::{json, Value};

const ADMIN: &str = "admin@nvidia.com";

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to the server with `user`'s certificate, past its
/// handshake.
fn tls_to(poc: &Poc, port: u16, user: &str) -> Tls {
    let kit = Kit::load(&poc.admin(user)).unwrap();
    let config = session::tls_config(&kit).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    nvflare_hci_tools::tls::client_stream(&config, "localhost", tcp, Duration::from_secs(10))
        .unwrap()
}

/// Sends `text` as a text request over a TLS connection of `user`; the
/// reply, when the server could send one.
fn raw_text(poc: &Poc, port: u16, user: &str, text: &str) -> Option<Value> {
    let mut conn = Connection::new(tls_to(poc, port, user));
    // The server may refuse before the whole text is read: a failed send
    // is fine, the reply (or none) is what is checked.
    let _ = conn.send_text(text);
    match conn.receive() {
        Ok(Exchange::Text(t)) => serde_json::from_str(t.trim_end_matches(['\u{3}', '\u{4}'])).ok(),
        _ => None,
    }
}

/// A request of `command` without a token, `size` bytes of ` a` after it.
fn padded(command: &str, size: usize) -> String {
    let mut line = String::with_capacity(size + command.len());
    line.push_str(command);
    while line.len() < size {
        line.push_str(" a");
    }
    session::request(&line, None)
}

/// The server still logs a user in and answers.
/// Waits, up to 10 s, for `done`.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn still_serves(poc: &Poc, server: &Server) {
    let s = rust_session(poc, ADMIN, server.port()).expect("login after the attack");
    let reply = s.command("check_status server").unwrap();
    assert_eq!(reply.json["meta"]["status"], "ok", "{}", reply.text);
}

#[test]
fn huge_requests_before_login_cost_no_memory() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let port = server.port();
    // Four at once, 10 MiB each, with no token (a site's certificate is
    // enough to send them).
    let attackers: Vec<_> = (0..4)
        .map(|_| {
            let text = padded("check_status", 10 << 20);
            let tls = tls_to(&poc, port, ADMIN);
            std::thread::spawn(move || {
                let mut conn = Connection::new(tls);
                let _ = conn.send_text(&text);
                let _ = conn.receive();
            })
        })
        .collect();
    for a in attackers {
        a.join().unwrap();
    }
    let peak = server.peak_rss_kib();
    assert!(
        peak < 32 * 1024,
        "server peak RSS {peak} KiB after 4 × 10 MiB requests"
    );
    // Refused at the limit, before the text was read whole.
    let bad = || {
        server
            .records()
            .iter()
            .filter(|r| {
                r["status"] == "error" && r["error"].as_str().unwrap_or("").contains("limit")
            })
            .filter(|r| r["bytes_in"].as_u64().unwrap() < 1 << 20)
            .count()
    };
    eventually("four refusals logged", || bad() >= 4);
    assert_eq!(bad(), 4, "{:?}", server.records());
    // Under the limit and without a token: refused before it is split.
    let reply = raw_text(&poc, port, ADMIN, &padded("check_status", 60 << 10)).unwrap();
    assert_eq!(
        reply["data"][0]["data"], "not authenticated - no token",
        "{reply}"
    );
    still_serves(&poc, &server);
}

#[test]
fn replies_cut_what_they_echo() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let s = rust_session(&poc, ADMIN, server.port()).unwrap();
    let id = "x".repeat(60 << 10);
    for command in [
        format!("get_job_meta {id}"),
        format!("list_jobs -m {id}"),
        format!("check_status {id}"),
        format!("no_such_{id}"),
    ] {
        let reply = s.command(&command).unwrap();
        assert!(
            reply.text.len() < 1024,
            "{}: a reply of {} bytes",
            &command[..20],
            reply.text.len()
        );
        assert!(reply.text.contains("xxxxx"), "{}", reply.text);
        assert!(
            reply.text.contains("\\u2026"),
            "the cut is marked: {}",
            reply.text
        );
    }
    let logged = server.records();
    assert!(logged.iter().all(|r| r.to_string().len() < 2048));
}

/// A zip entry's local header.
fn local_header(name: &str, method: u16, crc: u32, packed: u32, size: u32) -> Vec<u8> {
    let mut h = b"PK\x03\x04".to_vec();
    h.extend_from_slice(&20u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&method.to_le_bytes());
    h.extend_from_slice(&[0; 4]);
    h.extend_from_slice(&crc.to_le_bytes());
    h.extend_from_slice(&packed.to_le_bytes());
    h.extend_from_slice(&size.to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(name.as_bytes());
    h
}

/// A central directory entry: `name`, its local header at `offset`.
fn central(name: &str, crc: u32, size: u32, offset: u32) -> Vec<u8> {
    let mut h = b"PK\x01\x02".to_vec();
    h.extend_from_slice(&20u16.to_le_bytes());
    h.extend_from_slice(&20u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&[0; 4]);
    h.extend_from_slice(&crc.to_le_bytes());
    h.extend_from_slice(&size.to_le_bytes());
    h.extend_from_slice(&size.to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&[0; 12]);
    h.extend_from_slice(&offset.to_le_bytes());
    h.extend_from_slice(name.as_bytes());
    h
}

/// `locals` (the zip's entries as laid out), then `directory`, then the end.
fn zip_of(locals: &[u8], directory: &[Vec<u8>]) -> Vec<u8> {
    let mut zip = locals.to_vec();
    let start = zip.len() as u32;
    for d in directory {
        zip.extend_from_slice(d);
    }
    let size = zip.len() as u32 - start;
    zip.extend_from_slice(b"PK\x05\x06");
    zip.extend_from_slice(&[0; 4]);
    let n = directory.len() as u16;
    zip.extend_from_slice(&n.to_le_bytes());
    zip.extend_from_slice(&n.to_le_bytes());
    zip.extend_from_slice(&size.to_le_bytes());
    zip.extend_from_slice(&start.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

fn upload(s: &nvflare_hci_tools::admin::session::Session, dir: &Path, zip: &[u8]) -> Value {
    let path = dir.join("upload.zip");
    std::fs::write(&path, zip).unwrap();
    let body = GenerateDataFromFile::open(&path).unwrap();
    s.upload("job_mgmt.submit_job j", body).unwrap().json
}

fn refusal(reply: &Value) -> (String, String) {
    let status = reply["meta"]["status"].as_str().unwrap_or("").to_owned();
    (
        status,
        reply["meta"]["info"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn zips_whose_entries_overlap_or_lie_are_refused_before_hashing() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let s = rust_session(&poc, ADMIN, server.port()).unwrap();
    let dir = poc.dir();
    let zeros = vec![0u8; 1 << 20];
    let crc = crc32fast::hash(&zeros);
    let n = zeros.len() as u32;

    // 64 names in the central directory, one local entry of 1 MiB: the
    // names differ from the local header's.
    let mut locals = local_header("j/aaaa", 0, crc, n, n);
    locals.extend_from_slice(&zeros);
    let directory: Vec<Vec<u8>> = (0..64)
        .map(|i| central(&format!("j/{i:04}"), crc, n, 0))
        .collect();
    let (status, info) = refusal(&upload(&s, dir, &zip_of(&locals, &directory)));
    assert_eq!(status, "invalid_job_def", "{info}");
    assert!(info.contains("in its local header"), "{info}");

    // Names that match, but one entry inside another's bytes.
    let inner = local_header("j/in", 0, crc32fast::hash(b"x"), 1, 1);
    let mut data = inner.clone();
    data.push(b'x');
    let mut locals = local_header(
        "j/big",
        0,
        crc32fast::hash(&data),
        data.len() as u32,
        data.len() as u32,
    );
    let inner_at = locals.len() as u32;
    locals.extend_from_slice(&data);
    let directory = vec![
        central("j/big", crc32fast::hash(&data), data.len() as u32, 0),
        central("j/in", crc32fast::hash(b"x"), 1, inner_at),
    ];
    let (status, info) = refusal(&upload(&s, dir, &zip_of(&locals, &directory)));
    assert_eq!(status, "invalid_job_def", "{info}");
    assert!(info.contains("overlap"), "{info}");

    // A stored entry that declares more bytes than it stores.
    let mut locals = local_header("j/short", 0, crc, 10, n);
    locals.extend_from_slice(&zeros[..10]);
    let mut bad = central("j/short", crc, n, 0);
    bad[20..24].copy_from_slice(&10u32.to_le_bytes());
    let (status, info) = refusal(&upload(&s, dir, &zip_of(&locals, &[bad])));
    assert_eq!(status, "invalid_job_def", "{info}");
    assert!(info.contains("declares"), "{info}");

    // More entries than the limit: refused from the end record alone.
    let mut many = zip_of(&[], &[]);
    let at = many.len() - 12;
    many[at..at + 2].copy_from_slice(&50_000u16.to_le_bytes());
    many[at - 2..at].copy_from_slice(&50_000u16.to_le_bytes());
    let (status, info) = refusal(&upload(&s, dir, &many));
    assert_eq!(status, "invalid_job_def", "{info}");
    assert!(info.contains("entries, more than the limit"), "{info}");

    assert!(jobs_in_store(&poc).is_empty());
    assert!(common::entries(&poc.store().join(".tmp")).is_empty());
    still_serves(&poc, &server);
}

/// A signed job zip of `job`, its entries deflated, `patch` applied to
/// the zip's bytes.
fn signed_deflated_zip(poc: &Poc, job: &Path, patch: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let work = poc.dir().join("signed");
    let _ = std::fs::remove_dir_all(&work);
    let copy = work.join("j");
    jobs::copy_folder(job, &copy).unwrap();
    let startup = poc.admin(ADMIN).join("startup");
    let key = jobs::load_key(&startup.join("client.key")).unwrap();
    jobs::sign_folder(&copy, &key, &startup.join("client.crt")).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for file in common::files_under(&copy) {
            zip.start_file(format!("j/{}", file.display()), options)
                .unwrap();
            zip.write_all(&std::fs::read(copy.join(&file)).unwrap())
                .unwrap();
        }
        zip.finish().unwrap();
    }
    let mut bytes = out.into_inner();
    patch(&mut bytes);
    bytes
}

#[test]
fn entries_give_what_they_declare_and_metas_are_bounded() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let s = rust_session(&poc, ADMIN, server.port()).unwrap();
    let dir = poc.dir();
    let job = make_job(
        dir,
        "deflated",
        "deflated",
        &[("zeros.bin", vec![0u8; 1 << 20])],
    );

    // The job as it is: accepted (the check passes honest zips).
    let ok = upload(&s, dir, &signed_deflated_zip(&poc, &job, |_| {}));
    assert_eq!(ok["meta"]["status"], "ok", "{ok}");

    // zeros.bin declares 1000 bytes in both headers, and inflates to 1 MiB.
    let lie = signed_deflated_zip(&poc, &job, |z| {
        let name = b"j/app/custom/zeros.bin";
        let mut at = 0;
        while let Some(i) = z[at..].windows(name.len()).position(|w| w == name) {
            let i = at + i;
            let size_at = if i >= 46 && &z[i - 46..i - 42] == b"PK\x01\x02" {
                i - 46 + 24
            } else {
                i - 30 + 22
            };
            z[size_at..size_at + 4].copy_from_slice(&1000u32.to_le_bytes());
            at = i + 1;
        }
    });
    let (status, info) = refusal(&upload(&s, dir, &lie));
    assert_eq!(status, "invalid_job_def", "{info}");
    assert!(
        info.contains("holds more than the 1000 bytes it declares"),
        "{info}"
    );

    // Metas: too large, too many values, too deep.
    let many: serde_json::Map<String, Value> =
        (0..11_000).map(|i| (format!("k{i}"), json!(0))).collect();
    let mut deep = json!(0);
    for _ in 0..20 {
        deep = json!([deep]);
    }
    for (extra, reason) in [
        (json!("x".repeat(300 << 10)), "larger than"),
        (Value::Object(many), "more than 10000 values"),
        (deep, "nests deeper"),
    ] {
        let meta = json!({"name": "m", "min_clients": 1, "deploy_map": {"app": ["@ALL"]},
                          "extra": extra});
        std::fs::write(job.join("meta.json"), meta.to_string()).unwrap();
        let reply = raw_submit(&s, &job, &poc.admin(ADMIN), dir, |_| {});
        let (status, info) = refusal(&reply);
        assert_eq!(status, "invalid_job_def", "{info}");
        assert!(info.contains(reason), "{reason}: {info}");
    }
    assert_eq!(jobs_in_store(&poc).len(), 1);
    still_serves(&poc, &server);
}

fn transfers(poc: &Poc) -> usize {
    let dir = poc.store().join(".transfer");
    if dir.exists() {
        common::entries(&dir).len()
    } else {
        0
    }
}

#[test]
fn staged_downloads_go_with_their_session_and_their_job() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let port = server.port();
    let job = make_job(poc.dir(), "staged", "staged", &[]);
    let s = rust_session(&poc, ADMIN, port).unwrap();
    let reply = raw_submit(&s, &job, &poc.admin(ADMIN), poc.dir(), |_| {});
    let id = reply["meta"]["job_id"].as_str().unwrap().to_owned();

    // Logged out: what the session staged goes.
    for _ in 0..3 {
        let s = rust_session(&poc, ADMIN, port).unwrap();
        for _ in 0..2 {
            let r = s.command(&format!("download_job {id}")).unwrap();
            assert_eq!(r.json["meta"]["status"], "ok", "{}", r.text);
        }
        assert!(transfers(&poc) >= 2);
        s.close().unwrap();
        assert_eq!(transfers(&poc), 0, "staged downloads outlive _logout");
    }

    // Many sessions of one certificate: at most 8 staged in all.
    let sessions: Vec<_> = (0..5)
        .map(|_| rust_session(&poc, ADMIN, port).unwrap())
        .collect();
    for s in &sessions {
        for _ in 0..4 {
            s.command(&format!("download_job {id}")).unwrap();
        }
    }
    assert_eq!(transfers(&poc), 8, "the certificate's bound");

    // The job deleted: its stagings go too.
    let r = sessions[0].command(&format!("delete_job {id}")).unwrap();
    assert_eq!(r.json["meta"]["status"], "ok", "{}", r.text);
    assert_eq!(transfers(&poc), 0, "staged downloads outlive delete_job");

    // A session that idles out: its stagings go with no request to notice.
    drop(server);
    let server = Server::start(&poc, &["--session-timeout", "1"]);
    let port = server.port();
    let s = rust_session(&poc, ADMIN, port).unwrap();
    let reply = raw_submit(&s, &job, &poc.admin(ADMIN), poc.dir(), |_| {});
    let id = reply["meta"]["job_id"].as_str().unwrap().to_owned();
    s.command(&format!("download_job {id}")).unwrap();
    assert_eq!(transfers(&poc), 1);
    eventually("staged downloads going with their idle session", || {
        transfers(&poc) == 0
    });
    drop(sessions);
}

/// A job the server acknowledged is on disk for good: its files and its
/// folder are synced before the rename that shows it, and `jobs/` after.
#[test]
fn a_job_is_synced_before_it_is_acknowledged() {
    let poc = Poc::new();
    let log = poc.dir().join("strace.log");
    let trace = Command::new("strace")
        .args([
            "-f",
            "-y",
            "-e",
            "trace=fsync,rename,renameat,renameat2",
            "-o",
        ])
        .arg(&log)
        .arg("true")
        .output();
    assert!(
        trace.is_ok_and(|o| o.status.success()),
        "these tests need strace (apt-get install strace)"
    );
    let server = Server::start_traced(&poc, &log);
    let job = make_job(
        poc.dir(),
        "durable",
        "durable",
        &[("w.bin", vec![1u8; 4096])],
    );
    let s = rust_session(&poc, ADMIN, server.port()).unwrap();
    let reply = raw_submit(&s, &job, &poc.admin(ADMIN), poc.dir(), |_| {});
    let id = reply["meta"]["job_id"].as_str().unwrap().to_owned();
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let find = |what: &dyn Fn(&str) -> bool, name: &str| {
        lines
            .iter()
            .position(|l| what(l))
            .unwrap_or_else(|| panic!("no {name} in the trace:\n{text}"))
    };
    let shown = find(
        &|l| l.contains("rename") && l.contains(&format!("jobs/{id}")),
        "rename into jobs/",
    );
    let zip = find(
        &|l| l.contains("fsync(") && l.contains("/job.zip>"),
        "fsync of job.zip",
    );
    let meta = find(
        &|l| l.contains("fsync(") && l.contains("/meta.json>"),
        "fsync of meta.json",
    );
    let stage = find(
        &|l| l.contains("fsync(") && l.contains("/.tmp/new."),
        "fsync of the job's folder",
    );
    let jobs_dir = find(
        &|l| l.contains("fsync(") && l.contains("/jobs>"),
        "fsync of jobs/",
    );
    assert!(
        zip < shown && meta < shown && stage < shown,
        "synced after the rename:\n{text}"
    );
    assert!(
        jobs_dir > shown,
        "jobs/ not synced after the rename:\n{text}"
    );
}

#[test]
fn logging_in_again_and_again_gains_nothing() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let port = server.port();
    let first = rust_session(&poc, ADMIN, port).unwrap();
    let reply = first.command("check_status server").unwrap();
    assert_eq!(reply.json["meta"]["status"], "ok", "{}", reply.text);
    // 32 more sessions of the same certificate: the least recently used,
    // the first, ends.
    let more: Vec<_> = (0..32)
        .map(|_| rust_session(&poc, ADMIN, port).unwrap())
        .collect();
    let reply = first.command("check_status server").unwrap();
    assert!(reply.text.contains("session_inactive"), "{}", reply.text);
    for s in [&more[0], &more[31]] {
        let reply = s.command("check_status server").unwrap();
        assert_eq!(reply.json["meta"]["status"], "ok", "{}", reply.text);
    }
}

#[test]
fn one_certificate_holds_at_most_64_connections() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let port = server.port();
    let connect = || tls_to(&poc, port, ADMIN);
    // 64 connections past their handshake, each holding half a request.
    let held: Vec<_> = (0..64)
        .map(|_| {
            let mut tls = connect();
            tls.write_all(b"{\"data\": ").unwrap();
            tls.flush().unwrap();
            tls
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1000));
    let mut conn = Connection::new(connect());
    let _ = conn.send_text(&session::request("check_status server", None));
    let reply = match conn.receive() {
        Ok(Exchange::Text(t)) => t,
        other => panic!("no busy reply: {other:?}"),
    };
    assert!(
        reply.contains("server busy: 64 connections of this certificate at once"),
        "{reply}"
    );
    drop(held);
    // Once the held connections are closed, the certificate gets in again.
    eventually("a login after the held connections closed", || {
        rust_session(&poc, ADMIN, port)
            .and_then(|s| s.command("check_status server").map_err(|e| e.to_string()))
            .is_ok_and(|r| r.json["meta"]["status"] == "ok")
    });
    let busy = || {
        server
            .records()
            .iter()
            .filter(|r| r["command"] == "busy")
            .count()
    };
    eventually("the busy refusal logged", || busy() >= 1);
    assert_eq!(busy(), 1);
}
