//! Byte-for-byte interoperability with NVFlare 2.9.0's own Python module,
//! both directions, in memory and over loopback TCP.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;

use common::python::{accept, finish, peer, spawn_peer};
use common::{random_bytes, SplitReader};
use nvflare_hci::{
    receive_all, send_binary_data, send_binary_file, send_lines, send_text, ContentType,
    ExchangeHandler, ExchangeSender,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn hex_sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn metas() -> Vec<String> {
    vec![
        String::new(),
        r#"{"cmd":"submit_job","job_folder":"hello-numpy"}"#.into(),
        "this is 中文信息".into(),
    ]
}

const SMALL: [usize; 5] = [0, 1, 1023, 1024, 1025];

/// (meta, body size) pairs covering the required sizes, including a 1 MiB
/// meta and a 64 MiB body.
fn cases() -> Vec<(String, usize)> {
    let mut v = Vec::new();
    for meta in metas() {
        for size in SMALL.into_iter().chain([1 << 20]) {
            v.push((meta.clone(), size));
        }
    }
    v.push(("m".repeat(1 << 20), 1025));
    v.push((metas()[1].clone(), 64 << 20));
    v
}

fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn python_sender_to_rust_receiver() {
    for (i, (meta, size)) in cases().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let body = random_bytes(size, i as u64);
        let body_path = write(dir.path(), "body", &body);
        let meta_path = write(dir.path(), "meta", meta.as_bytes());
        for command in ["encode-file", "encode-data"] {
            let out = dir.path().join(format!("{command}.wire"));
            let report = peer(
                dir.path(),
                [
                    command.as_ref(),
                    body_path.as_os_str(),
                    meta_path.as_os_str(),
                    out.as_os_str(),
                ],
            );
            assert_eq!(report["sent"], size as u64, "{report}");
            let wire = std::fs::read(&out).unwrap();

            // The same bytes as Rust's encoding of the same input.
            let mut ours = Vec::new();
            send_binary_file(&mut ours, &body_path, &meta).unwrap();
            assert!(wire == ours, "{command}: encodings differ for size {size}");

            // Rust decodes it, a byte at a time for the small ones.
            let max_read = if size <= 1025 && meta.len() < 1000 {
                1
            } else {
                65_536
            };
            let (got_meta, mut got_body) = receive_all(SplitReader::new(&wire[..], max_read, 1))
                .unwrap()
                .into_binary()
                .unwrap();
            assert_eq!(got_meta, meta);
            let mut data = Vec::new();
            got_body.read_to_end(&mut data).unwrap();
            assert!(data == body, "{command}: body differs for size {size}");
        }
    }
}

#[test]
fn rust_sender_to_python_receiver() {
    for (i, (meta, size)) in cases().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let body = random_bytes(size, 100 + i as u64);
        let body_path = write(dir.path(), "body", &body);
        let spool = dir.path().join("spool");
        std::fs::create_dir(&spool).unwrap();

        let mut by_file = Vec::new();
        send_binary_file(&mut by_file, &body_path, &meta).unwrap();
        let mut by_data = ExchangeSender::new(Vec::new()).block_size(4096);
        by_data.send_binary_data(&body[..], &meta).unwrap();
        assert_eq!(by_file, by_data.into_inner());

        let wire = write(dir.path(), "wire", &by_file);
        // Small random recv sizes, as NVFlare's own tests do.
        let max_split = if size > (1 << 20) { "1024" } else { "17" };
        let got = peer(
            &spool,
            [
                "decode".as_ref(),
                wire.as_os_str(),
                max_split.as_ref(),
                "3".as_ref(),
            ],
        );
        assert_eq!(got["ct"], 1, "{got}");
        assert_eq!(got["meta"], meta.as_str());
        if size == 0 {
            // Python gives no file for an empty body (docs/wire.md fault 10).
            assert_eq!(got["file"], false);
        } else {
            assert_eq!(got["size"], size as u64);
            assert_eq!(got["sha256"], hex_sha256(&body));
        }
        assert_eq!(got["consumed"], by_file.len() as u64);
    }
}

