//! Which rows of a spans or logs batch a [`RecordPredicate`] deletes: its conditions
//! resolved against the signal's table once ([`RowFilter::new`]), then evaluated over
//! Arrow columns, a batch at a time, as SQL over the same table would read them.
//!
//! - A column compares its text form: strings as they are, integers in decimal, ids
//!   (`trace_id`, `span_id`) in lowercase hex. A null never matches.
//! - An attribute compares the map's text form (`docs/formats/spans-logs.md`, "Attribute
//!   values"); a span attribute stored in a well-known column (`http.route` in
//!   `http_route`) matches there too, so files of every version match alike.
//! - A file without a column the predicate names (one written before it existed) has no
//!   row where it matches.

use arrow::array::{
    Array, ArrayRef, BooleanArray, FixedSizeBinaryArray, MapArray, StringArray,
    TimestampNanosecondArray,
};
use arrow::compute::cast;
use arrow::compute::kernels::cmp::eq;
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;

use crate::Result;
use crate::model::delete::{RecordField, RecordPredicate, invalid};
use crate::signal_kind::Signal;
use crate::spans_logs::spans::columns::span_attribute_column;

/// One resolved condition.
#[derive(Debug, Clone)]
enum Cond {
    /// A top-level column's text form equals the value.
    Column(String, String),
    /// Map column `map` holds `key` with the value; or, for a well-known span attribute,
    /// its column (`known`) holds it.
    Map {
        map: &'static str,
        key: String,
        value: String,
        known: Option<&'static str>,
    },
}

/// A [`RecordPredicate`] resolved for one signal.
#[derive(Debug, Clone)]
pub(crate) struct RowFilter {
    time: &'static str,
    start_ns: i64,
    end_ns: i64,
    conds: Vec<Cond>,
    /// Rows any of these matches are kept (a retention filter's longer ones).
    unless: Vec<RowFilter>,
}

impl RowFilter {
    /// Resolves `pred` against `signal`'s table (`schema`): a bare name is a column when
    /// the table has one of a comparable type, an error when its type is not (a map, a
    /// time, a list), and an attribute key otherwise.
    pub(crate) fn new(signal: Signal, schema: &Schema, pred: &RecordPredicate) -> Result<Self> {
        pred.check()?;
        let time = match signal {
            Signal::Traces => "start_time",
            _ => "time",
        };
        let known = |key: &str| match signal {
            Signal::Traces => span_attribute_column(key).map(|(c, _)| c),
            _ => None,
        };
        let mut conds = Vec::new();
        for c in &pred.conditions {
            let value = c.value.clone();
            conds.push(match &c.field {
                RecordField::Name(name) => match schema.field_with_name(name) {
                    Ok(f) if comparable(f.data_type()) => {
                        let value = match f.data_type() {
                            DataType::FixedSizeBinary(_) => value.to_ascii_lowercase(),
                            _ => value,
                        };
                        Cond::Column(name.clone(), value)
                    }
                    Ok(f) => {
                        return Err(invalid(format!(
                            "column {name} ({}) cannot be compared to a string: compare \
                             attributes['key'] or resource_attributes['key'], and give the \
                             time range as start and end",
                            f.data_type()
                        )));
                    }
                    Err(_) => Cond::Map {
                        map: "attributes",
                        known: known(name),
                        key: name.clone(),
                        value,
                    },
                },
                RecordField::Attribute(key) => Cond::Map {
                    map: "attributes",
                    known: known(key),
                    key: key.clone(),
                    value,
                },
                RecordField::ResourceAttribute(key) => Cond::Map {
                    map: "resource_attributes",
                    known: None,
                    key: key.clone(),
                    value,
                },
            });
        }
        Ok(Self {
            time,
            start_ns: pred.start_ns,
            end_ns: pred.end_ns,
            conds,
            unless: Vec::new(),
        })
    }

    /// This filter, but keeping the rows any of `others` matches.
    pub(crate) fn unless(mut self, others: Vec<RowFilter>) -> Self {
        self.unless = others;
        self
    }

    /// The ms range (inclusive) a file must meet to hold a deleted row.
    pub(crate) fn ms_range(&self) -> (i64, i64) {
        crate::spans_logs::read::ms_range(self.start_ns, self.end_ns)
    }

