//! After an error, a `Connection` on a real socket either stays in step
//! with its peer (the error came at an exchange boundary) or refuses every
//! later call in that direction with `Error::OutOfStep`, reading and
//! writing nothing more (the error came inside an exchange).

mod common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::{binary_wire, header_only, random_bytes, RandomBody};
use nvflare_hci::{
    Connection, ContentType, DataGenerator, DataProcessor, Direction, End, Error, Exchange, Limit,
    Limits, Section, Start,
};

const NEXT: &[u8] = b"next\x04";

fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    for s in [&client, &server] {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    }
    (client, server)
}

/// A socket that counts the reads made on it.
struct Counted {
    sock: TcpStream,
    reads: usize,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        self.sock.read(buf)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

/// A connection whose peer has sent `first`; the peer's socket comes back
/// to send more.
fn after(first: &[u8]) -> (Connection<Counted>, TcpStream) {
    let (mut peer, server) = tcp_pair();
    peer.write_all(first).unwrap();
    (
        Connection::new(Counted {
            sock: server,
            reads: 0,
        }),
        peer,
    )
}

/// Checks that receiving is out of step since `earlier`, and that the
/// refusals read nothing, though the peer sent a good exchange.
fn check_receive_refused(mut conn: Connection<Counted>, mut peer: TcpStream, earlier: &str) {
    assert!(!conn.can_receive() && !conn.is_usable());
    assert!(conn.can_send(), "receiving failed, sending did not");
    peer.write_all(NEXT).unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let buffered = conn.buffered().to_vec();
    let reads = conn.get_ref().reads;
    for _ in 0..3 {
        match conn.receive() {
            Err(Error::OutOfStep {
                direction: Direction::Receive,
                earlier: e,
            }) => assert_eq!(&*e, earlier),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(conn.buffered(), buffered, "the refusal took buffered bytes");
    assert_eq!(conn.get_ref().reads, reads, "the refusal read the socket");
}

fn chain(e: &Error) -> String {
    nvflare_hci::ErrorChain(e).to_string()
}

#[test]
fn a_limit_at_the_header_puts_receiving_out_of_step() {
    let mut wire = header_only(0, 100_000);
    wire.extend(random_bytes(100_000, 1));
    let (conn, peer) = after(&wire);
    let mut conn = conn.limits(Limits::default().with_max_body_size(1000));
    let err = conn.receive().unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                what: Limit::BodySize,
                ..
            }
        ),
        "{err:?}"
    );
    check_receive_refused(conn, peer, &chain(&err));
}

#[test]
fn text_over_the_limit_puts_receiving_out_of_step() {
    let (conn, peer) = after(&[b'x'; 5000]);
    let mut conn = conn.limits(Limits::default().with_max_text_size(100));
    let err = conn.receive().unwrap_err();
    assert!(matches!(
        err,
        Error::LimitExceeded {
            what: Limit::TextSize,
            ..
        }
    ));
    check_receive_refused(conn, peer, &chain(&err));
}

#[test]
fn meta_that_is_not_utf8_puts_receiving_out_of_step() {
    let (mut conn, peer) = after(&binary_wire(b"\xff\xfe", b"body"));
    let err = conn.receive().unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidUtf8 {
            section: Section::Meta,
            ..
        }
    ));
    check_receive_refused(conn, peer, &chain(&err));
}

/// A processor whose disk is full once the body starts.
struct DiskFull;

impl DataProcessor for DiskFull {
    type Output = ();
    fn start(&mut self, _: &Start<'_>) -> Result<(), Error> {
        Ok(())
    }
    fn process(&mut self, _: &[u8], _: ContentType) -> Result<(), Error> {
        Err(Error::Processor(io::Error::from_raw_os_error(28)))
    }
    fn finalize(&mut self, _: &End) -> Result<(), Error> {
        Ok(())
    }
}

#[test]
fn a_full_disk_mid_body_puts_receiving_out_of_step() {
    let (mut conn, peer) = after(&binary_wire(b"m", &random_bytes(300_000, 2)));
    let err = conn.receive_and_parse(&mut DiskFull).unwrap_err();
    assert!(matches!(err, Error::Processor(_)), "{err:?}");
    check_receive_refused(conn, peer, &chain(&err));
}

/// A processor that refuses every exchange at its start.
struct Refuse;