#[test]
fn rust_text_to_python() {
    let dir = tempfile::tempdir().unwrap();
    let mut wire = Vec::new();
    send_text(&mut wire, r#"{"cmd":"list_jobs"}"#).unwrap();
    send_lines(&mut wire, [r#"{"status":"ok"}"#, r#"{"data":"中文"}"#]).unwrap();
    let first_len = 20;
    let path = write(dir.path(), "one", &wire[..first_len]);
    let got = peer(
        dir.path(),
        [
            "decode".as_ref(),
            path.as_os_str(),
            "1".as_ref(),
            "0".as_ref(),
        ],
    );
    assert_eq!(got["ct"], 0);
    assert_eq!(got["text"], r#"{"cmd":"list_jobs"}"#);
    // Python decodes each read on its own (docs/wire.md fault 1): non-ASCII text
    // reaches it intact only when no read splits a character, so it reads
    // in whole blocks here.
    let path = write(dir.path(), "two", &wire[first_len..]);
    let got = peer(
        dir.path(),
        [
            "decode".as_ref(),
            path.as_os_str(),
            "1000000000".as_ref(),
            "0".as_ref(),
        ],
    );
    assert_eq!(got["text"], r#"{"status":"ok"}{"data":"中文"}"#);
}

#[test]
fn golden_vectors_are_what_python_writes() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (name, meta, body) in golden_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let body_path = write(dir.path(), "body", &body);
        let meta_path = write(dir.path(), "meta", meta.as_bytes());
        let out = dir.path().join("wire");
        peer(
            dir.path(),
            [
                "encode-file".as_ref(),
                body_path.as_os_str(),
                meta_path.as_os_str(),
                out.as_os_str(),
            ],
        );
        let committed = std::fs::read(golden.join(format!("{name}.bin"))).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), committed, "{name}");
    }
}

/// The inputs of the committed golden vectors (`tests/golden/*.bin`).
fn golden_inputs() -> Vec<(&'static str, String, Vec<u8>)> {
    let pattern: Vec<u8> = (0..1025u32).map(|i| (i * 7 % 251) as u8).collect();
    vec![
        ("empty", String::new(), Vec::new()),
        ("one_zero_byte", String::new(), vec![0]),
        ("json_meta_1025", r#"{"cmd":"submit_job"}"#.into(), pattern),
        (
            "non_ascii_meta",
            "this is 中文信息".into(),
            b"hello world".to_vec(),
        ),
    ]
}

#[test]
fn golden_vectors_decode_and_encode() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (name, meta, body) in golden_inputs() {
        let wire = std::fs::read(golden.join(format!("{name}.bin"))).unwrap();
        let mut ours = Vec::new();
        send_binary_data(&mut ours, &body[..], &meta).unwrap();
        assert_eq!(ours, wire, "{name}: Rust encodes differently");
        let (m, mut b) = receive_all(&wire[..]).unwrap().into_binary().unwrap();
        let mut data = Vec::new();
        b.read_to_end(&mut data).unwrap();
        assert_eq!((m, data), (meta, body), "{name}");
    }
    let reply = std::fs::read(golden.join("reply_lines.txt")).unwrap();
    let got = receive_all(&reply[..]).unwrap();
    assert_eq!(got.as_text(), Some(r#"{"status":"ok"}{"data":[1,2]}"#));
}

#[test]
fn python_client_uploads_to_rust_server_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let size = 64 << 20;
    let body = random_bytes(size, 77);
    let body_path = write(dir.path(), "job.zip", &body);
    let meta = r#"{"cmd":"submit_job","name":"中文"}"#;
    let meta_path = write(dir.path(), "meta", meta.as_bytes());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let child = spawn_peer(
        dir.path(),
        [
            "tcp-send-file".as_ref(),
            port.as_ref(),
            body_path.as_os_str(),
            meta_path.as_os_str(),
        ],
    );
    let mut sock = accept(&listener);
    let (got_meta, mut got_body) = ExchangeHandler::new(&mut sock)
        .receive_all()
        .unwrap()
        .into_binary()
        .unwrap();
    assert_eq!(got_meta, meta);
    assert_eq!(got_body.len(), size as u64);
    let mut data = Vec::with_capacity(size);
    got_body.read_to_end(&mut data).unwrap();
    assert!(data == body);
    send_lines(&mut sock, [r#"{"status":"ok"}"#]).unwrap();
    let report = finish(child);
    assert_eq!(report["sent"], size as u64);
    assert_eq!(report["reply"]["text"], r#"{"status":"ok"}"#);
}

#[test]
fn rust_client_downloads_to_python_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let size = 64 << 20;
    let body = random_bytes(size, 78);
    let body_path = write(dir.path(), "model.bin", &body);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let child = spawn_peer(dir.path(), ["tcp-recv", &port, "1024"]);
    let mut sock = accept(&listener);
    send_binary_file(&mut sock, &body_path, r#"{"name":"model.bin"}"#).unwrap();
    // NVFlare-style reply: two JSON lines, LINE_END between, ALL_END at the end.
    let reply = ExchangeHandler::new(&mut sock).receive_all().unwrap();
    assert_eq!(reply.content_type(), ContentType::Text);
    assert_eq!(
        reply.as_text(),
        Some(
            format!(r#"{{"status": "ok", "received": {size}}}{{"note": "\u4e2d\u6587"}}"#).as_str()
        )
    );
    let report = finish(child);
    assert_eq!(report["meta"], r#"{"name":"model.bin"}"#);
    assert_eq!(report["sha256"], hex_sha256(&body));
}

#[test]
fn python_reply_lines_keep_their_structure() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let child = spawn_peer(dir.path(), ["tcp-recv", &port, "3"]);
    let mut sock = accept(&listener);
    send_binary_data(&mut sock, &b"tiny"[..], "").unwrap();
    let mut p = nvflare_hci::MsgDataProcessor::new().keep_line_ends(true);
    let reply = ExchangeHandler::new(SplitReader::new(&mut sock, 1, 1))
        .receive_and_parse(&mut p)
        .unwrap();
    let lines: Vec<Value> = reply
        .as_text()
        .unwrap()
        .split('\x03')
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["received"], 4);
    assert_eq!(lines[1]["note"], "中文");
    finish(child);
}
