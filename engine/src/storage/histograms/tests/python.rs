//! Histograms and bucket files are plain Parquet: pyarrow and DuckDB (the real ones, from
//! PyPI) read their schemas, rows and spans as written (a row repeating the lists of the
//! row before it has them null, and both fill them in as `docs/formats/partitions.md`
//! shows), and a SQL join of the two on (series_id, ts) gives each sample's bucket counts.
//!
//! They run in the `python3` found on PATH, as in `engine/tests/duckdb_reads_partitions.rs`:
//! `.ci/test.sh` installs both in the virtualenv `$CARGO_TARGET_DIR/venv` and puts it first
//! on PATH; to run this test alone, activate it (`. "$CARGO_TARGET_DIR/venv/bin/activate"`).
//! Without them the test fails and says so.

use std::process::Command;

use super::*;

const SCRIPT: &str = r#"
import duckdb, json, struct, sys
import pyarrow.parquet as pq
h, b = sys.argv[1], sys.argv[2]
t, tb = pq.read_table(h), pq.read_table(b)
bits = lambda v: struct.unpack('<Q', struct.pack('<d', v))[0]
fb = lambda l: None if l is None else [bits(v) for v in l]
rows, prev, repeats = t.to_pylist(), {}, 0
for r in rows:
    if r["positive_spans"] is None:
        repeats += 1
        r["positive_spans"], r["negative_spans"], r["custom_values"] = prev[r["series_id"]]
    prev[r["series_id"]] = (r["positive_spans"], r["negative_spans"], r["custom_values"])
first = [r for r in rows if r["series_id"] == 10][:5]
con = duckdb.connect()
filled = con.execute(f"""
    WITH g AS (SELECT *, count(positive_spans) OVER (PARTITION BY series_id ORDER BY ts) AS layout
               FROM read_parquet('{h}'))
    SELECT first_value(positive_spans) OVER w, first_value(custom_values) OVER w
    FROM g WHERE series_id = 10
    WINDOW w AS (PARTITION BY series_id, layout ORDER BY ts)
    ORDER BY ts LIMIT 5
""").fetchall()
joined = con.execute(f"""
    SELECT epoch_ms(h.ts), b.negative, b.bucket, b.count
    FROM read_parquet('{h}') h JOIN read_parquet('{b}') b USING (series_id, ts)
    WHERE series_id = 20 AND h.ts <= make_timestamp(31000 * 1000)
    ORDER BY h.ts, b.negative, b.bucket
""").fetchall()
n, floats = con.execute(f"SELECT count(*), count(count_float) FROM read_parquet('{h}')").fetchone()
bn, bint, bfloat = con.execute(
    f"SELECT count(*), count(count), count(count_float) FROM read_parquet('{b}')").fetchone()
print(json.dumps({
    "schema": [[f.name, str(f.type), f.nullable] for f in t.schema],
    "bucket_schema": [[f.name, str(f.type), f.nullable] for f in tb.schema],
    "rows": [t.num_rows, tb.num_rows],
    "pyarrow_first": [[r["schema"], r["reset_hint"], bits(r["sum"]), r["count_int"],
                       fb(r["custom_values"]),
                       [[s["offset"], s["length"]] for s in r["positive_spans"]]] for r in first],
    "duckdb_first": [[fb(c), [[s["offset"], s["length"]] for s in p]] for p, c in filled],
    "repeats": repeats,
    "duckdb_join": [list(r) for r in joined],
    "duckdb_counts": [n, floats, bn, bint, bfloat],
}))
"#;

