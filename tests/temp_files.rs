//! docs/wire.md faults 6 and 10: Python never deletes its spool files, leaves
//! partial ones behind, and gives no file for an empty body. Here a failed
//! exchange deletes its file, a received body is deleted when dropped unless
//! kept or persisted, and an empty body is an empty file.

mod common;

use std::io::Read;

use common::{binary_wire, entries, random_bytes};
use nvflare_hci::{BodyFile, Error, ExchangeHandler, MsgDataProcessor};

/// Receives one binary exchange into `p`; returns its body.
fn receive_body(wire: &[u8], p: &mut MsgDataProcessor) -> BodyFile {
    let got = ExchangeHandler::new(wire).receive_and_parse(p).unwrap();
    got.into_binary().expect("a binary exchange").1
}

#[test]
fn bad_checksum_deletes_the_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut wire = binary_wire(b"m", &random_bytes(500_000, 1));
    let n = wire.len();
    wire[n - 1] ^= 0x40;
    let mut p = MsgDataProcessor::in_dir(dir.path());
    let err = ExchangeHandler::new(&wire[..])
        .block_size(4096)
        .receive_and_parse(&mut p)
        .unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err:?}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn bad_footer_marker_deletes_the_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut wire = binary_wire(b"", b"body");
    let n = wire.len();
    wire[n - 8] = 1;
    let mut p = MsgDataProcessor::in_dir(dir.path());
    let err = ExchangeHandler::new(&wire[..])
        .receive_and_parse(&mut p)
        .unwrap_err();
    assert!(
        matches!(err, Error::FooterMarker { found: 0x0100_0000 }),
        "{err:?}"
    );
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn dropped_body_is_deleted_kept_body_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let wire = binary_wire(b"", b"content");
    let mut p = MsgDataProcessor::in_dir(dir.path());
    let body = receive_body(&wire, &mut p);
    assert_eq!(entries(dir.path()).len(), 1);
    drop(body);
    assert!(entries(dir.path()).is_empty());

    let body = receive_body(&wire, &mut p);
    let (_file, path) = body.keep().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"content");
    assert_eq!(entries(dir.path()).len(), 1);
}

#[test]
fn empty_body_is_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let wire = binary_wire(b"meta", b"");
    let mut p = MsgDataProcessor::in_dir(dir.path());
    let (meta, mut body) = ExchangeHandler::new(&wire[..])
        .receive_and_parse(&mut p)
        .unwrap()
        .into_binary()
        .unwrap();
    assert_eq!(meta, "meta");
    assert!(body.is_empty());
    assert!(body.path().exists());
    let mut v = Vec::new();
    body.read_to_end(&mut v).unwrap();
    assert!(v.is_empty());
}

#[test]
fn failed_persist_gives_the_body_back() {
    let dir = tempfile::tempdir().unwrap();
    let wire = binary_wire(b"", b"keep me");
    let mut p = MsgDataProcessor::in_dir(dir.path());
    let body = receive_body(&wire, &mut p);
    let err = body
        .persist(dir.path().join("missing-dir").join("x"))
        .unwrap_err();
    let mut body = err.into_body();
    let mut v = Vec::new();
    body.read_to_end(&mut v).unwrap();
    assert_eq!(v, b"keep me");
}

#[test]
fn spool_dir_that_cannot_be_written_is_a_processor_error() {
    let dir = tempfile::tempdir().unwrap();
    let wire = binary_wire(b"", b"x");
    let mut p = MsgDataProcessor::in_dir(dir.path().join("does-not-exist"));
    let err = ExchangeHandler::new(&wire[..])
        .receive_and_parse(&mut p)
        .unwrap_err();
    assert!(matches!(err, Error::Processor(_)), "{err:?}");
}

#[test]
fn a_persist_failed_through_question_mark_keeps_the_body() {
    fn store(body: nvflare_hci::BodyFile, to: &std::path::Path) -> nvflare_hci::Result<()> {
        body.persist(to)?;
        Ok(())
    }
    let dir = tempfile::tempdir().unwrap();
    let wire = binary_wire(b"", b"precious upload");
    let mut p = MsgDataProcessor::in_dir(dir.path());
    let (_, body) = ExchangeHandler::new(&wire[..])
        .receive_and_parse(&mut p)
        .unwrap()
        .into_binary()
        .unwrap();
    let err = store(body, &dir.path().join("no-such-dir").join("file")).unwrap_err();
    let Error::Persist(failed) = err else {
        panic!("not a persist error: {err:?}");
    };
    assert_eq!(failed.error().kind(), std::io::ErrorKind::NotFound);
    let mut body = failed.into_body();
    let mut v = Vec::new();
    body.read_to_end(&mut v).unwrap();
    assert_eq!(v, b"precious upload");
    assert!(body.path().exists());
}

#[cfg(unix)]
#[test]
fn persist_keeps_0600_and_persist_with_permissions_sets_the_callers() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut wire = Vec::new();
    nvflare_hci::send_binary_data(&mut wire, &b"job bytes"[..], "m").unwrap();
    wire.extend_from_within(..);
    let mut conn = nvflare_hci::Connection::from_halves(&wire[..], Vec::new());
    let mut spool = MsgDataProcessor::in_dir(dir.path());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let default = dir.path().join("default.zip");
    let body = conn
        .receive_and_parse(&mut spool)
        .unwrap()
        .into_binary()
        .unwrap()
        .1;
    body.persist(&default).unwrap();
    assert_eq!(mode(&default), 0o600);

    let chosen = dir.path().join("chosen.zip");
    let body = conn
        .receive_and_parse(&mut spool)
        .unwrap()
        .into_binary()
        .unwrap()
        .1;
    body.persist_with_permissions(&chosen, std::fs::Permissions::from_mode(0o640))
        .unwrap();
    assert_eq!(mode(&chosen), 0o640);
    assert_eq!(std::fs::read(&chosen).unwrap(), b"job bytes");
}
