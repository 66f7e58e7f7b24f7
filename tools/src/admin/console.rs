//! The interactive console: one login, then command lines as NVFlare
//! 2.6.3's console reads them, its own commands (`bye`, `lpwd`,
//! `timeout`, `info`, `help`, `list_sp`, `get_active_sp`) answered
//! locally, job transfers with a progress bar, `wait`, and confirmation
//! where NVFlare asks for it (in an interactive session only).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde_json::Value;

use super::line::{self, CommandLine};
use super::ops;
use super::render;
use super::session::{AdminError, Kit, Reply, Session};

/// One row of the server's `_commands` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandInfo {
    /// The command's scope (`job_mgmt`, `sys`, …).
    pub scope: String,
    /// The command's name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// How it is used.
    pub usage: String,
    /// `none`, `yesno`, `auth`, `username` or `pwd`.
    pub confirm: String,
    /// The client-side handler NVFlare's console runs (`file_transfer.push_folder`).
    pub client_cmd: Option<String>,
    /// Listed by `help`.
    pub visible: bool,
}

/// The commands in a `_commands` reply (its table, header row skipped).
pub fn command_table(reply: &Reply) -> Vec<CommandInfo> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    reply
        .items()
        .iter()
        .filter(|i| i["type"] == "table")
        .filter_map(|i| i["rows"].as_array())
        .flat_map(|rows| rows.iter().skip(1))
        .filter_map(|row| row.as_array())
        .filter(|row| row.len() >= 5)
        .map(|row| CommandInfo {
            scope: text(&row[0]),
            name: text(&row[1]),
            description: text(&row[2]),
            usage: text(&row[3]),
            confirm: text(&row[4]),
            client_cmd: row.get(5).and_then(Value::as_str).map(str::to_owned),
            visible: row
                .get(6)
                .and_then(Value::as_str)
                .is_none_or(|v| matches!(v.to_lowercase().as_str(), "true" | "yes")),
        })
        .collect()
}

/// The console's own commands, with their description and usage, as
/// NVFlare's console lists them.
pub const LOCAL_COMMANDS: &[(&str, &str, &str)] = &[
    ("bye", "exit from the client", "bye"),
    ("help", "get command help information", "help"),
    ("lpwd", "print local work dir of the admin client", "lpwd"),
    ("timeout", "set/show command timeout", "timeout [value]"),
    ("info", "show folder setup info", "info"),
    (
        "list_sp",
        "list service providers information from previous heartbeat",
        "list_sp",
    ),
    (
        "get_active_sp",
        "get active service provider",
        "get_active_sp",
    ),
    (
        "wait",
        "wait for a job to end, printing each change of status",
        "wait JOB_ID [--timeout SECS]",
    ),
];

/// What a line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It succeeded (or was an empty line, or declined at confirmation).
    Done,
    /// It failed; the session goes on (a script stops here).
    Failed,
    /// The session is over (`bye`): logged out.
    Exit,
}

/// Asks the user a question; `None` when there is no answer (end of input).
pub type Ask<'a> = dyn FnMut(&str) -> Option<String> + 'a;

/// A logged-in console.
pub struct Console {
    session: Session,
    kit: Kit,
    commands: Vec<CommandInfo>,
    json: bool,
    interactive: bool,
    interrupt: Arc<AtomicBool>,
    wait_every: Duration,
}

impl Console {
    /// Loads the server's command table (`_commands`). `interactive`
    /// turns on confirmation and progress bars; `interrupt` is the flag a
    /// Ctrl-C sets, which stops the running command.
    pub fn new(
        session: Session,
        kit: Kit,
        json: bool,
        interactive: bool,
        interrupt: Arc<AtomicBool>,
    ) -> Result<Console, AdminError> {
        let reply = ops::checked(session.command("_commands")?)?;
        Ok(Console {
            commands: command_table(&reply),
            session,
            kit,
            json,
            interactive,
            interrupt,
            wait_every: Duration::from_secs(2),
        })
    }

    /// How often `wait` polls the job (2 s by default).
    pub fn set_wait_interval(&mut self, every: Duration) {
        self.wait_every = every;
    }

    /// The server's commands, from `_commands`.
    pub fn commands(&self) -> &[CommandInfo] {
        &self.commands
    }

