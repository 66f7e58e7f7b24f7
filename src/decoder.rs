//! The sans-IO state machine: bytes in, events out. It never reads or writes.

use std::str::Utf8Error;

use crate::error::{Error, Limit, Result, Section};
use crate::progress::Progress;
use crate::wire::{
    find_byte, ContentType, Footer, Header, ALL_END, BINARY_MARKER, FOOTER_LEN, HEADER_LEN,
};

/// Bounds on what a peer may announce or send, checked before anything is
/// allocated or written for it.
///
/// ```
/// use nvflare_hci::Limits;
/// let limits = Limits::default().with_max_body_size(1 << 30).with_max_meta_size(4096);
/// assert_eq!(limits.max_body_size, 1 << 30);
/// assert_eq!(limits.max_text_size, Limits::DEFAULT_MAX_TEXT_SIZE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest `meta_size` accepted.
    pub max_meta_size: u32,
    /// The largest `body_size` accepted.
    pub max_body_size: u64,
    /// The most bytes a text exchange may hold before its `ALL_END`.
    pub max_text_size: u64,
}

impl Limits {
    /// Default bound on `meta_size`: 16 MiB.
    pub const DEFAULT_MAX_META_SIZE: u32 = 16 << 20;
    /// Default bound on `body_size`: 64 GiB.
    pub const DEFAULT_MAX_BODY_SIZE: u64 = 64 << 30;
    /// Default bound on the bytes of a text exchange: 64 MiB.
    pub const DEFAULT_MAX_TEXT_SIZE: u64 = 64 << 20;

    /// The defaults: meta 16 MiB, body 64 GiB, text 64 MiB.
    pub const fn new() -> Self {
        Limits {
            max_meta_size: Self::DEFAULT_MAX_META_SIZE,
            max_body_size: Self::DEFAULT_MAX_BODY_SIZE,
            max_text_size: Self::DEFAULT_MAX_TEXT_SIZE,
        }
    }

    /// No bounds at all, as the Python module. Only for trusted peers.
    pub const fn unlimited() -> Self {
        Limits {
            max_meta_size: u32::MAX,
            max_body_size: u64::MAX,
            max_text_size: u64::MAX,
        }
    }

    /// These limits with the largest `meta_size` accepted set to `max`.
    pub const fn with_max_meta_size(mut self, max: u32) -> Self {
        self.max_meta_size = max;
        self
    }

    /// These limits with the largest `body_size` accepted set to `max`.
    pub const fn with_max_body_size(mut self, max: u64) -> Self {
        self.max_body_size = max;
        self
    }

    /// These limits with the most bytes of text accepted set to `max`.
    pub const fn with_max_text_size(mut self, max: u64) -> Self {
        self.max_text_size = max;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}

/// What is known of an exchange before its first body or text byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start<'a> {
    content_type: ContentType,
    meta: &'a str,
    body_size: Option<u64>,
}

impl<'a> Start<'a> {
    /// The start of a text exchange.
    pub const fn text() -> Start<'static> {
        Start {
            content_type: ContentType::Text,
            meta: "",
            body_size: None,
        }
    }

    /// The start of a binary exchange.
    pub const fn binary(meta: &'a str, body_size: u64) -> Self {
        Start {
            content_type: ContentType::Binary,
            meta,
            body_size: Some(body_size),
        }
    }

    /// Text or binary.
    pub fn content_type(&self) -> ContentType {
        self.content_type
    }

    /// The meta of a binary exchange; empty for text, or when the peer sent none.
    pub fn meta(&self) -> &'a str {
        self.meta
    }

    /// The declared body size of a binary exchange; `None` for text, whose
    /// length is not announced.
    pub fn body_size(&self) -> Option<u64> {
        self.body_size
    }
}

/// What is known once an exchange is complete, handed to
/// [`DataProcessor::finalize`](crate::DataProcessor::finalize).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    checksum: Option<u32>,
}

impl End {
    /// The end of a text exchange.
    pub const fn text() -> End {
        End { checksum: None }
    }

    /// The end of a binary exchange whose body has this verified CRC-32.
    pub const fn binary(checksum: u32) -> End {
        End {
            checksum: Some(checksum),
        }
    }

