//! The crate's one error type.

use std::{fmt, io, str::Utf8Error, sync::Arc};

use crate::body::BodyPersistError;

/// A section of an exchange, as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Section {
    /// The first byte, which tells a binary exchange from a text one.
    Marker,
    /// The 12 bytes after a binary marker: `meta_size: u32 BE`, `body_size: u64 BE`.
    Header,
    /// The meta text of a binary exchange.
    Meta,
    /// The body of a binary exchange.
    Body,
    /// The 8 bytes after a binary body: end marker and CRC-32.
    Footer,
    /// The bytes of a text exchange, up to and including `ALL_END`.
    Text,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Marker => "marker",
            Section::Header => "header",
            Section::Meta => "meta",
            Section::Body => "body",
            Section::Footer => "footer",
            Section::Text => "text",
        })
    }
}

/// What a [`Limits`](crate::Limits) bound applies to, as named in
/// [`Error::LimitExceeded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// The meta of a binary exchange (`meta_size`).
    MetaSize,
    /// The body of a binary exchange (`body_size`).
    BodySize,
    /// The bytes of a text exchange before `ALL_END`.
    TextSize,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::MetaSize => "meta size",
            Limit::BodySize => "body size",
            Limit::TextSize => "text size",
        })
    }
}

/// One direction of a stream, as named in [`Error::OutOfStep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Exchanges from the peer.
    Receive,
    /// Exchanges to the peer.
    Send,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Receive => "receiving",
            Direction::Send => "sending",
        })
    }
}

