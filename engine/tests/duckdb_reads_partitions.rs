//! Flushed, compacted and cold partitions are plain Parquet: DuckDB (the real one, from
//! PyPI) reads a partition's samples and series files and returns the same rows the engine
//! does, NaN and infinities included (and pyarrow, for a compacted and a cold one); so are
//! a downsampled tier's files; and a spans and a logs file, nested columns (attribute
//! maps, events) included.
//!
//! DuckDB runs in the `python3` found on PATH: `.ci/test.sh` installs it in the virtualenv
//! `$CARGO_TARGET_DIR/venv` and puts that first on PATH; to run these tests alone, activate
//! it (`. "$CARGO_TARGET_DIR/venv/bin/activate"`). Without DuckDB they fail and say so.

mod common;

use std::process::Command;

use std::sync::Arc;

use strata_engine::{
    AnyValue, Engine, EngineConfig, LogRecord, ManualClock, Sample, SeriesSamples, SpanEvent,
    SpanRecord, TenantId, logs_from_batch, spans_from_batch,
};

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
        .expect("python3 on PATH runs");
    assert!(
        out.status.success(),
        "DuckDB in the python3 on PATH failed (.ci/test.sh installs it in \
         $CARGO_TARGET_DIR/venv and puts that first on PATH: activate it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<(String, String, i64, String)> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got, want);
}

const COMPACTED_SCRIPT: &str = r#"
import duckdb, json, math, struct, sys
import pyarrow.parquet as pq
part = sys.argv[1]
enc = lambda v: 'nan' if math.isnan(v) else str(struct.unpack('<Q', struct.pack('<d', v))[0])
con = duckdb.connect()
rows = con.execute(f"""
    SELECT map_extract(s.labels, 'host')[1] AS host, epoch_ms(x.ts) AS ts, x.value
    FROM read_parquet('{part}/samples-*.parquet') x
    JOIN read_parquet('{part}/series-*.parquet') s USING (series_id)
    ORDER BY host, ts
""").fetchall()
import glob
path = glob.glob(f"{part}/samples-*.parquet")[0]
t = pq.read_table(path)
meta = pq.ParquetFile(path).metadata
value_pages = [meta.row_group(i).column(2).compression for i in range(meta.num_row_groups)]
print(json.dumps({
    "duckdb": [[h, ts, enc(v)] for h, ts, v in rows],
    "pyarrow_rows": t.num_rows,
    "pyarrow_value_bits": sorted(enc(v) for v in t.column("value").to_pylist()),
    "compression": sorted(set(value_pages)),
}))
"#;

/// A compacted partition's samples file (a higher zstd level than a flush's:
/// `docs/formats/partitions.md`) reads the same in DuckDB and pyarrow as through the
/// engine. 50 series of 1,500 samples: 75,000 rows, several pages and two merged flushes.
#[test]
fn duckdb_and_pyarrow_read_a_compacted_partition_and_get_the_same_rows() {
    read_compacted(common::config(), "-c.parquet");
}

/// The same in the cold layout (zstd 19, 65,536-row `value` pages: two of them here).
#[test]
fn duckdb_and_pyarrow_read_a_cold_partition_and_get_the_same_rows() {
    let mut config = common::config();
    config.limits.cold_after = std::time::Duration::ZERO;
    read_compacted(config, "-cold.parquet");
}

