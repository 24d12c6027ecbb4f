//! The spans table: [`SpanRecord`]s to Arrow and back (`docs/formats/spans-logs.md`).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, FixedSizeBinaryArray, Int32Array, Int64Array, ListArray, MapArray,
    StringArray, StructArray, TimestampNanosecondArray, UInt32Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{Field, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::Result;
use crate::model::records::{Scope, SpanEvent, SpanLink, SpanRecord};
use crate::spans_logs::arrow::{
    AttrBuilder, AttributeMaps, Cols, IdColumn, RenderedRows, batch_of, fields_of, mem, read_attrs,
    times,
};
use crate::spans_logs::spans::columns::{self, KnownColumns, STRING_COLUMNS, TopColumns};

/// The schema of spans files and of span snapshot batches.
pub fn spans_schema() -> SchemaRef {
    spans_batch(&[]).map_or_else(
        |_| Arc::new(arrow::datatypes::Schema::empty()),
        |b| b.schema(),
    )
}

fn list(struct_cols: Vec<(&str, ArrayRef, bool)>, lens: Vec<usize>) -> Result<ArrayRef> {
    let fields = fields_of(&struct_cols);
    let arrays: Vec<ArrayRef> = struct_cols.into_iter().map(|c| c.1).collect();
    let values = StructArray::try_new(fields.into(), arrays, None).map_err(mem)?;
    let item = Field::new_list_field(values.data_type().clone(), false);
    let list = ListArray::try_new(
        Arc::new(item),
        OffsetBuffer::from_lengths(lens),
        Arc::new(values),
        None,
    )
    .map_err(mem)?;
    Ok(Arc::new(list))
}

/// Spans as one batch, in the order given.
pub(crate) fn spans_batch(spans: &[&SpanRecord]) -> Result<RecordBatch> {
    spans_batch_with(spans, AttributeMaps::Built).map(|(batch, _)| batch)
}

/// [`spans_batch`], with the attribute maps built or deferred (`maps`): deferred, the
/// batch holds empty maps and the rows' own maps come back rendered. Maps inside events
/// and links are always built.
pub(crate) fn spans_batch_with(
    spans: &[&SpanRecord],
    maps: AttributeMaps,
) -> Result<(RecordBatch, RenderedRows)> {
    // Buffers sized up front: span attributes from the first spans, resource attributes
    // (the same few lists, shared) from the first span's.
    let mut attrs = AttrBuilder::for_rows(spans.len(), spans.iter().map(|s| &s.attributes));
    let mut resource = AttrBuilder::for_rows(
        spans.len(),
        spans.iter().take(1).map(|s| &*s.resource_attributes),
    );
    let mut scope = AttrBuilder::new();
    let mut top = TopColumns::with_capacity(spans.len());
    let (mut ev_attrs, mut ln_attrs) = (AttrBuilder::new(), AttrBuilder::new());
    let (mut ev_time, mut ev_name, mut ev_dropped) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ln_trace, mut ln_span) = (
        IdColumn::<16>::with_capacity(0),
        IdColumn::<8>::with_capacity(0),
    );
    let (mut ln_state, mut ln_dropped) = (Vec::new(), Vec::new());
    let (mut ev_lens, mut ln_lens) = (
        Vec::with_capacity(spans.len()),
        Vec::with_capacity(spans.len()),
    );
    for (i, s) in spans.iter().enumerate() {
        columns::prefetch(spans, i);
        top.push(s);
        attrs.append_unless(&s.attributes, columns::in_own_column)?;
        match maps {
            AttributeMaps::Built => resource.append_shared(&s.resource_attributes)?,
            AttributeMaps::Deferred => resource.append(&Vec::new())?,
        }
        scope.append_shared(&s.scope.attributes)?;
        ev_lens.push(s.events.len());
        for e in &s.events {
            ev_time.push(e.time_ns);
            ev_name.push(e.name.as_str());
            ev_dropped.push(e.dropped_attributes_count);
            ev_attrs.append(&e.attributes)?;
        }
        ln_lens.push(s.links.len());
        for l in &s.links {
            ln_trace.push(Some(l.trace_id));
            ln_span.push(Some(l.span_id));
            ln_state.push(l.trace_state.as_str());
            ln_dropped.push(l.dropped_attributes_count);
            ln_attrs.append(&l.attributes)?;
        }
    }
    let (attrs, attr_types, own) = attrs.finish_as(maps)?;
    let (resource, resource_types) = resource.finish()?;
    let (scope_attrs, scope_types) = scope.finish()?;
    let (ev_attrs, ev_types) = ev_attrs.finish()?;
    let (ln_attrs, ln_types) = ln_attrs.finish()?;
    let events = list(
        vec![
            ("time", times(ev_time, None), false),
            ("name", Arc::new(StringArray::from(ev_name)), false),
            ("attributes", ev_attrs, false),
            ("attribute_types", ev_types, false),
            (
                "dropped_attributes_count",
                Arc::new(UInt32Array::from(ev_dropped)),
                false,
            ),
        ],
        ev_lens,
    )?;
    let links = list(
        vec![
            ("trace_id", ln_trace.finish()?, false),
            ("span_id", ln_span.finish()?, false),
            ("trace_state", Arc::new(StringArray::from(ln_state)), false),
            ("attributes", ln_attrs, false),
            ("attribute_types", ln_types, false),
            (
                "dropped_attributes_count",
                Arc::new(UInt32Array::from(ln_dropped)),
                false,
            ),
        ],
        ln_lens,
    )?;
    let (mut cols, scope, dropped) = top.finish()?;
    cols.extend([
        ("attributes", attrs, false),
        ("attribute_types", attr_types, false),
        ("resource_attributes", resource, false),
        ("resource_attribute_types", resource_types, false),
    ]);
    cols.extend(scope);
    cols.extend([("events", events, false), ("links", links, false)]);
    cols.extend(dropped);
    // Last, and nullable: files written before them lack them (a reader of such a file
    // sees nulls, `docs/formats/spans-logs.md`), and the leaves of every column before
    // them keep their index.
    cols.extend([
        (SCOPE_ATTRIBUTES, scope_attrs, true),
        (SCOPE_ATTRIBUTE_TYPES, scope_types, true),
    ]);
    Ok((batch_of(cols)?, own))
}

