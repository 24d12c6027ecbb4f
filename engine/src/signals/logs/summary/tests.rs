use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::model::anyvalue::AnyValue;
use crate::model::records::LogRecord;
use crate::signals::flush::write_sorted;
use crate::signals::order::FlushOrder;

/// Records of 2 services × 2 hosts with mixed severities, some attributes named like a
/// level, some times on whole seconds, non-string bodies, over `seconds` seconds from `t0`.
pub(super) fn records(t0: i64, seconds: i64) -> Vec<LogRecord> {
    let hosts: Vec<Arc<crate::Attributes>> = (0..4)
        .map(|h| {
            Arc::new(vec![
                (
                    "service.name".to_owned(),
                    AnyValue::String(format!("svc{}", h % 2)),
                ),
                ("host.name".to_owned(), AnyValue::String(format!("h{h}"))),
                ("pid".to_owned(), AnyValue::Int(100 + h)),
            ])
        })
        .collect();
    let mut out = Vec::new();
    for i in 0..seconds * 7 {
        let h = (i % 4) as usize;
        let mut attributes = vec![("http.route".to_owned(), AnyValue::String("/a".into()))];
        if i % 5 == 0 {
            attributes.push(("level".to_owned(), AnyValue::String("warn".into())));
        }
        if i % 11 == 0 {
            attributes.push(("detected.level".to_owned(), AnyValue::Int(3)));
        }
        out.push(LogRecord {
            // Every third record exactly on a second.
            time_ns: t0 + (i / 7) * NS_PER_SECOND + if i % 3 == 0 { 0 } else { i * 1_000 },
            severity_number: [0, 9, 17][(i % 3) as usize],
            severity_text: ["", "INFO", "oops"][(i % 3) as usize].to_owned(),
            body: match i % 4 {
                0 => Some(AnyValue::String(format!("line {i}"))),
                1 => Some(AnyValue::Int(i)),
                2 => None,
                _ => Some(AnyValue::String("é".repeat(i as usize % 9))),
            },
            service_name: format!("svc{}", h % 2),
            attributes,
            resource_attributes: hosts[h].clone(),
            ..LogRecord::default()
        });
    }
    out
}

/// What a summary should hold, counted record by record: per (service, host, severity,
/// level attributes) and second.
pub(super) type Expected =
    BTreeMap<(String, String, i32, String, String), BTreeMap<i64, SecondCount>>;

pub(super) fn expected(recs: &[LogRecord]) -> Expected {
    let mut out: Expected = BTreeMap::new();
    for r in recs {
        let host = r.resource_attributes[1].1.to_text();
        let levels: Vec<String> = r
            .attributes
            .iter()
            .filter(|(k, _)| k == "level" || k == "detected.level")
            .map(|(k, v)| format!("{k}={}", v.to_text()))
            .collect();
        let key = (
            r.service_name.clone(),
            host,
            r.severity_number,
            r.severity_text.clone(),
            levels.join(","),
        );
        let (second, edge) = second_of(r.time_ns);
        let len = r.body.as_ref().map_or(0, |b| b.to_text().len()) as u64;
        let c = out.entry(key).or_default().entry(second).or_default();
        c.second = second;
        c.entries += 1;
        c.bytes += len;
        if edge {
            c.edge_entries += 1;
            c.edge_bytes += len;
        }
    }
    out
}

pub(super) fn actual(s: &LogSummary) -> Expected {
    let mut out: Expected = BTreeMap::new();
    for (g, grp) in s.groups().iter().enumerate() {
        let host = grp.resource[1].1.clone();
        let levels: Vec<String> = grp
            .level_attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let key = (
            grp.service_name.clone(),
            host,
            grp.severity_number,
            grp.severity_text.clone(),
            levels.join(","),
        );
        assert!(grp.attribute_keys.iter().any(|k| k == "http.route"));
        let seconds: Vec<SecondCount> = s.seconds(g).collect();
        assert!(seconds.windows(2).all(|w| w[0].second < w[1].second));
        let prev = out.insert(key, seconds.into_iter().map(|c| (c.second, c)).collect());
        assert!(prev.is_none(), "one group per key");
    }
    out
}

fn write_logs<'a>(path: &std::path::Path, recs: &'a [LogRecord]) -> Vec<&'a LogRecord> {
    let mut rows: Vec<&LogRecord> = recs.iter().collect();
    LogRecord::sort_rows(&mut rows);
    write_sorted(path, &rows, 1000).unwrap();
    rows
}