/// Writes two flushes of 50 series into one partition, compacts it with `config` (its
/// samples file then ends with `suffix`), and compares what DuckDB and pyarrow read with
/// what the engine reads.
fn read_compacted(config: EngineConfig, suffix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), config).unwrap();
    let t = TenantId::new("acme").unwrap();
    let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 2.5e-300];
    // Two flushes, each half of every series: two sets for compaction to merge.
    for half in 0..2i64 {
        let batch: Vec<SeriesSamples> = (0..50i64)
            .map(|h| SeriesSamples {
                labels: vec![
                    ("__name__".into(), "cpu".into()),
                    ("host".into(), format!("h{h:02}")),
                ],
                samples: (half * 750..(half + 1) * 750)
                    .map(|i| Sample {
                        ts: T0 + i * 2_000,
                        value: if i < 5 {
                            specials[i as usize]
                        } else {
                            (i * 7 + h) as f64 / 8.0
                        },
                    })
                    .collect(),
            })
            .collect();
        assert_eq!(engine.write(&t, &batch).unwrap().accepted, 37_500);
        engine.flush().unwrap();
    }
    let stats = engine.compact_all().unwrap();
    assert_eq!((stats.partitions, stats.rows_out), (1, 75_000));
    let mut want = Vec::new();
    for s in engine.select(&t, &[], T0, T0 + 3_600_000).unwrap() {
        for x in &s.samples {
            want.push((s.labels.get("host").unwrap().to_owned(), x.ts, enc(x.value)));
        }
    }
    want.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    assert_eq!(want.len(), 75_000);

    let part = dir
        .path()
        .join("metrics/tenant=acme/date=2025-11-21/hour=13");
    let samples: Vec<_> = std::fs::read_dir(&part)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("samples-"))
        .collect();
    assert!(
        samples.len() == 1 && samples[0].ends_with(suffix),
        "one samples file ending {suffix}: {samples:?}"
    );
    let out = Command::new("python3")
        .args(["-c", COMPACTED_SCRIPT])
        .arg(&part)
        .output()
        .expect("python3 on PATH runs");
    assert!(
        out.status.success(),
        "DuckDB or pyarrow in the python3 on PATH failed (.ci/test.sh installs them in \
         $CARGO_TARGET_DIR/venv and puts that first on PATH: activate it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let duck: Vec<(String, i64, String)> = serde_json::from_value(got["duckdb"].clone()).unwrap();
    assert_eq!(duck, want, "DuckDB's rows");
    assert_eq!(got["pyarrow_rows"], 75_000);
    let mut bits: Vec<String> = want.iter().map(|w| w.2.clone()).collect();
    bits.sort();
    let pa: Vec<String> = serde_json::from_value(got["pyarrow_value_bits"].clone()).unwrap();
    assert_eq!(pa, bits, "pyarrow's values");
    assert_eq!(got["compression"], serde_json::json!(["ZSTD"]));
}

const TIER_SCRIPT: &str = r#"
import duckdb, json, sys
import pyarrow.parquet as pq
part = sys.argv[1]
con = duckdb.connect()
rows = con.execute(f"""
    SELECT map_extract(s.labels, 'host')[1] AS host, epoch_ms(x.ts), x.value,
           epoch_ms(x.first_ts), coalesce(x.first, x.value),
           coalesce(x.min, least(coalesce(x.first, x.value), x.value)),
           coalesce(x.max, greatest(coalesce(x.first, x.value), x.value)),
           coalesce(x.sum, x.value * x.count), x.count, x.correction
    FROM read_parquet('{part}/samples-*.parquet') x
    JOIN read_parquet('{part}/series-*.parquet') s USING (series_id)
    ORDER BY host, x.ts
""").fetchall()
import glob
t = pq.read_table(glob.glob(f"{part}/samples-*.parquet")[0])
print(json.dumps({"duckdb": rows, "pyarrow_rows": t.num_rows,
                  "pyarrow_columns": t.column_names}))
"#;