    /// The CRC-32 of a binary exchange's body, verified against its footer;
    /// `None` for text.
    pub fn checksum(&self) -> Option<u32> {
        self.checksum
    }
}

/// What [`Decoder::decode`] made of the bytes it was given.
///
/// `'d` is the decoder's borrow (the meta of a start event lives in the
/// decoder) and `'b` the input's: content borrows only the input, so a
/// caller can hold it and still ask the decoder questions.
///
/// Not `#[non_exhaustive]`: a sans-IO caller must act on every event, and a
/// new kind of event would be a change it has to see at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'d, 'b> {
    /// Every byte given was taken, and the exchange needs more.
    NeedMore,
    /// The exchange's kind, meta and body size are known; no content yet.
    Start(Start<'d>),
    /// Content: body bytes, or text bytes (never the final `ALL_END`).
    Data(&'b [u8]),
    /// The exchange is complete (for binary, its footer verified).
    End(End),
    /// The exchange ended before this call: nothing was taken.
    /// [`reset`](Decoder::reset) readies the decoder for the next one.
    Finished,
}

/// Where the decoder is in an exchange, with what it has gathered there.
#[derive(Debug, Clone)]
enum State {
    /// Waiting for the first byte.
    Marker,
    /// The header's bytes so far.
    Header {
        bytes: [u8; HEADER_LEN],
        filled: usize,
    },
    /// The meta's bytes so far, of `size`; the body's size is known.
    Meta {
        bytes: Vec<u8>,
        size: usize,
        body_size: u64,
    },
    /// Body bytes still to come, and the CRC of those that came.
    Body {
        remaining: u64,
        crc: crc32fast::Hasher,
    },
    /// The footer's bytes so far, and the CRC of the whole body.
    Footer {
        bytes: [u8; FOOTER_LEN],
        filled: usize,
        crc: u32,
    },
    /// Text bytes so far.
    Text { len: u64 },
    /// Complete: the end, and a text's length (a body's is its size).
    Done { end: End, text_len: u64 },
    /// An error was returned; it is returned again until a reset.
    Failed(Fault),
}

/// A decoding error, kept to be returned again: every error the decoder
/// makes is built from `Copy` parts.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Limit { what: Limit, size: u64, max: u64 },
    Utf8 { section: Section, source: Utf8Error },
    FooterMarker { found: u32 },
    Checksum { received: u32, computed: u32 },
}

impl Fault {
    fn error(self) -> Error {
        match self {
            Fault::Limit { what, size, max } => Error::LimitExceeded { what, size, max },
            Fault::Utf8 { section, source } => Error::InvalidUtf8 { section, source },
            Fault::FooterMarker { found } => Error::FooterMarker { found },
            Fault::Checksum { received, computed } => {
                Error::ChecksumMismatch { received, computed }
            }
        }
    }
}

/// The meta and body size of the binary exchange under way, once its meta
/// is in: what its start event lends out, and what progress is measured by.
#[derive(Debug, Clone)]
struct Binary {
    meta: String,
    body_size: u64,
}

/// One state's step, borrow-free: the bytes taken from its input, the state
/// that follows, and what was found, if anything (offsets in its input).
struct Step {
    used: usize,
    next: State,
    found: Option<Found>,
}

/// Borrow-free form of [`Decoded`].
enum Found {
    NeedMore,
    StartText,
    StartBinary,
    Data { at: usize, len: usize },
    End(End),
    Finished,
}

impl Step {
    fn go(used: usize, next: State) -> Step {
        Step {
            used,
            next,
            found: None,
        }
    }

    fn stop(used: usize, next: State, found: Found) -> Step {
        Step {
            used,
            next,
            found: Some(found),
        }
    }
}

