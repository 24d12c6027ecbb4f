use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::model::anyvalue::AnyValue;
use crate::model::records::LogRecord;
use crate::spans_logs::flush::write_sorted;
use crate::spans_logs::order::FlushOrder;

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

#[test]
fn line_filter_blocks_are_the_body_pages_and_version_1_filters_are_still_read() {
    use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};

    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_795_000_000 * NS_PER_SECOND;
    let needle_at = 2_345;
    let recs: Vec<LogRecord> = (0..5_000i64)
        .map(|i| LogRecord {
            time_ns: t0 + i * 1_000,
            service_name: "svc".to_owned(),
            body: Some(AnyValue::String(format!(
                "level=info path=/api/v{} status={} duration={}ms user=u{} msg=\"served{}\"",
                i % 7,
                200 + i % 300,
                i % 997,
                i * 7919 % 100_000,
                if i == needle_at { " needle" } else { "" }
            ))),
            ..LogRecord::default()
        })
        .collect();
    let path = dir.path().join("logs-1.parquet");
    let rows = write_logs(&path, &recs);
    write_for(&path, &rows).unwrap();
    let summary = LogSummary::open(&path).unwrap().unwrap();
    let filter = summary.line_filter().unwrap();

    // The body pages' first rows (file rows), by the offset index.
    let meta = ParquetMetaDataReader::new()
        .with_page_index_policy(PageIndexPolicy::Required)
        .parse_and_finish(&std::fs::File::open(&path).unwrap())
        .unwrap();
    let body = (0..meta.file_metadata().schema_descr().num_columns())
        .find(|&i| meta.file_metadata().schema_descr().column(i).name() == "body")
        .unwrap();
    let mut starts = Vec::new();
    let mut base = 0u64;
    for (g, group) in meta.row_groups().iter().enumerate() {
        for page in meta.offset_index().unwrap()[g][body].page_locations() {
            starts.push(base + page.first_row_index as u64);
        }
        base += group.num_rows() as u64;
    }
    assert!(starts.len() > 10, "{} pages", starts.len());
    // Every page begins a block; every block lies in one page, of at most 512 records.
    let blocks: Vec<(u64, u64)> = filter.block_rows().collect();
    let block_starts: Vec<u64> = blocks.iter().map(|b| b.0).collect();
    assert!(starts.iter().all(|s| block_starts.contains(s)));
    for &(a, b) in &blocks {
        let page = starts.partition_point(|&s| s <= a);
        let page_end = starts.get(page).copied().unwrap_or(recs.len() as u64);
        assert!(b <= page_end && b - a <= 512 && b > a, "{a}..{b}");
    }
    assert_eq!(blocks.last().map(|b| b.1), Some(recs.len() as u64));
    // The needle's page, and no other.
    let row = rows
        .iter()
        .position(|r| r.time_ns == t0 + needle_at * 1_000)
        .unwrap() as u64;
    let page = *blocks.iter().find(|b| b.0 <= row && row < b.1).unwrap();
    assert_eq!(filter.candidate_rows(&[vec![b"needle".to_vec()]]), [page]);

    // A version 1 summary (blocks of 512 records) of the same file: its filter is read.
    let v2 = std::fs::read(path_for(&path)).unwrap();
    let listed = summary.filter.unwrap().listed.unwrap().0;
    let mut v1 = v2[..listed - 16].to_vec();
    v1[8..12].copy_from_slice(&1u32.to_le_bytes());
    let mut fixed = lines::LineFilterBuilder::new(Vec::new());
    for r in &rows {
        fixed.add(r.body.as_ref().unwrap().to_text().as_bytes());
    }
    let fixed = fixed.finish();
    v1.extend_from_slice(&fixed.rows.to_le_bytes());
    v1.extend_from_slice(&512u32.to_le_bytes());
    v1.extend_from_slice(&4096u32.to_le_bytes());
    v1.extend_from_slice(&(fixed.bits.len() as u64).to_le_bytes());
    v1.extend_from_slice(&fixed.bits);
    let crc = crc32c::crc32c(&v1);
    v1.extend_from_slice(&crc.to_le_bytes());
    std::fs::write(path_for(&path), &v1).unwrap();
    let old = LogSummary::open(&path)
        .unwrap()
        .expect("a version 1 summary");
    assert_eq!(old.groups(), summary.groups());
    assert_eq!(old.totals(), summary.totals());
    let block = row / 512 * 512;
    assert_eq!(
        old.line_filter()
            .unwrap()
            .candidate_rows(&[vec![b"needle".to_vec()]]),
        [(block, block + 512)]
    );
}
