//! A caller can follow a send and a receive (bytes so far / total) without
//! writing a processor or a generator.

mod common;

use std::sync::{Arc, Mutex};

use common::random_bytes;
use nvflare_hci::{
    Connection, ContentType, ExchangeHandler, ExchangeSender, MsgDataProcessor, Progress,
};

fn recorder() -> (
    Arc<Mutex<Vec<Progress>>>,
    impl FnMut(Progress) + Send + 'static,
) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    (log, move |p| sink.lock().unwrap().push(p))
}

fn check_binary(log: &[Progress], total: u64) {
    assert!(log.len() >= 2, "{log:?}");
    assert_eq!(log[0].done, 0);
    assert!(log
        .iter()
        .all(|p| p.total == Some(total) && p.content_type == ContentType::Binary));
    assert!(log.windows(2).all(|w| w[0].done <= w[1].done));
    assert!(log.last().unwrap().is_complete());
}

#[test]
fn send_and_receive_report_progress() {
    let body = random_bytes(1_000_000, 1);
    let (sent, f) = recorder();
    let mut s = ExchangeSender::new(Vec::new())
        .block_size(64 * 1024)
        .on_progress(f);
    s.send_binary_data(&body[..], "m").unwrap();
    let wire = s.into_inner();
    check_binary(&sent.lock().unwrap(), 1_000_000);
    assert!(sent.lock().unwrap().len() >= 16);

    let (received, f) = recorder();
    ExchangeHandler::new(&wire[..])
        .block_size(64 * 1024)
        .on_progress(f)
        .receive_all()
        .unwrap();
    check_binary(&received.lock().unwrap(), 1_000_000);
}

#[test]
fn text_progress_has_no_total_on_receive() {
    let (received, f) = recorder();
    ExchangeHandler::new(&b"hello\x04"[..])
        .on_progress(f)
        .receive_all()
        .unwrap();
    let log = received.lock().unwrap();
    assert!(log
        .iter()
        .all(|p| p.total.is_none() && p.content_type == ContentType::Text));
    assert_eq!(log.last().unwrap().done, 5);
}

#[test]
fn each_value_is_reported_once() {
    let body = random_bytes(300_000, 2);
    let mut wire = Vec::new();
    nvflare_hci::send_binary_data(&mut wire, &body[..], "m").unwrap();
    wire.extend(b"some text\x04\x04");
    let (received, f) = recorder();
    let mut handler = ExchangeHandler::new(&wire[..])
        .block_size(64 * 1024)
        .on_progress(f);
    for _ in 0..3 {
        handler.receive_all().unwrap();
    }
    let log = received.lock().unwrap();
    assert!(log.windows(2).all(|w| w[0] != w[1]), "{log:?}");
    assert_eq!(log.iter().filter(|p| p.is_complete()).count(), 1, "{log:?}");
    assert_eq!(log.iter().filter(|p| p.done == 9).count(), 1, "{log:?}");

    let (sent, f) = recorder();
    let mut s = ExchangeSender::new(Vec::new()).on_progress(f);
    s.send_text("").unwrap();
    s.send_text("abc").unwrap();
    let log = sent.lock().unwrap();
    let done: Vec<u64> = log.iter().map(|p| p.done).collect();
    assert_eq!(done, [0, 0, 3], "{log:?}");
}

#[test]
fn progress_for_one_transfer_may_borrow() {
    let body = random_bytes(1_000_000, 3);
    let mut wire = Vec::new();
    nvflare_hci::send_binary_data(&mut wire, &body[..], "upload").unwrap();
    wire.extend(b"after\x04");
    let mut conn = Connection::from_halves(&wire[..], Vec::new())
        .block_size(64 * 1024)
        .on_receive_progress(|_| panic!("the kept callback runs instead"));
    let mut seen = Vec::new();
    let got = conn
        .receive_with_progress(&mut MsgDataProcessor::new(), |p| seen.push(p))
        .unwrap();
    assert_eq!(got.body().unwrap().len(), 1_000_000);
    check_binary(&seen, 1_000_000);
    assert!(seen.len() >= 16, "{}", seen.len());
    // The next exchange has the kept callback again: cleared, none.
    conn.clear_receive_progress();
    assert_eq!(conn.receive().unwrap().as_text(), Some("after"));

    let mut sent = Vec::new();
    conn.send_binary_data_with_progress(&body[..], "m", |p| sent.push(p.done))
        .unwrap();
    assert_eq!((sent[0], *sent.last().unwrap()), (0, 1_000_000));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &body[..1000]).unwrap();
    let mut sent = Vec::new();
    conn.send_binary_file_with_progress(file.path(), "f", |p| sent.push(p.done))
        .unwrap();
    assert_eq!(sent, [0, 1000]);
}
