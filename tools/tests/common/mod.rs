//! Test support for the applications' tests: the workspace's test kit, and
//! the binaries this package builds.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

#[allow(unused_imports)]
pub use nvflare_hci_testkit::*;

pub mod admin_server;

/// The `hci` binary that `cargo test` built for these tests.
pub const HCI: &str = env!("CARGO_BIN_EXE_hci");

/// The `nvflare-admin` binary that `cargo test` built for these tests.
pub const NVFLARE_ADMIN: &str = env!("CARGO_BIN_EXE_nvflare-admin");

/// Starts `hci serve` with `args` after `--listen 127.0.0.1:0 --dir DIR`;
/// returns it, the address it listens on, and its log lines.
pub fn hci_serve(
    dir: &Path,
    args: &[&str],
) -> (
    Killed,
    String,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    let mut server = Killed(
        std::process::Command::new(HCI)
            .args(["serve", "--listen", "127.0.0.1:0", "--dir"])
            .arg(dir)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = std::io::BufReader::new(server.0.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("listening on ")
        .expect(&first)
        .to_owned();
    (server, addr, lines)
}

/// A port free on loopback now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A file of the Python helpers under `tools/tests/interop`.
pub fn interop(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(file)
}

/// `out`, after checking that its process succeeded (its output otherwise).
pub fn checked(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// `nvflare poc prepare` into `workspace`, with `project` when given. The
/// CLI runs as a module: the venv's scripts name the folder it was built in.
pub fn prepare(python: &Path, workspace: &Path, project: Option<&Path>) {
    let mut cmd = std::process::Command::new(python);
    cmd.args([
        "-c",
        "import sys; from nvflare.cli import main; sys.exit(main())",
    ])
    .args(["poc", "prepare", "-n", "1"])
    .env("NVFLARE_POC_WORKSPACE", workspace);
    if let Some(p) = project {
        cmd.arg("-i").arg(p);
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It may ask before replacing a workspace.
    use std::io::Write;
    let _ = child.stdin.take().unwrap().write_all(b"y\n");
    checked("nvflare poc prepare", child.wait_with_output().unwrap());
}

/// `nvflare poc prepare -n SITES` into `workspace` with `project`: a POC
/// with `sites` FL clients (site-1, site-2, …).
pub fn prepare_sites(python: &Path, workspace: &Path, project: Option<&Path>, sites: usize) {
    let mut cmd = std::process::Command::new(python);
    cmd.args([
        "-c",
        "import sys; from nvflare.cli import main; sys.exit(main())",
    ])
    .args(["poc", "prepare", "-n", &sites.to_string()])
    .env("NVFLARE_POC_WORKSPACE", workspace)
    .stdin(std::process::Stdio::null());
    if let Some(p) = project {
        cmd.arg("-i").arg(p);
    }
    checked("nvflare poc prepare", cmd.output().unwrap());
}
