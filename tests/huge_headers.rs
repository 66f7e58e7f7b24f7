//! Headers that announce up to `u32::MAX` bytes of meta and `u64::MAX` bytes
//! of body allocate nothing in proportion: with the default limits they are
//! refused at the header, and even without limits memory stays small. A
//! counting allocator measures it (this file holds one test, so nothing else
//! runs in the process meanwhile).

mod common;

use std::alloc::System;

use cap::Cap;
use nvflare_hci::{Error, ExchangeHandler, Limit, Limits, MsgDataProcessor};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

fn announce(meta_size: u32, body_size: u64, tail: usize) -> Vec<u8> {
    let mut v = common::header_only(meta_size, body_size);
    v.resize(v.len() + tail, b'x');
    v
}

#[test]
fn huge_announcements_allocate_nothing_in_proportion() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (u32::MAX, 0),
        (0, u64::MAX),
        (u32::MAX, u64::MAX),
        (Limits::DEFAULT_MAX_META_SIZE + 1, 0),
        (0, Limits::DEFAULT_MAX_BODY_SIZE + 1),
    ];
    let wires: Vec<Vec<u8>> = cases
        .iter()
        .map(|&(m, b)| announce(m, b, 100_000))
        .collect();
    let before = ALLOCATOR.allocated();

    for wire in &wires {
        let mut p = MsgDataProcessor::in_dir(dir.path());
        let err = ExchangeHandler::new(&wire[..])
            .receive_and_parse(&mut p)
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::LimitExceeded {
                    what: Limit::MetaSize | Limit::BodySize,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    // Without limits, as the Python module: the stream ends first, and
    // nothing was allocated for what was announced.
    for wire in &wires {
        let mut p = MsgDataProcessor::in_dir(dir.path());
        let err = ExchangeHandler::new(&wire[..])
            .limits(Limits::unlimited())
            .receive_and_parse(&mut p)
            .unwrap_err();
        assert!(matches!(err, Error::UnexpectedEof { .. }), "{err:?}");
    }
    let peak = ALLOCATOR.max_allocated();
    let grew = peak.saturating_sub(before);
    // Buffers of a block (256 KiB) and the meta's first reservation (64 KiB):
    // nothing near the megabytes-to-exabytes announced.
    assert!(grew < 2 << 20, "peak grew by {grew} bytes");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}
