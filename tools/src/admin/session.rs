//! The admin kit, mutual TLS, and the admin channel's requests: one TLS
//! connection per command, JSON commands as text exchanges, job files as
//! binary exchanges.

use std::fmt;
use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nvflare_hci::{
    Connection, DataGenerator, ErrorChain, Exchange, Limits, MsgDataProcessor, Progress,
};
use rustls::{ClientConfig, ClientConnection};
use serde_json::{json, Value};

use crate::tls;

/// Everything that can end an admin command.
#[derive(Debug)]
pub enum AdminError {
    /// The kit is missing or malformed.
    Kit(String),
    /// Connecting, the TLS handshake, or a timeout.
    Connect(String),
    /// The exchange failed.
    Exchange(nvflare_hci::Error),
    /// The server answered with an error, or rejected the login.
    Server(String),
    /// A local file or folder.
    Local(String),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Kit(e) => write!(f, "admin kit: {e}"),
            AdminError::Connect(e) => write!(f, "connection failed: {e}"),
            AdminError::Exchange(e) => write!(f, "exchange failed: {}", ErrorChain(e)),
            AdminError::Server(e) => write!(f, "server error: {e}"),
            AdminError::Local(e) => f.write_str(e),
        }
    }
}

/// No `source`: each message already carries its causes on one line (the
/// console prints it as is), so a chain walker would repeat them.
impl std::error::Error for AdminError {}

impl From<nvflare_hci::Error> for AdminError {
    fn from(e: nvflare_hci::Error) -> Self {
        AdminError::Exchange(e)
    }
}

/// A failure on a local path, as an [`AdminError`]: `{what} {path}: {e}`.
pub fn io_error(what: &str, path: &Path, e: impl fmt::Display) -> AdminError {
    AdminError::Local(format!("{what} {}: {e}", path.display()))
}

/// An admin's startup kit, as NVFlare's provisioning writes it.
#[derive(Debug, Clone)]
pub struct Kit {
    /// The admin's name, which is the client certificate's CN.
    pub username: String,
    /// Client certificate, key and root CA, from `fed_admin.json`.
    pub client_cert: PathBuf,
    /// The client certificate's key.
    pub client_key: PathBuf,
    /// The CA that issued the server's certificate.
    pub ca_cert: PathBuf,
    /// The server host, from `sp_end_point` (`HOST:FL_PORT:ADMIN_PORT`).
    pub host: String,
    /// The admin port, from `sp_end_point`.
    pub port: u16,
    /// The kit's `sp_end_point` as written (`HOST:FL_PORT:ADMIN_PORT`):
    /// the static service provider NVFlare's console reports.
    pub sp_end_point: String,
    /// The kit's transfer folder (`transfer/` beside `startup/`), where
    /// NVFlare's console uploads from and downloads to.
    pub transfer: PathBuf,
}

impl Kit {
    /// Reads the kit at `path`: the startup folder, or the folder above it.
    pub fn load(path: &Path) -> Result<Kit, AdminError> {
        let startup =
            crate::kit::startup_folder(path, "fed_admin.json").map_err(AdminError::Kit)?;
        let file = startup.join("fed_admin.json");
        let text = std::fs::read_to_string(&file)
            .map_err(|e| AdminError::Kit(format!("{}: {e}", file.display())))?;
        Self::parse(&startup, &text)
    }

