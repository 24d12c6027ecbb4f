//! The columns of the spans table that are not nested (`docs/formats/spans-logs.md`),
//! filled in one pass over a batch's records: each record is read once, while it is in
//! cache, instead of once per column. A flush's records lie scattered over the heap, so
//! those reads were most of what building a batch cost (`docs/benchmarks-history.md`, "One pass
//! over the records").

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int32Array, Int64Array, Int64Builder, StringArray, StringBuilder, UInt32Array,
};

use crate::Result;
use crate::cache_hint::{touch, touch_slice, touch_struct};
use crate::model::anyvalue::{AnyValue, Attributes};
use crate::model::records::SpanRecord;
use crate::spans_logs::arrow::{Column, IdColumn, times};

/// Well-known string attributes copied into columns of their own (column, attribute key).
pub(crate) const STRING_COLUMNS: [(&str, &str); 5] = [
    ("http_request_method", "http.request.method"),
    ("http_route", "http.route"),
    ("db_system", "db.system"),
    ("rpc_method", "rpc.method"),
    ("error_type", "error.type"),
];

/// The [`STRING_COLUMNS`] index of attribute key `key`, if it names one. A `match` on the
/// key compares its length first and at most one key's bytes, where a search of the table
/// compared the bytes of every key of the same length.
pub(crate) fn string_column(key: &str) -> Option<usize> {
    match key {
        "http.request.method" => Some(0),
        "http.route" => Some(1),
        "db.system" => Some(2),
        "rpc.method" => Some(3),
        "error.type" => Some(4),
        _ => None,
    }
}

/// The type of value a well-known span attribute column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownType {
    /// `Utf8`: the attribute when its value is a string.
    String,
    /// `Int64`: the attribute when its value is an int.
    Int,
}

/// The `spans` column that holds span attribute `key` when its value is of the column's
/// type, and that type; `None` for a key kept only in the `attributes` map. Such an
/// attribute is in its column only; sent with another type, it is in the map only.
///
/// ```
/// use strata_engine::{KnownType, span_attribute_column};
/// assert_eq!(span_attribute_column("http.route"), Some(("http_route", KnownType::String)));
/// assert_eq!(
///     span_attribute_column("http.response.status_code"),
///     Some(("http_response_status_code", KnownType::Int))
/// );
/// assert_eq!(span_attribute_column("http.url"), None);
/// ```
pub fn span_attribute_column(key: &str) -> Option<(&'static str, KnownType)> {
    match string_column(key) {
        Some(i) => Some((STRING_COLUMNS[i].0, KnownType::String)),
        None => (key == STATUS_CODE_KEY).then_some(("http_response_status_code", KnownType::Int)),
    }
}

/// The attribute the `http_response_status_code` column holds, when its value is an int.
pub(crate) const STATUS_CODE_KEY: &str = "http.response.status_code";

/// Whether attribute (`key`, `value`) goes to a well-known column and so stays out of the
/// `attributes` map: a string under a [`STRING_COLUMNS`] key, or an int under
/// [`STATUS_CODE_KEY`]. A value of another type under those keys stays in the map.
pub(crate) fn in_own_column(key: &str, value: &AnyValue) -> bool {
    match value {
        AnyValue::String(_) => string_column(key).is_some(),
        AnyValue::Int(_) => key == STATUS_CODE_KEY,
        _ => false,
    }
}

/// The well-known columns of a batch being read back, to return their attributes to a
/// span's list ([`KnownColumns::restore`]).
pub(crate) struct KnownColumns<'a> {
    strings: [&'a StringArray; 5],
    status_code: &'a Int64Array,
}

