//! The wire format's constants, and its fixed-size header and footer:
//! pure functions, no I/O. For code that builds or inspects exchanges by
//! hand; [`LINE_END`] and [`ALL_END`] are at the crate root too.
//!
//! ```
//! use nvflare_hci::wire::{Footer, Header, BINARY_MARKER, FOOTER_LEN, HEADER_LEN};
//! // A binary exchange with meta "m" and body "hi", built by hand.
//! let mut wire = vec![BINARY_MARKER];
//! wire.extend(Header { meta_size: 1, body_size: 2 }.encode());
//! wire.extend(b"mhi");
//! wire.extend(Footer::for_checksum(crc32fast::hash(b"hi")).encode());
//! assert_eq!(wire.len(), 1 + HEADER_LEN + 3 + FOOTER_LEN);
//! let got = nvflare_hci::receive_all(&wire[..])?;
//! assert_eq!(got.meta(), Some("m"));
//! # Ok::<(), nvflare_hci::Error>(())
//! ```

use std::fmt;

/// The two kinds of exchange. As a `u8` ([`From`]), Python's `CT_TEXT` (0)
/// and `CT_BINARY` (1).
///
/// ```
/// use nvflare_hci::ContentType;
/// assert_eq!(u8::from(ContentType::Text), 0);
/// assert_eq!(u8::from(ContentType::Binary), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ContentType {
    /// Text up to `ALL_END`.
    Text = 0,
    /// Marker, header, meta, body and footer.
    Binary = 1,
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContentType::Text => "text",
            ContentType::Binary => "binary",
        })
    }
}

impl From<ContentType> for u8 {
    fn from(ct: ContentType) -> u8 {
        ct as u8
    }
}

/// The first byte of a binary exchange. Any other first byte starts a text
/// exchange (and is part of its text).
pub const BINARY_MARKER: u8 = 1;

/// Ends a line of a text exchange (`0x03`). The Python receiver, and
/// [`MsgDataProcessor`](crate::MsgDataProcessor), drop it from the text.
pub const LINE_END: u8 = 0x03;

/// Ends a text exchange (`0x04`, "end of transmission"). Not part of the text.
pub const ALL_END: u8 = 0x04;

/// Length of the binary header after the marker: `meta_size: u32 BE`, `body_size: u64 BE`.
pub const HEADER_LEN: usize = 12;

/// Length of the binary footer: end marker `u32 BE` (always 0), CRC-32 of the body `u32 BE`.
pub const FOOTER_LEN: usize = 8;

/// The binary header that follows [`BINARY_MARKER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Header {
    /// Bytes of meta that follow the header.
    pub meta_size: u32,
    /// Bytes of body that follow the meta.
    pub body_size: u64,
}

impl Header {
    /// The header's 12 bytes (`>IQ`), as Python's `binary_header`.
    ///
    /// ```
    /// let h = nvflare_hci::wire::Header { meta_size: 2, body_size: 3 };
    /// assert_eq!(h.encode(), [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3]);
    /// ```
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(&self.meta_size.to_be_bytes());
        out[4..].copy_from_slice(&self.body_size.to_be_bytes());
        out
    }

    /// Reads a header from its 12 bytes. Every bit pattern is a header;
    /// sizes are checked against [`Limits`](crate::Limits) by the decoder.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Self {
        let (meta, body) = bytes.split_at(4);
        Header {
            meta_size: u32::from_be_bytes([meta[0], meta[1], meta[2], meta[3]]),
            body_size: u64::from_be_bytes([
                body[0], body[1], body[2], body[3], body[4], body[5], body[6], body[7],
            ]),
        }
    }
}

/// The binary footer that follows the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Footer {
    /// End-of-data marker; a valid exchange has 0.
    pub end_marker: u32,
    /// CRC-32 (zlib's, as `crc32fast::hash`) of the body.
    pub checksum: u32,
}

impl Footer {
    /// The footer of a body with this CRC-32: end marker 0, then the checksum.
    pub fn for_checksum(checksum: u32) -> Self {
        Footer {
            end_marker: 0,
            checksum,
        }
    }

