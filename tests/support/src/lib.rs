//! Test support shared by the workspace's tests and benchmarks: a
//! reference encoder written from the wire spec, seeded random data, the
//! real Python peers (NVFlare 2.9.0 and 2.6.3 in virtualenvs), throwaway
//! certificates, and child processes stopped by their PID.
//!
//! The fuzz targets use it without its default feature `peers` (the Python
//! peers and TLS), so that they build nothing they do not run.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::io::{self, Read};
use std::path::Path;

use nvflare_hci::{ALL_END, LINE_END};
use rand::{rngs::StdRng, Rng, SeedableRng};

pub mod checks;
#[cfg(feature = "peers")]
pub mod python;
#[cfg(feature = "peers")]
pub mod tls;

/// Encodes a binary exchange by hand, straight from the wire format, so that
/// the crate's encoder is checked against something it does not share code with.
pub fn binary_wire(meta: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = vec![1u8];
    v.extend_from_slice(&(meta.len() as u32).to_be_bytes());
    v.extend_from_slice(&(body.len() as u64).to_be_bytes());
    v.extend_from_slice(meta);
    v.extend_from_slice(body);
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
    v
}

/// A binary marker and header announcing these sizes, and nothing after:
/// what a hostile or broken peer may send.
pub fn header_only(meta_size: u32, body_size: u64) -> Vec<u8> {
    let mut v = vec![1u8];
    v.extend_from_slice(&meta_size.to_be_bytes());
    v.extend_from_slice(&body_size.to_be_bytes());
    v
}

/// Deterministic pseudo-random bytes.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v[..]);
    v
}

/// The names of the entries of `dir`.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// SHA-256 of a reader's content, streamed.
pub fn sha256_of<R: Read>(mut r: R) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().into()
}

/// A body of `size` seeded random bytes, made and hashed (SHA-256) as it is
/// sent: large bodies without holding them.
pub struct RandomBody {
    size: u64,
    left: u64,
    rng: StdRng,
    hash: sha2::Sha256,
}

impl RandomBody {
    /// A body of `size` bytes from the RNG seeded with `seed`.
    pub fn new(size: u64, seed: u64) -> Self {
        use sha2::Digest;
        RandomBody {
            size,
            left: size,
            rng: StdRng::seed_from_u64(seed),
            hash: sha2::Sha256::new(),
        }
    }

    /// The hash of what was generated.
    pub fn sha256(self) -> [u8; 32] {
        use sha2::Digest;
        self.hash.finalize().into()
    }
}

impl nvflare_hci::DataGenerator for RandomBody {
    fn data_size(&self) -> u64 {
        self.size
    }

    fn generate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use rand::RngCore;
        use sha2::Digest;
        let n = (buf.len() as u64).min(self.left) as usize;
        self.rng.fill_bytes(&mut buf[..n]);
        self.hash.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

/// A child process killed (by its PID) and reaped when dropped.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A text reply of `len` bytes before its `ALL_END`, a `LINE_END` every 100
/// bytes, as NVFlare's server sends lines.
pub fn text_reply(len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len)
        .map(|i| {
            if i % 100 == 99 {
                LINE_END
            } else {
                b'a' + (i % 26) as u8
            }
        })
        .collect();
    v.push(ALL_END);
    v
}