    /// Parses `fed_admin.json`'s text; file names are taken relative to `startup`.
    pub fn parse(startup: &Path, text: &str) -> Result<Kit, AdminError> {
        let bad = |what: &str| AdminError::Kit(format!("fed_admin.json: {what}"));
        let json: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let admin = &json["admin"];
        let field = |name: &str, default: &str| -> String {
            admin[name].as_str().unwrap_or(default).to_owned()
        };
        let username = admin["username"]
            .as_str()
            .ok_or_else(|| bad("no admin.username"))?
            .to_owned();
        let end_point = admin["overseer_agent"]["args"]["sp_end_point"]
            .as_str()
            .ok_or_else(|| bad("no admin.overseer_agent.args.sp_end_point"))?;
        let parts: Vec<&str> = end_point.split(':').collect();
        let (host, port) = match parts.as_slice() {
            [host, _fl_port, admin_port] => (
                host.to_string(),
                admin_port
                    .parse()
                    .map_err(|_| bad(&format!("bad admin port in sp_end_point {end_point:?}")))?,
            ),
            _ => {
                return Err(bad(&format!(
                    "sp_end_point {end_point:?} is not HOST:FL_PORT:ADMIN_PORT"
                )))
            }
        };
        Ok(Kit {
            username,
            client_cert: startup.join(field("client_cert", "client.crt")),
            client_key: startup.join(field("client_key", "client.key")),
            ca_cert: startup.join(field("ca_cert", "rootCA.pem")),
            host,
            port,
            sp_end_point: end_point.to_owned(),
            transfer: startup
                .parent()
                .map_or_else(|| startup.join("transfer"), |p| p.join("transfer")),
        })
    }
}

/// Where and how to reach the server.
#[derive(Debug, Clone)]
pub struct Target {
    /// Host to connect to.
    pub host: String,
    /// Admin port.
    pub port: u16,
    /// The name the server's certificate must carry.
    pub server_name: String,
    /// Connect, handshake, read and write timeout.
    pub timeout: Duration,
}

/// The largest file the console accepts from the server: 64 GiB.
pub const MAX_DOWNLOAD: u64 = 64 << 30;

/// A TLS connection to the admin server.
pub type TlsConnection = Connection<tls::TlsStream<ClientConnection, TcpStream>>;

/// Mutual TLS 1.2 or 1.3 with the kit's certificate, trusting only the
/// kit's root CA. The server's name is checked (NVFlare's own client does
/// not check it).
pub fn tls_config(kit: &Kit) -> Result<Arc<ClientConfig>, AdminError> {
    tls::client_config(&kit.client_cert, &kit.client_key, &kit.ca_cert).map_err(AdminError::Kit)
}

/// Connects, with the whole handshake done under the timeout.
pub fn connect(config: &Arc<ClientConfig>, target: &Target) -> Result<TlsConnection, AdminError> {
    let fail = |e: io::Error| {
        let cause = match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                format!("timed out after {} s", target.timeout.as_secs_f64())
            }
            _ => e.to_string(),
        };
        AdminError::Connect(format!("{}:{}: {cause}", target.host, target.port))
    };
    let tcp =
        tls::connect_tcp((target.host.as_str(), target.port), target.timeout).map_err(fail)?;
    tcp.set_nodelay(true).map_err(fail)?;
    // The handshake's error names the peer and the server name.
    let stream = tls::client_stream(config, &target.server_name, tcp, target.timeout)
        .map_err(AdminError::Connect)?;
    // Downloaded jobs may be larger than the library's default 1 GiB limit.
    Ok(Connection::new(tls::TlsStream::from(stream))
        .limits(Limits::default().with_max_body_size(MAX_DOWNLOAD)))
}

/// A request as NVFlare's admin client writes it: the command, then the
/// token when logged in. Non-ASCII is escaped, so that no character can
/// straddle the server's 1 KiB reads.
pub fn request(command: &str, token: Option<&str>) -> String {
    request_with_meta(command, token, &RequestMeta::default())
}

/// What NVFlare's client puts in a request's `meta`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestMeta {
    /// `cmd_timeout`: how long the server waits for the clients' replies,
    /// in seconds (the console's `timeout`). Sent as a float, as Python
    /// sends it; not sent when unset or 0.
    pub cmd_timeout: Option<f64>,
    /// `cmd_props`: the text after `#` on the command line, as typed.
    pub cmd_props: Option<String>,
}

impl RequestMeta {
    fn to_json(&self) -> Value {
        let mut meta = serde_json::Map::new();
        if let Some(t) = self.cmd_timeout.filter(|t| *t > 0.0) {
            meta.insert("cmd_timeout".into(), json!(t));
        }
        if let Some(p) = self.cmd_props.as_ref().filter(|p| !p.is_empty()) {
            meta.insert("cmd_props".into(), json!(p));
        }
        Value::Object(meta)
    }
}

