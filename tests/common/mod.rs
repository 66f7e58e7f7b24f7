//! Test support shared by the integration tests: readers that split input,
//! writers that count, a reference encoder written from the wire spec, and
//! checks for leftovers.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::path::Path;

use rand::{rngs::StdRng, Rng, SeedableRng};

#[allow(unused_imports)]
pub use nvflare_hci_testkit::{
    binary_wire, entries, header_only, python, random_bytes, sha256_of, text_reply, tls, Killed,
    RandomBody,
};

/// A reader that hands out its data in pieces of 1..=max bytes, chosen by a
/// seeded RNG (max 1: a byte at a time). Counts the bytes it gave.
pub struct SplitReader<R> {
    inner: R,
    rng: StdRng,
    max: usize,
    pub given: u64,
}

impl<R: Read> SplitReader<R> {
    pub fn new(inner: R, max: usize, seed: u64) -> Self {
        SplitReader {
            inner,
            rng: StdRng::seed_from_u64(seed),
            max: max.max(1),
            given: 0,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for SplitReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.rng.random_range(1..=self.max).min(buf.len());
        let got = self.inner.read(&mut buf[..n])?;
        self.given += got as u64;
        Ok(got)
    }
}

/// A reader that fails once with `kind` when it reaches byte `at`, and
/// otherwise reads normally (at most up to `at` in the read that reaches it).
pub struct FaultyReader<R> {
    inner: R,
    at: u64,
    pos: u64,
    kind: io::ErrorKind,
    pub failed: bool,
    once: bool,
}

impl<R: Read> FaultyReader<R> {
    /// Fails every read from `at` on (as a dead connection does).
    pub fn new(inner: R, at: u64, kind: io::ErrorKind) -> Self {
        FaultyReader {
            inner,
            at,
            pos: 0,
            kind,
            failed: false,
            once: false,
        }
    }

    /// Fails one read at `at`, then goes on (as a signal does).
    pub fn once(inner: R, at: u64, kind: io::ErrorKind) -> Self {
        FaultyReader {
            once: true,
            ..Self::new(inner, at, kind)
        }
    }
}

impl<R: Read> Read for FaultyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.at && !(self.once && self.failed) {
            self.failed = true;
            return Err(io::Error::new(self.kind, "injected fault"));
        }
        let limit = if self.pos < self.at && !(self.once && self.failed) {
            ((self.at - self.pos) as usize).min(buf.len())
        } else {
            buf.len()
        };
        let n = self.inner.read(&mut buf[..limit])?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// A writer that records every write and flush.
#[derive(Default)]
pub struct CountingWriter {
    pub data: Vec<u8>,
    pub writes: usize,
    pub flushes: usize,
    /// Fail every write once this many bytes were accepted.
    pub fail_after: Option<usize>,
}

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(limit) = self.fail_after {
            if self.data.len() >= limit {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "injected"));
            }
            let n = buf.len().min(limit - self.data.len());
            self.data.extend_from_slice(&buf[..n]);
            self.writes += 1;
            return Ok(n);
        }
        self.data.extend_from_slice(buf);
        self.writes += 1;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

/// The process's open file descriptors that point at paths under `dir`.
pub fn open_fds_under(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(target) = std::fs::read_link(e.path()) {
            if target.starts_with(dir) {
                v.push(target.display().to_string());
            }
        }
    }
    v
}

/// The binary of the example `name`, built by `cargo test`: from
/// target/<profile>/deps/<test> to target/<profile>/examples/<name>.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        bin.exists(),
        "{} is missing: `cargo test` builds it; with a filtered run, `cargo build --example {name}` first",
        bin.display()
    );
    bin
}

/// Meta and body of a binary exchange, the body read from its file (whose
/// length must be the one announced).
pub fn body_of(exchange: nvflare_hci::Exchange) -> (String, Vec<u8>) {
    let (meta, mut body) = exchange.into_binary().expect("a binary exchange");
    let mut v = Vec::new();
    body.read_to_end(&mut v).unwrap();
    assert_eq!(body.len(), v.len() as u64);
    (meta, v)
}
