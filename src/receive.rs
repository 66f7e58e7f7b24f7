//! The receiving side: [`Receiver`], [`ExchangeHandler`], [`receive_all`].

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

use crate::decoder::{Decoded, Decoder, Limits};
use crate::error::{is_timeout_kind, Direction, Error, ErrorChain, Result};
use crate::processor::{DataProcessor, Exchange, MsgDataProcessor};
use crate::progress::{Progress, ProgressFn, Reporter};
use crate::wire::ContentType;
use crate::DEFAULT_BLOCK_SIZE;

/// A source of bytes from the peer: Python's `Receiver`, whose `recv` a
/// socket has. Every [`std::io::Read`] is one (`TcpStream`, `File`,
/// `&[u8]`, `Cursor`, a TLS stream…), and so is `&mut` of one.
pub trait Receiver {
    /// Reads up to `buf.len()` bytes into `buf`; 0 means the stream ended.
    ///
    /// # Errors
    /// Any I/O error. [`io::ErrorKind::Interrupted`] is retried by the
    /// handler; [`io::ErrorKind::UnexpectedEof`] is the end of the stream
    /// (as a TLS stream reports a close without `close_notify`); a timeout
    /// before the first byte of an exchange is [`Error::Idle`]; any other
    /// error ends the exchange.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;
}

impl<R: Read + ?Sized> Receiver for R {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf)
    }
}

/// The first read of an exchange, and the most a buffer keeps between
/// exchanges: 8 KiB. Reads double from here, while they come back full, up
/// to the block size.
pub(crate) const INITIAL_BUFFER: usize = 8 * 1024;

/// The buffer's first step up from [`INITIAL_BUFFER`]; the next is the
/// largest read (the block size, or what is left of a body). Fresh buffers at each doubling of the reads (16, 32, 64,
/// 128, 256 KiB), allocated while a large text grew beside them, split
/// the heap so that glibc's allocator gave it back to the kernel after
/// each exchange, in some runs: every 1 MiB text receive then faulted in
/// 1.8 MiB of fresh pages (458 page faults, twice the time).
const GROWN_BUFFER: usize = 64 * 1024;

/// The receiving state, without the stream: the decoder, the read buffer
/// and the settings. [`ExchangeHandler`] and [`Connection`](crate::Connection)
/// each own one beside their stream.
pub(crate) struct Inbound {
    decoder: Decoder,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    /// The next read's size while reads come back full; grows to `block_size`.
    window: usize,
    block_size: usize,
    read_ahead: bool,
    progress: Option<ProgressFn>,
    reporter: Reporter,
    /// Set once the current exchange was read to its last byte.
    consumed: bool,
    /// Set by an error inside an exchange: the earlier error, in words.
    out_of_step: Option<Arc<str>>,
    /// Set while an exchange is being received: still set at the next call
    /// only if a processor or progress callback panicked part-way (and the
    /// panic was caught), which leaves the stream in the exchange's middle.
    running: bool,
}

impl fmt::Debug for Inbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbound")
            .field("limits", &self.decoder.limits())
            .field("block_size", &self.block_size)
            .field("read_ahead", &self.read_ahead)
            .field("buffered", &self.buffered().len())
            .field("out_of_step", &self.out_of_step)
            .finish_non_exhaustive()
    }
}

impl Inbound {
    pub(crate) fn new(read_ahead: bool, buffered: Vec<u8>) -> Self {
        Inbound {
            decoder: Decoder::new(),
            filled: buffered.len(),
            buf: buffered,
            pos: 0,
            window: INITIAL_BUFFER,
            block_size: DEFAULT_BLOCK_SIZE,
            read_ahead,
            progress: None,
            reporter: Reporter::default(),
            consumed: false,
            out_of_step: None,
            running: false,
        }
    }

    pub(crate) fn set_limits(&mut self, limits: Limits) {
        self.decoder.set_limits(limits);
    }

    pub(crate) fn set_block_size(&mut self, block_size: usize) {
        self.block_size = block_size.max(1);
        self.window = INITIAL_BUFFER.min(self.block_size);
    }

    pub(crate) fn set_read_ahead(&mut self, read_ahead: bool) {
        self.read_ahead = read_ahead;
    }

    pub(crate) fn set_progress(&mut self, progress: Option<ProgressFn>) {
        self.progress = progress;
    }

    pub(crate) fn limits(&self) -> Limits {
        self.decoder.limits()
    }

    /// False once an error stopped an exchange in the middle.
    pub(crate) fn is_usable(&self) -> bool {
        self.out_of_step.is_none() && !self.running
    }

    /// The error every receive returns while out of step, if it is.
    pub(crate) fn refusal(&self) -> Option<Error> {
        self.out_of_step.as_ref().map(|earlier| Error::OutOfStep {
            direction: Direction::Receive,
            earlier: Arc::clone(earlier),
        })
    }

