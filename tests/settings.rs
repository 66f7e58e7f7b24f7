//! Settings changed on a live `Connection` through `&mut`: limits raised
//! after a login, block sizes, progress callbacks set for a while and
//! removed.

mod common;

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use common::{random_bytes, CountingWriter};
use nvflare_hci::{Connection, Error, Limit, Limits, Progress};

/// A server's state, holding its connection.
struct Session<S> {
    conn: Connection<S>,
}

impl<S: Read + io::Write> Session<S> {
    /// Bodies are small until the peer logs in.
    fn serve(&mut self) -> Result<Vec<u64>, Error> {
        let mut sizes = Vec::new();
        loop {
            match self.conn.receive() {
                Ok(e) if e.as_text() == Some("login") => self
                    .conn
                    .set_limits(self.conn.get_limits().with_max_body_size(1 << 20)),
                Ok(e) => sizes.push(e.body().map_or(0, |b| b.len())),
                Err(e) if e.is_clean_close() => return Ok(sizes),
                Err(e) => return Err(e),
            }
        }
    }
}

fn upload(size: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    nvflare_hci::send_binary_data(&mut wire, &random_bytes(size, 1)[..], "up").unwrap();
    wire
}

#[test]
fn limits_raised_after_a_login() {
    let small = Limits::default().with_max_body_size(1000);
    let mut wire = b"login\x04".to_vec();
    wire.extend(upload(100_000));
    let mut session = Session {
        conn: Connection::from_halves(&wire[..], Vec::new()).limits(small),
    };
    assert_eq!(session.serve().unwrap(), [100_000]);
    assert_eq!(session.conn.get_limits().max_body_size, 1 << 20);

    let wire = upload(100_000);
    let mut session = Session {
        conn: Connection::from_halves(&wire[..], Vec::new()).limits(small),
    };
    assert!(matches!(
        session.serve(),
        Err(Error::LimitExceeded {
            what: Limit::BodySize,
            ..
        })
    ));
}

/// Records the size of every read.
struct Reads<'a>(&'a [u8], Vec<usize>);

impl Read for Reads<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.1.push(buf.len());
        self.0.read(buf)
    }
}

#[test]
fn block_sizes_change_on_a_live_connection() {
    let wire = [upload(200_000), upload(200_000)].concat();
    let mut conn = Connection::from_halves(Reads(&wire, Vec::new()), CountingWriter::default());
    conn.receive().unwrap();
    assert!(conn.get_ref().reader().1.iter().any(|&n| n > 4096));
    conn.set_receive_block_size(4096);
    let before = conn.get_ref().reader().1.len();
    conn.receive().unwrap();
    let reads = &conn.get_ref().reader().1[before..];
    assert!(reads.iter().all(|&n| n <= 4096), "{reads:?}");

    conn.set_send_block_size(16 * 1024);
    let sent = conn
        .send_binary_data(&random_bytes(100_000, 2)[..], "")
        .unwrap();
    let total = 1 + 12 + sent.size as usize + 8;
    assert_eq!(conn.get_ref().writer().writes, total.div_ceil(16 * 1024));
}

#[test]
fn progress_callbacks_set_and_removed() {
    let log = Arc::new(Mutex::new(Vec::<(char, Progress)>::new()));
    let wire = [upload(10), upload(10)].concat();
    let mut conn = Connection::from_halves(&wire[..], Vec::new());
    let sink = Arc::clone(&log);
    conn.set_receive_progress(move |p| sink.lock().unwrap().push(('r', p)));
    let sink = Arc::clone(&log);
    conn.set_send_progress(move |p| sink.lock().unwrap().push(('s', p)));
    conn.receive().unwrap();
    conn.send_text("one").unwrap();
    let seen = log.lock().unwrap().len();
    assert!(seen >= 4, "{seen}");
    conn.clear_receive_progress();
    conn.clear_send_progress();
    conn.receive().unwrap();
    conn.send_text("two").unwrap();
    assert_eq!(log.lock().unwrap().len(), seen, "a removed callback ran");
}
