//! Replays the PromQL fuzz corpus (`fuzz/seeds/promql_eval/`, plus any crashers saved in
//! `fuzz/regressions/promql_eval/`) through the same harness the cargo-fuzz target runs, then a
//! short deterministic mutation run over it: byte flips, token insertions and splices. CI
//! thus runs a few seconds of fuzzing on every change; `fuzz/README.md` says how to run the
//! real fuzzer for longer.

#[path = "../../fuzz/harness/promql.rs"]
mod harness;

use std::path::{Path, PathBuf};

/// Tokens spliced into inputs: the mutation run reaches deeper into the evaluator when it
/// inserts whole PromQL words instead of random bytes.
const TOKENS: &[&str] = &[
    "rate(",
    "sum by (job) (",
    ")",
    "[5m]",
    "[1h:1m]",
    " offset -1m",
    " @ end()",
    " + ",
    " / ",
    " and ",
    " or ",
    " unless ",
    " on(job) ",
    " group_left ",
    " bool ",
    "{job=~\"a.*\"}",
    "NaN",
    "Inf",
    "-",
    "1e308",
    "0x10",
    "topk(",
    "quantile(2, ",
    "histogram_quantile(0.5, ",
    ",",
    "\"",
    "label_replace(",
    "count_values(\"x\", ",
    "absent(",
    "scalar(",
    "[0s]",
    "[1ms:1ms]",
];

fn inputs(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// splitmix64: a fixed, dependency-free generator so every CI run mutates the same way.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(3) {
        let at = rng.below(data.len() + 1);
        match rng.below(4) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let tok = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(at..at, tok.iter().copied());
            }
            2 if !data.is_empty() => {
                let end = (at + rng.below(8)).min(data.len());
                data.drain(at..end);
            }
            _ => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
        }
    }
    data
}

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
        let input = mutate(&mut rng, &seeds);
        harness::check(&promql, &source, &input);
    }
}
