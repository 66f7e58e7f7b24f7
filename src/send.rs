//! The sending side: [`Sender`], [`DataGenerator`], [`ExchangeSender`] and
//! the `send_*` functions.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use crate::error::{Direction, Error, ErrorChain, Limit, Result};
use crate::progress::{Progress, ProgressFn, Reporter};
use crate::receive::INITIAL_BUFFER;
use crate::wire::{
    ContentType, Footer, Header, ALL_END, BINARY_MARKER, FOOTER_LEN, HEADER_LEN, LINE_END,
};
use crate::DEFAULT_BLOCK_SIZE;

/// A progress callback given for one call.
type Scoped<'a> = Option<&'a mut dyn FnMut(Progress)>;

/// A sink of bytes to the peer: Python's `Sender`, whose `sendall` a socket
/// has. Every [`std::io::Write`] is one (`TcpStream`, `File`, `Vec<u8>`,
/// a TLS stream…), and so is `&mut` of one.
pub trait Sender {
    /// Sends all of `data`.
    ///
    /// # Errors
    /// Any I/O error; the exchange is then abandoned.
    fn sendall(&mut self, data: &[u8]) -> io::Result<()>;

    /// Called after the last byte of each exchange, so that buffered
    /// senders deliver it; a `Write` is flushed.
    ///
    /// # Errors
    /// Any I/O error.
    fn end_exchange(&mut self) -> io::Result<()>;
}

impl<W: Write + ?Sized> Sender for W {
    fn sendall(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_all(data)
    }

    fn end_exchange(&mut self) -> io::Result<()> {
        self.flush()
    }
}

/// A source of exactly [`data_size`](DataGenerator::data_size) body bytes:
/// Python's `DataGenerator`, filling the sender's buffer instead of
/// returning new `bytes` for each block.
pub trait DataGenerator {
    /// The body size to announce; asked once, before any byte is generated.
    fn data_size(&self) -> u64;

    /// Fills the start of `buf` with the next bytes and returns how many; 0
    /// means there are no more.
    ///
    /// # Errors
    /// Any I/O error ([`io::ErrorKind::Interrupted`] is retried); the
    /// exchange fails with [`Error::BodySource`].
    fn generate(&mut self, buf: &mut [u8]) -> io::Result<usize>;
}

impl<G: DataGenerator + ?Sized> DataGenerator for &mut G {
    fn data_size(&self) -> u64 {
        (**self).data_size()
    }

    fn generate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).generate(buf)
    }
}

/// Bytes in memory are a generator of themselves.
impl DataGenerator for &[u8] {
    fn data_size(&self) -> u64 {
        self.len() as u64
    }

    fn generate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.len());
        buf[..n].copy_from_slice(&self[..n]);
        *self = &self[n..];
        Ok(n)
    }
}

/// Generates a body from a file, announcing its size at opening: Python's
/// `GenerateDataFromFile`. The file is closed when this value is dropped,
/// whatever the outcome of the send. A file that grows or shrinks while it
/// is sent fails the exchange with [`Error::BodySizeMismatch`].
#[derive(Debug)]
pub struct GenerateDataFromFile {
    file: File,
    size: u64,
}

impl GenerateDataFromFile {
    /// Opens `path` and reads its size.
    ///
    /// # Errors
    /// The I/O error of opening or of `stat`.
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<Self> {
        Self::from_file(File::open(path)?)
    }

    /// Sends the rest of an open file, from its current position.
    ///
    /// # Errors
    /// The I/O error of `stat` or of finding the position.
    pub fn from_file(mut file: File) -> io::Result<Self> {
        use std::io::Seek;
        let len = file.metadata()?.len();
        let pos = file.stream_position()?;
        Ok(GenerateDataFromFile {
            file,
            size: len.saturating_sub(pos),
        })
    }
}

impl DataGenerator for GenerateDataFromFile {
    fn data_size(&self) -> u64 {
        self.size
    }

