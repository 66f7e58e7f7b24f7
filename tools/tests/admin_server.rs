//! `nvflare-admin-server` against NVFlare 2.6.3's own admin client
//! (`flare_api`, the console `fl_admin.sh` runs) and against `nvflare-admin`:
//! kits from `nvflare poc prepare` with an admin for each role, the server
//! as a real process on loopback, started per test on a free port and
//! stopped by its PID.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::python::admin_python;
use nvflare_hci::GenerateDataFromFile;
use nvflare_hci_tools::admin::session::{Kit, Session, Target};
use nvflare_hci_tools::jobs;
use serde_json::{json, Value};

const SERVER: &str = env!("CARGO_BIN_EXE_nvflare-admin-server");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn interop(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(file)
}

fn checked(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The POC's project, with an admin for each role (and one of another org).
const PROJECT: &str = "api_version: 3
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
struct Poc {
    _dir: tempfile::TempDir,
    root: PathBuf,
    prod: PathBuf,
    port: u16,
}

impl Poc {
    fn new() -> Poc {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let port = free_port();
        let project = PROJECT
            .replace("ADMIN_PORT", &port.to_string())
            .replace("FL_PORT", &free_port().to_string());
        let file = root.join("project.yml");
        std::fs::write(&file, project).unwrap();
        let ws = root.join("ws");
        let mut child = Command::new(admin_python())
            .args([
                "-c",
                "import sys; from nvflare.cli import main; sys.exit(main())",
            ])
            .args(["poc", "prepare", "-n", "1", "-i"])
            .arg(&file)
            .env("NVFLARE_POC_WORKSPACE", &ws)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(b"y\n");
        checked("nvflare poc prepare", child.wait_with_output().unwrap());
        let prod = ws.join("example_project").join("prod_00");
        Poc {
            _dir: dir,
            root,
            prod,
            port,
        }
    }

    fn server_kit(&self) -> PathBuf {
        self.prod.join("server")
    }

    fn admin(&self, user: &str) -> PathBuf {
        self.prod.join(user)
    }

    fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    fn dir(&self) -> &Path {
        &self.root
    }
}

/// The server process, stopped by its PID when dropped; its log lines.
struct Server {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    addr: String,
}

impl Server {
    fn start(poc: &Poc, args: &[&str]) -> Server {
        Server::start_in(poc, &poc.store(), args, None)
    }

    fn start_in(poc: &Poc, store: &Path, args: &[&str], tmpdir: Option<&Path>) -> Server {
        let mut cmd = Command::new(SERVER);
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
        Server { child, lines, addr }
    }

    /// The audit records so far.
    fn records(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn port(&self) -> u16 {
        self.addr.rsplit_once(':').unwrap().1.parse().unwrap()
    }

    /// Peak RSS so far, in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// SIGTERM by PID; the exit status, which must come within 2 s.
    fn terminate(mut self) -> std::process::ExitStatus {
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

fn collect(out: BufReader<ChildStdout>, sink: Arc<Mutex<Vec<String>>>) {
    for line in out.lines() {
        match line {
            Ok(l) => sink.lock().unwrap().push(l),
            Err(_) => break,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs NVFlare's own client on `steps` (see admin_server_client.py).
fn flare(steps: Value) -> Vec<Value> {
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

fn login(s: &str, poc: &Poc, user: &str) -> Value {
    json!({"op": "login", "s": s, "kit": poc.admin(user), "user": user})
}

fn call(s: &str, method: &str, args: Value) -> Value {
    json!({"op": "call", "s": s, "method": method, "args": args})
}

/// The exception a step raised, if any.
fn error_of(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

/// A job folder: meta.json named `name`, one app for all sites, and `extra`
/// files under app/custom.
fn make_job(root: &Path, folder: &str, name: &str, extra: &[(&str, Vec<u8>)]) -> PathBuf {
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

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The files of `a` and `b` are the same, byte for byte (signatures
/// apart: each signing makes new ones).
fn assert_same_files(a: &Path, b: &Path) {
    let (fa, fb) = (files_under(a), files_under(b));
    assert_eq!(fa, fb);
    for f in fa.into_iter().filter(|f| !f.ends_with(jobs::SIG_FILE)) {
        let same = nvflare_hci_tools::hci::same_content(&a.join(&f), &b.join(&f)).unwrap();
        assert!(same, "{} differs", f.display());
    }
}

/// A Rust session with an admin kit, straight to the server.
fn rust_session(poc: &Poc, user: &str, port: u16) -> Result<Session, String> {
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
fn raw_submit(
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

fn jobs_in_store(poc: &Poc) -> Vec<String> {
    let dir = poc.store().join("jobs");
    if dir.exists() {
        common::entries(&dir)
    } else {
        Vec::new()
    }
}

#[test]
fn nvflare_client_runs_every_job_command() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    assert_eq!(server.port(), poc.port, "the port comes from the kit");
    let work = poc.dir();
    // A name of 1000 CJK characters: each reply read of 1024 bytes is
    // decoded alone by the client, so only ASCII JSON survives.
    let long_name: String = "中".repeat(1000);
    let job = make_job(
        work,
        "hello-job",
        &long_name,
        &[("Grüße.txt", "grüße".into())],
    );
    let bad = make_job(work, "bad-job", "bad", &[]);
    std::fs::write(
        bad.join("meta.json"),
        r#"{"name": "bad", "deploy_map": {}}"#,
    )
    .unwrap();
    let r = flare(json!([
        login("a", &poc, "admin@nvidia.com"),
        call("a", "get_system_info", json!([])),
        call("a", "submit_job", json!([job])),
        call("a", "submit_job", json!([job])),
        call("a", "submit_job", json!([bad])),
        call("a", "get_job_meta", json!(["0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"])),
        call("a", "get_job_meta", json!(["not-a-job-id"])),
        {"op": "raw", "s": "a", "command": "list_jobs"},
        {"op": "raw", "s": "a", "command": "list_jobs -d -r -m 1"},
        {"op": "raw", "s": "a", "command": "list_jobs -n 中中"},
        {"op": "raw", "s": "a", "command": "list_jobs -n nomatch"},
        {"op": "raw", "s": "a", "command": "_check_session"},
        json!({"op": "login", "s": "wrong", "kit": poc.admin("admin@nvidia.com"), "user": "lead@nvidia.com"}),
    ]));
    assert_eq!(r[0], "ok", "{r:?}");
    assert!(
        r[1].as_str().unwrap().contains("status: stopped"),
        "{}",
        r[1]
    );
    let (id1, id2) = (
        r[2].as_str().unwrap().to_owned(),
        r[3].as_str().unwrap().to_owned(),
    );
    assert_eq!(error_of(&r[4]), "InvalidJobDefinition", "{}", r[4]);
    assert!(r[4]["message"]
        .as_str()
        .unwrap()
        .contains("deploy_map is empty"));
    assert_eq!(error_of(&r[5]), "JobNotFound", "{}", r[5]);
    assert_eq!(error_of(&r[6]), "JobNotFound", "{}", r[6]);
    let listed = r[7]["meta"]["jobs"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["job_id"], id1.as_str(), "oldest first");
    assert_eq!(
        listed[0]["job_name"],
        long_name.as_str(),
        "non-ASCII intact"
    );
    let detailed = r[8]["meta"]["jobs"].as_array().unwrap();
    assert_eq!(detailed.len(), 1);
    assert_eq!(detailed[0]["job_id"], id2.as_str(), "-r -m 1: the newest");
    assert_eq!(detailed[0]["submitter_role"], "project_admin");
    assert_eq!(r[9]["meta"]["jobs"].as_array().unwrap().len(), 2);
    assert_eq!(r[10]["meta"]["jobs"], json!([]));
    assert!(r[11].to_string().contains("OK"), "{}", r[11]);
    assert_ne!(
        r[12], "ok",
        "a name that is not the certificate's logged in"
    );

    // Prefixes, meta, download, clone, abort, stats, delete.
    let prefix = &id1[..6];
    let r = flare(json!([
        login("a", &poc, "admin@nvidia.com"),
        call("a", "list_jobs", json!([])),
        {"op": "call", "s": "a", "method": "list_jobs", "kwargs": {"id_prefix": prefix.to_uppercase(), "name_prefix": "中"}},
        call("a", "get_job_meta", json!([id1])),
        call("a", "download_job_result", json!([id1])),
        call("a", "clone_job", json!([id1])),
        call("a", "abort_job", json!([id1])),
        call("a", "get_job_meta", json!([id1])),
        call("a", "show_stats", json!([id1, "server"])),
        call("a", "show_errors", json!([id1, "server"])),
        call("a", "delete_job", json!([id2])),
        call("a", "get_job_meta", json!([id2])),
        call("a", "delete_job", json!([id2])),
    ]));
    assert_eq!(r[1].as_array().unwrap().len(), 2, "{}", r[1]);
    let by_prefix = r[2].as_array().unwrap();
    assert!(by_prefix
        .iter()
        .all(|j| j["job_id"].as_str().unwrap().starts_with(prefix)));
    assert!(by_prefix.iter().any(|j| j["job_id"] == id1.as_str()));
    let meta = &r[3];
    for (k, v) in [
        ("job_id", json!(id1)),
        ("name", json!(long_name)),
        ("status", json!("SUBMITTED")),
        ("submitter_name", json!("admin@nvidia.com")),
        ("submitter_org", json!("nvidia")),
        ("job_folder_name", json!("hello-job")),
        ("data_storage_format", json!(2)),
        ("duration", json!("N/A")),
        ("start_time", json!("")),
    ] {
        assert_eq!(meta[k], v, "{k}: {meta}");
    }
    let location = PathBuf::from(r[4].as_str().unwrap());
    assert_same_files(&job, &location.join("job").join("hello-job"));
    let got: Value =
        serde_json::from_slice(&std::fs::read(location.join("meta.json")).unwrap()).unwrap();
    assert_eq!(got["job_id"], id1.as_str());
    let clone = r[5].as_str().unwrap().to_owned();
    assert_ne!(clone, id1);
    assert_eq!(r[6], Value::Null, "{}", r[6]);
    assert_eq!(r[7]["status"], "FINISHED:ABORTED");
    assert_eq!(error_of(&r[8]), "JobNotRunning", "{}", r[8]);
    assert_eq!(error_of(&r[9]), "JobNotRunning", "{}", r[9]);
    assert_eq!(r[10], Value::Null, "{}", r[10]);
    assert_eq!(error_of(&r[11]), "JobNotFound");
    assert_eq!(error_of(&r[12]), "JobNotFound");
    let r = flare(json!([
        login("l", &poc, "lead@nvidia.com"),
        call("l", "get_job_meta", json!([clone])),
    ]));
    assert_eq!(r[1]["cloned_from"], id1.as_str());
    assert_eq!(r[1]["status"], "SUBMITTED");

    // The audit log: one line per request, who and how it ended.
    let records = server.records();
    let submit = records
        .iter()
        .find(|r| r["command"].as_str().unwrap_or("").contains("submit_job") && r["status"] == "ok")
        .expect("a submit in the log");
    assert_eq!(submit["user"], "admin@nvidia.com");
    assert_eq!(submit["org"], "nvidia");
    assert_eq!(submit["role"], "project_admin");
    assert!(submit["bytes_in"].as_u64().unwrap() > 1000);
    assert!(submit["bytes_out"].as_u64().unwrap() > 0);
    assert!(submit["time"].as_str().unwrap().contains('T'));
    assert!(records.iter().any(|r| r["status"] == "invalid_job_def"));
    assert!(records.iter().any(|r| r["status"] == "invalid_job_id"));
}
