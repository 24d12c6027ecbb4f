//! The summary against the spans it summarises: what it keeps, that no test it rules out
//! is met by one of them, that a damaged file is not used, and the engine's handling.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::model::anyvalue::AnyValue;
use crate::model::records::Scope;
use crate::spans_logs::flush::write_sorted;
use crate::spans_logs::order::FlushOrder;

fn s(v: &str) -> AnyValue {
    AnyValue::String(v.into())
}

/// Span `i` of a small mixed set: three services, typed attributes of every kind.
fn span(i: u32) -> SpanRecord {
    let service = ["api", "grpc", "db"][i as usize % 3];
    let mut attributes = vec![("n".to_owned(), AnyValue::Int(i64::from(i % 7)))];
    match service {
        "api" => {
            attributes.push((
                "http.response.status_code".into(),
                AnyValue::Int(if i.is_multiple_of(5) { 503 } else { 200 }),
            ));
            attributes.push(("http.route".into(), s(&format!("/r{}", i % 4))));
            attributes.push(("ratio".into(), AnyValue::Double(0.25 * f64::from(i % 4))));
        }
        "grpc" => {
            attributes.push(("rpc.method".into(), s("Get")));
            attributes.push(("ok".into(), AnyValue::Bool(i.is_multiple_of(2))));
            attributes.push(("blob".into(), AnyValue::Bytes(vec![1, 2])));
        }
        _ => attributes.push(("db.system".into(), s("postgresql"))),
    }
    SpanRecord {
        trace_id: [(i / 3) as u8 + 1; 16],
        span_id: [(i % 3) as u8 + 1; 8],
        service_name: service.into(),
        name: format!("{service}-op{}", i % 2),
        kind: (i % 3) as i32 + 1,
        start_ns: 1_000 + i64::from(i),
        end_ns: 1_000 + i64::from(i) * 11,
        status_code: if service == "api" && i.is_multiple_of(5) {
            2
        } else {
            0
        },
        attributes,
        resource_attributes: Arc::new(vec![
            ("service.name".into(), s(service)),
            (
                "env".into(),
                s(if i.is_multiple_of(2) { "prod" } else { "dev" }),
            ),
        ]),
        scope: Arc::new(Scope {
            name: "lib".into(),
            version: "1".into(),
            attributes: vec![("team".into(), s(service))],
        }),
        ..SpanRecord::default()
    }
}

fn spans(n: u32) -> Vec<SpanRecord> {
    (0..n).map(span).collect()
}

fn write_file(path: &Path, spans: &[SpanRecord]) {
    let mut rows: Vec<&SpanRecord> = spans.iter().collect();
    SpanRecord::sort_rows(&mut rows);
    write_sorted(path, &rows, 8192).unwrap();
}

fn attr(scope: AttrScope, key: &str, test: AttrTest) -> SpanTest {
    SpanTest::Attr {
        scope,
        key: key.into(),
        test,
    }
}

fn eq(v: &str) -> StrTest {
    StrTest::Cmp(CmpOp::Eq, v.into())
}

/// Whether span `r` meets `t` (what a SQL row of it would answer).
fn holds(r: &SpanRecord, t: &SpanTest) -> bool {
    let str_holds = |t: &StrTest, v: &str| match t {
        StrTest::Cmp(op, x) => op.holds(v.cmp(x)),
        StrTest::Regex(re, neg) => re.is_match(v) != *neg,
    };
    match t {
        SpanTest::Any => true,
        SpanTest::Never => false,
        SpanTest::All(v) => v.iter().all(|t| holds(r, t)),
        SpanTest::AnyOf(v) => v.iter().any(|t| holds(r, t)),
        SpanTest::Service(t) => str_holds(t, &r.service_name),
        SpanTest::Name(t) => str_holds(t, &r.name),
        SpanTest::Status(op, c) => op.holds(r.status_code.cmp(c)),
        SpanTest::Kind(op, c) => op.holds(r.kind.cmp(c)),
        SpanTest::Duration(op, n) => {
            let d = r.end_ns.saturating_sub(r.start_ns);
            match n {
                Number::Int(n) => op.holds(d.cmp(n)),
                Number::Float(f) => (d as f64).partial_cmp(f).is_some_and(|o| op.holds(o)),
            }
        }
        SpanTest::Attr { scope, key, test } => {
            let list: &[(String, AnyValue)] = match scope {
                AttrScope::Span => &r.attributes,
                AttrScope::Resource => &r.resource_attributes,
                AttrScope::Instrumentation => &r.scope.attributes,
            };
            list.iter()
                .filter(|(k, _)| k == key)
                .any(|(_, v)| match (test, v) {
                    (AttrTest::Present, _) => true,
                    (AttrTest::Str(t), AnyValue::String(v)) => str_holds(t, v),
                    (AttrTest::Num(op, n), AnyValue::Int(_) | AnyValue::Double(_)) => {
                        let x = match v {
                            AnyValue::Int(i) => *i as f64,
                            AnyValue::Double(d) => *d,
                            _ => unreachable!(),
                        };
                        op.holds(x.total_cmp(&n.as_f64()))
                    }
                    (AttrTest::Bool(op, b), AnyValue::Bool(v)) => op.holds(v.cmp(b)),
                    _ => false,
                })
        }
    }
}