/// A downsampled tier's day (`docs/formats/partitions.md`, "Tiers") reads the same in
/// DuckDB and pyarrow as the engine's intervals.
#[test]
fn duckdb_and_pyarrow_read_a_tier_partition_and_get_the_engines_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let day = T0 - 13 * 3_600_000;
    let clock = Arc::new(ManualClock::new(day + 86_400_000));
    let mut config = common::config();
    config.limits.downsampling = vec![strata_engine::Downsampling {
        matchers: Vec::new(),
        after: std::time::Duration::ZERO,
        resolution: std::time::Duration::from_secs(3_600),
    }];
    let engine = Engine::open_with_clock(dir.path(), config, clock).unwrap();
    let t = TenantId::new("acme").unwrap();
    let batch: Vec<SeriesSamples> = (0..5i64)
        .map(|h| SeriesSamples {
            labels: vec![
                ("__name__".into(), "cpu".into()),
                ("host".into(), format!("h{h}")),
            ],
            samples: (1..1440)
                .map(|i| Sample {
                    ts: day + i * 60_000,
                    value: ((i * 7 + h) % 50) as f64 / 4.0,
                })
                .collect(),
        })
        .collect();
    engine.write(&t, &batch).unwrap();
    engine.flush().unwrap();
    assert_eq!(engine.downsample().unwrap().days, 1);
    let mut want = Vec::new();
    for s in engine.select(&t, &[], day, day + 86_400_000).unwrap() {
        let host = s.labels.get("host").unwrap().to_owned();
        for i in &s.intervals {
            want.push(serde_json::json!([
                host,
                i.last_ts,
                i.last,
                i.first_ts,
                i.first,
                i.min,
                i.max,
                i.sum,
                i.count,
                i.correction
            ]));
        }
    }
    assert_eq!(want.len(), 5 * 24);
    let part = dir.path().join("metrics_1h/tenant=acme/date=2025-11-21");
    let out = Command::new("python3")
        .args(["-c", TIER_SCRIPT])
        .arg(&part)
        .output()
        .expect("python3 on PATH runs");
    assert!(
        out.status.success(),
        "DuckDB or pyarrow in the python3 on PATH failed (.ci/test.sh installs them in \
         $CARGO_TARGET_DIR/venv and puts that first on PATH: activate it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        got["duckdb"],
        serde_json::Value::Array(want),
        "DuckDB's rows"
    );
    assert_eq!(got["pyarrow_rows"], 5 * 24);
    assert_eq!(
        got["pyarrow_columns"],
        serde_json::json!([
            "series_id",
            "ts",
            "value",
            "first_ts",
            "first",
            "min",
            "max",
            "sum",
            "count",
            "correction"
        ])
    );
}

