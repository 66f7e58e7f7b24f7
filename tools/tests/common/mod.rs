//! Test support for the applications' tests: the workspace's test kit, and
//! the binaries this package builds.
#![allow(dead_code)]

use std::path::Path;

#[allow(unused_imports)]
pub use nvflare_hci_testkit::*;

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
