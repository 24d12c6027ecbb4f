//! The cold layout: a metrics partition older than `cold_after` is rewritten by compaction
//! in the dense layout (zstd 19, 65,536-row `value` pages), reads the same before and
//! after, is counted in the disk usage, keeps its layout through a delete and a late write,
//! and follows each tenant's own `cold_after`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::serialized_reader::ReadOptionsBuilder;
use strata_engine::{
    Engine, EngineConfig, Limits, ManualClock, MatchOp, Matcher, Sample, SeriesSamples, TenantId,
};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;

fn limits() -> Limits {
    Limits {
        ingest_rate: 1e9,
        ingest_burst: 1e9,
        ..Limits::default()
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        limits: limits(),
        ..EngineConfig::default()
    }
}

/// 40 series with a sample every second of hour 0 (144,000 rows: several 8,192-row pages
/// and more than one 65,536-row one), values a slowly rising counter with jitter.
fn hour_of_samples() -> Vec<SeriesSamples> {
    (0..40)
        .map(|s| SeriesSamples {
            labels: vec![
                ("__name__".into(), "req_total".into()),
                ("pod".into(), format!("pod-{s:02}")),
            ],
            samples: (0..3600)
                .map(|k| Sample {
                    ts: DAY + k * 1000,
                    value: (k * (s + 1) + (k * 7919 + s * 104_729) % 13) as f64,
                })
                .collect(),
        })
        .collect()
}

fn partition_dir(root: &Path, tenant: &str) -> PathBuf {
    root.join(format!("metrics/tenant={tenant}/date=2025-11-21/hour=00"))
}

/// The partition's file names, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The one samples file of the partition.
fn samples_file(dir: &Path) -> PathBuf {
    let names: Vec<String> = files(dir)
        .into_iter()
        .filter(|n| n.starts_with("samples-"))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    dir.join(&names[0])
}

/// Rows per page of each column (`series_id`, `ts`, `value`) of a samples file, and its
/// codec, from its page index (a file does not record the zstd level).
fn page_rows(path: &Path) -> (Vec<Vec<i64>>, String) {
    let file = std::fs::File::open(path).unwrap();
    let opts = ReadOptionsBuilder::new().with_page_index().build();
    let reader = SerializedFileReader::new_with_options(file, opts).unwrap();
    let meta = reader.metadata();
    let rg = meta.row_group(0);
    let codec = format!("{:?}", rg.column(2).compression());
    let oi = &meta.offset_index().unwrap()[0];
    let rows = rg.num_rows();
    let per_column = (0..3)
        .map(|c| {
            let locs = oi[c].page_locations();
            (0..locs.len())
                .map(|i| {
                    let next = locs.get(i + 1).map_or(rows, |l| l.first_row_index);
                    next - locs[i].first_row_index
                })
                .collect()
        })
        .collect();
    (per_column, codec)
}

fn bytes_of(dir: &Path) -> u64 {
    files(dir)
        .iter()
        .filter(|n| n.ends_with(".parquet"))
        .map(|n| std::fs::metadata(dir.join(n)).unwrap().len())
        .sum()
}

fn metrics_disk(engine: &Engine, tenant: &str) -> (u64, u64) {
    engine
        .telemetry()
        .disk
        .iter()
        .find(|((id, signal), _)| id.as_str() == tenant && *signal == "metrics")
        .map(|(_, d)| (d.bytes, d.cold_bytes))
        .unwrap_or_default()
}

#[test]
fn a_partition_older_than_cold_after_is_rewritten_dense_and_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + HOUR + 10 * MIN));
    let engine = Engine::open_with_clock(dir.path(), config(), clock.clone()).unwrap();
    let t = TenantId::new("acme").unwrap();
    let part = partition_dir(dir.path(), "acme");
    engine.write(&t, &hour_of_samples()).unwrap();
    engine.flush().unwrap();
    let before = common::dump(&engine, &t);
    assert_eq!(before.values().map(Vec::len).sum::<usize>(), 144_000);

    // Closed: compacted in the young layout.
    clock.set(DAY + 2 * HOUR);
    let stats = engine.compact().unwrap();
    assert_eq!((stats.partitions, stats.cold_partitions), (1, 0));
    let young = samples_file(&part);
    assert!(young.to_string_lossy().ends_with("-c.parquet"), "{young:?}");
    let (pages, codec) = page_rows(&young);
    assert!(pages.iter().flatten().all(|&n| n <= 8192), "{pages:?}");
    assert!(codec.starts_with("ZSTD"), "{codec}");
    let young_bytes = bytes_of(&part);
    assert_eq!(metrics_disk(&engine, "acme"), (young_bytes, 0));

    // A millisecond before the partition's end is 24 h ago: nothing to do.
    clock.set(DAY + HOUR + 24 * HOUR - 1);
    assert_eq!(engine.compaction_backlog().partitions, 0);
    assert_eq!(engine.compact().unwrap().partitions, 0);

    // Then cold: one rewrite, in the dense layout, the same reads.
    clock.set(DAY + HOUR + 24 * HOUR);
    assert_eq!(engine.compaction_backlog().partitions, 1);
    let stats = engine.compact().unwrap();
    assert_eq!((stats.partitions, stats.cold_partitions), (1, 1));
    assert_eq!((stats.rows_in, stats.rows_out), (144_000, 144_000));
    let cold = samples_file(&part);
    assert!(
        cold.to_string_lossy().ends_with("-cold.parquet"),
        "{cold:?}"
    );
    let names = files(&part);
    assert!(
        names
            .iter()
            .all(|n| n.contains("-cold.") || n == "manifest.json"),
        "only the cold set is left: {names:?}"
    );
    let (pages, codec) = page_rows(&cold);
    assert!(codec.starts_with("ZSTD"), "{codec}");
    assert!(
        pages[0].iter().all(|&n| n <= 8192),
        "series_id pages stay small: {:?}",
        pages[0]
    );
    assert!(
        pages[2].iter().any(|&n| n > 8192) && pages[2].len() < pages[0].len(),
        "value pages are larger: {:?}",
        pages[2]
    );
    let cold_bytes = bytes_of(&part);
    assert!(
        cold_bytes < young_bytes,
        "{cold_bytes} < {young_bytes} bytes"
    );
    assert_eq!(metrics_disk(&engine, "acme"), (cold_bytes, cold_bytes));
    assert_eq!(common::dump(&engine, &t), before);
    // One series, a narrow range: read through the page index of the cold file.
    let one = engine
        .select(
            &t,
            &[Matcher::new("pod", MatchOp::Equal, "pod-07").unwrap()],
            DAY + 30 * MIN,
            DAY + 31 * MIN,
        )
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(
        one[0].samples.len(),
        61,
        "{:?}",
        &one[0].samples[..3.min(one[0].samples.len())]
    );
    assert_eq!(engine.compaction_backlog().partitions, 0);
    assert_eq!(
        engine.compact().unwrap().partitions,
        0,
        "nothing left to do"
    );

    engine.close().unwrap();
    let engine = Engine::open_with_clock(dir.path(), config(), clock.clone()).unwrap();
    assert_eq!(common::dump(&engine, &t), before);
    assert_eq!(metrics_disk(&engine, "acme"), (cold_bytes, cold_bytes));
    assert_eq!(engine.compact().unwrap().partitions, 0);
}