    /// Puts receiving out of step for `e`, an error the caller makes of a
    /// receive that left the stream at a boundary (a reply that timed out).
    pub(crate) fn stop(&mut self, e: &Error) {
        self.out_of_step = Some(ErrorChain(e).to_string().into());
    }

    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    pub(crate) fn into_buffered(mut self) -> Vec<u8> {
        self.buf.truncate(self.filled);
        self.buf.drain(..self.pos);
        self.buf
    }

    /// Receives one exchange; `progress`, when given, is called instead of
    /// the callback kept for every exchange.
    pub(crate) fn receive_and_parse<R, P>(
        &mut self,
        receiver: &mut R,
        processor: &mut P,
        mut progress: Option<&mut dyn FnMut(Progress)>,
    ) -> Result<P::Output>
    where
        R: Receiver + ?Sized,
        P: DataProcessor + ?Sized,
    {
        if self.running {
            self.running = false;
            self.out_of_step = Some(Arc::from("an earlier receive panicked part-way"));
        }
        if let Some(earlier) = &self.out_of_step {
            return Err(Error::OutOfStep {
                direction: Direction::Receive,
                earlier: Arc::clone(earlier),
            });
        }
        self.decoder.reset();
        self.reporter.reset();
        self.consumed = false;
        let mut started = false;
        self.running = true;
        let result = self.run(receiver, processor, &mut started, &mut progress);
        self.running = false;
        if let Err(e) = &result {
            if started {
                processor.abort();
            }
            // Unless nothing of the exchange was read, or all of it, the
            // stream is now in its middle.
            if !(self.decoder.is_at_start() || self.consumed) {
                self.out_of_step = Some(ErrorChain(e).to_string().into());
            }
            self.decoder.reset();
        }
        self.settle();
        result
    }

    /// Between exchanges: the next read starts small again, and a grown
    /// buffer is given back, keeping only what was read ahead, so that an
    /// idle stream holds at most [`INITIAL_BUFFER`] bytes (or its read-ahead).
    fn settle(&mut self) {
        self.window = INITIAL_BUFFER.min(self.block_size);
        let rest = self.filled - self.pos;
        if self.buf.len() > INITIAL_BUFFER && rest <= INITIAL_BUFFER {
            self.buf = self.buf[self.pos..self.filled].to_vec();
            self.pos = 0;
            self.filled = rest;
        }
    }

    fn fill<R: Receiver + ?Sized>(&mut self, receiver: &mut R) -> Result<()> {
        let limit = if self.read_ahead {
            self.block_size
        } else {
            self.block_size.min(self.decoder.read_limit())
        };
        let want = limit.min(self.window);
        if self.buf.len() < want {
            // Everything in the buffer was consumed: a fresh one, not a
            // copy of the old; past the first read's, in two steps at most
            // (see GROWN_BUFFER).
            let size = match want {
                _ if want <= INITIAL_BUFFER => want,
                _ if want <= GROWN_BUFFER => GROWN_BUFFER.min(limit),
                _ => limit,
            };
            self.buf = vec![0; size];
        }
        self.pos = 0;
        self.filled = 0;
        let n = loop {
            match receiver.recv(&mut self.buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A TLS stream closed without close_notify: the end of the
                // stream, clean between exchanges, a truncation inside one.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break 0,
                Err(e) if is_timeout_kind(e.kind()) && self.decoder.is_at_start() => {
                    return Err(Error::Idle(e))
                }
                Err(e) if is_timeout_kind(e.kind()) => {
                    let (section, got) = self.decoder.position();
                    return Err(Error::TimedOut {
                        section,
                        got,
                        source: e,
                    });
                }
                Err(e) => return Err(Error::Io(e)),
            }
        };
        if n == 0 {
            self.decoder.eof()?;
        }
        // A receiver that claims more than it was given is treated as broken.
        if n > want {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                "receiver reported more bytes than the buffer holds",
            )));
        }
        if n == want && want == self.window {
            // The buffer was the limit: the stream has more to give.
            self.window = self.window.saturating_mul(2).min(self.block_size);
        }
        self.filled = n;
        Ok(())
    }

    fn run<R, P>(
        &mut self,
        receiver: &mut R,
        processor: &mut P,
        started: &mut bool,
        progress: &mut Option<&mut dyn FnMut(Progress)>,
    ) -> Result<P::Output>
    where
        R: Receiver + ?Sized,
        P: DataProcessor + ?Sized,
    {
        loop {
            if self.pos == self.filled {
                self.fill(receiver)?;
                if self.filled == 0 {
                    // Only reached when the decoder was already done.
                    return Err(Error::Io(io::ErrorKind::UnexpectedEof.into()));
                }
            }
            let footer_left = self.decoder.footer_left();
            let (used, decoded) = match self.decoder.decode(&self.buf[self.pos..self.filled]) {
                Ok(step) => step,
                Err(e) => {
                    // A checksum mismatch ends a complete exchange: the whole
                    // footer was taken. A bad end marker is not that: the
                    // sizes did not fit the bytes, so where the exchange
                    // ends is unknown, and receiving is out of step.
                    if let (Some(n), Error::ChecksumMismatch { .. }) = (footer_left, &e) {
                        self.pos += n;
                        self.consumed = true;
                    }
                    return Err(e);
                }
            };
            self.pos += used;
            match decoded {
                Decoded::NeedMore => continue,
                Decoded::Start(start) => {
                    *started = true;
                    processor.start(&start)?;
                }
                Decoded::Data(data) => {
                    let ct = self.decoder.content_type().unwrap_or(ContentType::Text);
                    processor.process(data, ct)?;
                }
                Decoded::End(end) => {
                    self.consumed = true;
                    self.report(progress);
                    return processor.finalize(&end);
                }
                // Not reached: the exchange returns at its end.
                Decoded::Finished => return Err(Error::Io(io::ErrorKind::UnexpectedEof.into())),
            }
            self.report(progress);
        }
    }

    /// Reports progress, if it changed, to the callback given for this
    /// exchange or else to the one kept.
    fn report(&mut self, scoped: &mut Option<&mut dyn FnMut(Progress)>) {
        let f: &mut dyn FnMut(Progress) = match (scoped, self.progress.as_mut()) {
            (Some(f), _) => &mut **f,
            (None, Some(f)) => f.as_mut(),
            (None, None) => return,
        };
        if let Some(progress) = self.decoder.progress() {
            self.reporter.report(f, progress);
        }
    }
}

