//! The logs table: [`LogRecord`]s to Arrow and back (`docs/formats/spans-logs.md`).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, FixedSizeBinaryArray, Int32Array, MapArray, StringArray, TimestampNanosecondArray,
    UInt32Array,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::Result;
use crate::model::anyvalue::{AnyValue, Attributes};
use crate::model::records::{LogRecord, Scope};
use crate::spans_logs::arrow::{
    AttrBuilder, AttributeMaps, Cols, RenderedRows, batch_of, read_attrs,
};
use crate::spans_logs::logs::columns::{self, LogColumns};

/// The schema of logs files and of log snapshot batches.
pub fn logs_schema() -> SchemaRef {
    logs_batch(&[]).map_or_else(
        |_| Arc::new(arrow::datatypes::Schema::empty()),
        |b| b.schema(),
    )
}

/// Log records as one batch, in the order given: one pass over the records
/// (`spans_logs/logs/columns.rs`).
pub(crate) fn logs_batch(logs: &[&LogRecord]) -> Result<RecordBatch> {
    logs_batch_with(logs, AttributeMaps::Built).map(|(batch, _)| batch)
}

/// [`logs_batch`], with the attribute maps built or deferred (`maps`): deferred, the
/// batch holds empty maps and the rows' own maps come back rendered.
pub(crate) fn logs_batch_with(
    logs: &[&LogRecord],
    maps: AttributeMaps,
) -> Result<(RecordBatch, RenderedRows)> {
    let mut attrs = AttrBuilder::for_rows(logs.len(), logs.iter().map(|r| &r.attributes));
    let mut resource = AttrBuilder::for_rows(
        logs.len(),
        logs.iter().take(1).map(|r| &*r.resource_attributes),
    );
    let mut top = LogColumns::with_capacity(logs.len());
    for (i, r) in logs.iter().enumerate() {
        columns::prefetch(logs, i);
        top.push(r)?;
        attrs.append(&r.attributes)?;
        match maps {
            AttributeMaps::Built => resource.append_shared(&r.resource_attributes)?,
            AttributeMaps::Deferred => resource.append(&Vec::new())?,
        }
    }
    let (attrs, attr_types, own) = attrs.finish_as(maps)?;
    let (resource, resource_types) = resource.finish()?;
    let (mut cols, tail) = top.finish()?;
    cols.extend([
        ("attributes", attrs, false),
        ("attribute_types", attr_types, false),
        ("resource_attributes", resource, false),
        ("resource_attribute_types", resource_types, false),
    ]);
    cols.extend(tail);
    Ok((batch_of(cols)?, own))
}

/// Log records back from a batch of the logs schema (file or memory).
pub fn logs_from_batch(batch: &RecordBatch) -> Result<Vec<LogRecord>> {
    logs_from_batch_at(batch, Path::new("<batch>"))
}

