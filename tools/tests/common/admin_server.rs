//! `nvflare-admin-server` as its tests start it: a provisioned project
//! (a server kit, and an admin kit for each role), the server as a real
//! process on loopback stopped by its PID, NVFlare's own client driven by
//! steps, and raw requests over TLS.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nvflare_hci::GenerateDataFromFile;
use nvflare_hci_tools::admin::session::{Kit, Session, Target};
use nvflare_hci_tools::jobs;
use rustls::{ClientConnection, StreamOwned};
use serde_json::{json, Value};

use super::python::admin_python;
use super::{checked, files_under, free_port, interop, prepare};

pub const SERVER: &str = env!("CARGO_BIN_EXE_nvflare-admin-server");

/// The POC's project, with an admin for each role (and one of another org).
pub const PROJECT: &str = "api_version: 3
builders:
- args:
    template_file:
    - master_template.yml
    - aws_template.yml
    - azure_template.yml
  path: nvflare.lighter.impl.workspace.WorkspaceBuilder
- args:
    config_folder: config
    overseer_agent:
      args:
        sp_end_point: localhost:FL_PORT:ADMIN_PORT
      overseer_exists: false
      path: nvflare.ha.dummy_overseer_agent.DummyOverseerAgent
  path: nvflare.lighter.impl.static_file.StaticFileBuilder
- path: nvflare.lighter.impl.cert.CertBuilder
- path: nvflare.lighter.impl.signature.SignatureBuilder
description: nvflare-admin-server tests
name: example_project
participants:
- admin_port: ADMIN_PORT
  default_host: localhost
  fed_learn_port: FL_PORT
  name: server
  org: nvidia
  type: server
- {name: admin@nvidia.com, org: nvidia, role: project_admin, type: admin}
- {name: orgadmin@nvidia.com, org: nvidia, role: org_admin, type: admin}
- {name: orgadmin@other.org, org: other, role: org_admin, type: admin}
- {name: lead@nvidia.com, org: nvidia, role: lead, type: admin}
- {name: lead2@nvidia.com, org: nvidia, role: lead, type: admin}
- {name: member@nvidia.com, org: nvidia, role: member, type: admin}
- {name: site-1, org: nvidia, type: client}
";

/// A provisioned project: the server kit and an admin kit per user.
pub struct Poc {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub prod: PathBuf,
    pub port: u16,
}

impl Poc {
    pub fn new() -> Poc {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let port = free_port();
        let project = PROJECT
            .replace("ADMIN_PORT", &port.to_string())
            .replace("FL_PORT", &free_port().to_string());
        let file = root.join("project.yml");
        std::fs::write(&file, project).unwrap();
        let ws = root.join("ws");
        prepare(admin_python(), &ws, Some(&file));
        let prod = ws.join("example_project").join("prod_00");
        Poc {
            _dir: dir,
            root,
            prod,
            port,
        }
    }

    pub fn server_kit(&self) -> PathBuf {
        self.prod.join("server")
    }

    pub fn admin(&self, user: &str) -> PathBuf {
        self.prod.join(user)
    }

    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    pub fn dir(&self) -> &Path {
        &self.root
    }
}

/// The server process, stopped by its PID when dropped; its log lines.
pub struct Server {
    /// The server, or `strace` running it.
    pub child: Child,
    /// The server's PID under `strace`.
    pub traced: Option<u32>,
    pub lines: Arc<Mutex<Vec<String>>>,
    pub addr: String,
}

impl Server {
    pub fn start(poc: &Poc, args: &[&str]) -> Server {
        Server::start_in(poc, &poc.store(), args, None)
    }

    pub fn start_in(poc: &Poc, store: &Path, args: &[&str], tmpdir: Option<&Path>) -> Server {
        Server::spawn(Command::new(SERVER), poc, store, args, tmpdir, false)
    }

    /// The server under `strace -f -y` (file syncs and renames), its trace
    /// written to `log`.
    pub fn start_traced(poc: &Poc, log: &Path) -> Server {
        let mut cmd = Command::new("strace");
        cmd.args([
            "-f",
            "-y",
            "-e",
            "trace=fsync,rename,renameat,renameat2",
            "-o",
        ])
        .arg(log)
        .arg(SERVER);
        Server::spawn(cmd, poc, &poc.store(), &[], None, true)
    }

