//! Reading back the rows of a trace search's SQL: `(trace_id, time)` pairs, the shape the
//! Jaeger search and TraceQL's candidate queries both select.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::TimestampNanosecondType;

/// The `(trace id, time in ns)` rows of `batches`, whose first column is the 16-byte
/// `trace_id` and second a nanosecond timestamp; rows of another shape are skipped.
pub fn trace_rows(batches: &[RecordBatch]) -> Vec<([u8; 16], i64)> {
    let mut out = Vec::new();
    for b in batches {
        let (Some(ids), Some(last)) = (
            b.column(0).as_fixed_size_binary_opt(),
            b.column(1).as_primitive_opt::<TimestampNanosecondType>(),
        ) else {
            continue;
        };
        for i in 0..ids.len() {
            if let Ok(id) = <[u8; 16]>::try_from(ids.value(i)) {
                out.push((id, last.value(i)));
            }
        }
    }
    out
}
