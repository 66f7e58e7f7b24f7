//! The text reply the text benchmarks send, shared by `benches/exchange.rs`
//! and `examples/text_bench.rs`.

use nvflare_hci::{ALL_END, LINE_END};

/// A text reply of `len` bytes before its `ALL_END`, a `LINE_END` every 100
/// bytes, as NVFlare's server sends lines.
pub fn text_reply(len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len)
        .map(|i| {
            if i % 100 == 99 {
                LINE_END
            } else {
                b'a' + (i % 26) as u8
            }
        })
        .collect();
    v.push(ALL_END);
    v
}
