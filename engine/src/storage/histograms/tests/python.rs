//! A histograms file is plain Parquet: pyarrow and DuckDB (the real ones, from PyPI) read
//! its schema, row counts and bucket lists as written.
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
path = sys.argv[1]
t = pq.read_table(path)
bits = lambda v: struct.unpack('<Q', struct.pack('<d', v))[0]
fb = lambda l: None if l is None else [bits(v) for v in l]
rows = t.to_pylist()
first = [r for r in rows if r["series_id"] == 10][:5]
con = duckdb.connect()
duck = con.execute(f"""
    SELECT schema, count_int, positive_deltas, custom_values
    FROM read_parquet('{path}') WHERE series_id = 10 ORDER BY ts LIMIT 5
""").fetchall()
n, floats, ints = con.execute(f"""
    SELECT count(*), count(count_float), count(positive_deltas) FROM read_parquet('{path}')
""").fetchone()
print(json.dumps({
    "schema": [[f.name, str(f.type), f.nullable] for f in t.schema],
    "rows": t.num_rows,
    "pyarrow_first": [[r["schema"], r["reset_hint"], bits(r["sum"]), r["positive_deltas"],
                       fb(r["positive_counts"]), fb(r["custom_values"]),
                       [[s["offset"], s["length"]] for s in r["positive_spans"]]] for r in first],
    "duckdb_first": [[s, c, d, fb(cv)] for s, c, d, cv in duck],
    "duckdb_counts": [n, floats, ints],
}))
"#;

#[test]
fn pyarrow_and_duckdb_read_a_histograms_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(file_name(42, false));
    let runs = runs(3, 20);
    write(&path, WrittenBy::Flush, &runs);
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&path)
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
        ["positive_spans", spans, false],
        ["negative_spans", spans, false],
        ["positive_deltas", list("int64"), true],
        ["negative_deltas", list("int64"), true],
        ["positive_counts", list("double"), true],
        ["negative_counts", list("double"), true],
        ["custom_values", list("double"), true],
    ]);
    assert_eq!(got["schema"], want_schema);
    assert_eq!(got["rows"], 60);

    // Series 10 (odd: its first five rows are `odd_ones()`), as written.
    let (_, first) = &runs[0];
    let mut want_py = Vec::new();
    let mut want_duck = Vec::new();
    for s in &first[..5] {
        let h = &s.h;
        let (deltas, counts, count_int) = match &h.counts {
            Counts::Int {
                positive_deltas,
                count,
                ..
            } => (
                serde_json::json!(positive_deltas),
                serde_json::Value::Null,
                serde_json::json!(count),
            ),
            Counts::Float { positive, .. } => (
                serde_json::Value::Null,
                serde_json::json!(positive.iter().map(|v| v.to_bits()).collect::<Vec<_>>()),
                serde_json::Value::Null,
            ),
        };
        let custom = if h.schema == -53 {
            serde_json::json!(
                h.custom_values
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            )
        } else {
            serde_json::Value::Null
        };
        let sp: Vec<[i64; 2]> = h
            .positive_spans
            .iter()
            .map(|s| [i64::from(s.offset), i64::from(s.length)])
            .collect();
        want_py.push(serde_json::json!([
            h.schema,
            h.reset_hint as u8,
            h.sum.to_bits(),
            deltas,
            counts,
            custom,
            sp
        ]));
        want_duck.push(serde_json::json!([h.schema, count_int, deltas, custom]));
    }
    assert_eq!(got["pyarrow_first"], serde_json::json!(want_py));
    assert_eq!(got["duckdb_first"], serde_json::json!(want_duck));
    // 60 rows; the odd series (10 and 30) hold two float histograms each.
    assert_eq!(got["duckdb_counts"], serde_json::json!([60, 4, 56]));
}
