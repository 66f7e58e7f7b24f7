//! Bodies and metas of every interesting size survive send and receive, under
//! any read split, and the encoding is exactly the wire format.

mod common;

use common::{binary_wire, body_of, random_bytes, SplitReader};
use nvflare_hci::{
    receive_all, send_binary_data, send_binary_file, ExchangeHandler, ExchangeSender,
    MsgDataProcessor, DEFAULT_BLOCK_SIZE,
};

const METAS: [&str; 3] = [
    "",
    r#"{"cmd":"submit_job","name":"hello"}"#,
    "this is 中文信息 ✓",
];

fn sizes() -> Vec<usize> {
    let b = DEFAULT_BLOCK_SIZE;
    vec![0, 1, 1023, 1024, 1025, b - 1, b, b + 1, 1 << 20]
}

#[test]
fn encoding_is_the_wire_format() {
    for meta in METAS {
        for size in sizes() {
            let body = random_bytes(size, size as u64);
            let mut wire = Vec::new();
            let sent = send_binary_data(&mut wire, &body[..], meta).unwrap();
            assert_eq!(sent.size, size as u64);
            // The CRC returned is the one in the footer: the last 4 bytes.
            let footer_crc = u32::from_be_bytes(wire[wire.len() - 4..].try_into().unwrap());
            assert_eq!(sent.crc32, footer_crc, "size {size}");
            assert_eq!(sent.crc32, crc32fast::hash(&body), "size {size}");
            assert!(
                wire == binary_wire(meta.as_bytes(), &body),
                "size {size} meta {meta:?}"
            );
        }
    }
}

#[test]
fn every_size_and_meta_round_trips_under_any_split() {
    for meta in METAS {
        for size in sizes() {
            let body = random_bytes(size, 7 + size as u64);
            let wire = binary_wire(meta.as_bytes(), &body);
            // A byte at a time is slow for the big ones: limit it to the small sizes.
            let splits: &[usize] = if size <= 2048 {
                &[1, 7, 4096, usize::MAX]
            } else {
                &[1000, 70_000, usize::MAX]
            };
            for &max in splits {
                let reader = SplitReader::new(&wire[..], max, size as u64);
                let (m, b) = body_of(receive_all(reader).unwrap());
                assert_eq!(m, meta);
                assert!(b == body, "size {size} split {max}");
            }
        }
    }
}

#[test]
fn small_block_sizes_on_both_sides() {
    let body = random_bytes(10_000, 3);
    for block in [13, 100, 1024, 4097] {
        let mut sender = ExchangeSender::new(Vec::new()).block_size(block);
        sender.send_binary_data(&body[..], "m").unwrap();
        let wire = sender.into_inner();
        assert_eq!(wire, binary_wire(b"m", &body));
        let mut h = ExchangeHandler::new(&wire[..]).block_size(block);
        let (_, b) = body_of(h.receive_all().unwrap());
        assert_eq!(b, body);
    }
}

#[test]
fn file_round_trip_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("job.zip");
    let body = random_bytes(300_000, 11);
    std::fs::write(&src, &body).unwrap();
    let mut wire = Vec::new();
    let sent = send_binary_file(&mut wire, &src, "job").unwrap();
    assert_eq!((sent.size, sent.crc32), (300_000, crc32fast::hash(&body)));

    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let mut p = MsgDataProcessor::in_dir(&spool);
    let mut handler = ExchangeHandler::new(&wire[..]).read_ahead(true);
    let got = handler.receive_and_parse(&mut p).unwrap();
    let (meta, body_file) = got.into_binary().unwrap();
    // The verified checksum comes with the body, as the footer gave it.
    assert_eq!(body_file.checksum(), crc32fast::hash(&body));
    assert_eq!(meta, "job");
    // Spooled in the chosen directory, under a uuid4 name as Python's.
    let name = body_file
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(body_file.path().parent().unwrap(), spool);
    assert_eq!(uuid::Uuid::parse_str(&name).unwrap().get_version_num(), 4);
    let dest = dir.path().join("stored.zip");
    body_file.persist(&dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert!(common::entries(&spool).is_empty());
}

#[test]
fn text_round_trips() {
    for text in [
        "",
        "a",
        "{\"cmd\":\"list\"}",
        "line one\x03line two",
        "中文 ✓ ünïcödé",
    ] {
        let mut wire = Vec::new();
        nvflare_hci::send_text(&mut wire, text).unwrap();
        assert_eq!(&wire[..text.len()], text.as_bytes());
        assert_eq!(wire.last(), Some(&0x04));
        for max in [1, 2, 3, 1000] {
            let got = receive_all(SplitReader::new(&wire[..], max, 1)).unwrap();
            assert_eq!(got.as_text(), Some(text.replace('\x03', "").as_str()));
        }
    }
}

#[test]
fn lines_keep_their_ends_on_request() {
    let mut wire = Vec::new();
    nvflare_hci::send_lines(&mut wire, ["{\"a\":1}", "{\"b\":2}", "end"]).unwrap();
    assert_eq!(wire, b"{\"a\":1}\x03{\"b\":2}\x03end\x04");
    let mut p = MsgDataProcessor::new().keep_line_ends(true);
    let mut handler = ExchangeHandler::new(&wire[..]);
    let text = handler
        .receive_and_parse(&mut p)
        .unwrap()
        .into_text()
        .unwrap();
    let lines: Vec<&str> = text.split('\x03').collect();
    assert_eq!(lines, ["{\"a\":1}", "{\"b\":2}", "end"]);
}

/// Hands `finalize`'s `End` back.
struct Ends;

impl nvflare_hci::DataProcessor for Ends {
    type Output = nvflare_hci::End;
    fn start(&mut self, _: &nvflare_hci::Start<'_>) -> nvflare_hci::Result<()> {
        Ok(())
    }
    fn process(&mut self, _: &[u8], _: nvflare_hci::ContentType) -> nvflare_hci::Result<()> {
        Ok(())
    }
    fn finalize(&mut self, end: &nvflare_hci::End) -> nvflare_hci::Result<nvflare_hci::End> {
        Ok(*end)
    }
}

#[test]
fn finalize_gets_the_verified_checksum() {
    let body = random_bytes(70_000, 5);
    let mut wire = Vec::new();
    send_binary_data(&mut wire, &body[..], "m").unwrap();
    nvflare_hci::send_text(&mut wire, "text").unwrap();
    send_binary_data(&mut wire, &b""[..], "").unwrap();
    let mut handler = ExchangeHandler::new(&wire[..]);
    let ends: Vec<_> = (0..3)
        .map(|_| handler.receive_and_parse(&mut Ends).unwrap().checksum())
        .collect();
    assert_eq!(ends, [Some(crc32fast::hash(&body)), None, Some(0)]);
}
