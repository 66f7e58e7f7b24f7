//! A custom [`DataProcessor`]: counts the lines of a text exchange and the
//! bytes of a body as they stream past, without a temp file. Here the
//! exchanges come from memory; on a socket, pass the processor to
//! `Connection::receive_and_parse` the same way.
//!
//! ```text
//! cargo run --example processor
//! ```

use nvflare_hci::{
    send_binary_data, send_lines, ContentType, DataProcessor, End, ExchangeHandler, Result, Start,
    LINE_END,
};

/// What one exchange held.
enum Summary {
    Text {
        lines: usize,
    },
    Binary {
        meta: String,
        bytes: u64,
        crc32: u32,
    },
}

/// Counts as the content arrives; keeps nothing of it.
#[derive(Default)]
struct Counter {
    meta: String,
    bytes: u64,
    lines: usize,
    /// Text since the last `LINE_END`: a last line without one.
    open_line: bool,
}

impl DataProcessor for Counter {
    type Output = Summary;

    fn start(&mut self, start: &Start<'_>) -> Result<()> {
        *self = Counter {
            meta: start.meta().to_owned(),
            ..Counter::default()
        };
        Ok(())
    }

    fn process(&mut self, data: &[u8], content_type: ContentType) -> Result<()> {
        match content_type {
            ContentType::Text => {
                for &b in data {
                    self.lines += usize::from(b == LINE_END);
                    self.open_line = b != LINE_END;
                }
            }
            ContentType::Binary => self.bytes += data.len() as u64,
        }
        Ok(())
    }

    fn finalize(&mut self, end: &End) -> Result<Summary> {
        Ok(match end.checksum() {
            Some(crc32) => Summary::Binary {
                meta: std::mem::take(&mut self.meta),
                bytes: self.bytes,
                crc32,
            },
            None => Summary::Text {
                lines: self.lines + usize::from(self.open_line),
            },
        })
    }
}

fn main() -> Result<()> {
    // Two exchanges back to back, as a peer would send them.
    let mut wire = Vec::new();
    send_lines(&mut wire, ["first line", "second line", "third line"])?;
    send_binary_data(
        &mut wire,
        &vec![7u8; 1 << 20][..],
        r#"{"cmd":"submit_job"}"#,
    )?;

    let mut handler = ExchangeHandler::new(&wire[..]);
    let mut counter = Counter::default();
    for _ in 0..2 {
        match handler.receive_and_parse(&mut counter)? {
            Summary::Text { lines } => println!("text: {lines} lines"),
            Summary::Binary { meta, bytes, crc32 } => {
                println!("binary: meta {meta}, {bytes} bytes, crc32 {crc32:08x}")
            }
        }
    }
    Ok(())
}
