//! Fuzzes the protobuf exposition reader (`strata_server::decoders::parse_protobuf`, the
//! scraper's reader of `application/vnd.google.protobuf` bodies); the harness is shared
//! with the CI replay test `server/tests/fuzz_exposition.rs`:
//! `fuzz/harness/exposition_proto.rs`.

#![no_main]

#[path = "../harness/exposition_proto.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    harness::check_protobuf(data);
});
