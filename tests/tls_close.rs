//! A server's view of a TLS peer: a read timeout before an exchange is
//! `Error::Idle` and leaves the connection usable; a close without
//! `close_notify` (Python's `ssl` closes that way) is a clean close between
//! exchanges, and a truncation inside one. With a Python `ssl` client, and
//! with rustls on both ends.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::tls::Pki;
use nvflare_hci::{Connection, Error, Section};
use rustls::pki_types::ServerName;

type Server = Connection<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>;

/// How the client ends.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Close {
    /// Closes TCP without close_notify.
    Plain,
    /// Sends close_notify, then closes.
    Notify,
    /// Sends half a binary exchange, then closes without close_notify.
    Inside,
}

impl Close {
    fn arg(self) -> &'static str {
        match self {
            Close::Plain => "plain",
            Close::Notify => "notify",
            Close::Inside => "inside",
        }
    }
}

/// Receives the next exchange, counting the idle timeouts before it.
fn receive_after_idling(conn: &mut Server) -> (usize, nvflare_hci::Result<nvflare_hci::Exchange>) {
    let mut idle = 0;
    loop {
        match conn.receive() {
            Err(Error::Idle(e)) => {
                assert!(matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ));
                assert!(conn.is_usable());
                idle += 1;
                assert!(idle < 600, "the client never sent");
            }
            other => return (idle, other),
        }
    }
}

/// The server side: "hello" and "late" (after the client idled) answered,
/// then the client's close checked.
fn serve(pki: &Pki, sock: TcpStream, close: Close) {
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    sock.set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let tls = rustls::ServerConnection::new(pki.server_config()).unwrap();
    let mut conn = Connection::new(rustls::StreamOwned::new(tls, sock));
    let (_, hello) = receive_after_idling(&mut conn);
    assert_eq!(hello.unwrap().as_text(), Some("hello"));
    conn.send_text("hi").unwrap();
    let (idle, late) = receive_after_idling(&mut conn);
    assert_eq!(late.unwrap().as_text(), Some("late"));
    assert!(idle >= 2, "the client idled for 500 ms: {idle} timeouts");
    conn.send_text("ok").unwrap();
    let (_, end) = receive_after_idling(&mut conn);
    let err = end.unwrap_err();
    match close {
        Close::Plain | Close::Notify => {
            assert!(err.is_clean_close(), "{close:?}: {err:?}");
            assert!(conn.is_usable());
        }
        Close::Inside => {
            assert!(
                matches!(
                    err,
                    Error::UnexpectedEof {
                        section: Section::Body,
                        expected: 1000,
                        got: 500
                    }
                ),
                "{err:?}"
            );
            assert!(!conn.can_receive());
        }
    }
}

#[test]
fn python_ssl_client_idles_and_closes() {
    for close in [Close::Plain, Close::Notify, Close::Inside] {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::new(&dir.path().join("pki"), "close CA");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let python = std::env::var_os("PYTHON3").unwrap_or_else(|| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/ssl_close.py");
        let child = Command::new(python)
            .arg(script)
            .args([&port, pki.dir.to_str().unwrap(), close.arg()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3");
        let sock = common::python::accept(&listener);
        serve(&pki, sock, close);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hi ok");
    }
}

#[test]
fn rustls_client_idles_and_closes() {
    for close in [Close::Plain, Close::Notify, Close::Inside] {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::new(&dir.path().join("pki"), "close CA");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let config = pki.client_config();
        let client = std::thread::spawn(move || {
            let sock = TcpStream::connect(addr).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            let tls = rustls::ClientConnection::new(config, name).unwrap();
            let mut conn = Connection::new(rustls::StreamOwned::new(tls, sock));
            conn.send_text("hello").unwrap();
            assert_eq!(conn.receive().unwrap().as_text(), Some("hi"));
            std::thread::sleep(Duration::from_millis(500));
            conn.send_text("late").unwrap();
            assert_eq!(conn.receive().unwrap().as_text(), Some("ok"));
            let stream = conn.get_mut();
            match close {
                Close::Plain => {}
                Close::Notify => {
                    stream.conn.send_close_notify();
                    stream.flush().unwrap();
                }
                Close::Inside => {
                    let mut half = common::header_only(1, 1000);
                    half.extend(b"m");
                    half.extend([b'x'; 500]);
                    stream.write_all(&half).unwrap();
                    stream.flush().unwrap();
                }
            }
            // Dropped: TCP closes, with no close_notify unless sent above.
        });
        let (sock, _) = listener.accept().unwrap();
        serve(&pki, sock, close);
        client.join().unwrap();
    }
}
