//! Flushing spans and log records: one Parquet file per (tenant, hour partition) and
//! flush, sorted by the signal's [`sort_key`], listed in the partition's manifest. The flush protocol
//! (cut, write, one commit marker for every signal, publish, WAL truncation) is the one in
//! `metrics/flush.rs`; this is the write step for the two record signals.

use std::path::Path;

use crate::spans_logs::order::sort_key;
use crate::spans_logs::store::StoredRecord;
use crate::storage::parquet_io::DurableWriter;
use crate::{Result, storage::parquet_io};

/// Rows per Arrow batch a flush builds and hands to the Parquet writer: a partition's
/// records are written in batches of this many, so no Arrow array grows with the
/// partition (one batch of a whole large partition could pass the 2 GiB a string or
/// list array's i32 offsets address, and fail the flush).
pub(crate) const FLUSH_BATCH_ROWS: usize = 8192;

/// Writes `rows` (already in [`sort_key`] order, at least one) as one spans or logs file
/// at `path`, durably, building Arrow batches of at most `batch_rows` rows, the resource
/// attribute maps encoded from the records' shared lists (`spans_logs/writer.rs`). Returns its
/// size.
pub(crate) fn write_sorted<R: StoredRecord>(
    path: &Path,
    rows: &[&R],
    batch_rows: usize,
) -> Result<u64> {
    crate::spans_logs::writer::write_records(path, rows, batch_rows)
}

/// [`write_sorted`] through `ArrowWriter` alone, every column built into the batches: the
/// file the shared-list writer must match (tests and the `flush_stages` bench).
pub(crate) fn write_sorted_arrow<R: StoredRecord>(
    path: &Path,
    rows: &[&R],
    batch_rows: usize,
) -> Result<u64> {
    let key = sort_key(R::SIGNAL);
    let mut writer: Option<DurableWriter> = None;
    for chunk in rows.chunks(batch_rows.max(1)) {
        let batch = R::to_batch(chunk)?;
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(parquet_io::signal_writer(path, batch.schema(), key)?),
        };
        w.write(&batch)?;
    }
    match writer {
        Some(w) => w.finish(),
        None => Err(parquet_io::bad(path, "no rows to write")),
    }
}

#[cfg(test)]
mod tests {
    use crate::model::records::LogRecord;
    use crate::model::records::SpanRecord;
    use crate::spans_logs::order::FlushOrder;
    use std::sync::Arc;

    use arrow::array::{Array, FixedSizeBinaryArray, StringArray, TimestampNanosecondArray};
    use arrow::record_batch::RecordBatch;

    use super::*;
    use crate::spans_logs::compact::merge::sort_batch;

    /// The key columns of `batch`, row by row, as bytes and times.
    fn keys(batch: &RecordBatch, key: &[&str]) -> Vec<(Vec<u8>, i64)> {
        let col = |i: usize| batch.column_by_name(key[i]).unwrap();
        let first = col(0);
        let time = col(1)
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap();
        (0..batch.num_rows())
            .map(|i| {
                let k = match first.as_any().downcast_ref::<FixedSizeBinaryArray>() {
                    Some(ids) => ids.value(i).to_vec(),
                    None => first
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .unwrap()
                        .value(i)
                        .as_bytes()
                        .to_vec(),
                };
                (k, time.value(i))
            })
            .collect()
    }

    /// Rows sorted by [`FlushOrder`] have the key order Arrow's sort gives the batch.
    fn same_order_as_arrow<R: StoredRecord + FlushOrder>(recs: &[R]) {
        let key = sort_key(R::SIGNAL);
        let mut rows: Vec<&R> = recs.iter().collect();
        R::sort_rows(&mut rows);
        let ours = R::to_batch(&rows).unwrap();
        let all: Vec<&R> = recs.iter().collect();
        let arrow = sort_batch(&R::to_batch(&all).unwrap(), key).unwrap();
        assert_eq!(keys(&ours, key), keys(&arrow, key));
    }

    /// Records of `R` read back from the file at `path`, in file order.
    fn read_back<R: StoredRecord>(path: &Path) -> Vec<R> {
        let mut out = Vec::new();
        for b in crate::storage::parquet_io::open_batches(path).unwrap() {
            out.extend(R::from_batch(&b.unwrap(), path).unwrap());
        }
        out
    }

