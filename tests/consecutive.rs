//! docs/wire.md fault 3: Python drops bytes that follow `0x04` in the same read.
//! Here no byte after an exchange is lost: without read-ahead none is read,
//! with it the handler keeps them for the next exchange.

mod common;

use std::io::Read;

use common::{binary_wire, random_bytes, SplitReader};
use nvflare_hci::{receive_all, Exchange, ExchangeHandler, ExchangeSender};

fn stream_of_exchanges() -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut sender = ExchangeSender::new(Vec::new()).block_size(1000);
    let bodies: Vec<Vec<u8>> = (0..4).map(|i| random_bytes(i * 777, i as u64)).collect();
    sender.send_text("first\x03line").unwrap();
    sender.send_binary_data(&bodies[0][..], "").unwrap();
    sender.send_binary_data(&bodies[1][..], "m1").unwrap();
    sender.send_text("").unwrap();
    sender.send_lines(["a", "b"]).unwrap();
    sender.send_binary_data(&bodies[2][..], "m2").unwrap();
    sender.send_binary_data(&bodies[3][..], "中").unwrap();
    (sender.into_inner(), bodies)
}

fn check_sequence(mut next: impl FnMut() -> Exchange, bodies: &[Vec<u8>]) {
    let read = |e: Exchange| {
        let (m, mut b) = e.into_binary().unwrap();
        let mut v = Vec::new();
        b.read_to_end(&mut v).unwrap();
        (m, v)
    };
    assert_eq!(next().as_text(), Some("firstline"));
    assert_eq!(read(next()), (String::new(), bodies[0].clone()));
    assert_eq!(read(next()), ("m1".into(), bodies[1].clone()));
    assert_eq!(next().as_text(), Some(""));
    assert_eq!(next().as_text(), Some("ab"));
    assert_eq!(read(next()), ("m2".into(), bodies[2].clone()));
    assert_eq!(read(next()), ("中".into(), bodies[3].clone()));
}

#[test]
fn free_function_reads_no_further_than_the_exchange() {
    let (wire, bodies) = stream_of_exchanges();
    for max in [1, 5, 4096, usize::MAX] {
        let mut reader = SplitReader::new(&wire[..], max, 3);
        check_sequence(|| receive_all(&mut reader).unwrap(), &bodies);
        assert_eq!(reader.given, wire.len() as u64);
    }
}

#[test]
fn read_ahead_handler_keeps_what_follows() {
    let (wire, bodies) = stream_of_exchanges();
    for max in [1, 5, 4096, usize::MAX] {
        for block in [1, 16, 1 << 18] {
            let reader = SplitReader::new(&wire[..], max, 3);
            let mut h = ExchangeHandler::new(reader)
                .read_ahead(true)
                .block_size(block);
            check_sequence(|| h.receive_all().unwrap(), &bodies);
            assert!(h.receive_all().unwrap_err().is_clean_close());
        }
    }
}

#[test]
fn read_ahead_is_handed_back() {
    let mut wire = b"one\x04".to_vec();
    wire.extend(binary_wire(b"", b"xy"));
    wire.extend(b"tail");
    let mut h = ExchangeHandler::new(&wire[..]).read_ahead(true);
    assert_eq!(h.receive_all().unwrap().as_text(), Some("one"));
    let (rest_of_stream, read_ahead) = h.into_parts();
    let mut all = read_ahead.clone();
    all.extend_from_slice(rest_of_stream);
    assert_eq!(all, &wire[4..]);
    // A new handler picks up where the old one stopped.
    let mut h = ExchangeHandler::from_partially_read(rest_of_stream, read_ahead);
    assert_eq!(h.receive_all().unwrap().body().unwrap().len(), 2);
    let (_, rest) = h.into_parts();
    assert_eq!(rest, b"tail");
}
