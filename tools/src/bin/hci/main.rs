//! `hci`: an admin-style file server and client over NVFlare's exchange
//! protocol, and a one-command demo.
//!
//! ```text
//! hci demo [--size BYTES] [--tls]
//! hci serve --listen 127.0.0.1:8003 --dir ./store [--timeout SECS]
//!     [--max-connections N] [--tls-cert PEM --tls-key PEM --tls-ca PEM]
//! hci upload --connect 127.0.0.1:8003 [--meta TEXT] FILE [TLS]
//! hci download --connect 127.0.0.1:8003 NAME --out PATH [TLS]
//! hci list --connect 127.0.0.1:8003 [TLS]
//! ```
//!
//! TLS on the clients: `--tls-cert PEM --tls-key PEM --tls-ca PEM [--server-name NAME]`.

use nvflare_hci_tools::hci as app;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use app::{ClientError, Endpoint, OnProgress, Server, ServerConfig};
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

/// Mutual TLS: all three files, or none for plain TCP.
#[derive(clap::Args, Clone, Default)]
struct TlsArgs {
    /// PEM certificate this side presents (needs --tls-key and --tls-ca).
    #[arg(long, requires_all = ["tls_key", "tls_ca"])]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert: PKCS#1, PKCS#8 or SEC1.
    #[arg(long, requires_all = ["tls_cert", "tls_ca"])]
    tls_key: Option<PathBuf>,
    /// PEM certificate of the CA the peer's certificate must chain to.
    #[arg(long, requires_all = ["tls_cert", "tls_key"])]
    tls_ca: Option<PathBuf>,
}

