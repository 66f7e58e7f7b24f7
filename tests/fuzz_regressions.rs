//! The fuzz targets' properties on the committed inputs under `tests/fuzz/`
//! (minimized findings and a sample of each corpus), so that every `cargo
//! test` replays them.

use nvflare_hci_testkit::checks;

use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz")
        .join(target);
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no inputs in {}", dir.display());
    v
}

#[test]
fn decode_inputs() {
    for (name, data) in inputs("decode") {
        let result = std::panic::catch_unwind(|| checks::decode_input(&data));
        assert!(result.is_ok(), "{name}");
    }
}

#[test]
fn round_trip_inputs() {
    use arbitrary::{Arbitrary, Unstructured};
    let mut ran = 0;
    for (name, data) in inputs("round_trip") {
        // As libFuzzer does: an input that does not parse is not run.
        if let Ok(input) = checks::RoundTripInput::arbitrary_take_rest(Unstructured::new(&data)) {
            let result = std::panic::catch_unwind(|| checks::round_trip_input(&input));
            assert!(result.is_ok(), "{name}");
            ran += 1;
        }
    }
    assert!(ran > 0);
}
