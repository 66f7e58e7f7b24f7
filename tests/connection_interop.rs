//! `Connection` against NVFlare 2.9.0's own functions, several exchanges of
//! each kind on one connection, in both directions: over plain TCP and over
//! mutual TLS (rustls here, Python's `ssl` there), with Python as the
//! client and as the server.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::python::{accept, finish, spawn_peer};
use common::random_bytes;
use common::tls::Pki;
use nvflare_hci::{Connection, Exchange, GenerateDataFromReader};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::Digest;

const ROUNDS: usize = 3;
const BODY: usize = 3 << 20;

/// Answers Python's session: each text with two lines, each body by sending
/// it back. Checks what Python sent.
fn answer<S: Read + std::io::Write>(conn: &mut Connection<S>, body: &[u8]) {
    for i in 0..ROUNDS {
        let text = conn.receive().unwrap();
        assert_eq!(text.as_text(), Some(format!("round {i}中文 ✓").as_str()));
        conn.send_lines([format!("ok {i}"), "é中文".into()])
            .unwrap();
        let Exchange::Binary {
            meta,
            body: mut body_file,
        } = conn.receive().unwrap()
        else {
            panic!("round {i}: a text where a body was expected");
        };
        assert_eq!(meta, format!("{{\"round\": {i}}}"));
        let mut got = Vec::new();
        body_file.read_to_end(&mut got).unwrap();
        assert!(got == body, "round {i}: body differs");
        let len = got.len() as u64;
        conn.send_binary_data(
            GenerateDataFromReader::new(&got[..], len),
            &format!("back {i}"),
        )
        .unwrap();
    }
}

/// What Python received: per round, the text reply and the body sent back.
fn check_report(report: &serde_json::Value, body: &[u8]) {
    let replies = report["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 2 * ROUNDS);
    let sha = format!("{:x}", sha2::Sha256::digest(body));
    for i in 0..ROUNDS {
        assert_eq!(replies[2 * i]["text"], format!("ok {i}é中文"));
        let binary = &replies[2 * i + 1];
        assert_eq!(binary["meta"], format!("back {i}"));
        assert_eq!(binary["sha256"], sha);
        assert_eq!(binary["sent"], BODY);
    }
}

fn setup(dir: &Path) -> (Vec<u8>, std::path::PathBuf) {
    let body = random_bytes(BODY, 11);
    let path = dir.join("body.bin");
    std::fs::write(&path, &body).unwrap();
    (body, path)
}

fn timeouts(sock: &TcpStream) {
    sock.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    sock.set_write_timeout(Some(Duration::from_secs(120)))
        .unwrap();
}

/// Python's listening port, from the file it writes.
fn python_port(file: &Path) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(s) = std::fs::read_to_string(file) {
            return s.trim().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the peer never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn run_python(dir: &Path, args: &[&str]) -> common::python::PeerProcess {
    spawn_peer(dir, args)
}

#[test]
fn python_client_plain_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let (body, path) = setup(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let rounds = ROUNDS.to_string();
    let peer = run_python(
        dir.path(),
        &[
            "session",
            "connect",
            &port,
            "-",
            path.to_str().unwrap(),
            &rounds,
        ],
    );
    answer(&mut Connection::new(accept(&listener)), &body);
    check_report(&finish(peer), &body);
}

#[test]
fn python_server_plain_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let (body, path) = setup(dir.path());
    let port_file = dir.path().join("port");
    let rounds = ROUNDS.to_string();
    let peer = run_python(
        dir.path(),
        &[
            "session",
            "listen",
            port_file.to_str().unwrap(),
            "-",
            path.to_str().unwrap(),
            &rounds,
        ],
    );
    let sock = TcpStream::connect(("127.0.0.1", python_port(&port_file))).unwrap();
    timeouts(&sock);
    answer(&mut Connection::new(sock), &body);
    check_report(&finish(peer), &body);
}

#[test]
fn python_client_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (body, path) = setup(dir.path());
    let pki = Pki::new(&dir.path().join("pki"), "interop CA");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let rounds = ROUNDS.to_string();
    let certs = pki.dir.to_str().unwrap().to_owned();
    let peer = run_python(
        dir.path(),
        &[
            "session",
            "connect",
            &port,
            &certs,
            path.to_str().unwrap(),
            &rounds,
        ],
    );
    let tls = rustls::ServerConnection::new(pki.server_config()).unwrap();
    let stream = rustls::StreamOwned::new(tls, accept(&listener));
    let mut conn = Connection::new(stream);
    answer(&mut conn, &body);
    // The peer's certificate was checked: it is the client's, from our CA.
    let certs = conn.get_ref().conn.peer_certificates().unwrap();
    let client = CertificateDer::from_pem_file(pki.path("client.pem")).unwrap();
    assert_eq!(certs[0], client);
    check_report(&finish(peer), &body);
}

#[test]
fn python_server_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (body, path) = setup(dir.path());
    let pki = Pki::new(&dir.path().join("pki"), "interop CA");
    let port_file = dir.path().join("port");
    let rounds = ROUNDS.to_string();
    let certs = pki.dir.to_str().unwrap().to_owned();
    let peer = run_python(
        dir.path(),
        &[
            "session",
            "listen",
            port_file.to_str().unwrap(),
            &certs,
            path.to_str().unwrap(),
            &rounds,
        ],
    );
    let sock = TcpStream::connect(("127.0.0.1", python_port(&port_file))).unwrap();
    timeouts(&sock);
    let name = ServerName::try_from("localhost").unwrap();
    let tls = rustls::ClientConnection::new(Arc::clone(&pki.client_config()), name).unwrap();
    let mut conn = Connection::new(rustls::StreamOwned::new(tls, sock));
    answer(&mut conn, &body);
    check_report(&finish(peer), &body);
}
