//! `nvflare-admin`'s scripted session against `nvflare-admin-server`: a
//! POC's kits, the server as a real process on loopback (a free port),
//! stopped by its PID.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use common::prepare;
use common::python::admin_python;
use serde_json::Value;

const SERVER: &str = env!("CARGO_BIN_EXE_nvflare-admin-server");

/// The server, killed by its PID when dropped; its stdout's records.
struct Server {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(kit: &Path, store: &Path) -> Server {
        let mut child = Command::new(SERVER)
            .arg("--kit")
            .arg(kit)
            .arg("--store")
            .arg(store)
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let port = first
            .trim()
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("first line: {first:?}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Server { child, lines, port }
    }

    /// The commands recorded so far, once more than `after` of them are
    /// recorded and the last is `_logout` (the records are read on another
    /// thread), or after 5 s.
    fn commands_to_logout(&self, after: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let c = self.commands();
            if (c.len() > after && c.last().map(String::as_str) == Some("_logout"))
                || std::time::Instant::now() > deadline
            {
                return c;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The commands recorded so far, in order.
    fn commands(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|r| r["command"].as_str().map(str::to_owned))
            .collect()
    }
}

fn session(kit: &Path, port: u16, script: &str) -> Output {
    let mut child = Command::new(common::NVFLARE_ADMIN)
        .arg("--kit")
        .arg(kit)
        .args([
            "--host",
            "127.0.0.1",
            "--server-name",
            "localhost",
            "--port",
        ])
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_scripted_session_against_nvflare_admin_server() {
    let work = tempfile::tempdir().unwrap();
    let ws = work.path().join("ws");
    prepare(admin_python(), &ws, None);
    let prod = ws.join("example_project").join("prod_00");
    let server = Server::start(&prod.join("server"), &work.path().join("store"));
    let kit = prod.join("admin@nvidia.com");

    let job = work.path().join("hello");
    std::fs::create_dir_all(job.join("app/config")).unwrap();
    std::fs::write(
        job.join("meta.json"),
        r#"{"name": "hello", "resource_spec": {}, "min_clients": 1, "deploy_map": {"app": ["@ALL"]}}"#,
    )
    .unwrap();
    for side in ["server", "client"] {
        std::fs::write(
            job.join(format!("app/config/config_fed_{side}.json")),
            r#"{"format_version": 2}"#,
        )
        .unwrap();
    }
    let script = format!(
        "help\nhelp submit_job\nsubmit_job {}\nlist_jobs\nlist_sp\ntimeout 3\ncheck_status server\nbye\nlist_jobs\n",
        job.display()
    );
    let out = session(&kit, server.port, &script);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{text}{err}");
    assert!(text.contains("Server Commands"), "{text}");
    assert!(text.contains("Command: job_mgmt.submit_job"), "{text}");
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("Submitted job: "))
        .unwrap_or_else(|| panic!("no job id: {text}{err}"))
        .to_owned();
    assert!(text.contains(&id) && text.contains("hello"), "{text}");
    assert!(text.contains("'sp_end_point': 'localhost:"), "{text}");
    assert!(text.contains("command timeout is set to 3.0"), "{text}");

    let commands = server.commands_to_logout(0);
    assert_eq!(
        commands.last().map(String::as_str),
        Some("_logout"),
        "{commands:?}"
    );
    // bye ended the session: the list_jobs after it never ran.
    assert_eq!(
        commands
            .iter()
            .filter(|c| c.starts_with("list_jobs"))
            .count(),
        1,
        "{commands:?}"
    );

    // A failure stops a script, logged out, exit 1.
    let before = server.commands().len();
    let out = session(
        &kit,
        server.port,
        "list_jobs\nget_job_meta nope\nlist_jobs\n",
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let commands = server.commands_to_logout(before)[before..].to_vec();
    assert_eq!(
        commands
            .iter()
            .filter(|c| c.starts_with("list_jobs"))
            .count(),
        1,
        "ran past the failure: {commands:?}"
    );
    assert_eq!(
        commands.last().map(String::as_str),
        Some("_logout"),
        "{commands:?}"
    );
    // End of input logs out too.
    let before = server.commands().len();
    let out = session(&kit, server.port, "list_jobs\n");
    assert!(out.status.success());
    let commands = server.commands_to_logout(before);
    assert_eq!(commands.last().map(String::as_str), Some("_logout"));
    assert_eq!(commands[commands.len() - 2], "list_jobs", "{commands:?}");

    // A server that never answers the handshake: the error says it timed
    // out, after how long, and with whom.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let out = Command::new(common::NVFLARE_ADMIN)
        .arg("--kit")
        .arg(&kit)
        .args([
            "--host",
            "127.0.0.1",
            "--server-name",
            "localhost",
            "--timeout",
            "1",
        ])
        .arg("--port")
        .arg(port.to_string())
        .args(["run", "list_jobs"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "TLS handshake with 127.0.0.1:{port} (localhost): timed out after 1."
        )) && !err.contains("os error 11"),
        "{err}"
    );
    drop(silent);
}

/// At a terminal: completion, confirmation where NVFlare asks for it,
/// Ctrl-C stopping the running command only, history, Ctrl-D logging out.
#[test]
fn the_interactive_session_at_a_terminal() {
    let work = tempfile::tempdir().unwrap();
    let ws = work.path().join("ws");
    prepare(admin_python(), &ws, None);
    let prod = ws.join("example_project").join("prod_00");
    let server = Server::start(&prod.join("server"), &work.path().join("store"));
    let kit = prod.join("admin@nvidia.com");
    let job = work.path().join("hello");
    std::fs::create_dir_all(job.join("app/config")).unwrap();
    std::fs::write(
        job.join("meta.json"),
        r#"{"name": "hello", "resource_spec": {}, "min_clients": 1, "deploy_map": {"app": ["@ALL"]}}"#,
    )
    .unwrap();
    for side in ["server", "client"] {
        std::fs::write(
            job.join(format!("app/config/config_fed_{side}.json")),
            r#"{"format_version": 2}"#,
        )
        .unwrap();
    }
    let out = session(
        &kit,
        server.port,
        &format!("submit_job {}\n", job.display()),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("Submitted job: "))
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();

    // download_job ID DESTINATION, into the kit's transfer folder; a
    // second one into the same name fails and stops the script.
    let out = session(
        &kit,
        server.port,
        &format!("download_job {id} copy\ndownload_job {id} copy\n"),
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("copy already exists"), "{err}");
    let copy = kit.join("transfer").join("copy");
    assert!(copy.join("meta.json").is_file() && copy.join("job/hello/meta.json").is_file());

    let history = work.path().join("history");
    let steps = serde_json::json!([
        ["expect", "> "],
        ["send", "get_active\t\r"],
        ["expect", "SP(name='localhost'"],
        ["send", format!("delete_job {id}\r")],
        ["expect", "Confirm with User Name: "],
        ["send", "someone\r"],
        ["expect", "user name mismatch: someone != admin@nvidia.com"],
        ["send", format!("abort_job {id}\r")],
        ["expect", "Are you sure (y/N): "],
        ["send", "n\r"],
        ["expect", "> "],
        ["send", format!("wait {id}\r")],
        ["expect", format!("{id}: SUBMITTED")],
        ["send", "\u{3}"],
        ["expect", "error: interrupted"],
        ["expect", "> "],
        ["send", format!("delete_job {id}\r")],
        ["expect", "Confirm with User Name: "],
        ["send", "admin@nvidia.com\r"],
        ["expect", "> "],
        ["send", "\u{4}"],
    ]);
    let port = server.port.to_string();
    let out = Command::new(admin_python())
        .arg(common::interop("pty_session.py"))
        .arg(steps.to_string())
        .args([common::NVFLARE_ADMIN, "--kit"])
        .arg(&kit)
        .args(["--host", "127.0.0.1", "--server-name", "localhost"])
        .args(["--port", &port, "--history"])
        .arg(&history)
        .output()
        .unwrap();
    let transcript = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{transcript}");

    let commands = server.commands_to_logout(0);
    let deletes = format!("delete_job {id}");
    assert_eq!(
        commands.iter().filter(|c| **c == deletes).count(),
        1,
        "only the confirmed delete reached the server: {commands:?}\n{transcript}"
    );
    assert!(
        !commands.iter().any(|c| c.starts_with("abort_job")),
        "a declined abort was sent: {commands:?}"
    );
    assert_eq!(commands.last().map(String::as_str), Some("_logout"));
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(
        saved.contains("get_active_sp") && saved.contains(&deletes),
        "{saved}"
    );
}
