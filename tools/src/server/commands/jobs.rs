//! The commands on the job store: `submit_job` (the zip checked by
//! [`job::check`](crate::server::job::check)), `list_jobs` (from the
//! store's summaries), `abort_job`, `delete_job` and `clone_job`.

use nvflare_hci::BodyFile;
use serde_json::{json, Value};

use super::super::audit::{echo, iso_time, now_secs};
use super::super::identity::Identity;
use super::super::job;
use super::super::limits::MAX_DETAIL_REPLY;
use super::super::policy::Person;
use super::super::reply::{not_authorized, Reply};
use super::super::store::{Meta, Summary};
use super::super::State;

/// `submit_job FOLDER` with the job's zip: checked, then stored durably
/// before the reply names its id.
pub(in crate::server) fn submit(
    state: &State,
    identity: &Identity,
    args: &[String],
    body: Option<BodyFile>,
) -> Reply {
    let user = Person::of(identity);
    if !state.policy.allows("submit_job", &user, &Person::default()) {
        return not_authorized(&user, "submit_job");
    }
    let (Some(folder), Some(body)) = (args.get(1), body) else {
        return Reply::error(
            "syntax_error",
            "Usage: submit_job job_folder, with the job zip",
        );
    };
    let mut meta = match job::check(body.path(), folder, &state.chain) {
        Ok(meta) => meta,
        Err(e) => return Reply::error("invalid_job_def", &e),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_secs();
    for (k, v) in [
        ("submitter_name", json!(identity.name)),
        ("submitter_org", json!(identity.org)),
        ("submitter_role", json!(identity.role)),
        ("job_folder_name", json!(folder)),
        ("job_id", json!(id)),
        ("submit_time", json!(now)),
        ("submit_time_iso", json!(iso_time(now))),
        ("start_time", json!("")),
        ("duration", json!("N/A")),
        ("data_storage_format", json!(2)),
        ("status", json!("SUBMITTED")),
    ] {
        meta.insert(k.into(), v);
    }
    if let Err(e) = state.store.create(&meta, body) {
        return Reply::error("internal_error", &format!("cannot store the job: {e}"));
    }
    Reply::new()
        .string(format!("Submitted job: {id}"))
        .item("success", "")
        .ok(json!({"job_id": id}))
}

/// The options of `list_jobs`.
#[derive(Default)]
struct ListOptions {
    detail: bool,
    reverse: bool,
    mine: bool,
    max: Option<usize>,
    name: Option<String>,
    prefix: Option<String>,
}

fn list_options(args: &[String]) -> Result<ListOptions, Reply> {
    let mut o = ListOptions::default();
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-d" => o.detail = true,
            "-r" => o.reverse = true,
            "-u" => o.mine = true,
            "-m" | "-n" => {
                let Some(v) = it.next() else {
                    return Err(Reply::error(
                        "syntax_error",
                        &format!("argument {a}: expected one argument"),
                    ));
                };
                if a == "-m" {
                    let n = v.parse().map_err(|_| {
                        Reply::error(
                            "syntax_error",
                            &format!("argument -m: invalid int value: '{}'", echo(v)),
                        )
                    })?;
                    o.max = Some(n);
                } else {
                    o.name = Some(v.to_lowercase());
                }
            }
            _ if o.prefix.is_none() && !a.starts_with('-') => o.prefix = Some(a.to_lowercase()),
            _ => {
                return Err(Reply::error(
                    "syntax_error",
                    &format!("unrecognized arguments: {}", echo(a)),
                ))
            }
        }
    }
    Ok(o)
}

/// `list_jobs [-d] [-u] [-r] [-m N] [-n NAME] [ID_PREFIX]`, from the
/// store's summaries; `-d` reads the chosen jobs' metas, one at a time, up
/// to [`MAX_DETAIL_REPLY`] bytes.
pub(in crate::server) fn list(state: &State, args: &[String], user: &str) -> Reply {
    let o = match list_options(args) {
        Ok(o) => o,
        Err(reply) => return reply,
    };
    let mut jobs = state.store.list();
    if jobs.is_empty() {
        return Reply::new()
            .string("No jobs found.")
            .item("success", "")
            .ok(json!({"jobs": []}));
    }
    jobs.retain(|s: &Summary| {
        o.prefix
            .as_ref()
            .is_none_or(|p| s.job_id.to_lowercase().starts_with(p))
            && o.name
                .as_ref()
                .is_none_or(|n| s.name.to_lowercase().starts_with(n))
            && (!o.mine || s.submitter_name == user)
    });
    if jobs.is_empty() {
        return Reply::new()
            .string("No jobs matching the specified criteria.")
            .item("success", "")
            .ok(json!({"jobs": []}));
    }
    jobs.sort_by(|a, b| a.submit_time.total_cmp(&b.submit_time));
    if o.reverse {
        jobs.reverse();
    }
    if let Some(n) = o.max.filter(|n| *n > 0) {
        if o.reverse {
            jobs.truncate(n);
        } else {
            jobs.drain(..jobs.len().saturating_sub(n));
        }
    }
    if o.detail {
        return details(state, &jobs);
    }
    let mut rows = vec![vec![
        json!("Job ID"),
        json!("Name"),
        json!("Status"),
        json!("Submit Time"),
        json!("Run Duration"),
    ]];
    let mut summary = Vec::new();
    for s in &jobs {
        rows.push(vec![
            json!(s.job_id),
            json!(s.name),
            json!(s.status),
            json!(s.submit_time_iso),
            json!(s.duration),
        ]);
        summary.push(
            json!({"job_id": s.job_id, "job_name": s.name, "status": s.status,
            "submit_time": s.submit_time_iso, "duration": s.duration}),
        );
    }
    Reply::new()
        .table(rows)
        .item("success", "")
        .ok(json!({"jobs": summary}))
}

