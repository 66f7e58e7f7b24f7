//! The sans-IO decoder's edges: content borrows the input only, so the
//! decoder can be asked questions while it is held; after an error the
//! decoder repeats it, from `decode` and from `eof`.

use nvflare_hci::{ContentType, Decoded, Decoder, Error, Limit, Limits, Start};

#[test]
fn content_can_be_held_while_the_decoder_is_asked() {
    let mut d = Decoder::new();
    let wire = b"ab\x04";
    let (used, decoded) = d.decode(wire).unwrap();
    assert_eq!(decoded, Decoded::Start(Start::text()));
    let Decoded::Data(data) = d.decode(&wire[used..]).unwrap().1 else {
        panic!("no data");
    };
    // `data` borrows the input only: the decoder answers meanwhile.
    assert_eq!(d.progress().map(|p| p.done), Some(2));
    assert_eq!(d.content_type(), Some(ContentType::Text));
    assert_eq!(data, b"ab");
}

#[test]
fn after_an_error_the_decoder_repeats_it() {
    let mut d = Decoder::with_limits(Limits::default().with_max_text_size(1));
    assert!(d.decode(b"x").is_ok());
    let err = d.decode(b"yz").unwrap_err();
    assert!(matches!(
        err,
        Error::LimitExceeded {
            what: Limit::TextSize,
            ..
        }
    ));
    for _ in 0..2 {
        assert!(matches!(
            d.eof(),
            Err(Error::LimitExceeded {
                what: Limit::TextSize,
                size: 2,
                max: 1
            })
        ));
        assert!(matches!(
            d.decode(b"\x04"),
            Err(Error::LimitExceeded {
                what: Limit::TextSize,
                ..
            })
        ));
    }
    assert_eq!(d.read_limit(), 0);
    d.reset();
    assert!(d.eof().is_err(), "an exchange not begun is not complete");
    assert_eq!(d.decode(b"\x04").unwrap().1, Decoded::Start(Start::text()));
}