/// [`request`] with `meta`'s `cmd_timeout` and `cmd_props`.
pub fn request_with_meta(command: &str, token: Option<&str>, meta: &RequestMeta) -> String {
    let mut data = vec![json!({"type": "command", "data": command})];
    if let Some(token) = token {
        data.push(json!({"type": "token", "data": token}));
    }
    ascii_json(&json!({"data": data, "meta": meta.to_json()}))
}

/// JSON with every non-ASCII character escaped (`\uXXXX`, surrogate pairs
/// beyond the BMP), as Python's `json.dumps` writes it.
pub fn ascii_json(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// The server's reply to one command.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The reply as the server sent it.
    pub text: String,
    /// The reply parsed.
    pub json: Value,
}

impl Reply {
    /// A reply's text, its lines (`LINE_END`, `0x03`) kept: one JSON
    /// document per line, as NVFlare's client reads it. One document is the
    /// reply as is; several are one reply with all their items in order and
    /// the last `meta` sent.
    pub fn parse(text: String) -> Result<Reply, AdminError> {
        let lines: Vec<&str> = text
            .split(nvflare_hci::LINE_END as char)
            .filter(|l| !l.is_empty())
            .collect();
        let mut docs = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let doc: Value = serde_json::from_str(line).map_err(|e| {
                AdminError::Server(format!(
                    "reply line {} of {} is not JSON ({e}): {line}",
                    i + 1,
                    lines.len()
                ))
            })?;
            docs.push(doc);
        }
        let text = lines.join("\n");
        let json = match docs.len() {
            0 => return Err(AdminError::Server("empty reply".into())),
            1 => docs.pop().unwrap_or_default(),
            _ => {
                let mut items = Vec::new();
                let mut meta = json!({});
                for doc in docs {
                    if let Some(data) = doc["data"].as_array() {
                        items.extend(data.iter().cloned());
                    }
                    if doc["meta"].as_object().is_some_and(|m| !m.is_empty()) {
                        meta = doc["meta"].clone();
                    }
                }
                json!({"data": items, "meta": meta})
            }
        };
        Ok(Reply { text, json })
    }

    /// The items of the reply.
    pub fn items(&self) -> &[Value] {
        self.json["data"].as_array().map_or(&[], Vec::as_slice)
    }

    /// The reply's error, if it is one: a `meta.status` present and not
    /// ok, or an `error` item.
    pub fn error(&self) -> Option<String> {
        let item = self.items().iter().find(|i| i["type"] == "error").map(|i| {
            i["data"]
                .as_str()
                .map_or(i["data"].to_string(), str::to_owned)
        });
        let status = self.json["meta"]["status"].as_str();
        match (status, item) {
            (_, Some(e)) => Some(e),
            (Some(s), None) if s != "ok" => {
                let info = self.json["meta"]["info"].as_str().unwrap_or_default();
                Some(if info.is_empty() {
                    s.to_owned()
                } else {
                    format!("{s}: {info}")
                })
            }
            _ => None,
        }
    }

    fn token(&self) -> Option<&str> {
        self.items()
            .iter()
            .find(|i| i["type"] == "token")
            .and_then(|i| i["data"].as_str())
    }
}

fn text_reply(conn: &mut TlsConnection) -> Result<Reply, AdminError> {
    match conn.receive_and_parse(&mut MsgDataProcessor::new().keep_line_ends(true))? {
        Exchange::Text(text) => Reply::parse(text),
        Exchange::Binary { .. } => Err(AdminError::Server(
            "a file where a reply was expected".into(),
        )),
    }
}

/// A logged-in admin session. Logs out when [`close`](Session::close)d.
/// A clone shares the token (to run a command on another thread).
#[derive(Clone)]
pub struct Session {
    config: Arc<ClientConfig>,
    target: Target,
    token: String,
    cmd_timeout: Option<f64>,
}

