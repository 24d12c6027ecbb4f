//! Data format 2: series ids carry the metric name's hash in their top bits, so a metric's
//! rows are contiguous in a samples file and a read of one metric decodes only its pages;
//! a data directory of format 1 is refused with an error that says so.

mod common;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, StringArray, UInt64Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_engine::{Engine, Error, MatchOp, Matcher, Sample, SeriesSamples, TenantId};
use strata_wal::{Wal, WalOptions};

/// 2025-11-21T13:00:00Z
const T0: i64 = 1_763_730_000_000;
const METRICS: [&str; 4] = ["cpu", "mem", "disk", "net"];
const SERIES: usize = 200;
const POINTS: i64 = 60;

fn load(engine: &Engine, t: &TenantId) {
    let batch: Vec<SeriesSamples> = METRICS
        .iter()
        .flat_map(|m| {
            (0..SERIES).map(move |i| SeriesSamples {
                labels: vec![
                    ("__name__".into(), (*m).into()),
                    ("host".into(), format!("h{i}")),
                ],
                samples: (0..POINTS)
                    .map(|k| Sample {
                        ts: T0 + k * 15_000,
                        value: (k * i as i64) as f64,
                    })
                    .collect(),
            })
        })
        .collect();
    let out = engine.write(t, &batch).unwrap();
    assert_eq!(
        out.accepted,
        (METRICS.len() * SERIES) as u64 * POINTS as u64
    );
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let part = dir.join("metrics/tenant=acme/date=2025-11-21/hour=13");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&part)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with(prefix) && name.ends_with(".parquet")
        })
        .collect();
    out.sort();
    out
}

fn column<A: Array + Clone + 'static>(path: &Path, name: &str) -> Vec<A> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    reader
        .map(|b| {
            let b = b.unwrap();
            let c = b.column_by_name(name).unwrap();
            c.as_any().downcast_ref::<A>().unwrap().clone()
        })
        .collect()
}

#[test]
fn a_metrics_rows_are_contiguous_and_a_read_of_it_decodes_only_its_pages() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    let t = TenantId::new("acme").unwrap();
    load(&engine, &t);
    engine.flush().unwrap();

    // The samples file, in row order, mapped to metric names through the series file.
    let [samples] = &files(dir.path(), "samples-")[..] else {
        panic!("one samples file expected")
    };
    let [series] = &files(dir.path(), "series-")[..] else {
        panic!("one series file expected")
    };
    let ids = column::<UInt64Array>(series, "series_id");
    let names = column::<StringArray>(series, "metric");
    let metric: HashMap<u64, String> = ids
        .iter()
        .zip(&names)
        .flat_map(|(i, n)| (0..i.len()).map(move |k| (i.value(k), n.value(k).to_owned())))
        .collect();
    let rows: Vec<&str> = column::<UInt64Array>(samples, "series_id")
        .iter()
        .flat_map(|a| a.values().iter().copied().collect::<Vec<_>>())
        .map(|id| metric[&id].as_str())
        .collect();
    assert_eq!(rows.len(), METRICS.len() * SERIES * POINTS as usize);
    let runs = 1 + rows.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(runs, METRICS.len(), "each metric is one run of rows");

    // A read of one metric decodes its pages (8,192 rows each) and at most one more page
    // at each end, not the file.
    let total = rows.len() as u64;
    let per_metric = total / METRICS.len() as u64;
    for m in METRICS {
        let sel = Matcher::new("__name__", MatchOp::Equal, m).unwrap();
        let (got, stats) = engine
            .select_with_stats(&t, &[sel], T0, T0 + POINTS * 15_000)
            .unwrap();
        assert_eq!(got.len(), SERIES);
        assert_eq!(stats.samples, per_metric);
        assert!(
            stats.rows_decoded <= per_metric + 2 * 8_192 && stats.rows_decoded < total,
            "{m}: {} rows decoded of {total}",
            stats.rows_decoded
        );
    }
}

#[test]
fn a_format_1_partition_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    load(&engine, &TenantId::new("acme").unwrap());
    engine.close().unwrap();
    let manifest = dir
        .path()
        .join("metrics/tenant=acme/date=2025-11-21/hour=13/manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("\"version\": 2"), "{text}");
    std::fs::write(&manifest, text.replace("\"version\": 2", "\"version\": 1")).unwrap();

    let err = Engine::open(dir.path(), common::config()).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::DataFormat {
                found: 1,
                expected: 2,
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("manifest.json") && msg.contains("new data directory"),
        "{msg}"
    );
}

#[test]
fn a_format_1_wal_record_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    engine
        .write(
            &TenantId::new("t").unwrap(),
            &[SeriesSamples {
                labels: vec![("__name__".into(), "m".into())],
                samples: vec![Sample { ts: T0, value: 1.0 }],
            }],
        )
        .unwrap();
    drop(engine); // not `close`: that would flush and release the record

    // The engine's own record, re-labelled as version 1 (the old series id scheme).
    let wal = Wal::open(dir.path().join("wal"), WalOptions::default()).unwrap();
    let mut record = wal
        .reader(wal.first_lsn())
        .unwrap()
        .map(|r| r.unwrap())
        .last()
        .unwrap()
        .payload
        .to_vec();
    assert_eq!(record[0], 2, "samples records are version 2");
    record[0] = 1;
    let lsn = wal.append(record).unwrap();
    wal.close().unwrap();

    let err = Engine::open(dir.path(), common::config()).unwrap_err();
    assert!(
        matches!(&err, Error::BadRecord { lsn: l, .. } if *l == lsn),
        "{err}"
    );
    assert!(
        err.to_string().contains("data format 1") && err.to_string().contains("new data"),
        "{err}"
    );
}
