//! An admin server for NVFlare 2.6.3's own admin client: login, sessions
//! bound to the certificate that logged in, the authorization policy, and
//! the job commands over a job store. It runs no jobs.
//!
//! One TLS connection per request, as NVFlare's client expects; each
//! connection has its thread, where its handshake runs under one deadline,
//! so a silent peer delays nobody.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nvflare_hci::{
    Connection, ContentType, DataProcessor, End, Exchange, Limits, MsgDataProcessor, Start,
};
use rustls::{ServerConnection, StreamOwned};
use serde_json::{json, Map, Value};

pub mod identity;
pub mod job;
pub mod kit;
pub mod policy;
pub mod store;

use crate::admin::session::ascii_json;
use crate::serve::{self, peer_of, BUSY_TIMEOUT};
use crate::tls;
use identity::{Cert, Chain, Identity};
use policy::{Person, Policy};
use store::{is_job_id, Meta, Store};

pub use kit::ServerKit;

pub use crate::serve::DEFAULT_MAX_CONNECTIONS;

/// How long a reply waits, at most, for the rest of a request it did not
/// read before the connection closes.
const LINGER: Duration = Duration::from_secs(2);

/// Downloads a session may have staged at once.
const MAX_TRANSFERS: usize = 4;

/// The largest job zip accepted.
pub const MAX_JOB_SIZE: u64 = 64 << 30;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server's kit.
    pub kit: ServerKit,
    /// The job store's folder.
    pub store: PathBuf,
    /// Read and write timeout of each connection, and the deadline of its
    /// whole TLS handshake.
    pub timeout: Duration,
    /// Connections at once, handshakes included.
    pub max_connections: usize,
    /// A session ends after this long without a command.
    pub session_timeout: Duration,
}

struct Session {
    identity: Identity,
    last_active: Instant,
}

/// A download in progress: its files, for its session only.
struct Transfer {
    token: String,
    job_id: String,
    files: Vec<String>,
    dir: PathBuf,
    created: Instant,
}

struct State {
    config: Config,
    tls: Arc<rustls::ServerConfig>,
    chain: Chain,
    policy: Policy,
    store: Store,
    sessions: Mutex<HashMap<String, Session>>,
    transfers: Mutex<HashMap<String, Transfer>>,
    start_time: f64,
}

/// A bound server, not yet serving.
pub struct Server {
    listener: TcpListener,
    state: Arc<State>,
}

/// A reply: its items and meta, or a file.
enum Reply {
    Text {
        data: Vec<Value>,
        meta: Map<String, Value>,
    },
    /// A file, and a folder to remove once it is sent.
    File(PathBuf, Option<PathBuf>),
}

impl Reply {
    fn new() -> Reply {
        Reply::Text {
            data: Vec::new(),
            meta: Map::new(),
        }
    }

    fn item(mut self, kind: &str, data: impl Into<Value>) -> Reply {
        if let Reply::Text { data: items, .. } = &mut self {
            items.push(json!({"type": kind, "data": data.into()}));
        }
        self
    }

    fn string(self, s: impl Into<String>) -> Reply {
        self.item("string", s.into())
    }

    fn table(mut self, rows: Vec<Vec<Value>>) -> Reply {
        if let Reply::Text { data, .. } = &mut self {
            data.push(json!({"type": "table", "rows": rows}));
        }
        self
    }

    fn meta(mut self, status: &str, info: &str, extra: Value) -> Reply {
        if let Reply::Text { meta, .. } = &mut self {
            meta.insert("status".into(), json!(status));
            meta.insert("info".into(), json!(info));
            if let Value::Object(extra) = extra {
                meta.extend(extra);
            }
        }
        self
    }

    fn ok(self, extra: Value) -> Reply {
        self.meta("ok", "", extra)
    }

    /// An `error` item and its status, with the message as `info`.
    fn error(status: &str, message: &str) -> Reply {
        Reply::new()
            .item("error", message)
            .meta(status, message, json!({}))
    }

