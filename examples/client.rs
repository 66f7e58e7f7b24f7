//! A client on [`Connection`]: one connection, a text command and a file
//! upload, each followed by the server's reply. Run `examples/server.rs`
//! first.
//!
//! ```text
//! cargo run --example client -- 127.0.0.1:8003 FILE
//! ```

use std::net::TcpStream;
use std::process::ExitCode;

use nvflare_hci::{Connection, ErrorChain};

fn run(addr: &str, file: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = Connection::new(TcpStream::connect(addr)?);

    conn.send_text(r#"{"cmd":"check_status"}"#)?;
    println!("{}", conn.receive()?.as_text().unwrap_or_default());

    let sent = conn.send_binary_file(file, r#"{"cmd":"submit_job"}"#)?;
    println!("sent {} bytes", sent.size);
    println!("{}", conn.receive()?.as_text().unwrap_or_default());
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
