//! Mutual TLS for the applications, on rustls with the ring provider: client
//! and server configurations from PEM files, a handshake bounded by one
//! deadline however slowly the peer sends, and [`TlsStream`], the stream
//! that reads the socket in large pieces.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::ops::DerefMut;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::ServerName;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, RootCertStore, ServerConfig,
    ServerConnection, SideData, StreamOwned,
};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// The certificates of a CA file, as trust anchors.
pub fn roots(ca: &Path) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| pem_error(ca, e))? {
        roots
            .add(cert.map_err(|e| pem_error(ca, e))?)
            .map_err(|e| pem_error(ca, e))?;
    }
    if roots.is_empty() {
        return Err(pem_error(ca, "no certificate"));
    }
    Ok(Arc::new(roots))
}

/// A certificate chain and its key: PKCS#1 (NVFlare's provisioning),
/// PKCS#8 or SEC1, as openssl writes them.
pub fn identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_error(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(cert, e))?;
    if chain.is_empty() {
        return Err(pem_error(cert, "no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, e))?;
    Ok((chain, key))
}

/// A client that presents `cert` and trusts only `ca`; TLS 1.2 and 1.3.
pub fn client_config(cert: &Path, key: &Path, ca: &Path) -> Result<Arc<ClientConfig>, String> {
    let (chain, key) = identity(cert, key)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots(ca)?)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("client certificate and key: {e}"))?;
    Ok(Arc::new(config))
}

/// A server that presents `cert` and requires a client certificate that
/// chains to `ca`; TLS 1.2 and 1.3.
pub fn server_config(cert: &Path, key: &Path, ca: &Path) -> Result<Arc<ServerConfig>, String> {
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider())
            .build()
            .map_err(|e| e.to_string())?;
    let (chain, key) = identity(cert, key)?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("server certificate and key: {e}"))?;
    Ok(Arc::new(config))
}

/// The two sides of a rustls connection, for [`handshake`].
pub trait Handshaking {
    /// True until the handshake is complete.
    fn is_handshaking(&self) -> bool;
    /// Reads and writes TLS records on `io` until there is nothing to do.
    fn complete_io<T: Read + Write>(&mut self, io: &mut T) -> io::Result<(usize, usize)>;
}

impl Handshaking for ClientConnection {
    fn is_handshaking(&self) -> bool {
        let common: &rustls::CommonState = self;
        common.is_handshaking()
    }
    fn complete_io<T: Read + Write>(&mut self, io: &mut T) -> io::Result<(usize, usize)> {
        rustls::ConnectionCommon::complete_io(self, io)
    }
}

impl Handshaking for ServerConnection {
    fn is_handshaking(&self) -> bool {
        let common: &rustls::CommonState = self;
        common.is_handshaking()
    }
    fn complete_io<T: Read + Write>(&mut self, io: &mut T) -> io::Result<(usize, usize)> {
        rustls::ConnectionCommon::complete_io(self, io)
    }
}

/// The socket during a handshake: every read and write may wait only for
/// what is left until the deadline. (rustls reads as many times as the
/// handshake needs within one `complete_io`, so checking between calls is
/// not enough.)
struct Deadline<'a> {
    tcp: &'a mut TcpStream,
    deadline: Instant,
}

impl Deadline<'_> {
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            ));
        }
        Ok(left)
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.tcp.set_read_timeout(Some(left))?;
        self.tcp.read(buf)
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.tcp.set_write_timeout(Some(left))?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// Completes the handshake within `limit` in all: every read and write
/// waits only for what is left, so a peer that trickles its messages a byte
/// at a time is cut off at the deadline like one that sends nothing. The
/// socket's timeouts are set to `timeout` afterwards.
pub fn handshake<C: Handshaking>(
    tls: &mut C,
    tcp: &mut TcpStream,
    limit: Duration,
    timeout: Duration,
) -> io::Result<()> {
    let started = Instant::now();
    let mut io = Deadline {
        tcp,
        deadline: started + limit,
    };
    while tls.is_handshaking() {
        if let Err(e) = tls.complete_io(&mut io) {
            // A read or write that waited out what was left of the deadline.
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "timed out after {:.1} s (the handshake's limit is {} s)",
                        started.elapsed().as_secs_f64(),
                        limit.as_secs_f64()
                    ),
                ));
            }
            return Err(e);
        }
    }
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    Ok(())
}