/// `list_jobs -d`: each job's meta, as NVFlare prints them, until the
/// reply holds [`MAX_DETAIL_REPLY`] bytes.
fn details(state: &State, jobs: &[Summary]) -> Reply {
    let mut reply = Reply::new();
    let mut metas: Vec<Meta> = Vec::new();
    let mut size = 0;
    for (shown, s) in jobs.iter().enumerate() {
        let Some(meta) = state.store.get(&s.job_id) else {
            continue;
        };
        let text = serde_json::to_string_pretty(&meta).unwrap_or_default();
        size += 2 * text.len();
        if size > MAX_DETAIL_REPLY && shown > 0 {
            reply = reply.string(format!(
                "... {} more jobs not shown: narrow the list with -m, -n or a job id prefix",
                jobs.len() - shown
            ));
            break;
        }
        reply = reply.string(text);
        metas.push(meta);
    }
    reply
        .string("")
        .item("success", "")
        .ok(json!({"jobs": metas}))
}

pub(in crate::server) fn abort(state: &State, id: &str) -> Reply {
    let mut message = String::new();
    let updated = state.store.update(id, |meta| {
        let status = meta
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if status.starts_with("FINISHED:") {
            message = format!("Job for {id} is already completed.");
        } else {
            meta.insert("status".into(), json!("FINISHED:ABORTED"));
            message = format!("Aborted the job {id} before running it.");
        }
    });
    match updated {
        Ok(Some(_)) => {
            Reply::new()
                .string(&message)
                .item("success", "")
                .meta("ok", &message, json!({}))
        }
        Ok(None) => Reply::error("invalid_job_id", &format!("Job with ID {id} doesn't exist")),
        Err(e) => Reply::error("internal_error", &format!("cannot abort: {e}")),
    }
}

pub(in crate::server) fn delete(state: &State, id: &str, meta: &Meta) -> Reply {
    let status = meta.get("status").and_then(Value::as_str).unwrap_or("");
    if status == "RUNNING" || status == "DISPATCHED" {
        return Reply::error(
            "job_running",
            &format!("job: {id} is running, could not be deleted at this time."),
        );
    }
    match state.store.delete(id) {
        Ok(()) => {
            state.transfers.release_job(id);
            Reply::new()
                .string(format!("Job {id} deleted."))
                .item("success", "")
                .ok(json!({}))
        }
        Err(e) => Reply::error("internal_error", &format!("exception occurred: {e}")),
    }
}

pub(in crate::server) fn clone(state: &State, identity: &Identity, id: &str, meta: &Meta) -> Reply {
    const CLONED: [&str; 10] = [
        "name",
        "job_folder_name",
        "deploy_map",
        "resource_spec",
        "content_location",
        "result_location",
        "approvals",
        "min_clients",
        "mandatory_clients",
        "data_storage_format",
    ];
    let mut new: Meta = meta
        .iter()
        .filter(|(k, _)| CLONED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let new_id = uuid::Uuid::new_v4().to_string();
    let now = now_secs();
    for (k, v) in [
        ("submitter_name", json!(identity.name)),
        ("submitter_org", json!(identity.org)),
        ("submitter_role", json!(identity.role)),
        ("cloned_from", json!(id)),
        ("job_id", json!(new_id)),
        ("submit_time", json!(now)),
        ("submit_time_iso", json!(iso_time(now))),
        ("start_time", json!("")),
        ("duration", json!("N/A")),
        ("status", json!("SUBMITTED")),
    ] {
        new.insert(k.into(), v);
    }
    match state.store.clone_job(id, &new) {
        Ok(()) => Reply::new()
            .string(format!("Cloned job {id} as: {new_id}"))
            .item("success", "")
            .ok(json!({"job_id": new_id})),
        Err(e) => Reply::error(
            "internal_error",
            &format!("Exception occurred trying to clone job: {e}"),
        ),
    }
}
