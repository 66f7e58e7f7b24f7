//! Page faults of text receives: a server thread writes a 1 MiB text reply
//! (a `LINE_END` every 100 bytes) to every connection; the main thread
//! receives it on a fresh `Connection` ROUNDS times (default 30). Prints the
//! median time, the minor page faults of the process per receive (median,
//! first, last), and the process's in all (`/proc/self/stat`), its start
//! included. Run by `benches/python_text.sh`.
//!
//! Usage: text_faults [ROUNDS] [BYTES]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use nvflare_hci::Connection;
use nvflare_hci_testkit::text_reply;

/// The process's minor page faults so far, from `/proc/self/stat`.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("stat");
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    rest.split_whitespace()
        .nth(7)
        .expect("minflt")
        .parse()
        .expect("number")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).map_or(30, |s| s.parse().expect("ROUNDS"));
    let len: usize = args.get(2).map_or(1 << 20, |s| s.parse().expect("BYTES"));
    let wire = text_reply(len);
    let text_len = len - len / 100;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let _ = sock.unwrap().write_all(&wire);
        }
    });
    let before = minor_faults();
    let mut times: Vec<Duration> = Vec::with_capacity(rounds);
    let mut faults = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let f0 = minor_faults();
        let start = Instant::now();
        let mut conn = Connection::new(TcpStream::connect(addr).unwrap());
        let text = conn.receive().unwrap();
        assert_eq!(text.as_text().map(str::len), Some(text_len));
        drop(text);
        drop(conn);
        times.push(start.elapsed());
        faults.push(minor_faults() - f0);
    }
    let total = minor_faults();
    times.sort();
    let mut sorted = faults.clone();
    sorted.sort();
    println!(
        "{rounds} receives of {len} bytes of text on fresh connections: median {:.3} ms; \
         page faults per receive: median {}, first {}, last {}; the process: {total} in all, \
         {before} before the first receive",
        times[rounds / 2].as_secs_f64() * 1e3,
        sorted[rounds / 2],
        faults[0],
        faults[rounds - 1],
    );
}
