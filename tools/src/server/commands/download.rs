//! Where a download gets staged, and what it may serve.
//!
//! `download_job ID` stages the job in the store's `.transfer/TX/`
//! (`meta.json`, and `job.zip` as a hard link) and answers with the files;
//! `download_job_file TX JOB FILE [end]` then serves them, one request
//! each, only to the session that staged them, and `end` drops the
//! staging. Nothing staged outlives what it belongs to: it goes at
//! `_logout`, when its session ends (idle, or pushed out by its
//! certificate's newer ones), at `delete_job` of its job, and past
//! [`MAX_TRANSFERS_PER_SESSION`] per session or [`MAX_TRANSFERS_PER_CERT`]
//! per certificate (the oldest first).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

use super::super::audit::echo;
use super::super::identity::Identity;
use super::super::limits::{MAX_TRANSFERS_PER_CERT, MAX_TRANSFERS_PER_SESSION};
use super::super::reply::Reply;
use super::super::store::Meta;
use super::super::State;

/// A download in progress: its files, for its session only.
struct Transfer {
    token: String,
    fingerprint: [u8; 32],
    job_id: String,
    files: Vec<String>,
    dir: PathBuf,
    created: Instant,
}

/// The downloads staged, by transaction id.
pub(in crate::server) struct Transfers {
    map: Mutex<HashMap<String, Transfer>>,
    /// A staging never finished goes after this long.
    timeout: Duration,
}

impl Transfers {
    /// None staged; each goes after `timeout` at the latest.
    pub fn new(timeout: Duration) -> Transfers {
        Transfers {
            map: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Transfer>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes the transfers `which` picks, and their folders.
    fn release(&self, which: impl Fn(&Transfer) -> bool) {
        let gone: Vec<Transfer> = {
            let mut map = self.lock();
            let keys: Vec<String> = map
                .iter()
                .filter(|(_, t)| which(t))
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        for t in gone {
            let _ = std::fs::remove_dir_all(&t.dir);
        }
    }

    /// Drops what the sessions of `tokens` staged.
    pub fn release_sessions(&self, tokens: &[String]) {
        if !tokens.is_empty() {
            self.release(|t| tokens.contains(&t.token));
        }
    }

    /// Drops every staging of job `id`.
    pub fn release_job(&self, id: &str) {
        self.release(|t| t.job_id == id);
    }

    /// Drops the stagings older than the timeout.
    pub fn sweep(&self) {
        self.release(|t| t.created.elapsed() > self.timeout);
    }

    /// Downloads staged.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Makes room for one more staging of `token` and `fingerprint`: drops
    /// the stale ones, and the oldest past either bound.
    fn make_room(&self, token: &str, fingerprint: &[u8; 32]) {
        let gone: Vec<Transfer> = {
            let mut map = self.lock();
            let mut old: Vec<String> = map
                .iter()
                .filter(|(_, t)| t.created.elapsed() > self.timeout)
                .map(|(k, _)| k.clone())
                .collect();
            for (bound, mine) in [
                (
                    MAX_TRANSFERS_PER_SESSION,
                    &(|t: &Transfer| t.token == token) as &dyn Fn(&Transfer) -> bool,
                ),
                (MAX_TRANSFERS_PER_CERT, &|t: &Transfer| {
                    t.fingerprint == *fingerprint
                }),
            ] {
                let mut mine: Vec<(&String, Instant)> = map
                    .iter()
                    .filter(|(k, t)| mine(t) && !old.contains(k))
                    .map(|(k, t)| (k, t.created))
                    .collect();
                mine.sort_by_key(|(_, at)| *at);
                let over = (mine.len() + 1).saturating_sub(bound);
                let drop: Vec<String> = mine.iter().take(over).map(|(k, _)| (*k).clone()).collect();
                old.extend(drop);
            }
            old.iter().filter_map(|k| map.remove(k)).collect()
        };
        for t in gone {
            let _ = std::fs::remove_dir_all(&t.dir);
        }
    }
}

/// `download_job ID`: stages the job for this session.
pub(in crate::server) fn stage(
    state: &State,
    identity: &Identity,
    token: &str,
    id: &str,
    meta: &Meta,
) -> Reply {
    state.transfers.make_room(token, &identity.fingerprint);
    let tx = uuid::Uuid::new_v4().to_string();
    let dir = match state.store.stage_download(id, &tx, meta) {
        Ok(d) => d,
        Err(e) => return Reply::error("internal_error", &format!("cannot stage the job: {e}")),
    };
    let files = vec!["meta.json".to_owned(), "job.zip".to_owned()];
    state.transfers.lock().insert(
        tx.clone(),
        Transfer {
            token: token.to_owned(),
            fingerprint: identity.fingerprint,
            job_id: id.to_owned(),
            files: files.clone(),
            dir,
            created: Instant::now(),
        },
    );
    Reply::new().string("OK").ok(json!({
        "files": files, "tx_id": tx, "folder_name": id, "cmd_name": "download_job_file",
    }))
}

/// `download_job_file TX JOB FILE [end]`: only a file of the session's
/// own transaction for that job.
pub(in crate::server) fn file(state: &State, token: &str, id: &str, args: &[String]) -> Reply {
    let (tx, file) = match (args.get(1), args.get(3)) {
        (Some(t), Some(f)) => (t.as_str(), f.as_str()),
        _ => {
            return Reply::error(
                "syntax_error",
                "Usage: download_job_file tx_id job_id file_name [end]",
            )
        }
    };
    let end = args.get(4).is_some_and(|a| a == "end");
    let mut transfers = state.transfers.lock();
    let Some(transfer) = transfers
        .get(tx)
        .filter(|t| t.token == token && t.job_id == id)
    else {
        return Reply::error(
            "error",
            &format!("no download {} of job {id} in this session", echo(tx)),
        );
    };
    if !transfer.files.iter().any(|f| f == file) {
        return Reply::error(
            "error",
            &format!("{:?} is not a file of download {tx}", echo(file)),
        );
    }
    let path = transfer.dir.join(file);
    if end {
        // The transfer ends: no other request can name it, and its
        // folder goes once the file is sent.
        let Some(t) = transfers.remove(tx) else {
            return Reply::error("error", &format!("no download {tx}"));
        };
        return Reply::File(path, Some(t.dir));
    }
    Reply::File(path, None)
}
