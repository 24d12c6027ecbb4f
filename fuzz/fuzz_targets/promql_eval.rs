//! Fuzzes PromQL parsing and evaluation: any input is parsed and evaluated as instant and
//! range queries over a small fixed dataset (`fuzz/harness/promql.rs`, shared with the CI
//! replay test `query/tests/fuzz_promql.rs`). Nothing may panic; results keep their shape.

#![no_main]

#[path = "../harness/promql.rs"]
mod harness;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use strata_query::promql::PromqlEngine;

static STATE: OnceLock<(PromqlEngine, harness::FixedSource)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let (promql, source) = STATE.get_or_init(|| (harness::engine(), harness::FixedSource::new()));
    harness::check(promql, source, data);
});
