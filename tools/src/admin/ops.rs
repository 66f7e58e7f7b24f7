//! What the console does beyond one request: submitting a job folder,
//! downloading a job, waiting for a job, and the overseer's commands
//! answered from the kit. Shared by `nvflare-admin`'s subcommands and its
//! interactive session.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nvflare_hci::{GenerateDataFromFile, Progress};
use serde_json::{json, Value};

use super::session::{self, AdminError, Kit, Reply, Session};
use crate::jobs;

/// The reply as a result: its error, if it is one.
pub fn checked(reply: Reply) -> Result<Reply, AdminError> {
    match reply.error() {
        Some(e) => Err(AdminError::Server(e)),
        None => Ok(reply),
    }
}

/// A name that can travel as one argument of a command and be a file name.
pub fn plain_name(what: &str, name: &str) -> Result<(), AdminError> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_whitespace);
    if plain {
        Ok(())
    } else {
        Err(AdminError::Local(format!(
            "{what} {name:?} is not a plain name"
        )))
    }
}

/// A byte progress bar on stderr when `show` and stderr is a terminal,
/// hidden otherwise; and the callback that moves it.
pub fn progress_bar(label: &str, show: bool) -> (ProgressBar, impl FnMut(Progress)) {
    let target = if show && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>12} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_owned());
    let handle = bar.clone();
    let callback = move |p: Progress| {
        if let Some(total) = p.total {
            handle.set_length(total);
        }
        handle.set_position(p.done);
    };
    (bar, callback)
}

/// Signs a copy of `folder` with the kit's key, zips it and submits it;
/// the server's reply (checked).
pub fn submit_job(
    session: &Session,
    kit: &Kit,
    folder: &Path,
    show_progress: bool,
) -> Result<Reply, AdminError> {
    if !folder.is_dir() {
        return Err(AdminError::Local(format!(
            "{} is not a folder",
            folder.display()
        )));
    }
    let canonical = folder
        .canonicalize()
        .map_err(|e| session::io_error("cannot read", folder, e))?;
    let name = canonical
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| AdminError::Local(format!("{} has no usable name", folder.display())))?
        .to_owned();
    plain_name("folder name", &name)?;
    // Sign a copy, never the user's folder.
    let work = tempfile::tempdir().map_err(|e| AdminError::Local(format!("temp dir: {e}")))?;
    let copy = work.path().join(&name);
    jobs::copy_folder(&canonical, &copy)?;
    jobs::sign_folder(&copy, &jobs::load_key(&kit.client_key)?, &kit.client_cert)?;
    let zip = work.path().join("job.zip");
    jobs::zip_folder(&copy, &name, &zip)?;
    let body =
        GenerateDataFromFile::open(&zip).map_err(|e| session::io_error("cannot read", &zip, e))?;
    let (bar, progress) = progress_bar("submit_job", show_progress);
    let reply = session.upload_with_progress(&format!("submit_job {name}"), body, progress);
    bar.finish_and_clear();
    checked(reply?)
}

/// The job id in a `submit_job` reply.
pub fn submitted_id(reply: &Reply) -> Result<String, AdminError> {
    reply.json["meta"]["job_id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            reply.items().iter().find_map(|i| {
                i["data"]
                    .as_str()
                    .and_then(|s| s.strip_prefix("Submitted job: "))
                    .map(str::to_owned)
            })
        })
        .ok_or_else(|| AdminError::Server(format!("no job id in the reply: {}", reply.text)))
}