const SIGNALS_SCRIPT: &str = r#"
import duckdb, json, sys
traces, logs = sys.argv[1], sys.argv[2]
con = duckdb.connect()
spans = con.execute(f"""
    SELECT hex(trace_id), hex(span_id), service_name, name, epoch_ns(start_time),
           duration_ns, http_route, http_response_status_code,
           map_extract(attributes, 'other')[1], map_extract(attribute_types, 'other')[1],
           len(map_extract(attributes, 'http.route')),
           len(events), events[1].name
    FROM read_parquet('{traces}/spans-*.parquet')
    ORDER BY service_name, start_time, span_id
""").fetchall()
records = con.execute(f"""
    SELECT epoch_ns(time), severity_number, body, body_type, service_name, hex(trace_id)
    FROM read_parquet('{logs}/logs-*.parquet')
    ORDER BY service_name, time
""").fetchall()
print(json.dumps({"spans": spans, "logs": records}))
"#;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[test]
fn duckdb_reads_a_spans_and_a_logs_file_and_gets_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0 + 1_800_000));
    let engine = Engine::open_with_clock(dir.path(), EngineConfig::default(), clock).unwrap();
    let t = TenantId::new("acme").unwrap();
    let ns = |ms: i64| T0 * 1_000_000 + ms * 1_000_000 + 789;
    let spans: Vec<SpanRecord> = (1..=6u8)
        .map(|i| SpanRecord {
            trace_id: [i; 16],
            span_id: [i; 8],
            service_name: ["api", "db"][usize::from(i % 2)].into(),
            name: format!("op{i}"),
            start_ns: ns(i64::from(i) * 1000),
            end_ns: ns(i64::from(i) * 1000) + 2_500_000,
            attributes: if i % 3 == 0 {
                vec![("other".into(), AnyValue::Bool(true))]
            } else {
                vec![
                    ("http.route".into(), AnyValue::String(format!("/r/{i}"))),
                    (
                        "http.response.status_code".into(),
                        AnyValue::Int(200 + i64::from(i)),
                    ),
                ]
            },
            events: (0..i % 2)
                .map(|_| SpanEvent {
                    time_ns: ns(5),
                    name: "ev".into(),
                    ..SpanEvent::default()
                })
                .collect(),
            ..SpanRecord::default()
        })
        .collect();
    assert_eq!(engine.write_spans(&t, &spans).unwrap().accepted, 6);
    let logs: Vec<LogRecord> = (1..=4u8)
        .map(|i| LogRecord {
            time_ns: ns(i64::from(i)),
            severity_number: i32::from(i) * 4,
            body: Some(if i == 2 {
                AnyValue::Int(42)
            } else {
                AnyValue::String(format!("line {i}"))
            }),
            service_name: ["web", "api"][usize::from(i % 2)].into(),
            trace_id: (i != 3).then_some([i; 16]),
            ..LogRecord::default()
        })
        .collect();
    assert_eq!(engine.write_logs(&t, &logs).unwrap().accepted, 4);
    engine.flush().unwrap();

    // What the engine reads back from the same files, in the query's order.
    let mut stored: Vec<SpanRecord> = Vec::new();
    for b in engine.spans_snapshot(&t, 0, i64::MAX).unwrap().memory {
        stored.extend(spans_from_batch(&b).unwrap());
    }
    assert!(stored.is_empty(), "flushed: nothing left in memory");
    for i in 1..=6u8 {
        stored.extend(engine.find_trace(&t, [i; 16], 0, i64::MAX).unwrap());
    }
    stored.sort_by(|a, b| {
        (&a.service_name, a.start_ns, a.span_id).cmp(&(&b.service_name, b.start_ns, b.span_id))
    });
    let attr = |s: &SpanRecord, k: &str| {
        s.attributes
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let want_spans: Vec<serde_json::Value> = stored
        .iter()
        .map(|s| {
            serde_json::json!([
                hex(&s.trace_id),
                hex(&s.span_id),
                s.service_name,
                s.name,
                s.start_ns,
                s.end_ns - s.start_ns,
                attr(s, "http.route").map(|v| v.to_text()),
                match attr(s, "http.response.status_code") {
                    Some(AnyValue::Int(c)) => Some(c),
                    _ => None,
                },
                attr(s, "other").map(|v| v.to_text()),
                attr(s, "other").and_then(|v| v.type_name()),
                // A well-known attribute is in its column, not in the map.
                0,
                s.events.len(),
                s.events.first().map(|e| e.name.clone()),
            ])
        })
        .collect();
    let snap = engine.logs_snapshot(&t, 0, i64::MAX).unwrap();
    let mut stored_logs = Vec::new();
    for f in &snap.files {
        let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(f.path()).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for b in r {
            stored_logs.extend(logs_from_batch(&b.unwrap()).unwrap());
        }
    }
    stored_logs.sort_by(|a, b| (&a.service_name, a.time_ns).cmp(&(&b.service_name, b.time_ns)));
    let want_logs: Vec<serde_json::Value> = stored_logs
        .iter()
        .map(|r| {
            let body = r.body.as_ref();
            serde_json::json!([
                r.time_ns,
                r.severity_number,
                body.map(AnyValue::to_text),
                body.map(|b| b.type_name().unwrap_or("string")),
                r.service_name,
                r.trace_id.map(|id| hex(&id)),
            ])
        })
        .collect();
    assert_eq!((want_spans.len(), want_logs.len()), (6, 4));

    let part = |signal: &str| {
        dir.path()
            .join(format!("{signal}/tenant=acme/date=2025-11-21/hour=13"))
    };
    let out = Command::new("python3")
        .args(["-c", SIGNALS_SCRIPT])
        .arg(part("traces"))
        .arg(part("logs"))
        .output()
        .expect("python3 on PATH runs");
    assert!(
        out.status.success(),
        "DuckDB in the python3 on PATH failed (.ci/test.sh installs it in \
         $CARGO_TARGET_DIR/venv and puts that first on PATH: activate it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["spans"], serde_json::Value::Array(want_spans));
    assert_eq!(got["logs"], serde_json::Value::Array(want_logs));
}
