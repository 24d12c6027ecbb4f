//! The columns of the logs table that are not attribute maps (`docs/formats/spans-logs.md`),
//! filled in one pass over a batch's records, with the records a few rows ahead
//! prefetched: the same reasons as `spans_logs/spans/columns.rs` (records in file order lie
//! scattered over the heap, and reading each once per column waited on a cache miss per
//! column and row).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, NullBufferBuilder, StringBuilder, UInt32Array};

use crate::Result;
use crate::cache_hint::{touch, touch_slice, touch_struct};
use crate::model::anyvalue::AnyValue;
use crate::model::records::LogRecord;
use crate::spans_logs::arrow::{Column, IdColumn, mem, times};

/// Rows ahead of the one being built that [`prefetch`] asks for a record's struct, and
/// then (its pointers readable by then) its strings and attribute list.
const AHEAD_RECORD: usize = 16;
const AHEAD_PARTS: usize = 8;

/// The logs columns other than the attribute maps, for one batch.
pub(crate) struct LogColumns {
    time: Vec<i64>,
    observed: Vec<i64>,
    observed_valid: NullBufferBuilder,
    severity_number: Vec<i32>,
    severity_text: StringBuilder,
    body: StringBuilder,
    body_type: StringBuilder,
    service_name: StringBuilder,
    trace_id: IdColumn<16>,
    span_id: IdColumn<8>,
    flags: Vec<u32>,
    scope_name: StringBuilder,
    scope_version: StringBuilder,
    dropped_attributes: Vec<u32>,
}

impl LogColumns {
    pub(crate) fn with_capacity(rows: usize) -> Self {
        let text = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        Self {
            time: Vec::with_capacity(rows),
            observed: Vec::with_capacity(rows),
            observed_valid: NullBufferBuilder::new(rows),
            severity_number: Vec::with_capacity(rows),
            severity_text: text(5),
            body: text(64),
            body_type: text(6),
            service_name: text(16),
            trace_id: IdColumn::with_capacity(rows),
            span_id: IdColumn::with_capacity(rows),
            flags: Vec::with_capacity(rows),
            scope_name: text(16),
            scope_version: text(8),
            dropped_attributes: Vec::with_capacity(rows),
        }
    }

    /// Appends one record's values.
    pub(crate) fn push(&mut self, r: &LogRecord) -> Result<()> {
        self.time.push(r.time_ns);
        self.observed.push(r.observed_time_ns);
        self.observed_valid.append(r.observed_time_ns != 0);
        self.severity_number.push(r.severity_number);
        self.severity_text.append_value(&r.severity_text);
        match &r.body {
            Some(body) => {
                // Written into the builder's buffer as it renders, no `String` between.
                body.write_text(&mut self.body).map_err(mem)?;
                self.body.append_value("");
                self.body_type
                    .append_value(body.type_name().unwrap_or("string"));
            }
            None => {
                self.body.append_null();
                self.body_type.append_null();
            }
        }
        self.service_name.append_value(&r.service_name);
        self.trace_id.push(r.trace_id);
        self.span_id.push(r.span_id);
        self.flags.push(r.flags);
        self.scope_name.append_value(&r.scope.name);
        self.scope_version.append_value(&r.scope.version);
        self.dropped_attributes.push(r.dropped_attributes_count);
        Ok(())
    }

    /// The arrays, in the table's order: the columns before the attribute maps (`time` to
    /// `flags`), then the two scope columns and the dropped count.
    pub(crate) fn finish(self) -> Result<(Vec<Column>, [Column; 3])> {
        let Self {
            time,
            observed,
            mut observed_valid,
            severity_number,
            mut severity_text,
            mut body,
            mut body_type,
            mut service_name,
            trace_id,
            span_id,
            flags,
            mut scope_name,
            mut scope_version,
            dropped_attributes,
        } = self;
        let head: Vec<Column> = vec![
            ("time", times(time, None), false),
            (
                "observed_time",
                times(observed, observed_valid.finish()),
                true,
            ),
            (
                "severity_number",
                Arc::new(Int32Array::from(severity_number)),
                false,
            ),
            ("severity_text", Arc::new(severity_text.finish()), false),
            ("body", Arc::new(body.finish()), true),
            ("body_type", Arc::new(body_type.finish()), true),
            ("service_name", Arc::new(service_name.finish()), false),
            ("trace_id", trace_id.finish()?, true),
            ("span_id", span_id.finish()?, true),
            ("flags", Arc::new(UInt32Array::from(flags)), false),
        ];
        let tail = [
            (
                "scope_name",
                Arc::new(scope_name.finish()) as ArrayRef,
                false,
            ),
            ("scope_version", Arc::new(scope_version.finish()), false),
            (
                "dropped_attributes_count",
                Arc::new(UInt32Array::from(dropped_attributes)),
                false,
            ),
        ];
        Ok((head, tail))
    }
}

/// Asks the CPU to start loading the records the build will reach a few rows after row
/// `i` of `logs` (as `spans_logs::spans::columns::prefetch` does for spans).
pub(crate) fn prefetch(logs: &[&LogRecord], i: usize) {
    if let Some(r) = logs.get(i + AHEAD_RECORD) {
        touch_struct(*r);
    }
    if let Some(r) = logs.get(i + AHEAD_PARTS) {
        touch_slice(&r.attributes);
        touch(r.service_name.as_ptr());
        touch(r.severity_text.as_ptr());
        if let Some(AnyValue::String(body)) = &r.body {
            touch(body.as_ptr());
        }
    }
}
