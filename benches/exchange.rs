//! Benchmarks, each beside its baseline in the same group:
//!
//! - `encode` / `decode`: in memory, against the irreducible work on the same
//!   bytes (a copy through a block-sized buffer plus `crc32fast`).
//! - `loopback`: a 256 MiB file over loopback TCP into a temp file, against a
//!   plain 256 KiB socket-to-file read loop.
//! - `small_exchange`: a 100-byte-meta, 1 KiB upload and its text reply, on
//!   fresh and reused connections, with and without `TCP_NODELAY`, against a
//!   raw request/response of the same sizes.
//! - `text`: a text reply of 10 KiB and 1 MiB (a `LINE_END` every 100
//!   bytes) received with a `Connection`: in memory, against the `memchr`
//!   crate finding the end and the line ends plus the copy and the UTF-8
//!   check that give the same `String`; over loopback on a fresh connection,
//!   against a raw read of the same bytes, and beside exact-mode
//!   `receive_all(&TcpStream)`. NVFlare's Python `receive_all` on the same
//!   sender is measured by `benches/python_text.sh`.
//!
//! `cargo bench` runs all; `cargo bench -- encode` one group.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use nvflare_hci_testkit::text_reply;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nvflare_hci::{
    receive_all, Connection, ContentType, DataProcessor, Decoded, Decoder, End, Error,
    ExchangeHandler, ExchangeSender, MsgDataProcessor, Start, ALL_END, DEFAULT_BLOCK_SIZE,
    LINE_END,
};

/// Discards content; counts it so that nothing is optimised away.
struct Discard(u64);

impl DataProcessor for Discard {
    type Output = u64;
    fn start(&mut self, _: &Start<'_>) -> Result<(), Error> {
        self.0 = 0;
        Ok(())
    }
    fn process(&mut self, data: &[u8], _: ContentType) -> Result<(), Error> {
        self.0 += data.len() as u64;
        Ok(())
    }
    fn finalize(&mut self, _: &End) -> Result<u64, Error> {
        Ok(self.0)
    }
}

