//! `nvflare-admin-server` against NVFlare 2.6.3's own admin client
//! (`flare_api`, the console `fl_admin.sh` runs) and against `nvflare-admin`:
//! kits from `nvflare poc prepare` with an admin for each role, the server
//! as a real process on loopback, started per test on a free port and
//! stopped by its PID.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::admin_server::*;
use common::checked;
use common::python::admin_python;
use nvflare_hci_tools::admin::session::Kit;
use nvflare_hci_tools::jobs;
use serde_json::{json, Value};

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
    assert!(records
        .iter()
        .any(|r| r["command"] == "_cert_login lead@nvidia.com"
            && r["user"] == "admin@nvidia.com"
            && r["status"] == "rejected"));
    assert!(records.iter().any(|r| r["status"] == "invalid_job_id"));
}

#[test]
fn roles_follow_the_default_policy() {
    let poc = Poc::new();
    let _server = Server::start(&poc, &[]);
    let work = poc.dir();
    let job = make_job(work, "role-job", "role-job", &[]);
    let r = flare(json!([
        login("lead", &poc, "lead@nvidia.com"),
        login("lead2", &poc, "lead2@nvidia.com"),
        login("member", &poc, "member@nvidia.com"),
        login("org", &poc, "orgadmin@nvidia.com"),
        login("other", &poc, "orgadmin@other.org"),
        login("admin", &poc, "admin@nvidia.com"),
        call("lead", "submit_job", json!([job])),
    ]));
    assert!(r[..6].iter().all(|x| x == "ok"), "{r:?}");
    let id = r[6]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r[6]))
        .to_owned();
    let r = flare(json!([
        login("lead", &poc, "lead@nvidia.com"),
        login("lead2", &poc, "lead2@nvidia.com"),
        login("member", &poc, "member@nvidia.com"),
        login("org", &poc, "orgadmin@nvidia.com"),
        login("other", &poc, "orgadmin@other.org"),
        login("admin", &poc, "admin@nvidia.com"),
        // 6: member
        call("member", "submit_job", json!([job])),
        call("member", "list_jobs", json!([])),
        call("member", "get_job_meta", json!([id])),
        call("member", "download_job_result", json!([id])),
        call("member", "abort_job", json!([id])),
        call("member", "clone_job", json!([id])),
        // 12: another lead
        call("lead2", "clone_job", json!([id])),
        call("lead2", "abort_job", json!([id])),
        call("lead2", "download_job_result", json!([id])),
        call("lead2", "get_job_meta", json!([id])),
        // 16: org admins
        call("org", "submit_job", json!([job])),
        call("org", "clone_job", json!([id])),
        call("other", "download_job_result", json!([id])),
        call("other", "delete_job", json!([id])),
        call("org", "download_job_result", json!([id])),
        // 21: the submitter
        call("lead", "clone_job", json!([id])),
        call("lead", "download_job_result", json!([id])),
        call("lead", "abort_job", json!([id])),
        // 24
        call("admin", "clone_job", json!([id])),
        call("org", "delete_job", json!([id])),
    ]));
    let denied = |i: usize| {
        assert_eq!(error_of(&r[i]), "AuthorizationError", "step {i}: {}", r[i]);
        assert!(
            r[i]["message"].as_str().unwrap().contains("not authorized"),
            "{}",
            r[i]
        );
    };
    let allowed = |i: usize| assert_eq!(error_of(&r[i]), "", "step {i}: {}", r[i]);
    for i in [6, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19] {
        denied(i);
    }
    for i in [7, 8, 15, 20, 21, 22, 23, 24, 25] {
        allowed(i);
    }
    assert_eq!(r[7].as_array().unwrap().len(), 1);
    // A clone has its cloner as submitter: lead2 may abort it.
    let lead_clone = r[21].as_str().unwrap();
    let r = flare(json!([
        login("lead2", &poc, "lead2@nvidia.com"),
        call("lead2", "get_job_meta", json!([lead_clone])),
    ]));
    assert_eq!(r[1]["submitter_name"], "lead@nvidia.com");
    // `list_jobs -u`: only the user's own jobs.
    let r = flare(json!([
        login("lead2", &poc, "lead2@nvidia.com"),
        {"op": "raw", "s": "lead2", "command": "list_jobs -u"},
        {"op": "raw", "s": "lead2", "command": "list_jobs"},
    ]));
    assert_eq!(r[1]["meta"]["jobs"], json!([]), "{}", r[1]);
    assert!(
        !r[2]["meta"]["jobs"].as_array().unwrap().is_empty(),
        "{}",
        r[2]
    );
}

