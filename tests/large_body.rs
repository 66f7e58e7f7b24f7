//! A 512 MiB body streamed over a loopback socket, never held in memory,
//! checked by hash.

mod common;

use std::net::{TcpListener, TcpStream};

use nvflare_hci::{receive_all, send_binary_data};

#[test]
fn half_a_gibibyte_over_loopback() {
    const SIZE: u64 = 512 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sender = std::thread::spawn(move || {
        let mut sock = TcpStream::connect(addr).unwrap();
        let mut g = common::RandomBody::new(SIZE, 42);
        assert_eq!(
            send_binary_data(&mut sock, &mut g, "big").unwrap().size,
            SIZE
        );
        g.sha256()
    });
    let (mut sock, _) = listener.accept().unwrap();
    let got = receive_all(&mut sock).unwrap();
    let sent_hash = sender.join().unwrap();
    let (meta, mut body) = got.into_binary().unwrap();
    assert_eq!(meta, "big");
    assert_eq!(body.len(), SIZE);
    assert_eq!(common::sha256_of(&mut body), sent_hash);
}
