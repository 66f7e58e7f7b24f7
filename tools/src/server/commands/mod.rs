//! The commands, one room per what they touch: [`jobs`] (submit, list,
//! meta, abort, delete, clone), [`download`] (staging a job and serving its
//! files) and [`status`] (the server's status, `_commands`, the stats of a
//! running job). [`run`] takes an admitted request to its command.

use nvflare_hci::BodyFile;
use serde_json::{json, Value};

use super::audit::echo;
use super::identity::Identity;
use super::policy::Person;
use super::reply::Reply;
use super::request::Request;
use super::session::{self, Admitted};
use super::store::{is_job_id, Meta};
use super::State;

pub(super) mod download;
pub(super) mod jobs;
pub(super) mod status;

/// The commands, as `_commands` lists them: scope, name, description,
/// usage, confirm, client command, visible.
pub(super) const COMMANDS: [(&str, &str, &str, &str, &str, &str, &str); 11] = [
    (
        "job_mgmt",
        "submit_job",
        "submit a job",
        "submit_job job_folder",
        "none",
        "file_transfer.push_folder",
        "True",
    ),
    (
        "job_mgmt",
        "download_job",
        "download a specified job",
        "download_job job_id [destination]",
        "none",
        "file_transfer.pull_folder",
        "True",
    ),
    (
        "job_mgmt",
        "download_job_file",
        "download a specified job file",
        "download_job_file job_id file_name",
        "none",
        "file_transfer.pull_binary",
        "False",
    ),
    (
        "job_mgmt",
        "list_jobs",
        "list submitted jobs",
        "list_jobs [-n name_prefix] [-d] [-u] [-r] [-m num_of_jobs] [job_id_prefix]",
        "none",
        "",
        "True",
    ),
    (
        "job_mgmt",
        "get_job_meta",
        "get meta info of specified job",
        "get_job_meta job_id",
        "none",
        "",
        "True",
    ),
    (
        "job_mgmt",
        "abort_job",
        "abort a job if it is running or dispatched",
        "abort_job job_id",
        "yesno",
        "",
        "True",
    ),
    (
        "job_mgmt",
        "delete_job",
        "delete a job and persisted workspace",
        "delete_job job_id",
        "auth",
        "",
        "True",
    ),
    (
        "job_mgmt",
        "clone_job",
        "clone a job with a new job_id",
        "clone_job job_id",
        "none",
        "",
        "True",
    ),
    (
        "training",
        "check_status",
        "check status of the FL server/client",
        "check_status server|client",
        "none",
        "",
        "True",
    ),
    (
        "info",
        "show_stats",
        "show current system stats for an actively running job",
        "show_stats job_id server|client [clients]",
        "none",
        "",
        "True",
    ),
    (
        "info",
        "show_errors",
        "show latest errors in an actively running job",
        "show_errors job_id server|client [clients]",
        "none",
        "",
        "True",
    ),
];

/// Whether `scope.name` is how NVFlare's client names one of the commands.
pub(super) fn is_scoped(scope: &str, name: &str) -> bool {
    COMMANDS.iter().any(|c| c.0 == scope && c.1 == name)
}

/// Commands whose first argument (second for `download_job_file`) is a job.
const JOB_COMMANDS: [&str; 8] = [
    "get_job_meta",
    "abort_job",
    "delete_job",
    "clone_job",
    "download_job",
    "download_job_file",
    "show_stats",
    "show_errors",
];

/// Runs one request for the peer named by `identity`: admitted first
/// (before login, only its first word and token are looked at), then split,
/// authorized, and done.
pub(super) fn run(
    state: &State,
    identity: &Identity,
    request: &Request,
    body: Option<BodyFile>,
) -> Reply {
    let token = match session::admit(state, identity, request) {
        Ok(Admitted::Login) => return session::login(state, identity, request),
        Ok(Admitted::CheckSession) => {
            return session::check(state, identity, request.token.as_deref())
        }
        Ok(Admitted::Session(token)) => token,
        Err(reply) => return reply,
    };
    let args = request.args();
    let Some(command) = args.first().map(String::as_str) else {
        return Reply::error("syntax_error", "empty command");
    };
    match command {
        "_logout" => return session::logout(state, token),
        "_commands" => return status::commands_table(),
        _ => {}
    }
    if !COMMANDS.iter().any(|c| c.1 == command) {
        return Reply::error(
            "syntax_error",
            &format!("Unknown command {}", echo(command)),
        );
    }
    if command == "submit_job" {
        return jobs::submit(state, identity, &args, body);
    }
    drop(body);
    let user = Person::of(identity);
    // Commands on a job: the id is checked before the right.
    let job = if JOB_COMMANDS.contains(&command) {
        match job_arg(
            state,
            &args,
            if command == "download_job_file" { 2 } else { 1 },
        ) {
            Ok(j) => Some(j),
            Err(reply) => return reply,
        }
    } else {
        None
    };
    let submitter = job
        .as_ref()
        .map(|(_, m)| submitter_of(m))
        .unwrap_or_default();
    if !state.policy.allows(command, &user, &submitter) {
        return super::reply::not_authorized(&user, command);
    }
    match (command, job) {
        ("check_status", _) => status::check_status(state, &args),
        ("list_jobs", _) => jobs::list(state, &args, &identity.name),
        ("get_job_meta", Some((_, meta))) => Reply::new()
            .item("dict", Value::Object(meta.clone()))
            .ok(json!({"job_meta": meta})),
        ("abort_job", Some((id, _))) => jobs::abort(state, &id),
        ("delete_job", Some((id, meta))) => jobs::delete(state, &id, &meta),
        ("clone_job", Some((id, meta))) => jobs::clone(state, identity, &id, &meta),
        ("download_job", Some((id, meta))) => download::stage(state, identity, token, &id, &meta),
        ("download_job_file", Some((id, _))) => download::file(state, token, &id, &args),
        ("show_stats" | "show_errors", Some((id, _))) => status::not_running(&id),
        _ => Reply::error("internal_error", "no handler"),
    }
}

fn submitter_of(meta: &Meta) -> Person {
    let s = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or_default();
    Person::new(s("submitter_name"), s("submitter_org"), s("submitter_role"))
}

/// The job named by `args[at]`: its id and meta, or the refusal (which
/// repeats at most `MAX_ECHO` characters of the argument).
fn job_arg(state: &State, args: &[String], at: usize) -> Result<(String, Meta), Reply> {
    let Some(id) = args.get(at) else {
        return Err(Reply::error("syntax_error", "syntax error: missing job_id"));
    };
    let id = id.to_lowercase();
    if !is_job_id(&id) {
        let shown = echo(&id);
        return Err(
            Reply::error("invalid_job_id", &format!("invalid job_id {shown}")).meta(
                "invalid_job_id",
                &shown,
                json!({}),
            ),
        );
    }
    match state.store.get(&id) {
        Some(meta) => Ok((id, meta)),
        None => Err(
            Reply::error("invalid_job_id", &format!("Job with ID {id} doesn't exist")).meta(
                "invalid_job_id",
                &id,
                json!({}),
            ),
        ),
    }
}
