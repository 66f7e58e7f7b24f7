//! One connection's life: the TLS handshake under one deadline, one
//! request read within the server's limits, its reply, and the close; and
//! what a peer past the connection cap is told. Each runs on its own
//! thread, from the accept loop that `hci serve` shares ([`crate::serve`]).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nvflare_hci::{Connection, Exchange, Limits};
use rustls::{ServerConnection, StreamOwned};
use serde_json::{json, Value};

use super::audit::{iso_time, now_secs, Audit, Log};
use super::commands;
use super::identity::{Cert, Identity};
use super::limits::{LINGER, MAX_CONNECTIONS_PER_CERT, MAX_JOB_SIZE, MAX_REQUEST};
use super::reply::{send_reply, Reply};
use super::request::Request;
use super::session::Gate;
use super::State;
use crate::serve::{self, peer_of, BUSY_TIMEOUT};
use crate::tls;

/// What a request may be: its text or meta at most [`MAX_REQUEST`] bytes,
/// a job zip at most [`MAX_JOB_SIZE`].
pub(super) const LIMITS: Limits = Limits::new()
    .with_max_text_size(MAX_REQUEST as u64)
    .with_max_meta_size(MAX_REQUEST)
    .with_max_body_size(MAX_JOB_SIZE);

/// Connections past their handshake, by certificate: one certificate
/// holds at most [`MAX_CONNECTIONS_PER_CERT`] at once, so that no peer
/// holds the server's memory with the connections of everyone else.
pub(super) struct Held {
    map: Mutex<HashMap<[u8; 32], usize>>,
}

/// One connection of a certificate, given back when dropped.
struct Slot<'a> {
    held: &'a Held,
    fingerprint: [u8; 32],
}

impl Held {
    /// None held.
    pub fn new() -> Held {
        Held {
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], usize>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for one more connection of `fingerprint`, if it has one.
    fn enter(&self, fingerprint: &[u8; 32]) -> Option<Slot<'_>> {
        let mut map = self.lock();
        let count = map.entry(*fingerprint).or_insert(0);
        if *count >= MAX_CONNECTIONS_PER_CERT {
            return None;
        }
        *count += 1;
        Some(Slot {
            held: self,
            fingerprint: *fingerprint,
        })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut map = self.held.lock();
        if let Some(count) = map.get_mut(&self.fingerprint) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.fingerprint);
            }
        }
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

type Conn = Connection<tls::TlsStream<ServerConnection, Counted>>;

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
pub(super) struct AdminService {
    pub state: Arc<State>,
    pub log: Log,
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

/// Serves one connection: handshake, one request, one reply. The audit
/// record, or the refused handshake's.
fn handle(tcp: TcpStream, state: &State) -> Option<Value> {
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
    let stream = tls::TlsStream::new(
        conn,
        Counted {
            tcp,
            read: Arc::clone(&read),
            written: Arc::clone(&written),
        },
    );
    let mut conn: Conn = Connection::new(stream).limits(LIMITS);
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
    let slot = state.held.enter(&identity.fingerprint);
    let mut gate = Gate::new(state, &identity);
    let received = match slot {
        Some(_) => conn.receive_and_parse(&mut gate),
        None => {
            let error = format!(
                "server busy: {MAX_CONNECTIONS_PER_CERT} connections of this certificate at once, try again later"
            );
            gate.refusal = Some(Reply::error("error", &error));
            audit.command = "busy".into();
            audit.error = Some(error);
            Err(nvflare_hci::Error::Processor(io::Error::new(
                io::ErrorKind::WouldBlock,
                "too many connections of this certificate",
            )))
        }
    };
    let reply = match received {
        Err(_) if gate.refusal.is_some() => {
            if audit.command.is_empty() {
                audit.command = "upload".into();
            }
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
        Ok(Exchange::Text(text)) => match Request::parse(&text) {
            Ok(request) => {
                audit.command = request.shown();
                commands::run(state, &identity, &request, None)
            }
            Err(reply) => reply,
        },
        Ok(Exchange::Binary { meta, body }) => match Request::parse(&meta) {
            Ok(request) => {
                audit.command = request.shown();
                // The body is deleted when dropped, whatever the outcome,
                // unless the store took it.
                commands::run(state, &identity, &request, Some(body))
            }
            Err(reply) => reply,
        },
    };
    audit.status = reply.status();
    if let Err(e) = send_reply(&mut conn, &reply) {
        audit.status = "error".into();
        audit.error = Some(e);
    }
    // A busy refusal read nothing of the request.
    let unread = slot.is_none() || !conn.can_receive();
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
