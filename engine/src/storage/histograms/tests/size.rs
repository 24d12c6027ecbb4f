//! The size probe: bytes per histogram sample of a realistic series set, written by two
//! flushes (zstd 3) and merged by compaction (zstd 12), with each column's share. Prints
//! its figures (`cargo test ... size_probe -- --nocapture`); asserts only that the merged
//! file holds every row.

use std::collections::BTreeMap;

use super::*;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `series` series of `per` scrapes 15 s apart: schema 3, 20 positive buckets in two
/// spans around a per-series index, counters growing by a bell-shaped random amount per
/// scrape, a zero bucket, and a sum of the observations' rough values.
fn realistic(series: u64, per: usize) -> Vec<(SeriesId, Vec<HistogramSample>)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..series)
        .map(|s| {
            let first = (rng.next() % 16) as i32 - 8;
            let scale = 1 + rng.next() % 20;
            let mut abs = [0u64; 20];
            let (mut zero, mut sum) = (0u64, 0.0f64);
            let samples = (0..per)
                .map(|i| {
                    for (b, a) in abs.iter_mut().enumerate() {
                        let shape = 10 - (b as i64 - 10).unsigned_abs();
                        *a += rng.next() % (1 + shape * scale);
                    }
                    zero += rng.next() % 3;
                    sum += abs.iter().sum::<u64>() as f64 * 0.013 + (rng.next() % 1000) as f64;
                    let mut prev = 0i64;
                    let deltas: Vec<i64> = abs
                        .iter()
                        .map(|&a| {
                            let d = a as i64 - prev;
                            prev = a as i64;
                            d
                        })
                        .collect();
                    let h = Histogram {
                        schema: 3,
                        zero_threshold: 1e-128,
                        sum,
                        reset_hint: ResetHint::NotReset,
                        positive_spans: spans(&[(first, 12), (2, 8)]),
                        negative_spans: Vec::new(),
                        custom_values: Vec::new(),
                        counts: Counts::Int {
                            count: abs.iter().sum::<u64>() + zero,
                            zero_count: zero,
                            positive_deltas: deltas,
                            negative_deltas: Vec::new(),
                        },
                    };
                    sample(1_763_730_000_000 + i as i64 * 15_000, h)
                })
                .collect();
            // Spread ids as metric-hash-prefixed ids are (one metric: one high prefix).
            ((7u64 << 40) | (s * 7_919 + 13), samples)
        })
        .collect()
}

/// Compressed bytes per top-level column of the file at `path`, and the file size.
fn column_bytes(path: &Path) -> (BTreeMap<String, u64>, u64) {
    let file = std::fs::File::open(path).expect("open");
    let size = file.metadata().expect("meta").len();
    let reader = SerializedFileReader::new(file).expect("reader");
    let mut out = BTreeMap::new();
    for rg in reader.metadata().row_groups() {
        for c in rg.columns() {
            let top = c.column_path().parts()[0].clone();
            *out.entry(top).or_insert(0) += c.compressed_size() as u64;
        }
    }
    (out, size)
}

fn report(what: &str, files: &[PathBuf], rows: u64) {
    let mut cols: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0;
    for f in files {
        let (c, size) = column_bytes(f);
        total += size;
        for (k, v) in c {
            *cols.entry(k).or_insert(0) += v;
        }
    }
    let data: u64 = cols.values().sum();
    println!(
        "{what}: {total} bytes, {:.3} B/histogram sample ({rows} rows; footers and page indexes {} bytes)",
        total as f64 / rows as f64,
        total - data
    );
    let mut by_size: Vec<_> = cols.into_iter().collect();
    by_size.sort_by_key(|c| std::cmp::Reverse(c.1));
    for (name, bytes) in by_size {
        println!(
            "    {name:<18} {bytes:>9} bytes {:>7.3} B/sample {:>5.1}%",
            bytes as f64 / rows as f64,
            100.0 * bytes as f64 / total as f64
        );
    }
}

#[test]
fn size_probe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let all = realistic(1_000, 120);
    let rows = 120_000u64;
    // Two flushes of half an hour each (every series in both), then compaction.
    let halves: Vec<PathBuf> = (0..2)
        .map(|half| {
            let part: Vec<_> = all
                .iter()
                .map(|(id, s)| (*id, s[half * 60..(half + 1) * 60].to_vec()))
                .collect();
            let path = dir.path().join(file_name(half as u64 + 1, false));
            write(&path, WrittenBy::Flush, &part);
            path
        })
        .collect();
    let merged = dir.path().join(file_name(2, true));
    let done = merge_files(&halves, &merged, WrittenBy::Compaction)
        .expect("merge")
        .expect("rows");
    assert_eq!(done.rows_out, rows);
    report("flush (zstd 3, two files)", &halves, rows);
    report("compaction (zstd 12)", std::slice::from_ref(&merged), rows);
}
