//! Arbitrary exchanges through the encoder and back through the decoder,
//! under arbitrary block sizes and read splits.
#![no_main]

use libfuzzer_sys::fuzz_target;

use nvflare_hci_testkit::checks;

fuzz_target!(|input: checks::RoundTripInput<'_>| checks::round_trip_input(&input));