/// A sans-IO decoder of one exchange at a time.
///
/// Feed it bytes with [`decode`](Decoder::decode); it returns how many it
/// took and what it made of them ([`Decoded`]). It never needs more than it
/// is given: a short input is not an error, the decoder keeps its place and
/// waits for the rest, whatever the split. When the input ends,
/// [`eof`](Decoder::eof) tells whether the exchange was complete.
///
/// ```
/// use nvflare_hci::{Decoded, Decoder};
/// let wire = b"{\"cmd\":\"list\"}\x04";
/// let mut decoder = Decoder::new();
/// let mut input = &wire[..];
/// let mut text = Vec::new();
/// loop {
///     let (used, decoded) = decoder.decode(input)?;
///     input = &input[used..];
///     match decoded {
///         Decoded::Data(d) => text.extend_from_slice(d),
///         Decoded::End(_) => break,
///         Decoded::Start(_) => {}
///         Decoded::NeedMore | Decoded::Finished => decoder.eof()?, // input ran out
///     }
/// }
/// assert_eq!(text, b"{\"cmd\":\"list\"}");
/// # Ok::<(), nvflare_hci::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    limits: Limits,
    state: State,
    binary: Option<Binary>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Meta is allocated as it arrives, at most this much ahead of it.
const META_RESERVE: usize = 64 * 1024;

