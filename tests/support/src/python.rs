//! The real peers: NVFlare 2.9.0's Python module, and NVFlare 2.6.3 (the
//! last admin server that speaks this framing), each in a virtualenv that
//! the tests create once under `target/tmp` and reuse.
//!
//! `NVFLARE_HCI_PYTHON=/path/to/python` uses an interpreter that already has
//! `nvflare==2.9.0` instead.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The version of NVFlare's Python module for the framing tests.
pub const NVFLARE_VERSION: &str = "2.9.0";

/// The admin server's version for the admin-channel tests.
pub const NVFLARE_ADMIN_VERSION: &str = "2.6.3";

const HELP: &str = "The interoperability tests run NVFlare's own Python module \
(nvflare==2.9.0). They need python3 (3.9 or newer) with the venv module and pip, \
and access to PyPI (about half a minute, once). On Debian/Ubuntu: \
`apt-get install python3 python3-venv python3-pip`. Or point NVFLARE_HCI_PYTHON \
at a python that has `pip install nvflare==2.9.0` done.";

/// The interpreter with nvflare 2.9.0; provisions it on first use.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(|| provision(NVFLARE_VERSION, true)) {
        Ok(p) => p,
        Err(msg) => panic!("{msg}\n\n{HELP}"),
    }
}

/// The interpreter with nvflare 2.6.3, the admin server; provisions it on
/// first use (about 20 s).
pub fn admin_python() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(|| provision(NVFLARE_ADMIN_VERSION, false)) {
        Ok(p) => p,
        Err(msg) => panic!(
            "{msg}\n\n{}",
            HELP.replace(NVFLARE_VERSION, NVFLARE_ADMIN_VERSION)
        ),
    }
}

fn check(python: &Path, version: &str) -> Result<(), String> {
    let out = Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m, nvflare.fuel.hci.binary_proto; print(m.version('nvflare'))",
        ])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let installed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() {
        return Err(format!(
            "{} cannot import nvflare.fuel.hci.binary_proto:\n{}",
            python.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if installed != version {
        return Err(format!(
            "{} has nvflare {installed}, the tests pin {version}",
            python.display()
        ));
    }
    Ok(())
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `target/tmp` of the workspace that built the running test: the test
/// binary is `target/<profile>/deps/<name>`, and the venvs are shared by
/// every package's tests.
pub fn target_tmp() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary lives in target/<profile>/deps");
    target.join("tmp")
}

fn provision(version: &str, overridable: bool) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("NVFLARE_HCI_PYTHON").filter(|_| overridable) {
        let p = PathBuf::from(p);
        check(&p, version)?;
        return Ok(p);
    }
    let tmp = target_tmp();
    let tmp = tmp.as_path();
    let root = tmp.join(format!("nvflare-{version}-venv"));
    let python = root.join("bin").join("python");
    if python.exists() && check(&python, version).is_ok() {
        return Ok(python);
    }
    // Build in a private staging directory, then rename into place: several
    // test processes may do this at once, and only a complete venv is ever
    // found at `root`.
    std::fs::create_dir_all(tmp).map_err(|e| e.to_string())?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let staging = tmp.join(format!(
        "nvflare-venv-staging-{}-{nanos}",
        std::process::id()
    ));
    let base = std::env::var_os("PYTHON3").unwrap_or_else(|| "python3".into());
    run(
        Command::new(&base)
            .args([OsStr::new("-m"), OsStr::new("venv")])
            .arg(&staging),
        "python3 -m venv",
    )?;
    let staged_python = staging.join("bin").join("python");
    let installed = run(
        Command::new(&staged_python).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            &format!("nvflare=={version}"),
        ]),
        "pip install nvflare",
    );
    if let Err(e) = installed {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if std::fs::rename(&staging, &root).is_err() {
        // Another process won the race, or a broken venv is in the way.
        let _ = std::fs::remove_dir_all(&staging);
        if check(&python, version).is_err() {
            let _ = std::fs::remove_dir_all(&root);
            return Err(format!(
                "could not install the venv at {}; run the tests again",
                root.display()
            ));
        }
    }
    check(&python, version)?;
    Ok(python)
}

/// Runs `peer.py` with `args`, with its temp dir set to `tmpdir`; returns its
/// JSON report.
pub fn peer<I, S>(tmpdir: &Path, args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    finish(spawn_peer(tmpdir, args))
}

/// A running `peer.py`, killed if dropped before [`finish`].
pub struct PeerProcess(Option<std::process::Child>);

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Spawns `peer.py` with `args`, with its temp dir set to `tmpdir`; collect
/// it with [`finish`].
pub fn spawn_peer<I, S>(tmpdir: &Path, args: I) -> PeerProcess
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../interop/peer.py");
    let child = Command::new(python())
        .arg(script)
        .args(args)
        .env("TMPDIR", tmpdir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn peer.py");
    PeerProcess(Some(child))
}

/// Waits for a spawned peer and returns its JSON report.
pub fn finish(mut peer: PeerProcess) -> serde_json::Value {
    let child = peer.0.take().expect("peer already finished");
    let out = child.wait_with_output().expect("wait for peer.py");
    assert!(
        out.status.success(),
        "peer.py failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("peer.py JSON")
}

/// Accepts the peer's connection, with timeouts so that a broken peer fails
/// the test instead of hanging it.
pub fn accept(listener: &std::net::TcpListener) -> std::net::TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let sock = loop {
        match listener.accept() {
            Ok((sock, _)) => break sock,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the peer never connected"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    sock.set_nonblocking(false).unwrap();
    let limit = Some(std::time::Duration::from_secs(120));
    sock.set_read_timeout(limit).unwrap();
    sock.set_write_timeout(limit).unwrap();
    sock
}