    fn generate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

/// Generates a body of `size` bytes from any reader (a pipe, a decompressor,
/// a socket…): at most `size` bytes are read from it. A reader that ends
/// early fails the exchange with [`Error::BodySizeMismatch`].
#[derive(Debug)]
pub struct GenerateDataFromReader<R> {
    reader: io::Take<R>,
    size: u64,
}

impl<R: Read> GenerateDataFromReader<R> {
    /// A body of the next `size` bytes of `reader`.
    pub fn new(reader: R, size: u64) -> Self {
        GenerateDataFromReader {
            reader: reader.take(size),
            size,
        }
    }

    /// The reader back.
    pub fn into_inner(self) -> R {
        self.reader.into_inner()
    }
}

impl<R: Read> DataGenerator for GenerateDataFromReader<R> {
    fn data_size(&self) -> u64 {
        self.size
    }

    fn generate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

/// The smallest block an [`ExchangeSender`] uses: a whole header, or a whole footer.
const MIN_BLOCK: usize = 1 + HEADER_LEN;

/// The sending state, without the sink: the block buffer and the settings.
/// [`ExchangeSender`] and [`Connection`](crate::Connection) each own one
/// beside their stream.
pub(crate) struct Outbound {
    block_size: usize,
    buf: Vec<u8>,
    fill: usize,
    progress: Option<ProgressFn>,
    reporter: Reporter,
    /// Set once a byte of the current exchange went to the sender.
    wrote: bool,
    /// Set by an error inside an exchange: the earlier error, in words.
    out_of_step: Option<Arc<str>>,
    /// Set while an exchange is being sent: still set at the next call only
    /// if a body source or progress callback panicked part-way (and the
    /// panic was caught), which leaves the peer in the exchange's middle.
    running: bool,
}

/// What a binary send put on the wire: the body's size and the CRC-32
/// written in its footer, to compare with what the peer says it received
/// (a server replying with [`BodyFile::checksum`](crate::BodyFile::checksum),
/// say).
///
/// ```
/// use nvflare_hci::{Connection, Exchange};
/// let mut wire = Vec::new();
/// let sent = nvflare_hci::send_binary_data(&mut wire, &b"job bytes"[..], "upload")?;
/// assert_eq!(sent.size, 9);
/// let mut conn = Connection::from_halves(&wire[..], Vec::new());
/// if let Exchange::Binary { body, .. } = conn.receive()? {
///     assert_eq!(body.checksum(), sent.crc32);
/// }
/// # Ok::<(), nvflare_hci::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Sent {
    /// The body's size in bytes, as announced in the header and sent.
    pub size: u64,
    /// zlib's CRC-32 of the body, as sent in the footer (0 for an empty body).
    pub crc32: u32,
}

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbound")
            .field("block_size", &self.block_size)
            .field("out_of_step", &self.out_of_step)
            .finish_non_exhaustive()
    }
}

impl Outbound {
    pub(crate) fn new() -> Self {
        Outbound {
            block_size: DEFAULT_BLOCK_SIZE,
            buf: Vec::new(),
            fill: 0,
            progress: None,
            reporter: Reporter::default(),
            wrote: false,
            out_of_step: None,
            running: false,
        }
    }

    pub(crate) fn set_block_size(&mut self, block_size: usize) {
        self.block_size = block_size.max(MIN_BLOCK);
        self.buf = Vec::new();
    }

    pub(crate) fn set_progress(&mut self, progress: Option<ProgressFn>) {
        self.progress = progress;
    }

    /// False once an error stopped an exchange in the middle.
    pub(crate) fn is_usable(&self) -> bool {
        self.out_of_step.is_none() && !self.running
    }

    // The exchanges, as documented on `ExchangeSender`. Each gives a grown
    // buffer back when it ends, however it ends; `progress`, when given, is
    // called instead of the callback kept for every exchange.

    pub(crate) fn send_binary_data<S: Sender + ?Sized, G: DataGenerator>(
        &mut self,
        sender: &mut S,
        generator: G,
        meta: &str,
        mut progress: Scoped<'_>,
    ) -> Result<Sent> {
        self.guarded(|this| this.binary(sender, generator, meta, &mut progress))
    }