/// The server's side of a handshake on `tcp`, within `limit` in all (see
/// [`handshake`]). A refused peer is sent the alert that tells it why, with
/// writes only and briefly: nothing more is read from it.
///
/// # Errors
/// Why the handshake failed, with its causes on one line.
pub fn accept(
    config: &Arc<ServerConfig>,
    mut tcp: TcpStream,
    limit: Duration,
    timeout: Duration,
) -> Result<StreamOwned<ServerConnection, TcpStream>, String> {
    let mut tls = ServerConnection::new(Arc::clone(config)).map_err(|e| e.to_string())?;
    if let Err(e) = handshake(&mut tls, &mut tcp, limit, timeout) {
        let _ = tcp.set_write_timeout(Some(Duration::from_secs(1)));
        while tls.wants_write() && tls.write_tls(&mut tcp).is_ok() {}
        return Err(nvflare_hci::ErrorChain(&e).to_string());
    }
    Ok(StreamOwned::new(tls, tcp))
}

/// Connects to the first of `addr`'s addresses that answers within
/// `timeout`, and sets that as the socket's read and write timeout.
///
/// # Errors
/// The last address's error, or the lookup's.
pub fn connect_tcp(addr: impl ToSocketAddrs, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(tcp) => {
                tcp.set_read_timeout(Some(timeout))?;
                tcp.set_write_timeout(Some(timeout))?;
                return Ok(tcp);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The client side of mutual TLS on `tcp`: the server must present a
/// certificate for `server_name`; the whole handshake within `timeout`.
///
/// # Errors
/// A bad server name, or the handshake's failure, as one line.
pub fn client_stream(
    config: &Arc<ClientConfig>,
    server_name: &str,
    mut tcp: TcpStream,
    timeout: Duration,
) -> Result<StreamOwned<ClientConnection, TcpStream>, String> {
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| format!("bad server name {server_name:?}: {e}"))?;
    let mut conn = ClientConnection::new(Arc::clone(config), name).map_err(|e| e.to_string())?;
    let peer = tcp
        .peer_addr()
        .map_or_else(|_| server_name.to_owned(), |a| a.to_string());
    handshake(&mut conn, &mut tcp, timeout, timeout).map_err(|e| {
        format!(
            "TLS handshake with {peer} ({server_name}): {}",
            nvflare_hci::ErrorChain(&e)
        )
    })?;
    Ok(StreamOwned::new(conn, tcp))
}

/// Reads of at least this size take the socket's bytes straight into the
/// caller's buffer; smaller ones go through rustls's own reads.
const DIRECT_READ: usize = 16 * 1024;

/// A rustls connection and its socket as one `Read + Write` stream, as
/// rustls's `StreamOwned`, with the socket read in large pieces and no
/// buffer of its own.
///
/// `StreamOwned` reads the socket 4 KiB at a time (rustls's read size), a
/// system call per 4 KiB. Here a read of 16 KiB or more
/// takes the socket's bytes into the caller's buffer in one call, hands
/// them to rustls (`read_tls`, `process_new_packets`: rustls's public API
/// decrypts and checks every record), and writes the plaintext back into
/// the front of the same buffer, over ciphertext already handed on. So a
/// connection holds no read buffer between calls, however much it moved;
/// a smaller read goes through rustls's own 4 KiB reads, as
/// `StreamOwned`'s. A write hands rustls what its buffer limit takes (64
/// KiB) and sends the records in one `writev`, as `StreamOwned`'s: a
/// larger limit saves few system calls, and its records, freed together,
/// made the allocator give the memory back to the kernel and fault it in
/// again on every write (33,000 page faults for a 256 MiB upload).
#[derive(Debug)]
pub struct TlsStream<C, T> {
    /// The rustls connection.
    pub conn: C,
    /// The socket.
    pub sock: T,
}

impl<C, T, S> TlsStream<C, T>
where
    C: DerefMut<Target = ConnectionCommon<S>>,
    T: Read + Write,
    S: SideData,
{
    /// The stream of `conn` over `sock`, its handshake done or not (a
    /// handshake still to do is completed by the first read or write).
    pub fn new(conn: C, sock: T) -> Self {
        TlsStream { conn, sock }
    }

    /// Writes every TLS record rustls has ready.
    fn write_pending(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Decrypts what rustls was given; on a bad record, sends the alert
    /// rustls queued (best effort) and fails as `StreamOwned` does.
    fn process(&mut self) -> io::Result<()> {
        if let Err(e) = self.conn.process_new_packets() {
            let _ = self.write_pending();
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        // A reply rustls owes the peer (a key update, an alert).
        self.write_pending()
    }

    /// Plaintext rustls holds, into `buf`: `Ok(None)` when it holds none
    /// and the stream goes on.
    fn plaintext(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.conn.reader().read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Completes a handshake not yet done, and sends what is pending.
    fn prior_io(&mut self) -> io::Result<()> {
        if self.conn.is_handshaking() {
            self.conn.complete_io(&mut self.sock)?;
        }
        self.write_pending()
    }

    /// The socket's bytes in `buf`, then their plaintext at its front:
    /// `Ok(None)` when they completed no record, or the socket ended.
    fn read_direct(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let got = loop {
            match self.sock.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if got == 0 {
            // The end of the socket: rustls tells a clean close (after
            // close_notify) from a truncation.
            self.conn.read_tls(&mut io::empty())?;
            self.process()?;
            return Ok(None);
        }
        // Ciphertext not yet handed to rustls is at buf[taken..got];
        // plaintext goes to buf[done..taken], over ciphertext handed on.
        let (mut taken, mut done) = (0, 0);
        loop {
            let (front, back) = buf.split_at_mut(taken);
            if let Some(n) = self.plaintext(&mut front[done..])? {
                done += n;
            }
            if taken == got {
                break;
            }
            let mut rest = &back[..got - taken];
            let n = self.conn.read_tls(&mut rest)?;
            if n == 0 {
                // After close_notify rustls reads nothing more; what
                // follows it is dropped, as StreamOwned drops it.
                break;
            }
            taken += n;
            self.process()?;
        }
        Ok((done > 0).then_some(done))
    }
}

impl<C, T, S> Read for TlsStream<C, T>
where
    C: DerefMut<Target = ConnectionCommon<S>>,
    T: Read + Write,
    S: SideData,
{
    /// Plaintext rustls already holds; else, for a buffer of
    /// 16 KiB or more, one socket read into `buf` and its
    /// plaintext; else rustls's own reads, as `StreamOwned`'s. `Ok(0)`
    /// after the peer's `close_notify`; `UnexpectedEof` for a socket that
    /// ended without it.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.prior_io()?;
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(n) = self.plaintext(buf)? {
                return Ok(n);
            }
            if buf.len() >= DIRECT_READ {
                if let Some(n) = self.read_direct(buf)? {
                    return Ok(n);
                }
                continue;
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(_) => self.process()?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<C, T, S> Write for TlsStream<C, T>
where
    C: DerefMut<Target = ConnectionCommon<S>>,
    T: Read + Write,
    S: SideData,
{
    /// Encrypts what rustls takes of `buf` and sends the records. An error
    /// sending them is returned, though rustls took the bytes: the stream
    /// is then broken.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.prior_io()?;
        let n = self.conn.writer().write(buf)?;
        self.write_pending()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.prior_io()?;
        self.sock.flush()
    }
}

impl<C, T, S> From<StreamOwned<C, T>> for TlsStream<C, T>
where
    C: DerefMut<Target = ConnectionCommon<S>>,
    T: Read + Write,
    S: SideData,
{
    fn from(stream: StreamOwned<C, T>) -> Self {
        let (conn, sock) = stream.into_parts();
        TlsStream::new(conn, sock)
    }
}