impl<'a> KnownColumns<'a> {
    pub(crate) fn new(strings: [&'a StringArray; 5], status_code: &'a Int64Array) -> Self {
        Self {
            strings,
            status_code,
        }
    }

    /// Row `i`'s attributes: those in the well-known columns first, in the columns' order,
    /// then `map` (row `i`'s map entries) in the order sent. Files written before the map
    /// left the columns' attributes out hold them in both; those map entries are skipped.
    pub(crate) fn restore(&self, i: usize, map: Attributes) -> Attributes {
        let mut attrs = Attributes::with_capacity(map.len() + 2);
        for (col, (_, key)) in self.strings.iter().zip(STRING_COLUMNS) {
            if col.is_valid(i) {
                attrs.push((key.to_owned(), AnyValue::String(col.value(i).to_owned())));
            }
        }
        if self.status_code.is_valid(i) {
            let code = self.status_code.value(i);
            attrs.push((STATUS_CODE_KEY.to_owned(), AnyValue::Int(code)));
        }
        if attrs.is_empty() {
            return map;
        }
        let restored = attrs.len();
        for (k, v) in map {
            // A column holds its key's value exactly when it is of the column's type.
            if !(in_own_column(&k, &v) && attrs[..restored].iter().any(|(r, _)| *r == k)) {
                attrs.push((k, v));
            }
        }
        attrs
    }
}

/// The columns of `spans` that are not nested, for one batch: a row per [`TopColumns::push`].
pub(crate) struct TopColumns {
    trace_id: IdColumn<16>,
    span_id: IdColumn<8>,
    parent_span_id: IdColumn<8>,
    trace_state: StringBuilder,
    flags: Vec<u32>,
    service_name: StringBuilder,
    name: StringBuilder,
    kind: Vec<i32>,
    start: Vec<i64>,
    end: Vec<i64>,
    duration: Vec<i64>,
    status_code: Vec<i32>,
    status_message: StringBuilder,
    /// The [`STRING_COLUMNS`], in order.
    known: [StringBuilder; 5],
    http_status: Int64Builder,
    scope_name: StringBuilder,
    scope_version: StringBuilder,
    dropped_attributes: Vec<u32>,
    dropped_events: Vec<u32>,
    dropped_links: Vec<u32>,
}

impl TopColumns {
    pub(crate) fn with_capacity(rows: usize) -> Self {
        let text = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        Self {
            trace_id: IdColumn::with_capacity(rows),
            span_id: IdColumn::with_capacity(rows),
            parent_span_id: IdColumn::with_capacity(rows),
            trace_state: text(0),
            flags: Vec::with_capacity(rows),
            service_name: text(16),
            name: text(24),
            kind: Vec::with_capacity(rows),
            start: Vec::with_capacity(rows),
            end: Vec::with_capacity(rows),
            duration: Vec::with_capacity(rows),
            status_code: Vec::with_capacity(rows),
            status_message: text(0),
            known: std::array::from_fn(|_| text(0)),
            http_status: Int64Builder::with_capacity(rows),
            scope_name: text(16),
            scope_version: text(8),
            dropped_attributes: Vec::with_capacity(rows),
            dropped_events: Vec::with_capacity(rows),
            dropped_links: Vec::with_capacity(rows),
        }
    }

    /// Appends one span's values.
    pub(crate) fn push(&mut self, s: &SpanRecord) {
        self.trace_id.push(Some(s.trace_id));
        self.span_id.push(Some(s.span_id));
        self.parent_span_id.push(s.parent_span_id);
        self.trace_state.append_value(&s.trace_state);
        self.flags.push(s.flags);
        self.service_name.append_value(&s.service_name);
        self.name.append_value(&s.name);
        self.kind.push(s.kind);
        self.start.push(s.start_ns);
        self.end.push(s.end_ns);
        self.duration.push(s.end_ns.saturating_sub(s.start_ns));
        self.status_code.push(s.status_code);
        self.status_message.append_value(&s.status_message);
        // Keys are unique in a list, so each column matches at most one attribute.
        let mut found: [Option<&str>; 5] = [None; 5];
        let mut code = None;
        for (k, v) in &s.attributes {
            match v {
                AnyValue::String(v) => {
                    if let Some(i) = string_column(k) {
                        found[i] = Some(v.as_str());
                    }
                }
                AnyValue::Int(v) if k == STATUS_CODE_KEY => code = Some(*v),
                _ => {}
            }
        }
        for (b, v) in self.known.iter_mut().zip(found) {
            b.append_option(v);
        }
        self.http_status.append_option(code);
        self.scope_name.append_value(&s.scope.name);
        self.scope_version.append_value(&s.scope.version);
        self.dropped_attributes.push(s.dropped_attributes_count);
        self.dropped_events.push(s.dropped_events_count);
        self.dropped_links.push(s.dropped_links_count);
    }

