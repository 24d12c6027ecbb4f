//! Fuzzes the OTLP traces decoding the server runs on every request body: the in-place
//! protobuf reader against the general decoding, and what translation guarantees of the
//! records it keeps (harness shared with the CI replay test `server/tests/fuzz_decoders.rs`:
//! `fuzz/harness/decoders.rs`).

#![no_main]

#[path = "../harness/decoders.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| harness::check_otlp_spans(data));