/// Downloads job `job_id` into `out/NAME` (NAME is the job id unless
/// `name` is given, as NVFlare's `download_job ID DESTINATION`) with
/// `command` (`download_job`, or `download_job_components`): `job.zip`
/// unzipped into `job/`, the other files as they are. Nothing is left
/// behind on failure, and an existing `out/NAME` is refused before the
/// server is asked to stage anything. `cancel`, checked between files,
/// stops it.
pub fn download_job(
    session: &Session,
    command: &str,
    job_id: &str,
    name: Option<&str>,
    out: &Path,
    show_progress: bool,
    cancel: &AtomicBool,
) -> Result<PathBuf, AdminError> {
    plain_name("job id", job_id)?;
    let name = name.unwrap_or(job_id);
    plain_name("destination", name)?;
    let target = out.join(name);
    if target.exists() {
        return Err(AdminError::Local(format!(
            "{} already exists",
            target.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| session::io_error("cannot create", out, e))?;
    let reply = checked(session.command(&format!("{command} {job_id}"))?)?;
    let meta = &reply.json["meta"];
    let files: Vec<String> = meta["files"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let tx_id = meta["tx_id"]
        .as_str()
        .ok_or_else(|| AdminError::Server(format!("no tx_id in the reply: {}", reply.text)))?;
    let cmd_name = meta["cmd_name"].as_str().unwrap_or("download_job_file");
    plain_name("transfer id", tx_id)?;
    plain_name("command", cmd_name)?;
    // Everything lands in a hidden folder beside the target, renamed into
    // place once complete: no partial DIR/JOB_ID, whatever fails.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}__{tx_id}."))
        .tempdir_in(out)
        .map_err(|e| session::io_error("cannot create a folder in", out, e))?;
    for (i, file) in files.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(AdminError::Local(format!(
                "download of job {job_id} interrupted"
            )));
        }
        plain_name("file name", file)?;
        let end = if i + 1 == files.len() { " end" } else { "" };
        let path = staging.path().join(file);
        let (bar, progress) = progress_bar(file, show_progress);
        let got = session.download_with_progress(
            &format!("{cmd_name} {tx_id} {job_id} {file}{end}"),
            staging.path(),
            &path,
            progress,
        );
        bar.finish_and_clear();
        got?;
        if let Some(stem) = file.strip_suffix(".zip") {
            jobs::unzip(&path, &staging.path().join(stem))?;
            std::fs::remove_file(&path)
                .map_err(|e| session::io_error("cannot remove", &path, e))?;
        }
    }
    std::fs::rename(staging.path(), &target)
        .map_err(|e| session::io_error("cannot create", &target, e))?;
    let _ = staging.keep();
    Ok(target)
}

/// How a wait for a job ended well: the job finished and completed.
pub const COMPLETED: &str = "FINISHED:COMPLETED";

/// True for a status a job does not leave: `FINISHED:…` and `FAILED…`.
pub fn is_final(status: &str) -> bool {
    status.starts_with("FINISHED") || status.starts_with("FAILED")
}

/// A job's status and, while it runs, its round, as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    /// The job's status (`RUNNING`, `FINISHED:COMPLETED`, …).
    pub status: String,
    /// `(current_round, num_rounds)` where the server's workflow reports them.
    pub round: Option<(u64, Option<u64>)>,
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.status)?;
        match self.round {
            Some((r, Some(n))) => write!(f, " (round {r} of {n})"),
            Some((r, None)) => write!(f, " (round {r})"),
            None => Ok(()),
        }
    }
}

/// The first `current_round` (and its `num_rounds`) in a `show_stats` dict.
fn find_round(v: &Value) -> Option<(u64, Option<u64>)> {
    let obj = v.as_object()?;
    if let Some(r) = obj.get("current_round").and_then(Value::as_u64) {
        return Some((r, obj.get("num_rounds").and_then(Value::as_u64)));
    }
    obj.values().find_map(find_round)
}

/// The job's state: its meta's `status` (`get_job_meta`), and while it
/// runs the round from the server's statistics (`show_stats ID server`).
pub fn job_state(session: &Session, job_id: &str) -> Result<JobState, AdminError> {
    let reply = checked(session.command(&format!("get_job_meta {job_id}"))?)?;
    let status = reply
        .items()
        .iter()
        .find_map(|i| i["data"]["status"].as_str())
        .or_else(|| reply.json["meta"]["job_meta"]["status"].as_str())
        .ok_or_else(|| {
            AdminError::Server(format!("no status for job {job_id} in: {}", reply.text))
        })?
        .to_owned();
    let mut round = None;
    if status == "RUNNING" {
        // Statistics are a bonus: a job between workflows has none.
        if let Ok(stats) = session.command(&format!("show_stats {job_id} server")) {
            round = stats.items().iter().find_map(|i| find_round(&i["data"]));
        }
    }
    Ok(JobState { status, round })
}