    /// The top-level columns the filter reads.
    pub(crate) fn columns(&self) -> Vec<&str> {
        let mut out = vec![self.time];
        for c in &self.conds {
            match c {
                Cond::Column(name, _) => out.push(name),
                Cond::Map { map, known, .. } => {
                    out.push(map);
                    out.extend(known.iter().copied());
                }
            }
        }
        for u in &self.unless {
            out.extend(u.columns());
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Per row of `batch`: whether the predicate deletes it.
    pub(crate) fn deletes(&self, batch: &RecordBatch) -> Result<Vec<bool>> {
        let n = batch.num_rows();
        let Some(time) = batch
            .column_by_name(self.time)
            .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
        else {
            return Err(invalid(format!("a file without its {} column", self.time)));
        };
        let mut out: Vec<bool> = (0..n)
            .map(|i| time.is_valid(i) && (self.start_ns..=self.end_ns).contains(&time.value(i)))
            .collect();
        for c in &self.conds {
            if !out.contains(&true) {
                break;
            }
            let hits = match c {
                Cond::Column(name, value) => column_equals(batch.column_by_name(name), value, n)?,
                Cond::Map {
                    map,
                    key,
                    value,
                    known,
                } => {
                    let mut hits = map_has(batch.column_by_name(map), key, value, n);
                    if let Some(col) = known {
                        let also = column_equals(batch.column_by_name(col), value, n)?;
                        for (h, a) in hits.iter_mut().zip(also) {
                            *h |= a;
                        }
                    }
                    hits
                }
            };
            for (o, h) in out.iter_mut().zip(hits) {
                *o &= h;
            }
        }
        for u in &self.unless {
            if !out.contains(&true) {
                break;
            }
            for (o, kept) in out.iter_mut().zip(u.deletes(batch)?) {
                *o &= !kept;
            }
        }
        Ok(out)
    }
}

/// Whether a column of this type has a text form a condition compares.
fn comparable(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Boolean
            | DataType::FixedSizeBinary(_)
    )
}

/// Per row: whether `col`'s text form equals `value` (all false without the column).
fn column_equals(col: Option<&ArrayRef>, value: &str, rows: usize) -> Result<Vec<bool>> {
    let Some(col) = col else {
        return Ok(vec![false; rows]);
    };
    if let Some(ids) = col.as_any().downcast_ref::<FixedSizeBinaryArray>() {
        let mut buf = String::new();
        return Ok((0..ids.len())
            .map(|i| {
                ids.is_valid(i) && {
                    buf.clear();
                    for b in ids.value(i) {
                        buf.push_str(&format!("{b:02x}"));
                    }
                    buf == value
                }
            })
            .collect());
    }
    let text = cast(col, &DataType::Utf8).map_err(|e| invalid(format!("comparing: {e}")))?;
    let want = StringArray::new_scalar(value);
    let hits: BooleanArray = eq(&text, &want).map_err(|e| invalid(format!("comparing: {e}")))?;
    Ok((0..hits.len())
        .map(|i| hits.is_valid(i) && hits.value(i))
        .collect())
}

/// Per row: whether the map column `col` has `key` with the text `value` (all false
/// without the column, or when it is not a map of strings).
fn map_has(col: Option<&ArrayRef>, key: &str, value: &str, rows: usize) -> Vec<bool> {
    let mut out = vec![false; rows];
    let Some(map) = col.and_then(|c| c.as_any().downcast_ref::<MapArray>()) else {
        return out;
    };
    let (Some(keys), Some(values)) = (
        map.keys().as_any().downcast_ref::<StringArray>(),
        map.values().as_any().downcast_ref::<StringArray>(),
    ) else {
        return out;
    };
    let offsets = map.value_offsets();
    for (i, o) in out.iter_mut().enumerate().take(map.len()) {
        if map.is_null(i) {
            continue;
        }
        let (lo, hi) = (offsets[i] as usize, offsets[i + 1] as usize);
        *o = (lo..hi)
            .any(|j| keys.value(j) == key && values.is_valid(j) && values.value(j) == value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::anyvalue::AnyValue;
    use crate::model::records::SpanRecord;
    use crate::spans_logs::spans::arrow::spans_schema;
    use crate::spans_logs::store::StoredRecord;

    fn span(i: u8, attrs: Vec<(&str, AnyValue)>) -> SpanRecord {
        SpanRecord {
            trace_id: [i; 16],
            span_id: [i; 8],
            service_name: if i.is_multiple_of(2) { "even" } else { "odd" }.into(),
            name: "op".into(),
            start_ns: i64::from(i) * 1_000,
            end_ns: i64::from(i) * 1_000 + 1,
            attributes: attrs.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            ..SpanRecord::default()
        }
    }

    #[test]
    fn conditions_match_columns_attributes_and_well_known_columns() {
        let spans = [
            span(
                1,
                vec![("client.address", AnyValue::String("1.2.3.4".into()))],
            ),
            span(
                2,
                vec![("client.address", AnyValue::String("1.2.3.4".into()))],
            ),
            span(3, vec![("http.route", AnyValue::String("/x".into()))]),
            span(4, vec![("http.response.status_code", AnyValue::Int(500))]),
        ];
        let batch = SpanRecord::to_batch(&spans.iter().collect::<Vec<_>>()).unwrap();
        let schema = spans_schema();
        let run = |text: &str, start, end| {
            let p = RecordPredicate::parse(text, start, end).unwrap();
            RowFilter::new(Signal::Traces, &schema, &p)
                .unwrap()
                .deletes(&batch)
                .unwrap()
        };
        assert_eq!(
            run("client.address = '1.2.3.4'", 0, 10_000),
            [true, true, false, false]
        );
        assert_eq!(
            run("client.address = '1.2.3.4'", 1_500, 10_000),
            [false, true, false, false],
            "the time range counts"
        );
        assert_eq!(
            run(
                "client.address = '1.2.3.4' AND service_name = 'odd'",
                0,
                10_000
            ),
            [true, false, false, false]
        );
        assert_eq!(
            run("http.route = '/x'", 0, 10_000),
            [false, false, true, false]
        );
        assert_eq!(
            run("attributes['http.response.status_code'] = '500'", 0, 10_000),
            [false, false, false, true]
        );
        let hex = "03".repeat(16);
        assert_eq!(
            run(&format!("trace_id = '{}'", hex.to_uppercase()), 0, 10_000),
            [false, false, true, false]
        );
        let p = RecordPredicate::parse("attributes_x = 'a' AND start_time = '1'", 0, 1).unwrap();
        let e = RowFilter::new(Signal::Traces, &schema, &p).unwrap_err();
        assert!(e.to_string().contains("cannot be compared"), "{e}");
    }
}