#[test]
fn a_local_policy_replaces_the_default() {
    let poc = Poc::new();
    let local = poc.server_kit().join("local");
    std::fs::write(
        local.join("authorization.json"),
        r#"{"format_version": "1.0", "permissions": {"project_admin": {"view": "any"},
            "member": {"submit_job": "any", "view": "any"}}}"#,
    )
    .unwrap();
    let _server = Server::start(&poc, &[]);
    let job = make_job(poc.dir(), "policy-job", "policy-job", &[]);
    let r = flare(json!([
        login("member", &poc, "member@nvidia.com"),
        login("admin", &poc, "admin@nvidia.com"),
        call("member", "submit_job", json!([job])),
        call("admin", "submit_job", json!([job])),
        call("admin", "list_jobs", json!([])),
    ]));
    assert!(r[2].is_string(), "{}", r[2]);
    assert_eq!(error_of(&r[3]), "AuthorizationError", "{}", r[3]);
    assert_eq!(r[4].as_array().unwrap().len(), 1);
}

/// The status and first error of a raw reply.
#[test]
fn signatures_are_verified_at_submit_and_refusals_leave_nothing() {
    let poc = Poc::new();
    let foreign = Poc::new();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_in(&poc, &poc.store(), &[], Some(tmp.path()));
    let work = poc.dir();
    let admin = poc.admin("admin@nvidia.com");
    let session = rust_session(&poc, "admin@nvidia.com", server.port()).unwrap();
    let job = make_job(
        work,
        "signed-job",
        "signed",
        &[("weights.bin", common::random_bytes(3 << 20, 5))],
    );

    // A file changed after signing.
    let r = raw_submit(&session, &job, &admin, work, |j| {
        std::fs::write(j.join("app/custom/weights.bin"), b"changed").unwrap();
    });
    assert_eq!(status_of(&r).0, "invalid_job_def", "tampered: {r}");
    assert!(status_of(&r).1.contains("weights.bin"), "{r}");
    // A file added after signing, a folder renamed after signing.
    let r = raw_submit(&session, &job, &admin, work, |j| {
        std::fs::write(j.join("app/custom/extra.py"), b"import os").unwrap();
    });
    assert_eq!(status_of(&r).0, "invalid_job_def", "added: {r}");
    let r = raw_submit(&session, &job, &admin, work, |j| {
        std::fs::rename(j.join("app/custom"), j.join("app/custom2")).unwrap();
    });
    assert_eq!(status_of(&r).0, "invalid_job_def", "renamed: {r}");
    // Signed under another CA, by an admin of the same name.
    let r = raw_submit(
        &session,
        &job,
        &foreign.admin("admin@nvidia.com"),
        work,
        |_| {},
    );
    assert_eq!(status_of(&r).0, "invalid_job_def", "foreign: {r}");
    assert!(status_of(&r).1.contains("root CA"), "{r}");
    // Not signed at all.
    let r = raw_submit(&session, &job, &admin, work, |j| {
        std::fs::remove_file(j.join(jobs::SIG_FILE)).unwrap();
    });
    assert_eq!(status_of(&r).0, "invalid_job_def", "unsigned: {r}");
    // A bad definition, signed.
    let r = raw_submit(&session, &job, &admin, work, |j| {
        std::fs::write(
            j.join("meta.json"),
            r#"{"name": "x", "deploy_map": {"app": ["site-1"]}}"#,
        )
        .unwrap();
    });
    assert_eq!(status_of(&r).0, "invalid_job_def", "no server site: {r}");
    // Refused for the right, body and all.
    let member = rust_session(&poc, "member@nvidia.com", server.port()).unwrap();
    let r = raw_submit(&member, &job, &poc.admin("member@nvidia.com"), work, |_| {});
    assert_eq!(status_of(&r).0, "not_authorized", "member: {r}");
    // An upload cut off midway.
    truncated_upload(&poc, server.port(), "admin@nvidia.com", 10 << 20, 1 << 20);
    assert!(jobs_in_store(&poc).is_empty(), "{:?}", jobs_in_store(&poc));

    // And the same job, untouched, is accepted.
    let r = raw_submit(&session, &job, &admin, work, |_| {});
    assert_eq!(status_of(&r).0, "ok", "{r}");
    assert_eq!(jobs_in_store(&poc).len(), 1);

    // Nothing left behind: not in the store's spool, not in TMPDIR.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let spool = common::entries(&poc.store().join(".tmp"));
        let temp = common::entries(tmp.path());
        if spool.is_empty() && temp.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left behind: {spool:?} {temp:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_token_works_only_with_the_certificate_that_logged_in() {
    let poc = Poc::new();
    let _server = Server::start(&poc, &[]);
    let job = make_job(poc.dir(), "token-job", "token-job", &[]);
    let r = flare(json!([
        login("admin", &poc, "admin@nvidia.com"),
        login("member", &poc, "member@nvidia.com"),
        {"op": "token", "s": "member", "from": "admin"},
        call("member", "submit_job", json!([job])),
        call("member", "list_jobs", json!([])),
        call("admin", "list_jobs", json!([])),
    ]));
    assert_eq!(error_of(&r[3]), "AuthenticationError", "{}", r[3]);
    assert_eq!(error_of(&r[4]), "AuthenticationError", "{}", r[4]);
    assert_eq!(
        r[5],
        json!([]),
        "the admin's session still works, and nothing was submitted"
    );
}

#[test]
fn downloads_serve_only_their_own_files() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let work = poc.dir();
    let secret = work.join("secret.txt");
    std::fs::write(&secret, "not for download").unwrap();
    let session = rust_session(&poc, "admin@nvidia.com", server.port()).unwrap();
    let other = rust_session(&poc, "admin@nvidia.com", server.port()).unwrap();
    let job = make_job(work, "dl-job", "dl-job", &[]);
    let r = raw_submit(&session, &job, &poc.admin("admin@nvidia.com"), work, |_| {});
    let id = r["meta"]["job_id"].as_str().unwrap().to_owned();
    let reply = session.command(&format!("download_job {id}")).unwrap();
    let tx = reply.json["meta"]["tx_id"].as_str().unwrap().to_owned();
    assert_eq!(reply.json["meta"]["files"], json!(["meta.json", "job.zip"]));
    let out = work.join("got");
    std::fs::create_dir_all(&out).unwrap();
    let abs = secret.to_str().unwrap().to_owned();
    for (who, file) in [
        (&session, abs.as_str()),
        (&session, "../../../secret.txt"),
        (&session, "../../jobs"),
        (&session, "meta.json/../job.zip"),
        (&other, "meta.json"),
    ] {
        let got = who.download(
            &format!("download_job_file {tx} {id} {file}"),
            &out,
            &out.join("file"),
        );
        assert!(got.is_err(), "{file} was served");
        assert!(!out.join("file").exists());
    }
    let got = session.download(
        &format!("download_job_file {tx} {id} meta.json"),
        &out,
        &out.join("meta.json"),
    );
    assert!(got.is_ok(), "{got:?}");
    let got = session.download(
        &format!("download_job_file {tx} {id} job.zip end"),
        &out,
        &out.join("job.zip"),
    );
    assert!(got.is_ok(), "{got:?}");
    // The transfer has ended.
    let got = session.download(
        &format!("download_job_file {tx} {id} meta.json"),
        &out,
        &out.join("again"),
    );
    assert!(got.is_err());
    assert!(common::entries(&poc.store().join(".transfer")).is_empty());

    // Downloads started and never finished: a session keeps its newest
    // four staged, the oldest dropped first.
    let txs: Vec<String> = (0..6)
        .map(|_| {
            let reply = session.command(&format!("download_job {id}")).unwrap();
            reply.json["meta"]["tx_id"].as_str().unwrap().to_owned()
        })
        .collect();
    let staged = common::entries(&poc.store().join(".transfer"));
    assert_eq!(staged.len(), 4, "{staged:?}");
    let oldest = session.download(
        &format!("download_job_file {} {id} meta.json", txs[0]),
        &out,
        &out.join("oldest"),
    );
    assert!(oldest.is_err(), "the oldest transfer was dropped");
    let newest = session.download(
        &format!("download_job_file {} {id} meta.json", txs[5]),
        &out,
        &out.join("newest"),
    );
    assert!(newest.is_ok(), "{newest:?}");
}

/// A TCP peer that never sends a byte.
fn silent_tcp(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).unwrap()
}

