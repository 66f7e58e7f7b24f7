//! `Connection::request` and its siblings: a request and its reply as one
//! step, where a timeout waiting for the reply stops receiving, so that a
//! late reply can never answer the next request.

use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use nvflare_hci::{Connection, Direction, Error, Exchange};

/// A server that answers each request with "reply to REQUEST", the first
/// one only after `delay`.
/// The server's thread returns the requests it received.
fn slow_server(delay: Duration) -> (TcpStream, thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let mut conn = Connection::new(sock);
        let mut first = true;
        let mut requests = Vec::new();
        loop {
            let reply = match conn.receive() {
                Ok(Exchange::Text(t)) => format!("reply to {t}"),
                Ok(Exchange::Binary { meta, body }) => {
                    format!("reply to {meta}: crc32 {:08x}", body.checksum())
                }
                Err(_) => return requests,
            };
            requests.push(reply.clone());
            if std::mem::take(&mut first) {
                thread::sleep(delay);
            }
            if conn.send_text(&reply).is_err() {
                return requests;
            }
        }
    });
    (TcpStream::connect(addr).unwrap(), server)
}

#[test]
fn a_reply_that_times_out_stops_receiving() {
    let (sock, server) = slow_server(Duration::from_millis(400));
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut conn = Connection::new(sock);
    let err = conn.request("A").unwrap_err();
    assert!(matches!(err, Error::ReplyTimedOut(_)), "{err:?}");
    assert!(err.is_timeout());
    assert_eq!(
        err.to_string(),
        "no reply came before the read timed out: a late reply would answer the next request, so receiving stops here"
    );
    assert!(!conn.can_receive());
    assert!(!conn.is_usable());
    // The next request is refused, not sent, rather than answered by A's
    // late reply.
    thread::sleep(Duration::from_millis(500));
    match conn.request("B").unwrap_err() {
        Error::OutOfStep {
            direction: Direction::Receive,
            earlier,
        } => assert!(earlier.starts_with("no reply came"), "{earlier}"),
        other => panic!("{other:?}"),
    }
    drop(conn);
    assert_eq!(server.join().unwrap(), ["reply to A"]);
}

#[test]
fn a_reply_in_time_keeps_the_connection() {
    let (sock, server) = slow_server(Duration::ZERO);
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut conn = Connection::new(sock);
    assert_eq!(conn.request("A").unwrap().as_text(), Some("reply to A"));
    let (sent, reply) = conn
        .request_binary_data(&b"job bytes"[..], "upload")
        .unwrap();
    assert_eq!(sent.size, 9);
    assert_eq!(
        reply.as_text(),
        Some(format!("reply to upload: crc32 {:08x}", sent.crc32).as_str())
    );
    assert_eq!(conn.request("B").unwrap().as_text(), Some("reply to B"));
    assert!(conn.is_usable());
    drop(conn);
    assert_eq!(server.join().unwrap().len(), 3);
}
