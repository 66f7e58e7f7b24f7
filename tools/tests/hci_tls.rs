//! `hci` over mutual TLS: round trips with its client and with NVFlare
//! 2.9.0's functions over Python's `ssl`; peers without the right
//! certificate refused with nothing stored; silent peers delaying nobody;
//! the connection cap; the spool directory re-created.

mod common;

use nvflare_hci_tools::hci as app;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::{Endpoint, Server, ServerConfig, SPOOL};
use common::python::{finish, spawn_peer};
use common::random_bytes;
use common::tls::Pki;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;
use sha2::Digest;

const T: Duration = Duration::from_secs(30);

struct Served {
    addr: String,
    log: mpsc::Receiver<Value>,
}

impl Served {
    /// The next log records, until `n` arrived or 10 s passed.
    fn records(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(r) => out.push(r),
                Err(_) => break,
            }
        }
        out
    }
}

fn serve(dir: &Path, pki: &Pki, tweak: impl FnOnce(&mut ServerConfig)) -> Served {
    let mut config = ServerConfig::new(dir);
    config.timeout = Duration::from_secs(5);
    config.tls = Some(
        nvflare_hci_tools::tls::server_config(
            &pki.path("server.pem"),
            &pki.path("server.key"),
            &pki.path("ca.pem"),
        )
        .unwrap(),
    );
    tweak(&mut config);
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let addr: SocketAddr = Server::bind("127.0.0.1:0", config)
        .unwrap()
        .spawn(move |record| {
            let _ = tx.lock().unwrap().send(record);
        })
        .unwrap();
    Served {
        addr: addr.to_string(),
        log: rx,
    }
}

/// A TLS client with `cert`/`key`, trusting `ca`.
fn client(addr: &str, pki_dir: &Path, cert: &str, key: &str, ca: &Path) -> Endpoint {
    let config =
        nvflare_hci_tools::tls::client_config(&pki_dir.join(cert), &pki_dir.join(key), ca).unwrap();
    Endpoint::tls(addr, T, config, "localhost")
}

fn good_client(served: &Served, pki: &Pki) -> Endpoint {
    client(
        &served.addr,
        &pki.dir,
        "client.pem",
        "client.key",
        &pki.path("ca.pem"),
    )
}

/// Stored files, and the spool's entries.
fn stored(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut top = common::entries(dir);
    top.retain(|n| n != SPOOL);
    (top, common::entries(&dir.join(SPOOL)))
}

fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn round_trips_over_mutual_tls() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::new(&work.path().join("pki"), "hci CA");
    let dir = work.path().join("served");
    let served = serve(&dir, &pki, |_| {});
    let endpoint = good_client(&served, &pki);
    for (i, size) in [0usize, 1, 300_000, 3 << 20].into_iter().enumerate() {
        let body = random_bytes(size, i as u64);
        let file = write(work.path(), &format!("f{i}"), &body);
        let (reply, ok) = app::upload(&endpoint, &file, None, None).unwrap();
        assert!(ok, "{reply}");
        let name = serde_json::from_str::<Value>(&reply).unwrap()["name"]
            .as_str()
            .unwrap()
            .to_owned();
        let out = work.path().join(format!("back{i}"));
        assert_eq!(
            app::download(&endpoint, &name, &out, None).unwrap(),
            size as u64
        );
        assert!(std::fs::read(&out).unwrap() == body);
    }
    let (reply, ok) = app::list(&endpoint).unwrap();
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&reply).unwrap()["files"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn nvflare_python_over_ssl_drives_hci_serve() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::new(&work.path().join("pki"), "hci CA");
    let dir = work.path().join("served");
    let pem = |f: &str| pki.path(f).to_str().unwrap().to_owned();
    let (_server, addr, mut log) = common::hci_serve(
        &dir,
        &[
            "--tls-cert",
            &pem("server.pem"),
            "--tls-key",
            &pem("server.key"),
            "--tls-ca",
            &pem("ca.pem"),
        ],
    );
    let port = addr.rsplit_once(':').unwrap().1.to_owned();
    let body = random_bytes(5 << 20, 21);
    let body_path = write(work.path(), "job.zip", &body);
    let meta_path = write(
        work.path(),
        "meta",
        "{\"cmd\":\"upload\",\"名\":1}".as_bytes(),
    );
    let certs = pki.dir.to_str().unwrap();
    let report = finish(spawn_peer(
        work.path(),
        [
            "tls-upload",
            &port,
            certs,
            body_path.to_str().unwrap(),
            meta_path.to_str().unwrap(),
        ],
    ));
    let reply: Value = serde_json::from_str(report["reply"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(reply["status"], "ok", "{report}");
    assert_eq!(reply["crc32"], crc32fast::hash(&body));
    let name = reply["name"].as_str().unwrap().to_owned();
    assert!(std::fs::read(dir.join(&name)).unwrap() == body);
    let report = finish(spawn_peer(
        work.path(),
        ["tls-download", &port, certs, &name],
    ));
    assert_eq!(
        report["sha256"],
        format!("{:x}", sha2::Sha256::digest(&body))
    );
    assert_eq!(report["size"], body.len());

    // The command-line client with the same flags, and --server-name.
    let hci = |args: &[&str]| {
        std::process::Command::new(common::HCI)
            .args(args)
            .args([
                "--connect",
                &addr,
                "--tls-cert",
                &pem("client.pem"),
                "--tls-key",
                &pem("client.key"),
            ])
            .args(["--tls-ca", &pem("ca.pem")])
            .output()
            .unwrap()
    };
    let out = hci(&["list", "--server-name", "localhost"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&name));
    // The host of --connect (127.0.0.1) is not on the server's certificate.
    let out = hci(&["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("TLS"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The server logged each request, and the refusal, as JSON lines.
    let records: Vec<Value> = (0..4)
        .map(|_| serde_json::from_str(&log.next().unwrap().unwrap()).unwrap())
        .collect();
    let requests: Vec<&str> = records
        .iter()
        .map(|r| r["request"].as_str().unwrap())
        .collect();
    assert_eq!(
        requests,
        ["upload", "download", "list", "handshake"],
        "{records:?}"
    );
    assert_eq!(records[3]["status"], "refused");
}

#[test]
fn peers_without_the_right_certificate_are_refused_and_nothing_is_stored() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::new(&work.path().join("pki"), "hci CA");
    pki.issue("expired", &["expired client"], Some((2021, 1, 1)));
    let other = Pki::new(&work.path().join("other"), "another CA");
    let dir = work.path().join("served");
    let served = serve(&dir, &pki, |_| {});
    let file = write(work.path(), "payload", &random_bytes(100_000, 5));
    let ca = pki.path("ca.pem");

    // No client certificate at all.
    let roots = {
        let mut r = rustls::RootCertStore::empty();
        for c in rustls::pki_types::CertificateDer::pem_file_iter(&ca).unwrap() {
            r.add(c.unwrap()).unwrap();
        }
        r
    };
    let anonymous = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let refused: Vec<(&str, Endpoint)> = vec![
        (
            "no certificate",
            Endpoint::tls(&served.addr, T, anonymous, "localhost"),
        ),
        (
            "another CA",
            client(&served.addr, &other.dir, "client.pem", "client.key", &ca),
        ),
        (
            "expired",
            client(&served.addr, &pki.dir, "expired.pem", "expired.key", &ca),
        ),
        ("plain TCP", Endpoint::plain(&served.addr, T)),
    ];
    for (what, endpoint) in refused {
        let upload = app::upload(&endpoint, &file, None, None);
        assert!(!matches!(upload, Ok((_, true))), "{what}: upload accepted");
        let record = served
            .records(1)
            .pop()
            .unwrap_or_else(|| panic!("{what}: no log record"));
        assert_eq!(record["request"], "handshake", "{what}: {record}");
        assert_eq!(record["status"], "refused", "{what}: {record}");
        assert_eq!(
            stored(&dir),
            (vec![], vec![]),
            "{what}: something was stored"
        );
        // The server goes on serving.
        let (_, ok) = app::list(&good_client(&served, &pki)).unwrap();
        assert!(ok, "{what}: the server stopped serving");
        served.records(1);
    }
}

#[test]
fn silent_peers_delay_nobody() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::new(&work.path().join("pki"), "hci CA");
    let served = serve(&work.path().join("served"), &pki, |_| {});
    let silent: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(&served.addr).unwrap())
        .collect();
    // One that trickles its ClientHello a byte at a time, too.
    let trickle = TcpStream::connect(&served.addr).unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        for b in [0x16u8, 0x03, 0x01, 0x00] {
            let _ = (&trickle).write_all(&[b]);
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    let started = Instant::now();
    let (_, ok) = app::list(&good_client(&served, &pki)).unwrap();
    let took = started.elapsed();
    assert!(ok);
    assert!(
        took < Duration::from_secs(1),
        "a TLS list took {took:?} beside 50 silent peers"
    );
    drop(silent);
}

#[test]
fn past_the_connection_cap_peers_get_busy() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::new(&work.path().join("pki"), "hci CA");
    let served = serve(&work.path().join("served"), &pki, |c| c.max_connections = 3);
    // Three peers in their handshake fill the server.
    let silent: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&served.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (reply, ok) = app::list(&good_client(&served, &pki)).unwrap();
    assert!(!ok);
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["status"], "error");
    assert!(
        reply["error"].as_str().unwrap().starts_with("server busy"),
        "{reply}"
    );
    // Once they leave, the server serves again.
    drop(silent);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, ok) = app::list(&good_client(&served, &pki)).unwrap();
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "still busy after the peers left");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Without TLS, the busy reply is plain.
    let plain_dir = work.path().join("plain");
    let mut config = ServerConfig::new(&plain_dir);
    config.max_connections = 1;
    let addr = Server::bind("127.0.0.1:0", config)
        .unwrap()
        .spawn(|_| {})
        .unwrap()
        .to_string();
    let _silent = TcpStream::connect(&addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (reply, ok) = app::list(&Endpoint::plain(&addr, T)).unwrap();
    assert!(!ok && reply.contains("server busy"), "{reply}");
}

