//! NVFlare's admin exchange protocol (`nvflare.fuel.hci.binary_proto`) for
//! blocking Rust code: the framing that NVFlare's admin client and server use
//! to move commands, replies and multi-gigabyte job files over one socket.
//! Byte for byte compatible with the Python module, in both directions.
//!
//! # The wire format
//!
//! An exchange is what one side sends in one go. Its first byte decides its kind:
//!
//! ```text
//! binary:  01 | meta_size: u32 BE | body_size: u64 BE | meta (meta_size bytes, UTF-8)
//!             | body (body_size bytes) | 00 00 00 00 | crc32(body): u32 BE
//! text:    any first byte other than 01 | ... | 04
//! ```
//!
//! The CRC is zlib's CRC-32 (`crc32fast::hash`). In text, `0x03`
//! ([`LINE_END`]) ends a line and `0x04` ([`ALL_END`]) the exchange. The
//! [`wire`] module has the format's constants, header and footer. Python's
//! receiver drops the `LINE_END`s, and so does [`MsgDataProcessor`] unless
//! told to [keep them](MsgDataProcessor::keep_line_ends): lines sent with
//! [`send_lines`] come back as one string.
//!
//! # Simple: one exchange each way
//!
//! ```
//! use nvflare_hci::{receive_all, send_binary_data, send_lines, Exchange};
//! use std::io::Read;
//!
//! // The client sends a command and a job file; here the "socket" is a Vec.
//! let mut request = Vec::new();
//! send_binary_data(&mut request, &b"zip bytes"[..], r#"{"cmd":"submit_job"}"#)?;
//!
//! // The server receives it: meta in memory, body spooled to a temp file.
//! let Exchange::Binary { meta, mut body } = receive_all(&request[..])? else { unreachable!() };
//! assert_eq!(meta, r#"{"cmd":"submit_job"}"#);
//! let mut job = Vec::new();
//! body.read_to_end(&mut job)?;
//! assert_eq!(job, b"zip bytes");
//!
//! // It replies with text lines, which the client reads back.
//! let mut reply = Vec::new();
//! send_lines(&mut reply, [r#"{"status":"ok"}"#])?;
//! assert_eq!(receive_all(&reply[..])?.as_text(), Some(r#"{"status":"ok"}"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # On a socket: [`Connection`]
//!
//! A [`Connection`] owns a stream (`TcpStream`, `&TcpStream`, a TLS stream,
//! anything `Read + Write`) and carries any number of exchanges both ways.
//! It reads in blocks and keeps what it read past one exchange for the next,
//! so text is never read a byte at a time and no byte is lost:
//!
//! ```no_run
//! use nvflare_hci::Connection;
//! let mut conn = Connection::new(std::net::TcpStream::connect("127.0.0.1:8003")?);
//! conn.get_mut().set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
//! // A client's request and its reply, as one step.
//! let reply = conn.request(r#"{"cmd":"list_jobs"}"#)?;
//! let (sent, reply) = conn.request_binary_file("job.zip", r#"{"cmd":"submit_job"}"#)?;
//! println!("sent {} bytes, crc32 {:08x}", sent.size, sent.crc32);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Between exchanges nothing is lost, and after an error the connection
//! says whether it can go on: an error at an exchange boundary (a clean
//! close, [`Error::Idle`] for a read timeout before an exchange began, a
//! checksum mismatch once the exchange was read whole) leaves it usable; an
//! error inside an exchange leaves that direction [`Error::OutOfStep`] for
//! good (see [`Connection`], "After an error"). A client waiting for a
//! reply is inside a request/reply pair even between exchanges:
//! [`Connection::request`] makes a timeout there
//! [`Error::ReplyTimedOut`] and stops receiving, so that a late reply never
//! answers the next request. A server's loop, below, keeps [`Error::Idle`].
//!
//! ```no_run
//! use nvflare_hci::{Connection, Error, ErrorChain};
//! # fn handle(_: nvflare_hci::Exchange) {}
//! # let shutting_down = || false;
//! let sock = std::net::TcpListener::bind("127.0.0.1:8003")?.accept()?.0;
//! sock.set_read_timeout(Some(std::time::Duration::from_secs(1)))?;
//! let mut conn = Connection::new(sock);
//! while !shutting_down() {
//!     match conn.receive() {
//!         Ok(request) => handle(request),
//!         Err(Error::Idle(_)) => continue, // no request this second
//!         Err(e) if e.is_clean_close() => break,
//!         Err(e) if conn.can_receive() => eprintln!("{}", ErrorChain(&e)),
//!         Err(e) => return Err(e.into()), // out of step: drop the peer
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For tests, [`Connection::from_halves`] reads requests from a slice or a
//! `Cursor` and writes replies into a `Vec`, and [`MemoryProcessor`] keeps
//! bodies in memory.
//!
//! The one-shot functions above keep Python's names for a stream that
//! carries a single exchange: [`receive_all`] reads no byte past it, which
//! on an unbuffered socket means one `read` call per byte of text. Any
//! [`std::io::Read`] is a [`Receiver`] and any [`std::io::Write`] a
//! [`Sender`].
//!
//! # Advanced: limits, progress, your own processor
//!
//! ```
//! use nvflare_hci::{ContentType, DataProcessor, End, Error, ExchangeHandler, ExchangeSender,
//!                   Limits, Start};
//!
//! /// Counts body bytes instead of storing them.
//! #[derive(Default)]
//! struct Count(u64);
//! impl DataProcessor for Count {
//!     type Output = u64;
//!     fn start(&mut self, _: &Start<'_>) -> Result<(), Error> { self.0 = 0; Ok(()) }
//!     fn process(&mut self, data: &[u8], _: ContentType) -> Result<(), Error> {
//!         self.0 += data.len() as u64;
//!         Ok(())
//!     }
//!     fn finalize(&mut self, _: &End) -> Result<u64, Error> { Ok(self.0) }
//! }
//!
//! let body = vec![7u8; 100_000];
//! let mut sender = ExchangeSender::new(Vec::new()).block_size(16 * 1024);
//! sender.send_binary_data(&body[..], "")?;
//! let wire = sender.into_inner();
//!
//! let mut handler = ExchangeHandler::new(&wire[..])
//!     .limits(Limits::default().with_max_body_size(1 << 20))
//!     .on_progress(|p| assert!(p.done <= p.total.unwrap()));
//! assert_eq!(handler.receive_and_parse(&mut Count::default())?, 100_000);
//!
//! // A body over the limit is refused at its header, before anything is written.
//! let mut strict = ExchangeHandler::new(&wire[..]).limits(Limits::default().with_max_body_size(10));
//! assert!(matches!(strict.receive_and_parse(&mut Count::default()),
//!                  Err(Error::LimitExceeded { .. })));
//! # Ok::<(), Error>(())
//! ```
//!
//! # Differences from the Python module
//!
//! The wire format is the same; the faults of the Python module are not.
//! Text is decoded as UTF-8 only when complete; an empty text exchange ends
//! at its `ALL_END`; no byte after an exchange is lost; a stream that ends
//! early is an [`Error::UnexpectedEof`] naming the section; a failed
//! exchange leaves no temporary file, and a received body is deleted when
//! dropped unless kept; sizes are bounded by [`Limits`]; the sender writes
//! whole blocks (one write for a small exchange) and never sends more body
//! than it declared; an empty body is an empty file, not `None`.
//!
//! # Performance
//!
//! Bodies move in blocks of [`DEFAULT_BLOCK_SIZE`] (256 KiB) with one copy
//! between the socket and the file, and the CRC computed by `crc32fast` on
//! the way; memory use does not depend on the body size.
//!
//! In a debug build the CRC runs at debug speed, an order of magnitude
//! slower, unless the build optimises dependencies. In the application's
//! `Cargo.toml`:
//!
//! ```toml
//! [profile.dev.package."*"]
//! opt-level = 3
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, missing_debug_implementations)]

mod body;
mod connection;
mod decoder;
mod error;
mod processor;
mod progress;
mod receive;
mod send;
pub mod wire;

pub use body::{BodyFile, BodyPersistError};
pub use connection::{Connection, Duplex};
pub use decoder::{Decoded, Decoder, End, Limits, Start};
pub use error::{Direction, Error, ErrorChain, Limit, Result, Section};
pub use processor::{DataProcessor, Exchange, MemoryProcessor, MsgDataProcessor};
pub use progress::Progress;
pub use receive::{receive_all, ExchangeHandler, Receiver};
pub use send::{
    send_binary_data, send_binary_file, send_lines, send_text, DataGenerator, ExchangeSender,
    GenerateDataFromFile, GenerateDataFromReader, Sender, Sent,
};
pub use wire::ContentType;
#[doc(no_inline)]
pub use wire::{ALL_END, LINE_END};

/// The block size this crate reads and writes with unless told otherwise:
/// 256 KiB. (Python's module uses 1 KiB; the block size is not part of the
/// wire format.)
pub const DEFAULT_BLOCK_SIZE: usize = 256 * 1024;

/// The README's examples, compiled as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
