//! Replays the exposition-parser fuzz corpus through the harness the cargo-fuzz target runs
//! (`fuzz/harness/exposition.rs`): the checked-in seeds (`fuzz/seeds/exposition/`: text
//! and OpenMetrics bodies, each of which must parse), any crashers saved in
//! `fuzz/regressions/exposition/`, then 3,000 deterministic mutations of the seeds. The
//! same for the protobuf reader (`fuzz/harness/exposition_proto.rs`,
//! `fuzz/seeds/exposition_proto/`). No server: the parsers alone.

#[path = "../../fuzz/harness/exposition.rs"]
mod harness;
#[path = "../../fuzz/harness/exposition_proto.rs"]
mod harness_proto;
#[path = "../../fuzz/harness/mutate.rs"]
mod mutate;

use std::path::{Path, PathBuf};

use mutate::{Rng, inputs, mutate};
use strata_server::decoders::{self, Format};

const MUTATIONS: usize = 3_000;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Exposition syntax the mutations splice in: delimiters, escapes, metadata, exemplars,
/// edge values, reserved and quoted names, bytes that are not UTF-8.
const TOKENS: &[&[u8]] = &[
    b"\n",
    b"{",
    b"}",
    b"\"",
    b"\\",
    b",",
    b"=",
    b" ",
    b"\t",
    b"# EOF\n",
    b"# TYPE x counter\n",
    b"# HELP x \\n\n",
    b"# UNIT x_seconds seconds\n",
    b" # {trace_id=\"a\"} 1 1.5",
    b"NaN",
    b"+Inf",
    b"1e400",
    b"-99999999999999999999",
    b"__name__=\"x\"",
    b"{\"a.b\"}",
    b"_total",
    b"\xff",
    b"\x00",
];

#[test]
fn exposition_corpus_and_short_mutation_run() {
    let dir = fuzz_dir();
    let seeds = inputs(&dir.join("seeds").join("exposition"));
    assert!(seeds.len() >= 12, "{} seeds", seeds.len());
    let (mut text, mut om) = (0, 0);
    for seed in &seeds {
        let (format, body) = harness::split(seed).expect("a seed has a format byte");
        if let Err(e) = decoders::parse(body, format) {
            panic!("a seed is refused: {e}\n{}", String::from_utf8_lossy(body));
        }
        match format {
            Format::Text => text += 1,
            Format::OpenMetrics => om += 1,
        }
        assert!(harness::check_exposition(seed));
    }
    assert!(
        text >= 4 && om >= 4,
        "{text} text and {om} OpenMetrics seeds"
    );

    for input in inputs(&dir.join("regressions").join("exposition")) {
        harness::check_exposition(&input);
    }
    let mut rng = Rng(0x5eed ^ "exposition".len() as u64);
    let accepted = (0..MUTATIONS)
        .filter(|_| harness::check_exposition(&mutate(&mut rng, &seeds, TOKENS)))
        .count();
    // The run must reach both outcomes, or it tests little.
    assert!(
        accepted > MUTATIONS / 10 && accepted < MUTATIONS * 9 / 10,
        "{accepted} of {MUTATIONS} mutations accepted"
    );
}

/// Protobuf fragments the mutations splice in: field keys of each wire type, lengths,
/// varints at their limits, a family header, a bucket span, a negative zigzag.
const PROTO_TOKENS: &[&[u8]] = &[
    b"\x0a\x03abc",
    b"\x12\x00",
    b"\x18\x04",
    b"\x22\x00",
    b"\x3a\x02\x08\x01",
    b"\x62\x04\x08\x01\x10\x02",
    b"\x6a\x03\x02\x01\x01",
    b"\x09\x00\x00\x00\x00\x00\x00\xf0\x7f",
    b"\xff\xff\xff\xff\x0f",
    b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",
    b"\x00",
    b"\x0b",
    b"\x0c",
];

#[test]
fn protobuf_corpus_and_short_mutation_run() {
    let dir = fuzz_dir();
    let seeds = inputs(&dir.join("seeds").join("exposition_proto"));
    assert!(seeds.len() >= 5, "{} seeds", seeds.len());
    for seed in &seeds {
        let (h, body) = harness_proto::split(seed).expect("a seed has a mode byte");
        if let Err(e) = decoders::parse_protobuf(body, h) {
            panic!("a seed is refused: {e}");
        }
        assert!(harness_proto::check_protobuf(seed));
    }
    for input in inputs(&dir.join("regressions").join("exposition_proto")) {
        harness_proto::check_protobuf(&input);
    }
    let mut rng = Rng(0x5eed ^ "exposition_proto".len() as u64);
    let accepted = (0..MUTATIONS)
        .filter(|_| harness_proto::check_protobuf(&mutate(&mut rng, &seeds, PROTO_TOKENS)))
        .count();
    assert!(
        accepted > MUTATIONS / 20 && accepted < MUTATIONS * 19 / 20,
        "{accepted} of {MUTATIONS} mutations accepted"
    );
}
