//! `hci`: an admin-style file server and client over NVFlare's exchange
//! protocol, and a one-command demo.
//!
//! ```text
//! cargo run --release --example hci -- demo [--size BYTES]
//! cargo run --release --example hci -- serve --listen 127.0.0.1:8003 --dir ./store [--timeout SECS]
//! cargo run --release --example hci -- upload --connect 127.0.0.1:8003 [--meta TEXT] FILE
//! cargo run --release --example hci -- download --connect 127.0.0.1:8003 NAME --out PATH
//! cargo run --release --example hci -- list --connect 127.0.0.1:8003
//! ```

mod app;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use app::{ClientError, OnProgress, Server, ServerConfig};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::{rngs::StdRng, RngCore, SeedableRng};

#[derive(Parser)]
#[command(
    name = "hci",
    about = "File server and client over NVFlare's admin exchange protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve DIR until killed.
    Serve {
        /// Address to listen on (port 0 picks one).
        #[arg(long)]
        listen: String,
        /// Directory of stored files.
        #[arg(long)]
        dir: PathBuf,
        /// Read and write timeout of each connection, in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Upload FILE; prints the server's reply.
    Upload {
        /// Server address.
        #[arg(long)]
        connect: String,
        /// Meta text sent with the file (default: a small JSON naming it).
        #[arg(long)]
        meta: Option<String>,
        /// Read and write timeout, in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// The file to send.
        file: PathBuf,
    },
    /// Download NAME to PATH, atomically.
    Download {
        /// Server address.
        #[arg(long)]
        connect: String,
        /// Where to write the file.
        #[arg(long)]
        out: PathBuf,
        /// Read and write timeout, in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// The stored file's name.
        name: String,
    },
    /// List the stored files.
    List {
        /// Server address.
        #[arg(long)]
        connect: String,
        /// Read and write timeout, in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Server, upload, download and check in one process, with speeds.
    Demo {
        /// Size of the random file, in bytes.
        #[arg(long, default_value_t = 256 << 20)]
        size: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            listen,
            dir,
            timeout,
        } => serve(&listen, dir, timeout),
        Command::Upload {
            connect,
            meta,
            timeout,
            file,
        } => upload(&connect, &file, meta.as_deref(), timeout),
        Command::Download {
            connect,
            out,
            timeout,
            name,
        } => download(&connect, &name, &out, timeout),
        Command::List { connect, timeout } => list(&connect, timeout),
        Command::Demo { size } => demo(size),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s.max(1))
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
fn progress_bar(label: &'static str) -> (ProgressBar, OnProgress) {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>9} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(label);
    let handle = bar.clone();
    let callback: OnProgress = Box::new(move |p: nvflare_hci::Progress| {
        if let Some(total) = p.total {
            handle.set_length(total);
        }
        handle.set_position(p.done);
    });
    (bar, callback)
}

fn serve(listen: &str, dir: PathBuf, timeout: u64) -> Result<ExitCode, ClientError> {
    let config = ServerConfig {
        timeout: secs(timeout),
        ..ServerConfig::new(dir)
    };
    let server = Server::bind(listen, config)?;
    println!("listening on {}", server.local_addr()?);
    std::io::stdout().flush()?;
    server.run(|record| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{record}");
        let _ = out.flush();
    });
    Ok(ExitCode::SUCCESS)
}

fn upload(
    addr: &str,
    file: &Path,
    meta: Option<&str>,
    timeout: u64,
) -> Result<ExitCode, ClientError> {
    let (bar, progress) = progress_bar("upload");
    let result = app::upload(addr, file, meta, secs(timeout), Some(progress));
    bar.finish_and_clear();
    let (reply, ok) = result?;
    println!("{reply}");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn download(addr: &str, name: &str, out: &Path, timeout: u64) -> Result<ExitCode, ClientError> {
    let (bar, progress) = progress_bar("download");
    let result = app::download(addr, name, out, secs(timeout), Some(progress));
    bar.finish_and_clear();
    let size = result?;
    println!(
        "{}",
        serde_json::json!({"name": name, "size": size, "path": out.display().to_string()})
    );
    Ok(ExitCode::SUCCESS)
}

fn list(addr: &str, timeout: u64) -> Result<ExitCode, ClientError> {
    let (reply, ok) = app::list(addr, secs(timeout))?;
    println!("{reply}");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64().max(1e-9)
}

fn demo(size: u64) -> Result<ExitCode, ClientError> {
    let work = tempfile::tempdir()?;
    let served = work.path().join("served");
    let addr = Server::bind("127.0.0.1:0", ServerConfig::new(&served))?
        .spawn(|_| {})?
        .to_string();
    println!("server listening on {addr}, serving {}", served.display());

    let source = work.path().join("source.bin");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&source)?);
        let mut rng = StdRng::seed_from_u64(size);
        let mut block = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            rng.fill_bytes(&mut block[..n]);
            file.write_all(&block[..n])?;
            left -= n as u64;
        }
        file.flush()?;
    }
    println!("random file: {size} bytes");

    let timeout = secs(60);
    let (bar, progress) = progress_bar("upload");
    let started = Instant::now();
    let result = app::upload(&addr, &source, None, timeout, Some(progress));
    let up = started.elapsed();
    bar.finish_and_clear();
    let (reply, ok) = result?;
    if !ok {
        return Err(ClientError::Server(reply));
    }
    let reply: serde_json::Value =
        serde_json::from_str(&reply).map_err(|e| ClientError::Server(e.to_string()))?;
    let name = reply["name"].as_str().unwrap_or_default().to_owned();
    println!(
        "upload:   {size} bytes in {:.3} s = {:.1} MiB/s (stored as {name}, crc32 {})",
        up.as_secs_f64(),
        mib_per_s(size, up),
        reply["crc32"]
    );

    let target = work.path().join("downloaded.bin");
    let (bar, progress) = progress_bar("download");
    let started = Instant::now();
    let result = app::download(&addr, &name, &target, timeout, Some(progress));
    let down = started.elapsed();
    bar.finish_and_clear();
    let got = result?;
    println!(
        "download: {got} bytes in {:.3} s = {:.1} MiB/s",
        down.as_secs_f64(),
        mib_per_s(got, down)
    );

    if got == size && app::same_content(&source, &target)? {
        println!("verified: the downloaded file is byte-for-byte identical to the original");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: the downloaded file differs from the original");
        Ok(ExitCode::FAILURE)
    }
}