#[test]
fn a_delete_and_a_late_write_keep_a_cold_partition_cold() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + HOUR + 10 * MIN));
    let engine = Engine::open_with_clock(dir.path(), config(), clock.clone()).unwrap();
    let t = TenantId::new("acme").unwrap();
    let part = partition_dir(dir.path(), "acme");
    engine.write(&t, &hour_of_samples()).unwrap();
    engine.flush().unwrap();
    // Already older than cold_after when first compacted: straight to the cold layout.
    clock.set(DAY + 2 * HOUR + 24 * HOUR);
    let stats = engine.compact().unwrap();
    assert_eq!((stats.partitions, stats.cold_partitions), (1, 1));
    let mut expected = common::dump(&engine, &t);

    let deleted = engine
        .delete_series(
            &t,
            &[Matcher::new("pod", MatchOp::Equal, "pod-03").unwrap()],
            i64::MIN,
            i64::MAX,
        )
        .unwrap();
    assert_eq!(deleted.rows_deleted, 3600);
    expected.remove("req_total{pod=\"pod-03\"}");
    assert_eq!(common::dump(&engine, &t), expected);
    let rewritten = samples_file(&part);
    let name = rewritten
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.contains("-d") && name.ends_with("-cold.parquet"),
        "{name}"
    );
    assert_eq!(engine.compact().unwrap().partitions, 0, "no rewrite alone");

    // A late sample of a new series for the cold hour: its set merges into a cold set.
    let late = SeriesSamples {
        labels: vec![
            ("__name__".into(), "req_total".into()),
            ("pod".into(), "late".into()),
        ],
        samples: vec![Sample {
            ts: DAY + 5 * MIN,
            value: 1.0,
        }],
    };
    assert_eq!(engine.write(&t, &[late]).unwrap().accepted, 1);
    engine.flush().unwrap();
    let stats = engine.compact().unwrap();
    assert_eq!((stats.file_sets_in, stats.cold_partitions), (2, 1));
    expected.insert(
        "req_total{pod=\"late\"}".into(),
        vec![(DAY + 5 * MIN, 1f64.to_bits())],
    );
    let names = files(&part);
    assert!(
        names
            .iter()
            .all(|n| n.contains("-cold.") || n == "manifest.json"),
        "{names:?}"
    );
    assert_eq!(common::dump(&engine, &t), expected);
}

#[test]
fn each_tenant_turns_cold_after_its_own_age() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + HOUR + 10 * MIN));
    let mut config = config();
    config.tenant_limits.insert(
        "slow".into(),
        Limits {
            cold_after: Duration::from_secs(48 * 3600),
            ..limits()
        },
    );
    let engine = Engine::open_with_clock(dir.path(), config, clock.clone()).unwrap();
    for tenant in ["acme", "slow"] {
        let t = TenantId::new(tenant).unwrap();
        engine.write(&t, &hour_of_samples()[..4]).unwrap();
    }
    engine.flush().unwrap();
    let layout = |tenant: &str| {
        let f = samples_file(&partition_dir(dir.path(), tenant));
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with("-cold.parquet") {
            "cold"
        } else if name.ends_with("-c.parquet") {
            "compacted"
        } else {
            "flush"
        }
    };
    clock.set(DAY + 30 * HOUR);
    let stats = engine.compact().unwrap();
    assert_eq!((stats.partitions, stats.cold_partitions), (2, 1));
    assert_eq!((layout("acme"), layout("slow")), ("cold", "compacted"));
    assert_eq!(engine.compact().unwrap().partitions, 0);
    clock.set(DAY + HOUR + 48 * HOUR);
    let stats = engine.compact().unwrap();
    assert_eq!((stats.partitions, stats.cold_partitions), (1, 1));
    assert_eq!((layout("acme"), layout("slow")), ("cold", "cold"));
}
