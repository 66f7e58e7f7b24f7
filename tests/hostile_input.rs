//! Whatever arrives: truncation at every offset and every single-bit flip
//! give a typed error (or, where a flip cannot be detected by design, a
//! result that differs only there), never a panic, a hang, an "ok" with a
//! corrupt body, or a file left behind.

mod common;

use common::{binary_wire, body_of, entries, random_bytes};
use nvflare_hci::{Error, Exchange, ExchangeHandler, MsgDataProcessor, Section};

const META: &[u8] = br#"{"cmd":"x"}"#;

fn receive(wire: &[u8], dir: &std::path::Path) -> Result<Exchange, Error> {
    let mut p = MsgDataProcessor::in_dir(dir);
    ExchangeHandler::new(wire)
        .block_size(16)
        .receive_and_parse(&mut p)
}

#[test]
fn truncation_at_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    let body = random_bytes(100, 1);
    let binary = binary_wire(META, &body);
    for cut in 0..binary.len() {
        let err = receive(&binary[..cut], dir.path()).unwrap_err();
        assert!(
            matches!(err, Error::UnexpectedEof { .. }),
            "cut {cut}: {err:?}"
        );
        assert!(entries(dir.path()).is_empty(), "cut {cut}");
    }
    let text = "{\"status\":\"ok\",\"data\":\"中文\"}\x04".as_bytes();
    for cut in 0..text.len() {
        let err = receive(&text[..cut], dir.path()).unwrap_err();
        let want = if cut == 0 {
            Section::Marker
        } else {
            Section::Text
        };
        assert!(
            matches!(err, Error::UnexpectedEof { section, .. } if section == want),
            "cut {cut}: {err:?}"
        );
    }
}

#[test]
fn every_bit_flip_of_a_binary_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let body = random_bytes(64, 2);
    let wire = binary_wire(META, &body);
    let meta_range = 13..13 + META.len();
    for byte in 0..wire.len() {
        for bit in 0..8 {
            let mut bad = wire.clone();
            bad[byte] ^= 1 << bit;
            let result = receive(&bad, dir.path());
            match (byte, result) {
                // Header, body, footer: always detected.
                (b, result) if b > 0 && !meta_range.contains(&b) => {
                    assert!(result.is_err(), "byte {byte} bit {bit} accepted");
                }
                // The marker: the bytes read as text (no body to trust), or fail.
                (0, Ok(Exchange::Text(_)) | Err(_)) => {}
                // The meta is not checksummed: it may differ, the body may not.
                (_, Ok(Exchange::Binary { meta, body: got })) => {
                    assert_ne!(meta.as_bytes(), META);
                    let (_, data) = body_of(Exchange::Binary { meta, body: got });
                    assert_eq!(data, body, "byte {byte} bit {bit}: corrupt body accepted");
                }
                (_, Err(e)) => assert!(
                    matches!(
                        e,
                        Error::InvalidUtf8 {
                            section: Section::Meta,
                            ..
                        }
                    ),
                    "byte {byte} bit {bit}: {e:?}"
                ),
                (_, Ok(other)) => panic!("byte {byte} bit {bit}: {other:?}"),
            }
            assert!(entries(dir.path()).is_empty(), "byte {byte} bit {bit}");
        }
    }
}

#[test]
fn body_and_footer_flips_are_always_errors() {
    let dir = tempfile::tempdir().unwrap();
    let body = random_bytes(300, 3);
    let wire = binary_wire(b"", &body);
    for byte in 13..wire.len() {
        for bit in 0..8 {
            let mut bad = wire.clone();
            bad[byte] ^= 1 << bit;
            let err = receive(&bad, dir.path()).unwrap_err();
            let want_marker = byte >= wire.len() - 8 && byte < wire.len() - 4;
            if want_marker {
                assert!(matches!(err, Error::FooterMarker { .. }), "{err:?}");
            } else {
                assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err:?}");
            }
        }
    }
}

#[test]
fn every_bit_flip_of_a_text_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let wire = b"{\"status\":\"ok\"}\x03{\"n\":1}\x04";
    for byte in 0..wire.len() {
        for bit in 0..8 {
            let mut bad = wire.to_vec();
            bad[byte] ^= 1 << bit;
            match receive(&bad, dir.path()) {
                Ok(Exchange::Text(_)) | Err(_) => {}
                Ok(other) => panic!("byte {byte} bit {bit}: {other:?}"),
            }
            assert!(entries(dir.path()).is_empty());
        }
    }
}
