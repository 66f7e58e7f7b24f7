//! docs/wire.md fault 7: Python has no limits. Here meta, body and text sizes are
//! bounded, checked before anything is allocated or written.

mod common;

use common::{entries, header_only};
use nvflare_hci::{receive_all, Error, ExchangeHandler, Limit, Limits, MsgDataProcessor};

#[test]
fn huge_meta_is_refused_at_the_header() {
    let err = receive_all(&header_only(u32::MAX, 0)[..]).unwrap_err();
    match err {
        Error::LimitExceeded { what, size, max } => {
            assert_eq!(what, Limit::MetaSize);
            assert_eq!(size, u64::from(u32::MAX));
            assert_eq!(max, u64::from(Limits::DEFAULT_MAX_META_SIZE));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn huge_body_is_refused_before_a_file_exists() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = MsgDataProcessor::in_dir(dir.path());
    let err = ExchangeHandler::new(&header_only(0, u64::MAX)[..])
        .receive_and_parse(&mut p)
        .unwrap_err();
    assert!(matches!(
        err,
        Error::LimitExceeded {
            what: Limit::BodySize,
            size: u64::MAX,
            ..
        }
    ));
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn limits_are_configurable_and_inclusive() {
    let wire = common::binary_wire(b"12345", b"1234567890");
    let ok = Limits::default()
        .with_max_meta_size(5)
        .with_max_body_size(10);
    assert!(ExchangeHandler::new(&wire[..])
        .limits(ok)
        .receive_all()
        .is_ok());
    let meta = Limits::default().with_max_meta_size(4);
    assert!(matches!(
        ExchangeHandler::new(&wire[..]).limits(meta).receive_all(),
        Err(Error::LimitExceeded {
            what: Limit::MetaSize,
            size: 5,
            max: 4
        })
    ));
    let body = Limits::default().with_max_body_size(9);
    assert!(matches!(
        ExchangeHandler::new(&wire[..]).limits(body).receive_all(),
        Err(Error::LimitExceeded {
            what: Limit::BodySize,
            size: 10,
            max: 9
        })
    ));
}

#[test]
fn endless_text_is_cut_at_the_limit() {
    // An endless stream of text without ALL_END.
    let endless = std::io::repeat(b'a');
    let err = ExchangeHandler::new(endless)
        .limits(Limits::default().with_max_text_size(100_000))
        .read_ahead(true)
        .receive_all()
        .unwrap_err();
    match err {
        Error::LimitExceeded {
            what: Limit::TextSize,
            size,
            max,
        } => {
            assert_eq!(max, 100_000);
            assert!(size > max);
        }
        other => panic!("{other:?}"),
    }
    let exact = vec![b'a'; 100].into_iter().chain([4u8]).collect::<Vec<_>>();
    let limits = Limits::default().with_max_text_size(100);
    assert!(ExchangeHandler::new(&exact[..])
        .limits(limits)
        .receive_all()
        .is_ok());
    let limits = Limits::default().with_max_text_size(99);
    assert!(ExchangeHandler::new(&exact[..])
        .limits(limits)
        .receive_all()
        .is_err());
}

#[test]
fn defaults_are_documented_values() {
    let l = Limits::default();
    assert_eq!(l.max_meta_size, 16 << 20);
    assert_eq!(l.max_body_size, 64 << 30);
    assert_eq!(l.max_text_size, 64 << 20);
    let u = Limits::unlimited();
    assert_eq!(u.max_body_size, u64::MAX);
}