/// Everything that can go wrong while sending or receiving an exchange.
///
/// The variants are structured so that callers can match on them; the
/// I/O and UTF-8 causes are kept as [`source`](std::error::Error::source).
///
/// # Which errors end a connection
///
/// What an error leaves behind depends on where in the exchange it
/// happened, not only on its variant:
///
/// - **At an exchange boundary** the stream stays in step, and the next
///   call works: an error before the first byte of an exchange was read
///   ([`Error::Idle`], a clean close, an I/O error) or written ([`Error::InvalidText`],
///   a file that cannot be opened, a generator that fails before a block
///   was written), or after its last byte was read ([`Error::ChecksumMismatch`],
///   and an error of [`DataProcessor::finalize`](crate::DataProcessor::finalize),
///   such as text that is not UTF-8).
/// - **Inside an exchange** (a limit at a header, meta that is not UTF-8, a
///   processor that fails in `start` or `process`, a read timeout or a
///   close in the middle, a failure after the header went out), the rest
///   of the exchange is unread or unsent. That direction of the
///   [`Connection`](crate::Connection), [`ExchangeHandler`](crate::ExchangeHandler)
///   or [`ExchangeSender`](crate::ExchangeSender) then refuses every later
///   call with [`Error::OutOfStep`], without touching the stream.
///
/// `is_usable()` on each of them tells which case it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream ended before the exchange did.
    ///
    /// `expected` and `got` count the bytes of `section`. For
    /// [`Section::Text`], whose length is not announced, `expected` is a
    /// lower bound: the bytes received plus the missing `ALL_END`.
    ///
    /// Before the first byte of an exchange (`section` [`Section::Marker`],
    /// `got` 0) it is a clean close ([`is_clean_close`](Error::is_clean_close)),
    /// and says so.
    #[error("{}", eof_message(*.section, *.expected, *.got))]
    UnexpectedEof {
        /// The section that was cut short.
        section: Section,
        /// How many bytes the section needed.
        expected: u64,
        /// How many bytes of it arrived.
        got: u64,
    },

    /// The end-of-data marker of the footer was not zero.
    #[error("footer end marker must be 0, got {found:#010x}")]
    FooterMarker {
        /// The marker that was received.
        found: u32,
    },

    /// The CRC-32 in the footer does not match the body received.
    #[error("checksum mismatch: received {received:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// The checksum the peer sent.
        received: u32,
        /// The checksum of the body bytes that arrived.
        computed: u32,
    },

    /// A [`DataGenerator`](crate::DataGenerator) produced a different number
    /// of bytes than it declared. Nothing past the declared size was sent,
    /// and no footer was sent.
    #[error("body size mismatch: declared {declared} bytes, generator produced {generated}{}",
        if *.generated > *.declared { " or more" } else { "" })]
    BodySizeMismatch {
        /// The size announced in the header.
        declared: u64,
        /// How many bytes the generator produced (when above `declared`,
        /// a lower bound: generation stopped at the first extra byte).
        generated: u64,
    },

    /// Meta or text that is not valid UTF-8.
    #[error("invalid UTF-8 in {section}")]
    InvalidUtf8 {
        /// [`Section::Meta`] or [`Section::Text`].
        section: Section,
        /// Where and why decoding failed, relative to the section's start.
        #[source]
        source: Utf8Error,
    },

    /// A size over one of the configured [`Limits`](crate::Limits), caught
    /// before anything was allocated or written for it.
    ///
    /// For [`Limit::TextSize`], whose size is not announced, `size` is what
    /// was read of the text without finding its end: the text is at least
    /// that long.
    #[error("{}", limit_message(*.what, *.size, *.max))]
    LimitExceeded {
        /// Which limit.
        what: Limit,
        /// The size announced (meta, body) or the bytes read (text).
        size: u64,
        /// The configured maximum.
        max: u64,
    },

    /// Text that cannot be sent as a text exchange: it holds `ALL_END`
    /// (or, within a line, `LINE_END`), or starts with the binary marker.
    #[error("text cannot be sent: byte {byte:#04x} at offset {offset}")]
    InvalidText {
        /// The offending byte.
        byte: u8,
        /// Its offset in the text (or line) given.
        offset: usize,
    },

    /// The [`DataProcessor`](crate::DataProcessor) failed, e.g. a full disk
    /// while spooling a body.
    #[error("processing the received exchange failed")]
    Processor(#[source] io::Error),

    /// The body to send could not be read: the
    /// [`DataGenerator`](crate::DataGenerator) failed, or the file to send
    /// could not be opened.
    #[error("reading the body to send failed")]
    BodySource(#[source] io::Error),

    /// A received body could not be kept or moved to its place. The body is
    /// in the error, still in its temporary file:
    /// [`BodyPersistError::into_body`](crate::BodyPersistError::into_body).
    #[error(transparent)]
    Persist(Box<BodyPersistError>),

    /// Reading from the receiver or writing to the sender failed: the
    /// exchange stream itself. A write timeout is one
    /// ([`is_timeout`](Error::is_timeout)); a read timeout is
    /// [`Error::TimedOut`] inside an exchange and [`Error::Idle`] before it.
    #[error("I/O error on the exchange stream")]
    Io(#[source] io::Error),

    /// A read timed out (`WouldBlock` or `TimedOut`, depending on the
    /// platform) inside an exchange: `got` bytes of `section` had arrived.
    /// The rest of the exchange is unread, so receiving is out of step
    /// (see [`Error::OutOfStep`]). Before the first byte of an exchange, a
    /// timeout is [`Error::Idle`] instead.
    #[error("the read timed out inside an exchange, in the {section} after {got} bytes of it")]
    TimedOut {
        /// The section under way.
        section: Section,
        /// How many bytes of it had arrived.
        got: u64,
        /// The read's error.
        #[source]
        source: io::Error,
    },

    /// The read timed out (`WouldBlock` or `TimedOut`, depending on the
    /// platform) before the first byte of an exchange: the peer is idle.
    /// Nothing was consumed; the next call waits for the exchange again.
    #[error("no exchange began before the read timed out")]
    Idle(#[source] io::Error),

    /// A read timed out while waiting for the reply to a request
    /// ([`Connection::request`](crate::Connection::request) and its
    /// siblings). Unlike [`Error::Idle`], this leaves receiving out of
    /// step: the reply may still come, and would then be read as the reply
    /// to the next request. Drop the connection.
    #[error("no reply came before the read timed out: a late reply would answer the next request, so receiving stops here")]
    ReplyTimedOut(#[source] io::Error),

    /// An earlier error stopped an exchange in the middle, so the stream is
    /// no longer at the start of an exchange: this direction refuses every
    /// call and neither reads nor writes. Drop the connection (the other
    /// direction may still be in step, e.g. to send an error reply).
    #[error("{direction} is out of step with the peer since an earlier error: {earlier}")]
    OutOfStep {
        /// Which direction is out of step.
        direction: Direction,
        /// The earlier error, with its causes (as [`ErrorChain`] shows it).
        earlier: Arc<str>,
    },
}

impl From<BodyPersistError> for Error {
    fn from(e: BodyPersistError) -> Self {
        Error::Persist(Box::new(e))
    }
}

impl Error {
    /// True when the stream ended before a single byte of the exchange
    /// arrived: the peer closed the connection cleanly between exchanges.
    pub fn is_clean_close(&self) -> bool {
        matches!(
            self,
            Error::UnexpectedEof {
                section: Section::Marker,
                got: 0,
                ..
            }
        )
    }

    /// True when a read or write timed out, in or between exchanges
    /// ([`Error::Idle`], [`Error::TimedOut`], [`Error::ReplyTimedOut`], or [`Error::Io`] of kind `WouldBlock` or
    /// `TimedOut`: which one depends on the platform).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Idle(_) | Error::TimedOut { .. } | Error::ReplyTimedOut(_) => true,
            Error::Io(e) => is_timeout_kind(e.kind()),
            _ => false,
        }
    }
}

/// [`Error::UnexpectedEof`] in words: a clean close says what it is.
fn eof_message(section: Section, expected: u64, got: u64) -> String {
    if section == Section::Marker && got == 0 {
        "the peer closed the connection between exchanges (end of stream before an exchange began)"
            .to_string()
    } else {
        format!("unexpected end of stream in {section}: expected {expected} bytes, got {got}")
    }
}

/// [`Error::LimitExceeded`] in words: a text's size is not announced, so
/// what it says is how much was read.
fn limit_message(what: Limit, size: u64, max: u64) -> String {
    match what {
        Limit::TextSize => format!(
            "text exceeds the limit of {max} bytes: {size} bytes read without finding its end (it is at least that long)"
        ),
        _ => format!("{what} {size} exceeds the limit of {max}"),
    }
}

/// The kinds a socket timeout comes as: `WouldBlock` on Unix, `TimedOut`
/// on Windows.
pub(crate) fn is_timeout_kind(kind: io::ErrorKind) -> bool {
    matches!(kind, io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Any error with its causes on one line, `outer: cause: root cause`, for
/// logs and command-line messages.
///
/// ```
/// use nvflare_hci::{receive_all, ErrorChain};
/// let err = receive_all(&b"\x01\x00"[..]).unwrap_err();
/// assert_eq!(
///     ErrorChain(&err).to_string(),
///     "unexpected end of stream in header: expected 12 bytes, got 1"
/// );
/// let io = nvflare_hci::Error::Io(std::io::Error::other("connection reset"));
/// assert_eq!(
///     ErrorChain(&io).to_string(),
///     "I/O error on the exchange stream: connection reset"
/// );
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'a));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        assert!(
            std::mem::size_of::<Error>() <= 32,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn messages_name_the_numbers() {
        let e = Error::UnexpectedEof {
            section: Section::Meta,
            expected: 10,
            got: 3,
        };
        assert_eq!(
            e.to_string(),
            "unexpected end of stream in meta: expected 10 bytes, got 3"
        );
        let e = Error::BodySizeMismatch {
            declared: 5,
            generated: 6,
        };
        assert_eq!(
            e.to_string(),
            "body size mismatch: declared 5 bytes, generator produced 6 or more"
        );
        assert!(Error::UnexpectedEof {
            section: Section::Marker,
            expected: 1,
            got: 0
        }
        .is_clean_close());
    }

    #[test]
    fn timeouts_are_told_apart() {
        for kind in [io::ErrorKind::WouldBlock, io::ErrorKind::TimedOut] {
            assert!(Error::Io(kind.into()).is_timeout());
            assert!(Error::Idle(kind.into()).is_timeout());
        }
        assert!(!Error::Io(io::ErrorKind::ConnectionReset.into()).is_timeout());
        let e = Error::OutOfStep {
            direction: Direction::Receive,
            earlier: "checksum".into(),
        };
        assert_eq!(
            e.to_string(),
            "receiving is out of step with the peer since an earlier error: checksum"
        );
        assert!(!e.is_timeout());
    }
}
