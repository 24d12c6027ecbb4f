//! The engine's accounting of its series structures (`TenantStats::memory`): exact for the
//! keys, written and restored alike, and a flush leaves no table behind.

mod common;

use strata_engine::{Engine, Sample, SeriesSamples, TenantId};

fn batch(n: usize, ts: i64) -> Vec<SeriesSamples> {
    (0..n)
        .map(|i| SeriesSamples {
            labels: vec![
                ("__name__".into(), "http_requests_total".into()),
                ("instance".into(), format!("host-{i}:9100")),
                ("job".into(), "api".into()),
            ],
            samples: vec![Sample { ts, value: 1.0 }],
        })
        .collect()
}

/// Canonical bytes (u32 length, bytes, per name and value) and an `Arc`'s two counts.
fn key_bytes(batch: &[SeriesSamples]) -> u64 {
    batch
        .iter()
        .map(|s| {
            16 + s
                .labels
                .iter()
                .map(|(n, v)| 8 + n.len() + v.len())
                .sum::<usize>()
        })
        .sum::<usize>() as u64
}

#[test]
fn series_memory_counts_keys_once_and_survives_flush_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let t = TenantId::new("t").unwrap();
    let series = batch(1000, 1_000);
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    engine.write(&t, &series).unwrap();
    let m = engine.tenant_stats(&t).memory;
    assert_eq!(m.series_keys, key_bytes(&series));
    assert!(m.series_table >= 1000 * 64, "{m:?}");
    assert_eq!(m.raw_keys, 0, "only remote-write fills the raw key cache");

    // The same series again: no new keys.
    engine.write(&t, &batch(1000, 2_000)).unwrap();
    assert_eq!(engine.tenant_stats(&t).memory.series_keys, m.series_keys);

    engine.flush().unwrap();
    let flushed = engine.tenant_stats(&t).memory;
    assert_eq!(flushed.flushing_table, 0, "the flush's table is freed");
    assert_eq!(flushed.series_keys, m.series_keys);
    engine.close().unwrap();

    // Reopened: the series come back from the partitions' series tables.
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    assert_eq!(engine.tenant_stats(&t).memory.series_keys, m.series_keys);
    assert_eq!(engine.tenant_stats(&t).series, 1000);
}