    /// Every command name a line may start with: the console's own and the
    /// server's, sorted, for completion.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = LOCAL_COMMANDS
            .iter()
            .map(|c| c.0.to_owned())
            .chain(self.commands.iter().map(|c| c.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Logs out (at `bye`, end of input, Ctrl-D).
    pub fn logout(&self) -> Result<(), AdminError> {
        self.session.logout()
    }

    fn entry(&self, name: &str) -> Option<&CommandInfo> {
        match name.split_once('.') {
            Some((scope, name)) => self
                .commands
                .iter()
                .find(|c| c.scope == scope && c.name == name),
            None => self.commands.iter().find(|c| c.name == name),
        }
    }

    /// Runs one line; `ask` asks for confirmation (interactive sessions only).
    pub fn execute(&mut self, text: &str, ask: &mut Ask<'_>) -> Step {
        let text = text.trim();
        if text.is_empty() {
            return Step::Done;
        }
        self.interrupt.store(false, Ordering::Relaxed);
        let parsed = match line::parse(text) {
            Ok(p) => p,
            Err(e) => return fail(AdminError::Local(format!("cannot parse {text:?}: {e}"))),
        };
        match self.dispatch(&parsed, ask) {
            Ok(step) => step,
            Err(e) => fail(e),
        }
    }

    fn dispatch(&mut self, cl: &CommandLine, ask: &mut Ask<'_>) -> Result<Step, AdminError> {
        let name = cl.args[0].as_str();
        let args = &cl.args[1..];
        match name {
            "bye" => {
                self.logout()?;
                return Ok(Step::Exit);
            }
            "lpwd" => {
                let cwd = std::env::current_dir()
                    .map_err(|e| AdminError::Local(format!("current folder: {e}")))?;
                println!("{}", cwd.display());
            }
            "timeout" => self.timeout(args)?,
            "info" => {
                let t = self.kit.transfer.display();
                println!("Local Upload Source: {t}\nLocal Download Destination: {t}\n");
            }
            "help" | "?" => self.help(args),
            "list_sp" | "get_active_sp" => {
                if self.json {
                    println!("{}", ops::sp_json(&self.kit, name));
                } else if name == "list_sp" {
                    println!("{}", ops::list_sp(&self.kit));
                } else {
                    println!("{}", ops::get_active_sp(&self.kit));
                }
            }
            "wait" => self.wait(args)?,
            _ => return self.server_command(cl, ask),
        }
        Ok(Step::Done)
    }

    fn timeout(&mut self, args: &[String]) -> Result<(), AdminError> {
        match args {
            [] => match self.session.cmd_timeout() {
                Some(t) => println!("{}", py_float(t)),
                None => println!("not set"),
            },
            [value] => match value.parse::<f64>() {
                Ok(t) if t >= 0.0 && t.is_finite() => {
                    self.session.set_cmd_timeout(Some(t));
                    if t == 0.0 {
                        println!("command timeout is unset");
                    } else {
                        println!("command timeout is set to {}", py_float(t));
                    }
                }
                _ => {
                    return Err(AdminError::Local(
                        "invalid timeout value - must be float number >= 0.0".into(),
                    ))
                }
            },
            _ => return Err(AdminError::Local("usage: timeout [value]".into())),
        }
        Ok(())
    }

    fn help(&self, args: &[String]) {
        if args.is_empty() {
            println!("Client Initiated / Overseer Commands");
            let mut rows = vec![vec!["Command".to_owned(), "Description".to_owned()]];
            let mut local: Vec<_> = LOCAL_COMMANDS.to_vec();
            local.sort();
            rows.extend(local.iter().map(|c| vec![c.0.to_owned(), c.1.to_owned()]));
            print!("{}", render::table(&rows));
            println!("\nServer Commands");
            let mut rows = vec![vec!["Command".to_owned(), "Description".to_owned()]];
            let mut server: Vec<&CommandInfo> =
                self.commands.iter().filter(|c| c.visible).collect();
            server.sort_by(|a, b| (&a.scope, &a.name).cmp(&(&b.scope, &b.name)));
            rows.extend(
                server
                    .iter()
                    .map(|c| vec![c.name.clone(), c.description.clone()]),
            );
            print!("{}", render::table(&rows));
            return;
        }
        let local: Vec<_> = LOCAL_COMMANDS
            .iter()
            .filter(|c| args.iter().any(|a| a == c.0))
            .collect();
        if !local.is_empty() {
            println!("Client Commands\n---------------");
            for c in local {
                println!("Command: {}\nDescription: {}\nUsage: {}\n", c.0, c.1, c.2);
            }
        }
        let server: Vec<&CommandInfo> = args.iter().filter_map(|a| self.entry(a)).collect();
        if !server.is_empty() {
            println!("Server Commands\n---------------");
            for c in server {
                println!(
                    "Command: {}.{}\nDescription: {}\nUsage: {}\n",
                    c.scope, c.name, c.description, c.usage
                );
            }
        }
        for a in args {
            if self.entry(a).is_none() && !LOCAL_COMMANDS.iter().any(|c| c.0 == a) {
                println!("Undefined command {a}");
            }
        }
    }

    fn wait(&self, args: &[String]) -> Result<(), AdminError> {
        let (job_id, timeout) = parse_wait(args)?;
        let session = self.session.clone();
        let every = self.wait_every;
        let json = self.json;
        self.interruptible(move |cancel| {
            ops::wait_job(&session, &job_id, timeout, every, cancel, |state| {
                print_state(&job_id, state, json)
            })
            .map(|_| ())
        })
    }

    /// A server command: refused when the server does not know it,
    /// confirmed where NVFlare confirms, run as a transfer where NVFlare's
    /// console runs one.
    fn server_command(&self, cl: &CommandLine, ask: &mut Ask<'_>) -> Result<Step, AdminError> {
        let name = cl.args[0].as_str();
        let entry = self.entry(name).cloned();
        if entry.is_none() && !self.commands.is_empty() {
            return Err(AdminError::Local(format!("Undefined command {name}")));
        }
        if let Some(entry) = &entry {
            if self.interactive && !self.confirmed(entry, ask) {
                return Ok(Step::Done);
            }
        }
        let client_cmd = entry.as_ref().and_then(|e| e.client_cmd.clone());
        let session = self.session.clone();
        let json = self.json;
        let progress = self.interactive;
        match client_cmd.as_deref() {
            Some("file_transfer.push_folder") => {
                let [_, folder] = cl.args.as_slice() else {
                    return Err(AdminError::Local(format!("usage: {name} FOLDER")));
                };
                let mut path = std::path::PathBuf::from(folder);
                if !path.exists() && path.is_relative() {
                    // NVFlare's console uploads from the kit's transfer folder.
                    path = self.kit.transfer.join(folder);
                }
                let kit = self.kit.clone();
                self.interruptible(move |_| {
                    let reply = ops::submit_job(&session, &kit, &path, progress)?;
                    if json {
                        println!("{}", reply.json);
                    } else {
                        println!("Submitted job: {}", ops::submitted_id(&reply)?);
                    }
                    Ok(())
                })?;
            }
            Some("file_transfer.pull_folder") => {
                let (job_id, dest) = match cl.args.as_slice() {
                    [_, job_id] => (job_id.clone(), None),
                    [_, job_id, dest] => (job_id.clone(), Some(dest.clone())),
                    _ => {
                        return Err(AdminError::Local(format!(
                            "usage: {name} JOB_ID [DESTINATION]"
                        )))
                    }
                };
                let out = self.kit.transfer.clone();
                let command = name.rsplit('.').next().unwrap_or(name).to_owned();
                self.interruptible(move |cancel| {
                    let target = ops::download_job(
                        &session,
                        &command,
                        &job_id,
                        dest.as_deref(),
                        &out,
                        progress,
                        cancel,
                    )?;
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({"status": "ok", "location": target.display().to_string()})
                        );
                    } else {
                        println!("Downloaded job {job_id} to {}", target.display());
                    }
                    Ok(())
                })?;
            }
            _ => {
                let (line, props) = (cl.line.clone(), cl.props.clone());
                self.interruptible(move |_| {
                    let reply = session.command_with_props(&line, props.as_deref())?;
                    if json {
                        println!("{}", reply.json);
                    }
                    let reply = ops::checked(reply)?;
                    if !json {
                        print!("{}", render::render(reply.items()));
                    }
                    Ok(())
                })?;
            }
        }
        Ok(Step::Done)
    }

