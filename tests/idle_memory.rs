//! An idle `Connection` holds a few KiB, not a block: after large exchanges
//! in both directions its buffers are given back. A counting allocator
//! measures it (one test in this file, so nothing else allocates meanwhile).

mod common;

use std::alloc::System;
use std::io::Cursor;

use cap::Cap;
use common::{binary_wire, random_bytes};
use nvflare_hci::{Connection, ExchangeHandler, ExchangeSender, MsgDataProcessor};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// What an idle connection may keep: its first-read buffer and change.
const IDLE_MAX: usize = 16 * 1024;

#[test]
fn buffers_are_given_back_after_each_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let body = random_bytes(3 << 20, 1);
    let text = "x".repeat(2 << 20);
    let mut text_wire = text.clone().into_bytes();
    text_wire.push(nvflare_hci::ALL_END);
    let mut processor = MsgDataProcessor::in_dir(dir.path());
    // Each exchange on its own stream, so that nothing is read ahead and
    // "idle" means nothing buffered; sending goes into the duplex's Vec,
    // taken out before measuring.
    let mut held = Vec::new();
    for wire in [binary_wire(b"meta", &body), text_wire] {
        let mut conn = Connection::from_halves(Cursor::new(wire), Vec::new());
        let before = ALLOCATOR.allocated();
        drop(conn.receive_and_parse(&mut processor).unwrap());
        assert!(conn.buffered().is_empty());
        held.push(("receive", ALLOCATOR.allocated().saturating_sub(before)));
        let before = ALLOCATOR.allocated();
        conn.send_binary_data(&body[..], "m").unwrap();
        conn.send_text(&text).unwrap();
        let sent = std::mem::take(conn.get_mut().writer_mut());
        // marker, header, "m" and footer; then ALL_END.
        assert_eq!(sent.len(), body.len() + text.len() + 1 + 12 + 1 + 8 + 1);
        drop(sent);
        held.push(("send", ALLOCATOR.allocated().saturating_sub(before)));
    }
    for (what, bytes) in held {
        assert!(bytes <= IDLE_MAX, "idle after {what}: {bytes} bytes held");
    }

    // The same for the one-exchange types.
    let wire = binary_wire(b"", &body);
    let mut handler = ExchangeHandler::new(&wire[..]);
    let before = ALLOCATOR.allocated();
    drop(handler.receive_and_parse(&mut processor).unwrap());
    let mut sender = ExchangeSender::new(std::io::sink());
    sender.send_binary_data(&body[..], "").unwrap();
    let held = ALLOCATOR.allocated().saturating_sub(before);
    assert!(held <= IDLE_MAX, "handler and sender hold {held} bytes");
}
