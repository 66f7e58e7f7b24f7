//! A request: the JSON text NVFlare's client sends (its command line and
//! token), parsed only as far as is safe before the session is checked.
//! The text is at most [`MAX_REQUEST`](super::limits::MAX_REQUEST) bytes,
//! bounded by the connection's limits before a byte of it is parsed.

use serde_json::Value;

use super::audit::echo;
use super::reply::Reply;

/// A parsed request: the command line and the token, not yet split.
pub(super) struct Request {
    /// The command line as sent.
    pub line: String,
    /// The session's token, if the request carries one.
    pub token: Option<String>,
}

impl Request {
    /// Parses a request's JSON text (`{"data": [{"type": "command", ...},
    /// {"type": "token", ...}], ...}`).
    pub fn parse(text: &str) -> Result<Request, Reply> {
        let text = text.trim_end_matches(['\u{3}', '\u{4}']);
        let json: Value = serde_json::from_str(text)
            .map_err(|e| Reply::error("syntax_error", &format!("the request is not JSON: {e}")))?;
        let items = json["data"]
            .as_array()
            .ok_or_else(|| Reply::error("syntax_error", "the request has no data"))?;
        let find = |kind: &str| {
            items
                .iter()
                .find(|i| i["type"] == kind)
                .and_then(|i| i["data"].as_str())
                .map(str::to_owned)
        };
        let line = find("command")
            .ok_or_else(|| Reply::error("syntax_error", "the request has no command"))?;
        Ok(Request {
            line,
            token: find("token"),
        })
    }

    /// The command's name: the first word of the line, without the scope
    /// NVFlare's client puts before its client commands
    /// (`job_mgmt.submit_job`). Nothing else of the line is looked at.
    pub fn name(&self) -> &str {
        let first = self
            .line
            .split(|c: char| c.is_whitespace())
            .find(|w| !w.is_empty())
            .unwrap_or_default();
        let first = first.trim_matches(['"', '\'']);
        match first.split_once('.') {
            Some((scope, name)) if super::commands::is_scoped(scope, name) => name,
            _ => first,
        }
    }

    /// The command as the audit log shows it: cut to `MAX_ECHO` characters.
    pub fn shown(&self) -> String {
        echo(&self.line)
    }

    /// The command line's words, split as NVFlare's server splits them, the
    /// scope taken off the first.
    pub fn args(&self) -> Vec<String> {
        let mut args = split_args(&self.line);
        if let Some(first) = args.first_mut() {
            if let Some((scope, name)) = first.split_once('.') {
                if super::commands::is_scoped(scope, name) {
                    *first = name.to_owned();
                }
            }
        }
        args
    }
}

/// Splits a command line as NVFlare's server does: on spaces, or
/// shell-like when it holds a double quote.
pub fn split_args(line: &str) -> Vec<String> {
    let line = if line.contains('"') {
        line
    } else {
        line.split('#').next().unwrap_or_default()
    };
    let mut args = Vec::new();
    let mut cur = String::new();
    let (mut in_quote, mut started) = (None::<char>, false);
    for c in line.chars() {
        match (in_quote, c) {
            (Some(q), c) if c == q => in_quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') if line.contains('"') => {
                in_quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started || !cur.is_empty() {
                    args.push(std::mem::take(&mut cur));
                }
                started = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if started || !cur.is_empty() {
        args.push(cur);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_split_as_nvflare_splits_them() {
        assert_eq!(
            split_args("list_jobs  -m 2  abc"),
            ["list_jobs", "-m", "2", "abc"]
        );
        assert_eq!(
            split_args(r#"submit_job "my job""#),
            ["submit_job", "my job"]
        );
        assert_eq!(
            split_args("check_status server # x"),
            ["check_status", "server"]
        );
    }

    #[test]
    fn the_name_is_the_first_word_without_its_scope() {
        let request = |line: &str| Request {
            line: line.into(),
            token: None,
        };
        assert_eq!(request("  job_mgmt.submit_job x").name(), "submit_job");
        assert_eq!(request("other.submit_job x").name(), "other.submit_job");
        assert_eq!(request("list_jobs").name(), "list_jobs");
        assert_eq!(request("").name(), "");
        assert_eq!(request("job_mgmt.list_jobs -d").args(), ["list_jobs", "-d"]);
    }
}