#[test]
fn pyarrow_and_duckdb_read_both_files_and_join_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Input {
        histograms: dir.path().join(file_name(42, WrittenBy::Flush)),
        buckets: Some(dir.path().join(buckets_file_name(42, WrittenBy::Flush))),
    };
    let runs = runs(3, 20);
    write(&mut files, WrittenBy::Flush, &runs);
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&files.histograms)
        .arg(files.buckets.as_ref().expect("buckets"))
        .output()
        .expect("python3 on PATH runs");
    assert!(
        out.status.success(),
        "DuckDB or pyarrow in the python3 on PATH failed (.ci/test.sh installs them in \
         $CARGO_TARGET_DIR/venv and puts that first on PATH: activate it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");

    let list = |t: &str| format!("list<item: {t} not null>");
    let spans = list("struct<offset: int32 not null, length: uint32 not null>");
    let want_schema = serde_json::json!([
        ["series_id", "uint64", false],
        ["ts", "timestamp[ms, tz=UTC]", false],
        ["schema", "int8", false],
        ["reset_hint", "uint8", false],
        ["zero_threshold", "double", false],
        ["sum", "double", false],
        ["count_int", "uint64", true],
        ["count_float", "double", true],
        ["zero_count_int", "uint64", true],
        ["zero_count_float", "double", true],
        ["positive_spans", spans, true],
        ["negative_spans", spans, true],
        ["custom_values", list("double"), true],
    ]);
    assert_eq!(got["schema"], want_schema);
    assert_eq!(
        got["bucket_schema"],
        serde_json::json!([
            ["series_id", "uint64", false],
            ["ts", "timestamp[ms, tz=UTC]", false],
            ["negative", "bool", false],
            ["bucket", "int32", false],
            ["count", "uint64", true],
            ["count_float", "double", true],
        ])
    );
    let samples: Vec<&HistogramSample> = runs.iter().flat_map(|(_, s)| s).collect();
    let buckets: u64 = samples.iter().map(|s| bucket_count(&s.h)).sum();
    let float_buckets: u64 = samples
        .iter()
        .filter(|s| s.h.counts.is_float())
        .map(|s| bucket_count(&s.h))
        .sum();
    let floats = samples.iter().filter(|s| s.h.counts.is_float()).count();
    assert_eq!(got["rows"], serde_json::json!([60, buckets]));
    assert_eq!(
        got["duckdb_counts"],
        serde_json::json!([60, floats, buckets, buckets - float_buckets, float_buckets])
    );

    // Series 10 (odd: its first five rows are `odd_ones()`), as written.
    let (_, first) = &runs[0];
    let want_py: Vec<_> = first[..5]
        .iter()
        .map(|s| {
            let h = &s.h;
            let count_int = match &h.counts {
                Counts::Int { count, .. } => serde_json::json!(count),
                Counts::Float { .. } => serde_json::Value::Null,
            };
            let custom = (h.schema == -53).then(|| {
                h.custom_values
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            });
            let sp: Vec<[i64; 2]> = h
                .positive_spans
                .iter()
                .map(|s| [i64::from(s.offset), i64::from(s.length)])
                .collect();
            serde_json::json!([
                h.schema,
                h.reset_hint as u8,
                h.sum.to_bits(),
                count_int,
                custom,
                sp
            ])
        })
        .collect();
    assert_eq!(got["pyarrow_first"], serde_json::json!(want_py));
    let want_duck: Vec<_> = want_py
        .iter()
        .map(|r| serde_json::json!([r[4], r[5]]))
        .collect();
    assert_eq!(got["duckdb_first"], serde_json::json!(want_duck));
    // Rows whose lists are those of the row before in their series are stored as repeats.
    let repeats: usize = runs
        .iter()
        .map(|(_, s)| {
            s.windows(2)
                .filter(|w| {
                    let lists = |h: &Histogram| {
                        let bits: Vec<u64> = h.custom_values.iter().map(|v| v.to_bits()).collect();
                        (h.positive_spans.clone(), h.negative_spans.clone(), bits)
                    };
                    lists(&w[0].h) == lists(&w[1].h)
                })
                .count()
        })
        .sum();
    assert!(repeats > 40, "{repeats}");
    assert_eq!(got["repeats"], serde_json::json!(repeats));

    // Series 20's samples at 1,000, 16,000 and 31,000 are int_h(2), int_h(3), int_h(4):
    // spans (-2, 3), (4, 2) cover positive buckets -2, -1, 0, 5, 6 (the second span starts
    // 4 after index 0's successor), (1, 1) negative bucket 1; deltas [k+1, 2, -1, 0, 3]
    // are the absolute counts [k+1, k+3, k+2, k+2, k+5], the negative one k % 4.
    let mut want_join = Vec::new();
    for (ts, k) in [(1_000, 2), (16_000, 3), (31_000, 4)] {
        for (b, c) in [-2, -1, 0, 5, 6]
            .into_iter()
            .zip([k + 1, k + 3, k + 2, k + 2, k + 5])
        {
            want_join.push(serde_json::json!([ts, false, b, c]));
        }
        want_join.push(serde_json::json!([ts, true, 1, k % 4]));
    }
    assert_eq!(got["duckdb_join"], serde_json::json!(want_join));
}
