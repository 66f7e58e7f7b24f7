//! [`Connection`]: one stream, both directions, the read-ahead kept between
//! exchanges; [`Duplex`]: one stream made of a reader and a writer.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::decoder::Limits;
use crate::error::{Error, Result};
use crate::processor::{DataProcessor, Exchange, MsgDataProcessor};
use crate::progress::Progress;
use crate::receive::{Inbound, Receiver};
use crate::send::{DataGenerator, Outbound, Sender, Sent};

/// A stream that carries exchanges both ways: a `TcpStream`, a
/// `&TcpStream`, a TLS stream, or, in tests, a [`Duplex`] of separate read
/// and write halves ([`Connection::from_halves`]).
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
/// # After an error
///
/// Each direction stays in step with the peer as long as every exchange
/// is read or written whole. An error at an exchange boundary (a clean
/// close, an idle timeout, a checksum mismatch once the footer is read, a
/// processor that fails in `finalize`, text that cannot be sent) leaves the
/// connection usable. An error inside an exchange (a limit at a header, a
/// bad footer marker, a timeout or a processor failure mid-body, a
/// processor or progress callback that panics, a send that fails after its
/// header went out) leaves that direction out of step: every later call in
/// that direction fails at once with [`Error::OutOfStep`](crate::Error::OutOfStep),
/// naming the first error, and neither reads nor writes. The other
/// direction is still in step, so a server can still send an error reply
/// before it drops the connection. [`is_usable`](Connection::is_usable),
/// [`can_receive`](Connection::can_receive) and
/// [`can_send`](Connection::can_send) tell which case it is.
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
    ///
    /// `stream` must read what the peer sends and write to the peer. An
    /// in-memory `Cursor<Vec<u8>>` does not: it reads where it writes, so
    /// replies overwrite requests not yet read (small ones seem to work,
    /// since the connection reads 8 KiB ahead). For tests, give the two
    /// halves to [`from_halves`](Connection::from_halves).
    pub fn new(stream: S) -> Self {
        Self::from_partially_read(stream, Vec::new())
    }

    /// A connection over `stream` that starts with `buffered`, bytes already
    /// read from it (e.g. from [`into_parts`](Connection::into_parts) or
    /// [`ExchangeHandler::into_parts`](crate::ExchangeHandler::into_parts)).
    ///
    /// Only the bytes carry over, not the settings: like
    /// [`new`](Connection::new), it starts with the default [`Limits`]
    /// (bodies up to 64 GiB), block sizes and no progress callback. Set
    /// them again, from the old connection's if it had others:
    ///
    /// ```
    /// use nvflare_hci::{Connection, Limits};
    /// let old = Connection::from_halves(&b"a\x04b\x04"[..], Vec::new())
    ///     .limits(Limits::default().with_max_body_size(1 << 20));
    /// let limits = old.get_limits();
    /// let (stream, buffered) = old.into_parts();
    /// let again = Connection::from_partially_read(stream, buffered);
    /// assert_eq!(again.get_limits(), Limits::default()); // not carried over
    /// let again = again.limits(limits);
    /// assert_eq!(again.get_limits().max_body_size, 1 << 20);
    /// ```
    pub fn from_partially_read(stream: S, buffered: Vec<u8>) -> Self {
        Connection {
            stream,
            inbound: Inbound::new(true, buffered),
            outbound: Outbound::new(),
        }
    }

    /// Receives one exchange with a [`MsgDataProcessor`] spooling bodies
    /// into the system temp dir. Text comes with its `LINE_END`s removed,
    /// as in Python: lines sent with `send_lines` arrive joined.
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
    /// when it ends between exchanges, a TLS close without `close_notify`
    /// included), [`Error::Idle`](crate::Error::Idle) when a read timed out
    /// before the exchange began, a limit, a bad footer, an I/O error, or
    /// the processor's. On error the processor is aborted. An error inside
    /// the exchange leaves receiving [out of step](Connection#after-an-error):
    /// every later receive fails with [`Error::OutOfStep`](crate::Error::OutOfStep).
    pub fn receive_and_parse<P: DataProcessor + ?Sized>(
        &mut self,
        processor: &mut P,
    ) -> Result<P::Output> {
        self.inbound
            .receive_and_parse(&mut self.stream, processor, None)
    }

    /// Receives one exchange as [`receive_and_parse`](Connection::receive_and_parse)
    /// does, reporting its progress to `progress` (instead of the callback
    /// set with [`on_receive_progress`](Connection::on_receive_progress)).
    /// The callback may borrow: it lives for this call only.
    ///
    /// ```
    /// use nvflare_hci::{Connection, MsgDataProcessor};
    /// let mut wire = Vec::new();
    /// nvflare_hci::send_binary_data(&mut wire, &[0u8; 100_000][..], "upload")?;
    /// let mut conn = Connection::from_halves(&wire[..], Vec::new());
    /// let mut seen = Vec::new();
    /// conn.receive_with_progress(&mut MsgDataProcessor::new(), |p| seen.push(p.done))?;
    /// assert_eq!((seen[0], *seen.last().unwrap()), (0, 100_000));
    /// # Ok::<(), nvflare_hci::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`receive_and_parse`](Connection::receive_and_parse).
    pub fn receive_with_progress<P, F>(
        &mut self,
        processor: &mut P,
        mut progress: F,
    ) -> Result<P::Output>
    where
        P: DataProcessor + ?Sized,
        F: FnMut(Progress),
    {
        self.inbound
            .receive_and_parse(&mut self.stream, processor, Some(&mut progress))
    }

    /// Sends `text` as a request and receives its reply, as one step: the
    /// client's call. Unlike [`send_text`](Connection::send_text) then
    /// [`receive`](Connection::receive), a read timeout while waiting for
    /// the reply is [`Error::ReplyTimedOut`](crate::Error::ReplyTimedOut),
    /// not [`Error::Idle`](crate::Error::Idle), and leaves receiving out of
    /// step: a reply that comes late can never be taken for the reply to the
    /// next request. Once receiving is out of step, a request is refused
    /// with [`Error::OutOfStep`](crate::Error::OutOfStep) before anything
    /// is sent.
    ///
    /// ```
    /// use nvflare_hci::Connection;
    /// let mut conn = Connection::from_halves(&b"2 jobs\x04"[..], Vec::new());
    /// assert_eq!(conn.request("list_jobs")?.as_text(), Some("2 jobs"));
    /// assert_eq!(conn.get_ref().writer(), b"list_jobs\x04");
    /// # Ok::<(), nvflare_hci::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`send_text`](Connection::send_text), then as
    /// [`receive`](Connection::receive), with
    /// [`Error::ReplyTimedOut`](crate::Error::ReplyTimedOut) for `Idle`.
    pub fn request(&mut self, text: &str) -> Result<Exchange> {
        self.check_reply()?;
        self.send_text(text)?;
        self.reply(&mut MsgDataProcessor::new())
    }

    /// Sends a text request and feeds its reply to `processor`, as
    /// [`request`](Connection::request) does.
    ///
    /// # Errors
    /// As [`request`](Connection::request), and the processor's.
    pub fn request_and_parse<P: DataProcessor + ?Sized>(
        &mut self,
        text: &str,
        processor: &mut P,
    ) -> Result<P::Output> {
        self.check_reply()?;
        self.send_text(text)?;
        self.reply(processor)
    }

    /// Sends a binary request, as [`send_binary_data`](Connection::send_binary_data),
    /// and receives its reply, as [`request`](Connection::request) does.
    /// Returns what was sent (to compare its CRC-32 with the reply's) and
    /// the reply.
    ///
    /// # Errors
    /// As [`send_binary_data`](Connection::send_binary_data), then as
    /// [`request`](Connection::request).
    pub fn request_binary_data<G: DataGenerator>(
        &mut self,
        generator: G,
        meta: &str,
    ) -> Result<(Sent, Exchange)> {
        self.check_reply()?;
        let sent = self.send_binary_data(generator, meta)?;
        Ok((sent, self.reply(&mut MsgDataProcessor::new())?))
    }

    /// Sends the file at `path` as a binary request, as
    /// [`send_binary_file`](Connection::send_binary_file), and receives its
    /// reply, as [`request`](Connection::request) does.
    ///
    /// # Errors
    /// As [`send_binary_file`](Connection::send_binary_file), then as
    /// [`request`](Connection::request).
    pub fn request_binary_file<P: AsRef<Path>>(
        &mut self,
        path: P,
        meta: &str,
    ) -> Result<(Sent, Exchange)> {
        self.check_reply()?;
        let sent = self.send_binary_file(path, meta)?;
        Ok((sent, self.reply(&mut MsgDataProcessor::new())?))
    }

    /// Before a request: a request whose reply cannot be received is not sent.
    fn check_reply(&self) -> Result<()> {
        self.inbound.refusal().map_or(Ok(()), Err)
    }

    /// Receives the reply to a request just sent: an idle timeout here is
    /// inside the request/reply pair, so it stops receiving.
    fn reply<P: DataProcessor + ?Sized>(&mut self, processor: &mut P) -> Result<P::Output> {
        match self.receive_and_parse(processor) {
            Err(Error::Idle(e)) => {
                let e = Error::ReplyTimedOut(e);
                self.inbound.stop(&e);
                Err(e)
            }
            other => other,
        }
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
    /// followed by `LINE_END`, the last by `ALL_END`. A receiver that drops
    /// `LINE_END`s (Python's, and [`receive`](Connection::receive)) reads
    /// them back as one string: `["ran x", "done"]` arrives as `"ran xdone"`
    /// unless it [keeps line ends](crate::MsgDataProcessor::keep_line_ends).
    /// No lines at all send the empty text (a lone `ALL_END`), as
    /// `send_text("")` does.
    ///
    /// ```
    /// use nvflare_hci::Connection;
    /// let mut conn = Connection::from_halves(&b""[..], Vec::new());
    /// conn.send_lines(Vec::<String>::new())?;
    /// assert_eq!(conn.get_ref().writer(), b"\x04");
    /// # Ok::<(), nvflare_hci::Error>(())
    /// ```
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
    /// bytes `generator` declares. Returns the body's size and CRC-32 ([`Sent`](crate::Sent)).
    ///
    /// # Errors
    /// As [`ExchangeSender::send_binary_data`](crate::ExchangeSender::send_binary_data).
    pub fn send_binary_data<G: DataGenerator>(&mut self, generator: G, meta: &str) -> Result<Sent> {
        self.outbound
            .send_binary_data(&mut self.stream, generator, meta, None)
    }

    /// Sends a binary exchange as [`send_binary_data`](Connection::send_binary_data)
    /// does, reporting its progress to `progress` (instead of the callback
    /// set with [`on_send_progress`](Connection::on_send_progress)). The
    /// callback may borrow: it lives for this call only.
    ///
    /// # Errors
    /// As [`send_binary_data`](Connection::send_binary_data).
    pub fn send_binary_data_with_progress<G, F>(
        &mut self,
        generator: G,
        meta: &str,
        mut progress: F,
    ) -> Result<Sent>
    where
        G: DataGenerator,
        F: FnMut(Progress),
    {
        self.outbound
            .send_binary_data(&mut self.stream, generator, meta, Some(&mut progress))
    }

    /// Sends the file at `path` as the body of a binary exchange; the file
    /// is closed on every path out. Returns the body's size and CRC-32 ([`Sent`](crate::Sent)).
    ///
    /// # Errors
    /// As [`ExchangeSender::send_binary_file`](crate::ExchangeSender::send_binary_file).
    pub fn send_binary_file<P: AsRef<Path>>(&mut self, path: P, meta: &str) -> Result<Sent> {
        self.outbound
            .send_binary_file(&mut self.stream, path.as_ref(), meta, None)
    }

    /// Sends a file as [`send_binary_file`](Connection::send_binary_file)
    /// does, reporting its progress to `progress`, which may borrow.
    ///
    /// # Errors
    /// As [`send_binary_file`](Connection::send_binary_file).
    pub fn send_binary_file_with_progress<P, F>(
        &mut self,
        path: P,
        meta: &str,
        mut progress: F,
    ) -> Result<Sent>
    where
        P: AsRef<Path>,
        F: FnMut(Progress),
    {
        self.outbound
            .send_binary_file(&mut self.stream, path.as_ref(), meta, Some(&mut progress))
    }
}

