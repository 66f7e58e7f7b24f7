//! Load: the `hci` server with 32 clients doing 10 uploads and 10
//! downloads each (1–8 MiB), while others misbehave (stall until the
//! timeout, send garbage, disconnect mid-body, announce huge sizes). Every
//! good transfer verifies, the server keeps serving, memory stays bounded,
//! and nothing is left behind.

mod common;

use nvflare_hci_tools::hci as app;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::{Endpoint, Server, ServerConfig, SPOOL};
use nvflare_hci::{
    ContentType, DataProcessor, End, Error, ExchangeHandler, ExchangeSender, Limits, Start,
};
use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};
use serde_json::Value;
use sha2::{Digest, Sha256};

const CLIENTS: usize = 32;
const ROUNDS: usize = 10;
const T: Duration = Duration::from_secs(60);

/// Hashes a downloaded body instead of storing it.
#[derive(Default)]
struct Hash(Sha256, u64, String);

impl DataProcessor for Hash {
    type Output = (u64, [u8; 32], String);
    fn start(&mut self, s: &Start<'_>) -> Result<(), Error> {
        *self = Hash(Sha256::new(), 0, s.meta().to_owned());
        Ok(())
    }
    fn process(&mut self, data: &[u8], ct: ContentType) -> Result<(), Error> {
        if ct == ContentType::Binary {
            self.0.update(data);
        } else {
            self.2.push_str(&String::from_utf8_lossy(data));
        }
        self.1 += data.len() as u64;
        Ok(())
    }
    fn finalize(&mut self, _: &End) -> Result<Self::Output, Error> {
        let h = std::mem::take(self);
        Ok((h.1, h.0.finalize().into(), h.2))
    }
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.set_write_timeout(Some(T)).unwrap();
    s
}

fn good_client(addr: &str, id: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(id as u64);
    let mut names = Vec::new();
    for round in 0..ROUNDS {
        let size = rng.random_range((1u64 << 20)..=(8 << 20));
        let mut body = common::RandomBody::new(size, (id * 1000 + round) as u64);
        let sock = connect(addr);
        ExchangeSender::new(&sock)
            .send_binary_data(&mut body, &format!("{{\"client\":{id}}}"))
            .unwrap();
        let sent = body.sha256();
        let reply = ExchangeHandler::new(&sock).receive_all().unwrap();
        let reply: Value = serde_json::from_str(reply.as_text().unwrap()).unwrap();
        assert_eq!(reply["status"], "ok", "{reply}");
        assert_eq!(reply["size"], size);
        let name = reply["name"].as_str().unwrap().to_owned();

        let sock = connect(addr);
        ExchangeSender::new(&sock)
            .send_text(&format!("download {name}"))
            .unwrap();
        let (got, hash, _) = ExchangeHandler::new(&sock)
            .receive_and_parse(&mut Hash::default())
            .unwrap();
        assert_eq!((got, hash), (size, sent), "client {id} round {round}");
        names.push(name);
    }
    names
}

/// One misbehaving connection of kind `kind`.
fn bad_client(addr: &str, kind: usize, rng: &mut StdRng) {
    let mut sock = connect(addr);
    let mut wire = common::header_only(2, 4 << 20);
    wire.extend(b"{}");
    match kind {
        // Stall mid-body until the server's timeout cuts it off.
        0 => {
            wire.extend(vec![7u8; 100_000]);
            let _ = sock.write_all(&wire);
            let _ = ExchangeHandler::new(&sock).receive_all();
        }
        // Garbage: random bytes, then close.
        1 => {
            let mut junk = vec![0u8; rng.random_range(1..50_000)];
            rng.fill_bytes(&mut junk);
            let _ = sock.write_all(&junk);
        }
        // Disconnect mid-body.
        2 => {
            wire.extend(vec![7u8; rng.random_range(0..1_000_000)]);
            let _ = sock.write_all(&wire);
        }
        // Announce huge sizes.
        _ => {
            let _ = sock.write_all(&common::header_only(u32::MAX, u64::MAX));
            let _ = ExchangeHandler::new(&sock).receive_all();
        }
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn many_clients_and_some_misbehaving() {
    let served = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        timeout: Duration::from_secs(2),
        limits: Limits::default().with_max_body_size(64 << 20),
        ..ServerConfig::new(served.path())
    };
    let errors = Arc::new(AtomicUsize::new(0));
    let logged = Arc::clone(&errors);
    let addr = Server::bind("127.0.0.1:0", config)
        .unwrap()
        .spawn(move |record| {
            if record["status"] != "ok" {
                logged.fetch_add(1, Ordering::Relaxed);
            }
        })
        .unwrap()
        .to_string();

    let done = Arc::new(AtomicBool::new(false));
    let bad: Vec<_> = (0..4)
        .map(|kind| {
            let (addr, done) = (addr.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(kind as u64);
                let mut n = 0;
                while !done.load(Ordering::Relaxed) {
                    bad_client(&addr, kind, &mut rng);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let good: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let addr = addr.clone();
            std::thread::spawn(move || good_client(&addr, id))
        })
        .collect();
    let mut names: Vec<String> = good
        .into_iter()
        .flat_map(|h| h.join().expect("a good client failed"))
        .collect();
    done.store(true, Ordering::Relaxed);
    let misbehaved: usize = bad.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(misbehaved >= 4, "{misbehaved}");

    // The server still serves, and lists exactly the good uploads.
    let (reply, ok) = app::list(&Endpoint::plain(&addr, T)).unwrap();
    assert!(ok);
    let listed: Value = serde_json::from_str(&reply).unwrap();
    let mut listed: Vec<String> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    names.sort();
    assert_eq!(listed.len(), CLIENTS * ROUNDS);
    assert_eq!(listed, names);
    assert!(errors.load(Ordering::Relaxed) >= misbehaved.min(4));

    // Nothing left behind: DIR holds the uploads, the spool is empty
    // (the stalled uploads are cut off within the 2 s timeout).
    std::thread::sleep(Duration::from_secs(3));
    assert!(common::entries(&served.path().join(SPOOL)).is_empty());
    let mut top = common::entries(served.path());
    top.retain(|n| n != SPOOL);
    assert_eq!(top, names);

    // Memory: about 2.8 GiB moved through this process; its peak resident
    // memory (clients, server and their buffers) stays far below that.
    let peak = peak_rss_kib();
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
    eprintln!("{misbehaved} misbehaving connections; peak RSS {peak} KiB");
}