    #[test]
    fn a_flush_larger_than_its_batch_bound_round_trips_exactly() {
        use crate::model::anyvalue::AnyValue;
        use crate::model::records::{Scope, SpanEvent};
        let dir = tempfile::tempdir().unwrap();
        let resources: Vec<Arc<crate::model::anyvalue::Attributes>> = (0..3)
            .map(|r| Arc::new(vec![("host".to_owned(), AnyValue::String(format!("h{r}")))]))
            .collect();
        let scope = Arc::new(Scope {
            name: "lib".into(),
            version: "2".into(),
            attributes: vec![("team".to_owned(), AnyValue::String("core".into()))],
        });
        let spans: Vec<SpanRecord> = (0..1_000u32)
            .map(|i| {
                let x = i.wrapping_mul(2_654_435_761);
                let mut trace_id = [0u8; 16];
                trace_id[..4].copy_from_slice(&x.to_be_bytes());
                SpanRecord {
                    trace_id,
                    span_id: (u64::from(i) + 1).to_le_bytes(),
                    service_name: format!("svc{}", i % 5),
                    name: format!("op{}", i % 7),
                    start_ns: i64::from(x % 1_000),
                    end_ns: i64::from(x % 1_000) + 10,
                    attributes: vec![("i".into(), AnyValue::Int(i64::from(i)))],
                    resource_attributes: resources[(i / 100 % 3) as usize].clone(),
                    scope: scope.clone(),
                    events: (0..i % 3)
                        .map(|e| SpanEvent {
                            time_ns: i64::from(e),
                            name: format!("e{e}"),
                            ..SpanEvent::default()
                        })
                        .collect(),
                    ..SpanRecord::default()
                }
            })
            .collect();
        let mut rows: Vec<&SpanRecord> = spans.iter().collect();
        SpanRecord::sort_rows(&mut rows);
        // 1,000 rows in batches of 64 (the last one short), and in one batch.
        let chunked = dir.path().join("chunked.parquet");
        write_sorted(&chunked, &rows, 64).unwrap();
        let whole = dir.path().join("whole.parquet");
        write_sorted(&whole, &rows, rows.len()).unwrap();
        let want: Vec<SpanRecord> = rows.iter().map(|r| (*r).clone()).collect();
        assert_eq!(read_back::<SpanRecord>(&chunked), want);
        assert_eq!(read_back::<SpanRecord>(&whole), want);

        let logs: Vec<LogRecord> = (0..300i64)
            .map(|i| LogRecord {
                time_ns: i * 7 % 300,
                service_name: format!("svc{}", i % 4),
                body: Some(AnyValue::String(format!("line {i}"))),
                resource_attributes: resources[(i % 3) as usize].clone(),
                ..LogRecord::default()
            })
            .collect();
        let mut rows: Vec<&LogRecord> = logs.iter().collect();
        LogRecord::sort_rows(&mut rows);
        let path = dir.path().join("logs.parquet");
        write_sorted(&path, &rows, 7).unwrap();
        let want: Vec<LogRecord> = rows.iter().map(|r| (*r).clone()).collect();
        assert_eq!(read_back::<LogRecord>(&path), want);
        // Nothing to write is an error, not an empty file.
        assert!(write_sorted::<LogRecord>(&dir.path().join("none.parquet"), &[], 7).is_err());
    }

    #[test]
    fn flush_order_of_spans_and_logs_is_arrows_sort_order() {
        // Ids with high bytes (signed vs unsigned compare), equal ids with different
        // times, and times on both sides of zero.
        let mut spans = Vec::new();
        let mut logs = Vec::new();
        for i in 0..200u32 {
            let b = (i.wrapping_mul(2_654_435_761) >> 7) as u8;
            let mut trace_id = [0u8; 16];
            trace_id[0] = b;
            trace_id[15] = (i % 3) as u8;
            let t = i64::from(i % 7) * 1_000 - 3_000;
            spans.push(SpanRecord {
                trace_id,
                span_id: [1; 8],
                start_ns: t,
                end_ns: t,
                ..SpanRecord::default()
            });
            let service = ["b", "a", "ä", "ab", "B", ""][(b % 6) as usize];
            logs.push(LogRecord {
                time_ns: t,
                service_name: service.to_owned(),
                resource_attributes: Arc::default(),
                ..LogRecord::default()
            });
        }
        same_order_as_arrow(&spans);
        same_order_as_arrow(&logs);
    }
}