/// Receives exchanges from a [`Receiver`] and hands them to a
/// [`DataProcessor`]: Python's `ExchangeHandler`, driving a sans-IO
/// [`Decoder`].
///
/// By default it reads no byte past the end of an exchange, so the stream
/// can be handed on afterwards. Binary sections have known sizes and are
/// read in blocks; text has no announced length, so it is read **one byte
/// per `read` call**: on an unbuffered socket a 1 MiB text reply costs a
/// million system calls. For a stream that carries more than one exchange,
/// use a [`Connection`](crate::Connection), which reads ahead and keeps what
/// belongs to the next exchange. With
/// [`read_ahead`](ExchangeHandler::read_ahead) this handler does the same,
/// and [`into_parts`](ExchangeHandler::into_parts) gives the extra bytes back.
///
/// Buffers grow as data arrives (reads double from 8 KiB while they come
/// back full, up to the block size) and shrink back after each exchange.
///
/// ```
/// use nvflare_hci::{ExchangeHandler, Exchange, MsgDataProcessor};
/// let wire: &[u8] = b"first\x04second\x04";
/// let mut handler = ExchangeHandler::new(wire).read_ahead(true);
/// let mut processor = MsgDataProcessor::new();
/// for expected in ["first", "second"] {
///     match handler.receive_and_parse(&mut processor)? {
///         Exchange::Text(text) => assert_eq!(text, expected),
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// # Ok::<(), nvflare_hci::Error>(())
/// ```
pub struct ExchangeHandler<R> {
    receiver: R,
    inbound: Inbound,
}

impl<R: fmt::Debug> fmt::Debug for ExchangeHandler<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeHandler")
            .field("receiver", &self.receiver)
            .field("inbound", &self.inbound)
            .finish()
    }
}

impl<R: Receiver> ExchangeHandler<R> {
    /// A handler with default [`Limits`], blocks of
    /// [`DEFAULT_BLOCK_SIZE`](crate::DEFAULT_BLOCK_SIZE), and no read-ahead.
    pub fn new(receiver: R) -> Self {
        Self::from_partially_read(receiver, Vec::new())
    }

    /// A handler that starts with `buffered`, bytes already read from
    /// `receiver` (e.g. the read-ahead of an earlier handler, from
    /// [`into_parts`](ExchangeHandler::into_parts)). Only the bytes carry
    /// over: it starts with the default [`Limits`] (bodies up to 64 GiB)
    /// and block size; set them again with [`limits`](ExchangeHandler::limits).
    pub fn from_partially_read(receiver: R, buffered: Vec<u8>) -> Self {
        ExchangeHandler {
            receiver,
            inbound: Inbound::new(false, buffered),
        }
    }