/// Polls the job every `every` until it ends, calling `on_change` with each
/// new state. `Ok` with the final status when it is `FINISHED:COMPLETED`;
/// an error naming the status for any other end, naming the time on
/// timeout, and on `cancel`.
pub fn wait_job(
    session: &Session,
    job_id: &str,
    timeout: Option<Duration>,
    every: Duration,
    cancel: &AtomicBool,
    mut on_change: impl FnMut(&JobState),
) -> Result<String, AdminError> {
    plain_name("job id", job_id)?;
    let start = Instant::now();
    let mut last: Option<JobState> = None;
    loop {
        let state = job_state(session, job_id)?;
        if last.as_ref() != Some(&state) {
            on_change(&state);
        }
        if is_final(&state.status) {
            return if state.status == COMPLETED {
                Ok(state.status)
            } else {
                Err(AdminError::Server(format!(
                    "job {job_id} ended {}",
                    state.status
                )))
            };
        }
        last = Some(state);
        let next = Instant::now() + every;
        while Instant::now() < next {
            if cancel.load(Ordering::Relaxed) {
                return Err(AdminError::Local(format!(
                    "wait for job {job_id} interrupted"
                )));
            }
            if let Some(t) = timeout {
                if start.elapsed() >= t {
                    let status = last.as_ref().map_or("unknown", |s| s.status.as_str());
                    return Err(AdminError::Local(format!(
                        "timed out after {} s waiting for job {job_id} (status {status})",
                        t.as_secs_f64()
                    )));
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `list_sp`, answered from the kit as NVFlare's console answers it with
/// the kit's static overseer agent: the overseer's info, as Python prints
/// a dict.
pub fn list_sp(kit: &Kit) -> String {
    let sp = sp_dict(kit);
    format!("{{'primary_sp': {sp}, 'sp_list': [{sp}], 'system': 'ready'}}")
}

/// The id NVFlare's static overseer agent gives its one service session.
pub const SSID: &str = "ebc6125d-0a56-4688-9b08-355fe9e4d61a";

fn sp_dict(kit: &Kit) -> String {
    format!(
        "{{'sp_end_point': '{}', 'service_session_id': '{SSID}', 'primary': True, 'state': 'online'}}",
        kit.sp_end_point
    )
}

/// `get_active_sp`, answered from the kit: the primary service provider,
/// as Python prints NVFlare's `SP`.
pub fn get_active_sp(kit: &Kit) -> String {
    let mut parts = kit.sp_end_point.splitn(3, ':');
    let (name, fl, admin) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    format!(
        "SP(name='{name}', fl_port='{fl}', admin_port='{admin}', service_session_id='{SSID}', primary=True, props={{}})"
    )
}

/// `list_sp` and `get_active_sp` as JSON replies, for `--json`.
pub fn sp_json(kit: &Kit, command: &str) -> Value {
    let text = if command == "list_sp" {
        list_sp(kit)
    } else {
        get_active_sp(kit)
    };
    json!({"data": [{"type": "string", "data": text}], "meta": {"status": "ok", "info": ""}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kit() -> Kit {
        Kit::parse(
            Path::new("/k/startup"),
            r#"{"admin": {"username": "a", "overseer_agent": {"args": {"sp_end_point": "localhost:8002:8003"}}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn service_providers_come_from_the_kit_as_python_prints_them() {
        let k = kit();
        assert_eq!(
            list_sp(&k),
            "{'primary_sp': {'sp_end_point': 'localhost:8002:8003', 'service_session_id': \
             'ebc6125d-0a56-4688-9b08-355fe9e4d61a', 'primary': True, 'state': 'online'}, \
             'sp_list': [{'sp_end_point': 'localhost:8002:8003', 'service_session_id': \
             'ebc6125d-0a56-4688-9b08-355fe9e4d61a', 'primary': True, 'state': 'online'}], \
             'system': 'ready'}"
        );
        assert_eq!(
            get_active_sp(&k),
            "SP(name='localhost', fl_port='8002', admin_port='8003', service_session_id=\
             'ebc6125d-0a56-4688-9b08-355fe9e4d61a', primary=True, props={})"
        );
        assert_eq!(k.transfer, Path::new("/k/transfer"));
    }

    #[test]
    fn rounds_are_found_in_the_statistics() {
        let stats = json!({"server": {"ScatterAndGather": {"current_round": 2, "num_rounds": 3, "phase": "train"},
                                      "ServerRunner": {"status": "started"}}});
        assert_eq!(find_round(&stats), Some((2, Some(3))));
        let state = JobState {
            status: "RUNNING".into(),
            round: find_round(&stats),
        };
        assert_eq!(state.to_string(), "RUNNING (round 2 of 3)");
        assert_eq!(find_round(&json!({"server": {"ServerRunner": {}}})), None);
        assert!(is_final("FINISHED:ABORTED") && is_final("FAILED_TO_RUN") && !is_final("RUNNING"));
    }
}