    /// NVFlare's confirmation: `yesno` asks "Are you sure (y/N)", `auth`
    /// (with a certificate login) asks for the user name.
    fn confirmed(&self, entry: &CommandInfo, ask: &mut Ask<'_>) -> bool {
        match entry.confirm.as_str() {
            "yesno" => matches!(
                ask("Are you sure (y/N): ")
                    .map(|a| a.trim().to_lowercase())
                    .as_deref(),
                Some("y" | "yes")
            ),
            "auth" | "username" => {
                let answer = ask("Confirm with User Name: ").unwrap_or_default();
                let answer = answer.trim();
                if answer == self.kit.username {
                    true
                } else {
                    println!("user name mismatch: {answer} != {}", self.kit.username);
                    false
                }
            }
            _ => true,
        }
    }

    /// Runs `work` on its own thread, so that a Ctrl-C (the interrupt
    /// flag) returns to the prompt at once. The work is told through its
    /// cancel flag, and whatever it was doing ends at its next check or
    /// timeout, on its own thread.
    fn interruptible<F>(&self, work: F) -> Result<(), AdminError>
    where
        F: FnOnce(&AtomicBool) -> Result<(), AdminError> + Send + 'static,
    {
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let flag = cancel.clone();
        std::thread::spawn(move || {
            let _ = tx.send(work(&flag));
        });
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(result) => return result,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(AdminError::Local("the command stopped unexpectedly".into()))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.interrupt.swap(false, Ordering::Relaxed) {
                        cancel.store(true, Ordering::Relaxed);
                        return Err(AdminError::Local("interrupted".into()));
                    }
                }
            }
        }
    }
}

