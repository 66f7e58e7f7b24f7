//! Consumers of received exchanges: the [`DataProcessor`] trait and the
//! default, temp-file-backed [`MsgDataProcessor`].

use std::fmt;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;

use tempfile::NamedTempFile;

use crate::body::BodyFile;
use crate::decoder::{End, Start};
use crate::error::{Error, Result, Section};
use crate::wire::{find_byte, ContentType, LINE_END};

/// Consumes one exchange as an [`ExchangeHandler`](crate::ExchangeHandler)
/// parses it: [`start`](DataProcessor::start) once, then
/// [`process`](DataProcessor::process) for each piece of content, then either
/// [`finalize`](DataProcessor::finalize) (the exchange is complete and
/// verified) or [`abort`](DataProcessor::abort) (it failed). A processor may
/// be used for several exchanges in turn.
///
/// Python's `DataProcessor.process` returns whether the text ended; here the
/// handler finds `ALL_END` itself, and never passes it on.
///
/// The methods return this crate's [`Error`], not `io::Result` as
/// [`DataGenerator`](crate::DataGenerator) does: a generator is a byte
/// source like `Read`, but a processor judges the exchange too (the default
/// one refuses text that is not UTF-8, with [`Error::InvalidUtf8`]). Its own
/// I/O failures go in [`Error::Processor`], so that they are never taken for
/// a failure of the stream ([`Error::Io`]).
///
/// # Refusing one exchange and keeping the connection
///
/// Where a processor fails decides what is left of the stream. An error
/// from `start` or `process` stops the exchange in the middle, the rest of
/// it unread, so receiving is [out of step](crate::Connection#after-an-error)
/// afterwards: even for text, whose `ALL_END` was not read yet. To refuse
/// one exchange (an upload this user may not make, say) and go on, let it
/// be read whole, taking its bytes and dropping them, and return the error
/// from `finalize`: the stream is then at the next exchange, and the
/// connection stays usable.
///
/// ```
/// use nvflare_hci::{Connection, ContentType, DataProcessor, End, Error, Exchange,
///     MemoryProcessor, Result, Start};
///
/// /// Takes text; reads a binary exchange whole, then refuses it.
/// struct TextOnly { inner: MemoryProcessor, binary: bool }
///
/// impl DataProcessor for TextOnly {
///     type Output = Exchange<Vec<u8>>;
///     fn start(&mut self, start: &Start<'_>) -> Result<()> {
///         self.binary = start.content_type() == ContentType::Binary;
///         if self.binary { Ok(()) } else { self.inner.start(start) }
///     }
///     fn process(&mut self, data: &[u8], ct: ContentType) -> Result<()> {
///         if self.binary { Ok(()) } else { self.inner.process(data, ct) }
///     }
///     fn finalize(&mut self, end: &End) -> Result<Self::Output> {
///         if self.binary {
///             let refusal = std::io::Error::other("uploads are refused here");
///             return Err(Error::Processor(refusal));
///         }
///         self.inner.finalize(end)
///     }
///     fn abort(&mut self) { self.inner.abort() }
/// }
///
/// let mut wire = Vec::new();
/// nvflare_hci::send_binary_data(&mut wire, &[7u8; 100_000][..], "upload")?;
/// nvflare_hci::send_text(&mut wire, "list_jobs")?;
/// let mut conn = Connection::from_halves(&wire[..], Vec::new());
/// let mut p = TextOnly { inner: MemoryProcessor::new(), binary: false };
/// assert!(matches!(conn.receive_and_parse(&mut p), Err(Error::Processor(_))));
/// assert!(conn.is_usable());
/// assert_eq!(conn.receive_and_parse(&mut p)?.as_text(), Some("list_jobs"));
/// # Ok::<(), nvflare_hci::Error>(())
/// ```
pub trait DataProcessor {
    /// What a finished exchange yields.
    type Output;

