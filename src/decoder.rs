//! The sans-IO state machine: bytes in, events out. It never reads or writes.

use crate::error::{Error, Limit, Result, Section};
use crate::wire::{
    find_byte, ContentType, Footer, Header, ALL_END, BINARY_MARKER, FOOTER_LEN, HEADER_LEN,
};

/// Bounds on what a peer may announce or send, checked before anything is
/// allocated or written for it.
///
/// ```
/// use nvflare_hci::Limits;
/// let limits = Limits::default().max_body_size(1 << 30).max_meta_size(4096);
/// assert_eq!(limits.get_max_body_size(), 1 << 30);
/// assert_eq!(limits.get_max_text_size(), Limits::DEFAULT_MAX_TEXT_SIZE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_meta_size: u32,
    max_body_size: u64,
    max_text_size: u64,
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

    /// Sets the largest `meta_size` accepted.
    pub const fn max_meta_size(mut self, max: u32) -> Self {
        self.max_meta_size = max;
        self
    }

    /// Sets the largest `body_size` accepted.
    pub const fn max_body_size(mut self, max: u64) -> Self {
        self.max_body_size = max;
        self
    }

    /// Sets the most bytes a text exchange may hold before its `ALL_END`.
    pub const fn max_text_size(mut self, max: u64) -> Self {
        self.max_text_size = max;
        self
    }

    /// The largest `meta_size` accepted.
    pub const fn get_max_meta_size(&self) -> u32 {
        self.max_meta_size
    }

    /// The largest `body_size` accepted.
    pub const fn get_max_body_size(&self) -> u64 {
        self.max_body_size
    }

    /// The most bytes of text accepted.
    pub const fn get_max_text_size(&self) -> u64 {
        self.max_text_size
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

/// What the decoder found in the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The exchange's kind, meta and body size are known; no content yet.
    Start(Start<'a>),
    /// Content: body bytes, or text bytes (never the final `ALL_END`).
    Data(&'a [u8]),
    /// The exchange is complete, and for binary its footer verified.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Marker,
    Header,
    Meta,
    Body,
    Footer,
    Text,
    Done,
    Failed,
}

/// Internal, borrow-free form of [`Event`].
enum Found {
    StartText,
    StartBinary,
    Data { at: usize, len: usize },
    End,
}

/// A sans-IO decoder of one exchange at a time.
///
/// Feed it bytes with [`decode`](Decoder::decode); it returns how many it
/// consumed and at most one [`Event`]. It never needs more than it is given:
/// a short input is not an error, the decoder keeps its place and waits for
/// the rest, whatever the split. When the input ends, [`eof`](Decoder::eof)
/// tells whether the exchange was complete.
///
/// ```
/// use nvflare_hci::{Decoder, Event};
/// let wire = b"{\"cmd\":\"list\"}\x04";
/// let mut decoder = Decoder::new();
/// let mut input = &wire[..];
/// let mut text = Vec::new();
/// loop {
///     let (used, event) = decoder.decode(input)?;
///     input = &input[used..];
///     match event {
///         Some(Event::Data(d)) => text.extend_from_slice(d),
///         Some(Event::End) => break,
///         Some(Event::Start(_)) => {}
///         None => decoder.eof()?, // input ran out before the end
///     }
/// }
/// assert_eq!(text, b"{\"cmd\":\"list\"}");
/// # Ok::<(), nvflare_hci::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    limits: Limits,
    state: State,
    content_type: Option<ContentType>,
    fixed: [u8; HEADER_LEN],
    filled: usize,
    meta_size: usize,
    meta_bytes: Vec<u8>,
    meta: String,
    body_size: u64,
    remaining: u64,
    crc: crc32fast::Hasher,
    checksum: Option<u32>,
    text_len: u64,
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
            content_type: None,
            fixed: [0; HEADER_LEN],
            filled: 0,
            meta_size: 0,
            meta_bytes: Vec::new(),
            meta: String::new(),
            body_size: 0,
            remaining: 0,
            crc: crc32fast::Hasher::new(),
            checksum: None,
            text_len: 0,
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
    /// Needed after [`Event::End`] or an error before decoding again.
    pub fn reset(&mut self) {
        self.state = State::Marker;
        self.content_type = None;
        self.filled = 0;
        self.meta_size = 0;
        self.meta_bytes = Vec::new();
        self.meta.clear();
        self.body_size = 0;
        self.remaining = 0;
        self.crc = crc32fast::Hasher::new();
        self.checksum = None;
        self.text_len = 0;
    }

    /// True once [`Event::End`] was returned (until [`reset`](Decoder::reset)).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The current exchange's kind, once its first byte was seen.
    pub fn content_type(&self) -> Option<ContentType> {
        self.content_type
    }

    /// The meta of the current binary exchange, once complete (else empty).
    pub fn meta(&self) -> &str {
        &self.meta
    }

    /// The CRC-32 of the body of a binary exchange, once its footer has
    /// verified it (after [`Event::End`], until [`reset`](Decoder::reset)).
    pub fn checksum(&self) -> Option<u32> {
        self.checksum
    }

    /// Content bytes (body or text) decoded so far, and the total when known
    /// (the declared body size of a binary exchange).
    pub fn progress(&self) -> (u64, Option<u64>) {
        match self.content_type {
            Some(ContentType::Binary) => {
                let total = self.body_size;
                let done = if matches!(self.state, State::Marker | State::Header | State::Meta) {
                    0
                } else {
                    total - self.remaining
                };
                (done, Some(total))
            }
            Some(ContentType::Text) => (self.text_len, None),
            None => (0, None),
        }
    }

    /// The most bytes that can be read from the stream now without reading
    /// past the end of this exchange; 0 when done. A binary exchange's
    /// length is known once its header is in; text is read a byte at a time
    /// since its end is only known when seen.
    pub fn exact_read_len(&self) -> usize {
        let rest: u64 = match self.state {
            State::Marker | State::Text => 1,
            State::Header => (HEADER_LEN - self.filled) as u64,
            State::Meta => ((self.meta_size - self.meta_bytes.len()) as u64)
                .saturating_add(self.body_size)
                .saturating_add(FOOTER_LEN as u64),
            State::Body => self.remaining.saturating_add(FOOTER_LEN as u64),
            State::Footer => (FOOTER_LEN - self.filled) as u64,
            State::Done | State::Failed => 0,
        };
        usize::try_from(rest).unwrap_or(usize::MAX)
    }

    /// The error for an input that ended now: `Ok` only if the exchange is
    /// complete.
    ///
    /// # Errors
    /// [`Error::UnexpectedEof`] naming the section that was cut short, with
    /// the bytes it needed and those it got.
    pub fn eof(&self) -> Result<()> {
        let (section, expected, got) = match self.state {
            State::Done | State::Failed => return Ok(()),
            State::Marker => (Section::Marker, 1, 0),
            State::Header => (Section::Header, HEADER_LEN as u64, self.filled as u64),
            State::Meta => (
                Section::Meta,
                self.meta_size as u64,
                self.meta_bytes.len() as u64,
            ),
            State::Body => (
                Section::Body,
                self.body_size,
                self.body_size - self.remaining,
            ),
            State::Footer => (Section::Footer, FOOTER_LEN as u64, self.filled as u64),
            State::Text => (Section::Text, self.text_len + 1, self.text_len),
        };
        Err(Error::UnexpectedEof {
            section,
            expected,
            got,
        })
    }

    /// Decodes from `input`: returns the bytes consumed and at most one event.
    ///
    /// `None` means every byte was consumed and more input is needed (or,
    /// once done, that nothing more is taken: bytes after the exchange's end
    /// are never consumed). Call again with the unconsumed rest of the input
    /// after each event.
    ///
    /// # Errors
    /// [`Error::LimitExceeded`] for a header or text over the [`Limits`],
    /// [`Error::InvalidUtf8`] for meta that is not UTF-8,
    /// [`Error::FooterMarker`] and [`Error::ChecksumMismatch`] for a bad
    /// footer. After an error the decoder takes no input until
    /// [`reset`](Decoder::reset).
    pub fn decode<'a>(&'a mut self, input: &'a [u8]) -> Result<(usize, Option<Event<'a>>)> {
        let (used, found) = match self.advance(input) {
            Ok(step) => step,
            Err(e) => {
                self.state = State::Failed;
                return Err(e);
            }
        };
        let event = found.map(|f| match f {
            Found::StartText => Event::Start(Start::text()),
            Found::StartBinary => Event::Start(Start::binary(&self.meta, self.body_size)),
            Found::Data { at, len } => Event::Data(&input[at..at + len]),
            Found::End => Event::End,
        });
        Ok((used, event))
    }

    fn advance(&mut self, input: &[u8]) -> Result<(usize, Option<Found>)> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Marker => {
                    let Some(&first) = rest.first() else {
                        return Ok((pos, None));
                    };
                    if first == BINARY_MARKER {
                        self.content_type = Some(ContentType::Binary);
                        self.state = State::Header;
                        self.filled = 0;
                        pos += 1;
                    } else {
                        // The first byte is part of the text: leave it unconsumed.
                        self.content_type = Some(ContentType::Text);
                        self.state = State::Text;
                        self.text_len = 0;
                        return Ok((pos, Some(Found::StartText)));
                    }
                }
                State::Header => {
                    let n = (HEADER_LEN - self.filled).min(rest.len());
                    self.fixed[self.filled..self.filled + n].copy_from_slice(&rest[..n]);
                    self.filled += n;
                    pos += n;
                    if self.filled < HEADER_LEN {
                        return Ok((pos, None));
                    }
                    self.begin_binary(Header::decode(&self.fixed))?;
                }
                State::Meta => {
                    let n = (self.meta_size - self.meta_bytes.len()).min(rest.len());
                    self.meta_bytes.extend_from_slice(&rest[..n]);
                    pos += n;
                    if self.meta_bytes.len() < self.meta_size {
                        return Ok((pos, None));
                    }
                    let bytes = std::mem::take(&mut self.meta_bytes);
                    self.meta = String::from_utf8(bytes).map_err(|e| Error::InvalidUtf8 {
                        section: Section::Meta,
                        source: e.utf8_error(),
                    })?;
                    self.remaining = self.body_size;
                    self.filled = 0;
                    self.state = if self.body_size == 0 {
                        State::Footer
                    } else {
                        State::Body
                    };
                    return Ok((pos, Some(Found::StartBinary)));
                }
                State::Body => {
                    if rest.is_empty() {
                        return Ok((pos, None));
                    }
                    let len = usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    self.crc.update(&rest[..len]);
                    self.remaining -= len as u64;
                    if self.remaining == 0 {
                        self.state = State::Footer;
                        self.filled = 0;
                    }
                    return Ok((pos + len, Some(Found::Data { at: pos, len })));
                }
                State::Footer => {
                    let n = (FOOTER_LEN - self.filled).min(rest.len());
                    self.fixed[self.filled..self.filled + n].copy_from_slice(&rest[..n]);
                    self.filled += n;
                    pos += n;
                    if self.filled < FOOTER_LEN {
                        return Ok((pos, None));
                    }
                    let mut bytes = [0u8; FOOTER_LEN];
                    bytes.copy_from_slice(&self.fixed[..FOOTER_LEN]);
                    let footer = Footer::decode(&bytes);
                    if footer.end_marker != 0 {
                        return Err(Error::FooterMarker {
                            found: footer.end_marker,
                        });
                    }
                    let computed = self.crc.clone().finalize();
                    if footer.checksum != computed {
                        return Err(Error::ChecksumMismatch {
                            received: footer.checksum,
                            computed,
                        });
                    }
                    self.checksum = Some(computed);
                    self.state = State::Done;
                    return Ok((pos, Some(Found::End)));
                }
                State::Text => {
                    if rest.is_empty() {
                        return Ok((pos, None));
                    }
                    let end = find_byte(ALL_END, rest);
                    if end == Some(0) {
                        self.state = State::Done;
                        return Ok((pos + 1, Some(Found::End)));
                    }
                    let len = end.unwrap_or(rest.len());
                    let total = self.text_len.saturating_add(len as u64);
                    if total > self.limits.max_text_size {
                        return Err(Error::LimitExceeded {
                            what: Limit::TextSize,
                            size: total,
                            max: self.limits.max_text_size,
                        });
                    }
                    self.text_len = total;
                    return Ok((pos + len, Some(Found::Data { at: pos, len })));
                }
                State::Done | State::Failed => return Ok((pos, None)),
            }
        }
    }

    fn begin_binary(&mut self, header: Header) -> Result<()> {
        if header.meta_size > self.limits.max_meta_size {
            return Err(Error::LimitExceeded {
                what: Limit::MetaSize,
                size: header.meta_size.into(),
                max: self.limits.max_meta_size.into(),
            });
        }
        if header.body_size > self.limits.max_body_size {
            return Err(Error::LimitExceeded {
                what: Limit::BodySize,
                size: header.body_size,
                max: self.limits.max_body_size,
            });
        }
        let meta_size = usize::try_from(header.meta_size).map_err(|_| Error::LimitExceeded {
            what: Limit::MetaSize,
            size: header.meta_size.into(),
            max: usize::MAX as u64,
        })?;
        self.meta_size = meta_size;
        self.meta_bytes = Vec::with_capacity(meta_size.min(META_RESERVE));
        self.meta.clear();
        self.body_size = header.body_size;
        self.state = State::Meta;
        Ok(())
    }
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
                    Some(Event::Start(s)) => log.push(format!(
                        "start {} {:?} {:?}",
                        s.content_type(),
                        s.meta(),
                        s.body_size()
                    )),
                    Some(Event::Data(b)) => log.push(format!("data {b:?}")),
                    Some(Event::End) => {
                        log.push("end".into());
                        return Ok((log, offset + chunk.len() - input.len()));
                    }
                    None => break,
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
                assert_ne!(ev, Some(Event::End), "ended at prefix {cut}");
                if ev.is_none() {
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
    fn exact_read_len_never_passes_the_end() {
        let wire = binary("mm", b"0123456789");
        let mut d = Decoder::new();
        let mut pos = 0;
        loop {
            let want = d.exact_read_len();
            assert!(want >= 1);
            assert!(pos + want <= wire.len(), "asked past the end at {pos}");
            let input = &wire[pos..pos + want];
            let mut rest = input;
            let mut ended = false;
            while !rest.is_empty() || !ended {
                let (used, ev) = d.decode(rest).unwrap();
                rest = &rest[used..];
                match ev {
                    Some(Event::End) => {
                        ended = true;
                        break;
                    }
                    None => break,
                    _ => {}
                }
            }
            pos += want;
            if ended {
                break;
            }
        }
        assert_eq!(pos, wire.len());
        assert_eq!(d.exact_read_len(), 0);
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
        assert_eq!(d.decode(b"\x04").unwrap(), (0, None));
        d.reset();
        assert_eq!(
            d.decode(b"\x04").unwrap().1,
            Some(Event::Start(Start::text()))
        );
    }
}
