//! `nvflare-admin`: a console for NVFlare 2.5 and 2.6 admin servers, over mutual
//! TLS with this crate's `Connection`.
//!
//! ```text
//! nvflare-admin --kit KIT [--host HOST] [--port PORT] [--server-name NAME] [--timeout SECS]
//!               [--cmd-timeout SECS] [--json] [COMMAND]
//!   (none), shell                the interactive session; commands from stdin when piped
//!   run CMD [ARGS...]            one server command, e.g. `run check_status server`
//!   submit-job FOLDER [--wait [--wait-timeout SECS]]
//!                                sign, zip and upload a job folder (and wait for it)
//!   download-job JOB_ID --out DIR
//!   wait JOB_ID [--timeout SECS] print each change of the job's status until it ends
//! ```
//!
//! Exit 0 on success, 1 with one line on stderr for any failure (an error
//! reply, a rejected login, TLS, connection, timeout, a job that did not
//! complete), 2 for bad usage.

use nvflare_hci_tools::admin::console::{self, Console, Step};
use nvflare_hci_tools::admin::{line, ops, render, session};

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::json;
use session::{AdminError, Kit, Session, Target};

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
    /// The command timeout sent with each command (`cmd_timeout`): how
    /// long the server waits for the clients' replies, in seconds. The
    /// session's `timeout` command changes it.
    #[arg(long)]
    cmd_timeout: Option<f64>,
    /// Print the server's reply JSON on one line.
    #[arg(long)]
    json: bool,
    /// The session's history file (default: ~/.nvflare_admin_history).
    #[arg(long)]
    history: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The interactive session (the default): log in once, then commands,
    /// `help`, `bye`. Reads commands from stdin when it is not a terminal.
    Shell,
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
        /// Then wait for the job, as `wait` does.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after SECS seconds.
        #[arg(long, requires = "wait")]
        wait_timeout: Option<f64>,
    },
    /// Download a job into DIR/JOB_ID.
    DownloadJob {
        /// The job's id.
        job_id: String,
        /// The folder to download into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Wait for a job to end, printing each change of its status (and its
    /// round while it runs). Exit 0 on FINISHED:COMPLETED, 1 otherwise.
    Wait {
        /// The job's id.
        job_id: String,
        /// Give up after SECS seconds.
        #[arg(long)]
        timeout: Option<f64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn secs(what: &str, s: f64) -> Result<Duration, AdminError> {
    if s > 0.0 && s.is_finite() {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(AdminError::Local(format!(
            "{what} must be a positive number of seconds, not {s}"
        )))
    }
}

fn run(cli: &Cli) -> Result<ExitCode, AdminError> {
    let kit = Kit::load(&cli.kit)?;
    let host = cli.host.clone().unwrap_or_else(|| kit.host.clone());
    let target = Target {
        server_name: cli.server_name.clone().unwrap_or_else(|| host.clone()),
        host,
        port: cli.port.unwrap_or(kit.port),
        timeout: Duration::from_secs(cli.timeout.max(1)),
    };
    let wait_timeout = match &cli.command {
        Some(Command::Wait {
            timeout: Some(t), ..
        })
        | Some(Command::SubmitJob {
            wait_timeout: Some(t),
            ..
        }) => Some(secs("--timeout", *t)?),
        _ => None,
    };
    let mut session = Session::login(&kit, target)?;
    session.set_cmd_timeout(cli.cmd_timeout);
    let never = AtomicBool::new(false);
    let result = match &cli.command {
        None | Some(Command::Shell) => {
            // The session logs out itself, at bye or end of input.
            return shell(cli, session, kit);
        }
        Some(Command::Run { cmd, args }) => run_command(&session, &kit, cmd, args, cli.json),
        Some(Command::SubmitJob { folder, wait, .. }) => {
            submit_job(&session, &kit, folder, cli.json).and_then(|id| match (wait, id) {
                (false, _) => Ok(()),
                (true, Some(id)) => wait_job(&session, &id, wait_timeout, cli.json, &never),
                (true, None) => Err(AdminError::Server(
                    "no job id in the reply to wait for".into(),
                )),
            })
        }
        Some(Command::DownloadJob { job_id, out }) => {
            ops::download_job(&session, "download_job", job_id, None, out, false, &never).map(
                |target| {
                    if cli.json {
                        println!(
                            "{}",
                            json!({"status": "ok", "location": target.display().to_string()})
                        );
                    } else {
                        println!("{}", target.display());
                    }
                },
            )
        }
        Some(Command::Wait { job_id, .. }) => {
            wait_job(&session, job_id, wait_timeout, cli.json, &never)
        }
    };
    // Log out whatever happened, so that no session is left open.
    let logout = session.close();
    result.and(logout).map(|()| ExitCode::SUCCESS)
}

fn run_command(
    session: &Session,
    kit: &Kit,
    cmd: &str,
    args: &[String],
    json: bool,
) -> Result<(), AdminError> {
    // `run 'grep site-1 "a b" f'`: one argument is a whole line; else the
    // shell's words, quoted where they must be to arrive as they are.
    let text = if args.is_empty() {
        cmd.to_owned()
    } else {
        line::join(&[&[cmd.to_owned()], args].concat())
    };
    let parsed = line::parse(&text).map_err(AdminError::Local)?;
    let name = parsed.args[0].as_str();
    if name == "list_sp" || name == "get_active_sp" {
        let reply = ops::sp_json(kit, name);
        if json {
            println!("{reply}");
        } else {
            print!(
                "{}",
                render::render(reply["data"].as_array().map_or(&[], Vec::as_slice))
            );
        }
        return Ok(());
    }
    let reply = session.command_with_props(&parsed.line, parsed.props.as_deref())?;
    if json {
        println!("{}", reply.json);
    }
    let reply = ops::checked(reply)?;
    if !json {
        print!("{}", render::render(reply.items()));
    }
    Ok(())
}

/// The job's id: `None` only with `--json` when the reply names none
/// (printed as it came, as before `--wait` existed).
fn submit_job(
    session: &Session,
    kit: &Kit,
    folder: &Path,
    json: bool,
) -> Result<Option<String>, AdminError> {
    let reply = ops::submit_job(session, kit, folder, false)?;
    let id = ops::submitted_id(&reply);
    if json {
        println!("{}", reply.json);
        return Ok(id.ok());
    }
    let id = id?;
    println!("Submitted job: {id}");
    Ok(Some(id))
}

fn wait_job(
    session: &Session,
    job_id: &str,
    timeout: Option<Duration>,
    json: bool,
    cancel: &AtomicBool,
) -> Result<(), AdminError> {
    ops::wait_job(
        session,
        job_id,
        timeout,
        Duration::from_secs(2),
        cancel,
        |s| console::print_state(job_id, s, json),
    )
    .map(|_| ())
}

/// The interactive session, or a script from stdin. Exit 1 at a script's
/// first failure, after logging out.
fn shell(cli: &Cli, session: Session, kit: Kit) -> Result<ExitCode, AdminError> {
    let interactive = std::io::stdin().is_terminal();
    let interrupt = Arc::new(AtomicBool::new(false));
    // Ctrl-C stops the running command, not the session.
    signal_hook::flag::register(signal_hook::consts::SIGINT, interrupt.clone())
        .map_err(|e| AdminError::Local(format!("cannot handle Ctrl-C: {e}")))?;
    let logout_on_error = session.clone();
    let mut console = match Console::new(session, kit, cli.json, interactive, interrupt) {
        Ok(c) => c,
        Err(e) => {
            let _ = logout_on_error.logout();
            return Err(e);
        }
    };
    if interactive {
        interactive_loop(cli, &mut console)
    } else {
        let mut no_answer = |_: &str| None;
        for text in std::io::stdin().lock().lines() {
            let text = match text {
                Ok(t) => t,
                Err(e) => {
                    let _ = console.logout();
                    return Err(AdminError::Local(format!("cannot read stdin: {e}")));
                }
            };
            match console.execute(&text, &mut no_answer) {
                Step::Done => {}
                Step::Exit => return Ok(ExitCode::SUCCESS),
                Step::Failed => {
                    console.logout()?;
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        console.logout()?;
        Ok(ExitCode::SUCCESS)
    }
}

mod editor {
    //! Completion of command names for the line editor.
    use rustyline::completion::Completer;
    use rustyline::highlight::Highlighter;
    use rustyline::hint::Hinter;
    use rustyline::validate::Validator;
    use rustyline::{Context, Helper};

    /// Completes the first word from the command names.
    pub struct Names(pub Vec<String>);

    impl Completer for Names {
        type Candidate = String;
        fn complete(
            &self,
            line: &str,
            pos: usize,
            _: &Context<'_>,
        ) -> rustyline::Result<(usize, Vec<String>)> {
            let head = &line[..pos];
            if head.contains(char::is_whitespace) {
                return Ok((pos, Vec::new()));
            }
            let found = self
                .0
                .iter()
                .filter(|n| n.starts_with(head))
                .map(|n| format!("{n} "))
                .collect();
            Ok((0, found))
        }
    }
    impl Hinter for Names {
        type Hint = String;
    }
    impl Highlighter for Names {}
    impl Validator for Names {}
    impl Helper for Names {}
}

fn interactive_loop(cli: &Cli, console: &mut Console) -> Result<ExitCode, AdminError> {
    use rustyline::error::ReadlineError;
    let fail = |e: ReadlineError| AdminError::Local(format!("line editor: {e}"));
    let mut editor =
        rustyline::Editor::<editor::Names, rustyline::history::FileHistory>::new().map_err(fail)?;
    editor.set_helper(Some(editor::Names(console.names())));
    let history = cli.history.clone().or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".nvflare_admin_history"))
    });
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "Type help to list commands; \"help CMD\" to show the usage of a command; bye to leave."
    );
    let result = loop {
        match editor.readline("> ") {
            Ok(text) => {
                if !text.trim().is_empty() {
                    let _ = editor.add_history_entry(text.as_str());
                }
                let step = {
                    // Confirmation reads its answer with a plain prompt.
                    let mut ask = |q: &str| -> Option<String> {
                        use std::io::Write;
                        print!("{q}");
                        let _ = std::io::stdout().flush();
                        let mut answer = String::new();
                        match std::io::stdin().lock().read_line(&mut answer) {
                            Ok(0) | Err(_) => None,
                            Ok(_) => Some(answer),
                        }
                    };
                    console.execute(&text, &mut ask)
                };
                if step == Step::Exit {
                    break Ok(ExitCode::SUCCESS);
                }
            }
            // Ctrl-C at the prompt: a new prompt.
            Err(ReadlineError::Interrupted) => continue,
            // Ctrl-D, end of input: log out.
            Err(ReadlineError::Eof) => {
                break console.logout().map(|()| ExitCode::SUCCESS);
            }
            Err(e) => {
                let _ = console.logout();
                break Err(fail(e));
            }
        }
    };
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    result
}
