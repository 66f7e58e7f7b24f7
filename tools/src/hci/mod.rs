//! The admin-style file server and client behind the `hci` binary: one
//! connection per command (plain TCP or mutual TLS), one request exchange,
//! one reply exchange.
//!
//! Kept free of command-line and terminal concerns so that the tests can run
//! it on threads.

use std::fs;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nvflare_hci::{
    Connection, Error, ErrorChain, Exchange, GenerateDataFromFile, Limits, MsgDataProcessor,
    Progress,
};
use serde_json::{json, Value};

pub mod transport;

use crate::serve::{self, peer_of, BUSY_TIMEOUT};
use crate::tls;
use transport::Transport;

/// Where uploads are spooled until their checksum verified: inside the
/// served directory (so the final rename is atomic), hidden from `list`.
pub const SPOOL: &str = ".incoming";

pub use crate::serve::DEFAULT_MAX_CONNECTIONS;

/// What a server serves and how patiently.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The directory of stored files.
    pub dir: PathBuf,
    /// Read and write timeout of each connection, and the deadline of its
    /// whole TLS handshake.
    pub timeout: Duration,
    /// What a client may send.
    pub limits: Limits,
    /// Mutual TLS: the server's certificate, and the CA client certificates
    /// must chain to. `None` serves plain TCP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Connections at once, handshakes included; past it, `server busy`.
    pub max_connections: usize,
}