    /// The arrays, in the table's order: the columns before the attribute maps (ids to
    /// `http_response_status_code`), the two scope columns, the three dropped counts.
    pub(crate) fn finish(self) -> Result<(Vec<Column>, [Column; 2], [Column; 3])> {
        let Self {
            trace_id,
            span_id,
            parent_span_id,
            mut trace_state,
            flags,
            mut service_name,
            mut name,
            kind,
            start,
            end,
            duration,
            status_code,
            mut status_message,
            known,
            mut http_status,
            mut scope_name,
            mut scope_version,
            dropped_attributes,
            dropped_events,
            dropped_links,
        } = self;
        let u32s = |v: Vec<u32>| -> ArrayRef { Arc::new(UInt32Array::from(v)) };
        let i32s = |v: Vec<i32>| -> ArrayRef { Arc::new(Int32Array::from(v)) };
        let mut head: Vec<Column> = vec![
            ("trace_id", trace_id.finish()?, false),
            ("span_id", span_id.finish()?, false),
            ("parent_span_id", parent_span_id.finish()?, true),
            ("trace_state", Arc::new(trace_state.finish()), false),
            ("flags", u32s(flags), false),
            ("service_name", Arc::new(service_name.finish()), false),
            ("name", Arc::new(name.finish()), false),
            ("kind", i32s(kind), false),
            ("start_time", times(start, None), false),
            ("end_time", times(end, None), false),
            ("duration_ns", Arc::new(Int64Array::from(duration)), false),
            ("status_code", i32s(status_code), false),
            ("status_message", Arc::new(status_message.finish()), false),
        ];
        for ((col, _), mut values) in STRING_COLUMNS.iter().zip(known) {
            head.push((col, Arc::new(values.finish()), true));
        }
        head.push((
            "http_response_status_code",
            Arc::new(http_status.finish()),
            true,
        ));
        let scope = [
            (
                "scope_name",
                Arc::new(scope_name.finish()) as ArrayRef,
                false,
            ),
            ("scope_version", Arc::new(scope_version.finish()), false),
        ];
        let dropped = [
            ("dropped_attributes_count", u32s(dropped_attributes), false),
            ("dropped_events_count", u32s(dropped_events), false),
            ("dropped_links_count", u32s(dropped_links), false),
        ];
        Ok((head, scope, dropped))
    }
}

/// How far ahead of the row being built [`prefetch`] asks for each part of a record: its
/// struct first, then (once the struct is in cache and its pointers can be read) its
/// attribute list and strings, then the attributes' keys and values.
const AHEAD_RECORD: usize = 16;
const AHEAD_LISTS: usize = 8;
const AHEAD_TEXT: usize = 4;

/// Asks the CPU to start loading the memory of the records the build will reach a few rows
/// after row `i` of `spans`. A flush reads its records in trace order, which scatters
/// them (and the ~20 allocations each one points to) over the heap: every part was a
/// cache miss the build waited on, one after the other.
pub(crate) fn prefetch(spans: &[&SpanRecord], i: usize) {
    if let Some(s) = spans.get(i + AHEAD_RECORD) {
        touch_struct(*s);
    }
    if let Some(s) = spans.get(i + AHEAD_LISTS) {
        touch_slice(&s.attributes);
        touch(s.service_name.as_ptr());
        touch(s.name.as_ptr());
    }
    if let Some(s) = spans.get(i + AHEAD_TEXT) {
        for (k, v) in &s.attributes {
            touch(k.as_ptr());
            if let AnyValue::String(v) = v {
                touch(v.as_ptr());
            }
        }
    }
}
