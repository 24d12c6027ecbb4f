//! Fuzzes the exposition parser (Prometheus text and OpenMetrics bodies, as scraped or
//! imported: `strata_server::decoders::parse`); the harness is shared with the CI replay
//! test `server/tests/fuzz_exposition.rs`: `fuzz/harness/exposition.rs`.

#![no_main]

#[path = "../harness/exposition.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    harness::check_exposition(data);
});
