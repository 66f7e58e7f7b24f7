//! The baseline for `hci` over TLS (run by `tools/benches/tls_speed.sh`):
//! the plainest transfer rustls allows, in one process on loopback. A
//! sender thread reads SOURCE in 256 KiB blocks and writes each to a rustls
//! `StreamOwned` (mutual TLS, the same configuration as `hci`: ring, TLS 1.3,
//! TLS13_AES_256_GCM_SHA384); a receiver thread reads its `StreamOwned` into
//! a 256 KiB buffer, computes the CRC-32 and writes a file in OUT_DIR.
//! `--plain`: the same loop over the TCP socket alone. `--bufread`: a 1 MiB
//! `BufReader` under the receiver's `StreamOwned`, so that rustls's 4 KiB
//! socket reads come from memory.
//!
//! Prints one line: `bytes=N secs=S mib_per_s=M sender_cpu=S receiver_cpu=S`
//! (CPU seconds of each thread, from `/proc/thread-self/stat`, in ticks of
//! 10 ms).
//!
//! Usage: tls_loop CERT_DIR SOURCE OUT_DIR [--plain] [--bufread]
//! (CERT_DIR as `tools/benches/tls_certs.sh` makes it.)

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use nvflare_hci_tools::tls;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ServerConnection, StreamOwned};

const BLOCK: usize = 256 * 1024;

/// This thread's CPU time (user + system), in seconds.
fn thread_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("thread stat");
    // The fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Reads `source` in blocks into `out`; returns this thread's CPU seconds.
fn send(mut out: impl Write, source: &Path) -> f64 {
    let mut file = File::open(source).expect("open source");
    let mut block = vec![0u8; BLOCK];
    loop {
        let n = file.read(&mut block).expect("read source");
        if n == 0 {
            break;
        }
        out.write_all(&block[..n]).expect("send");
    }
    out.flush().expect("flush");
    thread_cpu()
}

/// Reads `input` to its end into a file, with the CRC-32; returns the
/// bytes, the CRC and this thread's CPU seconds.
fn receive(mut input: impl Read, target: &Path) -> (u64, u32, f64) {
    let mut file = File::create(target).expect("create target");
    let mut block = vec![0u8; BLOCK];
    let mut crc = crc32fast::Hasher::new();
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("receive: {e}"),
        };
        crc.update(&block[..n]);
        file.write_all(&block[..n]).expect("write target");
        total += n as u64;
    }
    (total, crc.finalize(), thread_cpu())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: tls_loop CERT_DIR SOURCE OUT_DIR [--plain] [--bufread]");
        std::process::exit(2);
    }
    let (certs, source, out_dir) = (Path::new(&args[1]), &args[2], Path::new(&args[3]));
    let plain = args.iter().any(|a| a == "--plain");
    let bufread = args.iter().any(|a| a == "--bufread");
    let pem = |name: &str| certs.join(name);
    let server_config = tls::server_config(&pem("server.pem"), &pem("server.key"), &pem("ca.pem"))
        .expect("server config");
    let client_config = tls::client_config(&pem("client.pem"), &pem("client.key"), &pem("ca.pem"))
        .expect("client config");
    let target = out_dir.join("tls_loop.out");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");

    let started = Instant::now();
    let receiver = {
        let target = target.clone();
        std::thread::spawn(move || {
            let (tcp, _) = listener.accept().expect("accept");
            if plain {
                return receive(tcp, &target);
            }
            let conn = ServerConnection::new(Arc::clone(&server_config)).expect("server");
            if bufread {
                let sock = ReadWrite(
                    BufReader::with_capacity(1 << 20, tcp.try_clone().unwrap()),
                    tcp,
                );
                receive(StreamOwned::new(conn, sock), &target)
            } else {
                receive(StreamOwned::new(conn, tcp), &target)
            }
        })
    };
    let source = Path::new(source).to_owned();
    let sender = std::thread::spawn(move || {
        let tcp = TcpStream::connect(addr).expect("connect");
        if plain {
            return send(&tcp, &source);
        }
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(client_config, name).expect("client");
        let mut stream = StreamOwned::new(conn, tcp);
        let cpu = send(&mut stream, &source);
        stream.conn.send_close_notify();
        stream.flush().expect("close_notify");
        // Read what the server sent (its session tickets) before closing:
        // closing with unread input would reset the connection.
        let _ = stream.sock.shutdown(std::net::Shutdown::Write);
        let _ = std::io::copy(&mut stream.sock, &mut std::io::sink());
        cpu
    });
    let sender_cpu = sender.join().expect("sender");
    let (bytes, crc, receiver_cpu) = receiver.join().expect("receiver");
    let secs = started.elapsed().as_secs_f64();
    let expected = std::fs::metadata(&args[2]).expect("source size").len();
    assert_eq!(bytes, expected, "received {bytes} of {expected} bytes");
    std::fs::remove_file(&target).ok();
    println!(
        "bytes={bytes} secs={secs:.4} mib_per_s={:.1} sender_cpu={sender_cpu:.2} receiver_cpu={receiver_cpu:.2} crc32={crc:08x}",
        bytes as f64 / secs / 1048576.0
    );
}

/// A socket read through a `BufReader` and written directly.
struct ReadWrite(BufReader<TcpStream>, TcpStream);

impl Read for ReadWrite {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for ReadWrite {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.write(buf)
    }
    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        self.1.write_vectored(bufs)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.1.flush()
    }
}