/// Tests of every kind, some met by the spans and some not.
fn tests() -> Vec<SpanTest> {
    use AttrScope::*;
    let mut out = vec![
        SpanTest::Service(eq("api")),
        SpanTest::Service(eq("web")),
        SpanTest::Name(eq("grpc-op1")),
        SpanTest::Name(eq("grpc-op2")),
        SpanTest::Name(StrTest::regex("api-.*", false).unwrap()),
        SpanTest::Name(StrTest::regex("api-.*", true).unwrap()),
        SpanTest::Name(StrTest::regex("zzz.*", false).unwrap()),
        SpanTest::Status(CmpOp::Eq, 2),
        SpanTest::Status(CmpOp::Ne, 0),
        SpanTest::Kind(CmpOp::Eq, 5),
        SpanTest::Duration(CmpOp::Gt, Number::Int(5_000)),
        SpanTest::Duration(CmpOp::Lt, Number::Int(1)),
        SpanTest::Duration(CmpOp::Ge, Number::Float(1.5)),
        attr(
            Span,
            "http.response.status_code",
            AttrTest::Num(CmpOp::Ge, Number::Int(500)),
        ),
        attr(
            Span,
            "http.response.status_code",
            AttrTest::Num(CmpOp::Gt, Number::Int(503)),
        ),
        attr(
            Span,
            "http.response.status_code",
            AttrTest::Num(CmpOp::Eq, Number::Float(503.5)),
        ),
        attr(Span, "http.route", AttrTest::Str(eq("/r3"))),
        attr(Span, "http.route", AttrTest::Str(eq("/r9"))),
        attr(
            Span,
            "http.route",
            AttrTest::Str(StrTest::Cmp(CmpOp::Ne, "/r1".into())),
        ),
        attr(
            Span,
            "http.route",
            AttrTest::Str(StrTest::Cmp(CmpOp::Gt, "/r3".into())),
        ),
        attr(Span, "ratio", AttrTest::Num(CmpOp::Gt, Number::Float(0.6))),
        attr(Span, "ratio", AttrTest::Num(CmpOp::Gt, Number::Float(0.8))),
        attr(Span, "ok", AttrTest::Bool(CmpOp::Eq, true)),
        attr(Span, "ok", AttrTest::Bool(CmpOp::Ne, true)),
        attr(Span, "blob", AttrTest::Present),
        attr(Span, "blob", AttrTest::Str(eq("AQI="))),
        attr(Span, "missing", AttrTest::Present),
        attr(Resource, "env", AttrTest::Str(eq("prod"))),
        attr(Resource, "env", AttrTest::Str(eq("stage"))),
        attr(Instrumentation, "team", AttrTest::Str(eq("db"))),
        attr(Instrumentation, "team", AttrTest::Str(eq("web"))),
        attr(Span, "n", AttrTest::Num(CmpOp::Le, Number::Int(-1))),
        attr(Span, "n", AttrTest::Num(CmpOp::Eq, Number::Int(0))),
    ];
    // The benchmark's shape: a service and an attribute only another service has.
    let n = out.len();
    for i in 0..n {
        for j in [0, 1, 3, 13, 17, 22] {
            out.push(SpanTest::and(out[j].clone(), out[i].clone()));
            out.push(SpanTest::or(out[j].clone(), out[i].clone()));
        }
    }
    out
}