fn body(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

const SIZES: [(usize, &str); 3] = [(1 << 10, "1KiB"), (1 << 20, "1MiB"), (64 << 20, "64MiB")];

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    for (len, name) in SIZES {
        let data = body(len);
        let mut out: Vec<u8> = Vec::with_capacity(len + 4096);
        g.throughput(Throughput::Bytes(len as u64));
        if len >= 64 << 20 {
            g.sample_size(10);
        }
        let mut sender = ExchangeSender::new(Vec::with_capacity(len + 4096));
        g.bench_function(BenchmarkId::new("send_binary_data", name), |b| {
            b.iter(|| {
                sender.get_mut().clear();
                sender.send_binary_data(&data[..], "meta").unwrap();
                black_box(sender.get_ref().len())
            })
        });
        let mut block = vec![0u8; DEFAULT_BLOCK_SIZE];
        g.bench_function(BenchmarkId::new("baseline_copy_crc", name), |b| {
            b.iter(|| {
                out.clear();
                let mut crc = crc32fast::Hasher::new();
                for chunk in data.chunks(DEFAULT_BLOCK_SIZE) {
                    let buf = &mut block[..chunk.len()];
                    buf.copy_from_slice(chunk);
                    crc.update(buf);
                    out.extend_from_slice(buf);
                }
                black_box((out.len(), crc.finalize()))
            })
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for (len, name) in SIZES {
        let data = body(len);
        let mut wire = Vec::new();
        nvflare_hci::send_binary_data(&mut wire, &data[..], "meta").unwrap();
        g.throughput(Throughput::Bytes(len as u64));
        if len >= 64 << 20 {
            g.sample_size(10);
        }
        let mut p = Discard(0);
        // A handler kept for its connection, as a server keeps it.
        let mut handler = ExchangeHandler::new(std::io::Cursor::new(&wire[..]));
        g.bench_function(BenchmarkId::new("exchange_handler", name), |b| {
            b.iter(|| {
                handler.get_mut().set_position(0);
                black_box(handler.receive_and_parse(&mut p).unwrap())
            })
        });
        // A handler made for the one exchange (its buffer allocated anew).
        g.bench_function(BenchmarkId::new("exchange_handler_fresh", name), |b| {
            b.iter(|| {
                let n = ExchangeHandler::new(&wire[..])
                    .receive_and_parse(&mut p)
                    .unwrap();
                black_box(n)
            })
        });
        let mut block = vec![0u8; DEFAULT_BLOCK_SIZE];
        g.bench_function(BenchmarkId::new("baseline_copy_crc", name), |b| {
            b.iter(|| {
                let mut src = &wire[..];
                let mut crc = crc32fast::Hasher::new();
                let mut total = 0;
                loop {
                    let n = src.read(&mut block).unwrap();
                    if n == 0 {
                        break;
                    }
                    crc.update(&block[..n]);
                    total += black_box(n);
                }
                black_box((total, crc.finalize()))
            })
        });
    }
    g.finish();
}

const LOOPBACK_SIZE: u64 = 256 << 20;

/// Moves `source` over a fresh loopback connection `iters` times, with
/// `send` on one thread and `recv` on this one; returns the total time.
fn time_transfers(
    iters: u64,
    source: &std::path::Path,
    send: fn(TcpStream, &std::path::Path),
    recv: &mut dyn FnMut(TcpStream),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let path = source.to_path_buf();
        let start = Instant::now();
        let sender = std::thread::spawn(move || send(TcpStream::connect(addr).unwrap(), &path));
        let (sock, _) = listener.accept().unwrap();
        recv(sock);
        total += start.elapsed();
        sender.join().unwrap();
    }
    total
}

fn loopback(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.bin");
    {
        let mut f = std::fs::File::create(&source).unwrap();
        let chunk = body(1 << 20);
        for _ in 0..(LOOPBACK_SIZE >> 20) {
            f.write_all(&chunk).unwrap();
        }
    }
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();

    let mut g = c.benchmark_group("loopback");
    g.throughput(Throughput::Bytes(LOOPBACK_SIZE));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.warm_up_time(Duration::from_secs(2));

    g.bench_function("send_binary_file_to_receive_all", |b| {
        b.iter_custom(|iters| {
            time_transfers(
                iters,
                &source,
                |mut sock, path| {
                    nvflare_hci::send_binary_file(&mut sock, path, "{}").unwrap();
                },
                &mut |sock| {
                    let mut p = MsgDataProcessor::in_dir(&spool);
                    let got = ExchangeHandler::new(&sock)
                        .receive_and_parse(&mut p)
                        .unwrap();
                    assert_eq!(got.body().unwrap().len(), LOOPBACK_SIZE);
                },
            )
        })
    });

    g.bench_function("baseline_socket_to_file_256KiB_loop", |b| {
        b.iter_custom(|iters| {
            time_transfers(
                iters,
                &source,
                |mut sock, path| {
                    let mut f = std::fs::File::open(path).unwrap();
                    let mut buf = vec![0u8; 256 << 10];
                    loop {
                        let n = f.read(&mut buf).unwrap();
                        if n == 0 {
                            break;
                        }
                        sock.write_all(&buf[..n]).unwrap();
                    }
                },
                &mut |mut sock| {
                    let mut f = tempfile::tempfile_in(&spool).unwrap();
                    let mut buf = vec![0u8; 256 << 10];
                    let mut got = 0u64;
                    loop {
                        let n = sock.read(&mut buf).unwrap();
                        if n == 0 {
                            break;
                        }
                        f.write_all(&buf[..n]).unwrap();
                        got += n as u64;
                    }
                    assert_eq!(got, LOOPBACK_SIZE);
                },
            )
        })
    });
    g.finish();
}

/// A server that answers each request: with the crate (an upload and a text
/// reply), or raw (reads `request_len` bytes, writes `reply_len` bytes).
fn small_server(raw: Option<(usize, usize)>, nodelay: bool) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let sock = sock.unwrap();
            sock.set_nodelay(nodelay).unwrap();
            std::thread::spawn(move || {
                let mut p = Discard(0);
                let mut handler = ExchangeHandler::new(&sock).read_ahead(true);
                let mut sender = ExchangeSender::new(&sock);
                let mut request = vec![0u8; raw.map_or(0, |r| r.0)];
                let reply = vec![b'r'; raw.map_or(0, |r| r.1)];
                loop {
                    match raw {
                        Some(_) => {
                            if (&sock).read_exact(&mut request).is_err() {
                                return;
                            }
                            if (&sock).write_all(&reply).is_err() {
                                return;
                            }
                        }
                        None => {
                            if handler.receive_and_parse(&mut p).is_err() {
                                return;
                            }
                            if sender.send_text(r#"{"status":"ok"}"#).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

fn small_exchange(c: &mut Criterion) {
    let meta = "m".repeat(100);
    let payload = body(1024);
    let mut wire = Vec::new();
    nvflare_hci::send_binary_data(&mut wire, &payload[..], &meta).unwrap();
    let reply_len = r#"{"status":"ok"}"#.len() + 1;
    let request_len = wire.len();

    let mut g = c.benchmark_group("small_exchange");
    g.throughput(Throughput::Bytes(1024));
    g.measurement_time(Duration::from_secs(4));

    for nodelay in [false, true] {
        let tag = if nodelay { "nodelay" } else { "nagle" };
        let crate_addr = small_server(None, nodelay);
        let raw_addr = small_server(Some((request_len, reply_len)), nodelay);

        let mut p = Discard(0);
        let connect = |addr| {
            let s = TcpStream::connect(addr).unwrap();
            s.set_nodelay(nodelay).unwrap();
            s
        };
        g.bench_function(BenchmarkId::new("crate_reused", tag), |b| {
            let mut conn = Connection::new(connect(crate_addr));
            b.iter(|| {
                conn.send_binary_data(&payload[..], &meta).unwrap();
                black_box(conn.receive_and_parse(&mut p).unwrap())
            })
        });
        g.bench_function(BenchmarkId::new("raw_reused", tag), |b| {
            let mut sock = connect(raw_addr);
            let mut reply = vec![0u8; reply_len];
            b.iter(|| {
                sock.write_all(&wire).unwrap();
                sock.read_exact(&mut reply).unwrap();
                black_box(reply[0])
            })
        });
        // What the Python module does: marker, header, meta, body and footer
        // as five writes (its body is one 1 KiB block here).
        g.bench_function(BenchmarkId::new("five_writes_reused", tag), |b| {
            let mut sock = connect(crate_addr);
            let mut handler = ExchangeHandler::new(sock.try_clone().unwrap()).read_ahead(true);
            let parts = [
                &wire[..1],
                &wire[1..13],
                &wire[13..113],
                &wire[113..1137],
                &wire[1137..],
            ];
            b.iter(|| {
                for part in parts {
                    sock.write_all(part).unwrap();
                }
                black_box(handler.receive_and_parse(&mut p).unwrap())
            })
        });
        g.bench_function(BenchmarkId::new("crate_fresh", tag), |b| {
            b.iter(|| {
                let mut conn = Connection::new(connect(crate_addr));
                conn.send_binary_data(&payload[..], &meta).unwrap();
                black_box(conn.receive_and_parse(&mut p).unwrap())
            })
        });
        g.bench_function(BenchmarkId::new("raw_fresh", tag), |b| {
            let mut reply = vec![0u8; reply_len];
            b.iter(|| {
                let mut sock = connect(raw_addr);
                sock.write_all(&wire).unwrap();
                sock.read_exact(&mut reply).unwrap();
                black_box(reply[0])
            })
        });
    }
    g.finish();
}

/// Bytes to read, nowhere to write: an in-memory stream for a `Connection`.
struct Incoming<'a>(&'a [u8]);

impl Read for Incoming<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Incoming<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serves `reply` in one write to every connection, then closes it.
fn text_server(reply: Vec<u8>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let _ = sock.unwrap().write_all(&reply);
        }
    });
    addr
}

fn text(c: &mut Criterion) {
    let mut g = c.benchmark_group("text");
    for (len, name) in [(10 << 10, "10KiB"), (1 << 20, "1MiB")] {
        let wire = text_reply(len);
        let lines = len - len / 100;
        g.throughput(Throughput::Bytes(len as u64));
        g.measurement_time(Duration::from_secs(4));
        g.bench_function(BenchmarkId::new("connection_in_memory", name), |b| {
            b.iter(|| {
                let text = Connection::new(Incoming(&wire)).receive().unwrap();
                assert_eq!(text.as_text().map(str::len), Some(lines));
                black_box(text)
            })
        });
        // The decode alone: the sans-IO decoder and the default processor
        // on the bytes in memory, without a reader's copy into a buffer.
        g.bench_function(BenchmarkId::new("decoder_in_memory", name), |b| {
            b.iter(|| {
                let mut decoder = Decoder::new();
                let mut processor = MsgDataProcessor::new();
                let mut input = &wire[..];
                let text = loop {
                    let (used, event) = decoder.decode(input).unwrap();
                    match event {
                        Decoded::Start(start) => processor.start(&start).unwrap(),
                        Decoded::Data(data) => processor.process(data, ContentType::Text).unwrap(),
                        Decoded::End(end) => break processor.finalize(&end).unwrap(),
                        Decoded::NeedMore | Decoded::Finished => {
                            unreachable!("the whole text is given")
                        }
                    }
                    input = &input[used..];
                };
                assert_eq!(text.as_text().map(str::len), Some(lines));
                black_box(text)
            })
        });
        g.bench_function(BenchmarkId::new("baseline_memchr_copy_utf8", name), |b| {
            b.iter(|| {
                let end = memchr::memchr(ALL_END, &wire).unwrap();
                let mut out = Vec::with_capacity(end);
                let mut from = 0;
                for at in memchr::memchr_iter(LINE_END, &wire[..end]) {
                    out.extend_from_slice(&wire[from..at]);
                    from = at + 1;
                }
                out.extend_from_slice(&wire[from..end]);
                let text = String::from_utf8(out).unwrap();
                assert_eq!(text.len(), lines);
                black_box(text)
            })
        });

        let addr = text_server(wire.clone());
        g.bench_function(BenchmarkId::new("connection_loopback_fresh", name), |b| {
            b.iter(|| {
                let mut conn = Connection::new(TcpStream::connect(addr).unwrap());
                black_box(conn.receive().unwrap())
            })
        });
        g.bench_function(BenchmarkId::new("baseline_raw_loopback_fresh", name), |b| {
            let mut buf = Vec::with_capacity(wire.len());
            b.iter(|| {
                buf.clear();
                TcpStream::connect(addr)
                    .unwrap()
                    .read_to_end(&mut buf)
                    .unwrap();
                assert_eq!(buf.len(), wire.len());
                black_box(buf.len())
            })
        });
        // Exact mode on an unbuffered socket: a read per byte of text.
        if len > 64 << 10 {
            g.sample_size(10);
        }
        g.bench_function(BenchmarkId::new("receive_all_exact_fresh", name), |b| {
            b.iter(|| black_box(receive_all(&TcpStream::connect(addr).unwrap()).unwrap()))
        });
        g.sample_size(100);
    }
    g.finish();
}

criterion_group!(benches, encode, decode, loopback, small_exchange, text);
criterion_main!(benches);
