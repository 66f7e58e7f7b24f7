//! The property: random exchanges, sent one after another on one stream and
//! read back under random read splits, decode to exactly what was sent.

use nvflare_hci_testkit::checks;
mod common;

use std::io::Read;

use checks::Outcome;
use common::SplitReader;
use nvflare_hci::{Exchange, ExchangeHandler, ExchangeSender, Limits};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Ex {
    Text(String),
    Binary(String, Vec<u8>),
}

fn text() -> impl Strategy<Value = String> {
    // Any text that can be sent: no ALL_END, no leading binary marker.
    "[^\u{4}]{0,40}".prop_filter("no leading marker", |s| !s.starts_with('\u{1}'))
}

fn exchange() -> impl Strategy<Value = Ex> {
    prop_oneof![
        text().prop_map(Ex::Text),
        (".{0,20}", proptest::collection::vec(any::<u8>(), 0..3000))
            .prop_map(|(m, b)| Ex::Binary(m, b)),
    ]
}

fn encode(exchanges: &[Ex], block: usize) -> Vec<u8> {
    let mut s = ExchangeSender::new(Vec::new()).block_size(block);
    for e in exchanges {
        match e {
            Ex::Text(t) => s.send_text(t).unwrap(),
            Ex::Binary(m, b) => {
                s.send_binary_data(&b[..], m).unwrap();
            }
        }
    }
    s.into_inner()
}

fn check(got: Exchange, want: &Ex) {
    match (got, want) {
        (Exchange::Text(t), Ex::Text(w)) => assert_eq!(t, w.replace('\u{3}', "")),
        (Exchange::Binary { meta, mut body }, Ex::Binary(m, b)) => {
            assert_eq!(&meta, m);
            let mut v = Vec::new();
            body.read_to_end(&mut v).unwrap();
            assert_eq!(&v, b);
        }
        (got, want) => panic!("{got:?} != {want:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("tests/proptest-regressions.txt"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn exchanges_survive_any_split(
        exchanges in proptest::collection::vec(exchange(), 1..6),
        max_read in 1usize..5000,
        block in 13usize..70_000,
        read_ahead in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let wire = encode(&exchanges, block);
        let mut h = ExchangeHandler::new(SplitReader::new(&wire[..], max_read, seed))
            .read_ahead(read_ahead)
            .block_size(block);
        for want in &exchanges {
            check(h.receive_all().unwrap(), want);
        }
        prop_assert!(h.receive_all().unwrap_err().is_clean_close());
    }

    #[test]
    fn sans_io_decoder_under_any_split(
        ex in exchange(),
        cuts in proptest::collection::vec(0usize..4000, 0..10),
    ) {
        let wire = encode(std::slice::from_ref(&ex), 4096);
        let outcome = checks::decode_pieces(&wire, &cuts, Limits::default());
        let (meta, content) = match outcome {
            Outcome::Done { meta, content, consumed, .. } => {
                prop_assert_eq!(consumed, wire.len());
                (meta, content)
            }
            Outcome::Failed(e) => panic!("{e}"),
        };
        match ex {
            Ex::Text(t) => prop_assert_eq!(content, t.into_bytes()),
            Ex::Binary(m, b) => {
                prop_assert_eq!(meta, m);
                prop_assert_eq!(content, b);
            }
        }
    }
}
