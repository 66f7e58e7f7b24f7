//! docs/wire.md faults 4 and 5: Python accepts text cut short by end of stream,
//! and raises `TypeError` at an end of stream inside the meta. Here an early
//! end is always `UnexpectedEof`, naming the section and its byte counts,
//! and leaves no temporary file.

mod common;

use common::{binary_wire, entries, SplitReader};
use nvflare_hci::{receive_all, Error, ExchangeHandler, MsgDataProcessor, Section};

fn eof_of(wire: &[u8], max: usize) -> (Section, u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut p = MsgDataProcessor::in_dir(dir.path());
    let err = ExchangeHandler::new(SplitReader::new(wire, max, 5))
        .receive_and_parse(&mut p)
        .unwrap_err();
    assert!(entries(dir.path()).is_empty(), "temp file left behind");
    match err {
        Error::UnexpectedEof {
            section,
            expected,
            got,
        } => (section, expected, got),
        other => panic!("{other:?}"),
    }
}

#[test]
fn text_without_all_end_is_not_complete() {
    assert_eq!(eof_of(b"{\"status\":\"ok\"", 3), (Section::Text, 15, 14));
    assert_eq!(eof_of(b"x", 3), (Section::Text, 2, 1));
}

#[test]
fn empty_stream() {
    let err = receive_all(&b""[..]).unwrap_err();
    assert!(err.is_clean_close());
    assert_eq!(eof_of(b"", 1), (Section::Marker, 1, 0));
}

#[test]
fn every_cut_of_a_binary_exchange_names_its_section() {
    let meta = b"meta!";
    let body = b"0123456789";
    let wire = binary_wire(meta, body);
    for cut in 1..wire.len() {
        let expected = match cut {
            1..=12 => (Section::Header, 12, cut as u64 - 1),
            13..=17 => (Section::Meta, 5, cut as u64 - 13),
            18..=27 => (Section::Body, 10, cut as u64 - 18),
            _ => (Section::Footer, 8, cut as u64 - 28),
        };
        for max in [1, 4, 100] {
            assert_eq!(eof_of(&wire[..cut], max), expected, "cut {cut}");
        }
    }
}

#[test]
fn eof_inside_meta_is_not_a_type_error() {
    let wire = binary_wire(&[b'm'; 100], b"");
    assert_eq!(eof_of(&wire[..13 + 40], 7), (Section::Meta, 100, 40));
}

#[test]
fn message_names_the_numbers() {
    let wire = binary_wire(b"", b"abc");
    let err = receive_all(&wire[..15]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unexpected end of stream in body: expected 3 bytes, got 2"
    );
}