    pub(crate) fn send_binary_file<S: Sender + ?Sized>(
        &mut self,
        sender: &mut S,
        path: &Path,
        meta: &str,
        progress: Scoped<'_>,
    ) -> Result<Sent> {
        self.check_in_step()?;
        let generator = GenerateDataFromFile::open(path).map_err(Error::BodySource)?;
        self.send_binary_data(sender, generator, meta, progress)
    }

    pub(crate) fn send_text<S: Sender + ?Sized>(
        &mut self,
        sender: &mut S,
        text: &str,
    ) -> Result<()> {
        self.guarded(|this| this.text(sender, text, &mut None))
    }

    pub(crate) fn send_lines<S, I>(&mut self, sender: &mut S, lines: I) -> Result<()>
    where
        S: Sender + ?Sized,
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.guarded(|this| this.lines(sender, lines, &mut None))
    }

    /// Before an exchange: refuses when out of step, else starts afresh.
    fn check_in_step(&mut self) -> Result<()> {
        if self.running {
            self.running = false;
            self.out_of_step = Some(Arc::from("an earlier send panicked part-way"));
        }
        if let Some(earlier) = &self.out_of_step {
            return Err(Error::OutOfStep {
                direction: Direction::Send,
                earlier: Arc::clone(earlier),
            });
        }
        self.wrote = false;
        self.reporter.reset();
        Ok(())
    }

    /// Sends one exchange with `send`, when in step; marked as running
    /// meanwhile (see `running`).
    fn guarded<T>(&mut self, send: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.check_in_step()?;
        self.running = true;
        let sent = send(self);
        self.running = false;
        self.end(sent)
    }

    /// After an exchange: an error once bytes went out leaves the peer in
    /// the middle of an exchange.
    fn end<T>(&mut self, sent: Result<T>) -> Result<T> {
        if let Err(e) = &sent {
            if self.wrote {
                self.out_of_step = Some(ErrorChain(e).to_string().into());
            }
        }
        self.release();
        sent
    }

    /// After an exchange: a buffer grown past [`INITIAL_BUFFER`] is freed,
    /// so that an idle stream does not hold a whole block.
    fn release(&mut self) {
        self.fill = 0;
        if self.buf.len() > INITIAL_BUFFER {
            self.buf = Vec::new();
        }
    }

    fn binary<S: Sender + ?Sized, G: DataGenerator>(
        &mut self,
        sender: &mut S,
        mut generator: G,
        meta: &str,
        progress: &mut Scoped<'_>,
    ) -> Result<Sent> {
        let declared = generator.data_size();
        let meta_size = u32::try_from(meta.len()).map_err(|_| Error::LimitExceeded {
            what: Limit::MetaSize,
            size: meta.len() as u64,
            max: u32::MAX.into(),
        })?;
        let wire_len = (1 + HEADER_LEN + FOOTER_LEN) as u64 + u64::from(meta_size);
        self.begin(wire_len.saturating_add(declared));
        let header = Header {
            meta_size,
            body_size: declared,
        };
        self.put(sender, &[BINARY_MARKER])?;
        self.put(sender, &header.encode())?;
        self.put(sender, meta.as_bytes())?;
        self.report(progress, ContentType::Binary, 0, Some(declared));

        let mut crc = crc32fast::Hasher::new();
        let mut sent: u64 = 0;
        while sent < declared {
            if self.fill == self.buf.len() {
                self.write_block(sender)?;
            }
            let room = self.buf.len() - self.fill;
            let want = usize::try_from(declared - sent).map_or(room, |left| left.min(room));
            let slot = &mut self.buf[self.fill..self.fill + want];
            let n = generate(&mut generator, slot)?;
            if n == 0 {
                return Err(Error::BodySizeMismatch {
                    declared,
                    generated: sent,
                });
            }
            crc.update(&slot[..n]);
            self.fill += n;
            sent += n as u64;
            if self.fill == self.buf.len() || sent == declared {
                self.report(progress, ContentType::Binary, sent, Some(declared));
            }
        }
        let mut probe = [0u8; 1];
        if generate(&mut generator, &mut probe)? != 0 {
            return Err(Error::BodySizeMismatch {
                declared,
                generated: declared + 1,
            });
        }
        let crc32 = crc.finalize();
        self.put(sender, &Footer::for_checksum(crc32).encode())?;
        self.finish(sender)?;
        Ok(Sent { size: sent, crc32 })
    }

    fn text<S: Sender + ?Sized>(
        &mut self,
        sender: &mut S,
        text: &str,
        progress: &mut Scoped<'_>,
    ) -> Result<()> {
        check_text(text.as_bytes(), true, false)?;
        let total = text.len() as u64;
        self.begin(total + 1);
        self.report(progress, ContentType::Text, 0, Some(total));
        self.put(sender, text.as_bytes())?;
        self.put(sender, &[ALL_END])?;
        self.finish(sender)?;
        self.report(progress, ContentType::Text, total, Some(total));
        Ok(())
    }

    fn lines<S: Sender + ?Sized, I>(
        &mut self,
        sender: &mut S,
        lines: I,
        progress: &mut Scoped<'_>,
    ) -> Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let lines: Vec<I::Item> = lines.into_iter().collect();
        let mut total = 0u64;
        for (i, line) in lines.iter().enumerate() {
            check_text(line.as_ref().as_bytes(), i == 0, true)?;
            total += line.as_ref().len() as u64 + u64::from(i > 0);
        }
        self.begin(total + 1);
        self.report(progress, ContentType::Text, 0, Some(total));
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                self.put(sender, &[LINE_END])?;
            }
            self.put(sender, line.as_ref().as_bytes())?;
        }
        self.put(sender, &[ALL_END])?;
        self.finish(sender)?;
        self.report(progress, ContentType::Text, total, Some(total));
        Ok(())
    }

    /// Readies the block buffer for an exchange of `total` bytes on the wire.
    fn begin(&mut self, total: u64) {
        let want = usize::try_from(total).map_or(self.block_size, |t| t.min(self.block_size));
        if self.buf.len() < want {
            self.buf = vec![0; want];
        }
        self.fill = 0;
    }

    /// Appends to the block, writing each block as it fills.
    fn put<S: Sender + ?Sized>(&mut self, sender: &mut S, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            if self.fill == self.buf.len() {
                self.write_block(sender)?;
            }
            let n = (self.buf.len() - self.fill).min(data.len());
            self.buf[self.fill..self.fill + n].copy_from_slice(&data[..n]);
            self.fill += n;
            data = &data[n..];
        }
        Ok(())
    }

    fn write_block<S: Sender + ?Sized>(&mut self, sender: &mut S) -> Result<()> {
        let fill = std::mem::replace(&mut self.fill, 0);
        self.wrote = true;
        sender.sendall(&self.buf[..fill]).map_err(Error::Io)?;
        Ok(())
    }

    fn finish<S: Sender + ?Sized>(&mut self, sender: &mut S) -> Result<()> {
        if self.fill > 0 {
            self.write_block(sender)?;
        }
        sender.end_exchange().map_err(Error::Io)?;
        Ok(())
    }

    /// Reports progress, unless unchanged, to the callback given for this
    /// exchange or else to the one kept.
    fn report(
        &mut self,
        scoped: &mut Scoped<'_>,
        content_type: ContentType,
        done: u64,
        total: Option<u64>,
    ) {
        let f: &mut dyn FnMut(Progress) = match (scoped, self.progress.as_mut()) {
            (Some(f), _) => &mut **f,
            (None, Some(f)) => f.as_mut(),
            (None, None) => return,
        };
        let progress = Progress {
            content_type,
            done,
            total,
        };
        self.reporter.report(f, progress);
    }
}

