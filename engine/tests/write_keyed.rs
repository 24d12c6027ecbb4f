//! Writes keyed by a writer's raw label bytes (`known_series` + `write_keyed`, the
//! remote-write path): a known key stores under the series it was learnt for, without its
//! labels; the limits still apply; rejected series are never learnt; a handle from another
//! tenant fails the whole write; flushes and reopening do not confuse the keys.

mod common;

use strata_engine::{
    Engine, EngineConfig, Error, KeyedSeries, Limits, MatchOp, Matcher, RejectReason, Sample,
    TenantId,
};

const T0: i64 = 1_763_700_000_000;

fn t(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

fn s(ts: i64, value: f64) -> Sample {
    Sample { ts, value }
}

/// (raw key, labels, sample).
type One<'a> = (&'a [u8], &'a [(&'a str, &'a str)], Sample);

/// Writes one sample per (key, labels) through the keyed path, as the server does:
/// resolve, then pass labels only for the misses.
fn write(engine: &Engine, tenant: &TenantId, series: &[One<'_>]) -> strata_engine::WriteOutcome {
    let keys: Vec<&[u8]> = series.iter().map(|(k, _, _)| *k).collect();
    let known = engine.known_series(tenant, &keys).unwrap();
    let samples: Vec<[Sample; 1]> = series.iter().map(|(_, _, s)| [*s]).collect();
    let batch: Vec<KeyedSeries> = series
        .iter()
        .zip(&known)
        .zip(&samples)
        .map(|(((key, labels, _), known), samples)| KeyedSeries {
            key,
            by_symbols: false,
            known: *known,
            labels: if known.is_some() { &[] } else { labels },
            samples,
            histograms: &[],
            sample_starts: &[],
            histogram_starts: &[],
        })
        .collect();
    engine.write_keyed(tenant, &batch).unwrap()
}

fn read(engine: &Engine, tenant: &TenantId, job: &str) -> Vec<Sample> {
    let m = Matcher::new("job", MatchOp::Equal, job).unwrap();
    let got = engine.select(tenant, &[m], 0, i64::MAX).unwrap();
    assert!(got.len() <= 1, "{got:?}");
    got.into_iter().flat_map(|d| d.samples).collect()
}

#[test]
fn a_known_key_stores_under_its_series_without_labels() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    let a = t("a");
    let (ka, kb): (&[u8], &[u8]) = (b"raw-a", b"raw-b");
    let la = [("__name__", "up"), ("job", "a")];
    let lb = [("job", "b"), ("__name__", "up")];
    assert_eq!(
        engine.known_series(&a, &[ka, kb]).unwrap(),
        vec![None, None]
    );
    let o = write(&engine, &a, &[(ka, &la, s(T0, 1.0)), (kb, &lb, s(T0, 2.0))]);
    assert_eq!(o.accepted, 2);
    let known = engine.known_series(&a, &[ka, kb, b"raw-c"]).unwrap();
    assert!(known[0].is_some() && known[1].is_some() && known[2].is_none());
    assert_ne!(known[0], known[1]);
    // Second round: no labels passed; each sample lands in its own series.
    let o = write(
        &engine,
        &a,
        &[(ka, &la, s(T0 + 1, 3.0)), (kb, &lb, s(T0 + 1, 4.0))],
    );
    assert_eq!(o.accepted, 2);
    // Known series follow the usual sample rules: a re-send is a duplicate, a different
    // value at a stored timestamp a conflict.
    let o = write(
        &engine,
        &a,
        &[(ka, &la, s(T0 + 1, 3.0)), (kb, &lb, s(T0 + 1, 9.0))],
    );
    assert_eq!((o.accepted, o.duplicates), (0, 1));
    assert_eq!(o.rejected.get(&RejectReason::ConflictingValue), Some(&1));
    engine.flush().unwrap();
    let o = write(&engine, &a, &[(ka, &la, s(T0 + 2, 5.0))]);
    assert_eq!(o.accepted, 1);
    assert_eq!(
        read(&engine, &a, "a"),
        vec![s(T0, 1.0), s(T0 + 1, 3.0), s(T0 + 2, 5.0)]
    );
    assert_eq!(read(&engine, &a, "b"), vec![s(T0, 2.0), s(T0 + 1, 4.0)]);

    // Another tenant knows none of the keys, and a handle from `a` is refused there
    // without storing anything.
    let b = t("b");
    assert_eq!(engine.known_series(&b, &[ka]).unwrap(), vec![None]);
    let samples = [s(T0, 7.0)];
    let foreign = KeyedSeries {
        key: ka,
        by_symbols: false,
        known: known[0],
        labels: &[],
        samples: &samples,
        histograms: &[],
        sample_starts: &[],
        histogram_starts: &[],
    };
    let err = engine.write_keyed(&b, &[foreign]).unwrap_err();
    assert!(matches!(err, Error::ForeignSeries { .. }), "{err}");
    assert!(read(&engine, &b, "a").is_empty());

    // After a reopen the map starts empty and fills again; the series are the same.
    engine.close().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    assert_eq!(engine.known_series(&a, &[ka]).unwrap(), vec![None]);
    let o = write(&engine, &a, &[(ka, &la, s(T0 + 3, 6.0))]);
    assert_eq!(o.accepted, 1);
    assert!(engine.known_series(&a, &[ka]).unwrap()[0].is_some());
    assert_eq!(read(&engine, &a, "a").len(), 4);
}

#[test]
fn limits_apply_to_known_series_and_rejected_series_are_not_learnt() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        limits: Limits {
            max_active_series: 1,
            max_labels_per_series: 2,
            ..common::limits()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::open(dir.path(), config).unwrap();
    let a = t("a");
    let too_many = [("__name__", "up"), ("job", "x"), ("extra", "1")];
    let o = write(&engine, &a, &[(b"k1", &too_many, s(T0, 1.0))]);
    assert_eq!(o.rejected.get(&RejectReason::TooManyLabels), Some(&1));
    assert_eq!(engine.known_series(&a, &[b"k1"]).unwrap(), vec![None]);

    let ok = [("__name__", "up"), ("job", "a")];
    let second = [("__name__", "up"), ("job", "b")];
    let o = write(
        &engine,
        &a,
        &[(b"k2", &ok, s(T0, 1.0)), (b"k3", &second, s(T0, 1.0))],
    );
    assert_eq!(o.accepted, 1);
    assert_eq!(o.rejected.get(&RejectReason::SeriesLimit), Some(&1));
    let known = engine.known_series(&a, &[b"k2", b"k3"]).unwrap();
    assert!(known[0].is_some(), "a stored series is learnt");
    assert!(known[1].is_none(), "a series over the limit is not");

    // A known series still counts against the rate limit and the out-of-order window.
    let o = write(&engine, &a, &[(b"k2", &ok, s(T0 - 2 * 3_600_000, 1.0))]);
    assert_eq!(o.rejected.get(&RejectReason::TooOld), Some(&1));
}