/// [`logs_from_batch`], naming `path` in errors.
pub(crate) fn logs_from_batch_at(batch: &RecordBatch, path: &Path) -> Result<Vec<LogRecord>> {
    let c = Cols { batch, path };
    let time = c.get::<TimestampNanosecondArray>("time")?;
    let observed = c.get::<TimestampNanosecondArray>("observed_time")?;
    let severity = c.get::<Int32Array>("severity_number")?;
    let string = |n| c.get::<StringArray>(n);
    let (severity_text, body, body_type, service) = (
        string("severity_text")?,
        string("body")?,
        string("body_type")?,
        string("service_name")?,
    );
    let (scope_name, scope_version) = (string("scope_name")?, string("scope_version")?);
    let trace = c.get::<FixedSizeBinaryArray>("trace_id")?;
    let span = c.get::<FixedSizeBinaryArray>("span_id")?;
    let flags = c.get::<UInt32Array>("flags")?;
    let dropped = c.get::<UInt32Array>("dropped_attributes_count")?;
    let maps = |n| c.get::<MapArray>(n);
    let (attrs, attr_types) = (maps("attributes")?, maps("attribute_types")?);
    let (res, res_types) = (
        maps("resource_attributes")?,
        maps("resource_attribute_types")?,
    );
    let attrs_at =
        |kv: &MapArray, types: &MapArray, i| read_attrs(kv, types, i).map_err(|e| c.bad(e));
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let body = if body.is_null(i) {
            None
        } else {
            let t = (!body_type.is_null(i)).then(|| body_type.value(i));
            Some(AnyValue::from_text(body.value(i), t).map_err(|e| c.bad(e))?)
        };
        out.push(LogRecord {
            time_ns: time.value(i),
            observed_time_ns: if observed.is_null(i) {
                0
            } else {
                observed.value(i)
            },
            severity_number: severity.value(i),
            severity_text: severity_text.value(i).to_owned(),
            body,
            service_name: service.value(i).to_owned(),
            trace_id: c.id(trace, i)?,
            span_id: c.id(span, i)?,
            flags: flags.value(i),
            attributes: attrs_at(attrs, attr_types, i)?,
            resource_attributes: Arc::new(attrs_at(res, res_types, i)?),
            scope: Arc::new(Scope {
                name: scope_name.value(i).to_owned(),
                version: scope_version.value(i).to_owned(),
                attributes: Attributes::new(),
            }),
            dropped_attributes_count: dropped.value(i),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_records_round_trip_through_arrow() {
        let full = LogRecord {
            time_ns: 5,
            observed_time_ns: 6,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: Some(AnyValue::KvList(vec![(
                "msg".into(),
                AnyValue::String("hi".into()),
            )])),
            service_name: "api".into(),
            trace_id: Some([1; 16]),
            span_id: Some([2; 8]),
            flags: 1,
            attributes: vec![("n".into(), AnyValue::Int(3))],
            resource_attributes: Arc::new(vec![("host".into(), AnyValue::String("h".into()))]),
            scope: Arc::new(Scope {
                name: "s".into(),
                version: "v".into(),
                ..Scope::default()
            }),
            dropped_attributes_count: 1,
        };
        let plain = LogRecord {
            time_ns: 7,
            body: Some(AnyValue::String("text".into())),
            ..LogRecord::default()
        };
        let bare = LogRecord {
            time_ns: 8,
            ..LogRecord::default()
        };
        let batch = logs_batch(&[&full, &plain, &bare]).unwrap();
        assert_eq!(batch.schema(), logs_schema());
        let back = logs_from_batch(&batch).unwrap();
        assert_eq!(back, vec![full, plain, bare]);
    }

    /// zstd on the columns it shrinks in a logs file, none on dictionary indices, times
    /// and ids (`SIGNAL_RAW_COLUMNS` and `LOG_RAW_COLUMNS` of `storage::parquet_io`).
    #[test]
    fn logs_files_keep_zstd_where_it_pays() {
        use parquet::basic::Compression;
        use parquet::file::reader::{FileReader, SerializedFileReader};

        let record = LogRecord {
            time_ns: 5,
            body: Some(AnyValue::String("a line".into())),
            service_name: "api".into(),
            trace_id: Some([1; 16]),
            attributes: vec![("k".into(), AnyValue::Int(1))],
            resource_attributes: Arc::new(vec![("r".into(), AnyValue::String("v".into()))]),
            ..LogRecord::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs.parquet");
        let key = crate::spans_logs::order::sort_key(crate::signal_kind::Signal::Logs);
        crate::storage::parquet_io::write_signal_file(&path, &logs_batch(&[&record]).unwrap(), key)
            .unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let rg = reader.metadata().row_group(0);
        let codec = |name: &str| crate::storage::parquet_io::codec_of(rg, name);
        for name in [
            "body",
            "attributes.entries.keys",
            "attributes.entries.values",
            "resource_attributes.entries.keys",
            "resource_attributes.entries.values",
        ] {
            assert!(matches!(codec(name), Compression::ZSTD(_)), "{name}");
        }
        for name in [
            "time",
            "observed_time",
            "severity_number",
            "severity_text",
            "body_type",
            "service_name",
            "trace_id",
            "span_id",
            "flags",
            "scope_name",
        ] {
            assert_eq!(codec(name), Compression::UNCOMPRESSED, "{name}");
        }
    }

    /// The columns, types and nullability of `docs/formats/spans-logs.md`, which files
    /// written by earlier versions carry: a change of the builder must not change them.
    #[test]
    fn the_logs_schema_is_the_documented_one() {
        let schema = logs_schema();
        let got: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| format!("{} {} {}", f.name(), f.data_type(), f.is_nullable()))
            .collect();
        let map = "Map(\"entries\": non-null Struct(\"keys\": non-null Utf8, \"values\": Utf8), unsorted)";
        let want = vec![
            "time Timestamp(ns, \"UTC\") false".to_owned(),
            "observed_time Timestamp(ns, \"UTC\") true".to_owned(),
            "severity_number Int32 false".to_owned(),
            "severity_text Utf8 false".to_owned(),
            "body Utf8 true".to_owned(),
            "body_type Utf8 true".to_owned(),
            "service_name Utf8 false".to_owned(),
            "trace_id FixedSizeBinary(16) true".to_owned(),
            "span_id FixedSizeBinary(8) true".to_owned(),
            "flags UInt32 false".to_owned(),
            format!("attributes {map} false"),
            format!("attribute_types {map} false"),
            format!("resource_attributes {map} false"),
            format!("resource_attribute_types {map} false"),
            "scope_name Utf8 false".to_owned(),
            "scope_version Utf8 false".to_owned(),
            "dropped_attributes_count UInt32 false".to_owned(),
        ];
        assert_eq!(got, want);
    }
}
