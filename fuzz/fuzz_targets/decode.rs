//! Arbitrary bytes, split at arbitrary points, into the decoder and the
//! handler: no panic, and the same outcome whatever the split.
#![no_main]

use libfuzzer_sys::fuzz_target;

use nvflare_hci_testkit::checks;

fuzz_target!(|data: &[u8]| checks::decode_input(data));
