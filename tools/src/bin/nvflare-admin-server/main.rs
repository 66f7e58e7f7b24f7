//! `nvflare-admin-server`: the job-store half of an NVFlare 2.6.3 server's
//! admin port, for NVFlare's own admin client (`flare_api`, `fl_admin.sh`).
//! It runs no jobs.
//!
//! ```text
//! nvflare-admin-server --kit SERVER_KIT --store DIR [--host HOST] [--port PORT] [--timeout SECS]
//!                      [--max-connections N] [--session-timeout SECS]
//! ```
//!
//! Prints `listening on HOST:PORT`, then one JSON line per request and per
//! refused peer, and one (`"event": "stop"`) when SIGTERM or SIGINT stops it
//! (exit 0). Exit 1 with one line
//! on stderr for a startup error, 2 for bad usage.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nvflare_hci_tools::server::{Config, Server, ServerKit, DEFAULT_MAX_CONNECTIONS};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

#[derive(Parser)]
#[command(
    name = "nvflare-admin-server",
    about = "An admin server for NVFlare 2.6.3's admin client: login, authorization and the job commands over a job store; it runs no jobs"
)]
struct Cli {
    /// The server's startup kit (the folder with fed_server.json, or the one above it).
    #[arg(long)]
    kit: PathBuf,
    /// The job store's folder (created if missing).
    #[arg(long)]
    store: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port (default: the kit's admin_port; 0 picks a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Read and write timeout of a connection, and the deadline of its TLS handshake, in seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Connections at once, handshakes included; past it, a busy reply.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = positive)]
    max_connections: usize,
    /// A session ends after this many seconds without a command.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    session_timeout: u64,
}

fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    };
    let kit = match ServerKit::load(&cli.kit) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let port = cli.port.unwrap_or(kit.admin_port);
    let config = Config {
        kit,
        store: cli.store.clone(),
        timeout: Duration::from_secs(cli.timeout),
        max_connections: cli.max_connections,
        session_timeout: Duration::from_secs(cli.session_timeout),
    };
    let mut signals = match Signals::new([SIGTERM, SIGINT]) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot handle signals: {e}")),
    };
    let server = match Server::bind((cli.host.as_str(), port), config) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let addr = match server.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(e.to_string()),
    };
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
    let monitor = server.monitor();
    std::thread::spawn(move || {
        server.run(|record| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{record}");
            let _ = out.flush();
        })
    });
    // A signal ends the process at once: nothing in the store is partial
    // (jobs appear by rename). The spools of uploads in flight, files in the
    // store's `.tmp/`, go now; the folders where jobs are being built stay
    // for the next start to clear, as a worker may be renaming one into
    // place this very moment.
    let signal = match signals.forever().next() {
        Some(SIGINT) => "SIGINT",
        _ => "SIGTERM",
    };
    // The stop is logged, with the sessions and staged downloads it ends.
    let record = monitor.stop_record(signal);
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{record}");
        let _ = out.flush();
    }
    if let Ok(entries) = std::fs::read_dir(cli.store.join(".tmp")) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir_all(cli.store.join(".transfer"));
    ExitCode::SUCCESS
}
