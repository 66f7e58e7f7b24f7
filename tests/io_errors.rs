//! I/O faults on the receiving side: `Interrupted` is retried; any other
//! error (a socket timeout included) ends the exchange with that cause and
//! leaves no temporary file; a timeout before the first byte is `Idle`; the
//! processor serves a fresh exchange afterwards. (What the stream is fit
//! for after the error: `tests/out_of_step.rs`.)

mod common;

use std::io::{self, ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::{binary_wire, entries, random_bytes, FaultyReader};
use nvflare_hci::{Error, ExchangeHandler, MsgDataProcessor, Section};

#[test]
fn interrupted_is_retried_at_every_offset() {
    let body = random_bytes(3000, 8);
    let wire = binary_wire(b"meta", &body);
    for at in 0..wire.len() as u64 {
        let r = FaultyReader::once(&wire[..], at, ErrorKind::Interrupted);
        let got = ExchangeHandler::new(r)
            .block_size(1000)
            .receive_all()
            .unwrap();
        assert_eq!(got.body().unwrap().len(), 3000, "at {at}");
    }
}

/// The section a read stopped at offset `at` of a binary exchange with a
/// 4-byte meta and a 3000-byte body is in, and how many of its bytes came.
fn where_(at: u64) -> (Section, u64) {
    match at {
        1..=12 => (Section::Header, at - 1),
        13..=16 => (Section::Meta, at - 13),
        17..=3016 => (Section::Body, at - 17),
        _ => (Section::Footer, at - 3017),
    }
}

#[test]
fn other_errors_end_the_exchange_with_their_cause() {
    let body = random_bytes(3000, 8);
    let wire = binary_wire(b"meta", &body);
    let kinds = [
        ErrorKind::WouldBlock,
        ErrorKind::TimedOut,
        ErrorKind::ConnectionReset,
    ];
    for kind in kinds {
        for at in [0, 1, 7, 13, 15, 17, 500, 3016, 3017, 3024] {
            let dir = tempfile::tempdir().unwrap();
            let mut p = MsgDataProcessor::in_dir(dir.path());
            let r = FaultyReader::new(&wire[..], at, kind);
            let err = ExchangeHandler::new(r)
                .block_size(256)
                .receive_and_parse(&mut p)
                .unwrap_err();
            match &err {
                // Before the first byte, a timeout is an idle peer.
                Error::Idle(e) if at == 0 && kind != ErrorKind::ConnectionReset => {
                    assert_eq!(e.kind(), kind)
                }
                // Inside it, a timeout says where it stopped.
                Error::TimedOut {
                    section,
                    got,
                    source,
                } if at > 0 && kind != ErrorKind::ConnectionReset => {
                    assert_eq!(source.kind(), kind);
                    assert_eq!((*section, *got), where_(at), "at {at}");
                    assert_eq!(
                        err.to_string(),
                        format!(
                            "the read timed out inside an exchange, in the {section} after {got} bytes of it"
                        )
                    );
                }
                Error::Io(e) if kind == ErrorKind::ConnectionReset => {
                    assert_eq!(e.kind(), kind)
                }
                other => panic!("{kind:?} at {at}: {other:?}"),
            }
            assert_eq!(err.is_timeout(), kind != ErrorKind::ConnectionReset);
            let source = std::error::Error::source(&err).unwrap();
            assert_eq!(source.to_string(), "injected fault");
            assert!(entries(dir.path()).is_empty(), "{kind:?} at {at}");
            // The same processor serves a fresh exchange afterwards.
            let got = ExchangeHandler::new(&wire[..])
                .receive_and_parse(&mut p)
                .unwrap();
            assert_eq!(got.body().unwrap().len(), 3000);
        }
    }
}

#[test]
fn tcp_read_timeout_ends_the_exchange_and_leaves_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let wire = binary_wire(b"m", &random_bytes(100_000, 1));
    let client = std::thread::spawn(move || -> io::Result<TcpStream> {
        let mut s = TcpStream::connect(addr)?;
        s.write_all(&wire[..50_000])?; // then stall
        Ok(s)
    });
    let (sock, _) = listener.accept().unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut p = MsgDataProcessor::in_dir(dir.path());
    let err = ExchangeHandler::new(&sock)
        .receive_and_parse(&mut p)
        .unwrap_err();
    // 50,000 bytes came: the marker, the header, a 1-byte meta, then
    // 49,986 bytes of the body.
    assert_eq!(
        err.to_string(),
        "the read timed out inside an exchange, in the body after 49986 bytes of it"
    );
    match err {
        Error::TimedOut {
            section: Section::Body,
            got: 49_986,
            source: e,
        } => assert!(
            matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{e:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(entries(dir.path()).is_empty());
    drop(client.join().unwrap());
}

#[test]
fn peer_closing_mid_body_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let wire = binary_wire(b"m", &random_bytes(100_000, 1));
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&wire[..60_000]).unwrap();
    });
    let (sock, _) = listener.accept().unwrap();
    client.join().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut p = MsgDataProcessor::in_dir(dir.path());
    let err = ExchangeHandler::new(&sock)
        .receive_and_parse(&mut p)
        .unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedEof { got, expected: 100_000, .. } if got == 60_000 - 14),
        "{err:?}"
    );
    assert!(entries(dir.path()).is_empty());
}
