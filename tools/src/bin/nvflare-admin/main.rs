//! `nvflare-admin`: a console for NVFlare 2.5 and 2.6 admin servers, over mutual
//! TLS with this crate's `Connection`.
//!
//! ```text
//! nvflare-admin --kit KIT [--host HOST] [--port PORT] [--server-name NAME] [--timeout SECS] [--json] COMMAND
//!   run CMD [ARGS...]            one server command, e.g. `run check_status server`
//!   submit-job FOLDER            sign, zip and upload a job folder
//!   download-job JOB_ID --out DIR
//! ```
//!
//! Exit 0 on success, 1 with one line on stderr for any failure (an error
//! reply, a rejected login, TLS, connection, timeout), 2 for bad usage.

use nvflare_hci_tools::admin::{render, session};
use nvflare_hci_tools::jobs;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use nvflare_hci::GenerateDataFromFile;
use serde_json::json;
use session::{AdminError, Kit, Reply, Session, Target};

#[derive(Parser)]
#[command(
    name = "nvflare-admin",
    about = "Administer an NVFlare 2.5/2.6 server over mutual TLS"
)]
struct Cli {
    /// The admin's startup kit (the folder with fed_admin.json, or the one above it).
    #[arg(long)]
    kit: PathBuf,
    /// Server host (default: from the kit's sp_end_point).
    #[arg(long)]
    host: Option<String>,
    /// Admin port (default: from the kit's sp_end_point).
    #[arg(long)]
    port: Option<u16>,
    /// The name the server's certificate must carry (default: the host).
    #[arg(long)]
    server_name: Option<String>,
    /// Connect, handshake, read and write timeout, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Print the server's reply JSON on one line.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one server command, e.g. `run check_status server`, `run list_jobs`.
    Run {
        /// The command.
        cmd: String,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Sign, zip and upload a job folder.
    SubmitJob {
        /// The job folder.
        folder: PathBuf,
    },
    /// Download a job into DIR/JOB_ID.
    DownloadJob {
        /// The job's id.
        job_id: String,
        /// The folder to download into.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), AdminError> {
    let kit = Kit::load(&cli.kit)?;
    let host = cli.host.clone().unwrap_or_else(|| kit.host.clone());
    let target = Target {
        server_name: cli.server_name.clone().unwrap_or_else(|| host.clone()),
        host,
        port: cli.port.unwrap_or(kit.port),
        timeout: Duration::from_secs(cli.timeout.max(1)),
    };
    let session = Session::login(&kit, target)?;
    let result = match &cli.command {
        Command::Run { cmd, args } => run_command(&session, cmd, args, cli.json),
        Command::SubmitJob { folder } => submit_job(&session, &kit, folder, cli.json),
        Command::DownloadJob { job_id, out } => download_job(&session, job_id, out, cli.json),
    };
    // Log out whatever happened, so that no session is left open.
    let logout = session.close();
    result.and(logout)
}

/// The reply as a result: its error, if it is one.
fn checked(reply: Reply) -> Result<Reply, AdminError> {
    match reply.error() {
        Some(e) => Err(AdminError::Server(e)),
        None => Ok(reply),
    }
}

fn run_command(
    session: &Session,
    cmd: &str,
    args: &[String],
    json: bool,
) -> Result<(), AdminError> {
    let command = std::iter::once(cmd)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let reply = session.command(&command)?;
    if json {
        println!("{}", reply.json);
    }
    let reply = checked(reply)?;
    if !json {
        print!("{}", render::render(reply.items()));
    }
    Ok(())
}

/// A name that can travel as one argument of a command and be a file name.
fn plain_name(what: &str, name: &str) -> Result<(), AdminError> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_whitespace);
    if plain {
        Ok(())
    } else {
        Err(AdminError::Local(format!(
            "{what} {name:?} is not a plain name"
        )))
    }
}

fn submit_job(session: &Session, kit: &Kit, folder: &Path, json: bool) -> Result<(), AdminError> {
    if !folder.is_dir() {
        return Err(AdminError::Local(format!(
            "{} is not a folder",
            folder.display()
        )));
    }
    let canonical = folder
        .canonicalize()
        .map_err(|e| session::io_error("cannot read", folder, e))?;
    let name = canonical
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| AdminError::Local(format!("{} has no usable name", folder.display())))?
        .to_owned();
    plain_name("folder name", &name)?;
    // Sign a copy, never the user's folder.
    let work = tempfile::tempdir().map_err(|e| AdminError::Local(format!("temp dir: {e}")))?;
    let copy = work.path().join(&name);
    jobs::copy_folder(&canonical, &copy)?;
    jobs::sign_folder(&copy, &jobs::load_key(&kit.client_key)?, &kit.client_cert)?;
    let zip = work.path().join("job.zip");
    jobs::zip_folder(&copy, &name, &zip)?;
    let body =
        GenerateDataFromFile::open(&zip).map_err(|e| session::io_error("cannot read", &zip, e))?;
    let reply = checked(session.upload(&format!("submit_job {name}"), body)?)?;
    if json {
        println!("{}", reply.json);
    } else {
        let id = reply.json["meta"]["job_id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                reply.items().iter().find_map(|i| {
                    i["data"]
                        .as_str()
                        .and_then(|s| s.strip_prefix("Submitted job: "))
                        .map(str::to_owned)
                })
            });
        match id {
            Some(id) => println!("Submitted job: {id}"),
            None => {
                return Err(AdminError::Server(format!(
                    "no job id in the reply: {}",
                    reply.text
                )))
            }
        }
    }
    Ok(())
}

fn download_job(session: &Session, job_id: &str, out: &Path, json: bool) -> Result<(), AdminError> {
    plain_name("job id", job_id)?;
    let reply = checked(session.command(&format!("download_job {job_id}"))?)?;
    let meta = &reply.json["meta"];
    let files: Vec<String> = meta["files"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let tx_id = meta["tx_id"]
        .as_str()
        .ok_or_else(|| AdminError::Server(format!("no tx_id in the reply: {}", reply.text)))?;
    let cmd_name = meta["cmd_name"].as_str().unwrap_or("download_job_file");
    plain_name("transfer id", tx_id)?;
    plain_name("command", cmd_name)?;
    std::fs::create_dir_all(out).map_err(|e| session::io_error("cannot create", out, e))?;
    let target = out.join(job_id);
    if target.exists() {
        return Err(AdminError::Local(format!(
            "{} already exists",
            target.display()
        )));
    }
    // Everything lands in a hidden folder beside the target, renamed into
    // place once complete: no partial DIR/JOB_ID, whatever fails.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{job_id}__{tx_id}."))
        .tempdir_in(out)
        .map_err(|e| session::io_error("cannot create a folder in", out, e))?;
    for (i, file) in files.iter().enumerate() {
        plain_name("file name", file)?;
        let end = if i + 1 == files.len() { " end" } else { "" };
        let path = staging.path().join(file);
        session.download(
            &format!("{cmd_name} {tx_id} {job_id} {file}{end}"),
            staging.path(),
            &path,
        )?;
        if let Some(stem) = file.strip_suffix(".zip") {
            jobs::unzip(&path, &staging.path().join(stem))?;
            std::fs::remove_file(&path)
                .map_err(|e| session::io_error("cannot remove", &path, e))?;
        }
    }
    std::fs::rename(staging.path(), &target)
        .map_err(|e| session::io_error("cannot create", &target, e))?;
    let _ = staging.keep();
    if json {
        println!(
            "{}",
            json!({"status": "ok", "location": target.display().to_string()})
        );
    } else {
        println!("{}", target.display());
    }
    Ok(())
}