#[test]
fn a_removed_spool_directory_is_made_again() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::new(&work.path().join("pki"), "hci CA");
    let dir = work.path().join("served");
    let served = serve(&dir, &pki, |_| {});
    std::fs::remove_dir_all(dir.join(SPOOL)).unwrap();
    let file = write(
        work.path(),
        "after",
        b"uploaded after the spool was removed",
    );
    let (reply, ok) = app::upload(&good_client(&served, &pki), &file, None, None).unwrap();
    assert!(ok, "{reply}");
    assert_eq!(stored(&dir).0.len(), 1);
}

#[test]
fn a_trickled_handshake_is_cut_off_at_the_deadline() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::new(&work.path().join("pki"), "hci CA");
    let served = serve(&work.path().join("served"), &pki, |c| {
        c.timeout = Duration::from_secs(1)
    });
    let trickle = TcpStream::connect(&served.addr).unwrap();
    // A TLS record header announcing a long ClientHello, then a byte every
    // 300 ms for 4 s: each read gets something, the handshake never ends.
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        for b in [0x16u8, 0x03, 0x01, 0x02, 0x00]
            .into_iter()
            .chain([0x01; 9])
        {
            if (&trickle).write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let record = served.records(1).pop().expect("a log record");
    assert_eq!(record["status"], "refused", "{record}");
    let ms = record["ms"].as_u64().unwrap();
    assert!(
        ms < 2500,
        "the handshake lasted {ms} ms with a 1 s deadline"
    );
    // The refusal says it timed out, and after how long.
    let error = record["error"].as_str().unwrap();
    assert!(
        error.contains("timed out after 1.") && error.contains("limit is 1 s"),
        "{error}"
    );
    feeder.join().unwrap();
}

/// A client whose server never answers the handshake: the error says it
/// timed out, after how long, and with whom.
#[test]
fn a_silent_server_times_out_with_its_address() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::new(&work.path().join("pki"), "hci CA");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let out = std::process::Command::new(common::HCI)
        .args(["list", "--connect", &addr, "--timeout", "1"])
        .arg("--tls-cert")
        .arg(pki.path("client.pem"))
        .arg("--tls-key")
        .arg(pki.path("client.key"))
        .arg("--tls-ca")
        .arg(pki.path("ca.pem"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "error: TLS: TLS handshake with {addr} (127.0.0.1): timed out after 1."
        )) && !err.contains("os error 11"),
        "{err}"
    );
    drop(silent);
}

#[test]
fn client_keys_in_pkcs1_and_sec1_are_accepted() {
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::new(&work.path().join("pki"), "hci CA");
    let out = std::process::Command::new(common::python::python())
        .arg(common::interop("keys.py"))
        .arg(&pki.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let heads: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(heads["pkcs1"], "-----BEGIN RSA PRIVATE KEY-----");
    assert_eq!(heads["sec1"], "-----BEGIN EC PRIVATE KEY-----");
    let served = serve(&work.path().join("served"), &pki, |_| {});
    for name in ["pkcs1", "sec1"] {
        let endpoint = client(
            &served.addr,
            &pki.dir,
            &format!("{name}.pem"),
            &format!("{name}.key"),
            &pki.path("ca.pem"),
        );
        let (reply, ok) = app::list(&endpoint).unwrap();
        assert!(ok, "{name}: {reply}");
    }
}
