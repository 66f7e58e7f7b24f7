//! A client on [`Connection`]: one connection, a text command and a file
//! upload, each a request with its reply (`request`, `request_binary_file`). Run `examples/server.rs`
//! first.
//!
//! ```text
//! cargo run --example client -- 127.0.0.1:8003 FILE
//! ```

use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use nvflare_hci::{Connection, ErrorChain};

fn run(addr: &str, file: &str) -> Result<(), Box<dyn std::error::Error>> {
    let stream = TcpStream::connect(addr)?;
    // A reply later than this ends the connection: `request` never takes a
    // late reply for the next one's.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut conn = Connection::new(stream);

    let reply = conn.request(r#"{"cmd":"check_status"}"#)?;
    println!("{}", reply.as_text().unwrap_or_default());

    // What was sent, with its CRC-32, to compare with the server's reply.
    let (sent, reply) = conn.request_binary_file(file, r#"{"cmd":"submit_job"}"#)?;
    println!("sent {} bytes, crc32 {}", sent.size, sent.crc32);
    println!("{}", reply.as_text().unwrap_or_default());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, file] = &args[..] else {
        eprintln!("usage: client ADDR FILE");
        return ExitCode::from(2);
    };
    match run(addr, file) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<nvflare_hci::Error>() {
                Some(e) => eprintln!("client: {}", ErrorChain(e)),
                None => eprintln!("client: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}
