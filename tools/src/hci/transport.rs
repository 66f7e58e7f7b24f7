//! The stream under a `Connection`: plain TCP, or mutual TLS on either side.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use rustls::{ClientConnection, ServerConnection};

use crate::tls::TlsStream;

/// Plain TCP, or TLS as the server or the client.
#[derive(Debug)]
pub enum Transport {
    /// No TLS.
    Plain(TcpStream),
    /// TLS, this side the server.
    Server(Box<TlsStream<ServerConnection, TcpStream>>),
    /// TLS, this side the client.
    Client(Box<TlsStream<ClientConnection, TcpStream>>),
}

impl Transport {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Server(s) => &s.sock,
            Transport::Client(s) => &s.sock,
        }
    }

    /// Ends the sending side: TLS's `close_notify`, then the TCP shutdown.
    pub fn shutdown_write(&mut self) {
        match self {
            Transport::Plain(_) => {}
            Transport::Server(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
            Transport::Client(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
        }
        let _ = self.tcp().shutdown(std::net::Shutdown::Write);
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Server(s) => s.read(buf),
            Transport::Client(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Server(s) => s.write(buf),
            Transport::Client(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Server(s) => s.flush(),
            Transport::Client(s) => s.flush(),
        }
    }
}
