//! The steps of a span or log flush one at a time, for `benches/benches/span_flush.rs`
//! and `log_flush.rs` to measure apart: the flush itself runs them in one call
//! (`spans_logs::flush::write_sorted`), which only a profile can split. Not a stable API: hidden from the docs, used by the benches.

use std::io::Write;
use std::path::Path;

use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;

use crate::Result;
use crate::model::records::{LogRecord, SpanRecord};
use crate::signal_kind::Signal;
use crate::spans_logs::order::{FlushOrder, sort_key};
use crate::storage::parquet_io::{bad, signal_props};

/// Sorts spans into the flush's file order (trace id, start time).
pub fn sort_spans(rows: &mut [&SpanRecord]) {
    SpanRecord::sort_rows(rows);
}

/// Spans as one Arrow batch of the spans file's schema, in the order given (what the flush
/// builds for each batch of at most 8,192 rows).
pub fn spans_batch(rows: &[&SpanRecord]) -> Result<RecordBatch> {
    crate::spans_logs::spans::arrow::spans_batch(rows)
}

/// Sorts log records into the flush's file order (service, time).
pub fn sort_logs(rows: &mut [&LogRecord]) {
    LogRecord::sort_rows(rows);
}

/// Log records as one Arrow batch of the logs file's schema, in the order given (what the
/// flush builds for each batch of at most 8,192 rows).
pub fn logs_batch(rows: &[&LogRecord]) -> Result<RecordBatch> {
    crate::spans_logs::logs::arrow::logs_batch(rows)
}

/// `batch` in the flush's file order, sorted by its columns (what a head that keeps
/// Arrow batches instead of records would do at flush in place of [`sort_spans`] and
/// [`spans_batch`]).
pub fn sort_spans_batch(batch: &RecordBatch) -> Result<RecordBatch> {
    crate::spans_logs::compact::merge::sort_batch(batch, sort_key(Signal::Traces))
}

/// Encodes `batches` (in file order, one schema) as a spans Parquet file into `out`, with
/// the flush's writer properties (encodings, compression, statistics, bloom filter), and
/// returns `out`. No file, no fsync: the encoding's CPU alone.
pub fn write_spans<W: Write + Send>(out: W, batches: &[RecordBatch]) -> Result<W> {
    let here = Path::new("<memory>");
    let Some(first) = batches.first() else {
        return Err(bad(here, "no batches to write"));
    };
    let schema = first.schema();
    let props = signal_props(&schema, sort_key(Signal::Traces));
    let mut w = ArrowWriter::try_new(out, schema, Some(props)).map_err(|e| bad(here, e))?;
    for b in batches {
        w.write(b).map_err(|e| bad(here, e))?;
    }
    w.into_inner().map_err(|e| bad(here, e))
}

/// Writes sorted spans as one spans file at `path`, durably, as a flush does (batches of
/// 8,192 rows, the resource attribute maps encoded from the shared lists), or, if not
/// `shared`, through `ArrowWriter` alone with every column built into the batches.
/// Returns the file's size.
pub fn write_spans_file(path: &Path, rows: &[&SpanRecord], shared: bool) -> Result<u64> {
    let batch = crate::spans_logs::flush::FLUSH_BATCH_ROWS;
    if shared {
        crate::spans_logs::flush::write_sorted(path, rows, batch)
    } else {
        crate::spans_logs::flush::write_sorted_arrow(path, rows, batch)
    }
}