#[test]
fn no_test_it_rules_out_is_met_by_a_span() {
    let all = spans(60);
    let whole = SpanSummary::of_spans(&all);
    let mut ruled_out = 0;
    for t in tests() {
        let met = all.iter().any(|r| holds(r, &t));
        let may = whole.may_match(&t);
        assert!(!met || may, "{t:?} is met but ruled out");
        ruled_out += usize::from(!may);
        // Per span: the summary of one span rules a test out only if it fails.
        for r in all.iter().take(6) {
            let one = SpanSummary::of_spans(std::slice::from_ref(r));
            assert!(!holds(r, &t) || one.may_match(&t), "{t:?} on {r:?}");
        }
    }
    assert!(ruled_out > 40, "{ruled_out} ruled out");
    let t = SpanTest::and(
        SpanTest::Service(eq("grpc")),
        attr(
            AttrScope::Span,
            "http.response.status_code",
            AttrTest::Num(CmpOp::Ge, Number::Int(500)),
        ),
    );
    assert!(!whole.may_match(&t), "the benchmark's no-match query");
}

#[test]
fn past_the_caps_it_keeps_that_any_value_may_be_there() {
    let mut all: Vec<SpanRecord> = (0..MAX_VALUES as u32 + 1)
        .map(|i| {
            let mut r = span(0);
            r.attributes = vec![("id".into(), s(&format!("v{i}")))];
            r
        })
        .collect();
    let few = SpanSummary::of_spans(&all[..MAX_VALUES]);
    let t = |v: &str| attr(AttrScope::Span, "id", AttrTest::Str(eq(v)));
    assert!(!few.may_match(&t("other")));
    assert!(few.may_match(&t("v3")));
    let many = SpanSummary::of_spans(&all);
    assert!(many.may_match(&t("other")));
    // A value too long to keep.
    all.truncate(1);
    all[0].attributes = vec![("id".into(), s(&"x".repeat(MAX_VALUE_BYTES + 1)))];
    assert!(SpanSummary::of_spans(&all).may_match(&t("other")));
    // Keys past the cap: any key may be there.
    all[0].attributes = (0..=MAX_KEYS)
        .map(|k| (format!("k{k}"), AnyValue::Int(1)))
        .collect();
    let keys = SpanSummary::of_spans(&all);
    let present = |k: &str| attr(AttrScope::Span, k, AttrTest::Present);
    assert!(keys.may_match(&present("unknown")));
    // NaN: numbers undecided; zero: undecided.
    all[0].attributes = vec![("x".into(), AnyValue::Double(f64::NAN))];
    let nan = SpanSummary::of_spans(&all);
    let num = |op, n| attr(AttrScope::Span, "x", AttrTest::Num(op, n));
    assert!(nan.may_match(&num(CmpOp::Gt, Number::Int(5))));
    all[0].attributes = vec![("x".into(), AnyValue::Double(-0.0))];
    let zero = SpanSummary::of_spans(&all);
    assert!(zero.may_match(&num(CmpOp::Lt, Number::Int(0))));
    assert!(!zero.may_match(&num(CmpOp::Gt, Number::Int(1))));
}

#[test]
fn files_flushed_merged_and_read_back_summarise_alike() {
    let dir = tempfile::tempdir().unwrap();
    let all = spans(90);
    let (a, b) = all.split_at(40);
    let (pa, pb, pm) = (
        dir.path().join("spans-1.parquet"),
        dir.path().join("spans-2.parquet"),
        dir.path().join("spans-3.parquet"),
    );
    write_file(&pa, a);
    write_for(&pa, &a.iter().collect::<Vec<_>>()).unwrap();
    write_file(&pb, b);
    build_from_file(&pb, None).unwrap();
    let (sa, sb) = (
        SpanSummary::open(&pa).unwrap().unwrap(),
        SpanSummary::open(&pb).unwrap().unwrap(),
    );
    assert_eq!(sa, SpanSummary::of_spans(a), "flushed");
    assert_eq!(sb, SpanSummary::of_spans(b), "read back");
    write_file(&pm, &all);
    build_from_file(&pm, Some(&[&sa, &sb])).unwrap();
    let merged = SpanSummary::open(&pm).unwrap().unwrap();
    assert_eq!(merged, SpanSummary::of_spans(&all), "merged");
    assert_eq!(merged.spans(), 90);
    assert_eq!(merged.services().collect::<Vec<_>>(), ["api", "db", "grpc"]);
}

