//! docs/wire.md fault 2: Python does not see `0x04` as the end when it is the
//! first byte, and returns what follows. Here it is the empty message, and
//! what follows stays in the stream.

use std::io::Read;

use nvflare_hci::{receive_all, ExchangeHandler};

#[test]
fn lone_all_end_is_the_empty_text() {
    let got = receive_all(&b"\x04"[..]).unwrap();
    assert_eq!(got.as_text(), Some(""));
}

#[test]
fn what_follows_is_not_part_of_it() {
    let mut stream: &[u8] = b"\x04GARBAGE";
    let got = receive_all(&mut stream).unwrap();
    assert_eq!(got.as_text(), Some(""));
    let mut rest = String::new();
    stream.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "GARBAGE");
}

#[test]
fn empty_text_then_another_exchange() {
    let mut h = ExchangeHandler::new(&b"\x04\x04next\x04"[..]).read_ahead(true);
    assert_eq!(h.receive_all().unwrap().as_text(), Some(""));
    assert_eq!(h.receive_all().unwrap().as_text(), Some(""));
    assert_eq!(h.receive_all().unwrap().as_text(), Some("next"));
    assert!(h.receive_all().unwrap_err().is_clean_close());
}