impl<R: Read, W: Write> Connection<Duplex<R, W>> {
    /// A connection that reads from `reader` and writes to `writer`: request
    /// bytes from a slice or a `Cursor`, replies into a `Vec<u8>`, for
    /// tests; or a `BufReader` and the other half of a split stream.
    ///
    /// ```
    /// use nvflare_hci::Connection;
    /// let mut conn = Connection::from_halves(&b"list_jobs\x04"[..], Vec::new());
    /// assert_eq!(conn.receive()?.as_text(), Some("list_jobs"));
    /// conn.send_text("ok")?;
    /// assert_eq!(conn.get_ref().writer(), b"ok\x04");
    /// # Ok::<(), nvflare_hci::Error>(())
    /// ```
    pub fn from_halves(reader: R, writer: W) -> Self {
        Self::new(Duplex::new(reader, writer))
    }
}

impl<S> Connection<S> {
    /// Sets the limits on what the peer may send.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.set_limits(limits);
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
        self.set_receive_block_size(block_size);
        self
    }

    /// Sets the size of each write, in bytes (at least 13; default 256 KiB).
    pub fn send_block_size(mut self, block_size: usize) -> Self {
        self.set_send_block_size(block_size);
        self
    }

    /// Calls `f` as content arrives: once at the start of an exchange, after
    /// every piece, and at the end. For one exchange only, with a callback
    /// that may borrow, see [`receive_with_progress`](Connection::receive_with_progress).
    pub fn on_receive_progress<F: FnMut(Progress) + Send + 'static>(mut self, f: F) -> Self {
        self.set_receive_progress(f);
        self
    }

    /// Calls `f` as body or text bytes are sent: once at the start of an
    /// exchange, after each block, and at the end.
    pub fn on_send_progress<F: FnMut(Progress) + Send + 'static>(mut self, f: F) -> Self {
        self.set_send_progress(f);
        self
    }

    /// The limits on what the peer may send.
    pub fn get_limits(&self) -> Limits {
        self.inbound.limits()
    }

    /// Changes the limits on what the peer may send, from the next exchange
    /// on: raise the body limit once a peer has logged in, say.
    pub fn set_limits(&mut self, limits: Limits) {
        self.inbound.set_limits(limits);
    }

    /// Changes the largest read, in bytes (at least 1).
    pub fn set_receive_block_size(&mut self, block_size: usize) {
        self.inbound.set_block_size(block_size);
    }

    /// Changes the size of each write, in bytes (at least 13).
    pub fn set_send_block_size(&mut self, block_size: usize) {
        self.outbound.set_block_size(block_size);
    }

    /// Calls `f` as content arrives, from the next exchange on, in place of
    /// any callback set before.
    pub fn set_receive_progress<F: FnMut(Progress) + Send + 'static>(&mut self, f: F) {
        self.inbound.set_progress(Some(Box::new(f)));
    }

    /// Removes the callback set for received content.
    pub fn clear_receive_progress(&mut self) {
        self.inbound.set_progress(None);
    }

    /// Calls `f` as content is sent, from the next exchange on, in place of
    /// any callback set before.
    pub fn set_send_progress<F: FnMut(Progress) + Send + 'static>(&mut self, f: F) {
        self.outbound.set_progress(Some(Box::new(f)));
    }

    /// Removes the callback set for sent content.
    pub fn clear_send_progress(&mut self) {
        self.outbound.set_progress(None);
    }

    /// True while both directions are in step with the peer: no error
    /// stopped an exchange in the middle. See [`Connection#after-an-error`].
    pub fn is_usable(&self) -> bool {
        self.can_receive() && self.can_send()
    }

    /// True while receiving is in step: no error stopped a received
    /// exchange in the middle.
    pub fn can_receive(&self) -> bool {
        self.inbound.is_usable()
    }

    /// True while sending is in step: no error stopped a sent exchange after
    /// its first bytes went out.
    pub fn can_send(&self) -> bool {
        self.outbound.is_usable()
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
    /// anything still in the stream. The settings (limits, block sizes,
    /// progress) stay behind: [`from_partially_read`](Connection::from_partially_read)
    /// starts with the defaults.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.inbound.into_buffered())
    }
}