impl ServerConfig {
    /// Serves `dir` over plain TCP with a 30 s timeout, default limits and
    /// at most [`DEFAULT_MAX_CONNECTIONS`] connections.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            dir: dir.into(),
            timeout: Duration::from_secs(30),
            limits: Limits::default(),
            tls: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// A bound server, not yet serving.
pub struct Server {
    listener: TcpListener,
    config: Arc<ServerConfig>,
}

type Log = Arc<dyn Fn(Value) + Send + Sync>;

impl Server {
    /// Binds `addr` (port 0 picks a free port) and readies `config.dir`.
    pub fn bind(addr: impl ToSocketAddrs, config: ServerConfig) -> io::Result<Server> {
        let spool = config.dir.join(SPOOL);
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", spool.display()));
        fs::create_dir_all(&spool).map_err(named)?;
        // Spool files of an earlier run that died mid-transfer.
        for entry in fs::read_dir(&spool).map_err(named)? {
            let _ = fs::remove_file(entry.map_err(named)?.path());
        }
        Ok(Server {
            listener: serve::listen(addr)?,
            config: Arc::new(config),
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends: a thread per connection, where its
    /// TLS handshake runs too, so that a silent peer delays nobody; `log`
    /// gets one JSON record per finished request or refused peer.
    pub fn run<L>(self, log: L)
    where
        L: Fn(Value) + Send + Sync + 'static,
    {
        let max = self.config.max_connections;
        let service = Arc::new(Hci {
            config: self.config,
            log: Arc::new(log),
        });
        serve::run(&self.listener, max, service);
    }

    /// Serves on a background thread; returns the address.
    pub fn spawn<L>(self, log: L) -> io::Result<SocketAddr>
    where
        L: Fn(Value) + Send + Sync + 'static,
    {
        let addr = self.local_addr()?;
        std::thread::spawn(move || self.run(log));
        Ok(addr)
    }
}

/// What `hci serve` does with its connections.
struct Hci {
    config: Arc<ServerConfig>,
    log: Log,
}

impl Hci {
    fn busy_record(&self, stream: &TcpStream) -> (String, Value) {
        let error = format!(
            "server busy: {} connections at once, try again later",
            self.config.max_connections
        );
        let record =
            json!({"request": "busy", "status": "error", "error": error, "peer": peer_of(stream)});
        (error, record)
    }
}

impl serve::Service for Hci {
    fn serve(&self, stream: TcpStream) {
        (self.log)(handle_connection(stream, &self.config))
    }

    /// `server busy` (after the handshake, with TLS).
    fn busy(&self, stream: TcpStream) {
        let (error, record) = self.busy_record(&stream);
        if let Ok(transport) = open(stream, &self.config, BUSY_TIMEOUT) {
            let mut conn = Connection::new(transport);
            if conn
                .send_text(&json!({"status": "error", "error": error}).to_string())
                .is_ok()
            {
                linger(conn.get_mut(), BUSY_TIMEOUT);
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

/// An error and its causes on one line.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    ErrorChain(e).to_string()
}

/// The connection's transport: timeouts set and, with TLS, the handshake
/// done within `limit` in all. A refused peer gets its log record.
fn open(stream: TcpStream, config: &ServerConfig, limit: Duration) -> Result<Transport, Value> {
    let refused = |e: &dyn std::fmt::Display| json!({"request": "handshake", "status": "refused", "error": e.to_string()});
    let timeouts = stream
        .set_read_timeout(Some(config.timeout))
        .and_then(|_| stream.set_write_timeout(Some(config.timeout)))
        .and_then(|_| stream.set_nodelay(true));
    if let Err(e) = timeouts {
        return Err(json!({"request": "unknown", "status": "error", "error": e.to_string()}));
    }
    let Some(tls_config) = &config.tls else {
        return Ok(Transport::Plain(stream));
    };
    let tls = tls::accept(tls_config, stream, limit, config.timeout).map_err(|e| refused(&e))?;
    Ok(Transport::Server(Box::new(tls.into())))
}

/// Serves one connection: its handshake, one request, one reply. Returns
/// the log record.
pub fn handle_connection(stream: TcpStream, config: &ServerConfig) -> Value {
    let started = Instant::now();
    let peer = peer_of(&stream);
    let mut record = match open(stream, config, config.timeout) {
        Ok(transport) => serve_request(Connection::new(transport).limits(config.limits), config),
        Err(refused) => refused,
    };
    record["peer"] = json!(peer);
    record["ms"] = json!(started.elapsed().as_millis() as u64);
    record
}

/// A connection of the server: one request, one reply.
type ServerConn = Connection<Transport>;

fn error_reply(conn: &mut ServerConn, request: &str, error: String) -> Value {
    let reply = json!({"status": "error", "error": error});
    // The connection may be beyond replying (reset, timed out): try once.
    if conn.send_text(&reply.to_string()).is_ok() {
        linger(conn.get_mut(), Duration::from_secs(2));
    }
    json!({"request": request, "status": "error", "error": error})
}

/// Closes the sending side and drains, for at most `limit`, what the
/// client still sends: closing with unread input would reset the
/// connection and could destroy the reply before the client reads it.
fn linger(transport: &mut Transport, limit: Duration) {
    transport.shutdown_write();
    serve::linger(transport.tcp(), limit);
}

fn serve_request(mut conn: ServerConn, config: &ServerConfig) -> Value {
    // Re-created if it was removed while the server runs.
    let spool = config.dir.join(SPOOL);
    if let Err(e) = fs::create_dir_all(&spool) {
        return error_reply(
            &mut conn,
            "unknown",
            format!("spool {}: {e}", spool.display()),
        );
    }
    let received = conn.receive_and_parse(&mut MsgDataProcessor::in_dir(&spool));
    match received {
        Err(e) => error_reply(&mut conn, "unknown", describe(&e)),
        Ok(Exchange::Binary { meta, body }) => {
            // The body's CRC-32, as verified against the upload's footer.
            let crc = body.checksum();
            let name = uuid::Uuid::new_v4().to_string();
            let size = body.len();
            match body.persist(config.dir.join(&name)) {
                Ok(_) => {
                    let reply = json!({"status": "ok", "name": name, "size": size, "crc32": crc});
                    let sent = conn.send_text(&reply.to_string());
                    json!({
                        "request": "upload", "status": if sent.is_ok() { "ok" } else { "error" },
                        "name": name, "size": size, "meta": meta,
                    })
                }
                Err(e) => error_reply(&mut conn, "upload", describe(&e)),
            }
        }
        Ok(Exchange::Text(command)) => serve_command(&mut conn, config, command.trim()),
    }
}

fn serve_command(conn: &mut ServerConn, config: &ServerConfig, command: &str) -> Value {
    if command == "list" {
        return match list_files(&config.dir) {
            Ok(files) => {
                let reply = json!({"status": "ok", "files": files});
                match conn.send_text(&reply.to_string()) {
                    Ok(()) => json!({"request": "list", "status": "ok", "count": files.len()}),
                    Err(e) => json!({"request": "list", "status": "error", "error": describe(&e)}),
                }
            }
            Err(e) => error_reply(conn, "list", describe(&e)),
        };
    }
    if let Some(name) = command.strip_prefix("download ") {
        let name = name.trim();
        let path = match stored_file(&config.dir, name) {
            Ok(p) => p,
            Err(e) => return error_reply(conn, "download", e),
        };
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let meta = json!({"name": name, "size": size}).to_string();
        return match conn.send_binary_file(&path, &meta) {
            Ok(sent) => {
                json!({"request": "download", "status": "ok", "name": name, "size": sent.size})
            }
            Err(e) => {
                json!({"request": "download", "status": "error", "name": name, "error": describe(&e)})
            }
        };
    }
    let shown: String = command.chars().take(64).collect();
    error_reply(conn, "unknown", format!("unknown command {shown:?}"))
}

/// The stored files: regular files directly in `dir`, not hidden.
pub fn list_files(dir: &Path) -> io::Result<Vec<Value>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = entry.metadata()?;
        if meta.is_file() && !name.starts_with('.') {
            files.push((name, meta.len()));
        }
    }
    files.sort();
    Ok(files
        .into_iter()
        .map(|(name, size)| json!({"name": name, "size": size}))
        .collect())
}

/// `dir/name` if `name` is the plain name of a stored file, else why not.
pub fn stored_file(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && Path::new(name).file_name() == Some(name.as_ref());
    if !plain {
        return Err(format!("not a plain file name: {name:?}"));
    }
    let path = dir.join(name);
    // symlink_metadata: a link is not followed, so nothing outside DIR is served.
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => Ok(path),
        Ok(_) => Err(format!("not a file: {name:?}")),
        Err(_) => Err(format!("no such file: {name:?}")),
    }
}

/// Client-side failures.
#[derive(Debug)]
pub enum ClientError {
    /// An exchange failed, with no peer to name.
    Exchange(Error),
    /// The exchange with the server at `addr` failed.
    Peer {
        /// The server's `HOST:PORT`.
        addr: String,
        /// What failed.
        error: Error,
    },
    /// The server said no.
    Server(String),
    /// The connection to `addr` could not be made within `timeout`.
    Connect {
        /// The server's `HOST:PORT`.
        addr: String,
        /// The connect timeout.
        timeout: Duration,
        /// Why.
        error: io::Error,
    },
    /// A local file could not be read or written.
    Local {
        /// What was done to it: "cannot read", "cannot write".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// A local failure with no file to name.
    Io(io::Error),
    /// TLS: a bad certificate or key file, or a failed handshake.
    Tls(String),
}

/// An I/O error, saying "timed out after N s" for a timeout.
fn io_cause(error: &io::Error, timeout: Duration) -> String {
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!("timed out after {} s", timeout.as_secs_f64())
        }
        _ => error.to_string(),
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Exchange(e) => f.write_str(&describe(e)),
            ClientError::Peer { addr, error } => write!(f, "{addr}: {}", describe(error)),
            ClientError::Server(e) => write!(f, "server error: {e}"),
            ClientError::Connect {
                addr,
                timeout,
                error,
            } => write!(f, "cannot connect to {addr}: {}", io_cause(error, *timeout)),
            ClientError::Local { what, path, error } => {
                write!(f, "{what} {}: {error}", path.display())
            }
            ClientError::Io(e) => write!(f, "{e}"),
            ClientError::Tls(e) => write!(f, "TLS: {e}"),
        }
    }
}

/// An exchange error is displayed with its causes on one line, so it has
/// no `source`; an I/O error is displayed alone, its causes as `source`.
impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io(e) | ClientError::Local { error: e, .. } => e.source(),
            ClientError::Exchange(_)
            | ClientError::Peer { .. }
            | ClientError::Server(_)
            | ClientError::Connect { .. }
            | ClientError::Tls(_) => None,
        }
    }
}