    /// Called before any content: the kind, the meta and the declared body size.
    ///
    /// # Errors
    /// Any; the exchange fails with it (typically [`Error::Processor`]) and
    /// [`abort`](DataProcessor::abort) is called. The rest of the exchange
    /// is left unread, so receiving is out of step afterwards, for text as
    /// for binary: to refuse one exchange and keep the connection, fail in
    /// [`finalize`](DataProcessor::finalize) instead (see
    /// [above](DataProcessor#refusing-one-exchange-and-keeping-the-connection)).
    fn start(&mut self, start: &Start<'_>) -> Result<()>;

    /// Called with each piece of content: body bytes, or text bytes (with any
    /// `LINE_END`, without the final `ALL_END`). Pieces of text may split a
    /// UTF-8 character.
    ///
    /// # Errors
    /// Any; the exchange fails with it and [`abort`](DataProcessor::abort)
    /// is called. As for `start`, receiving is out of step afterwards.
    fn process(&mut self, data: &[u8], content_type: ContentType) -> Result<()>;

    /// Called once the exchange is complete (for binary, after its footer
    /// verified): `end` holds the body's verified CRC-32.
    ///
    /// # Errors
    /// Any; the exchange fails with it, and [`abort`](DataProcessor::abort)
    /// is called. The exchange was read whole, so the connection stays
    /// usable: the place to refuse one exchange and go on.
    fn finalize(&mut self, end: &End) -> Result<Self::Output>;

    /// Called when the exchange failed at any point after
    /// [`start`](DataProcessor::start) was called (including when `start` or
    /// `finalize` itself failed): discard everything kept for it. The
    /// default does nothing.
    fn abort(&mut self) {}
}

impl<P: DataProcessor + ?Sized> DataProcessor for &mut P {
    type Output = P::Output;

    fn start(&mut self, start: &Start<'_>) -> Result<()> {
        (**self).start(start)
    }

    fn process(&mut self, data: &[u8], content_type: ContentType) -> Result<()> {
        (**self).process(data, content_type)
    }

    fn finalize(&mut self, end: &End) -> Result<Self::Output> {
        (**self).finalize(end)
    }

    fn abort(&mut self) {
        (**self).abort()
    }
}

/// One received exchange, as [`MsgDataProcessor`] and
/// [`receive_all`](crate::receive_all) return it (the body in a temporary
/// [`BodyFile`]), or as [`MemoryProcessor`] does (`Exchange<Vec<u8>>`, the
/// body in memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange<B = BodyFile> {
    /// A text exchange: the bytes before `ALL_END`, with every `LINE_END`
    /// removed (unless the processor keeps them: lines sent with
    /// [`send_lines`](crate::ExchangeSender::send_lines) come back joined).
    Text(String),
    /// A binary exchange.
    Binary {
        /// The meta text; empty when the peer sent none.
        meta: String,
        /// The body (present even when empty).
        body: B,
    },
}

impl<B> Exchange<B> {
    /// Text or binary.
    pub fn content_type(&self) -> ContentType {
        match self {
            Exchange::Text(_) => ContentType::Text,
            Exchange::Binary { .. } => ContentType::Binary,
        }
    }

    /// The text of a text exchange.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Exchange::Text(t) => Some(t),
            Exchange::Binary { .. } => None,
        }
    }

    /// The meta of a binary exchange.
    pub fn meta(&self) -> Option<&str> {
        match self {
            Exchange::Text(_) => None,
            Exchange::Binary { meta, .. } => Some(meta),
        }
    }

    /// The body of a binary exchange.
    pub fn body(&self) -> Option<&B> {
        match self {
            Exchange::Text(_) => None,
            Exchange::Binary { body, .. } => Some(body),
        }
    }

    /// The text, or `None` for a binary exchange (whose body, a
    /// [`BodyFile`], is then deleted).
    pub fn into_text(self) -> Option<String> {
        match self {
            Exchange::Text(t) => Some(t),
            Exchange::Binary { .. } => None,
        }
    }

    /// Meta and body, or `None` for a text exchange.
    pub fn into_binary(self) -> Option<(String, B)> {
        match self {
            Exchange::Text(_) => None,
            Exchange::Binary { meta, body } => Some((meta, body)),
        }
    }
}