impl DataProcessor for Refuse {
    type Output = ();
    fn start(&mut self, _: &Start<'_>) -> Result<(), Error> {
        Err(Error::Processor(io::Error::other("refused")))
    }
    fn process(&mut self, _: &[u8], _: ContentType) -> Result<(), Error> {
        Ok(())
    }
    fn finalize(&mut self, _: &End) -> Result<(), Error> {
        Ok(())
    }
}

#[test]
fn a_processor_refusing_at_the_start_puts_receiving_out_of_step() {
    for first in [&b"a command\x04"[..], &binary_wire(b"m", b"body")] {
        let (mut conn, peer) = after(first);
        let err = conn.receive_and_parse(&mut Refuse).unwrap_err();
        assert_eq!(
            chain(&err),
            "processing the received exchange failed: refused"
        );
        check_receive_refused(conn, peer, &chain(&err));
    }
}

/// A processor that takes every byte, then refuses the exchange at its end.
struct RefuseAtTheEnd(u64);

impl DataProcessor for RefuseAtTheEnd {
    type Output = ();
    fn start(&mut self, _: &Start<'_>) -> Result<(), Error> {
        Ok(())
    }
    fn process(&mut self, data: &[u8], _: ContentType) -> Result<(), Error> {
        self.0 += data.len() as u64;
        Ok(())
    }
    fn finalize(&mut self, _: &End) -> Result<(), Error> {
        Err(Error::Processor(io::Error::other("refused")))
    }
}

#[test]
fn a_processor_refusing_in_finalize_keeps_receiving_in_step() {
    for first in [
        &b"a command\x04"[..],
        &binary_wire(b"m", &random_bytes(300_000, 9)),
    ] {
        let mut wire = first.to_vec();
        wire.extend(NEXT);
        let (mut conn, _peer) = after(&wire);
        let mut refuse = RefuseAtTheEnd(0);
        let err = conn.receive_and_parse(&mut refuse).unwrap_err();
        assert_eq!(
            chain(&err),
            "processing the received exchange failed: refused"
        );
        assert!(refuse.0 == 9 || refuse.0 == 300_000, "{}", refuse.0);
        assert!(conn.is_usable());
        assert_eq!(conn.receive().unwrap().as_text(), Some("next"));
    }
}

#[test]
fn a_read_timeout_mid_body_puts_receiving_out_of_step() {
    let wire = binary_wire(b"m", &random_bytes(100_000, 3));
    let (mut conn, peer) = after(&wire[..50_000]);
    conn.get_mut()
        .sock
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let err = conn.receive().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(matches!(err, Error::TimedOut { .. }), "{err:?}");
    check_receive_refused(conn, peer, &chain(&err));
}

#[test]
fn a_checksum_mismatch_consumes_the_footer_and_stays_in_step() {
    let mut wire = binary_wire(b"m", &random_bytes(20_000, 4));
    *wire.last_mut().unwrap() ^= 1;
    wire.extend(NEXT);
    let (mut conn, _peer) = after(&wire);
    let err = conn.receive().unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err:?}");
    assert!(conn.is_usable());
    assert_eq!(conn.receive().unwrap().as_text(), Some("next"));
}

#[test]
fn a_bad_footer_marker_puts_receiving_out_of_step() {
    // A body one byte longer than announced: its last byte lands in the
    // end marker, and where the exchange ends is unknown.
    let mut wire = header_only(1, 4);
    wire.extend(b"m");
    wire.extend(b"body!");
    wire.extend(0u32.to_be_bytes());
    wire.extend(crc32fast::hash(b"body").to_be_bytes());
    wire.extend(NEXT);
    let (mut conn, peer) = after(&wire);
    let err = conn.receive().unwrap_err();
    assert!(matches!(err, Error::FooterMarker { .. }), "{err:?}");
    check_receive_refused(conn, peer, &chain(&err));
}

#[test]
fn a_processor_that_panics_leaves_receiving_out_of_step() {
    struct Panics;
    impl DataProcessor for Panics {
        type Output = ();
        fn start(&mut self, _: &Start<'_>) -> nvflare_hci::Result<()> {
            Ok(())
        }
        fn process(&mut self, _: &[u8], _: ContentType) -> nvflare_hci::Result<()> {
            panic!("a processor's bug")
        }
        fn finalize(&mut self, _: &End) -> nvflare_hci::Result<()> {
            Ok(())
        }
    }
    let mut wire = binary_wire(b"m", &random_bytes(100_000, 5));
    wire.extend(NEXT);
    let (mut conn, peer) = after(&wire);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        conn.receive_and_parse(&mut Panics)
    }));
    assert!(caught.is_err(), "the processor panicked");
    check_receive_refused(conn, peer, "an earlier receive panicked part-way");
}

