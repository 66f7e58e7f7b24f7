//! A 512 MiB body streamed over a loopback socket, never held in memory,
//! checked by hash.

mod common;

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};

use nvflare_hci::{receive_all, send_binary_data, DataGenerator};
use rand::{rngs::StdRng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};

/// 512 MiB of seeded pseudo-random bytes, hashed as they are generated.
struct Stream {
    left: u64,
    size: u64,
    rng: StdRng,
    hash: Sha256,
}

impl DataGenerator for Stream {
    fn data_size(&self) -> u64 {
        self.size
    }
    fn generate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        self.rng.fill_bytes(&mut buf[..n]);
        self.hash.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn half_a_gibibyte_over_loopback() {
    const SIZE: u64 = 512 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sender = std::thread::spawn(move || {
        let mut sock = TcpStream::connect(addr).unwrap();
        let mut g = Stream {
            left: SIZE,
            size: SIZE,
            rng: StdRng::seed_from_u64(42),
            hash: Sha256::new(),
        };
        assert_eq!(send_binary_data(&mut sock, &mut g, "big").unwrap(), SIZE);
        g.hash.finalize()
    });
    let (mut sock, _) = listener.accept().unwrap();
    let got = receive_all(&mut sock).unwrap();
    let sent_hash = sender.join().unwrap();
    let (meta, mut body) = got.into_binary().unwrap();
    assert_eq!(meta, "big");
    assert_eq!(body.len(), SIZE);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = body.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    assert_eq!(h.finalize(), sent_hash);
}
