//! Text replies over loopback, measured side by side in one run (see
//! `benches/python_text.sh`): a server thread writes the same reply (a
//! `LINE_END` every 100 bytes) to every connection, and each client connects
//! and receives it. Medians of fresh connections.
//!
//! Usage: text_bench PYTHON PYTHON_TEXT_SCRIPT

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use nvflare_hci::{receive_all, Connection};

use nvflare_hci_testkit::text_reply;

fn median(mut f: impl FnMut(), iterations: usize) -> Duration {
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (python, script) = (&args[1], &args[2]);
    println!("| reply | Connection | receive_all exact | raw read | Python receive_all | Connection vs Python |");
    println!("| --- | --- | --- | --- | --- | --- |");
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
        let connection = median(
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
            "| {name} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:.1}× faster |",
            connection.as_secs_f64() * 1e6,
            exact.as_secs_f64() * 1e6,
            raw.as_secs_f64() * 1e6,
            python.as_secs_f64() * 1e6,
            python.as_secs_f64() / connection.as_secs_f64()
        );
    }
}
