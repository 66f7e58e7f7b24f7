//! `Connection`: several exchanges of each kind on one stream, in both
//! directions; exchanges that arrive in one write; the read-ahead handed
//! back exactly.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::{binary_wire, body_of, random_bytes, SplitReader};
use nvflare_hci::{Connection, Exchange, MsgDataProcessor};

const SIZES: [usize; 6] = [0, 1, 1023, 8 * 1024 + 1, 300_000, 3 << 20];

fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    for s in [&client, &server] {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    }
    (client, server)
}

/// Answers every request on one connection: a text gets two lines back, a
/// body comes back whole; then it sends one text and one body unasked.
fn echo_server(stream: TcpStream, requests: usize) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut conn = Connection::new(stream);
        for _ in 0..requests {
            match conn.receive().unwrap() {
                Exchange::Text(text) => conn.send_lines([format!("got {text}"), "中文".into()]),
                Exchange::Binary { meta, mut body } => {
                    let len = body.len();
                    let sent = conn
                        .send_binary_data(
                            nvflare_hci::GenerateDataFromReader::new(&mut body, len),
                            &format!("echo {meta}"),
                        )
                        .unwrap();
                    assert_eq!(sent.size, len);
                    Ok(())
                }
            }
            .unwrap();
        }
        conn.send_text("bye").unwrap();
        conn.send_binary_data(&b"last"[..], "unasked").unwrap();
    })
}

#[test]
fn back_to_back_exchanges_both_ways() {
    let (client, server) = tcp_pair();
    let server = echo_server(server, 2 * SIZES.len());
    let mut conn = Connection::new(client);
    for (i, &size) in SIZES.iter().enumerate() {
        conn.send_lines([format!("cmd {i}"), "arg".into()]).unwrap();
        assert_eq!(
            conn.receive().unwrap().as_text(),
            Some(format!("got cmd {i}arg中文").as_str())
        );
        let body = random_bytes(size, i as u64);
        conn.send_binary_data(&body[..], &format!("m{i}")).unwrap();
        let (meta, data) = body_of(conn.receive().unwrap());
        assert_eq!(meta, format!("echo m{i}"));
        assert!(data == body, "body {i} of {size} bytes");
    }
    assert_eq!(conn.receive().unwrap().as_text(), Some("bye"));
    assert_eq!(
        body_of(conn.receive().unwrap()),
        ("unasked".into(), b"last".to_vec())
    );
    server.join().unwrap();
    let err = conn.receive().unwrap_err();
    assert!(err.is_clean_close(), "{err:?}");
    assert!(conn.buffered().is_empty());
}

fn three_exchanges() -> (Vec<u8>, Vec<u8>) {
    let body = random_bytes(100_000, 9);
    let mut wire = b"first \x03line\x04".to_vec();
    wire.extend(binary_wire("中文 meta".as_bytes(), &body));
    wire.extend(b"\x04"); // the empty text
    (wire, body)
}

fn check_three(conn: &mut Connection<impl Read + Write>, body: &[u8]) {
    assert_eq!(conn.receive().unwrap().as_text(), Some("first line"));
    let (meta, data) = body_of(conn.receive().unwrap());
    assert_eq!(meta, "中文 meta");
    assert!(data == body);
    assert_eq!(conn.receive().unwrap().as_text(), Some(""));
    assert!(conn.receive().unwrap_err().is_clean_close());
}

#[test]
fn three_exchanges_in_one_write_are_received_one_by_one() {
    let (wire, body) = three_exchanges();
    let (mut client, server) = tcp_pair();
    client.write_all(&wire).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    check_three(&mut Connection::new(server), &body);
    // The same bytes in memory, read in every kind of piece.
    for (max, seed) in [(1, 1), (7, 2), (4096, 3), (usize::MAX, 4)] {
        let reader = SplitReader::new(&wire[..], max, seed);
        check_three(&mut Connection::from_halves(reader, Vec::new()), &body);
    }
}

#[test]
fn into_parts_hands_back_exactly_the_surplus() {
    let (wire, body) = three_exchanges();
    let first = b"first \x03line\x04".len();
    for (max, seed) in [(1, 1), (5, 2), (64, 3), (20_000, 4), (usize::MAX, 5)] {
        for block in [1, 13, 4096, 1 << 20] {
            let reader = SplitReader::new(&wire[..], max, seed);
            let mut conn = Connection::from_halves(reader, Vec::new()).receive_block_size(block);
            assert_eq!(conn.receive().unwrap().as_text(), Some("first line"));
            let buffered = conn.buffered().to_vec();
            let (stream, surplus) = conn.into_parts();
            assert_eq!(surplus, buffered);
            assert!(surplus.len() <= block, "read past a block");
            let consumed = stream.reader().given as usize;
            assert_eq!(consumed - surplus.len(), first, "max {max} block {block}");
            // The surplus, then the rest of the stream: exactly what followed.
            let mut rest = surplus.clone();
            rest.extend_from_slice(&wire[consumed..]);
            assert_eq!(rest, &wire[first..]);
            // A new connection picks up where the old one stopped.
            let mut next = Connection::from_partially_read(stream, surplus);
            let (meta, data) = body_of(next.receive().unwrap());
            assert_eq!(meta, "中文 meta");
            assert!(data == body);
        }
    }
}

