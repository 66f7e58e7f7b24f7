//! `tls::TlsStream`, the TLS stream of `hci`: every byte arrives whatever
//! the read sizes, a large read takes the socket in large pieces and
//! returns more than one record, a read that completes no record is not the
//! end, a clean close is `Ok(0)` and a truncation `UnexpectedEof`.

mod common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::random_bytes;
use common::tls::Pki;
use nvflare_hci_tools::tls::TlsStream;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ServerConnection};

/// The server's socket, counting its reads.
struct Counted {
    tcp: TcpStream,
    reads: Arc<AtomicUsize>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.tcp.read(buf)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

type Server = TlsStream<ServerConnection, Counted>;

/// The client's socket: with `trickle`, every write sends at most 1000
/// bytes and waits a millisecond, so that most of the server's reads end
/// inside a record.
struct Client {
    tcp: TcpStream,
    trickle: bool,
}

impl Read for Client {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.read(buf)
    }
}

impl Write for Client {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.trickle {
            return self.tcp.write(buf);
        }
        std::thread::sleep(Duration::from_millis(1));
        self.tcp.write(&buf[..buf.len().min(1000)])
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Close {
    Clean,
    Truncate,
    Trickle,
}

/// A client thread that sends `data` in 256 KiB writes, then closes
/// (`close_notify` first unless `Truncate`), and the server's stream with
/// its read counter. The handshake is done by the first read or write.
fn transfer(data: Arc<Vec<u8>>, close: Close) -> (Server, Arc<AtomicUsize>) {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "tls stream CA");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client_config = pki.client_config();
    std::thread::spawn(move || {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_nodelay(true).unwrap();
        let tcp = Client {
            tcp,
            trickle: close == Close::Trickle,
        };
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(client_config, name).unwrap();
        let mut stream = TlsStream::new(conn, tcp);
        for block in data.chunks(256 * 1024) {
            stream.write_all(block).unwrap();
        }
        stream.flush().unwrap();
        if close != Close::Truncate {
            stream.conn.send_close_notify();
            stream.flush().unwrap();
        }
        stream.sock.tcp.shutdown(Shutdown::Write).unwrap();
        // What the server sent (its session tickets), read before closing.
        let _ = io::copy(&mut stream.sock.tcp, &mut io::sink());
    });
    let (tcp, _) = listener.accept().unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let reads = Arc::new(AtomicUsize::new(0));
    let conn = ServerConnection::new(pki.server_config()).unwrap();
    let sock = Counted {
        tcp,
        reads: Arc::clone(&reads),
    };
    (TlsStream::new(conn, sock), reads)
}

/// Reads to the end with buffers of the given sizes in turn; returns the
/// bytes, the number of reads, and how the stream ended.
fn read_all(stream: &mut Server, sizes: &[usize]) -> (Vec<u8>, usize, io::Result<()>) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; *sizes.iter().max().unwrap()];
    for calls in 0.. {
        let size = sizes[calls % sizes.len()];
        match stream.read(&mut buf[..size]) {
            Ok(0) => return (got, calls, Ok(())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, calls, Err(e)),
        }
    }
    unreachable!()
}

#[test]
fn large_reads_take_the_socket_in_large_pieces() {
    let data = Arc::new(random_bytes(16 << 20, 1));
    let (mut stream, socket_reads) = transfer(Arc::clone(&data), Close::Clean);
    // Let the sender fill the socket's buffer, as a busy transfer does.
    std::thread::sleep(Duration::from_millis(300));
    let (got, calls, end) = read_all(&mut stream, &[256 * 1024]);
    end.unwrap();
    assert!(
        got == *data,
        "{} bytes received, {} sent",
        got.len(),
        data.len()
    );
    let socket_reads = socket_reads.load(Ordering::Relaxed);
    // rustls's own reads take at most about 16 KiB, often 4 KiB; and each
    // of StreamOwned's reads returns one record (16 KiB) at most.
    assert!(
        socket_reads < data.len() / (32 << 10),
        "{socket_reads} socket reads for {} bytes",
        data.len()
    );
    assert!(
        calls < data.len() / (32 << 10),
        "{calls} reads returned {} bytes",
        data.len()
    );
}

#[test]
fn every_byte_arrives_whatever_the_read_sizes() {
    let data = Arc::new(random_bytes(3 << 20, 2));
    let (mut stream, _) = transfer(Arc::clone(&data), Close::Clean);
    // Below, at and above the size from which reads go to the socket
    // directly (16 KiB), and odd sizes that split records anywhere.
    let sizes = [1, 100, 16383, 16384, 16385, 70_001, 262_144, 5000, 33_333];
    let (got, _, end) = read_all(&mut stream, &sizes);
    end.unwrap();
    assert!(
        got == *data,
        "{} bytes received, {} sent",
        got.len(),
        data.len()
    );
}

#[test]
fn a_close_without_close_notify_is_unexpected_eof_after_the_data() {
    let data = Arc::new(random_bytes(1 << 20, 3));
    for sizes in [[256 * 1024], [1000]] {
        let (mut stream, _) = transfer(Arc::clone(&data), Close::Truncate);
        let (got, _, end) = read_all(&mut stream, &sizes);
        assert!(
            got == *data,
            "{} bytes received, {} sent",
            got.len(),
            data.len()
        );
        let e = end.expect_err("a truncation, not a clean close");
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
    }
}

#[test]
fn a_trickling_peer_is_read_whole() {
    // Most socket reads end inside a record and complete none: that is no
    // end of the stream.
    let data = Arc::new(random_bytes(100_000, 4));
    let (mut stream, socket_reads) = transfer(Arc::clone(&data), Close::Trickle);
    let (got, calls, end) = read_all(&mut stream, &[256 * 1024]);
    end.unwrap();
    assert!(
        got == *data,
        "{} bytes received, {} sent",
        got.len(),
        data.len()
    );
    let socket_reads = socket_reads.load(Ordering::Relaxed);
    assert!(
        socket_reads > calls,
        "{socket_reads} socket reads for {calls} reads: the peer did not trickle"
    );
}