/// One stream made of two halves: reads go to `R`, writes to `W`. For a
/// [`Connection`] over memory in tests (request bytes in a slice or a
/// `Cursor`, replies into a `Vec<u8>`), or over a stream split in two (a
/// `BufReader` of one handle, the other handle for writes).
///
/// ```
/// use nvflare_hci::{Connection, Duplex};
/// use std::io::Cursor;
/// let conn = Connection::new(Duplex::new(Cursor::new(b"hi\x04".to_vec()), Vec::new()));
/// let (requests, replies) = conn.into_parts().0.into_inner();
/// assert_eq!((requests.position(), replies.len()), (0, 0));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Duplex<R, W> {
    reader: R,
    writer: W,
}

impl<R, W> Duplex<R, W> {
    /// A stream that reads from `reader` and writes to `writer`.
    pub fn new(reader: R, writer: W) -> Self {
        Duplex { reader, writer }
    }

    /// The reading half.
    pub fn reader(&self) -> &R {
        &self.reader
    }

    /// The reading half, mutably.
    pub fn reader_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// The writing half: the replies, when it is a `Vec<u8>`.
    pub fn writer(&self) -> &W {
        &self.writer
    }

    /// The writing half, mutably.
    pub fn writer_mut(&mut self) -> &mut W {
        &mut self.writer
    }

    /// Both halves.
    pub fn into_inner(self) -> (R, W) {
        (self.reader, self.writer)
    }
}

impl<R: Read, W> Read for Duplex<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl<R, W: Write> Write for Duplex<R, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}