    /// Sets the limits on what the peer may send.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.inbound.set_limits(limits);
        self
    }

    /// Receives one exchange with a [`MsgDataProcessor`] spooling into the
    /// system temp dir.
    ///
    /// # Errors
    /// As [`receive_and_parse`](ExchangeHandler::receive_and_parse).
    pub fn receive_all(&mut self) -> Result<Exchange> {
        self.receive_and_parse(&mut MsgDataProcessor::new())
    }

    /// Receives one exchange and feeds it to `processor`: Python's
    /// `receive_and_parse`. Returns what the processor makes of it.
    ///
    /// # Errors
    /// [`Error::UnexpectedEof`] when the stream ends early (before any byte:
    /// see [`Error::is_clean_close`]), [`Error::LimitExceeded`],
    /// [`Error::InvalidUtf8`], [`Error::FooterMarker`],
    /// [`Error::ChecksumMismatch`], [`Error::Idle`] for a read timeout
    /// before the first byte, [`Error::Io`] for a failed read (a timeout
    /// inside the exchange included; `Interrupted` is retried), or the
    /// processor's error. On error the processor is aborted (the default
    /// processor deletes its temporary file). An error inside the exchange
    /// leaves the rest of it unread: every later call then fails at once
    /// with [`Error::OutOfStep`] ([`is_usable`](ExchangeHandler::is_usable)
    /// is false); see [`Error`] for which errors do that.
    pub fn receive_and_parse<P: DataProcessor + ?Sized>(
        &mut self,
        processor: &mut P,
    ) -> Result<P::Output> {
        self.inbound
            .receive_and_parse(&mut self.receiver, processor, None)
    }
}

impl<R> ExchangeHandler<R> {
    /// Sets the largest read, in bytes (at least 1; default 256 KiB).
    pub fn block_size(mut self, block_size: usize) -> Self {
        self.inbound.set_block_size(block_size);
        self
    }

    /// Reads whole blocks even past the end of an exchange, keeping the
    /// extra bytes for the next one. Faster for text; the extra bytes belong
    /// to this handler (see [`into_parts`](ExchangeHandler::into_parts)).
    pub fn read_ahead(mut self, read_ahead: bool) -> Self {
        self.inbound.set_read_ahead(read_ahead);
        self
    }

    /// Calls `f` as content arrives: once at the start (0 bytes done), after
    /// every piece, and at the end.
    pub fn on_progress<F: FnMut(Progress) + Send + 'static>(mut self, f: F) -> Self {
        self.inbound.set_progress(Some(Box::new(f)));
        self
    }

    /// True unless an error stopped an exchange in the middle, after which
    /// every call fails with [`Error::OutOfStep`].
    pub fn is_usable(&self) -> bool {
        self.inbound.is_usable()
    }

    /// The receiver.
    pub fn get_ref(&self) -> &R {
        &self.receiver
    }

    /// The receiver, mutably. Reading from it directly skips any bytes this
    /// handler has buffered.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.receiver
    }

    /// Bytes read from the receiver but not yet part of an exchange.
    pub fn buffered(&self) -> &[u8] {
        self.inbound.buffered()
    }

    /// The receiver; any buffered bytes are dropped (there are none unless
    /// [`read_ahead`](ExchangeHandler::read_ahead) is on).
    pub fn into_inner(self) -> R {
        self.receiver
    }

    /// The receiver and the bytes read ahead from it, which come before
    /// anything still in the receiver.
    pub fn into_parts(self) -> (R, Vec<u8>) {
        (self.receiver, self.inbound.into_buffered())
    }
}

/// Receives one exchange with the default [`MsgDataProcessor`]: Python's
/// `receive_all`, returning an [`Exchange`] instead of a tuple.
///
/// A one-shot call, for a stream that carries this one exchange or that is
/// handed on afterwards: it reads no byte past the end of the exchange, so
/// text is read one byte per `read` call (a 1 MiB text reply on an
/// unbuffered `TcpStream` is a million system calls; Python's version reads
/// 1 KiB at a time and drops what follows the text). For replies on a
/// socket, and for anything that carries more than one exchange, use a
/// [`Connection`](crate::Connection), which reads in blocks and keeps what
/// it read ahead; or pass a `BufReader`.
///
/// ```
/// use nvflare_hci::{receive_all, send_binary_data, Exchange};
/// use std::io::Read;
/// let mut wire = Vec::new();
/// send_binary_data(&mut wire, &b"job bytes"[..], r#"{"cmd":"submit_job"}"#)?;
/// match receive_all(&wire[..])? {
///     Exchange::Binary { meta, mut body } => {
///         assert_eq!(meta, r#"{"cmd":"submit_job"}"#);
///         let mut content = Vec::new();
///         body.read_to_end(&mut content)?;
///         assert_eq!(content, b"job bytes");
///     } // the body's temp file is deleted here
///     Exchange::Text(_) => unreachable!(),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`ExchangeHandler::receive_and_parse`].
pub fn receive_all<R: Receiver>(receiver: R) -> Result<Exchange> {
    ExchangeHandler::new(receiver).receive_all()
}