/// Sends exchanges to a [`Sender`], writing whole blocks.
///
/// Marker, header, meta, the body and the footer go through one buffer of
/// [`block_size`](ExchangeSender::block_size) bytes (default 256 KiB): an
/// exchange that fits is one write (no Nagle stall on a reused
/// connection), a larger one is a write per block. The body is never sent
/// past its declared size. The buffer is sized for each exchange and given
/// back after it, when larger than 8 KiB.
///
/// ```
/// use nvflare_hci::{ExchangeSender, receive_all};
/// let mut sender = ExchangeSender::new(Vec::new()).block_size(64 * 1024);
/// sender.send_lines(["{\"status\":\"ok\"}", "{\"data\":1}"])?;
/// let wire = sender.into_inner();
/// assert_eq!(wire, b"{\"status\":\"ok\"}\x03{\"data\":1}\x04");
/// let text = receive_all(&wire[..])?.into_text().unwrap();
/// assert_eq!(text, "{\"status\":\"ok\"}{\"data\":1}"); // LINE_END removed, as Python
/// # Ok::<(), nvflare_hci::Error>(())
/// ```
pub struct ExchangeSender<S> {
    sender: S,
    outbound: Outbound,
}

impl<S: fmt::Debug> fmt::Debug for ExchangeSender<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeSender")
            .field("sender", &self.sender)
            .field("outbound", &self.outbound)
            .finish()
    }
}