/// How a client reaches the server.
#[derive(clap::Args, Clone)]
struct ClientArgs {
    /// Server address.
    #[arg(long)]
    connect: String,
    /// Read and write timeout, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    #[command(flatten)]
    tls: TlsArgs,
    /// The name the server's certificate must carry (default: the host of --connect).
    #[arg(long, requires = "tls_cert")]
    server_name: Option<String>,
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
        /// Read and write timeout of each connection, and the deadline of
        /// its TLS handshake, in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Connections at once, handshakes included; past it, `server busy`.
        #[arg(long, default_value_t = app::DEFAULT_MAX_CONNECTIONS)]
        max_connections: usize,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Upload FILE; prints the server's reply.
    Upload {
        #[command(flatten)]
        client: ClientArgs,
        /// Meta text sent with the file (default: a small JSON naming it).
        #[arg(long)]
        meta: Option<String>,
        /// The file to send.
        file: PathBuf,
    },
    /// Download NAME to PATH, atomically.
    Download {
        #[command(flatten)]
        client: ClientArgs,
        /// Where to write the file.
        #[arg(long)]
        out: PathBuf,
        /// The stored file's name.
        name: String,
    },
    /// List the stored files.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Server, upload, download and check in one process, with speeds.
    Demo {
        /// Size of the random file, in bytes.
        #[arg(long, default_value_t = 256 << 20)]
        size: u64,
        /// Over mutual TLS, with throwaway certificates made for the run.
        #[arg(long)]
        tls: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            listen,
            dir,
            timeout,
            max_connections,
            tls,
        } => serve(&listen, dir, timeout, max_connections, &tls),
        Command::Upload { client, meta, file } => {
            endpoint(&client).and_then(|e| upload(&e, &file, meta.as_deref()))
        }
        Command::Download { client, out, name } => {
            endpoint(&client).and_then(|e| download(&e, &name, &out))
        }
        Command::List { client } => endpoint(&client).and_then(|e| list(&e)),
        Command::Demo { size, tls } => demo(size, tls),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The client's endpoint: plain, or mutual TLS from the three files.
fn endpoint(args: &ClientArgs) -> Result<Endpoint, ClientError> {
    let timeout = secs(args.timeout);
    let (Some(cert), Some(key), Some(ca)) =
        (&args.tls.tls_cert, &args.tls.tls_key, &args.tls.tls_ca)
    else {
        return Ok(Endpoint::plain(&args.connect, timeout));
    };
    let config = nvflare_hci_tools::tls::client_config(cert, key, ca).map_err(ClientError::Tls)?;
    let name = args
        .server_name
        .clone()
        .unwrap_or_else(|| app::host_of(&args.connect).to_owned());
    Ok(Endpoint::tls(&args.connect, timeout, config, &name))
}

fn server_tls(args: &TlsArgs) -> Result<Option<std::sync::Arc<rustls::ServerConfig>>, ClientError> {
    match (&args.tls_cert, &args.tls_key, &args.tls_ca) {
        (Some(cert), Some(key), Some(ca)) => Ok(Some(
            nvflare_hci_tools::tls::server_config(cert, key, ca).map_err(ClientError::Tls)?,
        )),
        _ => Ok(None),
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

fn serve(
    listen: &str,
    dir: PathBuf,
    timeout: u64,
    max_connections: usize,
    tls: &TlsArgs,
) -> Result<ExitCode, ClientError> {
    let config = ServerConfig {
        timeout: secs(timeout),
        max_connections: max_connections.max(1),
        tls: server_tls(tls)?,
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

fn upload(endpoint: &Endpoint, file: &Path, meta: Option<&str>) -> Result<ExitCode, ClientError> {
    let (bar, progress) = progress_bar("upload");
    let result = app::upload(endpoint, file, meta, Some(progress));
    bar.finish_and_clear();
    let (reply, ok) = result?;
    println!("{reply}");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn download(endpoint: &Endpoint, name: &str, out: &Path) -> Result<ExitCode, ClientError> {
    let (bar, progress) = progress_bar("download");
    let result = app::download(endpoint, name, out, Some(progress));
    bar.finish_and_clear();
    let size = result?;
    println!(
        "{}",
        serde_json::json!({"name": name, "size": size, "path": out.display().to_string()})
    );
    Ok(ExitCode::SUCCESS)
}

fn list(endpoint: &Endpoint) -> Result<ExitCode, ClientError> {
    let (reply, ok) = app::list(endpoint)?;
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

/// A CA, a server certificate for `localhost` and a client certificate,
/// as PEM files in `dir`, made for this run.
fn throwaway_pki(dir: &Path) -> Result<(), ClientError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let fail = |e: rcgen::Error| ClientError::Tls(e.to_string());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hci demo CA");
    let ca_key = KeyPair::generate().map_err(fail)?;
    let ca = ca_params.self_signed(&ca_key).map_err(fail)?;
    std::fs::write(dir.join("ca.pem"), ca.pem())?;
    for (name, dns) in [("server", "localhost"), ("client", "hci demo client")] {
        let mut params = CertificateParams::new(vec![dns.to_owned()]).map_err(fail)?;
        params.distinguished_name.push(DnType::CommonName, dns);
        let key = KeyPair::generate().map_err(fail)?;
        let cert = params.signed_by(&key, &ca, &ca_key).map_err(fail)?;
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem())?;
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem())?;
    }
    Ok(())
}

fn demo(size: u64, tls: bool) -> Result<ExitCode, ClientError> {
    let work = tempfile::tempdir()?;
    let served = work.path().join("served");
    let mut config = ServerConfig::new(&served);
    let timeout = secs(60);
    let pem = |name: &str| work.path().join(name);
    if tls {
        throwaway_pki(work.path())?;
        config.tls = Some(
            nvflare_hci_tools::tls::server_config(
                &pem("server.pem"),
                &pem("server.key"),
                &pem("ca.pem"),
            )
            .map_err(ClientError::Tls)?,
        );
    }
    let addr = Server::bind("127.0.0.1:0", config)?
        .spawn(|_| {})?
        .to_string();
    let endpoint = if tls {
        let client = nvflare_hci_tools::tls::client_config(
            &pem("client.pem"),
            &pem("client.key"),
            &pem("ca.pem"),
        )
        .map_err(ClientError::Tls)?;
        Endpoint::tls(&addr, timeout, client, "localhost")
    } else {
        Endpoint::plain(&addr, timeout)
    };
    let over = if tls { "mutual TLS" } else { "plain TCP" };
    println!(
        "server listening on {addr} ({over}), serving {}",
        served.display()
    );

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

    let (bar, progress) = progress_bar("upload");
    let started = Instant::now();
    let result = app::upload(&endpoint, &source, None, Some(progress));
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
    let result = app::download(&endpoint, &name, &target, Some(progress));
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