impl Session {
    /// The session's token, sent with every request.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Where the session connects.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Logs in as the kit's user (`_cert_login <username>`).
    pub fn login(kit: &Kit, target: Target) -> Result<Session, AdminError> {
        let config = tls_config(kit)?;
        let mut conn = connect(&config, &target)?;
        conn.send_text(&request(&format!("_cert_login {}", kit.username), None))?;
        let reply = text_reply(&mut conn)?;
        let ok = reply
            .items()
            .iter()
            .any(|i| i["type"] == "string" && i["data"] == "OK");
        match reply.token() {
            Some(token) if ok => Ok(Session {
                config,
                target,
                token: token.to_owned(),
                cmd_timeout: None,
            }),
            _ => Err(AdminError::Server(format!(
                "login rejected for {}: {}",
                kit.username,
                reply.error().unwrap_or(reply.text)
            ))),
        }
    }

    /// The command timeout sent with every request as `cmd_timeout`
    /// (NVFlare's console's `timeout`); `None` or 0 unsets it.
    pub fn set_cmd_timeout(&mut self, secs: Option<f64>) {
        self.cmd_timeout = secs.filter(|t| *t > 0.0);
    }

    /// The command timeout, if set.
    pub fn cmd_timeout(&self) -> Option<f64> {
        self.cmd_timeout
    }

    /// Connects; the read timeout covers the command timeout too, since
    /// the server may wait that long for the clients before it replies.
    fn connect(&self) -> Result<TlsConnection, AdminError> {
        let mut target = self.target.clone();
        if let Some(t) = self.cmd_timeout {
            target.timeout += Duration::from_secs_f64(t.min(1e6));
        }
        connect(&self.config, &target)
    }

    fn request(&self, command: &str, props: Option<&str>) -> String {
        let meta = RequestMeta {
            cmd_timeout: self.cmd_timeout,
            cmd_props: props.map(str::to_owned),
        };
        request_with_meta(command, Some(&self.token), &meta)
    }

    /// Runs one command; its reply, whatever its status.
    pub fn command(&self, command: &str) -> Result<Reply, AdminError> {
        self.command_with_props(command, None)
    }

    /// Runs one command with `props` sent as its `cmd_props`.
    pub fn command_with_props(
        &self,
        command: &str,
        props: Option<&str>,
    ) -> Result<Reply, AdminError> {
        let mut conn = self.connect()?;
        conn.send_text(&self.request(command, props))?;
        text_reply(&mut conn)
    }

    /// Sends `command` with `body` as its binary request (the meta is the
    /// whole request JSON), and returns the reply.
    pub fn upload<G: DataGenerator>(&self, command: &str, body: G) -> Result<Reply, AdminError> {
        self.upload_with_progress(command, body, |_| {})
    }

    /// [`upload`](Session::upload), reporting the body's progress.
    pub fn upload_with_progress<G: DataGenerator, F: FnMut(Progress)>(
        &self,
        command: &str,
        body: G,
        progress: F,
    ) -> Result<Reply, AdminError> {
        let mut conn = self.connect()?;
        conn.send_binary_data_with_progress(body, &self.request(command, None), progress)?;
        text_reply(&mut conn)
    }

    /// Runs `command`, whose reply is a file: spooled into `dir`, then moved to `path`.
    pub fn download(&self, command: &str, dir: &Path, path: &Path) -> Result<u64, AdminError> {
        self.download_with_progress(command, dir, path, |_| {})
    }

    /// [`download`](Session::download), reporting the file's progress.
    pub fn download_with_progress<F: FnMut(Progress)>(
        &self,
        command: &str,
        dir: &Path,
        path: &Path,
        progress: F,
    ) -> Result<u64, AdminError> {
        let mut conn = self.connect()?;
        conn.send_text(&self.request(command, None))?;
        let mut processor = MsgDataProcessor::in_dir(dir).keep_line_ends(true);
        match conn.receive_with_progress(&mut processor, progress)? {
            Exchange::Binary { body, .. } => {
                let len = body.len();
                body.persist(path)
                    .map_err(|e| io_error("cannot write", path, ErrorChain(&e)))?;
                Ok(len)
            }
            Exchange::Text(text) => {
                let reply = Reply::parse(text)?;
                Err(AdminError::Server(reply.error().unwrap_or(reply.text)))
            }
        }
    }

    /// Logs out (`_logout`), so that no session is left on the server.
    pub fn close(self) -> Result<(), AdminError> {
        self.logout()
    }