impl<S: Sender> ExchangeSender<S> {
    /// A sender with blocks of [`DEFAULT_BLOCK_SIZE`](crate::DEFAULT_BLOCK_SIZE).
    pub fn new(sender: S) -> Self {
        ExchangeSender {
            sender,
            outbound: Outbound::new(),
        }
    }

    /// Sends a binary exchange: `meta` (empty for none) and the body that
    /// `generator` produces. Returns the body's size and CRC-32 ([`Sent`](crate::Sent)).
    ///
    /// The generator must produce exactly its declared size. If it produces
    /// less, the exchange stops without a footer (and, when everything would
    /// have fit in one block, nothing at all was sent); if it produces more,
    /// the surplus is neither sent nor followed by a footer.
    ///
    /// # Errors
    /// [`Error::BodySizeMismatch`], [`Error::LimitExceeded`] for a meta over
    /// 4 GiB, [`Error::BodySource`] when the generator fails, [`Error::Io`]
    /// when sending fails. An error after the first block went out leaves
    /// the peer inside the exchange: every later call then fails at once
    /// with [`Error::OutOfStep`] ([`is_usable`](ExchangeSender::is_usable)
    /// is false). An error before it leaves the sender usable.
    pub fn send_binary_data<G: DataGenerator>(&mut self, generator: G, meta: &str) -> Result<Sent> {
        self.outbound
            .send_binary_data(&mut self.sender, generator, meta, None)
    }

    /// Sends the file at `path` as the body of a binary exchange: Python's
    /// `send_binary_file`. The file is closed on every path out.
    ///
    /// # Errors
    /// [`Error::BodySource`] when the file cannot be opened or read, and as
    /// [`send_binary_data`](ExchangeSender::send_binary_data).
    pub fn send_binary_file<P: AsRef<Path>>(&mut self, path: P, meta: &str) -> Result<Sent> {
        self.outbound
            .send_binary_file(&mut self.sender, path.as_ref(), meta, None)
    }

    /// Sends `text` followed by `ALL_END` as a text exchange. `text` may hold
    /// `LINE_END`s; the empty text is just `ALL_END`.
    ///
    /// # Errors
    /// [`Error::InvalidText`] if `text` holds `ALL_END` or starts with the
    /// binary marker (`0x01`); nothing is sent then. [`Error::Io`] when
    /// sending fails, and [`Error::OutOfStep`], as
    /// [`send_binary_data`](ExchangeSender::send_binary_data).
    pub fn send_text(&mut self, text: &str) -> Result<()> {
        self.outbound.send_text(&mut self.sender, text)
    }

    /// Sends lines as NVFlare's admin server does: each line but the last
    /// followed by `LINE_END`, the last by `ALL_END`.
    ///
    /// A receiver that drops `LINE_END`s, as Python's and
    /// [`MsgDataProcessor`](crate::MsgDataProcessor) by default, reads the
    /// lines back as one string: `["ran x", "done"]` arrives as
    /// `"ran xdone"` unless it [keeps line ends](crate::MsgDataProcessor::keep_line_ends).
    /// No lines at all send the empty text (a lone `ALL_END`), as
    /// `send_text("")` does.
    ///
    /// # Errors
    /// [`Error::InvalidText`] if a line holds `LINE_END` or `ALL_END`, or the
    /// first starts with the binary marker; nothing is sent then.
    /// [`Error::Io`] when sending fails, and [`Error::OutOfStep`], as
    /// [`send_binary_data`](ExchangeSender::send_binary_data).
    pub fn send_lines<I>(&mut self, lines: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.outbound.send_lines(&mut self.sender, lines)
    }
}

