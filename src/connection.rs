//! [`Connection`]: one stream, both directions, the read-ahead kept between
//! exchanges.

use std::fmt;
use std::path::Path;

use crate::decoder::Limits;
use crate::error::Result;
use crate::processor::{DataProcessor, Exchange, MsgDataProcessor};
use crate::progress::Progress;
use crate::receive::{Inbound, Receiver};
use crate::send::{DataGenerator, Outbound, Sender};

/// A stream that carries exchanges both ways: a `TcpStream`, a
/// `&TcpStream`, a TLS stream, or an in-memory duplex in tests.
///
/// It owns the stream, a receiving side and a sending side. The receiving
/// side reads in blocks and keeps whatever it read past the end of an
/// exchange for the next one, so no byte is lost between exchanges and text
/// is never read a byte at a time; [`into_parts`](Connection::into_parts)
/// gives those bytes back with the stream. Buffers grow as data arrives
/// (reads double from 8 KiB while they come back full, up to the block
/// size) and are given back after each exchange, so an idle connection
/// holds a few KiB, not a block.
///
/// Use a `Connection` for anything that talks on a socket. The one-shot
/// functions ([`receive_all`](crate::receive_all),
/// [`send_binary_file`](crate::send_binary_file), …) keep Python's names for
/// a stream that carries a single exchange or is handed on afterwards;
/// `receive_all` reads no byte past its exchange, which costs one `read`
/// call per byte of text on an unbuffered stream.
///
/// ```
/// use nvflare_hci::{Connection, Exchange};
/// use std::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = std::thread::spawn(move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     let mut conn = Connection::new(listener.accept()?.0);
///     // Any number of exchanges on one connection, in either direction.
///     while let Ok(request) = conn.receive() {
///         match request {
///             Exchange::Text(cmd) => conn.send_lines([format!("ran {cmd}")])?,
///             Exchange::Binary { meta, body } => conn.send_text(&format!("{meta}: {} bytes", body.len()))?,
///         }
///     }
///     Ok(())
/// });
///
/// let mut conn = Connection::new(TcpStream::connect(addr)?);
/// conn.send_text("check_status server")?;
/// assert_eq!(conn.receive()?.as_text(), Some("ran check_status server"));
/// conn.send_binary_data(&b"zip bytes"[..], "submit_job")?;
/// assert_eq!(conn.receive()?.as_text(), Some("submit_job: 9 bytes"));
/// drop(conn); // the server sees a clean close
/// server.join().unwrap().map_err(|e| e.to_string())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection<S> {
    stream: S,
    inbound: Inbound,
    outbound: Outbound,
}

impl<S: fmt::Debug> fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("stream", &self.stream)
            .field("inbound", &self.inbound)
            .field("outbound", &self.outbound)
            .finish()
    }
}

impl<S: Receiver + Sender> Connection<S> {
    /// A connection over `stream`, with default [`Limits`] and blocks of
    /// [`DEFAULT_BLOCK_SIZE`](crate::DEFAULT_BLOCK_SIZE) both ways.
    pub fn new(stream: S) -> Self {
        Self::from_partially_read(stream, Vec::new())
    }

    /// A connection over `stream` that starts with `buffered`, bytes already
    /// read from it (e.g. from [`into_parts`](Connection::into_parts) or
    /// [`ExchangeHandler::into_parts`](crate::ExchangeHandler::into_parts)).
    pub fn from_partially_read(stream: S, buffered: Vec<u8>) -> Self {
        Connection {
            stream,
            inbound: Inbound::new(true, buffered),
            outbound: Outbound::new(),
        }
    }

