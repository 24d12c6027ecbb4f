//! The protobuf exposition fuzz harness: `strata_server::decoders::parse_protobuf`, the
//! reader of the scraper's protobuf bodies (delimited `io.prometheus.client.MetricFamily`
//! messages, as Go programs answer). Shared by the cargo-fuzz target
//! `fuzz/fuzz_targets/exposition_proto.rs` and the replay test
//! `server/tests/fuzz_exposition.rs`.
//!
//! The first byte picks how histograms are read (bit 0: native histograms as such, bit 1:
//! their classic buckets too); the rest is the body. The contract, beyond "no panic":
//! reading is deterministic; every sample has a name and labels whose names are unique,
//! not empty and never `__name__` (exemplars' too); a native histogram sample only when
//! native histograms are read, and with them on a body gives no more float samples than
//! with them off; the families have names.

use strata_server::decoders::{self, Histograms, ProtoSample, ProtoValue};

/// The histogram mode and the body.
pub(crate) fn split(data: &[u8]) -> Option<(Histograms, &[u8])> {
    let (&mode, body) = data.split_first()?;
    let h = Histograms {
        native: mode & 1 == 1,
        classic_too: mode & 2 == 2,
    };
    Some((h, body))
}

fn check_labels(labels: &[(String, String)], what: &str) {
    let mut names: Vec<&str> = labels.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(
        before,
        names.len(),
        "duplicate {what} label names: {labels:?}"
    );
    for n in names {
        assert!(!n.is_empty() && n != "__name__", "{what} label name {n:?}");
    }
}

fn floats(s: &[ProtoSample]) -> usize {
    s.iter()
        .filter(|s| matches!(s.value, ProtoValue::Float(_)))
        .count()
}

/// Reads the input and checks the contract; true when the body was accepted.
pub(crate) fn check_protobuf(data: &[u8]) -> bool {
    let Some((h, body)) = split(data) else {
        return false;
    };
    let parsed = decoders::parse_protobuf(body, h);
    let again = decoders::parse_protobuf(body, h);
    assert_eq!(
        format!("{parsed:?}"),
        format!("{again:?}"),
        "not deterministic"
    );
    let Ok((samples, families)) = parsed else {
        return false;
    };
    for s in &samples {
        assert!(!s.name.is_empty(), "a sample without a name");
        check_labels(&s.labels, "sample");
        for e in &s.exemplars {
            check_labels(&e.labels, "exemplar");
        }
        if matches!(s.value, ProtoValue::Histogram(_)) {
            assert!(h.native, "a native histogram with native histograms off");
        }
    }
    assert!(families.iter().all(|f| !f.name.is_empty()));
    if h.native && !h.classic_too {
        let off = Histograms {
            native: false,
            classic_too: false,
        };
        match decoders::parse_protobuf(body, off) {
            Ok((classic, _)) => assert!(
                floats(&samples) <= floats(&classic),
                "native histograms on gave more float samples"
            ),
            Err(e) => panic!("accepted with native histograms, refused without: {e}"),
        }
    }
    true
}
