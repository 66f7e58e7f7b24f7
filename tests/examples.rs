//! The short programs under `examples/`, run as a user runs them: the
//! server and the client against each other, and the custom processor.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{example_binary, random_bytes, Killed};

#[test]
fn client_and_server() {
    let mut server = Killed(
        Command::new(example_binary("server"))
            .arg("127.0.0.1:0")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.strip_prefix("listening on ").expect(&first);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("job.zip");
    let body = random_bytes(300_000, 5);
    std::fs::write(&file, &body).unwrap();
    let out = Command::new(example_binary("client"))
        .arg(addr)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let replies: Vec<&str> = stdout.lines().collect();
    assert_eq!(replies.len(), 3, "{stdout}");
    let echo: serde_json::Value = serde_json::from_str(replies[0]).unwrap();
    assert_eq!(echo["echo"], r#"{"cmd":"check_status"}"#);
    assert_eq!(
        replies[1],
        format!("sent 300000 bytes, crc32 {}", crc32fast::hash(&body))
    );
    let upload: serde_json::Value = serde_json::from_str(replies[2]).unwrap();
    assert_eq!(upload["size"], 300_000);
    assert_eq!(upload["crc32"], crc32fast::hash(&body));
    assert_eq!(upload["meta"], r#"{"cmd":"submit_job"}"#);

    // A client with nothing to connect to fails with one line, exit 1.
    drop(server);
    let out = Command::new(example_binary("client"))
        .arg(addr)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("client: "));
}

#[test]
fn custom_processor() {
    let out = Command::new(example_binary("processor")).output().unwrap();
    assert!(out.status.success());
    let crc = crc32fast::hash(&vec![7u8; 1 << 20]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "text: 3 lines\nbinary: meta {{\"cmd\":\"submit_job\"}}, 1048576 bytes, crc32 {crc:08x}\n"
        )
    );
}
