//! What the server says of itself: `check_status`, `_commands`, and the
//! commands on a running job (no job ever runs here).

use serde_json::json;

use super::super::audit::echo;
use super::super::reply::Reply;
use super::super::State;
use super::COMMANDS;

/// `check_status server|client`: the server is stopped, with no clients.
pub(in crate::server) fn check_status(state: &State, args: &[String]) -> Reply {
    match args.get(1).map(String::as_str) {
        Some("server") => Reply::new()
            .string("Engine status: stopped")
            .table(vec![vec![json!("job_id"), json!("app name")]])
            .string("Registered clients: 0 ")
            .ok(
                json!({"server_status": "stopped", "server_start_time": state.start_time,
                       "jobs": [], "clients": []}),
            ),
        Some("client") => Reply::error("error", "no responses from clients"),
        other => {
            let dst = echo(other.unwrap_or(""));
            Reply::error(
                "syntax_error",
                &format!("invalid target type {dst}. Usage: check_status server|client ..."),
            )
        }
    }
}

/// `show_stats` and `show_errors`: the job is not running.
pub(in crate::server) fn not_running(id: &str) -> Reply {
    Reply::error("job_not_running", &format!("Job_id: {id} is not running."))
}

/// `_commands`: the table NVFlare's client builds its commands from.
pub(in crate::server) fn commands_table() -> Reply {
    let mut rows = vec![vec![
        json!("scope"),
        json!("command"),
        json!("description"),
        json!("usage"),
        json!("confirm"),
        json!("client_cmd"),
        json!("visible"),
    ]];
    for (scope, name, desc, usage, confirm, client, visible) in COMMANDS {
        rows.push(
            [scope, name, desc, usage, confirm, client, visible]
                .iter()
                .map(|s| json!(s))
                .collect(),
        );
    }
    Reply::new().table(rows).ok(json!({}))
}
