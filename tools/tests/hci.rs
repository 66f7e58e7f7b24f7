//! The `hci` server and client: round trips, bad and truncated
//! uploads, a stalled client, path traversal, leftovers; and the command
//! line, as a process.

mod common;

use nvflare_hci_tools::hci as app;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use app::{Endpoint, Server, ServerConfig, SPOOL};
use common::{binary_wire, random_bytes};
use nvflare_hci::{receive_all, send_text};
use serde_json::Value;

const T: Duration = Duration::from_secs(30);

fn start(dir: &Path, timeout: Duration) -> (String, mpsc::Receiver<Value>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let config = ServerConfig {
        timeout,
        ..ServerConfig::new(dir)
    };
    let addr: SocketAddr = Server::bind("127.0.0.1:0", config)
        .unwrap()
        .spawn(move |record| {
            let _ = tx.lock().unwrap().send(record);
        })
        .unwrap();
    (addr.to_string(), rx)
}

/// The entries of DIR, and of its spool directory.
fn leftovers(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut top = common::entries(dir);
    top.retain(|n| n != SPOOL);
    (top, common::entries(&dir.join(SPOOL)))
}

fn raw_request(addr: &str, wire: &[u8]) -> Value {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let _ = s.write_all(wire);
    let reply = receive_all(&s).unwrap();
    serde_json::from_str(reply.as_text().unwrap()).unwrap()
}

#[test]
fn upload_list_download_round_trip() {
    let served = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let (addr, log) = start(served.path(), T);
    let mut names = Vec::new();
    for (i, size) in [0usize, 1, 1025, 3 << 20].into_iter().enumerate() {
        let body = random_bytes(size, i as u64);
        let file = local.path().join(format!("f{i}"));
        std::fs::write(&file, &body).unwrap();
        let (reply, ok) = app::upload(&Endpoint::plain(&addr, T), &file, None, None).unwrap();
        assert!(ok, "{reply}");
        let reply: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(reply["size"], size as u64);
        assert_eq!(reply["crc32"], crc32fast::hash(&body));
        let name = reply["name"].as_str().unwrap().to_owned();
        assert_eq!(uuid::Uuid::parse_str(&name).unwrap().get_version_num(), 4);
        let record = log.recv_timeout(T).unwrap();
        assert_eq!(
            (record["request"].as_str(), record["status"].as_str()),
            (Some("upload"), Some("ok"))
        );

        let out = local.path().join(format!("back{i}"));
        assert_eq!(
            app::download(&Endpoint::plain(&addr, T), &name, &out, None).unwrap(),
            size as u64
        );
        assert_eq!(std::fs::read(&out).unwrap(), body);
        let record = log.recv_timeout(T).unwrap();
        assert_eq!(record["request"], "download");
        assert_eq!(record["size"], size as u64);
        names.push((name, size as u64));
    }
    let (reply, ok) = app::list(&Endpoint::plain(&addr, T)).unwrap();
    assert!(ok);
    let reply: Value = serde_json::from_str(&reply).unwrap();
    let mut listed: Vec<(String, u64)> = reply["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["size"].as_u64().unwrap(),
            )
        })
        .collect();
    listed.sort();
    names.sort();
    assert_eq!(listed, names);
    let (top, spool) = leftovers(served.path());
    assert_eq!(top.len(), 4);
    assert!(spool.is_empty());
}

#[test]
fn bad_checksum_and_truncated_uploads_leave_nothing() {
    let served = tempfile::tempdir().unwrap();
    let (addr, log) = start(served.path(), T);

    let mut wire = binary_wire(b"{}", &random_bytes(2 << 20, 1));
    let n = wire.len();
    wire[n - 1] ^= 0x80;
    let reply = raw_request(&addr, &wire);
    assert_eq!(reply["status"], "error");
    assert!(
        reply["error"].as_str().unwrap().contains("checksum"),
        "{reply}"
    );
    assert_eq!(log.recv_timeout(T).unwrap()["status"], "error");

    // Truncated: half the body, then the client goes away.
    {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(&wire[..n / 2]).unwrap();
    }
    let record = log.recv_timeout(T).unwrap();
    assert_eq!(record["status"], "error");
    assert!(
        record["error"].as_str().unwrap().contains("unexpected end"),
        "{record}"
    );

    // Over a limit, and garbage.
    let reply = raw_request(&addr, &common::header_only(0, u64::MAX));
    assert!(
        reply["error"].as_str().unwrap().contains("exceeds"),
        "{reply}"
    );
    let reply = raw_request(&addr, b"\xff\xfe garbage \x04");
    assert_eq!(reply["status"], "error");
    let reply = raw_request(&addr, b"rm -rf /\x04");
    assert!(
        reply["error"].as_str().unwrap().contains("unknown command"),
        "{reply}"
    );

    assert_eq!(leftovers(served.path()), (vec![], vec![]));
}

