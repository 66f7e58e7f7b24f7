//! Properties shared by the tests and the fuzz targets (`fuzz/`): they
//! depend on nothing but the crate, std and `arbitrary`.

use std::io::{self, Read};

use nvflare_hci::{
    ContentType, DataProcessor, Decoded, Decoder, End, Error, ExchangeHandler, ExchangeSender,
    Limits, Start,
};

/// What decoding one exchange produced, in owned form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A complete exchange.
    Done {
        /// Text or binary.
        content_type: ContentType,
        /// The meta (empty for text).
        meta: String,
        /// The announced body size (`None` for text).
        body_size: Option<u64>,
        /// The body, or the text without its `ALL_END`.
        content: Vec<u8>,
        /// The bytes the exchange took on the wire.
        consumed: usize,
    },
    /// An error, by variant name (sizes in a text-limit error depend on
    /// where the input was split, so only the variant is compared).
    Failed(String),
}

fn variant(e: &Error) -> String {
    let dbg = format!("{e:?}");
    let end = dbg.find([' ', '(', '{']).unwrap_or(dbg.len());
    let mut name = dbg[..end].to_owned();
    if let Error::UnexpectedEof { section, .. } | Error::InvalidUtf8 { section, .. } = e {
        name.push_str(&format!("/{section}"));
    }
    name
}

/// Small limits, so that fuzzing reaches them.
pub fn fuzz_limits() -> Limits {
    Limits::default()
        .with_max_meta_size(4096)
        .with_max_body_size(1 << 20)
        .with_max_text_size(4096)
}

/// Decodes `wire` with the sans-IO decoder, fed in the pieces that `cuts`
/// (offsets, any order, any range) mark.
pub fn decode_pieces(wire: &[u8], cuts: &[usize], limits: Limits) -> Outcome {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.push(0);
    points.push(wire.len());
    points.sort_unstable();
    points.dedup();
    let mut d = Decoder::with_limits(limits);
    let (mut ct, mut meta, mut size, mut content) = (None, String::new(), None, Vec::new());
    let mut consumed = 0;
    for pair in points.windows(2) {
        let mut input = &wire[pair[0]..pair[1]];
        loop {
            let (used, event) = match d.decode(input) {
                Ok(step) => step,
                Err(e) => return Outcome::Failed(variant(&e)),
            };
            consumed += used;
            input = &input[used..];
            match event {
                Decoded::Start(s) => {
                    assert!(ct.is_none(), "two starts");
                    ct = Some(s.content_type());
                    meta = s.meta().to_owned();
                    size = s.body_size();
                }
                Decoded::Data(b) => {
                    assert!(ct.is_some(), "data before start");
                    assert!(!b.is_empty(), "empty data event");
                    content.extend_from_slice(b);
                }
                Decoded::End(_) => {
                    if let Some(s) = size {
                        assert_eq!(s, content.len() as u64, "body size");
                    }
                    return Outcome::Done {
                        content_type: ct.expect("end before start"),
                        meta,
                        body_size: size,
                        content,
                        consumed,
                    };
                }
                Decoded::NeedMore => {
                    assert!(input.is_empty(), "decoder stopped with input left");
                    break;
                }
                Decoded::Finished => panic!("finished without an end"),
            }
        }
    }
    match d.eof() {
        Err(e) => Outcome::Failed(variant(&e)),
        Ok(()) => panic!("eof accepted an incomplete exchange"),
    }
}

/// Collects content in memory.
#[derive(Default)]
pub struct Collect {
    start: Option<(ContentType, String, Option<u64>)>,
    content: Vec<u8>,
}

impl DataProcessor for Collect {
    type Output = (ContentType, String, Option<u64>, Vec<u8>);
    fn start(&mut self, start: &Start<'_>) -> Result<(), Error> {
        self.start = Some((
            start.content_type(),
            start.meta().to_owned(),
            start.body_size(),
        ));
        self.content.clear();
        Ok(())
    }
    fn process(&mut self, data: &[u8], _: ContentType) -> Result<(), Error> {
        self.content.extend_from_slice(data);
        Ok(())
    }
    fn finalize(&mut self, _: &End) -> Result<Self::Output, Error> {
        let (ct, meta, size) = self.start.take().expect("finalize before start");
        Ok((ct, meta, size, std::mem::take(&mut self.content)))
    }
    fn abort(&mut self) {
        self.start = None;
        self.content.clear();
    }
}

/// A reader that returns pieces whose lengths come from `sizes` in turn.
pub struct Pieces<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    next: usize,
}

