//! A caller can follow a send and a receive (bytes so far / total) without
//! writing a processor or a generator.

mod common;

use std::sync::{Arc, Mutex};

use common::random_bytes;
use nvflare_hci::{ContentType, ExchangeHandler, ExchangeSender, Progress};

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
