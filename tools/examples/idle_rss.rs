//! Memory of an `hci serve` process holding idle connections: starts the
//! server (the binary given), opens N connections that send nothing, and
//! reads the server's `/proc/PID/status`. The server is stopped by its PID.
//!
//! Usage: idle_rss HCI_BINARY [N] [EXTRA SERVE ARGS...]
//! (`tools/benches/idle_rss.sh` builds both and raises the open-file limit.)

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn status(pid: u32, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_owned())
        .unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let hci = &args[1];
    let n: usize = args.get(2).map_or(2000, |s| s.parse().expect("N"));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Command::new(hci)
        .args(["serve", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir.path())
        .args(&args[3.min(args.len())..])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start hci serve");
    let pid = server.id();
    let mut out = BufReader::new(server.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("listening line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("address")
        .to_owned();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    std::thread::sleep(Duration::from_millis(200));
    let before = status(pid, "VmRSS:");
    let conns: Vec<TcpStream> = (0..n)
        .map(|i| TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    println!(
        "{n} idle connections: server VmRSS {} (before: {before}), VmHWM {}, threads {}",
        status(pid, "VmRSS:"),
        status(pid, "VmHWM:"),
        status(pid, "Threads:")
    );
    drop(conns);
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = server.wait();
}
