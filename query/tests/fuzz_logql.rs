//! Replays the LogQL fuzz corpus (`fuzz/seeds/logql_parse/`, plus any crashers saved in
//! `fuzz/regressions/logql_parse/`) through the cargo-fuzz target's check, then a short
//! deterministic mutation run over it: no input panics, and every query that parses
//! prints (`Display`) as LogQL that parses back to the same tree. `fuzz/README.md` says
//! how to run the real fuzzer for longer.

#[path = "../../fuzz/harness/mutate.rs"]
mod mutate;

use std::path::Path;

use mutate::{Rng, inputs, mutate};

/// Whole LogQL words spliced into inputs, to reach deeper into the grammar.
const TOKENS: &[&[u8]] = &[
    b"{app=\"a\"}",
    b"{a=~\"x.*\", b!=\"\"}",
    b" |= \"x\"",
    b" != \"y\" or \"z\"",
    b" |~ \"(a|b)\"",
    b" |> \"<_> <x>\"",
    b" | json",
    b" | json a=\"b.c[0]\"",
    b" | logfmt --strict",
    b" | pattern \"<a> <_>\"",
    b" | regexp \"(?P<x>\\\\w+)\"",
    b" | unpack",
    b" | x > 10ms",
    b" | y >= 1KB and z=\"q\" or w!~\"r\"",
    b" | line_format \"{{.a | ToUpper}}\"",
    b" | label_format a=b, c=\"{{.d}}\"",
    b" | drop a, b=\"c\"",
    b" | keep a",
    b" | decolorize",
    b" | unwrap duration(x)",
    b" | __error__=\"\"",
    b"count_over_time(",
    b"rate(",
    b"quantile_over_time(0.9, ",
    b"sum by (a) (",
    b"topk(2, ",
    b")",
    b"[5m]",
    b"[1h] offset 5m",
    b" + ",
    b" / on(a) group_left(b) ",
    b" > bool ",
    b" and ",
    b"vector(1)",
    b"label_replace(",
    b",",
    b"\"",
    b"`",
    b"(",
];

fn check(input: &[u8]) {
    if let Ok(s) = std::str::from_utf8(input)
        && let Ok(e) = strata_query::logql::parse(s)
    {
        let printed = e.to_string();
        let again = strata_query::logql::parse(&printed);
        assert_eq!(
            again.as_ref().ok(),
            Some(&e),
            "{s:?} printed as {printed:?}"
        );
    }
}

#[test]
fn logql_fuzz_corpus_and_short_mutation_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let seeds = inputs(&root.join("seeds/logql_parse"));
    assert!(
        seeds.len() >= 5,
        "the seed corpus is missing: {} inputs",
        seeds.len()
    );
    let regressions = inputs(&root.join("regressions/logql_parse"));
    for input in seeds.iter().chain(&regressions) {
        check(input);
    }
    let mut rng = Rng(0x10c9);
    for _ in 0..20_000 {
        check(&mutate(&mut rng, &seeds, TOKENS));
    }
}
