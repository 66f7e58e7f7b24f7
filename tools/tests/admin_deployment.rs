//! `nvflare-admin` on a real NVFlare 2.6.3 deployment that trains: a POC
//! server and two FL clients on loopback (binds rewritten by
//! `tests/interop/loopback/sitecustomize.py`, ports chosen free), each
//! started by its module and stopped by its PID whatever happens. A numpy
//! ScatterAndGather job (`nvflare.app_common.np`) trains three rounds.
//!
//! One test, in steps, because the steps share one deployment.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::python::admin_python;
use common::{free_port, interop, prepare_sites};
use serde_json::Value;

/// Processes stopped by their PIDs when dropped, with every process they
/// started (NVFlare runs each job in processes of their own sessions, which
/// outlive their parent): SIGTERM to all, then SIGKILL to any still there
/// after 10 s.
struct Processes(Vec<(Child, PathBuf)>);

/// Every descendant of `roots` now, from `/proc`'s parent links.
fn descendants(roots: &[u32]) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...: comm may hold spaces, so after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    let mut found: Vec<u32> = Vec::new();
    let mut frontier = roots.to_vec();
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parent_of {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

impl Drop for Processes {
    fn drop(&mut self) {
        let roots: Vec<u32> = self.0.iter().map(|(c, _)| c.id()).collect();
        let others = descendants(&roots);
        for &pid in roots.iter().chain(&others) {
            signal(pid, "-TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (child, _) in &mut self.0 {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in others {
            while Instant::now() < deadline && Path::new(&format!("/proc/{pid}")).exists() {
                std::thread::sleep(Duration::from_millis(50));
            }
            // Still the same process (not a new one on a reused PID).
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("nvflare") {
                signal(pid, "-KILL");
            }
        }
    }
}

impl Processes {
    /// The last lines of every log, for a failure's message.
    fn logs(&self) -> String {
        let mut out = String::new();
        for (_, log) in &self.0 {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out += &format!("== {}\n", log.display());
            out += &lines[lines.len().saturating_sub(15)..].join("\n");
            out.push('\n');
        }
        out
    }
}

struct Deployment {
    admin_kit: PathBuf,
    server_kit: PathBuf,
    processes: Processes,
}

fn spawn(python: &Path, kit: &Path, module: &str, set: &[&str], log: &Path) -> Child {
    Command::new(python)
        .args(["-u", "-m", module, "-m"])
        .arg(kit)
        .args([
            "-s",
            if module.contains("server") {
                "fed_server.json"
            } else {
                "fed_client.json"
            },
        ])
        .arg("--set")
        .args(set)
        .current_dir(kit)
        .env("PYTHONPATH", interop("loopback"))
        .env("GRPC_ENABLE_FORK_SUPPORT", "false")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::from(
            std::fs::File::options().append(true).open(log).unwrap(),
        ))
        .spawn()
        .unwrap()
}

/// The POC's server and clients, with free ports, started as their
/// `sub_start.sh` starts them (without the restart loop).
fn deploy(work: &Path) -> Deployment {
    let python = admin_python();
    let (fl_port, admin_port) = (free_port(), free_port());
    let first = work.join("first");
    prepare_sites(python, &first, None, 2);
    let project = std::fs::read_to_string(first.join("project.yml"))
        .unwrap()
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
    prepare_sites(python, &ws, Some(&project_file), 2);
    let prod = ws.join("example_project").join("prod_00");
    let server_kit = prod.join("server");
    std::fs::create_dir_all(server_kit.join("transfer")).unwrap();
    let mut processes = Processes(Vec::new());
    let log = work.join("server.log");
    let server = spawn(
        python,
        &server_kit,
        "nvflare.private.fed.app.server.server_train",
        &["secure_train=true", "org=nvidia", "config_folder=config"],
        &log,
    );
    processes.0.push((server, log));
    for site in ["site-1", "site-2"] {
        let log = work.join(format!("{site}.log"));
        let uid = format!("uid={site}");
        let client = spawn(
            python,
            &prod.join(site),
            "nvflare.private.fed.app.client.client_train",
            &[
                "secure_train=true",
                &uid,
                "org=nvidia",
                "config_folder=config",
            ],
            &log,
        );
        processes.0.push((client, log));
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    while TcpStream::connect(("127.0.0.1", admin_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the admin port never opened:\n{}",
            processes.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Deployment {
        admin_kit: prod.join("admin@nvidia.com"),
        server_kit,
        processes,
    }
}

fn admin(kit: &Path, args: &[&str]) -> Output {
    admin_with_input(kit, args, None)
}

fn admin_with_input(kit: &Path, args: &[&str], input: Option<&str>) -> Output {
    let mut child = Command::new(common::NVFLARE_ADMIN)
        .arg("--kit")
        .arg(kit)
        .args(["--timeout", "20"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(input) = input {
        stdin.write_all(input.as_bytes()).unwrap();
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A numpy ScatterAndGather job: NPTrainer adds `delta` 1 to the weights
/// each round, on two clients; the server also answers `app_command echo`.
fn np_job(root: &Path, name: &str, rounds: u32, sleep: f64) -> PathBuf {
    let job = root.join(name);
    std::fs::create_dir_all(job.join("app/config")).unwrap();
    std::fs::create_dir_all(job.join("app/custom")).unwrap();
    std::fs::write(
        job.join("meta.json"),
        format!(r#"{{"name": "{name}", "resource_spec": {{}}, "min_clients": 2, "deploy_map": {{"app": ["@ALL"]}}}}"#),
    )
    .unwrap();
    std::fs::write(
        job.join("app/config/config_fed_server.json"),
        format!(
            r#"{{"format_version": 2, "task_data_filters": [], "task_result_filters": [],
  "components": [
    {{"id": "persistor", "path": "nvflare.app_common.np.np_model_persistor.NPModelPersistor", "args": {{}}}},
    {{"id": "shareable_generator", "path": "nvflare.app_common.shareablegenerators.full_model_shareable_generator.FullModelShareableGenerator", "args": {{}}}},
    {{"id": "aggregator", "path": "nvflare.app_common.aggregators.intime_accumulate_model_aggregator.InTimeAccumulateWeightedAggregator", "args": {{"expected_data_kind": "WEIGHTS"}}}},
    {{"id": "echo", "path": "echo_command.EchoCommand", "args": {{}}}}
  ],
  "workflows": [{{"id": "scatter_and_gather", "path": "nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather",
    "args": {{"min_clients": 2, "num_rounds": {rounds}, "wait_time_after_min_received": 0, "aggregator_id": "aggregator",
             "persistor_id": "persistor", "shareable_generator_id": "shareable_generator", "train_task_name": "train"}}}}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        job.join("app/config/config_fed_client.json"),
        format!(
            r#"{{"format_version": 2, "task_data_filters": [], "task_result_filters": [], "components": [],
  "executors": [{{"tasks": ["train"], "executor": {{"path": "nvflare.app_common.np.np_trainer.NPTrainer", "args": {{"delta": 1, "sleep_time": {sleep}}}}}}}]}}"#
        ),
    )
    .unwrap();
    std::fs::copy(
        interop("np_job/echo_command.py"),
        job.join("app/custom/echo_command.py"),
    )
    .unwrap();
    job
}

/// A `.npy` file's values, read by numpy itself.
fn npy(path: &Path) -> Value {
    let out = common::checked(
        "numpy",
        Command::new(admin_python())
            .args([
                "-c",
                "import sys, json, numpy; print(json.dumps(numpy.load(sys.argv[1]).tolist()))",
            ])
            .arg(path)
            .output()
            .unwrap(),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The audit log's actions (`[A:…]`), in order.
fn audit(server_kit: &Path) -> Vec<String> {
    std::fs::read_to_string(server_kit.join("audit.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split("[A:").nth(1))
        .map(|a| a.trim_end_matches(']').to_owned())
        .collect()
}

fn job_status(kit: &Path, id: &str) -> String {
    let out = admin(kit, &["--json", "run", "get_job_meta", id]);
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    reply["data"][0]["data"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn admin_console_on_a_deployment_that_trains() {
    let work = tempfile::tempdir().unwrap();
    let d = deploy(work.path());
    let kit = &d.admin_kit;
    let logs = || d.processes.logs();

    // Both clients are in before anything is submitted.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = admin(kit, &["run", "check_status", "client"]);
        let s = stdout(&out);
        if s.contains("site-1") && s.contains("site-2") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "clients never joined: {}\n{}",
            text(&out),
            logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // Submit and wait: each change of status, the rounds, exit 0.
    let job = np_job(work.path(), "np-sag", 3, 0.5);
    let out = admin(kit, &["submit-job", job.to_str().unwrap()]);
    assert!(out.status.success(), "{}\n{}", text(&out), logs());
    let id = stdout(&out)
        .trim()
        .strip_prefix("Submitted job: ")
        .expect("job id")
        .to_owned();
    let out = admin(kit, &["wait", &id, "--timeout", "60"]);
    assert!(out.status.success(), "{}\n{}", text(&out), logs());
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(
        lines.last().unwrap(),
        &format!("{id}: FINISHED:COMPLETED"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{id}: RUNNING (round ")) && l.ends_with(" of 3)")),
        "no round while it ran: {lines:?}"
    );
    assert!(
        lines.windows(2).all(|w| w[0] != w[1]),
        "a state printed without a change: {lines:?}"
    );

    // Download it: the global model holds the initial weights plus three
    // rounds of +1; the server's workspace came along.
    let downloads = work.path().join("downloads");
    let out = admin(
        kit,
        &["download-job", &id, "--out", downloads.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let got = downloads.join(&id);
    assert_eq!(
        npy(&got.join("workspace/models/server.npy")),
        serde_json::json!([[4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [10.0, 11.0, 12.0]])
    );
    for file in [
        "meta.json",
        "workspace/log.txt",
        "workspace/app_server/config/config_fed_server.json",
        "job/np-sag/app/custom/echo_command.py",
    ] {
        assert!(
            got.join(file).is_file(),
            "{file} missing: {:?}",
            common::files_under(&got)
        );
    }
    // A second download into the same folder fails before the server
    // stages anything: no transfer folder left on the server.
    let staged = || common::entries(&d.server_kit.join("transfer"));
    let before = staged();
    let out = admin(
        kit,
        &["download-job", &id, "--out", downloads.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    assert_eq!(staged(), before, "the server staged a download for nothing");

    // A second run that trains long enough to look at.
    let long = np_job(work.path(), "np-long", 1000, 0.2);
    let out = admin(kit, &["submit-job", long.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let long_id = stdout(&out)
        .trim()
        .strip_prefix("Submitted job: ")
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while job_status(kit, &long_id) != "RUNNING" {
        assert!(Instant::now() < deadline, "never ran\n{}", logs());
        std::thread::sleep(Duration::from_millis(300));
    }
    // The echo answers once the server's app has started.
    let deadline = Instant::now() + Duration::from_secs(20);
    let echoed = loop {
        let out = admin(
            kit,
            &[
                "--json",
                "run",
                "app_command",
                &long_id,
                "echo",
                "#",
                "DATA",
                "x",
            ],
        );
        let reply: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if out.status.success() {
            break reply;
        }
        assert!(Instant::now() < deadline, "{}\n{}", text(&out), logs());
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        echoed["data"][0]["data"],
        serde_json::json!({"topic": "echo", "data": " DATA x"}),
        "{echoed}"
    );
    let out = admin(kit, &["run", "show_stats", &long_id, "server"]);
    assert!(
        out.status.success() && stdout(&out).contains("ScatterAndGather"),
        "{}",
        text(&out)
    );
    let out = admin(kit, &["run", "check_status", "client"]);
    assert!(stdout(&out).contains(&long_id), "{}", text(&out));

    // Shell commands on a client: one plain, one grep with a quoted
    // pattern that must arrive as one argument.
    let out = admin(kit, &["run", "ls", "site-1"]);
    assert!(
        out.status.success() && stdout(&out).contains("startup"),
        "{}",
        text(&out)
    );
    let out = admin(kit, &["run", "grep", "site-1", "client name", "readme.txt"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("The client name in your submission"),
        "{}",
        text(&out)
    );

    // A scripted session: help, commands, abort (no confirmation when
    // piped), wait naming the status, and the logout the server records.
    let before = audit(&d.server_kit).len();
    let script = format!(
        "help\nhelp abort_job\nlist_sp\ntimeout 7\ntimeout\n\
         app_command {long_id} echo # from the session\n\
         abort_job {long_id}\nwait {long_id} --timeout 30\nlist_jobs\n"
    );
    let out = admin_with_input(kit, &["--json"], Some(&script));
    let all = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "wait must fail on an abort: {all}"
    );
    assert!(
        all.contains("Server Commands") && all.contains("Usage: abort_job job_id"),
        "{all}"
    );
    assert!(
        all.contains("'sp_list'") && all.contains("command timeout is set to 7.0\n7.0\n"),
        "{all}"
    );
    assert!(all.contains(r#""data":" from the session""#), "{all}");
    assert!(all.contains("FINISHED:ABORTED"), "{all}");
    let actions = audit(&d.server_kit)[before..].to_vec();
    assert_eq!(
        actions.first().map(String::as_str),
        Some("_cert_login admin@nvidia.com"),
        "{actions:?}"
    );
    assert_eq!(
        actions.last().map(String::as_str),
        Some("_logout"),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a == &format!("abort_job {long_id}")),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| a == "list_jobs"),
        "ran past the failure: {actions:?}"
    );
    drop(d);
}
