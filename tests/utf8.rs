//! docs/wire.md fault 1: Python decodes text read by read, so a character split
//! across reads (or a non-ASCII first character) fails. Here text is decoded
//! once complete; invalid UTF-8 is a typed error.

mod common;

use common::SplitReader;
use nvflare_hci::{receive_all, Error, ExchangeHandler, Section};

#[test]
fn non_ascii_first_character() {
    // Python reads the first byte alone and fails on "中".
    let got = receive_all("中文信息\x04".as_bytes()).unwrap();
    assert_eq!(got.as_text(), Some("中文信息"));
}

#[test]
fn character_split_at_every_point() {
    let text = "a✓b中c𝄞d";
    let mut wire = text.as_bytes().to_vec();
    wire.push(0x04);
    for max in 1..=wire.len() {
        for seed in 0..8 {
            let got = receive_all(SplitReader::new(&wire[..], max, seed)).unwrap();
            assert_eq!(got.as_text(), Some(text), "split {max} seed {seed}");
        }
    }
}

#[test]
fn invalid_text_is_a_typed_error() {
    let wire = b"ok \xff\xfe bad\x04";
    match receive_all(&wire[..]) {
        Err(Error::InvalidUtf8 {
            section: Section::Text,
            source,
        }) => assert_eq!(source.valid_up_to(), 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn text_cut_inside_a_character_is_invalid() {
    let mut wire = "ab中".as_bytes()[..4].to_vec();
    wire.push(0x04);
    assert!(matches!(
        receive_all(&wire[..]),
        Err(Error::InvalidUtf8 {
            section: Section::Text,
            ..
        })
    ));
}

#[test]
fn invalid_meta_is_a_typed_error_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let wire = common::binary_wire(b"m\xc3", b"body");
    let mut p = nvflare_hci::MsgDataProcessor::in_dir(dir.path());
    match ExchangeHandler::new(&wire[..]).receive_and_parse(&mut p) {
        Err(Error::InvalidUtf8 {
            section: Section::Meta,
            source,
        }) => assert_eq!(source.valid_up_to(), 1),
        other => panic!("{other:?}"),
    }
    assert!(common::entries(dir.path()).is_empty());
}

#[test]
fn non_ascii_meta_split_anywhere() {
    let meta = "this is 中文信息";
    let wire = common::binary_wire(meta.as_bytes(), b"x");
    for max in 1..6 {
        let got = receive_all(SplitReader::new(&wire[..], max, 9)).unwrap();
        assert_eq!(got.meta(), Some(meta));
    }
}