#[test]
fn silent_peers_block_nobody() {
    let poc = Poc::new();
    let server = Server::start(&poc, &["--timeout", "60"]);
    let port = server.port();
    let _tcp: Vec<TcpStream> = (0..3).map(|_| silent_tcp(port)).collect();
    // A TLS peer that completes its handshake, then says nothing.
    let kit = Kit::load(&poc.admin("lead@nvidia.com")).unwrap();
    let config = nvflare_hci_tools::admin::session::tls_config(&kit).unwrap();
    let _tls = nvflare_hci_tools::tls::client_stream(
        &config,
        "localhost",
        silent_tcp(port),
        Duration::from_secs(10),
    )
    .unwrap();
    let started = Instant::now();
    let r = flare(json!([
        login("a", &poc, "admin@nvidia.com"),
        call("a", "list_jobs", json!([])),
    ]));
    assert_eq!(r[0], "ok", "{r:?}");
    assert_eq!(r[1], json!([]));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // A peer that speaks no TLS is refused, and logged.
    let mut junk = silent_tcp(port);
    junk.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut sink = Vec::new();
    let _ = junk.read_to_end(&mut sink);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server
        .records()
        .iter()
        .any(|r| r["event"] == "handshake" && r["status"] == "refused")
    {
        assert!(Instant::now() < deadline, "{:?}", server.records());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn connections_past_the_cap_are_told_the_server_is_busy() {
    let poc = Poc::new();
    let server = Server::start(&poc, &["--max-connections", "2", "--timeout", "60"]);
    let port = server.port();
    let held: Vec<TcpStream> = (0..2).map(|_| silent_tcp(port)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let err = rust_session(&poc, "admin@nvidia.com", port)
        .err()
        .expect("a busy server let a third in");
    assert!(err.contains("server busy"), "{err}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while rust_session(&poc, "admin@nvidia.com", port).is_err() {
        assert!(Instant::now() < deadline, "slots never came back");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.records().iter().any(|r| r["event"] == "busy"));
}

/// Runs `cmd` to its end, killed after `limit`; its output.
fn run_with_limit(mut cmd: Command, stdin: &[u8], limit: Duration) -> Output {
    let mut child = common::Killed(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    child.0.stdin.take().unwrap().write_all(stdin).unwrap();
    let mut stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

#[test]
fn the_nvflare_console_works_over_stdin() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let kit = poc.admin("lead@nvidia.com");
    std::fs::create_dir_all(kit.join("transfer")).unwrap();
    make_job(&kit.join("transfer"), "console-job", "console-job", &[]);
    let mut cmd = Command::new(admin_python());
    cmd.args(["-m", "nvflare.fuel.hci.tools.admin", "-m"])
        .arg(&kit)
        .args(["-s", "fed_admin.json"]);
    let out = run_with_limit(
        cmd,
        b"check_status server\nsubmit_job console-job\nlist_jobs\nbye\n",
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Engine status: stopped"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Submitted job:"), "{text}");
    assert!(text.contains("console-job"), "{text}");
    let records = server.records();
    for command in ["_cert_login lead@nvidia.com", "_commands", "_check_session"] {
        assert!(
            records
                .iter()
                .any(|r| r["command"] == command && r["status"] == "ok"),
            "{command}: {records:?}"
        );
    }
}

#[test]
fn twenty_sessions_at_once() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let jobs_dir = poc.dir().join("many");
    for i in 0..20 {
        make_job(&jobs_dir, &format!("job{i}"), &format!("job{i}"), &[]);
    }
    let r = flare(
        json!([{"op": "parallel", "kit": poc.admin("lead@nvidia.com"),
        "user": "lead@nvidia.com", "n": 20, "job": jobs_dir.join("job")}]),
    );
    let results = r[0].as_array().unwrap();
    let mut ids: Vec<&str> = results
        .iter()
        .map(|x| {
            assert_eq!(x["listed"], true, "{x}");
            x["job_id"].as_str().unwrap()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert_eq!(jobs_in_store(&poc).len(), 20);
    let logins = server
        .records()
        .iter()
        .filter(|r| r["command"] == "_cert_login lead@nvidia.com")
        .count();
    assert_eq!(logins, 20);
}

#[test]
fn the_store_survives_a_restart_and_signals_stop_the_server() {
    let poc = Poc::new();
    let server = Server::start(&poc, &["--session-timeout", "2"]);
    let job = make_job(
        poc.dir(),
        "kept-job",
        "kept-job",
        &[("data.bin", common::random_bytes(1 << 20, 9))],
    );
    let r = flare(json!([
        login("a", &poc, "admin@nvidia.com"),
        call("a", "submit_job", json!([job])),
        call("a", "submit_job", json!([job])),
        {"op": "sleep", "secs": 3},
        call("a", "list_jobs", json!([])),
    ]));
    let (kept, gone) = (
        r[1].as_str().unwrap().to_owned(),
        r[2].as_str().unwrap().to_owned(),
    );
    assert_eq!(
        error_of(&r[4]),
        "InternalError",
        "an idle session ended: {}",
        r[4]
    );
    assert!(
        r[4]["message"]
            .as_str()
            .unwrap()
            .contains("session_inactive"),
        "{}",
        r[4]
    );

    // SIGTERM mid-upload: exit 0 within 2 s, the upload's spool gone.
    let port = server.port();
    let lines = std::sync::Arc::clone(&server.lines);
    truncated_upload_held(&poc, port, |_| {
        assert_eq!(server.terminate().code(), Some(0));
    });
    // The stop is logged, with what it ended: the session that held the
    // upload.
    std::thread::sleep(Duration::from_millis(200));
    let last: Value = serde_json::from_str(lines.lock().unwrap().last().unwrap()).unwrap();
    assert_eq!(last["event"], "stop", "{last}");
    assert_eq!(last["signal"], "SIGTERM", "{last}");
    assert_eq!(last["sessions"], 1, "{last}");
    assert_eq!(last["transfers"], 0, "{last}");
    assert!(
        !poc.store().join(".tmp").exists() || common::entries(&poc.store().join(".tmp")).is_empty()
    );

    // Restarted on the same store: listed, downloadable, deletable.
    let server = Server::start(&poc, &[]);
    let r = flare(json!([
        login("a", &poc, "admin@nvidia.com"),
        call("a", "list_jobs", json!([])),
        call("a", "download_job_result", json!([kept])),
        call("a", "delete_job", json!([gone])),
        call("a", "list_jobs", json!([])),
    ]));
    assert_eq!(r[1].as_array().unwrap().len(), 2, "{}", r[1]);
    let location = PathBuf::from(r[2].as_str().unwrap_or_else(|| panic!("{}", r[2])));
    assert_same_files(&job, &location.join("job").join("kept-job"));
    assert_eq!(r[3], Value::Null, "{}", r[3]);
    assert_eq!(r[4].as_array().unwrap().len(), 1);
    // SIGINT stops it too.
    let pid = server.child.id().to_string();
    checked(
        "kill",
        Command::new("kill").args(["-INT", &pid]).output().unwrap(),
    );
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(2);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running 2 s after SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));

    // A crash (SIGKILL) mid-upload: nothing visible; the spool goes at the
    // next start.
    let server = Server::start(&poc, &[]);
    truncated_upload_held(&poc, server.port(), |_| {
        let mut server = server;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    });
    assert_eq!(jobs_in_store(&poc).len(), 1);
    let server = Server::start(&poc, &[]);
    assert!(common::entries(&poc.store().join(".tmp")).is_empty());
    assert_eq!(jobs_in_store(&poc).len(), 1);

    // A job folder removed by hand while the server runs is gone from
    // list_jobs at once.
    let s = rust_session(&poc, "admin@nvidia.com", server.port()).unwrap();
    let listed = |s: &nvflare_hci_tools::admin::session::Session| {
        let r = s.command("list_jobs").unwrap();
        r.json["meta"]["jobs"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(listed(&s), 1);
    std::fs::remove_dir_all(poc.store().join("jobs").join(&jobs_in_store(&poc)[0])).unwrap();
    assert_eq!(listed(&s), 0);
}

/// Starts an upload of 100 MiB, sends 2 MiB, and runs `during` while the
/// connection is held.
fn truncated_upload_held(poc: &Poc, port: u16, during: impl FnOnce(&Poc)) {
    let _held = partial_upload(poc, port, "admin@nvidia.com", true, 100 << 20, 2 << 20);
    let spooling = common::entries(&poc.store().join(".tmp"));
    assert!(
        !spooling.is_empty(),
        "the upload is spooled in the store's .tmp"
    );
    during(poc);
}

#[test]
fn uploads_without_the_right_are_refused_before_a_byte_is_stored() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let port = server.port();
    // A member (no right to submit) with a live session, and an admin
    // whose request carries no token: each announces 100 MiB and sends 2.
    for (user, token, status) in [
        ("member@nvidia.com", true, "not_authorized"),
        ("admin@nvidia.com", false, "error"),
    ] {
        let held = partial_upload(&poc, port, user, token, 100 << 20, 2 << 20);
        assert!(
            common::entries(&poc.store().join(".tmp")).is_empty(),
            "{user}: nothing of the refused upload is spooled"
        );
        // The refusal comes back at once, the body unread.
        let reply = nvflare_hci::Connection::new(held).receive().unwrap();
        let reply: Value = serde_json::from_str(reply.as_text().unwrap()).unwrap();
        assert_eq!(status_of(&reply).0, status, "{user}: {reply}");
    }
    assert!(jobs_in_store(&poc).is_empty());
}

#[test]
fn bad_usage_and_startup_errors() {
    let poc = Poc::new();
    let store = poc.store();
    let run = |args: &[&str]| Command::new(SERVER).args(args).output().unwrap();
    let kit = poc.server_kit();
    let kit = kit.to_str().unwrap();
    let s = store.to_str().unwrap();
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["--kit", kit]).status.code(), Some(2));
    assert_eq!(
        run(&["--kit", kit, "--store", s, "--max-connections", "0"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["--kit", kit, "--store", s, "--bogus"]).status.code(),
        Some(2)
    );
    for (args, needle) in [
        (vec!["--kit", s, "--store", s], "fed_server.json"),
        (
            vec![
                "--kit",
                kit,
                "--store",
                "/proc/no-store-here",
                "--port",
                "0",
            ],
            "store",
        ),
    ] {
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
    }
    // The port is taken.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(&["--kit", kit, "--store", s, "--port", &port]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}"))
            && err.contains("another process listens there"),
        "{err}"
    );
}

/// A 64 MiB job: NVFlare's client submits and downloads it byte for byte,
/// and the server's peak RSS stays under 32 MiB.
#[test]
fn a_large_job_round_trips_in_flat_memory() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let mut data = common::random_bytes(64 << 20, 11);
    let job = make_job(
        poc.dir(),
        "large-job",
        "large-job",
        &[("model.bin", std::mem::take(&mut data))],
    );
    let r = flare(json!([
        login("a", &poc, "admin@nvidia.com"),
        call("a", "submit_job", json!([job])),
    ]));
    let id = r[1]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r[1]))
        .to_owned();
    let r = flare(json!([
        login("a", &poc, "admin@nvidia.com"),
        call("a", "download_job_result", json!([id])),
    ]));
    let location = PathBuf::from(r[1].as_str().unwrap_or_else(|| panic!("{}", r[1])));
    assert_same_files(&job, &location.join("job").join("large-job"));
    let peak = server.peak_rss_kib();
    assert!(peak < 32 * 1024, "server peak RSS {peak} KiB");
}

