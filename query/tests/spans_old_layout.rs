//! A spans partition written before the instrumentation scope's attributes were stored
//! (its files without the `scope_attributes` and `scope_attribute_types` columns) stays
//! readable beside newer data: SQL reads the missing columns as NULL, TraceQL's
//! `instrumentation.` comparisons see no attribute on its spans (from the SQL prefilter
//! and the in-memory evaluation alike), a trace lookup returns its spans with a scope
//! without attributes, and compaction merges it with a newer file of the same hour into
//! the newer layout, every answer unchanged.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::file::properties::WriterProperties;
use strata_engine::{
    AnyValue, Engine, EngineConfig, ManualClock, Scope, SpanRecord, TenantId, TraceId,
};
use strata_query::sql::{SqlConfig, run_sql, tenant_session};
use strata_query::traceql::{SearchParams, parse, search};

/// 2025-01-01T00:00:00Z in ns.
const T0: i64 = 1_735_689_600 * 1_000_000_000;
const S: i64 = 1_000_000_000;

fn acme() -> TenantId {
    TenantId::new("acme").expect("tenant")
}

fn open(dir: &Path) -> Arc<Engine> {
    let clock = Arc::new(ManualClock::new((T0 + 3 * 3_600 * S) / 1_000_000));
    Arc::new(Engine::open_with_clock(dir, EngineConfig::default(), clock).expect("open"))
}

/// Three spans of trace `t` starting `at` seconds after T0, their scope `team=<team>`.
fn trace(t: u8, at: i64, team: &str) -> Vec<SpanRecord> {
    let scope = Arc::new(Scope {
        name: "lib".into(),
        version: "1".into(),
        attributes: vec![("team".into(), AnyValue::String(team.into()))],
    });
    (1..=3u8)
        .map(|n| SpanRecord {
            trace_id: [t; 16],
            span_id: [t, 0, 0, 0, 0, 0, 0, n],
            parent_span_id: (n > 1).then_some([t, 0, 0, 0, 0, 0, 0, 1]),
            service_name: "api".into(),
            name: format!("op{n}"),
            start_ns: T0 + at * S + i64::from(n),
            end_ns: T0 + at * S + 1_000,
            scope: scope.clone(),
            ..SpanRecord::default()
        })
        .collect()
}

/// The spans files under `dir`.
fn spans_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if p.is_dir() {
                todo.push(p);
            } else if name.starts_with("spans-") && name.ends_with(".parquet") {
                out.push(p);
            }
        }
    }
    out
}

/// Writes the spans file at `path` again as versions before scope attributes wrote it:
/// without the last two columns, sorted and declared sorted as before, with its
/// `trace_id` bloom filter.
fn rewrite_without_scope_attributes(path: &Path) {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(File::open(path).expect("open")).expect("reader");
    let meta = builder.metadata().clone();
    let sorting = meta.row_group(0).sorting_columns().cloned();
    let batches: Vec<RecordBatch> = builder
        .build()
        .expect("build")
        .map(|b| b.expect("batch"))
        .collect();
    let n = batches[0].num_columns();
    assert_eq!(
        batches[0].schema().field(n - 2).name(),
        "scope_attributes",
        "the columns written last"
    );
    let keep: Vec<usize> = (0..n - 2).collect();
    let old: Vec<RecordBatch> = batches
        .iter()
        .map(|b| b.project(&keep).expect("project"))
        .collect();
    let props = WriterProperties::builder()
        .set_sorting_columns(sorting)
        .set_bloom_filter_enabled(true)
        .build();
    let tmp = path.with_extension("old");
    let mut w = ArrowWriter::try_new(
        File::create(&tmp).expect("create"),
        old[0].schema(),
        Some(props),
    )
    .expect("writer");
    for b in &old {
        w.write(b).expect("write");
    }
    w.close().expect("close");
    std::fs::rename(&tmp, path).expect("rename");
}

/// The (trace byte, span number) of the spans a TraceQL search finds, sorted.
async fn found(engine: &Arc<Engine>, q: &str) -> Vec<(u8, u8)> {
    let p = SearchParams {
        start_ns: T0,
        end_ns: T0 + 3_600 * S,
        limit: 20,
        spans_per_spanset: 10,
    };
    let query = parse(q).expect(q);
    let got = search(engine, &acme(), &SqlConfig::for_tests(), &query, &p)
        .await
        .expect(q);
    let mut out: Vec<(u8, u8)> = got
        .iter()
        .flat_map(|m| {
            m.spansets
                .iter()
                .flat_map(move |s| s.spans.iter().map(move |x| (m.trace_id[0], x.span_id[7])))
        })
        .collect();
    out.sort_unstable();
    out
}