    /// The reply's status, for the audit log: `meta.status`, or
    /// `rejected` for a refused login (whose reply has no meta).
    fn status(&self) -> String {
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

fn now_secs() -> f64 {
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

/// The commands, as `_commands` lists them: scope, name, description,
/// usage, confirm, client command, visible.
const COMMANDS: [(&str, &str, &str, &str, &str, &str, &str); 11] = [
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

/// One line of the audit log: what was asked, by whom, and how it ended.
struct Audit {
    peer: String,
    user: Option<Identity>,
    command: String,
    status: String,
    bytes_in: Arc<AtomicU64>,
    bytes_out: Arc<AtomicU64>,
    started: Instant,
    error: Option<String>,
}

impl Audit {
    fn record(&self) -> Value {
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

/// The TCP stream after the handshake, counting bytes both ways.
struct Counted {
    tcp: TcpStream,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tcp.write(buf)?;
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

type Conn = Connection<StreamOwned<ServerConnection, Counted>>;

type Log = Arc<dyn Fn(Value) + Send + Sync>;

impl Server {
    /// Loads the kit's certificates and policy, opens the store, binds `addr`.
    pub fn bind(addr: impl ToSocketAddrs, config: Config) -> Result<Server, String> {
        let kit = &config.kit;
        let tls = tls::server_config(&kit.cert, &kit.key, &kit.root_ca)?;
        let chain = Chain::new(tls::roots(&kit.root_ca)?)?;
        let server_pem =
            std::fs::read(&kit.cert).map_err(|e| format!("{}: {e}", kit.cert.display()))?;
        let site_org = Cert::from_pem(&server_pem)
            .map_err(|e| format!("{}: {e}", kit.cert.display()))?
            .identity
            .org;
        let policy_text = std::fs::read_to_string(&kit.policy)
            .map_err(|e| format!("{}: {e}", kit.policy.display()))?;
        let policy = Policy::parse(&policy_text, &site_org)
            .map_err(|e| format!("{}: {e}", kit.policy.display()))?;
        let store = Store::open(&config.store)
            .map_err(|e| format!("store {}: {e}", config.store.display()))?;
        let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen: {e}"))?;
        Ok(Server {
            listener,
            state: Arc::new(State {
                config,
                tls,
                chain,
                policy,
                store,
                sessions: Mutex::new(HashMap::new()),
                transfers: Mutex::new(HashMap::new()),
                start_time: now_secs(),
            }),
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends; `log` gets one record per request and
    /// per refused peer.
    pub fn run<L>(self, log: L)
    where
        L: Fn(Value) + Send + Sync + 'static,
    {
        let max = self.state.config.max_connections;
        let service = Arc::new(AdminService {
            state: self.state,
            log: Arc::new(log),
        });
        serve::run(&self.listener, max, service);
    }
}

/// The handshake under one deadline; the TLS stream and the peer's
/// identity, or the refusal's log record.
fn open(
    tcp: TcpStream,
    state: &State,
    limit: Duration,
) -> Result<(StreamOwned<ServerConnection, TcpStream>, Identity), Value> {
    let peer = peer_of(&tcp);
    let refused = |e: &str| {
        json!({"time": iso_time(now_secs()), "peer": peer, "event": "handshake",
               "status": "refused", "error": e})
    };
    let timeout = state.config.timeout;
    let _ = tcp.set_nodelay(true);
    let stream = tls::accept(&state.tls, tcp, limit, timeout).map_err(|e| refused(&e))?;
    let identity = stream
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| "no client certificate".to_owned())
        .and_then(|der| Cert::from_der(der).map(|c| c.identity))
        .map_err(|e| refused(&e))?;
    Ok((stream, identity))
}

/// What the admin server does with its connections.
struct AdminService {
    state: Arc<State>,
    log: Log,
}

impl AdminService {
    fn busy_record(&self, stream: &TcpStream) -> (String, Value) {
        let error = format!(
            "server busy: {} connections at once, try again later",
            self.state.config.max_connections
        );
        let record = json!({"time": iso_time(now_secs()), "peer": peer_of(stream),
                            "event": "busy", "status": "refused", "error": error});
        (error, record)
    }
}

impl serve::Service for AdminService {
    fn serve(&self, stream: TcpStream) {
        if let Some(record) = handle(stream, &self.state) {
            (self.log)(record);
        }
    }

    /// An NVFlare-shaped error reply (after the handshake).
    fn busy(&self, stream: TcpStream) {
        let (error, record) = self.busy_record(&stream);
        let _ = stream.set_read_timeout(Some(BUSY_TIMEOUT));
        let _ = stream.set_write_timeout(Some(BUSY_TIMEOUT));
        if let Ok((tls, _)) = open(stream, &self.state, BUSY_TIMEOUT) {
            let mut conn = Connection::new(tls);
            if send_reply(&mut conn, &Reply::error("error", &error)).is_ok() {
                let stream = conn.get_mut();
                stream.conn.send_close_notify();
                let _ = stream.conn.complete_io(&mut stream.sock);
                serve::linger(&stream.sock, BUSY_TIMEOUT);
            }
        }
        (self.log)(record);
    }

    fn dropped(&self, stream: TcpStream) {
        let (_, record) = self.busy_record(&stream);
        drop(stream);
        (self.log)(record);
    }
}

fn send_reply<S: Read + Write>(conn: &mut Connection<S>, reply: &Reply) -> Result<(), String> {
    match reply {
        Reply::Text { data, meta } => {
            let text =
                ascii_json(&json!({"time": iso_time(now_secs()), "data": data, "meta": meta}));
            conn.send_lines([text.as_str(), ""])
                .map_err(|e| nvflare_hci::ErrorChain(&e).to_string())
        }
        Reply::File(path, cleanup) => {
            let sent = conn.send_binary_file(path, "");
            if let Some(dir) = cleanup {
                let _ = std::fs::remove_dir_all(dir);
            }
            sent.map(|_| ())
                .map_err(|e| nvflare_hci::ErrorChain(&e).to_string())
        }
    }
}

/// Serves one connection: handshake, one request, one reply. The audit
/// record, or the refused handshake's.
fn handle(tcp: TcpStream, state: &Arc<State>) -> Option<Value> {
    let started = Instant::now();
    let peer = peer_of(&tcp);
    let timeout = state.config.timeout;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let (tls, identity) = match open(tcp, state, timeout) {
        Ok(x) => x,
        Err(record) => return Some(record),
    };
    let (read, written) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (conn, tcp) = (tls.conn, tls.sock);
    let stream = StreamOwned::new(
        conn,
        Counted {
            tcp,
            read: Arc::clone(&read),
            written: Arc::clone(&written),
        },
    );
    let mut conn: Conn =
        Connection::new(stream).limits(Limits::default().with_max_body_size(MAX_JOB_SIZE));
    let mut audit = Audit {
        peer,
        user: Some(identity.clone()),
        command: String::new(),
        status: String::new(),
        bytes_in: read,
        bytes_out: written,
        started,
        error: None,
    };
    let mut gate = Gate {
        state,
        identity: &identity,
        spool: MsgDataProcessor::in_dir(state.store.spool()),
        refusal: None,
    };
    let received = conn.receive_and_parse(&mut gate);
    let reply = match received {
        Err(_) if gate.refusal.is_some() => {
            audit.command = "upload".into();
            gate.refusal.take().unwrap_or_else(Reply::new)
        }
        // A peer that connects and leaves: nothing to log but the fact.
        Err(e) if e.is_clean_close() => {
            audit.status = "no request".into();
            return Some(audit.record());
        }
        Err(e) => {
            audit.status = "bad request".into();
            audit.error = Some(nvflare_hci::ErrorChain(&e).to_string());
            Reply::error(
                "error",
                &format!("bad request: {}", nvflare_hci::ErrorChain(&e)),
            )
        }
        Ok(Exchange::Text(text)) => match parse_request(&text) {
            Ok((command, token)) => {
                audit.command = shown(&command);
                state.serve(&identity, &command, token.as_deref(), None)
            }
            Err(e) => Reply::error("syntax_error", &e),
        },
        Ok(Exchange::Binary { meta, body }) => match parse_request(&meta) {
            Ok((command, token)) => {
                audit.command = shown(&command);
                // The body is deleted when dropped, whatever the outcome,
                // unless the store took it.
                state.serve(&identity, &command, token.as_deref(), Some(body))
            }
            Err(e) => Reply::error("syntax_error", &e),
        },
    };
    audit.status = reply.status();
    if let Err(e) = send_reply(&mut conn, &reply) {
        audit.status = "error".into();
        audit.error = Some(e);
    }
    let unread = !conn.can_receive();
    let stream = conn.get_mut();
    stream.conn.send_close_notify();
    let _ = stream.conn.complete_io(&mut stream.sock);
    if unread {
        // The request was not read whole: closing now would reset the
        // connection and could destroy the reply before the client reads it.
        serve::linger(&stream.sock.tcp, LINGER);
    }
    Some(audit.record())
}

/// The default processor, behind a gate: a body is spooled only once its
/// meta shows a session of this certificate with the right to submit, so
/// that nobody else's upload takes a byte of disk. A refusal stops the
/// exchange at its header and is kept for the reply.
struct Gate<'a> {
    state: &'a State,
    identity: &'a Identity,
    spool: MsgDataProcessor,
    refusal: Option<Reply>,
}

impl DataProcessor for Gate<'_> {
    type Output = Exchange;

    fn start(&mut self, start: &Start<'_>) -> nvflare_hci::Result<()> {
        if start.content_type() == ContentType::Binary {
            if let Err(reply) = self.state.admit_upload(self.identity, start.meta()) {
                self.refusal = Some(reply);
                return Err(nvflare_hci::Error::Processor(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "upload refused at its header",
                )));
            }
        }
        self.spool.start(start)
    }

    fn process(&mut self, data: &[u8], content_type: ContentType) -> nvflare_hci::Result<()> {
        self.spool.process(data, content_type)
    }

    fn finalize(&mut self, end: &End) -> nvflare_hci::Result<Exchange> {
        self.spool.finalize(end)
    }

    fn abort(&mut self) {
        self.spool.abort()
    }
}

/// The command as logged: at most 200 characters.
fn shown(command: &str) -> String {
    command.chars().take(200).collect()
}

/// The command and the token of a request.
fn parse_request(text: &str) -> Result<(String, Option<String>), String> {
    let text = text.trim_end_matches(['\u{3}', '\u{4}']);
    let json: Value =
        serde_json::from_str(text).map_err(|e| format!("the request is not JSON: {e}"))?;
    let items = json["data"].as_array().ok_or("the request has no data")?;
    let find = |kind: &str| {
        items
            .iter()
            .find(|i| i["type"] == kind)
            .and_then(|i| i["data"].as_str())
            .map(str::to_owned)
    };
    let command = find("command").ok_or("the request has no command")?;
    Ok((command, find("token")))
}

/// NVFlare's refusal of a right: status `not_authorized`.
fn not_authorized(user: &Person, right: &str) -> Reply {
    let err = format!("user '{}' is not authorized for '{right}'", user.name);
    Reply::error("not_authorized", &format!("Authorization Error: {err}")).meta(
        "not_authorized",
        &err,
        json!({}),
    )
}

fn person(identity: &Identity) -> Person {
    Person::new(&identity.name, &identity.org, &identity.role)
}

fn submitter_of(meta: &Meta) -> Person {
    let s = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or_default();
    Person::new(s("submitter_name"), s("submitter_org"), s("submitter_role"))
}

impl State {
    /// Runs one command for the peer named by `identity`.
    fn serve(
        &self,
        identity: &Identity,
        line: &str,
        token: Option<&str>,
        body: Option<nvflare_hci::BodyFile>,
    ) -> Reply {
        let mut args = split_args(line);
        if args.is_empty() {
            return Reply::error("syntax_error", "empty command");
        }
        // Scope-qualified, as NVFlare's client sends its client commands.
        if let Some((scope, name)) = args[0].split_once('.') {
            if COMMANDS.iter().any(|c| c.0 == scope && c.1 == name) {
                args[0] = name.to_owned();
            }
        }
        let command = args[0].clone();
        match command.as_str() {
            "_cert_login" => return self.login(identity, &args),
            "_check_session" => return self.check_session(identity, token),
            _ => {}
        }
        let Some(token) = token else {
            return Reply::error("error", "not authenticated - no token");
        };
        if let Err(reply) = self.authenticate(identity, token) {
            return reply;
        }
        match command.as_str() {
            "_logout" => {
                self.lock_sessions().remove(token);
                return Reply::new().string("OK");
            }
            "_commands" => return commands_table(),
            _ => {}
        }
        if !COMMANDS.iter().any(|c| c.1 == command) {
            return Reply::error("syntax_error", &format!("Unknown command {command}"));
        }
        if command == "submit_job" {
            return self.submit(identity, &args, body);
        }
        drop(body);
        let user = person(identity);
        // Commands on a job: the id is checked before the right.
        let job = if JOB_COMMANDS.contains(&command.as_str()) {
            match self.job_arg(&args, if command == "download_job_file" { 2 } else { 1 }) {
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
        if !self.policy.allows(&command, &user, &submitter) {
            let err = format!("user '{}' is not authorized for '{command}'", user.name);
            return Reply::error("not_authorized", &format!("Authorization Error: {err}")).meta(
                "not_authorized",
                &err,
                json!({}),
            );
        }
        match (command.as_str(), job) {
            ("check_status", _) => self.check_status(&args),
            ("list_jobs", _) => self.list_jobs(&args, &identity.name),
            ("get_job_meta", Some((_, meta))) => Reply::new()
                .item("dict", Value::Object(meta.clone()))
                .ok(json!({"job_meta": meta})),
            ("abort_job", Some((id, _))) => self.abort(&id),
            ("delete_job", Some((id, meta))) => self.delete(&id, &meta),
            ("clone_job", Some((id, meta))) => self.clone_job(identity, &id, &meta),
            ("download_job", Some((id, meta))) => self.download(token, &id, &meta),
            ("download_job_file", Some((id, _))) => self.download_file(token, &id, &args),
            ("show_stats" | "show_errors", Some((id, _))) => {
                Reply::error("job_not_running", &format!("Job_id: {id} is not running."))
            }
            _ => Reply::error("internal_error", "no handler"),
        }
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_transfers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Transfer>> {
        self.transfers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn login(&self, identity: &Identity, args: &[String]) -> Reply {
        if args.len() != 2 || args[1] != identity.name {
            return Reply::new().string("REJECT");
        }
        let token = uuid::Uuid::new_v4().to_string();
        let mut sessions = self.lock_sessions();
        let timeout = self.config.session_timeout;
        sessions.retain(|_, s| s.last_active.elapsed() < timeout);
        sessions.insert(
            token.clone(),
            Session {
                identity: identity.clone(),
                last_active: Instant::now(),
            },
        );
        Reply::new().string("OK").item("token", token)
    }

    fn inactive(&self) -> Reply {
        Reply::error("error", "session_inactive").string(format!(
            "user not authenticated or session timed out after {} seconds of inactivity - logged out",
            self.config.session_timeout.as_secs()
        ))
    }

    /// Whether a request with a body (`meta`) may be spooled: only
    /// `submit_job`, from a live session of this certificate, by a user
    /// with the right to submit.
    fn admit_upload(&self, identity: &Identity, meta: &str) -> Result<(), Reply> {
        let (line, token) = parse_request(meta).map_err(|e| Reply::error("syntax_error", &e))?;
        let args = split_args(&line);
        let command = args.first().map(String::as_str).unwrap_or_default();
        if command != "submit_job" && command != "job_mgmt.submit_job" {
            return Err(Reply::error(
                "syntax_error",
                &format!("{} takes no file", shown(command)),
            ));
        }
        let token = token.ok_or_else(|| Reply::error("error", "not authenticated - no token"))?;
        self.authenticate(identity, &token)?;
        let user = person(identity);
        if !self.policy.allows("submit_job", &user, &Person::default()) {
            return Err(not_authorized(&user, "submit_job"));
        }
        Ok(())
    }

    /// The session of `token`, alive and bound to this certificate, is
    /// refreshed; anything else is refused.
    fn authenticate(&self, identity: &Identity, token: &str) -> Result<(), Reply> {
        let mut sessions = self.lock_sessions();
        let timeout = self.config.session_timeout;
        match sessions.get_mut(token) {
            Some(s) if s.last_active.elapsed() >= timeout => {
                sessions.remove(token);
                Err(self.inactive())
            }
            Some(s) if s.identity.fingerprint != identity.fingerprint => Err(Reply::error(
                "not_authenticated",
                "not authenticated - the token belongs to another certificate",
            )),
            Some(s) => {
                s.last_active = Instant::now();
                Ok(())
            }
            None => Err(self.inactive()),
        }
    }

    fn check_session(&self, identity: &Identity, token: Option<&str>) -> Reply {
        let sessions = self.lock_sessions();
        let alive = token.and_then(|t| sessions.get(t)).is_some_and(|s| {
            s.last_active.elapsed() < self.config.session_timeout
                && s.identity.fingerprint == identity.fingerprint
        });
        if alive {
            Reply::new().string("OK")
        } else {
            Reply::error("error", "session_inactive").string(format!(
                "admin client session timed out after {} seconds of inactivity - logging out",
                self.config.session_timeout.as_secs()
            ))
        }
    }

    /// The job named by `args[at]`: its id and meta, or the refusal.
    fn job_arg(&self, args: &[String], at: usize) -> Result<(String, Meta), Reply> {
        let Some(id) = args.get(at) else {
            return Err(Reply::error("syntax_error", "syntax error: missing job_id"));
        };
        let id = id.to_lowercase();
        if !is_job_id(&id) {
            return Err(
                Reply::error("invalid_job_id", &format!("invalid job_id {id}")).meta(
                    "invalid_job_id",
                    &id,
                    json!({}),
                ),
            );
        }
        match self.store.get(&id) {
            Some(meta) => Ok((id, meta)),
            None => {
                Err(
                    Reply::error("invalid_job_id", &format!("Job with ID {id} doesn't exist"))
                        .meta("invalid_job_id", &id, json!({})),
                )
            }
        }
    }

    fn submit(
        &self,
        identity: &Identity,
        args: &[String],
        body: Option<nvflare_hci::BodyFile>,
    ) -> Reply {
        let user = person(identity);
        if !self.policy.allows("submit_job", &user, &Person::default()) {
            return not_authorized(&user, "submit_job");
        }
        let (Some(folder), Some(body)) = (args.get(1), body) else {
            return Reply::error(
                "syntax_error",
                "Usage: submit_job job_folder, with the job zip",
            );
        };
        let mut meta = match job::check(body.path(), folder, &self.chain) {
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
        if let Err(e) = self.store.create(&meta, body) {
            return Reply::error("internal_error", &format!("cannot store the job: {e}"));
        }
        Reply::new()
            .string(format!("Submitted job: {id}"))
            .item("success", "")
            .ok(json!({"job_id": id}))
    }

    fn check_status(&self, args: &[String]) -> Reply {
        match args.get(1).map(String::as_str) {
            Some("server") => Reply::new()
                .string("Engine status: stopped")
                .table(vec![vec![json!("job_id"), json!("app name")]])
                .string("Registered clients: 0 ")
                .ok(
                    json!({"server_status": "stopped", "server_start_time": self.start_time,
                           "jobs": [], "clients": []}),
                ),
            Some("client") => Reply::error("error", "no responses from clients"),
            other => {
                let dst = other.unwrap_or("");
                Reply::error(
                    "syntax_error",
                    &format!("invalid target type {dst}. Usage: check_status server|client ..."),
                )
            }
        }
    }

    fn list_jobs(&self, args: &[String], user: &str) -> Reply {
        let (mut detail, mut reverse, mut max, mut name, mut prefix) =
            (false, false, None::<usize>, None::<String>, None::<String>);
        let mut mine = false;
        let mut it = args[1..].iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-d" => detail = true,
                "-r" => reverse = true,
                "-u" => mine = true,
                "-m" | "-n" => {
                    let Some(v) = it.next() else {
                        return Reply::error(
                            "syntax_error",
                            &format!("argument {a}: expected one argument"),
                        );
                    };
                    if a == "-m" {
                        match v.parse() {
                            Ok(n) => max = Some(n),
                            Err(_) => {
                                return Reply::error(
                                    "syntax_error",
                                    &format!("argument -m: invalid int value: '{v}'"),
                                )
                            }
                        }
                    } else {
                        name = Some(v.to_lowercase());
                    }
                }
                _ if prefix.is_none() && !a.starts_with('-') => prefix = Some(a.to_lowercase()),
                _ => return Reply::error("syntax_error", &format!("unrecognized arguments: {a}")),
            }
        }
        let mut jobs = match self.store.all() {
            Ok(j) => j,
            Err(e) => return Reply::error("internal_error", &e.to_string()),
        };
        if jobs.is_empty() {
            return Reply::new()
                .string("No jobs found.")
                .item("success", "")
                .ok(json!({"jobs": []}));
        }
        let field = |m: &Meta, k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        jobs.retain(|m| {
            prefix
                .as_ref()
                .is_none_or(|p| field(m, "job_id").to_lowercase().starts_with(p))
                && name
                    .as_ref()
                    .is_none_or(|n| field(m, "name").to_lowercase().starts_with(n))
                && (!mine || field(m, "submitter_name") == user)
        });
        if jobs.is_empty() {
            return Reply::new()
                .string("No jobs matching the specified criteria.")
                .item("success", "")
                .ok(json!({"jobs": []}));
        }
        let time = |m: &Meta| m.get("submit_time").and_then(Value::as_f64).unwrap_or(0.0);
        jobs.sort_by(|a, b| time(a).total_cmp(&time(b)));
        if reverse {
            jobs.reverse();
        }
        if let Some(n) = max.filter(|n| *n > 0) {
            if reverse {
                jobs.truncate(n);
            } else {
                jobs.drain(..jobs.len().saturating_sub(n));
            }
        }
        if detail {
            let mut reply = Reply::new();
            for m in &jobs {
                reply = reply.string(serde_json::to_string_pretty(m).unwrap_or_default());
            }
            return reply
                .string("")
                .item("success", "")
                .ok(json!({"jobs": jobs}));
        }
        let name_of = |m: &Meta| {
            let n = field(m, "name");
            if n.is_empty() {
                field(m, "job_folder_name")
            } else {
                n
            }
        };
        let mut rows = vec![vec![
            json!("Job ID"),
            json!("Name"),
            json!("Status"),
            json!("Submit Time"),
            json!("Run Duration"),
        ]];
        let mut summary = Vec::new();
        for m in &jobs {
            let duration = m.get("duration").map_or("N/A".to_owned(), |d| {
                d.as_str().map_or(d.to_string(), str::to_owned)
            });
            rows.push(vec![
                json!(field(m, "job_id")),
                json!(name_of(m)),
                json!(field(m, "status")),
                json!(field(m, "submit_time_iso")),
                json!(duration),
            ]);
            summary.push(json!({"job_id": field(m, "job_id"), "job_name": name_of(m),
                "status": field(m, "status"), "submit_time": field(m, "submit_time_iso"),
                "duration": duration}));
        }
        Reply::new()
            .table(rows)
            .item("success", "")
            .ok(json!({"jobs": summary}))
    }

    fn abort(&self, id: &str) -> Reply {
        let mut message = String::new();
        let updated = self.store.update(id, |meta| {
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

    fn delete(&self, id: &str, meta: &Meta) -> Reply {
        let status = meta.get("status").and_then(Value::as_str).unwrap_or("");
        if status == "RUNNING" || status == "DISPATCHED" {
            return Reply::error(
                "job_running",
                &format!("job: {id} is running, could not be deleted at this time."),
            );
        }
        match self.store.delete(id) {
            Ok(()) => Reply::new()
                .string(format!("Job {id} deleted."))
                .item("success", "")
                .ok(json!({})),
            Err(e) => Reply::error("internal_error", &format!("exception occurred: {e}")),
        }
    }

    fn clone_job(&self, identity: &Identity, id: &str, meta: &Meta) -> Reply {
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
        match self.store.clone_job(id, &new) {
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

    fn download(&self, token: &str, id: &str, meta: &Meta) -> Reply {
        // Transfers never finished are dropped after the session timeout,
        // and a session keeps at most MAX_TRANSFERS open: its oldest goes
        // first. Staged files never pile up on the disk.
        let stale: Vec<Transfer> = {
            let mut transfers = self.lock_transfers();
            let mut old: Vec<String> = transfers
                .iter()
                .filter(|(_, t)| t.created.elapsed() > self.config.session_timeout)
                .map(|(k, _)| k.clone())
                .collect();
            let mut mine: Vec<(&String, &Transfer)> = transfers
                .iter()
                .filter(|(k, t)| t.token == token && !old.contains(k))
                .collect();
            mine.sort_by_key(|(_, t)| t.created);
            let over = (mine.len() + 1).saturating_sub(MAX_TRANSFERS);
            old.extend(mine.into_iter().take(over).map(|(k, _)| k.clone()));
            old.iter().filter_map(|k| transfers.remove(k)).collect()
        };
        for t in stale {
            let _ = std::fs::remove_dir_all(&t.dir);
        }
        let tx = uuid::Uuid::new_v4().to_string();
        let dir = match self.store.stage_download(id, &tx, meta) {
            Ok(d) => d,
            Err(e) => return Reply::error("internal_error", &format!("cannot stage the job: {e}")),
        };
        let files = vec!["meta.json".to_owned(), "job.zip".to_owned()];
        self.lock_transfers().insert(
            tx.clone(),
            Transfer {
                token: token.to_owned(),
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
    fn download_file(&self, token: &str, id: &str, args: &[String]) -> Reply {
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
        let mut transfers = self.lock_transfers();
        let Some(transfer) = transfers
            .get(tx)
            .filter(|t| t.token == token && t.job_id == id)
        else {
            return Reply::error(
                "error",
                &format!("no download {tx} of job {id} in this session"),
            );
        };
        if !transfer.files.iter().any(|f| f == file) {
            return Reply::error("error", &format!("{file:?} is not a file of download {tx}"));
        }
        let path = transfer.dir.join(file);
        if end {
            // The transfer ends: no other request can name it, and its
            // folder goes once the file is sent.
            let t = transfers.remove(tx).expect("present");
            return Reply::File(path, Some(t.dir));
        }
        Reply::File(path, None)
    }
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

fn commands_table() -> Reply {
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
}
