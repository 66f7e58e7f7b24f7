//! What errors say: a clean close says the peer closed between exchanges,
//! text over its limit says how much was read, and `ErrorChain` prints any
//! borrowed error.

use std::error::Error as StdError;
use std::io;

use nvflare_hci::{Connection, Error, ErrorChain, Limit, Limits, Section};

#[test]
fn a_clean_close_says_the_peer_closed_between_exchanges() {
    let mut conn = Connection::from_halves(&b"one\x04"[..], Vec::new());
    assert_eq!(conn.receive().unwrap().as_text(), Some("one"));
    let err = conn.receive().unwrap_err();
    assert!(err.is_clean_close(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the peer closed the connection between exchanges (end of stream before an exchange began)"
    );
    assert!(conn.is_usable());
    // A close inside an exchange still names the section and the counts.
    let err = Connection::from_halves(&b"\x01\x00\x00"[..], Vec::new())
        .receive()
        .unwrap_err();
    assert!(!err.is_clean_close());
    assert_eq!(
        err.to_string(),
        "unexpected end of stream in header: expected 12 bytes, got 2"
    );
}

#[test]
fn text_over_its_limit_says_what_was_read() {
    let mut wire = vec![b'a'; 10_000];
    wire.push(nvflare_hci::ALL_END);
    let mut conn = Connection::from_halves(&wire[..], Vec::new())
        .limits(Limits::default().with_max_text_size(4096));
    let err = conn.receive().unwrap_err();
    // The connection's first read is 8 KiB: that much was read, no end in it.
    match &err {
        Error::LimitExceeded {
            what: Limit::TextSize,
            size: 8192,
            max: 4096,
        } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "text exceeds the limit of 4096 bytes: 8192 bytes read without finding its end (it is at least that long)"
    );
    // Announced sizes keep their words.
    let body = Error::LimitExceeded {
        what: Limit::BodySize,
        size: 10,
        max: 5,
    };
    assert_eq!(body.to_string(), "body size 10 exceeds the limit of 5");
}

/// As a user's code gets it: a borrowed error of any lifetime.
fn chain_of(e: &dyn StdError) -> String {
    ErrorChain(e).to_string()
}

#[test]
fn error_chain_takes_any_borrowed_error() {
    let err = Error::Processor(io::Error::other("disk full"));
    assert_eq!(
        chain_of(&err),
        "processing the received exchange failed: disk full"
    );
    let timed_out = Error::TimedOut {
        section: Section::Text,
        got: 5,
        source: io::ErrorKind::WouldBlock.into(),
    };
    assert!(chain_of(&timed_out)
        .starts_with("the read timed out inside an exchange, in the text after 5 bytes of it: "));
}