impl Decoder {
    /// A decoder with the default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A decoder with these limits.
    pub fn with_limits(limits: Limits) -> Self {
        Decoder {
            limits,
            state: State::Marker,
            binary: None,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Changes the limits; they apply from the next header or text byte on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Forgets the current exchange and waits for the first byte of a new one.
    /// Needed after [`Decoded::End`] or an error before decoding again.
    pub fn reset(&mut self) {
        self.state = State::Marker;
        self.binary = None;
    }

    /// True once [`Decoded::End`] was returned (until [`reset`](Decoder::reset)).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done { .. })
    }

    /// The current exchange's kind, once its first byte was seen.
    pub fn content_type(&self) -> Option<ContentType> {
        match &self.state {
            State::Marker | State::Failed(_) => None,
            State::Text { .. } => Some(ContentType::Text),
            State::Done { end, .. } if end.checksum().is_none() => Some(ContentType::Text),
            _ => Some(ContentType::Binary),
        }
    }

    /// The meta of the current binary exchange, once complete (else empty).
    pub fn meta(&self) -> &str {
        self.binary.as_ref().map_or("", |b| &b.meta)
    }

    /// The CRC-32 of the body of a binary exchange, once its footer has
    /// verified it (after [`Decoded::End`], until [`reset`](Decoder::reset)).
    pub fn checksum(&self) -> Option<u32> {
        match &self.state {
            State::Done { end, .. } => end.checksum(),
            _ => None,
        }
    }

    /// How far the exchange has come: content bytes (body or text) decoded
    /// so far, and the total when known (a binary exchange's declared body
    /// size). `None` before its first byte, and after an error.
    pub fn progress(&self) -> Option<Progress> {
        let body_size = self.binary.as_ref().map(|b| b.body_size);
        let (content_type, done, total) = match &self.state {
            State::Marker | State::Failed(_) => return None,
            State::Text { len } => (ContentType::Text, *len, None),
            State::Header { .. } => (ContentType::Binary, 0, None),
            State::Meta { body_size, .. } => (ContentType::Binary, 0, Some(*body_size)),
            State::Body { remaining, .. } => {
                let total = body_size.unwrap_or(0);
                (ContentType::Binary, total - remaining, Some(total))
            }
            State::Footer { .. } => (ContentType::Binary, body_size.unwrap_or(0), body_size),
            State::Done { end, text_len } => match end.checksum() {
                Some(_) => (ContentType::Binary, body_size.unwrap_or(0), body_size),
                None => (ContentType::Text, *text_len, None),
            },
        };
        Some(Progress {
            content_type,
            done,
            total,
        })
    }

    /// A bound on the next read: the most bytes that can be read from the
    /// stream now without reading past the end of this exchange; 0 when
    /// done or failed. A binary exchange's length is known once its header
    /// is in; text is read a byte at a time since its end is only known
    /// when seen. A caller that reads ahead and keeps the surplus for the
    /// next exchange has no use for it.
    pub fn read_limit(&self) -> usize {
        let rest: u64 = match &self.state {
            State::Marker | State::Text { .. } => 1,
            State::Header { filled, .. } => (HEADER_LEN - filled) as u64,
            State::Meta {
                bytes,
                size,
                body_size,
            } => ((size - bytes.len()) as u64)
                .saturating_add(*body_size)
                .saturating_add(FOOTER_LEN as u64),
            State::Body { remaining, .. } => remaining.saturating_add(FOOTER_LEN as u64),
            State::Footer { filled, .. } => (FOOTER_LEN - filled) as u64,
            State::Done { .. } | State::Failed(_) => 0,
        };
        usize::try_from(rest).unwrap_or(usize::MAX)
    }

    /// True until the first byte of an exchange was seen.
    pub(crate) fn is_at_start(&self) -> bool {
        matches!(self.state, State::Marker)
    }

    /// The footer bytes still to come, while in the footer.
    pub(crate) fn footer_left(&self) -> Option<usize> {
        match &self.state {
            State::Footer { filled, .. } => Some(FOOTER_LEN - filled),
            _ => None,
        }
    }

    /// Where the decoder is: the section under way and how many of its
    /// bytes arrived (for an error that stops it there).
    pub(crate) fn position(&self) -> (Section, u64) {
        match self.eof() {
            Err(Error::UnexpectedEof { section, got, .. }) => (section, got),
            _ => (Section::Marker, 0),
        }
    }

    /// The error for an input that ended now: `Ok` only if the exchange is
    /// complete.
    ///
    /// # Errors
    /// [`Error::UnexpectedEof`] naming the section that was cut short, with
    /// the bytes it needed and those it got; after a decoding error, that
    /// error again.
    pub fn eof(&self) -> Result<()> {
        let body_size = self.binary.as_ref().map_or(0, |b| b.body_size);
        let (section, expected, got) = match &self.state {
            State::Done { .. } => return Ok(()),
            State::Failed(fault) => return Err(fault.error()),
            State::Marker => (Section::Marker, 1, 0),
            State::Header { filled, .. } => (Section::Header, HEADER_LEN as u64, *filled as u64),
            State::Meta { bytes, size, .. } => (Section::Meta, *size as u64, bytes.len() as u64),
            State::Body { remaining, .. } => (Section::Body, body_size, body_size - remaining),
            State::Footer { filled, .. } => (Section::Footer, FOOTER_LEN as u64, *filled as u64),
            State::Text { len } => (Section::Text, len + 1, *len),
        };
        Err(Error::UnexpectedEof {
            section,
            expected,
            got,
        })
    }

    /// Decodes from `input`: returns the bytes taken and what they made.
    ///
    /// Call again with the rest of the input after anything but
    /// [`Decoded::NeedMore`] (every byte was taken) and
    /// [`Decoded::Finished`] (none was: bytes after an exchange are never
    /// taken).
    ///
    /// # Errors
    /// [`Error::LimitExceeded`] for a header or text over the [`Limits`],
    /// [`Error::InvalidUtf8`] for meta that is not UTF-8,
    /// [`Error::FooterMarker`] and [`Error::ChecksumMismatch`] for a bad
    /// footer (the whole footer was taken then). After an error the decoder
    /// takes no input, and returns that error again, until
    /// [`reset`](Decoder::reset).
    pub fn decode<'d, 'b>(&'d mut self, input: &'b [u8]) -> Result<(usize, Decoded<'d, 'b>)> {
        let mut pos = 0;
        let found = loop {
            let rest = &input[pos..];
            let step = match self.step(rest) {
                Ok(step) => step,
                Err(fault) => {
                    self.state = State::Failed(fault);
                    return Err(fault.error());
                }
            };
            self.state = step.next;
            let start = pos;
            pos += step.used;
            if let Some(found) = step.found {
                break match found {
                    Found::Data { at, len } => Found::Data {
                        at: start + at,
                        len,
                    },
                    other => other,
                };
            }
        };
        let decoded = match found {
            Found::NeedMore => Decoded::NeedMore,
            Found::StartText => Decoded::Start(Start::text()),
            Found::StartBinary => Decoded::Start(Start::binary(
                self.meta(),
                self.binary.as_ref().map_or(0, |b| b.body_size),
            )),
            Found::Data { at, len } => Decoded::Data(&input[at..at + len]),
            Found::End(end) => Decoded::End(end),
            Found::Finished => Decoded::Finished,
        };
        Ok((pos, decoded))
    }

    /// One state's step on `rest`. The state is moved out for it, and the
    /// next one put back by the caller.
    fn step(&mut self, rest: &[u8]) -> Result<Step, Fault> {
        Ok(match std::mem::replace(&mut self.state, State::Marker) {
            State::Marker => on_marker(rest),
            State::Header { bytes, filled } => on_header(bytes, filled, rest, &self.limits)?,
            State::Meta {
                bytes,
                size,
                body_size,
            } => self.on_meta(bytes, size, body_size, rest)?,
            State::Body { remaining, crc } => on_body(remaining, crc, rest),
            State::Footer { bytes, filled, crc } => on_footer(bytes, filled, crc, rest)?,
            State::Text { len } => on_text(len, rest, &self.limits)?,
            done @ State::Done { .. } => Step::stop(0, done, Found::Finished),
            State::Failed(fault) => return Err(fault),
        })
    }

    fn on_meta(
        &mut self,
        mut bytes: Vec<u8>,
        size: usize,
        body_size: u64,
        rest: &[u8],
    ) -> Result<Step, Fault> {
        let n = (size - bytes.len()).min(rest.len());
        bytes.extend_from_slice(&rest[..n]);
        if bytes.len() < size {
            return Ok(Step::stop(
                n,
                State::Meta {
                    bytes,
                    size,
                    body_size,
                },
                Found::NeedMore,
            ));
        }
        let meta = String::from_utf8(bytes).map_err(|e| Fault::Utf8 {
            section: Section::Meta,
            source: e.utf8_error(),
        })?;
        self.binary = Some(Binary { meta, body_size });
        let next = if body_size == 0 {
            State::Footer {
                bytes: [0; FOOTER_LEN],
                filled: 0,
                crc: 0,
            }
        } else {
            State::Body {
                remaining: body_size,
                crc: crc32fast::Hasher::new(),
            }
        };
        Ok(Step::stop(n, next, Found::StartBinary))
    }
}

fn on_marker(rest: &[u8]) -> Step {
    match rest.first() {
        None => Step::stop(0, State::Marker, Found::NeedMore),
        Some(&BINARY_MARKER) => Step::go(
            1,
            State::Header {
                bytes: [0; HEADER_LEN],
                filled: 0,
            },
        ),
        // The first byte is part of the text: left for the text state.
        Some(_) => Step::stop(0, State::Text { len: 0 }, Found::StartText),
    }
}

/// Copies what `rest` has of a fixed-size field; true once it is full.
fn fill<const N: usize>(bytes: &mut [u8; N], filled: &mut usize, rest: &[u8]) -> (usize, bool) {
    let n = (N - *filled).min(rest.len());
    bytes[*filled..*filled + n].copy_from_slice(&rest[..n]);
    *filled += n;
    (n, *filled == N)
}

fn on_header(
    mut bytes: [u8; HEADER_LEN],
    mut filled: usize,
    rest: &[u8],
    limits: &Limits,
) -> Result<Step, Fault> {
    let (n, full) = fill(&mut bytes, &mut filled, rest);
    if !full {
        return Ok(Step::stop(
            n,
            State::Header { bytes, filled },
            Found::NeedMore,
        ));
    }
    let header = Header::decode(&bytes);
    if header.meta_size > limits.max_meta_size {
        return Err(Fault::Limit {
            what: Limit::MetaSize,
            size: header.meta_size.into(),
            max: limits.max_meta_size.into(),
        });
    }
    if header.body_size > limits.max_body_size {
        return Err(Fault::Limit {
            what: Limit::BodySize,
            size: header.body_size,
            max: limits.max_body_size,
        });
    }
    let size = usize::try_from(header.meta_size).map_err(|_| Fault::Limit {
        what: Limit::MetaSize,
        size: header.meta_size.into(),
        max: usize::MAX as u64,
    })?;
    let meta = State::Meta {
        bytes: Vec::with_capacity(size.min(META_RESERVE)),
        size,
        body_size: header.body_size,
    };
    Ok(Step::go(n, meta))
}

fn on_body(remaining: u64, mut crc: crc32fast::Hasher, rest: &[u8]) -> Step {
    if rest.is_empty() {
        return Step::stop(0, State::Body { remaining, crc }, Found::NeedMore);
    }
    let len = usize::try_from(remaining)
        .unwrap_or(usize::MAX)
        .min(rest.len());
    crc.update(&rest[..len]);
    let remaining = remaining - len as u64;
    let next = if remaining == 0 {
        State::Footer {
            bytes: [0; FOOTER_LEN],
            filled: 0,
            crc: crc.finalize(),
        }
    } else {
        State::Body { remaining, crc }
    };
    Step::stop(len, next, Found::Data { at: 0, len })
}

fn on_footer(
    mut bytes: [u8; FOOTER_LEN],
    mut filled: usize,
    crc: u32,
    rest: &[u8],
) -> Result<Step, Fault> {
    let (n, full) = fill(&mut bytes, &mut filled, rest);
    if !full {
        return Ok(Step::stop(
            n,
            State::Footer { bytes, filled, crc },
            Found::NeedMore,
        ));
    }
    let footer = Footer::decode(&bytes);
    if footer.end_marker != 0 {
        return Err(Fault::FooterMarker {
            found: footer.end_marker,
        });
    }
    if footer.checksum != crc {
        return Err(Fault::Checksum {
            received: footer.checksum,
            computed: crc,
        });
    }
    let end = End::binary(crc);
    Ok(Step::stop(
        n,
        State::Done { end, text_len: 0 },
        Found::End(end),
    ))
}

fn on_text(len: u64, rest: &[u8], limits: &Limits) -> Result<Step, Fault> {
    if rest.is_empty() {
        return Ok(Step::stop(0, State::Text { len }, Found::NeedMore));
    }
    let end = find_byte(ALL_END, rest);
    if end == Some(0) {
        let done = State::Done {
            end: End::text(),
            text_len: len,
        };
        return Ok(Step::stop(1, done, Found::End(End::text())));
    }
    let n = end.unwrap_or(rest.len());
    let total = len.saturating_add(n as u64);
    if total > limits.max_text_size {
        return Err(Fault::Limit {
            what: Limit::TextSize,
            size: total,
            max: limits.max_text_size,
        });
    }
    Ok(Step::stop(
        n,
        State::Text { len: total },
        Found::Data { at: 0, len: n },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` fed in pieces of `split` bytes, collecting events.
    fn run(wire: &[u8], split: usize) -> Result<(Vec<String>, usize)> {
        let mut d = Decoder::new();
        let mut log = Vec::new();
        let mut offset = 0;
        while offset < wire.len() {
            let chunk = &wire[offset..(offset + split).min(wire.len())];
            let mut input = chunk;
            loop {
                let (used, ev) = d.decode(input)?;
                input = &input[used..];
                match ev {
                    Decoded::Start(s) => log.push(format!(
                        "start {} {:?} {:?}",
                        s.content_type(),
                        s.meta(),
                        s.body_size()
                    )),
                    Decoded::Data(b) => log.push(format!("data {b:?}")),
                    Decoded::End(_) => {
                        log.push("end".into());
                        return Ok((log, offset + chunk.len() - input.len()));
                    }
                    Decoded::NeedMore | Decoded::Finished => break,
                }
            }
            offset += chunk.len();
        }
        d.eof()?;
        Ok((log, offset))
    }

    fn binary(meta: &str, body: &[u8]) -> Vec<u8> {
        let mut v = vec![1];
        v.extend(
            Header {
                meta_size: meta.len() as u32,
                body_size: body.len() as u64,
            }
            .encode(),
        );
        v.extend(meta.as_bytes());
        v.extend(body);
        v.extend(Footer::for_checksum(crc32fast::hash(body)).encode());
        v
    }

    #[test]
    fn binary_whole() {
        let wire = binary("m", b"abc");
        let (log, used) = run(&wire, wire.len()).unwrap();
        assert_eq!(
            log,
            ["start binary \"m\" Some(3)", "data [97, 98, 99]", "end"]
        );
        assert_eq!(used, wire.len());
    }

    #[test]
    fn every_prefix_is_partial_not_error() {
        let wire = binary("meta", b"body");
        for cut in 0..wire.len() {
            let mut d = Decoder::new();
            let mut input = &wire[..cut];
            loop {
                let (used, ev) = d.decode(input).unwrap();
                input = &input[used..];
                assert!(!matches!(ev, Decoded::End(_)), "ended at prefix {cut}");
                if ev == Decoded::NeedMore {
                    break;
                }
            }
            assert!(input.is_empty());
            assert!(matches!(d.eof(), Err(Error::UnexpectedEof { .. })));
        }
    }

    #[test]
    fn text_stops_at_all_end_and_leaves_the_rest() {
        let (log, used) = run(b"ab\x03c\x04NEXT", 100).unwrap();
        assert_eq!(log, ["start text \"\" None", "data [97, 98, 3, 99]", "end"]);
        assert_eq!(used, 5);
    }

    #[test]
    fn empty_text_ends_at_once() {
        let (log, used) = run(b"\x04GARBAGE", 1).unwrap();
        assert_eq!(log, ["start text \"\" None", "end"]);
        assert_eq!(used, 1);
    }

    #[test]
    fn body_stops_at_footer_and_leaves_the_rest() {
        let mut wire = binary("", b"xyz");
        let len = wire.len();
        wire.extend(b"\x01more");
        let (_, used) = run(&wire, 4).unwrap();
        assert_eq!(used, len);
    }

    #[test]
    fn limits_checked_at_header() {
        let mut wire = vec![1];
        wire.extend(
            Header {
                meta_size: u32::MAX,
                body_size: 0,
            }
            .encode(),
        );
        let err = run(&wire, 13).unwrap_err();
        assert!(matches!(
            err,
            Error::LimitExceeded {
                what: Limit::MetaSize,
                size: 0xffff_ffff,
                ..
            }
        ));
        let mut wire = vec![1];
        wire.extend(
            Header {
                meta_size: 0,
                body_size: u64::MAX,
            }
            .encode(),
        );
        assert!(matches!(
            run(&wire, 13).unwrap_err(),
            Error::LimitExceeded {
                what: Limit::BodySize,
                ..
            }
        ));
    }

    #[test]
    fn read_limit_never_passes_the_end() {
        let wire = binary("mm", b"0123456789");
        let mut d = Decoder::new();
        let mut pos = 0;
        loop {
            let want = d.read_limit();
            assert!(want >= 1);
            assert!(pos + want <= wire.len(), "asked past the end at {pos}");
            let input = &wire[pos..pos + want];
            let mut rest = input;
            let mut ended = false;
            while !rest.is_empty() || !ended {
                let (used, ev) = d.decode(rest).unwrap();
                rest = &rest[used..];
                match ev {
                    Decoded::End(_) => {
                        ended = true;
                        break;
                    }
                    Decoded::NeedMore | Decoded::Finished => break,
                    _ => {}
                }
            }
            pos += want;
            if ended {
                break;
            }
        }
        assert_eq!(pos, wire.len());
        assert_eq!(d.read_limit(), 0);
    }

    #[test]
    fn failed_decoder_takes_nothing_until_reset() {
        let mut wire = binary("", b"a");
        let n = wire.len();
        wire[n - 1] ^= 1;
        let mut d = Decoder::new();
        let mut input = &wire[..];
        let err = loop {
            match d.decode(input) {
                Ok((used, _)) => input = &input[used..],
                Err(e) => break e,
            }
        };
        assert!(matches!(err, Error::ChecksumMismatch { .. }));
        // The same error again, from decode and from eof; nothing taken.
        assert!(matches!(
            d.decode(b"\x04"),
            Err(Error::ChecksumMismatch { .. })
        ));
        assert!(matches!(d.eof(), Err(Error::ChecksumMismatch { .. })));
        assert_eq!(d.read_limit(), 0);
        d.reset();
        assert_eq!(d.decode(b"\x04").unwrap().1, Decoded::Start(Start::text()));
    }
}