/// Writes of this size or more skip the spool file's buffer.
const SPOOL_BUFFER: usize = 64 * 1024;

enum Msg {
    Idle,
    Text(Vec<u8>),
    Binary {
        meta: String,
        file: BufWriter<NamedTempFile>,
        len: u64,
    },
}

/// The default processor, as Python's: text is collected into a `String`
/// with `LINE_END` removed; a binary body is written to a temporary file
/// (`<dir>/<uuid4>`; `dir` defaults to the system temp dir), never held in
/// memory.
///
/// Unlike Python's, a failed exchange deletes its partial file, an empty body
/// still yields a (empty) file, and text is decoded as UTF-8 only when
/// complete, so a character split across reads is fine.
pub struct MsgDataProcessor {
    dir: Option<PathBuf>,
    keep_line_ends: bool,
    state: Msg,
}

impl fmt::Debug for MsgDataProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgDataProcessor")
            .field("dir", &self.dir)
            .field("keep_line_ends", &self.keep_line_ends)
            .finish_non_exhaustive()
    }
}

impl Default for MsgDataProcessor {
    fn default() -> Self {
        Self::new()
    }
}

impl MsgDataProcessor {
    /// Spools bodies into the system temp dir.
    pub fn new() -> Self {
        MsgDataProcessor {
            dir: None,
            keep_line_ends: false,
            state: Msg::Idle,
        }
    }

    /// Spools bodies into `dir` (choose one on the filesystem where bodies
    /// will be [persisted](BodyFile::persist)).
    pub fn in_dir<P: Into<PathBuf>>(dir: P) -> Self {
        MsgDataProcessor {
            dir: Some(dir.into()),
            ..Self::new()
        }
    }

    /// Keeps `LINE_END` (`0x03`) in text, so that lines can be told apart.
    /// Off by default, as in Python.
    pub fn keep_line_ends(mut self, keep: bool) -> Self {
        self.keep_line_ends = keep;
        self
    }

    /// The directory bodies are spooled into.
    pub fn dir(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    fn create_spool(&self) -> io::Result<NamedTempFile> {
        let name = uuid::Uuid::new_v4().to_string();
        tempfile::Builder::new()
            .prefix(&name)
            .rand_bytes(0)
            .tempfile_in(self.dir())
    }
}

impl DataProcessor for MsgDataProcessor {
    type Output = Exchange;

    fn start(&mut self, start: &Start<'_>) -> Result<()> {
        self.state = match start.content_type() {
            ContentType::Text => Msg::Text(Vec::new()),
            ContentType::Binary => Msg::Binary {
                meta: start.meta().to_owned(),
                file: BufWriter::with_capacity(
                    SPOOL_BUFFER,
                    self.create_spool().map_err(Error::Processor)?,
                ),
                len: 0,
            },
        };
        Ok(())
    }

    fn process(&mut self, data: &[u8], _content_type: ContentType) -> Result<()> {
        match &mut self.state {
            Msg::Text(text) => {
                push_text(data, text, self.keep_line_ends);
                Ok(())
            }
            Msg::Binary { file, len, .. } => {
                file.write_all(data).map_err(Error::Processor)?;
                *len += data.len() as u64;
                Ok(())
            }
            Msg::Idle => Err(Error::Processor(io::Error::other(
                "process called before start",
            ))),
        }
    }

    fn finalize(&mut self, end: &End) -> Result<Exchange> {
        match std::mem::replace(&mut self.state, Msg::Idle) {
            Msg::Text(bytes) => text_exchange(bytes),
            Msg::Binary { meta, file, len } => {
                // On error the temp file is dropped, and so deleted.
                let mut file = file
                    .into_inner()
                    .map_err(|e| Error::Processor(e.into_error()))?;
                file.seek(SeekFrom::Start(0)).map_err(Error::Processor)?;
                Ok(Exchange::Binary {
                    meta,
                    body: BodyFile::new(file, len, end.checksum().unwrap_or(0)),
                })
            }
            Msg::Idle => Err(Error::Processor(io::Error::other(
                "finalize called before start",
            ))),
        }
    }