#[test]
fn stalled_client_is_cut_off_while_others_are_served() {
    let served = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let (addr, log) = start(served.path(), Duration::from_secs(1));
    let wire = binary_wire(b"", &random_bytes(1 << 20, 2));
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled.write_all(&wire[..300_000]).unwrap();
    let started = Instant::now();

    // Others are served meanwhile.
    let file = local.path().join("f");
    std::fs::write(&file, b"hello").unwrap();
    let (_, ok) = app::upload(&Endpoint::plain(&addr, T), &file, Some("other"), None).unwrap();
    assert!(ok);
    assert_eq!(log.recv_timeout(T).unwrap()["status"], "ok");

    // The stalled one times out with an error reply.
    stalled.set_read_timeout(Some(T)).unwrap();
    let reply = receive_all(&stalled).unwrap();
    let reply: Value = serde_json::from_str(reply.as_text().unwrap()).unwrap();
    assert_eq!(reply["status"], "error", "{reply}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert_eq!(log.recv_timeout(T).unwrap()["status"], "error");
    let (top, spool) = leftovers(served.path());
    assert_eq!(top.len(), 1);
    assert!(spool.is_empty());
}

#[test]
fn downloads_outside_dir_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let served = root.path().join("served");
    std::fs::create_dir(&served).unwrap();
    std::fs::write(root.path().join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(root.path().join("secret"), served.join("link")).unwrap();
    std::fs::create_dir(served.join("sub")).unwrap();
    std::fs::write(served.join("sub").join("inner"), b"x").unwrap();
    let (addr, _log) = start(&served, T);
    let out = root.path().join("out");
    let secret = root.path().join("secret").display().to_string();
    for name in [
        "../secret",
        "..",
        ".",
        "/etc/passwd",
        &secret,
        "sub/inner",
        "sub",
        "link",
        SPOOL,
        "missing",
        "a\\..\\b",
    ] {
        match app::download(&Endpoint::plain(&addr, T), name, &out, None) {
            Err(app::ClientError::Server(msg)) => assert!(!msg.is_empty()),
            other => panic!("{name:?}: {other:?}"),
        }
        assert!(!out.exists(), "{name:?} wrote {out:?}");
    }
    // Nothing was left in the download's directory either.
    assert_eq!(common::entries(root.path()), ["secret", "served"]);
}

#[test]
fn command_line() {
    let bin = common::HCI;
    let served = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let (server, addr, mut lines) = common::hci_serve(served.path(), &["--timeout", "5"]);

    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let file = local.path().join("job.zip");
    std::fs::write(&file, random_bytes(100_000, 3)).unwrap();
    let (code, stdout, _) = run(&[
        "upload",
        "--connect",
        &addr,
        "--meta",
        "{\"cmd\":\"x\"}",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0));
    let reply: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(reply["status"], "ok");
    let name = reply["name"].as_str().unwrap().to_owned();
    let logged: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        (logged["request"].as_str(), logged["status"].as_str()),
        (Some("upload"), Some("ok"))
    );

    let (code, stdout, _) = run(&["list", "--connect", &addr]);
    assert_eq!(code, Some(0));
    let listed: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(listed["files"][0]["name"], name.as_str());
    assert_eq!(listed["files"][0]["size"], 100_000);

    let out = local.path().join("back.zip");
    let (code, stdout, _) = run(&[
        "download",
        "--connect",
        &addr,
        &name,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0));
    let printed: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(printed["size"], 100_000);
    assert_eq!(printed["name"], name.as_str());
    assert_eq!(printed["path"], out.to_str().unwrap());
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&file).unwrap());

    let missing = local.path().join("nothing");
    let (code, stdout, stderr) = run(&[
        "download",
        "--connect",
        &addr,
        "../etc",
        "--out",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!missing.exists());

    // Each error names what, where and with whom.
    let (code, _, stderr) = run(&["upload", "--connect", &addr, "/nonexistent/file"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr.trim(),
        "error: cannot read /nonexistent/file: No such file or directory (os error 2)"
    );

    let (code, _, stderr) = run(&["list", "--connect", "127.0.0.1:1"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with("error: cannot connect to 127.0.0.1:1: Connection refused"),
        "{stderr}"
    );

    // A port in use is named, with its usual cause.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let (code, _, stderr) = run(&[
        "serve",
        "--listen",
        &port,
        "--dir",
        local.path().join("other").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with(&format!("error: cannot listen on {port}: "))
            && stderr.contains("another process listens there"),
        "{stderr}"
    );

    // A server that stops answering mid-exchange: a timeout, with its address.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let (code, _, stderr) = run(&["list", "--connect", &silent_addr, "--timeout", "1"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with(&format!("error: {silent_addr}: ")),
        "{stderr}"
    );
    drop(silent);
    drop(server);
}

#[test]
fn demo_runs_and_verifies() {
    let out = Command::new(common::HCI)
        .args(["demo", "--size", "5000000"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("upload:   5000000 bytes"), "{stdout}");
    assert!(stdout.contains("MiB/s"), "{stdout}");
    assert!(stdout.contains("verified"), "{stdout}");
}

#[test]
fn text_request_client_side_helpers() {
    // A text command straight over a socket, as NVFlare's admin client does.
    let served = tempfile::tempdir().unwrap();
    let (addr, _log) = start(served.path(), T);
    let s = TcpStream::connect(&addr).unwrap();
    send_text(&s, "list").unwrap();
    let reply = receive_all(&s).unwrap();
    let v: Value = serde_json::from_str(reply.as_text().unwrap()).unwrap();
    assert_eq!(v["files"], serde_json::json!([]));
}
