//! A server on [`Connection`]: each connection gets a thread; a text
//! request is answered with a line, a binary one (a file upload) with its
//! size and verified CRC-32. The body is spooled to a temp file by the
//! default processor and deleted when dropped.
//!
//! ```text
//! cargo run --example server -- 127.0.0.1:8003
//! cargo run --example client -- 127.0.0.1:8003 Cargo.toml
//! ```

use std::net::{TcpListener, TcpStream};

use nvflare_hci::{Connection, Exchange, Result};

fn serve(stream: TcpStream) -> Result<()> {
    let mut conn = Connection::new(stream);
    loop {
        let reply = match conn.receive() {
            Ok(Exchange::Text(command)) => format!(r#"{{"status":"ok","echo":{command:?}}}"#),
            Ok(Exchange::Binary { meta, body }) => format!(
                r#"{{"status":"ok","meta":{meta:?},"size":{},"crc32":{}}}"#,
                body.len(),
                body.checksum()
            ),
            // The client hung up between exchanges: nothing was cut short.
            Err(e) if e.is_clean_close() => return Ok(()),
            // Read whole (a checksum mismatch, text that is not UTF-8):
            // refuse this one and go on.
            Err(e) if conn.can_receive() => {
                format!(r#"{{"status":"error","error":{:?}}}"#, e.to_string())
            }
            Err(e) => return Err(e),
        };
        conn.send_lines([reply])?;
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:8003".into());
    let listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(e) = serve(stream) {
                eprintln!("connection failed: {}", nvflare_hci::ErrorChain(&e));
            }
        });
    }
    Ok(())
}