#[test]
fn a_damaged_missing_or_foreign_summary_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spans-9.parquet");
    write_file(&path, &spans(30));
    assert!(SpanSummary::open(&path).unwrap().is_none(), "none yet");
    build_from_file(&path, None).unwrap();
    let sum = path_for(&path);
    let good = std::fs::read(&sum).unwrap();
    for at in [0, 9, 20, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x04;
        std::fs::write(&sum, &bad).unwrap();
        assert!(SpanSummary::open(&path).unwrap().is_none(), "byte {at}");
    }
    std::fs::write(&sum, &good[..good.len() - 5]).unwrap();
    assert!(SpanSummary::open(&path).unwrap().is_none(), "cut short");
    let other = dir.path().join("spans-10.parquet");
    write_file(&other, &spans(90));
    build_from_file(&other, None).unwrap();
    std::fs::copy(path_for(&other), &sum).unwrap();
    assert!(
        SpanSummary::open(&path).unwrap().is_none(),
        "another file's"
    );
    build_from_file(&path, None).unwrap();
    assert!(SpanSummary::open(&path).unwrap().is_some());
}

/// Through the engine: flush and compaction write summaries, the inputs' go with them, a
/// lost one answers `None` until maintenance builds it, an orphan goes at open, and
/// spans in memory make the answer `None`.
#[test]
fn the_engine_writes_uses_rebuilds_and_removes_summaries() {
    use crate::spans_logs::store::NS_PER_MS;
    use crate::{Engine, EngineConfig, ManualClock, TenantId};
    let dir = tempfile::tempdir().unwrap();
    let now_ms = 1_795_000_000_000;
    let open = || {
        Engine::open_with_clock(
            dir.path(),
            EngineConfig::default(),
            ManualClock::new(now_ms),
        )
        .unwrap()
    };
    let t = TenantId::new("t").unwrap();
    let t0 = (now_ms - 7_200_000) * NS_PER_MS;
    let batch = |k: u32| -> Vec<SpanRecord> {
        (0..30)
            .map(|i| {
                let mut r = span(k * 30 + i);
                r.start_ns += t0;
                r.end_ns += t0;
                r
            })
            .collect()
    };
    let grpc_500 = SpanTest::and(
        SpanTest::Service(eq("grpc")),
        attr(
            AttrScope::Span,
            "http.response.status_code",
            AttrTest::Num(CmpOp::Ge, Number::Int(500)),
        ),
    );
    let api_500 = SpanTest::Service(eq("api"));
    let files = |e: &Engine| -> Vec<PathBuf> {
        e.spans_snapshot(&t, 0, i64::MAX)
            .unwrap()
            .files
            .iter()
            .map(|f| f.path())
            .collect()
    };
    let engine = open();
    engine.write_spans(&t, &batch(0)).unwrap();
    assert!(
        engine.spans_summaries(&t, 0, i64::MAX).unwrap().is_none(),
        "memory"
    );
    assert!(engine.spans_may_match(&t, 0, i64::MAX, &grpc_500).unwrap());
    engine.flush().unwrap();
    engine.write_spans(&t, &batch(1)).unwrap();
    engine.flush().unwrap();
    let flushed = files(&engine);
    assert_eq!(flushed.len(), 2);
    assert!(flushed.iter().all(|p| path_for(p).exists()));
    assert_eq!(
        engine
            .spans_summaries(&t, 0, i64::MAX)
            .unwrap()
            .unwrap()
            .len(),
        2
    );
    assert!(!engine.spans_may_match(&t, 0, i64::MAX, &grpc_500).unwrap());
    assert!(engine.spans_may_match(&t, 0, i64::MAX, &api_500).unwrap());

    engine.compact_all().unwrap();
    let merged = files(&engine);
    assert_eq!(merged.len(), 1);
    assert!(flushed.iter().all(|p| !path_for(p).exists()));
    let all: Vec<SpanRecord> = batch(0).into_iter().chain(batch(1)).collect();
    assert_eq!(
        SpanSummary::open(&merged[0]).unwrap().unwrap(),
        SpanSummary::of_spans(&all)
    );
    engine.close().unwrap();

    std::fs::remove_file(path_for(&merged[0])).unwrap();
    let orphan = merged[0].with_file_name("spans-4242.sum");
    std::fs::write(&orphan, b"stale").unwrap();
    let engine = open();
    assert!(!orphan.exists());
    assert!(engine.spans_summaries(&t, 0, i64::MAX).unwrap().is_none());
    assert!(engine.spans_may_match(&t, 0, i64::MAX, &grpc_500).unwrap());
    assert_eq!(engine.build_span_summaries(), 1);
    assert_eq!(engine.build_span_summaries(), 0);
    assert!(!engine.spans_may_match(&t, 0, i64::MAX, &grpc_500).unwrap());
}