    /// Logs out without giving the session up (for a console that must
    /// log out from a borrowed session).
    pub fn logout(&self) -> Result<(), AdminError> {
        self.command("_logout").map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FED_ADMIN: &str = r#"{"format_version": 1, "admin": {
        "client_key": "client.key", "client_cert": "client.crt", "ca_cert": "rootCA.pem",
        "overseer_agent": {"path": "nvflare.ha.dummy_overseer_agent.DummyOverseerAgent",
                           "args": {"sp_end_point": "localhost:8002:8003"}},
        "username": "admin@nvidia.com"}}"#;

    #[test]
    fn kit_from_the_startup_folder_or_the_one_above() {
        let dir = tempfile::tempdir().unwrap();
        let startup = dir.path().join("startup");
        std::fs::create_dir(&startup).unwrap();
        std::fs::write(startup.join("fed_admin.json"), FED_ADMIN).unwrap();
        for path in [dir.path(), startup.as_path()] {
            let kit = Kit::load(path).unwrap();
            assert_eq!(kit.username, "admin@nvidia.com");
            assert_eq!((kit.host.as_str(), kit.port), ("localhost", 8003));
            assert_eq!(kit.client_key, startup.join("client.key"));
            assert_eq!(kit.ca_cert, startup.join("rootCA.pem"));
        }
        let err = Kit::load(&startup.join("nowhere")).unwrap_err().to_string();
        assert!(err.contains("no fed_admin.json"), "{err}");
    }

    #[test]
    fn bad_kits_are_refused_with_the_reason() {
        let start = Path::new("/kit/startup");
        for (text, reason) in [
            ("{", "fed_admin.json"),
            (r#"{"admin": {}}"#, "username"),
            (
                &FED_ADMIN.replace("localhost:8002:8003", "localhost:8003"),
                "HOST:FL_PORT:ADMIN_PORT",
            ),
            (
                &FED_ADMIN.replace("localhost:8002:8003", "localhost:8002:port"),
                "bad admin port",
            ),
        ] {
            let err = Kit::parse(start, text).unwrap_err().to_string();
            assert!(err.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn requests_escape_non_ascii_as_python_does() {
        let r = request("submit_job grüße😀", Some("t"));
        assert!(r.is_ascii());
        assert!(r.contains(r"gr\u00fc\u00dfe\ud83d\ude00"), "{r}");
        let back: Value = serde_json::from_str(&r).unwrap();
        assert_eq!(back["data"][0]["data"], "submit_job grüße😀");
        assert_eq!(back["data"][1], json!({"type": "token", "data": "t"}));
    }

    #[test]
    fn meta_carries_cmd_timeout_and_cmd_props_as_python_sends_them() {
        let meta = RequestMeta {
            cmd_timeout: Some(5.0),
            cmd_props: Some(" DATA".into()),
        };
        let r: Value =
            serde_json::from_str(&request_with_meta("app_command j echo", Some("t"), &meta))
                .unwrap();
        assert_eq!(r["meta"], json!({"cmd_timeout": 5.0, "cmd_props": " DATA"}));
        assert!(r["meta"]["cmd_timeout"].is_f64());
        let r: Value = serde_json::from_str(&request("x", None)).unwrap();
        assert_eq!(r["meta"], json!({}));
    }

    #[test]
    fn replies_of_several_documents_are_read_as_one() {
        let one = Reply::parse("{\"data\": [{\"type\": \"string\", \"data\": \"a\"}], \"meta\": {\"status\": \"ok\"}}\u{3}".into()).unwrap();
        assert_eq!(one.items().len(), 1);
        let text = "{\"data\": [{\"type\": \"string\", \"data\": \"a\"}]}\u{3}{\"data\": [{\"type\": \"string\", \"data\": \"b\"}], \"meta\": {\"status\": \"ok\"}}\u{3}";
        let many = Reply::parse(text.into()).unwrap();
        let data: Vec<&Value> = many.items().iter().map(|i| &i["data"]).collect();
        assert_eq!(data, [&json!("a"), &json!("b")]);
        assert_eq!(many.json["meta"]["status"], "ok");
        let err = Reply::parse("{}\u{3}nope\u{3}".into())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2 of 2"), "{err}");
    }
}