impl<'a> Pieces<'a> {
    /// Reads `data` in pieces of `sizes[i] + 1` bytes, cycling.
    pub fn new(data: &'a [u8], sizes: &'a [u8]) -> Self {
        Pieces {
            data,
            sizes,
            next: 0,
        }
    }
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = if self.sizes.is_empty() {
            buf.len()
        } else {
            usize::from(self.sizes[self.next % self.sizes.len()]) + 1
        };
        self.next += 1;
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Arbitrary bytes, whole and in pieces, through the decoder and the
/// handler: never a panic, and the same outcome whatever the split.
pub fn check_decode(wire: &[u8], cuts: &[usize], sizes: &[u8]) {
    let limits = fuzz_limits();
    let whole = decode_pieces(wire, &[], limits);
    let split = decode_pieces(wire, cuts, limits);
    assert_eq!(whole, split, "split changed the outcome");
    for read_ahead in [false, true] {
        let mut h = ExchangeHandler::new(Pieces::new(wire, sizes))
            .limits(limits)
            .read_ahead(read_ahead)
            .block_size(usize::from(sizes.first().copied().unwrap_or(255)) * 37 + 1);
        let via_handler = match h.receive_and_parse(&mut Collect::default()) {
            Ok((content_type, meta, body_size, content)) => {
                let consumed = if read_ahead {
                    wire.len() - h.buffered().len() - h.get_ref().data.len()
                } else {
                    assert!(h.buffered().is_empty(), "exact mode buffered bytes");
                    wire.len() - h.get_ref().data.len()
                };
                Outcome::Done {
                    content_type,
                    meta,
                    body_size,
                    content,
                    consumed,
                }
            }
            Err(e) => Outcome::Failed(variant(&e)),
        };
        assert_eq!(
            whole, via_handler,
            "handler (read_ahead {read_ahead}) disagrees"
        );
    }
}

/// An exchange to round-trip.
#[derive(Debug, Clone)]
pub enum Sample<'a> {
    /// Text (made sendable: no ALL_END, no leading binary marker).
    Text(&'a str),
    /// Meta and body.
    Binary(&'a str, &'a [u8]),
}

/// Encodes `samples` with `block`-sized writes, decodes them back in pieces
/// of `sizes`: exactly what was sent, in order.
pub fn check_round_trip(samples: &[Sample<'_>], block: usize, sizes: &[u8]) {
    let mut sender = ExchangeSender::new(Vec::new()).block_size(block);
    let mut expected = Vec::new();
    for s in samples {
        match *s {
            Sample::Text(t) => {
                let t = t.replace('\u{4}', "");
                let t = t.trim_start_matches('\u{1}').to_owned();
                sender.send_text(&t).expect("sendable text");
                expected.push((ContentType::Text, String::new(), None, t.into_bytes()));
            }
            Sample::Binary(m, b) => {
                assert_eq!(sender.send_binary_data(b, m).unwrap().size, b.len() as u64);
                expected.push((
                    ContentType::Binary,
                    m.to_owned(),
                    Some(b.len() as u64),
                    b.to_vec(),
                ));
            }
        }
    }
    let wire = sender.into_inner();
    let mut h = ExchangeHandler::new(Pieces::new(&wire, sizes))
        .limits(Limits::unlimited())
        .read_ahead(sizes.len() % 2 == 1);
    for want in expected {
        let got = h.receive_and_parse(&mut Collect::default()).unwrap();
        assert_eq!(got, want);
    }
    assert!(h
        .receive_and_parse(&mut Collect::default())
        .unwrap_err()
        .is_clean_close());
}

/// The `decode` fuzz target's input: a count byte, that many piece sizes,
/// then the wire bytes.
pub fn decode_input(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(first % 16).min(rest.len());
    let (sizes, wire) = rest.split_at(n);
    let cuts: Vec<usize> = sizes
        .iter()
        .scan(0usize, |at, &s| {
            *at += usize::from(s) + 1;
            Some(*at)
        })
        .collect();
    check_decode(wire, &cuts, sizes);
}

/// The `round_trip` fuzz target's input.
#[derive(Debug, arbitrary::Arbitrary)]
pub struct RoundTripInput<'a> {
    /// (binary?, meta or text, body)
    pub samples: Vec<(bool, &'a str, &'a [u8])>,
    /// Block size, less 13.
    pub block: u16,
    /// Read sizes, less 1.
    pub sizes: &'a [u8],
}

/// Runs [`check_round_trip`] on a fuzz input.
pub fn round_trip_input(input: &RoundTripInput<'_>) {
    let samples: Vec<Sample<'_>> = input
        .samples
        .iter()
        .map(|&(binary, s, b)| {
            if binary {
                Sample::Binary(s, b)
            } else {
                Sample::Text(s)
            }
        })
        .collect();
    check_round_trip(&samples, usize::from(input.block) + 13, input.sizes);
}