impl ClientError {
    /// An exchange error as one with the server at `addr`.
    fn with_peer(self, addr: &str) -> ClientError {
        match self {
            ClientError::Exchange(error) => ClientError::Peer {
                addr: addr.to_owned(),
                error,
            },
            other => other,
        }
    }
}

impl From<Error> for ClientError {
    fn from(e: Error) -> Self {
        ClientError::Exchange(e)
    }
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

/// Mutual TLS for a client: whom to trust and what to present, and the
/// name the server's certificate must carry.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// Trust anchors and the client's certificate.
    pub config: Arc<rustls::ClientConfig>,
    /// The name to verify on the server's certificate.
    pub server_name: String,
}

/// Where a client connects, how patiently, and over what.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `HOST:PORT`.
    pub addr: String,
    /// Connect, handshake, read and write timeout.
    pub timeout: Duration,
    /// Mutual TLS, or plain TCP when `None`.
    pub tls: Option<ClientTls>,
}

impl Endpoint {
    /// Plain TCP to `addr`.
    pub fn plain(addr: &str, timeout: Duration) -> Endpoint {
        Endpoint {
            addr: addr.to_owned(),
            timeout,
            tls: None,
        }
    }

    /// Mutual TLS to `addr`, verifying `server_name`.
    pub fn tls(
        addr: &str,
        timeout: Duration,
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> Endpoint {
        Endpoint {
            tls: Some(ClientTls {
                config,
                server_name: server_name.to_owned(),
            }),
            ..Endpoint::plain(addr, timeout)
        }
    }
}

/// The host part of `HOST:PORT` (brackets of an IPv6 address removed).
pub fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn connect(endpoint: &Endpoint) -> Result<Connection<Transport>, ClientError> {
    let tcp = tls::connect_tcp(endpoint.addr.as_str(), endpoint.timeout).map_err(|error| {
        ClientError::Connect {
            addr: endpoint.addr.clone(),
            timeout: endpoint.timeout,
            error,
        }
    })?;
    let Some(tls) = &endpoint.tls else {
        return Ok(Connection::new(Transport::Plain(tcp)));
    };
    let stream = tls::client_stream(&tls.config, &tls.server_name, tcp, endpoint.timeout)
        .map_err(ClientError::Tls)?;
    Ok(Connection::new(Transport::Client(Box::new(stream.into()))))
}

fn text_reply(conn: &mut Connection<Transport>) -> Result<(String, Value), ClientError> {
    let reply = conn.receive()?;
    let text = reply
        .into_text()
        .ok_or_else(|| ClientError::Server("binary reply where text was expected".into()))?;
    let value = serde_json::from_str(&text)
        .map_err(|e| ClientError::Server(format!("reply is not JSON ({e}): {text}")))?;
    Ok((text, value))
}

/// A progress callback for one transfer.
pub type OnProgress = Box<dyn FnMut(Progress) + Send>;

/// Uploads `file`; returns the server's reply line and whether it said ok.
pub fn upload(
    endpoint: &Endpoint,
    file: &Path,
    meta: Option<&str>,
    progress: Option<OnProgress>,
) -> Result<(String, bool), ClientError> {
    // Open the file before connecting: a local error is reported as such.
    let generator = GenerateDataFromFile::open(file).map_err(|error| ClientError::Local {
        what: "cannot read",
        path: file.to_path_buf(),
        error,
    })?;
    upload_from(endpoint, file, generator, meta, progress).map_err(|e| e.with_peer(&endpoint.addr))
}

fn upload_from(
    endpoint: &Endpoint,
    file: &Path,
    generator: GenerateDataFromFile,
    meta: Option<&str>,
    progress: Option<OnProgress>,
) -> Result<(String, bool), ClientError> {
    let mut conn = connect(endpoint)?;
    let default_meta;
    let meta = match meta {
        Some(m) => m,
        None => {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            default_meta = json!({"cmd": "upload", "file": name}).to_string();
            &default_meta
        }
    };
    if let Some(p) = progress {
        conn = conn.on_send_progress(p);
    }
    let sent = conn.send_binary_data(generator, meta);
    if let Err(Error::BodySource(error)) = sent {
        // The local file failed.
        return Err(ClientError::Local {
            what: "cannot read",
            path: file.to_path_buf(),
            error,
        });
    }
    if let Err(e @ Error::BodySizeMismatch { .. }) = sent {
        return Err(ClientError::Local {
            what: "cannot read",
            path: file.to_path_buf(),
            error: io::Error::other(e.to_string()),
        });
    }
    // A server that refused early may have replied and closed: prefer its reply.
    let reply = text_reply(&mut conn);
    match (sent, reply) {
        (_, Ok((text, value))) => Ok((text, value["status"] == "ok")),
        (Err(e), Err(_)) => Err(e.into()),
        (Ok(_), Err(e)) => Err(e),
    }
}

/// Downloads `name` to `out` atomically; returns the file's size.
pub fn download(
    endpoint: &Endpoint,
    name: &str,
    out: &Path,
    progress: Option<OnProgress>,
) -> Result<u64, ClientError> {
    download_to(endpoint, name, out, progress).map_err(|e| e.with_peer(&endpoint.addr))
}

fn download_to(
    endpoint: &Endpoint,
    name: &str,
    out: &Path,
    progress: Option<OnProgress>,
) -> Result<u64, ClientError> {
    let mut conn = connect(endpoint)?;
    conn.send_text(&format!("download {name}"))?;
    // Spool next to `out`, so that the final rename is atomic.
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Some(p) = progress {
        conn = conn.on_receive_progress(p);
    }
    match conn.receive_and_parse(&mut MsgDataProcessor::in_dir(parent))? {
        Exchange::Binary { body, .. } => {
            let size = body.len();
            body.persist(out).map_err(|e| ClientError::Local {
                what: "cannot write",
                path: out.to_path_buf(),
                error: e.into_parts().0,
            })?;
            Ok(size)
        }
        Exchange::Text(text) => {
            let value: Value = serde_json::from_str(&text).unwrap_or(json!({"error": text}));
            Err(ClientError::Server(
                value["error"].as_str().unwrap_or(&text).to_owned(),
            ))
        }
    }
}

/// Lists the server's files; returns the reply line and whether it said ok.
pub fn list(endpoint: &Endpoint) -> Result<(String, bool), ClientError> {
    (|| {
        let mut conn = connect(endpoint)?;
        conn.send_text("list")?;
        let (text, value) = text_reply(&mut conn)?;
        Ok((text, value["status"] == "ok"))
    })()
    .map_err(|e: ClientError| e.with_peer(&endpoint.addr))
}

/// True when the two files hold the same bytes.
pub fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(f: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = f.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}