#[test]
fn text_that_is_not_utf8_stays_in_step() {
    let mut wire = b"bad \xff text\x04".to_vec();
    wire.extend(NEXT);
    let (mut conn, _peer) = after(&wire);
    let err = conn.receive().unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidUtf8 {
            section: Section::Text,
            ..
        }
    ));
    assert!(conn.is_usable());
    assert_eq!(conn.receive().unwrap().as_text(), Some("next"));
}

#[test]
fn an_idle_timeout_is_told_apart_and_stays_in_step() {
    let (mut conn, mut peer) = after(b"");
    conn.get_mut()
        .sock
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    for _ in 0..2 {
        let err = conn.receive().unwrap_err();
        assert!(matches!(err, Error::Idle(_)), "{err:?}");
        assert!(err.is_timeout());
        assert!(conn.is_usable());
    }
    peer.write_all(b"late\x04").unwrap();
    conn.get_mut()
        .sock
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(conn.receive().unwrap().as_text(), Some("late"));
}

#[test]
fn a_clean_close_stays_in_step() {
    let (mut conn, peer) = after(b"last\x04");
    drop(peer);
    assert_eq!(conn.receive().unwrap().as_text(), Some("last"));
    let err = conn.receive().unwrap_err();
    assert!(err.is_clean_close(), "{err:?}");
    assert!(conn.is_usable());
    assert!(conn.receive().unwrap_err().is_clean_close());
}

#[test]
fn a_close_mid_exchange_puts_receiving_out_of_step() {
    let (mut conn, peer) = after(&binary_wire(b"m", &random_bytes(10_000, 5))[..5000]);
    drop(peer);
    let err = conn.receive().unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnexpectedEof {
                section: Section::Body,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!conn.can_receive());
    assert!(matches!(
        conn.receive(),
        Err(Error::OutOfStep {
            direction: Direction::Receive,
            ..
        })
    ));
}

/// A body that fails after `ok` bytes.
struct FailsAfter(RandomBody, u64, u64);

impl DataGenerator for FailsAfter {
    fn data_size(&self) -> u64 {
        self.0.data_size()
    }
    fn generate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.2 >= self.1 {
            return Err(io::Error::other("disk read failed"));
        }
        let n = self.0.generate(buf)?;
        self.2 += n as u64;
        Ok(n)
    }
}

/// Everything the peer receives until the connection is dropped.
fn drain(mut peer: TcpStream) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        got
    })
}

#[test]
fn a_body_source_that_panics_leaves_sending_out_of_step() {
    struct PanicsAfter(FailsAfter);
    impl DataGenerator for PanicsAfter {
        fn data_size(&self) -> u64 {
            self.0.data_size()
        }
        fn generate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.generate(buf) {
                Err(_) => panic!("a body source's bug"),
                ok => ok,
            }
        }
    }
    let (peer, server) = tcp_pair();
    let received = drain(peer);
    let mut conn = Connection::new(server).send_block_size(64 * 1024);
    let body = PanicsAfter(FailsAfter(RandomBody::new(4 << 20, 6), 600 << 10, 0));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        conn.send_binary_data(body, "upload")
    }));
    assert!(caught.is_err(), "the body source panicked");
    assert!(!conn.can_send() && conn.can_receive());
    match conn.send_text("after the panic") {
        Err(Error::OutOfStep {
            direction: Direction::Send,
            earlier,
        }) => assert_eq!(&*earlier, "an earlier send panicked part-way"),
        other => panic!("{other:?}"),
    }
    drop(conn);
    let got = received.join().unwrap();
    assert!(!got.windows(5).any(|w| w == b"after"));
}