    /// Sets the limits on what the peer may send.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.inbound.set_limits(limits);
        self
    }

    /// Sets the largest read and the size of each write, in bytes (default
    /// 256 KiB; reads at least 1 byte, writes at least 13).
    pub fn block_size(self, block_size: usize) -> Self {
        self.receive_block_size(block_size)
            .send_block_size(block_size)
    }

    /// Sets the largest read, in bytes (at least 1; default 256 KiB).
    pub fn receive_block_size(mut self, block_size: usize) -> Self {
        self.inbound.set_block_size(block_size);
        self
    }

    /// Sets the size of each write, in bytes (at least 13; default 256 KiB).
    pub fn send_block_size(mut self, block_size: usize) -> Self {
        self.outbound.set_block_size(block_size);
        self
    }

    /// Calls `f` as content arrives: once at the start of an exchange, after
    /// every piece, and at the end.
    pub fn on_receive_progress<F: FnMut(Progress) + Send + 'static>(mut self, f: F) -> Self {
        self.inbound.set_progress(Box::new(f));
        self
    }

    /// Calls `f` as body or text bytes are sent: once at the start of an
    /// exchange, after each block, and at the end.
    pub fn on_send_progress<F: FnMut(Progress) + Send + 'static>(mut self, f: F) -> Self {
        self.outbound.set_progress(Box::new(f));
        self
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably: to set a timeout, say. Reading from it directly
    /// skips what this connection has [buffered](Connection::buffered).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Bytes read from the stream but not yet part of an exchange.
    pub fn buffered(&self) -> &[u8] {
        self.inbound.buffered()
    }

    /// The stream, and the bytes read ahead from it, which come before
    /// anything still in the stream.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.inbound.into_buffered())
    }

    /// Receives one exchange with a [`MsgDataProcessor`] spooling bodies
    /// into the system temp dir.
    ///
    /// # Errors
    /// As [`receive_and_parse`](Connection::receive_and_parse).
    pub fn receive(&mut self) -> Result<Exchange> {
        self.receive_and_parse(&mut MsgDataProcessor::new())
    }

    /// Receives one exchange and feeds it to `processor`. Returns what the
    /// processor makes of it.
    ///
    /// # Errors
    /// As [`ExchangeHandler::receive_and_parse`](crate::ExchangeHandler::receive_and_parse):
    /// [`Error::UnexpectedEof`](crate::Error::UnexpectedEof) when the stream
    /// ends early ([`Error::is_clean_close`](crate::Error::is_clean_close)
    /// when it ends between exchanges), a limit, a bad footer, an I/O error,
    /// or the processor's. On error the processor is aborted, and the next
    /// call starts a new exchange where the stream now is.
    pub fn receive_and_parse<P: DataProcessor + ?Sized>(
        &mut self,
        processor: &mut P,
    ) -> Result<P::Output> {
        self.inbound.receive_and_parse(&mut self.stream, processor)
    }

    /// Sends `text` followed by `ALL_END` as a text exchange, in one write
    /// when it fits in a block.
    ///
    /// # Errors
    /// As [`ExchangeSender::send_text`](crate::ExchangeSender::send_text).
    pub fn send_text(&mut self, text: &str) -> Result<()> {
        self.outbound.send_text(&mut self.stream, text)
    }

    /// Sends lines as NVFlare's admin server does: each line but the last
    /// followed by `LINE_END`, the last by `ALL_END`.
    ///
    /// # Errors
    /// As [`ExchangeSender::send_lines`](crate::ExchangeSender::send_lines).
    pub fn send_lines<I>(&mut self, lines: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.outbound.send_lines(&mut self.stream, lines)
    }

    /// Sends a binary exchange: `meta` (empty for none) and exactly the
    /// bytes `generator` declares. Returns the body size.
    ///
    /// # Errors
    /// As [`ExchangeSender::send_binary_data`](crate::ExchangeSender::send_binary_data).
    pub fn send_binary_data<G: DataGenerator>(&mut self, generator: G, meta: &str) -> Result<u64> {
        self.outbound
            .send_binary_data(&mut self.stream, generator, meta)
    }

    /// Sends the file at `path` as the body of a binary exchange; the file
    /// is closed on every path out. Returns the body size.
    ///
    /// # Errors
    /// As [`ExchangeSender::send_binary_file`](crate::ExchangeSender::send_binary_file).
    pub fn send_binary_file<P: AsRef<Path>>(&mut self, path: P, meta: &str) -> Result<u64> {
        self.outbound
            .send_binary_file(&mut self.stream, path.as_ref(), meta)
    }
}