impl<S> ExchangeSender<S> {
    /// Sets the size of each write (at least 13 bytes; default 256 KiB).
    pub fn block_size(mut self, block_size: usize) -> Self {
        self.outbound.set_block_size(block_size);
        self
    }

    /// Calls `f` as body or text bytes are sent: once at the start, after
    /// each block and at the end.
    pub fn on_progress<F: FnMut(Progress) + Send + 'static>(mut self, f: F) -> Self {
        self.outbound.set_progress(Some(Box::new(f)));
        self
    }

    /// True unless an error stopped an exchange after its first bytes went
    /// out, after which every call fails with [`Error::OutOfStep`].
    pub fn is_usable(&self) -> bool {
        self.outbound.is_usable()
    }

    /// The sender.
    pub fn get_ref(&self) -> &S {
        &self.sender
    }

    /// The sender, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.sender
    }

    /// The sender back.
    pub fn into_inner(self) -> S {
        self.sender
    }
}

fn generate<G: DataGenerator>(generator: &mut G, buf: &mut [u8]) -> Result<usize> {
    loop {
        match generator.generate(buf) {
            Ok(n) if n <= buf.len() => return Ok(n),
            Ok(_) => {
                return Err(Error::BodySource(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "generator reported more bytes than the buffer holds",
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::BodySource(e)),
        }
    }
}

fn check_text(text: &[u8], first: bool, line: bool) -> Result<()> {
    if first && text.first() == Some(&BINARY_MARKER) {
        return Err(Error::InvalidText {
            byte: BINARY_MARKER,
            offset: 0,
        });
    }
    match text
        .iter()
        .position(|&b| b == ALL_END || (line && b == LINE_END))
    {
        Some(offset) => Err(Error::InvalidText {
            byte: text[offset],
            offset,
        }),
        None => Ok(()),
    }
}

/// Sends a binary exchange with a default [`ExchangeSender`]: Python's
/// `send_binary_data`. Returns the body's size and CRC-32 ([`Sent`](crate::Sent)).
///
/// ```
/// let mut wire = Vec::new();
/// nvflare_hci::send_binary_data(&mut wire, &b"hi"[..], "m")?;
/// assert_eq!(wire, [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, b'm', b'h', b'i',
///                   0, 0, 0, 0, 0xd8, 0x93, 0x2a, 0xac]);
/// # Ok::<(), nvflare_hci::Error>(())
/// ```
///
/// # Errors
/// As [`ExchangeSender::send_binary_data`].
pub fn send_binary_data<S: Sender, G: DataGenerator>(
    sender: S,
    generator: G,
    meta: &str,
) -> Result<Sent> {
    ExchangeSender::new(sender).send_binary_data(generator, meta)
}

/// Sends a file as a binary exchange with a default [`ExchangeSender`]:
/// Python's `send_binary_file`. Returns the body's size and CRC-32 ([`Sent`](crate::Sent)).
///
/// # Errors
/// As [`ExchangeSender::send_binary_file`].
pub fn send_binary_file<S: Sender, P: AsRef<Path>>(sender: S, path: P, meta: &str) -> Result<Sent> {
    ExchangeSender::new(sender).send_binary_file(path, meta)
}

/// Sends `text` then `ALL_END` with a default [`ExchangeSender`].
///
/// # Errors
/// As [`ExchangeSender::send_text`].
pub fn send_text<S: Sender>(sender: S, text: &str) -> Result<()> {
    ExchangeSender::new(sender).send_text(text)
}

/// Sends lines, NVFlare-style, with a default [`ExchangeSender`].
///
/// # Errors
/// As [`ExchangeSender::send_lines`].
pub fn send_lines<S: Sender, I>(sender: S, lines: I) -> Result<()>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    ExchangeSender::new(sender).send_lines(lines)
}
