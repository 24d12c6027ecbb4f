//! Replays the PromQL fuzz corpus (`fuzz/seeds/promql_eval/`, plus any crashers saved in
//! `fuzz/regressions/promql_eval/`) through the same harness the cargo-fuzz target runs, then a
//! short deterministic mutation run over it: byte flips, token insertions and splices. CI
//! thus runs a few seconds of fuzzing on every change; `fuzz/README.md` says how to run the
//! real fuzzer for longer.

#[path = "../../fuzz/harness/promql.rs"]
mod harness;
#[path = "../../fuzz/harness/mutate.rs"]
mod mutate;

use std::path::Path;

use mutate::{Rng, inputs, mutate};

/// Tokens spliced into inputs: the mutation run reaches deeper into the evaluator when it
/// inserts whole PromQL words instead of random bytes.
const TOKENS: &[&[u8]] = &[
    b"rate(",
    b"sum by (job) (",
    b")",
    b"[5m]",
    b"[1h:1m]",
    b" offset -1m",
    b" @ end()",
    b" + ",
    b" / ",
    b" and ",
    b" or ",
    b" unless ",
    b" on(job) ",
    b" group_left ",
    b" bool ",
    b"{job=~\"a.*\"}",
    b"NaN",
    b"Inf",
    b"-",
    b"1e308",
    b"0x10",
    b"topk(",
    b"quantile(2, ",
    b"histogram_quantile(0.5, ",
    b",",
    b"\"",
    b"label_replace(",
    b"count_values(\"x\", ",
    b"absent(",
    b"scalar(",
    b"[0s]",
    b"[1ms:1ms]",
];

#[test]
fn promql_fuzz_corpus_and_short_mutation_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let seeds = inputs(&root.join("seeds/promql_eval"));
    assert!(
        seeds.len() >= 100,
        "the seed corpus is missing: {} inputs",
        seeds.len()
    );
    let regressions = inputs(&root.join("regressions/promql_eval"));

    let promql = harness::engine();
    let source = harness::FixedSource::new();
    for input in seeds.iter().chain(&regressions) {
        harness::check(&promql, &source, input);
    }
    let mut rng = Rng(0x5eed);
    for _ in 0..3_000 {
        let input = mutate(&mut rng, &seeds, TOKENS);
        harness::check(&promql, &source, &input);
    }
}
