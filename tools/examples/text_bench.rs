//! Text replies over loopback, measured side by side in one run (see
//! `benches/python_text.sh`): a server thread writes the same reply (a
//! `LINE_END` every 100 bytes) to every connection, and each client connects
//! and receives it. Medians of fresh connections.
//!
//! The page faults are the process's minor faults (`/proc/self/stat`), the
//! median per receive.
//!
//! Usage: text_bench PYTHON PYTHON_TEXT_SCRIPT

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use nvflare_hci::{receive_all, Connection};

use nvflare_hci_testkit::text_reply;

/// The process's minor page faults so far, from `/proc/self/stat`.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("stat");
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let minflt = rest.split_whitespace().nth(7).expect("minflt");
    minflt.parse().expect("a number")
}

/// The median time of `f`, and the median of the page faults each call took.
fn median_with_faults(mut f: impl FnMut(), iterations: usize) -> (Duration, u64) {
    let (mut times, mut faults): (Vec<Duration>, Vec<u64>) = (0..iterations)
        .map(|_| {
            let before = minor_faults();
            let start = Instant::now();
            f();
            (start.elapsed(), minor_faults() - before)
        })
        .unzip();
    times.sort();
    faults.sort();
    (times[times.len() / 2], faults[faults.len() / 2])
}

fn median(f: impl FnMut(), iterations: usize) -> Duration {
    median_with_faults(f, iterations).0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (python, script) = (&args[1], &args[2]);
    println!("| reply | Connection | page faults per Connection receive | receive_all exact | raw read | Python receive_all | Connection vs Python |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (len, name, iterations, exact_iterations) in
        [(10 << 10, "10 KiB", 400, 100), (1 << 20, "1 MiB", 100, 5)]
    {
        let wire = text_reply(len);
        let text_len = len - len / 100;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let served = wire.clone();
        std::thread::spawn(move || {
            for sock in listener.incoming() {
                let _ = sock.unwrap().write_all(&served);
            }
        });
        let (connection, faults) = median_with_faults(
            || {
                let mut conn = Connection::new(TcpStream::connect(addr).unwrap());
                let text = conn.receive().unwrap();
                assert_eq!(text.as_text().map(str::len), Some(text_len));
            },
            iterations,
        );
        let exact = median(
            || {
                let text = receive_all(&TcpStream::connect(addr).unwrap()).unwrap();
                assert_eq!(text.as_text().map(str::len), Some(text_len));
            },
            exact_iterations,
        );
        let raw = median(
            || {
                let mut buf = Vec::new();
                TcpStream::connect(addr)
                    .unwrap()
                    .read_to_end(&mut buf)
                    .unwrap();
                assert_eq!(buf.len(), wire.len());
            },
            iterations,
        );
        let out = Command::new(python)
            .args([
                script,
                &addr.port().to_string(),
                &text_len.to_string(),
                &iterations.to_string(),
            ])
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let python_secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let python = Duration::from_secs_f64(python_secs);
        println!(
            "| {name} | {:.1} µs | {faults} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1}× faster |",
            connection.as_secs_f64() * 1e6,
            exact.as_secs_f64() * 1e6,
            raw.as_secs_f64() * 1e6,
            python.as_secs_f64() * 1e6,
            python.as_secs_f64() / connection.as_secs_f64()
        );
    }
}