/// Runs `cmd` under python, which reports its children's peak RSS (KiB).
fn with_peak_rss(cmd: &[&str]) -> (Output, u64) {
    let out = Command::new(admin_python())
        .args([
            "-c",
            "import resource, subprocess, sys\n\
             r = subprocess.run(sys.argv[1:])\n\
             print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n\
             sys.exit(r.returncode)",
        ])
        .args(cmd)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let peak = err
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(u64::MAX);
    (out, peak)
}

/// `nvflare-admin` against `nvflare-admin-server`: they agree, and NVFlare's
/// client sees the same; the console signs a 64 MiB job in flat memory.
#[test]
fn the_rust_console_and_the_rust_server_agree() {
    let poc = Poc::new();
    let server = Server::start(&poc, &[]);
    let job = make_job(
        poc.dir(),
        "rust-job",
        "rust-job",
        &[("model.bin", common::random_bytes(64 << 20, 12))],
    );
    let kit = poc.admin("lead@nvidia.com");
    let kit = kit.to_str().unwrap();
    let port = server.port().to_string();
    let base = [
        common::NVFLARE_ADMIN,
        "--kit",
        kit,
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--server-name",
        "localhost",
    ];
    let (out, peak) = with_peak_rss(&[&base[..], &["submit-job", job.to_str().unwrap()]].concat());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        peak < 32 * 1024,
        "nvflare-admin submit-job peak RSS {peak} KiB"
    );
    let id = text
        .trim()
        .strip_prefix("Submitted job: ")
        .expect("job id")
        .to_owned();
    let out = checked(
        "list_jobs",
        Command::new(common::NVFLARE_ADMIN)
            .args(&base[1..])
            .args(["--json", "run", "list_jobs"])
            .output()
            .unwrap(),
    );
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["meta"]["jobs"][0]["job_id"], id.as_str());
    let dl = poc.dir().join("rust-downloads");
    checked(
        "download-job",
        Command::new(common::NVFLARE_ADMIN)
            .args(&base[1..])
            .args(["download-job", &id, "--out", dl.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert_same_files(&job, &dl.join(&id).join("job").join("rust-job"));
    // NVFlare's own client sees the job the Rust console submitted.
    let r = flare(json!([
        login("l", &poc, "lead@nvidia.com"),
        call("l", "get_job_meta", json!([id])),
    ]));
    assert_eq!(r[1]["submitter_name"], "lead@nvidia.com");
    // Errors come back as errors.
    let out = Command::new(common::NVFLARE_ADMIN)
        .args(&base[1..])
        .args(["run", "get_job_meta", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid job_id"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