fn fail(e: AdminError) -> Step {
    eprintln!("error: {e}");
    Step::Failed
}

/// A job's state as `wait` prints it: `JOB_ID: STATUS (round R of N)`, or
/// a JSON line with `--json`.
pub fn print_state(job_id: &str, state: &ops::JobState, json: bool) {
    if json {
        let mut v = serde_json::json!({"job_id": job_id, "status": state.status});
        if let Some((r, n)) = state.round {
            v["current_round"] = r.into();
            if let Some(n) = n {
                v["num_rounds"] = n.into();
            }
        }
        println!("{v}");
    } else {
        println!("{job_id}: {state}");
    }
}

/// `JOB_ID [--timeout SECS]`.
pub fn parse_wait(args: &[String]) -> Result<(String, Option<Duration>), AdminError> {
    let usage = || AdminError::Local("usage: wait JOB_ID [--timeout SECS]".into());
    match args {
        [id] => Ok((id.clone(), None)),
        [id, flag, secs] | [flag, secs, id] if flag == "--timeout" => {
            let secs: f64 = secs.parse().map_err(|_| usage())?;
            if !(secs > 0.0 && secs.is_finite()) {
                return Err(usage());
            }
            Ok((id.clone(), Some(Duration::from_secs_f64(secs))))
        }
        _ => Err(usage()),
    }
}

/// A float as Python's `str` prints it: `5.0`, `2.5`.
pub fn py_float(t: f64) -> String {
    if t.fract() == 0.0 && t.abs() < 1e16 {
        format!("{t:.1}")
    } else {
        format!("{t}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_command_table_is_read_as_nvflare_reads_it() {
        let reply = Reply::parse(
            json!({"data": [{"type": "table", "rows": [
                ["Scope", "Command", "Description", "Usage", "Confirm", "ClientCmd", "Visible"],
                ["job_mgmt", "abort_job", "abort a job", "abort_job job_id", "yesno", null, "True"],
                ["job_mgmt", "submit_job", "submit a job", "submit_job folder", "none", "file_transfer.push_folder", "True"],
                ["cellnet", "stress", "stress", "stress", "none", null, "False"],
                ["short", "row"]]}]})
            .to_string(),
        )
        .unwrap();
        let table = command_table(&reply);
        assert_eq!(table.len(), 3);
        assert_eq!(table[0].confirm, "yesno");
        assert_eq!(
            table[1].client_cmd.as_deref(),
            Some("file_transfer.push_folder")
        );
        assert!(table[0].visible && !table[2].visible);
    }

    #[test]
    fn wait_arguments_and_python_floats() {
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_wait(&s(&["j"])).unwrap(), ("j".into(), None));
        assert_eq!(
            parse_wait(&s(&["j", "--timeout", "2.5"])).unwrap(),
            ("j".into(), Some(Duration::from_millis(2500)))
        );
        assert!(parse_wait(&s(&["j", "--timeout", "-1"])).is_err());
        assert!(parse_wait(&s(&[])).is_err());
        assert_eq!(py_float(5.0), "5.0");
        assert_eq!(py_float(2.5), "2.5");
    }
}
