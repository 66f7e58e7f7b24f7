//! Consumers of received exchanges: the [`DataProcessor`] trait and the
//! default, temp-file-backed [`MsgDataProcessor`].

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

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
pub trait DataProcessor {
    /// What a finished exchange yields.
    type Output;

    /// Called before any content: the kind, the meta and the declared body size.
    ///
    /// # Errors
    /// Any; the exchange fails with it (typically [`Error::Processor`]) and
    /// [`abort`](DataProcessor::abort) is called.
    fn start(&mut self, start: &Start<'_>) -> Result<()>;

    /// Called with each piece of content: body bytes, or text bytes (with any
    /// `LINE_END`, without the final `ALL_END`). Pieces of text may split a
    /// UTF-8 character.
    ///
    /// # Errors
    /// Any; the exchange fails with it and [`abort`](DataProcessor::abort)
    /// is called.
    fn process(&mut self, data: &[u8], content_type: ContentType) -> Result<()>;

    /// Called once the exchange is complete (for binary, after its footer
    /// verified): `end` holds the body's verified CRC-32.
    ///
    /// # Errors
    /// Any; the exchange fails with it, and [`abort`](DataProcessor::abort)
    /// is called.
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
/// [`receive_all`](crate::receive_all) return it.
#[derive(Debug)]
pub enum Exchange {
    /// A text exchange: the bytes before `ALL_END`, with every `LINE_END`
    /// removed (unless [`MsgDataProcessor::keep_line_ends`] is set).
    Text(String),
    /// A binary exchange.
    Binary {
        /// The meta text; empty when the peer sent none.
        meta: String,
        /// The body, spooled to a temporary file (present even when empty).
        body: BodyFile,
    },
}

impl Exchange {
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
    pub fn body(&self) -> Option<&BodyFile> {
        match self {
            Exchange::Text(_) => None,
            Exchange::Binary { body, .. } => Some(body),
        }
    }

    /// The text, or `None` for a binary exchange (whose body file is then deleted).
    pub fn into_text(self) -> Option<String> {
        match self {
            Exchange::Text(t) => Some(t),
            Exchange::Binary { .. } => None,
        }
    }

    /// Meta and body, or `None` for a text exchange.
    pub fn into_binary(self) -> Option<(String, BodyFile)> {
        match self {
            Exchange::Text(_) => None,
            Exchange::Binary { meta, body } => Some((meta, body)),
        }
    }
}

/// A received body in a temporary file named `<dir>/<uuid4>`, as the Python
/// module names it.
///
/// The file is deleted when the `BodyFile` is dropped, unless it is
/// [kept](BodyFile::keep) or [persisted](BodyFile::persist). It reads (and
/// seeks) from the start of the body.
pub struct BodyFile {
    file: NamedTempFile,
    len: u64,
    checksum: u32,
}

impl fmt::Debug for BodyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyFile")
            .field("path", &self.path())
            .field("len", &self.len)
            .field("checksum", &self.checksum)
            .finish()
    }
}

impl BodyFile {
    /// Where the body is while this value lives.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Bytes in the body.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The body's CRC-32 (zlib's), as the peer's footer gave it and the
    /// received bytes verified it: no need to read the file again.
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// True for an empty body.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The open file.
    pub fn as_file(&self) -> &File {
        self.file.as_file()
    }

    /// The open file, mutably.
    pub fn as_file_mut(&mut self) -> &mut File {
        self.file.as_file_mut()
    }

    /// Keeps the file where it is, as Python's `receive_all` leaves it:
    /// it will no longer be deleted.
    ///
    /// # Errors
    /// [`BodyPersistError`], which gives the `BodyFile` back.
    pub fn keep(self) -> Result<(File, PathBuf), BodyPersistError> {
        let BodyFile {
            file,
            len,
            checksum,
        } = self;
        file.keep()
            .map_err(|e| BodyPersistError::give_back(e, len, checksum))
    }

    /// Moves the body to `path` atomically (a rename, replacing any file
    /// there): `path` holds either its old content or the whole body, never a
    /// part. `path` must be on the same filesystem as the temporary file; spool
    /// bodies into that filesystem with [`MsgDataProcessor::in_dir`].
    ///
    /// # Errors
    /// [`BodyPersistError`] (e.g. a cross-device rename), which gives the
    /// `BodyFile` back so nothing is lost.
    pub fn persist<P: AsRef<Path>>(self, path: P) -> Result<File, BodyPersistError> {
        let BodyFile {
            file,
            len,
            checksum,
        } = self;
        file.persist(path)
            .map_err(|e| BodyPersistError::give_back(e, len, checksum))
    }
}

impl Read for BodyFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Seek for BodyFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

/// A failed [`BodyFile::keep`] or [`BodyFile::persist`]: the cause, and the
/// body, still in its temporary file.
///
/// `?` turns it into [`Error::Persist`], which keeps it, body included.
#[derive(Debug)]
pub struct BodyPersistError {
    error: io::Error,
    body: BodyFile,
}

impl BodyPersistError {
    /// The failure of keeping or moving the temporary file, with the body
    /// rebuilt around the file the failure gave back.
    fn give_back(e: tempfile::PersistError, len: u64, checksum: u32) -> Self {
        BodyPersistError {
            error: e.error,
            body: BodyFile {
                file: e.file,
                len,
                checksum,
            },
        }
    }

    /// Why the file could not be kept or moved.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The body, unchanged, still in its temporary file.
    pub fn body(&self) -> &BodyFile {
        &self.body
    }

    /// The body, to retry or read.
    pub fn into_body(self) -> BodyFile {
        self.body
    }

    /// The cause and the body.
    pub fn into_parts(self) -> (io::Error, BodyFile) {
        (self.error, self.body)
    }
}

impl fmt::Display for BodyPersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed to persist body file {}",
            self.body.path().display()
        )
    }
}

impl std::error::Error for BodyPersistError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
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
                text.reserve(data.len());
                if self.keep_line_ends {
                    text.extend_from_slice(data);
                } else {
                    push_without_line_ends(data, text);
                }
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
            Msg::Text(bytes) => {
                String::from_utf8(bytes)
                    .map(Exchange::Text)
                    .map_err(|e| Error::InvalidUtf8 {
                        section: Section::Text,
                        source: e.utf8_error(),
                    })
            }
            Msg::Binary { meta, file, len } => {
                // On error the temp file is dropped, and so deleted.
                let mut file = file
                    .into_inner()
                    .map_err(|e| Error::Processor(e.into_error()))?;
                file.seek(SeekFrom::Start(0)).map_err(Error::Processor)?;
                Ok(Exchange::Binary {
                    meta,
                    body: BodyFile {
                        file,
                        len,
                        checksum: end.checksum().unwrap_or(0),
                    },
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

/// Appends `data` to `text` without its `LINE_END`s: one scan and one copy
/// per line.
fn push_without_line_ends(mut data: &[u8], text: &mut Vec<u8>) {
    while let Some(at) = find_byte(LINE_END, data) {
        text.extend_from_slice(&data[..at]);
        data = &data[at + 1..];
    }
    text.extend_from_slice(data);
}