    fn spawn(
        mut cmd: Command,
        poc: &Poc,
        store: &Path,
        args: &[&str],
        tmpdir: Option<&Path>,
        traced: bool,
    ) -> Server {
        cmd.arg("--kit")
            .arg(poc.server_kit())
            .arg("--store")
            .arg(store)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(t) = tmpdir {
            cmd.env("TMPDIR", t);
        }
        let mut child = cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {first:?}"))
            .to_owned();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || collect(out, sink));
        // Under strace, the server is strace's only child.
        let traced = traced.then(|| {
            let children = format!("/proc/{0}/task/{0}/children", child.id());
            std::fs::read_to_string(children)
                .unwrap()
                .split_whitespace()
                .next()
                .expect("the traced server")
                .parse()
                .unwrap()
        });
        Server {
            child,
            traced,
            lines,
            addr,
        }
    }

    /// The audit records so far.
    pub fn records(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    pub fn port(&self) -> u16 {
        self.addr.rsplit_once(':').unwrap().1.parse().unwrap()
    }

    /// Peak RSS so far, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// SIGTERM by PID; the exit status, which must come within 2 s.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        checked(
            "kill",
            Command::new("kill").args(["-TERM", &pid]).output().unwrap(),
        );
        let sent = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    sent.elapsed() < Duration::from_secs(2),
                    "{:?}",
                    sent.elapsed()
                );
                return status;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(2),
                "still running 2 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub fn collect(out: BufReader<ChildStdout>, sink: Arc<Mutex<Vec<String>>>) {
    for line in out.lines() {
        match line {
            Ok(l) => sink.lock().unwrap().push(l),
            Err(_) => break,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(pid) = self.traced {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs NVFlare's own client on `steps` (see admin_server_client.py).
pub fn flare(steps: Value) -> Vec<Value> {
    let out = checked(
        "admin_server_client.py",
        Command::new(admin_python())
            .arg(interop("admin_server_client.py"))
            .arg(steps.to_string())
            .output()
            .unwrap(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {text}"))
}

pub fn login(s: &str, poc: &Poc, user: &str) -> Value {
    json!({"op": "login", "s": s, "kit": poc.admin(user), "user": user})
}

pub fn call(s: &str, method: &str, args: Value) -> Value {
    json!({"op": "call", "s": s, "method": method, "args": args})
}

/// The exception a step raised, if any.
pub fn error_of(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

/// A job folder: meta.json named `name`, one app for all sites, and `extra`
/// files under app/custom.
pub fn make_job(root: &Path, folder: &str, name: &str, extra: &[(&str, Vec<u8>)]) -> PathBuf {
    let job = root.join(folder);
    std::fs::create_dir_all(job.join("app/config")).unwrap();
    std::fs::create_dir_all(job.join("app/custom")).unwrap();
    let meta = json!({"name": name, "resource_spec": {}, "min_clients": 1,
                      "deploy_map": {"app": ["@ALL"]}});
    std::fs::write(job.join("meta.json"), meta.to_string()).unwrap();
    std::fs::write(
        job.join("app/config/config_fed_server.json"),
        r#"{"format_version": 2, "workflows": [], "components": []}"#,
    )
    .unwrap();
    std::fs::write(
        job.join("app/config/config_fed_client.json"),
        r#"{"format_version": 2, "executors": [], "components": []}"#,
    )
    .unwrap();
    for (file, data) in extra {
        std::fs::write(job.join("app/custom").join(file), data).unwrap();
    }
    job
}

/// The files of `a` and `b` are the same, byte for byte (signature files
/// apart: each signing makes new ones, and `nvflare-admin` signs a copy).
pub fn assert_same_files(a: &Path, b: &Path) {
    let job_files = |d: &Path| -> Vec<PathBuf> {
        files_under(d)
            .into_iter()
            .filter(|f| !f.ends_with(jobs::SIG_FILE) && !f.ends_with(jobs::SUBMITTER_CRT))
            .collect()
    };
    let (fa, fb) = (job_files(a), job_files(b));
    assert_eq!(fa, fb);
    assert!(b.join(jobs::SIG_FILE).is_file(), "the download is signed");
    for f in fa {
        let same = nvflare_hci_tools::hci::same_content(&a.join(&f), &b.join(&f)).unwrap();
        assert!(same, "{} differs", f.display());
    }
}

/// A Rust session with an admin kit, straight to the server.
pub fn rust_session(poc: &Poc, user: &str, port: u16) -> Result<Session, String> {
    let kit = Kit::load(&poc.admin(user)).unwrap();
    let target = Target {
        host: "127.0.0.1".into(),
        port,
        server_name: "localhost".into(),
        timeout: Duration::from_secs(10),
    };
    Session::login(&kit, target).map_err(|e| e.to_string())
}

/// Signs a copy of `job` with `kit`'s key and certificate, lets `change`
/// alter it, zips it, and uploads it raw as `submit_job`.
pub fn raw_submit(
    session: &Session,
    job: &Path,
    kit: &Path,
    work: &Path,
    change: impl FnOnce(&Path),
) -> Value {
    let name = job.file_name().unwrap().to_str().unwrap();
    let copy = work.join("signed").join(name);
    let _ = std::fs::remove_dir_all(&copy);
    jobs::copy_folder(job, &copy).unwrap();
    let startup = kit.join("startup");
    let key = jobs::load_key(&startup.join("client.key")).unwrap();
    jobs::sign_folder(&copy, &key, &startup.join("client.crt")).unwrap();
    change(&copy);
    let zip = work.join("upload.zip");
    jobs::zip_folder(&copy, name, &zip).unwrap();
    let body = GenerateDataFromFile::open(&zip).unwrap();
    let reply = session
        .upload(&format!("job_mgmt.submit_job {name}"), body)
        .unwrap();
    reply.json
}

pub fn jobs_in_store(poc: &Poc) -> Vec<String> {
    let dir = poc.store().join("jobs");
    if dir.exists() {
        super::entries(&dir)
    } else {
        Vec::new()
    }
}

pub fn status_of(reply: &Value) -> (String, String) {
    let status = reply["meta"]["status"].as_str().unwrap_or("").to_owned();
    let error = reply["data"]
        .as_array()
        .and_then(|d| d.iter().find(|i| i["type"] == "error"))
        .and_then(|i| i["data"].as_str())
        .unwrap_or("")
        .to_owned();
    (status, error)
}

/// A connection of `user`, logged in, that has sent the header of a
/// `submit_job` announcing `announced` bytes and `sent` bytes of its body
/// (`token`: whether the request carries the session's token). The caller
/// holds it, or drops it to cut the upload off.
pub fn partial_upload(
    poc: &Poc,
    port: u16,
    user: &str,
    token: bool,
    announced: u64,
    sent: usize,
) -> StreamOwned<ClientConnection, TcpStream> {
    let session = rust_session(poc, user, port).unwrap();
    let kit = Kit::load(&poc.admin(user)).unwrap();
    let config = nvflare_hci_tools::admin::session::tls_config(&kit).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut tls =
        nvflare_hci_tools::tls::client_stream(&config, "localhost", tcp, Duration::from_secs(10))
            .unwrap();
    let token = token.then(|| session.token());
    let meta = nvflare_hci_tools::admin::session::request("submit_job cut", token);
    let mut head = vec![1u8];
    head.extend_from_slice(&(meta.len() as u32).to_be_bytes());
    head.extend_from_slice(&announced.to_be_bytes());
    head.extend_from_slice(meta.as_bytes());
    tls.write_all(&head).unwrap();
    tls.write_all(&vec![7u8; sent]).unwrap();
    tls.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    tls
}

/// An upload cut off midway.
pub fn truncated_upload(poc: &Poc, port: u16, user: &str, announced: u64, sent: usize) {
    drop(partial_upload(poc, port, user, true, announced, sent));
}