/// `scope_attributes['team']` of every span in SQL, by (trace byte, span number).
async fn teams_in_sql(engine: &Arc<Engine>) -> Vec<(u8, u8, Option<String>)> {
    let cfg = SqlConfig::for_tests();
    let ctx = tenant_session(engine.clone(), &acme(), &cfg).expect("session");
    let q = "SELECT trace_id, span_id, scope_attributes['team'] FROM spans";
    let mut out = Vec::new();
    for b in run_sql(&ctx, q, &cfg).await.expect(q) {
        let (t, s) = (
            b.column(0).as_fixed_size_binary(),
            b.column(1).as_fixed_size_binary(),
        );
        let team = b.column(2).as_string::<i32>();
        for i in 0..b.num_rows() {
            let v = team.is_valid(i).then(|| team.value(i).to_owned());
            out.push((t.value(i)[0], s.value(i)[7], v));
        }
    }
    out.sort();
    out
}

/// Every answer the test checks, the same before and after compaction.
async fn check(engine: &Arc<Engine>) {
    let team = |t: &str| Some(t.to_owned());
    assert_eq!(
        teams_in_sql(engine).await,
        vec![
            (1, 1, None),
            (1, 2, None),
            (1, 3, None),
            (2, 1, team("new")),
            (2, 2, team("new")),
            (2, 3, team("new")),
            (3, 1, team("mem")),
            (3, 2, team("mem")),
            (3, 3, team("mem")),
        ]
    );
    let all = |t: u8| vec![(t, 1), (t, 2), (t, 3)];
    assert_eq!(
        found(engine, r#"{ instrumentation.team = "new" }"#).await,
        all(2)
    );
    assert_eq!(
        found(engine, r#"{ instrumentation.team = "mem" }"#).await,
        all(3)
    );
    assert_eq!(
        found(engine, r#"{ instrumentation.team = "old" }"#).await,
        vec![]
    );
    assert_eq!(
        found(engine, "{ instrumentation.team = nil }").await,
        all(1)
    );
    assert_eq!(
        found(engine, "{ instrumentation.team != nil }").await,
        [all(2), all(3)].concat()
    );
    // The old spans by their scope's name, which files of every version hold.
    assert_eq!(
        found(
            engine,
            r#"{ instrumentation:name = "lib" && trace:id = "01010101010101010101010101010101" }"#
        )
        .await,
        all(1)
    );
    let id: TraceId = [1; 16];
    let old = engine
        .find_trace(&acme(), id, T0, T0 + 3_600 * S)
        .expect("lookup");
    assert_eq!(old.len(), 3);
    for s in &old {
        assert_eq!(
            (s.scope.name.as_str(), s.scope.attributes.len()),
            ("lib", 0)
        );
    }
    let new = engine
        .find_trace(&acme(), [2; 16], T0, T0 + 3_600 * S)
        .expect("lookup");
    assert_eq!(new, trace(2, 20, "new"));
}

#[tokio::test]
async fn a_partition_written_before_scope_attributes_stays_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path());
    // Trace 1's scope has an attribute, which its file, rewritten as older versions
    // wrote it, then no longer holds.
    engine
        .write_spans(&acme(), &trace(1, 10, "old"))
        .expect("write");
    engine.flush().expect("flush");
    Arc::into_inner(engine)
        .expect("one handle")
        .close()
        .expect("close");
    let files = spans_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    rewrite_without_scope_attributes(&files[0]);

    let engine = open(dir.path());
    engine
        .write_spans(&acme(), &trace(2, 20, "new"))
        .expect("write");
    engine.flush().expect("flush");
    engine
        .write_spans(&acme(), &trace(3, 30, "mem"))
        .expect("write");
    assert_eq!(spans_files(dir.path()).len(), 2, "an old and a new file");
    check(&engine).await;
    engine.compact_all().expect("compact");
    let files = spans_files(dir.path());
    assert_eq!(files.len(), 1, "compacted: {files:?}");
    let schema = ParquetRecordBatchReaderBuilder::try_new(File::open(&files[0]).expect("open"))
        .expect("reader")
        .schema()
        .clone();
    assert!(
        schema.index_of("scope_attributes").is_ok(),
        "the newer layout"
    );
    check(&engine).await;
}