/// The scope attributes columns (the last two of the table).
pub(crate) const SCOPE_ATTRIBUTES: &str = "scope_attributes";
/// Their types map.
pub(crate) const SCOPE_ATTRIBUTE_TYPES: &str = "scope_attribute_types";

/// The list column `name`'s struct values for row `i`.
fn items(c: &Cols<'_>, name: &str, i: usize) -> Result<StructArray> {
    let list = c.get::<ListArray>(name)?;
    list.value(i)
        .as_any()
        .downcast_ref::<StructArray>()
        .cloned()
        .ok_or_else(|| c.bad(format!("{name} is not a list of structs")))
}

fn field<'a, T: 'static>(c: &Cols<'_>, s: &'a StructArray, name: &str) -> Result<&'a T> {
    s.column_by_name(name)
        .and_then(|a| a.as_any().downcast_ref::<T>())
        .ok_or_else(|| c.bad(format!("field {name} is missing or mistyped")))
}

/// Spans back from a batch of the spans schema (file or memory).
pub fn spans_from_batch(batch: &RecordBatch) -> Result<Vec<SpanRecord>> {
    spans_from_batch_at(batch, Path::new("<batch>"))
}

/// [`spans_from_batch`], naming `path` in errors.
pub(crate) fn spans_from_batch_at(batch: &RecordBatch, path: &Path) -> Result<Vec<SpanRecord>> {
    let c = Cols { batch, path };
    let trace = c.get::<FixedSizeBinaryArray>("trace_id")?;
    let span = c.get::<FixedSizeBinaryArray>("span_id")?;
    let parent = c.get::<FixedSizeBinaryArray>("parent_span_id")?;
    let string = |n| c.get::<StringArray>(n);
    let (state, service, name, msg) = (
        string("trace_state")?,
        string("service_name")?,
        string("name")?,
        string("status_message")?,
    );
    let (scope_name, scope_version) = (string("scope_name")?, string("scope_version")?);
    let u32s = |n| c.get::<UInt32Array>(n);
    let (flags, dropped_a, dropped_e, dropped_l) = (
        u32s("flags")?,
        u32s("dropped_attributes_count")?,
        u32s("dropped_events_count")?,
        u32s("dropped_links_count")?,
    );
    let kind = c.get::<Int32Array>("kind")?;
    let status = c.get::<Int32Array>("status_code")?;
    let start = c.get::<TimestampNanosecondArray>("start_time")?;
    let end = c.get::<TimestampNanosecondArray>("end_time")?;
    let maps = |n| c.get::<MapArray>(n);
    let (attrs, attr_types) = (maps("attributes")?, maps("attribute_types")?);
    let (res, res_types) = (
        maps("resource_attributes")?,
        maps("resource_attribute_types")?,
    );
    let attrs_at =
        |kv: &MapArray, types: &MapArray, i| read_attrs(kv, types, i).map_err(|e| c.bad(e));
    // Files written before scope attributes lack the columns (SQL reads them as nulls).
    let scope_maps = match (
        batch.column_by_name(SCOPE_ATTRIBUTES),
        batch.column_by_name(SCOPE_ATTRIBUTE_TYPES),
    ) {
        (None, None) => None,
        _ => Some((maps(SCOPE_ATTRIBUTES)?, maps(SCOPE_ATTRIBUTE_TYPES)?)),
    };
    let scope_attrs_at = |i: usize| match scope_maps {
        Some((kv, types)) if kv.is_valid(i) && types.is_valid(i) => attrs_at(kv, types, i),
        _ => Ok(Vec::new()),
    };
    let known = KnownColumns::new(
        [
            string(STRING_COLUMNS[0].0)?,
            string(STRING_COLUMNS[1].0)?,
            string(STRING_COLUMNS[2].0)?,
            string(STRING_COLUMNS[3].0)?,
            string(STRING_COLUMNS[4].0)?,
        ],
        c.get::<Int64Array>("http_response_status_code")?,
    );
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let ev = items(&c, "events", i)?;
        let ev_time = field::<TimestampNanosecondArray>(&c, &ev, "time")?;
        let ev_name = field::<StringArray>(&c, &ev, "name")?;
        let ev_kv = field::<MapArray>(&c, &ev, "attributes")?;
        let ev_types = field::<MapArray>(&c, &ev, "attribute_types")?;
        let ev_dropped = field::<UInt32Array>(&c, &ev, "dropped_attributes_count")?;
        let events = (0..ev.len())
            .map(|j| {
                Ok(SpanEvent {
                    time_ns: ev_time.value(j),
                    name: ev_name.value(j).to_owned(),
                    attributes: attrs_at(ev_kv, ev_types, j)?,
                    dropped_attributes_count: ev_dropped.value(j),
                })
            })
            .collect::<Result<_>>()?;
        let ln = items(&c, "links", i)?;
        let ln_trace = field::<FixedSizeBinaryArray>(&c, &ln, "trace_id")?;
        let ln_span = field::<FixedSizeBinaryArray>(&c, &ln, "span_id")?;
        let ln_state = field::<StringArray>(&c, &ln, "trace_state")?;
        let ln_kv = field::<MapArray>(&c, &ln, "attributes")?;
        let ln_types = field::<MapArray>(&c, &ln, "attribute_types")?;
        let ln_dropped = field::<UInt32Array>(&c, &ln, "dropped_attributes_count")?;
        let links = (0..ln.len())
            .map(|j| {
                Ok(SpanLink {
                    trace_id: c.id(ln_trace, j)?.unwrap_or_default(),
                    span_id: c.id(ln_span, j)?.unwrap_or_default(),
                    trace_state: ln_state.value(j).to_owned(),
                    attributes: attrs_at(ln_kv, ln_types, j)?,
                    dropped_attributes_count: ln_dropped.value(j),
                })
            })
            .collect::<Result<_>>()?;
        out.push(SpanRecord {
            trace_id: c.id(trace, i)?.unwrap_or_default(),
            span_id: c.id(span, i)?.unwrap_or_default(),
            parent_span_id: c.id(parent, i)?,
            trace_state: state.value(i).to_owned(),
            flags: flags.value(i),
            service_name: service.value(i).to_owned(),
            name: name.value(i).to_owned(),
            kind: kind.value(i),
            start_ns: start.value(i),
            end_ns: end.value(i),
            status_code: status.value(i),
            status_message: msg.value(i).to_owned(),
            attributes: known.restore(i, attrs_at(attrs, attr_types, i)?),
            resource_attributes: Arc::new(attrs_at(res, res_types, i)?),
            scope: Arc::new(Scope {
                name: scope_name.value(i).to_owned(),
                version: scope_version.value(i).to_owned(),
                attributes: scope_attrs_at(i)?,
            }),
            events,
            links,
            dropped_attributes_count: dropped_a.value(i),
            dropped_events_count: dropped_e.value(i),
            dropped_links_count: dropped_l.value(i),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Int64Array};

    use super::*;
    use crate::model::anyvalue::AnyValue;
    use crate::spans_logs::spans::columns::{STRING_COLUMNS, string_column};

    #[test]
    fn empty_and_full_spans_round_trip_through_arrow() {
        let full = SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: Some([3; 8]),
            trace_state: "k=v".into(),
            flags: 1,
            service_name: "api".into(),
            name: "GET /x".into(),
            kind: 2,
            start_ns: 100,
            end_ns: 250,
            status_code: 2,
            status_message: "boom".into(),
            // Well-known attributes come back first, in the columns' order.
            attributes: vec![
                ("http.route".into(), AnyValue::String("/x".into())),
                ("http.response.status_code".into(), AnyValue::Int(500)),
                ("ok".into(), AnyValue::Bool(false)),
            ],
            resource_attributes: Arc::new(vec![(
                "service.name".into(),
                AnyValue::String("api".into()),
            )]),
            scope: Arc::new(Scope {
                name: "lib".into(),
                version: "1".into(),
                attributes: vec![
                    ("team".into(), AnyValue::String("core".into())),
                    ("n".into(), AnyValue::Int(2)),
                ],
            }),
            events: vec![SpanEvent {
                time_ns: 120,
                name: "retry".into(),
                attributes: vec![("n".into(), AnyValue::Double(1.5))],
                dropped_attributes_count: 1,
            }],
            links: vec![SpanLink {
                trace_id: [4; 16],
                span_id: [5; 8],
                trace_state: String::new(),
                attributes: vec![("b".into(), AnyValue::Bytes(vec![9]))],
                dropped_attributes_count: 0,
            }],
            dropped_attributes_count: 2,
            dropped_events_count: 3,
            dropped_links_count: 4,
        };
        let empty = SpanRecord {
            trace_id: [7; 16],
            span_id: [8; 8],
            ..SpanRecord::default()
        };
        let batch = spans_batch(&[&full, &empty, &full]).unwrap();
        assert_eq!(batch.schema(), spans_schema());
        let back = spans_from_batch(&batch).unwrap();
        assert_eq!(back, vec![full.clone(), empty, full]);
        let route = batch
            .column_by_name("http_route")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!((route.value(0), route.is_null(1)), ("/x", true));
        assert_eq!(batch.column_by_name("duration_ns").unwrap().len(), 3);
    }

    /// Batches of files written before scope attributes were stored (without the last two
    /// columns), or as SQL reads such a file (the columns null), read back with none.
    #[test]
    fn spans_without_the_scope_attribute_columns_read_back_without_scope_attributes() {
        let span = SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            scope: Arc::new(Scope {
                name: "lib".into(),
                version: "1".into(),
                attributes: vec![("team".into(), AnyValue::String("core".into()))],
            }),
            ..SpanRecord::default()
        };
        let batch = spans_batch(&[&span, &span]).unwrap();
        let n = batch.num_columns();
        assert_eq!(
            (
                batch.schema().field(n - 2).name(),
                batch.schema().field(n - 1).name()
            ),
            (
                &SCOPE_ATTRIBUTES.to_owned(),
                &SCOPE_ATTRIBUTE_TYPES.to_owned()
            )
        );
        let mut want = span.clone();
        want.scope = Arc::new(Scope {
            attributes: Vec::new(),
            ..(*span.scope).clone()
        });
        let old = batch.project(&(0..n - 2).collect::<Vec<_>>()).unwrap();
        assert_eq!(
            spans_from_batch(&old).unwrap(),
            vec![want.clone(), want.clone()]
        );
        let schema = batch.schema();
        let mut columns = batch.columns().to_vec();
        for c in &mut columns[n - 2..] {
            *c = arrow::array::new_null_array(c.data_type(), 2);
        }
        let nulls = RecordBatch::try_new(schema, columns).unwrap();
        assert_eq!(spans_from_batch(&nulls).unwrap(), vec![want.clone(), want]);
        // One map without the other is a damaged batch, not an old one.
        let half = batch.project(&(0..n - 1).collect::<Vec<_>>()).unwrap();
        assert!(spans_from_batch(&half).is_err());
    }

    #[test]
    fn well_known_columns_copy_their_key_of_their_type_and_nothing_else() {
        let span = |attributes: Vec<(&str, AnyValue)>| SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            ..SpanRecord::default()
        };
        let s = |v: &str| AnyValue::String(v.to_owned());
        let all = span(vec![
            ("error.type", s("timeout")),
            ("rpc.method", s("Get")),
            ("db.system", s("postgresql")),
            ("http.route", s("/a")),
            ("http.request.method", s("GET")),
            ("http.response.status_code", AnyValue::Int(404)),
        ]);
        // Near misses of every key, and the keys with values of another type.
        let none = span(vec![
            ("http.routes", s("/b")),
            ("http.rout", s("/b")),
            ("HTTP.route", s("/b")),
            ("error.typE", s("x")),
            ("rpc.methods", s("x")),
            ("db.systen", s("x")),
            ("http.request.method ", s("x")),
            ("http.response.status_code ", AnyValue::Int(1)),
            ("http.response.status_codes", AnyValue::Int(1)),
        ]);
        let mistyped = span(vec![
            ("http.route", AnyValue::Int(7)),
            ("db.system", AnyValue::Bool(true)),
            ("http.response.status_code", s("404")),
        ]);
        let batch = spans_batch(&[&all, &none, &mistyped]).unwrap();
        let expected = ["GET", "/a", "postgresql", "Get", "timeout"];
        for ((column, key), want) in STRING_COLUMNS.iter().zip(expected) {
            assert_eq!(string_column(key).map(|i| STRING_COLUMNS[i].1), Some(*key));
            let col = batch
                .column_by_name(column)
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            assert_eq!(col.value(0), want, "{column}");
            assert!(col.is_null(1) && col.is_null(2), "{column}");
        }
        let code = batch
            .column_by_name("http_response_status_code")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(code.value(0), 404);
        assert!(code.is_null(1) && code.is_null(2));
        // A matched attribute is in its column only; the rest stay in the map.
        let map_keys = |row: usize| {
            let map = batch
                .column_by_name("attributes")
                .unwrap()
                .as_map()
                .value(row);
            let keys = map.column(0).as_string::<i32>().clone();
            keys.iter()
                .map(|k| k.unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(map_keys(0), Vec::<String>::new());
        assert_eq!(map_keys(1).len(), none.attributes.len());
        assert_eq!(map_keys(2).len(), mistyped.attributes.len());
        // Reading back returns every attribute once (the columns' first).
        let sorted = |mut s: SpanRecord| {
            s.attributes.sort_by(|a, b| a.0.cmp(&b.0));
            s
        };
        let back: Vec<_> = spans_from_batch(&batch)
            .unwrap()
            .into_iter()
            .map(sorted)
            .collect();
        assert_eq!(back, vec![sorted(all), sorted(none), sorted(mistyped)]);
    }

    #[test]
    fn files_that_kept_well_known_attributes_in_the_map_too_read_back_each_once() {
        // Before the map left them out, a file held them in the column and in the map.
        let span = SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            attributes: vec![
                ("http.route".into(), AnyValue::String("/a".into())),
                ("http.response.status_code".into(), AnyValue::Int(404)),
                ("db.system".into(), AnyValue::Bool(true)),
                ("k".into(), AnyValue::String("v".into())),
            ],
            ..SpanRecord::default()
        };
        let batch = spans_batch(&[&span]).unwrap();
        let mut whole = AttrBuilder::new();
        whole.append(&span.attributes).unwrap();
        let (kv, types) = whole.finish().unwrap();
        let mut columns = batch.columns().to_vec();
        let at = |name| batch.schema().index_of(name).unwrap();
        columns[at("attributes")] = kv;
        columns[at("attribute_types")] = types;
        let old = RecordBatch::try_new(batch.schema(), columns).unwrap();
        assert_eq!(spans_from_batch(&old).unwrap(), vec![span.clone()]);
        // And the layout written now reads back the same attributes.
        let mut back = spans_from_batch(&batch).unwrap().remove(0);
        back.attributes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut want = span;
        want.attributes.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(back, want);
    }

    #[test]
    fn spans_files_keep_statistics_on_top_level_columns_page_indexes_and_zstd_where_they_pay() {
        use parquet::basic::Compression;
        use parquet::file::reader::{FileReader, SerializedFileReader};

        let span = SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            service_name: "api".into(),
            attributes: vec![("k".into(), AnyValue::Int(1))],
            resource_attributes: Arc::new(vec![("r".into(), AnyValue::String("v".into()))]),
            ..SpanRecord::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.parquet");
        let key = crate::spans_logs::order::sort_key(crate::signal_kind::Signal::Traces);
        crate::storage::parquet_io::write_signal_file(&path, &spans_batch(&[&span]).unwrap(), key)
            .unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let rg = reader.metadata().row_group(0);
        let (mut top, mut nested) = (0, 0);
        for c in rg.columns() {
            if c.column_path().parts().len() == 1 {
                assert!(c.statistics().is_some(), "{}", c.column_path());
                top += 1;
            } else {
                assert!(c.statistics().is_none(), "{}", c.column_path());
                nested += 1;
            }
        }
        assert!(
            top >= 20 && nested >= 20,
            "{top} top-level, {nested} nested"
        );
        // zstd where it shrinks the column, nothing where it does not.
        let codec = |name: &str| crate::storage::parquet_io::codec_of(rg, name);
        for name in [
            "trace_id",
            "parent_span_id",
            "kind",
            "attributes.entries.keys",
            "attributes.entries.values",
            "resource_attributes.entries.values",
            "scope_attributes.entries.keys",
            "events.list.item.name",
        ] {
            assert!(matches!(codec(name), Compression::ZSTD(_)), "{name}");
        }
        for name in [
            "span_id",
            "service_name",
            "name",
            "start_time",
            "duration_ns",
            "http_route",
            "events.list.item.time",
            "links.list.item.trace_id",
            "resource_attribute_types.entries.values",
            "scope_attribute_types.entries.keys",
        ] {
            assert_eq!(codec(name), Compression::UNCOMPRESSED, "{name}");
        }
        // A column index (page statistics) on the columns readers select pages by, none on
        // the others; an offset index on every column (the trace lookup reads pages by it).
        let options = parquet::file::serialized_reader::ReadOptionsBuilder::new()
            .with_page_index()
            .build();
        let reader =
            SerializedFileReader::new_with_options(std::fs::File::open(&path).unwrap(), options)
                .unwrap();
        let meta = reader.metadata();
        let (columns, offsets) = (meta.column_index().unwrap(), meta.offset_index().unwrap());
        let paged = [
            "trace_id",
            "service_name",
            "name",
            "start_time",
            "end_time",
            "duration_ns",
        ];
        for (i, c) in meta.row_group(0).columns().iter().enumerate() {
            let name = c.column_path().string();
            let has_index = !matches!(
                columns[0][i],
                parquet::file::page_index::column_index::ColumnIndexMetaData::NONE
            );
            assert_eq!(has_index, paged.contains(&name.as_str()), "{name}");
            assert!(!offsets[0][i].page_locations().is_empty(), "{name}");
        }
        // The file still reads back whole.
        let input = crate::spans_logs::compact::copy::Input::open(&path, key).unwrap();
        assert!(input.sorted);
        let back: Vec<_> = input
            .batches(vec![0], 16)
            .unwrap()
            .map(|b| spans_from_batch(&b.unwrap()).unwrap())
            .collect();
        assert_eq!(back, vec![vec![span]]);
    }
}