#[test]
fn a_connection_over_a_shared_reference_and_its_parts() {
    let (client, server) = tcp_pair();
    let mut conn = Connection::new(&client);
    let mut far = Connection::new(&server).block_size(64);
    conn.send_text("over &TcpStream").unwrap();
    assert_eq!(far.receive().unwrap().as_text(), Some("over &TcpStream"));
    far.send_binary_file(file_with(b"file body").path(), "f")
        .unwrap();
    assert_eq!(
        body_of(conn.receive().unwrap()),
        ("f".into(), b"file body".to_vec())
    );
    conn.get_ref().peer_addr().unwrap();
    far.get_mut().set_nodelay(true).unwrap();
    let mut text = MsgDataProcessor::new().keep_line_ends(true);
    conn.send_lines(["a", "b"]).unwrap();
    assert_eq!(
        far.receive_and_parse(&mut text).unwrap().as_text(),
        Some("a\x03b")
    );
}

fn file_with(data: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    f
}

/// Counts the `read` calls made on it.
struct CountReads<R> {
    inner: R,
    reads: usize,
}

impl<R: Read> Read for CountReads<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reads += 1;
        self.inner.read(buf)
    }
}

#[test]
fn text_is_read_in_blocks_not_bytes() {
    let mut wire = "x".repeat(1 << 20).into_bytes();
    wire.push(nvflare_hci::ALL_END);
    let reader = CountReads {
        inner: &wire[..],
        reads: 0,
    };
    let mut conn = Connection::from_halves(reader, Vec::new());
    assert_eq!(
        conn.receive().unwrap().as_text().map(str::len),
        Some(1 << 20)
    );
    // Reads double from 8 KiB to 256 KiB: 5 growing reads, then 256 KiB each.
    let reads = conn.get_ref().reader().reads;
    assert!(reads <= 10, "{reads} reads for 1 MiB of text");
}

/// A handler under test: answers each command with its length, and each
/// upload with its body's size.
fn handler<S: Read + Write>(conn: &mut Connection<S>) -> nvflare_hci::Result<()> {
    loop {
        match conn.receive_and_parse(&mut nvflare_hci::MemoryProcessor::new()) {
            Ok(Exchange::Text(cmd)) => conn.send_text(&format!("{}", cmd.len()))?,
            Ok(Exchange::Binary { body, .. }) => {
                conn.send_text(&format!("{} bytes", body.len()))?
            }
            Err(e) if e.is_clean_close() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

#[test]
fn halves_in_memory_carry_replies_larger_than_the_requests() {
    // Replies far past 8 KiB, requests far past one read: over one Cursor
    // the replies would overwrite requests not yet read.
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for i in 0..50 {
        let cmd = "c".repeat(100 + i * 500);
        nvflare_hci::send_text(&mut requests, &cmd).unwrap();
        expected.push(format!("{}", cmd.len()));
        let body = random_bytes(i * 2000, i as u64);
        nvflare_hci::send_binary_data(&mut requests, &body[..], "up").unwrap();
        expected.push(format!("{} bytes", body.len()));
    }
    let mut conn = Connection::from_halves(std::io::Cursor::new(requests), Vec::new());
    handler(&mut conn).unwrap();
    let (_, replies) = conn.into_parts().0.into_inner();
    let mut reader = Connection::from_halves(&replies[..], Vec::new());
    for want in expected {
        assert_eq!(reader.receive().unwrap().as_text(), Some(want.as_str()));
    }
    assert!(reader.receive().unwrap_err().is_clean_close());
}

#[test]
fn memory_processor_keeps_bodies_and_lines() {
    let body = random_bytes(300_000, 7);
    let mut wire = binary_wire("m".as_bytes(), &body);
    wire.extend(b"a\x03b\x04");
    let mut conn = Connection::from_halves(&wire[..], Vec::new());
    let got = conn
        .receive_and_parse(&mut nvflare_hci::MemoryProcessor::new())
        .unwrap();
    assert_eq!(
        got,
        Exchange::Binary {
            meta: "m".into(),
            body
        }
    );
    let mut lines = nvflare_hci::MemoryProcessor::new().keep_line_ends(true);
    let got = conn.receive_and_parse(&mut lines).unwrap();
    assert_eq!(got, Exchange::Text("a\x03b".into()));
}
