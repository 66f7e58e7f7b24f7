//! The audit log: one JSON record per request, per refused handshake and
//! per busy refusal, with who asked, what, how it ended, and the bytes it
//! moved. Peer input in a record is cut to [`MAX_ECHO`] characters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::identity::Identity;
use super::limits::MAX_ECHO;

/// Where the records go.
pub(super) type Log = Arc<dyn Fn(Value) + Send + Sync>;

pub(super) fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `secs` since the epoch as ISO 8601 in UTC, with microseconds.
pub fn iso_time(secs: f64) -> String {
    let whole = secs.floor() as i64;
    let micros = ((secs - whole as f64) * 1e6) as u32;
    let (days, rem) = (whole.div_euclid(86400), whole.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `s` cut to [`MAX_ECHO`] characters, `…` marking a cut: what a reply or
/// a record repeats of peer input.
pub(super) fn echo(s: &str) -> String {
    match s.char_indices().nth(MAX_ECHO) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// One line of the audit log: what was asked, by whom, and how it ended.
pub(super) struct Audit {
    pub peer: String,
    pub user: Option<Identity>,
    pub command: String,
    pub status: String,
    pub bytes_in: Arc<AtomicU64>,
    pub bytes_out: Arc<AtomicU64>,
    pub started: Instant,
    pub error: Option<String>,
}

impl Audit {
    pub fn record(&self) -> Value {
        let (user, org, role) = match &self.user {
            Some(i) => (i.name.as_str(), i.org.as_str(), i.role.as_str()),
            None => ("", "", ""),
        };
        let mut v = json!({
            "time": iso_time(now_secs()), "peer": self.peer, "user": user, "org": org,
            "role": role, "command": self.command, "status": self.status,
            "bytes_in": self.bytes_in.load(Ordering::Relaxed),
            "bytes_out": self.bytes_out.load(Ordering::Relaxed),
            "ms": self.started.elapsed().as_millis() as u64,
        });
        if let Some(e) = &self.error {
            v["error"] = json!(e);
        }
        v
    }
}

/// A record of the server's own: `event` and its fields, with the time.
pub(super) fn event(event: &str, fields: Value) -> Value {
    let mut v = json!({"time": iso_time(now_secs()), "event": event});
    if let (Value::Object(v), Value::Object(fields)) = (&mut v, fields) {
        v.extend(fields);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times() {
        assert_eq!(iso_time(0.0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            iso_time(1_709_251_199.5),
            "2024-02-29T23:59:59.500000+00:00"
        );
    }

    #[test]
    fn echoes_are_cut() {
        assert_eq!(echo("abc"), "abc");
        let long = "é".repeat(MAX_ECHO + 5);
        let cut = echo(&long);
        assert_eq!(cut.chars().count(), MAX_ECHO + 1);
        assert!(cut.ends_with('…'));
    }
}
