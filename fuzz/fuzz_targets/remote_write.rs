//! Fuzzes the remote-write decoder the server runs on every request body (harness shared with
//! the CI replay test `server/tests/fuzz_decoders.rs`: `fuzz/harness/decoders.rs`).

#![no_main]

#[path = "../harness/decoders.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| harness::check_remote_write(data));
