//! `nvflare-admin` against a real NVFlare 2.6.3 admin server: provisioned
//! as a POC in a temp dir, started on loopback only (binds rewritten by
//! `tests/interop/loopback/sitecustomize.py`, ports chosen free), and
//! stopped by its PID whatever happens. NVFlare's own client (`flare_api`)
//! and verifier (`verify_folder_signature`) check what the console did.
//!
//! One test, in steps, because the steps share one server.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::python::admin_python;
use common::tls::Pki;
use common::{checked, files_under, free_port, interop, prepare};
use serde_json::Value;

/// The server process, stopped by its PID when dropped.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM by PID, then SIGKILL if it lingers.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").arg(&pid).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Poc {
    admin_kit: PathBuf,
    server: Server,
}

fn start_poc(work: &Path) -> Poc {
    let python = admin_python();
    let (fl_port, admin_port) = (free_port(), free_port());
    // Prepare once for the project file, then again with free ports.
    let first = work.join("first");
    prepare(python, &first, None);
    let project = std::fs::read_to_string(first.join("project.yml")).unwrap();
    let project = project
        .replace(
            "fed_learn_port: 8002",
            &format!("fed_learn_port: {fl_port}"),
        )
        .replace("admin_port: 8003", &format!("admin_port: {admin_port}"))
        .replace(":8002:8003", &format!(":{fl_port}:{admin_port}"));
    assert!(
        project.contains(&format!("admin_port: {admin_port}")),
        "{project}"
    );
    let project_file = work.join("project.yml");
    std::fs::write(&project_file, project).unwrap();
    let ws = work.join("ws");
    prepare(python, &ws, Some(&project_file));
    let prod = ws.join("example_project").join("prod_00");
    let server_kit = prod.join("server");
    std::fs::create_dir_all(server_kit.join("transfer")).unwrap();
    let log = work.join("server.log");
    // The command of the kit's sub_start.sh, without its restart loop.
    let child = Command::new(python)
        .args([
            "-u",
            "-m",
            "nvflare.private.fed.app.server.server_train",
            "-m",
        ])
        .arg(&server_kit)
        .args([
            "-s",
            "fed_server.json",
            "--set",
            "secure_train=true",
            "org=nvidia",
            "config_folder=config",
        ])
        .current_dir(&server_kit)
        .env("PYTHONPATH", interop("loopback"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::from(
            std::fs::File::options().append(true).open(&log).unwrap(),
        ))
        .spawn()
        .unwrap();
    let server = Server { child, log };
    let deadline = Instant::now() + Duration::from_secs(90);
    while TcpStream::connect(("127.0.0.1", admin_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the admin port never opened:\n{}",
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Poc {
        admin_kit: prod.join("admin@nvidia.com"),
        server,
    }
}

fn admin(kit: &Path, args: &[&str]) -> Output {
    Command::new(common::NVFLARE_ADMIN)
        .arg("--kit")
        .arg(kit)
        .args(["--timeout", "20"])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails with one line on stderr and exit code 1.
fn assert_fails(what: &str, out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}{}", stdout(out));
    assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "{what}: {err}"
    );
}

/// A job with nested folders, an empty folder, a multi-MiB file and a
/// non-ASCII file name.
fn make_job(root: &Path) -> PathBuf {
    let job = root.join("hello-job");
    for dir in ["app/config", "app/custom/deep/deeper", "empty"] {
        std::fs::create_dir_all(job.join(dir)).unwrap();
    }
    let files: [(&str, Vec<u8>); 5] = [
        ("meta.json", br#"{"name": "hello-job", "resource_spec": {}, "min_clients": 1, "deploy_map": {"app": ["@ALL"]}}"#.to_vec()),
        ("app/config/config_fed_server.json", br#"{"format_version": 2, "workflows": [], "components": []}"#.to_vec()),
        ("app/config/config_fed_client.json", br#"{"format_version": 2, "executors": [], "components": []}"#.to_vec()),
        ("app/custom/deep/deeper/weights.bin", common::random_bytes(5 << 20, 3)),
        ("app/custom/Grüße 中文.txt", "grüße, 中文\n".as_bytes().to_vec()),
    ];
    for (name, data) in files {
        std::fs::write(job.join(name), data).unwrap();
    }
    job
}

fn python_json(args: &[&str]) -> Value {
    let out = checked(
        "nvflare_admin.py",
        Command::new(admin_python())
            .arg(interop("nvflare_admin.py"))
            .args(args)
            .output()
            .unwrap(),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn admin_console_against_a_real_nvflare_2_6_3_server() {
    let work = tempfile::tempdir().unwrap();
    let poc = start_poc(work.path());
    let kit = &poc.admin_kit;

    // check_status and list_jobs, for a person and as JSON.
    let out = admin(kit, &["run", "check_status", "server"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        stderr(&out),
        poc.server.log_tail()
    );
    assert!(
        stdout(&out).contains("Engine status: stopped"),
        "{}",
        stdout(&out)
    );
    let out = admin(&kit.join("startup"), &["--json", "run", "list_jobs"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1);
    let reply: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reply["meta"]["status"], "ok");

    // Submit a job; NVFlare's own client sees it.
    let job = make_job(work.path());
    let out = admin(kit, &["submit-job", job.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}\n{}",
        stderr(&out),
        poc.server.log_tail()
    );
    let id = stdout(&out)
        .trim()
        .strip_prefix("Submitted job: ")
        .expect("job id")
        .to_owned();
    assert!(
        !job.join(".__nvfl_sig.json").exists(),
        "the user's folder was signed"
    );
    let jobs = python_json(&["list-jobs", kit.to_str().unwrap()]);
    assert!(
        jobs.as_array().unwrap().iter().any(|j| j == id.as_str()),
        "{jobs} lacks {id}"
    );

    // Download it: the same bytes, signed in every folder.
    let out_dir = work.path().join("downloads");
    let out = admin(
        kit,
        &[
            "--json",
            "download-job",
            &id,
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        stderr(&out),
        poc.server.log_tail()
    );
    let location = out_dir.join(&id);
    let reply: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reply["status"], "ok");
    assert_eq!(reply["location"], location.to_str().unwrap());
    assert!(location.join("meta.json").is_file());
    let got = location.join("job").join("hello-job");
    for file in files_under(&job) {
        assert!(
            std::fs::read(job.join(&file)).unwrap() == std::fs::read(got.join(&file)).unwrap(),
            "{} differs",
            file.display()
        );
    }
    assert!(got.join("empty").is_dir());
    let signed: Vec<PathBuf> = files_under(&got)
        .into_iter()
        .filter(|f| f.ends_with(".__nvfl_sig.json"))
        .collect();
    assert_eq!(signed.len(), 7, "one signature file per folder: {signed:?}");
    assert_eq!(
        common::entries(&out_dir),
        std::slice::from_ref(&id),
        "nothing else left in the download folder"
    );

    // NVFlare's verifier accepts the signatures, and refuses a changed file.
    let root_ca = kit.join("startup").join("rootCA.pem");
    assert_eq!(
        python_json(&["verify", got.to_str().unwrap(), root_ca.to_str().unwrap()]),
        true
    );
    std::fs::write(got.join("app/custom/Grüße 中文.txt"), "changed").unwrap();
    assert_eq!(
        python_json(&["verify", got.to_str().unwrap(), root_ca.to_str().unwrap()]),
        false
    );

    // Errors: exit 1 and one line.
    assert_fails(
        "unknown command",
        &admin(kit, &["run", "no_such_command"]),
        "Unknown command",
    );
    let missing = admin(
        kit,
        &[
            "download-job",
            "no-such-job",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_fails("missing job", &missing, "server error");
    assert_eq!(
        common::entries(&out_dir),
        std::slice::from_ref(&id),
        "a failed download left something"
    );
    let out = admin(
        kit,
        &[
            "--server-name",
            "not-the-server.example",
            "run",
            "list_jobs",
        ],
    );
    assert_fails("wrong server name", &out, "certificate");
    let closed = free_port().to_string();
    assert_fails(
        "nothing listening",
        &admin(kit, &["--port", &closed, "run", "list_jobs"]),
        "connection failed",
    );

    // A client certificate from another CA, with the admin's name.
    let other = work.path().join("other-kit");
    let startup = other.join("startup");
    std::fs::create_dir_all(&startup).unwrap();
    for f in ["fed_admin.json", "rootCA.pem"] {
        std::fs::copy(kit.join("startup").join(f), startup.join(f)).unwrap();
    }
    let pki = Pki::new(&work.path().join("other-ca"), "another CA");
    pki.issue("intruder", &["admin@nvidia.com"], None);
    std::fs::copy(pki.path("intruder.pem"), startup.join("client.crt")).unwrap();
    std::fs::copy(pki.path("intruder.key"), startup.join("client.key")).unwrap();
    let out = admin(&other, &["run", "list_jobs"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "another CA got in: {}",
        stdout(&out)
    );

    // Bad usage is exit 2.
    assert_eq!(admin(kit, &["run"]).status.code(), Some(2));
    assert_eq!(admin(kit, &["frobnicate"]).status.code(), Some(2));
    drop(poc);
}