#[test]
fn a_body_failing_after_the_header_puts_sending_out_of_step() {
    let (peer, server) = tcp_pair();
    let received = drain(peer);
    let mut conn = Connection::new(server).send_block_size(64 * 1024);
    let body = FailsAfter(RandomBody::new(4 << 20, 6), 600 << 10, 0);
    let err = conn.send_binary_data(body, "upload").unwrap_err();
    assert!(matches!(err, Error::BodySource(_)), "{err:?}");
    assert!(!conn.can_send() && !conn.is_usable());
    assert!(conn.can_receive(), "sending failed, receiving did not");
    let earlier = chain(&err);
    for result in [
        conn.send_text("after the failure").map(drop),
        conn.send_lines(["after", "the failure"]).map(drop),
        conn.send_binary_data(&b"after the failure"[..], "")
            .map(drop),
    ] {
        match result {
            Err(Error::OutOfStep {
                direction: Direction::Send,
                earlier: e,
            }) => assert_eq!(&*e, earlier),
            other => panic!("{other:?}"),
        }
    }
    drop(conn);
    let got = received.join().unwrap();
    // The header, the meta and whole blocks of body, then nothing.
    assert!(got.len() < (700 << 10), "{}", got.len());
    assert!(got.len() >= 500 << 10, "{}", got.len());
    assert!(!got.windows(5).any(|w| w == b"after"));
    let err = nvflare_hci::receive_all(&got[..]).unwrap_err();
    assert!(matches!(
        err,
        Error::UnexpectedEof {
            section: Section::Body,
            ..
        }
    ));
}

#[test]
fn a_short_body_after_the_header_puts_sending_out_of_step() {
    let (peer, server) = tcp_pair();
    let received = drain(peer);
    let mut conn = Connection::new(server).send_block_size(1024);
    let body = nvflare_hci::GenerateDataFromReader::new(&[7u8; 5000][..], 10_000);
    let err = conn.send_binary_data(body, "").unwrap_err();
    assert!(matches!(err, Error::BodySizeMismatch { .. }), "{err:?}");
    assert!(matches!(
        conn.send_text("after"),
        Err(Error::OutOfStep {
            direction: Direction::Send,
            ..
        })
    ));
    drop(conn);
    let got = received.join().unwrap();
    assert!(!got.windows(5).any(|w| w == b"after"));
}

#[test]
fn a_write_error_after_the_header_puts_sending_out_of_step() {
    let (peer, server) = tcp_pair();
    let mut conn = Connection::new(server).send_block_size(64 * 1024);
    // The peer reads a little, then resets the connection.
    let reader = thread::spawn(move || {
        let mut peer = peer;
        let mut buf = vec![0u8; 100_000];
        peer.read_exact(&mut buf).unwrap();
    });
    let err = conn
        .send_binary_data(RandomBody::new(256 << 20, 7), "")
        .unwrap_err();
    reader.join().unwrap();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert!(!conn.can_send());
    assert!(matches!(
        conn.send_text("after"),
        Err(Error::OutOfStep {
            direction: Direction::Send,
            ..
        })
    ));
}

#[test]
fn failures_before_the_first_byte_went_out_stay_in_step() {
    let (mut peer, server) = tcp_pair();
    let mut conn = Connection::new(server);
    assert!(matches!(
        conn.send_text("holds \x04"),
        Err(Error::InvalidText { .. })
    ));
    assert!(matches!(
        conn.send_binary_file("/nonexistent/file", "m"),
        Err(Error::BodySource(_))
    ));
    // Short, but all of it would have fit in one block: nothing was sent.
    let short = nvflare_hci::GenerateDataFromReader::new(&b"abc"[..], 10);
    assert!(matches!(
        conn.send_binary_data(short, "m"),
        Err(Error::BodySizeMismatch { .. })
    ));
    let failing = FailsAfter(RandomBody::new(100, 8), 0, 0);
    assert!(matches!(
        conn.send_binary_data(failing, "m"),
        Err(Error::BodySource(_))
    ));
    assert!(conn.is_usable());
    conn.send_text("fine").unwrap();
    let mut far = Connection::new(&mut peer);
    assert_eq!(far.receive().unwrap().as_text(), Some("fine"));
}

#[test]
fn a_receive_failure_still_lets_an_error_reply_out() {
    let (mut peer, server) = tcp_pair();
    peer.write_all(&header_only(0, u64::MAX)).unwrap();
    let mut conn = Connection::new(server);
    let err = conn.receive().unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }));
    conn.send_text(&format!("error: {err}")).unwrap();
    drop(conn);
    let got = Connection::new(&mut peer).receive().unwrap();
    assert!(
        matches!(got, Exchange::Text(t) if t.contains("body size 18446744073709551615 exceeds the limit"))
    );
}
