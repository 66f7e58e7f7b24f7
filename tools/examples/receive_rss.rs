//! Receives one large body (default 4 GiB) over loopback TCP into a temp
//! file, and reports the process's peak resident memory: it stays flat in
//! the body size.
//!
//! ```text
//! cargo build --release -p nvflare-hci-tools --example receive_rss
//! /usr/bin/time -v target/release/examples/receive_rss [BYTES]
//! ```

use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use nvflare_hci::{DataGenerator, ExchangeHandler, MsgDataProcessor};

/// A body of `left` bytes made on the fly, never held.
struct Pattern {
    size: u64,
    left: u64,
}

impl DataGenerator for Pattern {
    fn data_size(&self) -> u64 {
        self.size
    }

    fn generate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = (self.left as usize + i) as u8;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Peak resident set size, from /proc/self/status.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let size: u64 = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 4 << 30,
    };
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let sender = std::thread::spawn(move || -> Result<u64, nvflare_hci::Error> {
        let sock = TcpStream::connect(addr).map_err(nvflare_hci::Error::Io)?;
        nvflare_hci::send_binary_data(&sock, Pattern { size, left: size }, "{\"cmd\":\"big\"}")
            .map(|s| s.size)
    });
    let (sock, _) = listener.accept()?;
    let spool = tempfile::tempdir()?;
    let started = Instant::now();
    let got = ExchangeHandler::new(&sock)
        .receive_and_parse(&mut MsgDataProcessor::in_dir(spool.path()))?;
    let elapsed = started.elapsed();
    let sent = sender.join().expect("sender thread")?;
    let body = got.body().expect("a binary exchange");
    assert_eq!(body.len(), size);
    assert_eq!(sent, size);
    println!(
        "received {size} bytes in {:.2} s ({:.0} MiB/s); peak RSS {} KiB",
        elapsed.as_secs_f64(),
        size as f64 / (1 << 20) as f64 / elapsed.as_secs_f64(),
        peak_rss_kib().map_or("unknown".into(), |k| k.to_string())
    );
    Ok(())
}
