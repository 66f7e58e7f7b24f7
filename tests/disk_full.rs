//! A processor whose writes fail with "disk full": the error surfaces with
//! its cause, no temporary file remains, and the next exchange works.
//!
//! `/dev/full` is tested always. The spool on a real full filesystem (a
//! 256 KiB tmpfs) needs a mount: as root it mounts directly; as a plain user
//! the test runs itself again inside `unshare -Urm`, a user and mount
//! namespace of its own; where the kernel allows no such namespace, it says
//! plainly what ran and what did not.

mod common;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{binary_wire, entries, random_bytes};
use nvflare_hci::{
    ContentType, DataProcessor, End, Error, ExchangeHandler, MsgDataProcessor, Start,
};

/// Writes bodies to /dev/full.
struct DevFull(Option<File>);

impl DataProcessor for DevFull {
    type Output = ();
    fn start(&mut self, _: &Start<'_>) -> Result<(), Error> {
        self.0 = Some(
            File::options()
                .write(true)
                .open("/dev/full")
                .map_err(Error::Processor)?,
        );
        Ok(())
    }
    fn process(&mut self, data: &[u8], _: ContentType) -> Result<(), Error> {
        let f = self.0.as_mut().expect("started");
        f.write_all(data)
            .and_then(|_| f.flush())
            .map_err(Error::Processor)
    }
    fn finalize(&mut self, _: &End) -> Result<(), Error> {
        self.0 = None;
        Ok(())
    }
    fn abort(&mut self) {
        self.0 = None;
    }
}

/// `ENOSPC` (the spool file wraps write errors with its path, keeping the kind).
fn is_disk_full(e: &Error) -> bool {
    const ENOSPC: i32 = 28;
    let storage_full = std::io::Error::from_raw_os_error(ENOSPC).kind();
    matches!(e, Error::Processor(io) if io.kind() == storage_full)
}

#[test]
fn dev_full_processor() {
    let wire = binary_wire(b"m", &random_bytes(10_000, 1));
    let mut p = DevFull(None);
    let err = ExchangeHandler::new(&wire[..])
        .receive_and_parse(&mut p)
        .unwrap_err();
    assert!(is_disk_full(&err), "{err:?}");
    assert!(p.0.is_none(), "processor was not aborted");
    // The next exchange on a working processor is fine.
    let got = ExchangeHandler::new(&wire[..]).receive_all().unwrap();
    assert_eq!(got.body().unwrap().len(), 10_000);
}

/// A 256 KiB tmpfs, unmounted on drop (before its mount point is removed).
struct TinyFs {
    path: PathBuf,
    _mount_point: tempfile::TempDir,
}

impl TinyFs {
    fn mount() -> TinyFs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mounting a 256 KiB tmpfs failed");
        TinyFs {
            path: dir.path().to_path_buf(),
            _mount_point: dir,
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// Set in the copy of this test that runs in its own namespace.
const IN_NAMESPACE: &str = "NVFLARE_HCI_DISK_FULL_NAMESPACE";

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

#[test]
fn spool_on_a_full_filesystem() {
    if is_root() || std::env::var_os(IN_NAMESPACE).is_some() {
        return full_filesystem();
    }
    // A plain user: the same test, in a user and mount namespace where it
    // is root and may mount.
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .arg("-Urm")
        .arg(&exe)
        .args(["--exact", "spool_on_a_full_filesystem", "--nocapture"])
        .env(IN_NAMESPACE, "1")
        .output();
    match out {
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains("test result:") => {
            assert!(
                out.status.success(),
                "the full-filesystem case failed in its namespace:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            println!("disk_full: the full-filesystem case ran in a user namespace");
        }
        refused => {
            let why = match refused {
                Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                Err(e) => e.to_string(),
            };
            eprintln!(
                "disk_full: /dev/full ran (dev_full_processor); the full-filesystem case did NOT run: \
                 it needs root or an unprivileged user namespace (`unshare -Urm`), refused here: {why}"
            );
        }
    }
}

fn full_filesystem() {
    let fs = TinyFs::mount();
    let big = binary_wire(b"m", &random_bytes(1 << 20, 2));
    let mut p = MsgDataProcessor::in_dir(fs.path());
    for block in [4096, 1 << 18] {
        let err = ExchangeHandler::new(&big[..])
            .block_size(block)
            .receive_and_parse(&mut p)
            .unwrap_err();
        assert!(is_disk_full(&err), "{err:?}");
        let source = std::error::Error::source(&err).expect("cause kept");
        assert!(source.to_string().contains("No space left"), "{source}");
        assert!(
            entries(fs.path()).is_empty(),
            "partial file left on the full fs"
        );
    }
    // A body that fits still goes through, with the same processor.
    let small = binary_wire(b"m", &random_bytes(10_000, 3));
    let got = ExchangeHandler::new(&small[..])
        .receive_and_parse(&mut p)
        .unwrap();
    assert_eq!(got.body().unwrap().len(), 10_000);
    drop(got);
    assert!(entries(fs.path()).is_empty());
}