    /// The footer's 8 bytes (`>II`).
    ///
    /// ```
    /// let f = nvflare_hci::wire::Footer::for_checksum(0xdeadbeef);
    /// assert_eq!(f.encode(), [0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
    /// ```
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = [0u8; FOOTER_LEN];
        out[..4].copy_from_slice(&self.end_marker.to_be_bytes());
        out[4..].copy_from_slice(&self.checksum.to_be_bytes());
        out
    }

    /// Reads a footer from its 8 bytes.
    pub fn decode(bytes: &[u8; FOOTER_LEN]) -> Self {
        Footer {
            end_marker: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            checksum: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        }
    }
}

/// Bytes scanned per step by [`find_byte`]: wide enough for the compiler to
/// compare them as vectors, narrow enough to stop soon after a match.
const SCAN_BLOCK: usize = 64;

/// The offset of the first `needle` in `haystack`.
///
/// Each block of [`SCAN_BLOCK`] bytes is folded into one "any match" byte
/// without an early exit, which the compiler turns into vector compares
/// (SSE2 on any x86-64); the block holding a match is then searched eight
/// bytes at a time. This scans text for `ALL_END` and `LINE_END` at several
/// GB/s, near a dedicated `memchr`, with no dependency and no `unsafe`.
pub(crate) fn find_byte(needle: u8, haystack: &[u8]) -> Option<usize> {
    let mut blocks = haystack.chunks_exact(SCAN_BLOCK);
    let mut base = 0;
    for block in &mut blocks {
        if block
            .iter()
            .fold(0u8, |any, &b| any | u8::from(b == needle))
            != 0
        {
            return find_in_words(needle, block).map(|p| base + p);
        }
        base += SCAN_BLOCK;
    }
    find_in_words(needle, blocks.remainder()).map(|p| base + p)
}

/// [`find_byte`] on a short slice: eight bytes per step, by the classic
/// "has a zero byte" test on `word ^ needle`. Its lowest flagged byte is
/// always the first match (a borrow only flags bytes above a true zero).
fn find_in_words(needle: u8, haystack: &[u8]) -> Option<usize> {
    const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let splat = u64::from_ne_bytes([needle; 8]);
    let mut words = haystack.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes) ^ splat;
        let zero = x.wrapping_sub(LOW) & !x & HIGH;
        if zero != 0 {
            return Some(base + (zero.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&b| b == needle).map(|p| base + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_big_endian_ciq() {
        let h = Header {
            meta_size: 0x0102_0304,
            body_size: 0x0506_0708_090a_0b0c,
        };
        let bytes = h.encode();
        assert_eq!(bytes, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert_eq!(Header::decode(&bytes), h);
    }

    #[test]
    fn header_extremes_round_trip() {
        for (m, b) in [(0, 0), (u32::MAX, u64::MAX), (1, u64::MAX - 1)] {
            let h = Header {
                meta_size: m,
                body_size: b,
            };
            assert_eq!(Header::decode(&h.encode()), h);
        }
    }

    #[test]
    fn footer_is_big_endian_ii() {
        let f = Footer {
            end_marker: 0x0a0b_0c0d,
            checksum: 0x0102_0304,
        };
        assert_eq!(f.encode(), [10, 11, 12, 13, 1, 2, 3, 4]);
        assert_eq!(Footer::decode(&f.encode()), f);
        assert_eq!(Footer::for_checksum(7).encode(), [0, 0, 0, 0, 0, 0, 0, 7]);
    }

    #[test]
    fn crc_is_zlibs() {
        // zlib.crc32(b"123456789") == 0xCBF43926, zlib.crc32(b"") == 0
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32fast::hash(b""), 0);
    }

    #[test]
    fn find_byte_equals_a_plain_scan() {
        // Every length around the block size, the needle at every offset
        // (and absent), other bytes equal to the needle's neighbours.
        for len in [0, 1, 2, 63, 64, 65, 127, 128, 129, 200] {
            for at in (0..len).map(Some).chain([None]) {
                let mut hay: Vec<u8> = (0..len).map(|i| [3u8, 5, 0xff][i % 3]).collect();
                if let Some(at) = at {
                    hay[at] = ALL_END;
                    if at + 1 < len {
                        hay[at + 1] = ALL_END; // only the first counts
                    }
                }
                let plain = hay.iter().position(|&b| b == ALL_END);
                assert_eq!(find_byte(ALL_END, &hay), plain, "len {len} at {at:?}");
            }
        }
    }
}
