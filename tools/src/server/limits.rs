//! Every bound the server holds a peer to, in one place. Each one caps
//! what a single peer can make the server hold in memory, spend in CPU or
//! leave on disk; the README's security model lists them.

use std::time::Duration;

/// The largest request text (a command and its token, as JSON), and the
/// largest meta of a request with a body. NVFlare 2.6.3's client sends a
/// few hundred bytes (`submit_job` with its token: about 200); a line
/// typed at its console is a few KiB at most. Past this the request is
/// refused and the connection closed.
pub const MAX_REQUEST: u32 = 64 << 10;

/// The most characters of peer input a reply or a log line repeats
/// (an id, a command, an argument); longer input is cut, with `…`.
pub const MAX_ECHO: usize = 100;

/// The largest job zip accepted, and the most bytes its entries may
/// decompress to, counted as they are produced.
pub const MAX_JOB_SIZE: u64 = 64 << 30;

/// The most entries a job zip may hold: its central directory is read
/// whole, so this bounds what that costs (about 0.6 KiB an entry).
pub const MAX_ZIP_ENTRIES: u64 = 20_000;

/// The largest central directory of a job zip.
pub const MAX_ZIP_DIRECTORY: u64 = 8 << 20;

/// The largest `meta.json` of a job.
pub const MAX_META_SIZE: u64 = 256 << 10;

/// The most values (object members and array elements, at every depth)
/// in a job's `meta.json`.
pub const MAX_META_VALUES: usize = 10_000;

/// The deepest nesting of objects and arrays in a job's `meta.json`.
pub const MAX_META_DEPTH: usize = 16;

/// A folder's signature file may hold this many bytes per entry it signs
/// (a name and a base64 signature), plus this much once.
pub const SIGNATURE_BYTES_PER_ENTRY: u64 = 2 << 10;

/// The most bytes `list_jobs -d` puts in one reply; past it the reply
/// says how many jobs it left out.
pub const MAX_DETAIL_REPLY: usize = 4 << 20;

/// Sessions a certificate may hold at once; a login past it ends the
/// certificate's least recently used session.
pub const MAX_SESSIONS_PER_CERT: usize = 32;

/// Downloads a session may have staged at once; staging one more drops
/// its oldest.
pub const MAX_TRANSFERS_PER_SESSION: usize = 4;

/// Downloads a certificate may have staged at once, over all its
/// sessions; staging one more drops its oldest.
pub const MAX_TRANSFERS_PER_CERT: usize = 8;

/// Connections one certificate may hold past their handshake at once;
/// past it, a `server busy` reply. Each costs about 70 KiB (its thread's
/// stack and TLS state), so one peer's connections cost at most about
/// 4.5 MiB, whatever it sends.
pub const MAX_CONNECTIONS_PER_CERT: usize = 64;

/// How long a reply waits, at most, for the rest of a request it did not
/// read before the connection closes.
pub const LINGER: Duration = Duration::from_secs(2);

/// How often ended sessions, and the downloads they staged, are swept
/// when no request comes to sweep them (or twice per session timeout, if
/// that is shorter).
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);