#[test]
fn seconds_are_right_closed_with_their_edge_marked() {
    assert_eq!(second_of(0), (0, true));
    assert_eq!(second_of(1), (1, false));
    assert_eq!(second_of(NS_PER_SECOND), (1, true));
    assert_eq!(second_of(NS_PER_SECOND + 1), (2, false));
    assert_eq!(second_of(-1), (0, false));
    assert_eq!(second_of(-NS_PER_SECOND), (-1, true));
}

#[test]
fn from_records_from_the_file_and_merged_all_count_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_795_000_000 * NS_PER_SECOND;
    let recs = records(t0, 50);
    let want = expected(&recs);
    assert!(want.len() > 10, "{}", want.len());

    let path = dir.path().join("logs-1.parquet");
    let rows = write_logs(&path, &recs);
    write_for(&path, &rows).unwrap();
    let flushed = LogSummary::open(&path).unwrap().expect("a valid summary");
    assert_eq!(actual(&flushed), want);
    let total_bytes: u64 = recs
        .iter()
        .map(|r| r.body.as_ref().map_or(0, |b| b.to_text().len() as u64))
        .sum();
    assert_eq!(flushed.totals(), (recs.len() as u64, total_bytes));
    assert_eq!(
        flushed.second_range(),
        (t0 / NS_PER_SECOND, t0 / NS_PER_SECOND + 50)
    );
    let keys = &flushed.groups()[0].attribute_keys;
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");

    // Read back from the file's columns: the same.
    std::fs::remove_file(path_for(&path)).unwrap();
    build_from_file(&path, None).unwrap();
    let read = LogSummary::open(&path).unwrap().unwrap();
    assert_eq!(actual(&read), want);
    // The line filter of the written records is the one of the file's lines.
    let bits = |s: &LogSummary| s.line_filter().map(|f| (f.rows, f.bits.to_vec()));
    assert_eq!(bits(&flushed).map(|b| b.0), Some(recs.len() as u64));
    assert_eq!(bits(&flushed), bits(&read));

    // Two halves merged, as compaction does: the same as the whole.
    let (a, b) = recs.split_at(recs.len() / 3);
    let (pa, pb) = (
        dir.path().join("logs-2.parquet"),
        dir.path().join("logs-3.parquet"),
    );
    write_for(&pa, &write_logs(&pa, a)).unwrap();
    write_for(&pb, &write_logs(&pb, b)).unwrap();
    let (sa, sb) = (
        LogSummary::open(&pa).unwrap().unwrap(),
        LogSummary::open(&pb).unwrap().unwrap(),
    );
    build_from_file(&path, Some(&[&sa, &sb])).unwrap();
    let merged = LogSummary::open(&path).unwrap().unwrap();
    assert_eq!(actual(&merged), want);
    assert_eq!(
        bits(&merged),
        bits(&read),
        "the filter read from the merged file"
    );

    // In memory, in arrival order.
    let mut builder = Builder::default();
    builder.add_records(&recs.iter().rev().collect::<Vec<_>>());
    let memory = builder.into_summary().unwrap();
    assert_eq!(actual(&memory), want);
    assert!(
        memory.line_filter().is_none(),
        "records in memory need none"
    );
    assert!(
        Builder::default()
            .into_summary()
            .unwrap()
            .groups()
            .is_empty()
    );
}

#[test]
fn a_damaged_missing_or_foreign_summary_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_795_000_000 * NS_PER_SECOND;
    let path = dir.path().join("logs-9.parquet");
    let recs = records(t0, 5);
    let rows = write_logs(&path, &recs);
    assert!(LogSummary::open(&path).unwrap().is_none(), "none built yet");
    write_for(&path, &rows).unwrap();
    let sum = path_for(&path);
    let good = std::fs::read(&sum).unwrap();
    for at in [0, 9, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(&sum, &bad).unwrap();
        assert!(LogSummary::open(&path).unwrap().is_none(), "byte {at}");
    }
    std::fs::write(&sum, &good[..good.len() - 3]).unwrap();
    assert!(LogSummary::open(&path).unwrap().is_none());
    let other = dir.path().join("logs-10.parquet");
    let recs10 = records(t0, 9);
    write_for(&other, &write_logs(&other, &recs10)).unwrap();
    std::fs::copy(path_for(&other), &sum).unwrap();
    assert!(LogSummary::open(&path).unwrap().is_none(), "another file's");
    build_from_file(&path, None).unwrap();
    assert!(LogSummary::open(&path).unwrap().is_some());
}
