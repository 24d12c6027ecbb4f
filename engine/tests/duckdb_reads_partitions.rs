//! Flushed partitions are plain Parquet: DuckDB (the real one, from PyPI, installed by
//! `.ci/test.sh`) reads a partition's samples and series files and returns the same rows
//! the engine does, NaN and infinities included.

mod common;

use std::process::Command;

use strata_engine::{Engine, Sample, SeriesSamples, TenantId};

/// 2025-11-21T13:00:00Z
const T0: i64 = 1_763_730_000_000;

const SCRIPT: &str = r#"
import duckdb, json, math, struct, sys
part = sys.argv[1]
con = duckdb.connect()
rows = con.execute(f"""
    SELECT s.metric, map_extract(s.labels, 'host')[1] AS host,
           epoch_ms(x.ts) AS ts, x.value
    FROM read_parquet('{part}/samples-*.parquet') x
    JOIN read_parquet('{part}/series-*.parquet') s USING (series_id)
    ORDER BY host, ts
""").fetchall()
enc = lambda v: 'nan' if math.isnan(v) else str(struct.unpack('<Q', struct.pack('<d', v))[0])
print(json.dumps([[m, h, t, enc(v)] for m, h, t, v in rows]))
"#;

/// Values compared by IEEE bits; NaN as "nan" (its payload is not SQL-visible).
fn enc(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else {
        v.to_bits().to_string()
    }
}

#[test]
fn duckdb_reads_a_flushed_partition_and_gets_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    let t = TenantId::new("acme").unwrap();
    let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.1, -2.5e300];
    for (h, host) in ["a", "b"].iter().enumerate() {
        let samples = (0..60)
            .map(|i| Sample {
                ts: T0 + i * 60_000,
                value: if i < 5 {
                    specials[i as usize]
                } else {
                    (i * 10 + h as i64) as f64 / 3.0
                },
            })
            .collect();
        let s = SeriesSamples {
            labels: vec![
                ("__name__".into(), "cpu".into()),
                ("host".into(), (*host).into()),
            ],
            samples,
        };
        assert_eq!(engine.write(&t, &[s]).unwrap().accepted, 60);
    }
    engine.flush().unwrap();
    let mut want = Vec::new();
    for s in engine.select(&t, &[], T0, T0 + 3_600_000).unwrap() {
        for x in &s.samples {
            want.push((
                s.labels.metric_name().to_owned(),
                s.labels.get("host").unwrap().to_owned(),
                x.ts,
                enc(x.value),
            ));
        }
    }
    assert_eq!(want.len(), 120);

    let part = dir
        .path()
        .join("metrics/tenant=acme/date=2025-11-21/hour=13");
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&part)
        .output()
        .expect("python3 runs (installed on every machine of this kind)");
    assert!(
        out.status.success(),
        "duckdb failed (is it installed? .ci/test.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<(String, String, i64, String)> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got, want);
}
