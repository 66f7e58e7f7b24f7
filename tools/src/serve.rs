//! The accept loop that `hci serve` and `nvflare-admin-server` share: a
//! thread per connection, where its TLS handshake runs too, so that a
//! silent peer delays nobody; a cap on connections at once, handshakes
//! included; and a bounded answer to peers past the cap.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stack of each connection's thread: enough for the exchange code and a
/// TLS handshake, small enough that thousands of idle connections cost little.
pub const WORKER_STACK: usize = 256 * 1024;

/// The default cap on connections at once, handshakes included.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Peers over the cap are answered by at most this many threads at once;
/// past that they are closed unanswered, so a flood stays bounded work.
pub const BUSY_RESPONDERS: usize = 8;

/// What a peer over the cap is given, handshake and reply together.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// What a server does with the connections [`run`] accepts. Each method
/// runs on a thread of its own.
pub trait Service: Send + Sync + 'static {
    /// Serves one connection, its handshake included.
    fn serve(&self, stream: TcpStream);

    /// Tells a peer past the cap that the server is busy, within
    /// [`BUSY_TIMEOUT`].
    fn busy(&self, stream: TcpStream);

    /// Records a peer past the cap that is closed unanswered, all
    /// [`BUSY_RESPONDERS`] being taken. Runs on the accept loop: it must
    /// not block.
    fn dropped(&self, stream: TcpStream);
}

/// Binds the first of `addr`'s addresses that can be bound. The error
/// keeps its kind and names the address, and, for one in use, its usual
/// cause: a running NVFlare server (a POC's admin port is 8003).
pub fn listen(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot listen: cannot resolve the address: {e}"),
            )
        })?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpListener::bind(a) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some((a, e)),
        }
    }
    Err(match last {
        Some((a, e)) if e.kind() == io::ErrorKind::AddrInUse => io::Error::new(
            e.kind(),
            format!(
                "cannot listen on {a}: {e}: another process listens there (a running NVFlare \
                 server or POC holds its admin port, 8003 in a POC); stop it, or choose another port"
            ),
        ),
        Some((a, e)) => io::Error::new(e.kind(), format!("cannot listen on {a}: {e}")),
        None => io::Error::new(
            io::ErrorKind::NotFound,
            "cannot listen: the address resolves to nothing",
        ),
    })
}

/// One of a counted number of places, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(counter: &Arc<AtomicUsize>) -> Slot {
        counter.fetch_add(1, Ordering::SeqCst);
        Slot(Arc::clone(counter))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `work` on a thread of its own with a [`WORKER_STACK`] stack,
/// holding `slot` until it ends.
fn spawn(slot: Slot, work: impl FnOnce() + Send + 'static) {
    let worker = std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(move || {
            let _slot = slot;
            work()
        });
    if let Err(e) = worker {
        eprintln!("cannot start a worker: {e}");
    }
}

/// Accepts connections on `listener` for as long as it lasts: each on its
/// own thread while fewer than `max_connections` are being served, a busy
/// answer from one of [`BUSY_RESPONDERS`] threads past that, and past those
/// a close.
pub fn run<S: Service>(listener: &TcpListener, max_connections: usize, service: Arc<S>) {
    let active = Arc::new(AtomicUsize::new(0));
    let busy = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let service = Arc::clone(&service);
        if active.load(Ordering::SeqCst) < max_connections {
            spawn(Slot::take(&active), move || service.serve(stream));
        } else if busy.load(Ordering::SeqCst) < BUSY_RESPONDERS {
            spawn(Slot::take(&busy), move || service.busy(stream));
        } else {
            service.dropped(stream);
        }
    }
}

/// Shuts down the sending side of `tcp` and drains, for at most `limit`,
/// what the peer still sends: closing with unread input would reset the
/// connection, and could destroy a reply before the peer reads it.
pub fn linger(tcp: &TcpStream, limit: Duration) {
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    let _ = tcp.set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + limit;
    let mut sink = [0u8; 64 * 1024];
    let mut tcp = tcp;
    while Instant::now() < deadline {
        match tcp.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// The peer's address as text, or nothing when it is gone.
pub fn peer_of(stream: &TcpStream) -> String {
    stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default()
}