    fn abort(&mut self) {
        // Dropping the spool file deletes it.
        self.state = Msg::Idle;
    }
}

/// Appends a piece of text to `text`, with or without its `LINE_END`s.
fn push_text(data: &[u8], text: &mut Vec<u8>, keep_line_ends: bool) {
    text.reserve(data.len());
    if keep_line_ends {
        text.extend_from_slice(data);
    } else {
        push_without_line_ends(data, text);
    }
}

/// A complete text, decoded as UTF-8 now that no character can be split.
fn text_exchange<B>(bytes: Vec<u8>) -> Result<Exchange<B>> {
    String::from_utf8(bytes)
        .map(Exchange::Text)
        .map_err(|e| Error::InvalidUtf8 {
            section: Section::Text,
            source: e.utf8_error(),
        })
}

/// Appends `data` to `text` without its `LINE_END`s: one scan and one copy
/// per line.
fn push_without_line_ends(mut data: &[u8], text: &mut Vec<u8>) {
    while let Some(at) = find_byte(LINE_END, data) {
        text.extend_from_slice(&data[..at]);
        data = &data[at + 1..];
    }
    text.extend_from_slice(data);
}

/// A processor that keeps everything in memory: text as
/// [`MsgDataProcessor`] makes it, and a binary body as a `Vec<u8>`, for
/// tests and small bodies. Bound what a peer may send with
/// [`Limits::with_max_body_size`](crate::Limits::with_max_body_size): the
/// body grows as it arrives, up to the size its header announced.
///
/// ```
/// use nvflare_hci::{send_binary_data, Exchange, ExchangeHandler, MemoryProcessor};
/// let mut wire = Vec::new();
/// send_binary_data(&mut wire, &b"zip bytes"[..], "submit_job")?;
/// let got = ExchangeHandler::new(&wire[..]).receive_and_parse(&mut MemoryProcessor::new())?;
/// assert_eq!(got, Exchange::Binary { meta: "submit_job".into(), body: b"zip bytes".to_vec() });
/// # Ok::<(), nvflare_hci::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryProcessor {
    keep_line_ends: bool,
    state: Option<Exchange<Vec<u8>>>,
    text: Vec<u8>,
}

impl MemoryProcessor {
    /// A processor that drops `LINE_END`s from text, as Python's.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `LINE_END` (`0x03`) in text, so that lines can be told apart.
    pub fn keep_line_ends(mut self, keep: bool) -> Self {
        self.keep_line_ends = keep;
        self
    }
}

impl DataProcessor for MemoryProcessor {
    type Output = Exchange<Vec<u8>>;

    fn start(&mut self, start: &Start<'_>) -> Result<()> {
        self.text = Vec::new();
        self.state = Some(match start.content_type() {
            ContentType::Text => Exchange::Text(String::new()),
            ContentType::Binary => Exchange::Binary {
                meta: start.meta().to_owned(),
                body: Vec::new(),
            },
        });
        Ok(())
    }

    fn process(&mut self, data: &[u8], _content_type: ContentType) -> Result<()> {
        match &mut self.state {
            Some(Exchange::Text(_)) => push_text(data, &mut self.text, self.keep_line_ends),
            Some(Exchange::Binary { body, .. }) => body.extend_from_slice(data),
            None => {
                return Err(Error::Processor(io::Error::other(
                    "process called before start",
                )))
            }
        }
        Ok(())
    }

    fn finalize(&mut self, _end: &End) -> Result<Exchange<Vec<u8>>> {
        match self.state.take() {
            Some(Exchange::Text(_)) => text_exchange(std::mem::take(&mut self.text)),
            Some(binary) => Ok(binary),
            None => Err(Error::Processor(io::Error::other(
                "finalize called before start",
            ))),
        }
    }

    fn abort(&mut self) {
        self.state = None;
        self.text = Vec::new();
    }
}
