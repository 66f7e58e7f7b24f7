//! A reply: NVFlare's JSON document of items (`string`, `table`, `dict`,
//! `error`, ...) and meta (`status`, `info`, ...), or a file; and how it
//! goes out on the connection.

use std::io::{Read, Write};
use std::path::PathBuf;

use nvflare_hci::Connection;
use serde_json::{json, Map, Value};

use super::audit::{iso_time, now_secs};
use super::policy::Person;
use crate::admin::session::ascii_json;

/// A reply: its items and meta, or a file.
pub(super) enum Reply {
    /// NVFlare's document: `data` (the items) and `meta`.
    Text {
        data: Vec<Value>,
        meta: Map<String, Value>,
    },
    /// A file, and a folder to remove once it is sent.
    File(PathBuf, Option<PathBuf>),
}

impl Reply {
    /// No items, no meta.
    pub fn new() -> Reply {
        Reply::Text {
            data: Vec::new(),
            meta: Map::new(),
        }
    }

    /// One more item of `kind`.
    pub fn item(mut self, kind: &str, data: impl Into<Value>) -> Reply {
        if let Reply::Text { data: items, .. } = &mut self {
            items.push(json!({"type": kind, "data": data.into()}));
        }
        self
    }

    /// One more `string` item.
    pub fn string(self, s: impl Into<String>) -> Reply {
        self.item("string", s.into())
    }

    /// One more `table` item.
    pub fn table(mut self, rows: Vec<Vec<Value>>) -> Reply {
        if let Reply::Text { data, .. } = &mut self {
            data.push(json!({"type": "table", "rows": rows}));
        }
        self
    }

    /// The meta's `status` and `info`, and `extra`'s members.
    pub fn meta(mut self, status: &str, info: &str, extra: Value) -> Reply {
        if let Reply::Text { meta, .. } = &mut self {
            meta.insert("status".into(), json!(status));
            meta.insert("info".into(), json!(info));
            if let Value::Object(extra) = extra {
                meta.extend(extra);
            }
        }
        self
    }

    /// Status `ok`, with `extra`.
    pub fn ok(self, extra: Value) -> Reply {
        self.meta("ok", "", extra)
    }

    /// An `error` item and its status, with the message as `info`.
    pub fn error(status: &str, message: &str) -> Reply {
        Reply::new()
            .item("error", message)
            .meta(status, message, json!({}))
    }

    /// The reply's status, for the audit log: `meta.status`, or
    /// `rejected` for a refused login (whose reply has no meta).
    pub fn status(&self) -> String {
        match self {
            Reply::Text { data, .. } if data.iter().any(|i| i["data"] == "REJECT") => {
                "rejected".into()
            }
            Reply::Text { meta, .. } => meta
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("ok")
                .to_owned(),
            Reply::File(..) => "ok".into(),
        }
    }
}

/// NVFlare's refusal of a right: status `not_authorized`.
pub(super) fn not_authorized(user: &Person, right: &str) -> Reply {
    let err = format!("user '{}' is not authorized for '{right}'", user.name);
    Reply::error("not_authorized", &format!("Authorization Error: {err}")).meta(
        "not_authorized",
        &err,
        json!({}),
    )
}

/// Sends `reply`; a file's folder is removed once the file is open,
/// before it is sent, whatever happens.
pub(super) fn send_reply<S: Read + Write>(
    conn: &mut Connection<S>,
    reply: &Reply,
) -> Result<(), String> {
    match reply {
        Reply::Text { data, meta } => {
            let text =
                ascii_json(&json!({"time": iso_time(now_secs()), "data": data, "meta": meta}));
            conn.send_lines([text.as_str(), ""])
                .map_err(|e| nvflare_hci::ErrorChain(&e).to_string())
        }
        Reply::File(path, cleanup) => {
            // The file is opened first and its folder removed before a
            // byte is sent: a transfer that ends is released before the
            // client has its last file, whatever happens to the send.
            let opened = nvflare_hci::GenerateDataFromFile::open(path);
            if let Some(dir) = cleanup {
                let _ = std::fs::remove_dir_all(dir);
            }
            let body = opened.map_err(|e| format!("{}: {e}", path.display()))?;
            conn.send_binary_data(body, "")
                .map(|_| ())
                .map_err(|e| nvflare_hci::ErrorChain(&e).to_string())
        }
    }
}
