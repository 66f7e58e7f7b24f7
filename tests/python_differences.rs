//! Each deliberate difference from the Python module (docs/wire.md): the
//! same input trips NVFlare 2.9.0 and is handled here.

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::python::peer;
use common::{binary_wire, entries, CountingWriter};
use nvflare_hci::{
    receive_all, Error, ExchangeHandler, ExchangeSender, Limit, MsgDataProcessor, Section,
};
use serde_json::Value;

/// Python's `receive_all` on `wire`, read in pieces of up to `max_split`,
/// with its temp dir set to a fresh directory.
fn python_decode(wire: &[u8], max_split: usize) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let path = dir.path().join("wire");
    std::fs::write(&path, wire).unwrap();
    let split = max_split.to_string();
    peer(
        &spool,
        [
            OsStr::new("decode"),
            path.as_os_str(),
            OsStr::new(&split),
            OsStr::new("0"),
        ],
    )
}

fn rust_decode_in(dir: &Path, wire: &[u8], max: usize) -> Result<nvflare_hci::Exchange, Error> {
    let mut p = MsgDataProcessor::in_dir(dir);
    ExchangeHandler::new(common::SplitReader::new(wire, max, 0)).receive_and_parse(&mut p)
}

#[test]
fn fault_1_split_utf8() {
    let wire = "中文信息\x04".as_bytes();
    let py = python_decode(wire, 1024);
    assert_eq!(py["error"], "UnicodeDecodeError", "{py}");
    assert_eq!(receive_all(wire).unwrap().as_text(), Some("中文信息"));
    // A character split between two reads, after an ASCII start.
    let wire = "a中\x04".as_bytes();
    let py = python_decode(wire, 2);
    assert_eq!(py["error"], "UnicodeDecodeError", "{py}");
    for max in 1..4 {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            rust_decode_in(dir.path(), wire, max).unwrap().as_text(),
            Some("a中")
        );
    }
}

#[test]
fn fault_2_empty_text() {
    let wire = b"\x04GARBAGE";
    let py = python_decode(wire, 1024);
    assert_eq!(py["text"], "GARBAGE", "{py}");
    let mut stream = &wire[..];
    assert_eq!(receive_all(&mut stream).unwrap().as_text(), Some(""));
    assert_eq!(stream, b"GARBAGE");
}

#[test]
fn fault_3_bytes_after_all_end() {
    let wire = b"first\x04second\x04";
    let py = python_decode(wire, 1024);
    assert_eq!(py["text"], "first");
    assert_eq!(
        py["consumed"],
        wire.len() as u64,
        "Python read (and lost) the next exchange"
    );
    let mut stream = &wire[..];
    assert_eq!(receive_all(&mut stream).unwrap().as_text(), Some("first"));
    assert_eq!(receive_all(&mut stream).unwrap().as_text(), Some("second"));
}

#[test]
fn fault_4_text_cut_short() {
    let wire = br#"{"status":"ok","data":[1,2"#;
    let py = python_decode(wire, 1024);
    assert_eq!(
        py["text"], r#"{"status":"ok","data":[1,2"#,
        "Python accepts it: {py}"
    );
    assert!(matches!(
        receive_all(&wire[..]),
        Err(Error::UnexpectedEof {
            section: Section::Text,
            ..
        })
    ));
}

#[test]
fn fault_5_eof_in_meta() {
    let full = binary_wire(&[b'm'; 50], b"body");
    let wire = &full[..13 + 20];
    let py = python_decode(wire, 1024);
    assert_eq!(py["error"], "TypeError", "{py}");
    assert!(matches!(
        receive_all(wire),
        Err(Error::UnexpectedEof {
            section: Section::Meta,
            expected: 50,
            got: 20
        })
    ));
}

#[test]
fn fault_6_partial_file_left_behind() {
    let mut wire = binary_wire(b"", &vec![9u8; 10_000]);
    let n = wire.len();
    wire[n - 1] ^= 1; // bad checksum
    let py = python_decode(&wire, 1024);
    assert_eq!(py["error"], "RuntimeError", "{py}");
    assert_eq!(
        py["spool_files"].as_array().unwrap().len(),
        1,
        "Python leaves its spool file: {py}"
    );
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        rust_decode_in(dir.path(), &wire, 1024),
        Err(Error::ChecksumMismatch { .. })
    ));
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn fault_7_no_limits() {
    let mut wire = common::header_only(u32::MAX, 0);
    wire.extend(vec![b'x'; 100_000]);
    // Python keeps reading the announced 4 GiB until the stream ends.
    let py = python_decode(&wire, 1024);
    assert_eq!(py["consumed"], wire.len() as u64, "{py}");
    // Rust refuses at the header.
    let mut stream = &wire[..];
    assert!(matches!(
        receive_all(&mut stream),
        Err(Error::LimitExceeded {
            what: Limit::MetaSize,
            ..
        })
    ));
    assert_eq!(stream.len(), wire.len() - 13);
}

#[test]
fn fault_8_one_write_per_small_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body");
    std::fs::write(&body, vec![1u8; 1024]).unwrap();
    let meta = dir.path().join("meta");
    std::fs::write(&meta, "m".repeat(100)).unwrap();
    let out = dir.path().join("wire");
    let py = peer(
        dir.path(),
        [
            "encode-file".as_ref(),
            body.as_os_str(),
            meta.as_os_str(),
            out.as_os_str(),
        ],
    );
    assert_eq!(py["calls"], 5, "marker, header, meta, body, footer: {py}");
    let mut w = CountingWriter::default();
    ExchangeSender::new(&mut w)
        .send_binary_file(&body, &"m".repeat(100))
        .unwrap();
    assert_eq!(w.writes, 1);
    assert_eq!(w.data, std::fs::read(&out).unwrap());
}

#[test]
fn fault_9_generator_size_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body");
    std::fs::write(&body, vec![1u8; 20_000]).unwrap();
    let meta = dir.path().join("meta");
    std::fs::write(&meta, "").unwrap();
    let out = dir.path().join("wire");
    // Declares 10,000 bytes, yields 20,000: Python sends all of them first.
    let py = peer(
        dir.path(),
        [
            "encode-data".as_ref(),
            body.as_os_str(),
            meta.as_os_str(),
            out.as_os_str(),
            "10000".as_ref(),
        ],
    );
    assert_eq!(py["error"], "RuntimeError", "{py}");
    assert_eq!(py["len"], 13 + 20_000, "{py}");
    let surplus = vec![1u8; 20_000];
    struct Liar<'a>(&'a [u8]);
    impl nvflare_hci::DataGenerator for Liar<'_> {
        fn data_size(&self) -> u64 {
            10_000
        }
        fn generate(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.generate(buf)
        }
    }
    let mut w = CountingWriter::default();
    let err = ExchangeSender::new(&mut w)
        .block_size(4096)
        .send_binary_data(Liar(&surplus), "")
        .unwrap_err();
    assert!(matches!(
        err,
        Error::BodySizeMismatch {
            declared: 10_000,
            ..
        }
    ));
    assert!(w.data.len() <= 13 + 10_000);
}

#[test]
fn fault_10_empty_body() {
    let wire = binary_wire(b"meta", b"");
    let py = python_decode(&wire, 1024);
    assert_eq!(py["file"], false, "Python gives None: {py}");
    let body = receive_all(&wire[..]).unwrap().into_binary().unwrap().1;
    assert!(body.is_empty() && body.path().exists());
}
