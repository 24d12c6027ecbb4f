//! A SQL result written as JSON, CSV or an Arrow IPC stream (arrow's own writers), batch by
//! batch, refusing to grow past a byte limit. Shared by `/api/v1/sql` and `strata sql`.
//!
//! Encodings (see `docs/sql.md`): JSON is an array of one object per row with every column
//! (`null` for NULL); timestamps are RFC 3339 strings, maps are objects, floats are numbers
//! except NaN and ±infinity, which are the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
//! CSV has a header line; timestamps are RFC 3339, NaN and ±infinity are `NaN`, `inf`,
//! `-inf`, and a map (or any nested column) is its JSON text in one field. Arrow is
//! the result's own schema and values, bit for bit.

use std::io::Write as _;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ArrowPrimitiveType, AsArray, PrimitiveArray, StringArray};
use arrow::datatypes::{DataType, Field, FieldRef, Float32Type, Float64Type, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::ipc::writer::StreamWriter;
use arrow::json::writer::{Encoder, EncoderFactory, EncoderOptions, JsonArray, NullableEncoder};
use arrow::record_batch::RecordBatch;

use crate::error::OutputError;

/// Rows serialized at a time, so a result stops within about this many rows of the limit.
const CHUNK_ROWS: usize = 1024;

/// A representation of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `application/json`: an array of row objects.
    Json,
    /// `text/csv`: a header line, then one line per row.
    Csv,
    /// `application/vnd.apache.arrow.stream`: an Arrow IPC stream.
    Arrow,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv; charset=utf-8; header=present",
            Self::Arrow => "application/vnd.apache.arrow.stream",
        }
    }
}

enum Inner {
    Json(arrow::json::Writer<Vec<u8>, JsonArray>),
    Csv(Vec<u8>),
    Arrow(StreamWriter<Vec<u8>>),
}

/// Writes a result of a known schema into memory, at most `limit` bytes of it.
pub(crate) struct ResultWriter {
    inner: Inner,
    limit: u64,
}

impl ResultWriter {
    /// A writer of `format` for results of `schema`. The CSV header and the Arrow schema
    /// message are written at once, so an empty result still names its columns.
    pub(crate) fn new(format: Format, schema: &SchemaRef, limit: u64) -> Result<Self, OutputError> {
        let inner = match format {
            Format::Json => Inner::Json(
                arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .with_encoder_factory(Arc::new(NonFiniteAsStrings))
                    .build(Vec::new()),
            ),
            Format::Csv => {
                let mut buf = Vec::new();
                let empty =
                    csv_compatible(&RecordBatch::new_empty(schema.clone())).map_err(csv_err)?;
                arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut buf)
                    .write(&empty)
                    .map_err(csv_err)?;
                Inner::Csv(buf)
            }
            Format::Arrow => {
                Inner::Arrow(StreamWriter::try_new(Vec::new(), schema).map_err(|source| {
                    OutputError::Encode {
                        format: "Arrow",
                        source,
                    }
                })?)
            }
        };
        let w = Self { inner, limit };
        w.check()?;
        Ok(w)
    }

    /// Appends `batch`, failing with [`OutputError::TooLarge`] once the output is over the
    /// limit (checked every [`CHUNK_ROWS`] rows).
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), OutputError> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = CHUNK_ROWS.min(batch.num_rows() - offset);
            let chunk = batch.slice(offset, len);
            match &mut self.inner {
                Inner::Json(w) => w.write(&chunk).map_err(json_err)?,
                Inner::Csv(buf) => arrow::csv::WriterBuilder::new()
                    .with_header(false)
                    .build(buf)
                    .write(&csv_compatible(&chunk).map_err(csv_err)?)
                    .map_err(csv_err)?,
                Inner::Arrow(w) => w.write(&chunk).map_err(arrow_err)?,
            }
            self.check()?;
            offset += len;
        }
        Ok(())
    }

    /// Ends the output (the JSON array's `]`, the Arrow end-of-stream marker) and returns it.
    pub(crate) fn finish(self) -> Result<Vec<u8>, OutputError> {
        let limit = self.limit;
        let out = match self.inner {
            Inner::Json(mut w) => {
                w.finish().map_err(json_err)?;
                w.into_inner()
            }
            Inner::Csv(buf) => buf,
            Inner::Arrow(mut w) => {
                w.finish().map_err(arrow_err)?;
                w.into_inner().map_err(arrow_err)?
            }
        };
        if out.len() as u64 > limit {
            return Err(OutputError::TooLarge { limit });
        }
        Ok(out)
    }

    fn check(&self) -> Result<(), OutputError> {
        let len = match &self.inner {
            Inner::Json(w) => w.get_ref().len(),
            Inner::Csv(buf) => buf.len(),
            Inner::Arrow(w) => w.get_ref().len(),
        };
        if len as u64 > self.limit {
            return Err(OutputError::TooLarge { limit: self.limit });
        }
        Ok(())
    }
}

fn json_err(source: ArrowError) -> OutputError {
    OutputError::Encode {
        format: "JSON",
        source,
    }
}

fn csv_err(source: ArrowError) -> OutputError {
    OutputError::Encode {
        format: "CSV",
        source,
    }
}

fn arrow_err(source: ArrowError) -> OutputError {
    OutputError::Encode {
        format: "Arrow",
        source,
    }
}

/// `batch` with every nested column (maps, lists, structs), which CSV cannot hold, replaced
/// by a string column of each value's JSON text.
fn csv_compatible(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| f.data_type().is_nested()) {
        return Ok(batch.clone());
    }
    let options = EncoderOptions::default()
        .with_explicit_nulls(true)
        .with_encoder_factory(Arc::new(NonFiniteAsStrings));
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !field.data_type().is_nested() {
            fields.push(field.clone());
            columns.push(column.clone());
            continue;
        }
        let mut encoder = arrow::json::writer::make_encoder(field, column.as_ref(), &options)?;
        let mut text = Vec::new();
        let values: StringArray = (0..column.len())
            .map(|i| {
                if column.is_null(i) {
                    return Ok(None);
                }
                text.clear();
                encoder.encode(i, &mut text);
                String::from_utf8(text.clone())
                    .map(Some)
                    .map_err(|e| ArrowError::JsonError(e.to_string()))
            })
            .collect::<Result<_, ArrowError>>()?;
        fields.push(Arc::new(Field::new(
            field.name(),
            DataType::Utf8,
            field.is_nullable(),
        )));
        columns.push(Arc::new(values));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// JSON encoding of float columns: numbers as usual, but NaN and ±infinity (which arrow-json
/// writes as `null`, indistinguishable from NULL) as the strings `"NaN"`, `"Infinity"` and
/// `"-Infinity"`.
#[derive(Debug)]
struct NonFiniteAsStrings;

impl EncoderFactory for NonFiniteAsStrings {
    fn make_default_encoder<'a>(
        &self,
        _field: &'a FieldRef,
        array: &'a dyn Array,
        _options: &'a EncoderOptions,
    ) -> Result<Option<NullableEncoder<'a>>, ArrowError> {
        let encoder: Box<dyn Encoder + 'a> = match array.data_type() {
            DataType::Float64 => Box::new(FloatEncoder(array.as_primitive::<Float64Type>())),
            DataType::Float32 => Box::new(FloatEncoder(array.as_primitive::<Float32Type>())),
            _ => return Ok(None),
        };
        Ok(Some(NullableEncoder::new(encoder, array.nulls().cloned())))
    }
}

struct FloatEncoder<'a, T: ArrowPrimitiveType>(&'a PrimitiveArray<T>);

impl<T> Encoder for FloatEncoder<'_, T>
where
    T: ArrowPrimitiveType,
    T::Native: Into<f64> + serde::Serialize,
{
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        let v = self.0.value(idx);
        let wide: f64 = v.into();
        let text: &[u8] = if wide.is_nan() {
            b"\"NaN\""
        } else if wide == f64::INFINITY {
            b"\"Infinity\""
        } else if wide == f64::NEG_INFINITY {
            b"\"-Infinity\""
        } else {
            // Finite: the shortest text that reads back as the same value (ryu, via serde_json);
            // writing to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, &v);
            return;
        };
        let _ = out.write_all(text);
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        Float64Array, Int64Array, MapBuilder, StringBuilder, TimestampMillisecondArray,
    };

    use super::*;

    fn batch() -> RecordBatch {
        let mut labels = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        labels.keys().append_value("job");
        labels.values().append_value("a,\"b\"");
        labels.append(true).unwrap();
        labels.append(false).unwrap();
        let ts = TimestampMillisecondArray::from(vec![1_700_000_000_123, 0]).with_timezone("UTC");
        let value = Float64Array::from(vec![Some(f64::NAN), None]);
        let n = Int64Array::from(vec![1, -2]);
        RecordBatch::try_from_iter([
            ("labels", Arc::new(labels.finish()) as ArrayRef),
            ("ts", Arc::new(ts)),
            ("value", Arc::new(value)),
            ("n", Arc::new(n)),
        ])
        .unwrap()
    }

    fn write(format: Format, limit: u64) -> Result<Vec<u8>, OutputError> {
        let b = batch();
        let mut w = ResultWriter::new(format, &b.schema(), limit)?;
        w.write(&b)?;
        w.finish()
    }

    #[test]
    fn json_rows_keep_nan_nulls_and_maps_apart() {
        let out = String::from_utf8(write(Format::Json, 1 << 20).unwrap()).unwrap();
        let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            rows,
            serde_json::json!([
                {"labels": {"job": "a,\"b\""}, "ts": "2023-11-14T22:13:20.123Z", "value": "NaN", "n": 1},
                {"labels": null, "ts": "1970-01-01T00:00:00Z", "value": null, "n": -2},
            ])
        );
    }

    #[test]
    fn csv_has_a_header_and_maps_as_json_text() {
        let out = String::from_utf8(write(Format::Csv, 1 << 20).unwrap()).unwrap();
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("labels,ts,value,n"));
        assert_eq!(
            lines.next(),
            Some(r#""{""job"":""a,\""b\""""}",2023-11-14T22:13:20.123Z,NaN,1"#)
        );
        assert_eq!(lines.next(), Some(",1970-01-01T00:00:00Z,,-2"));
        assert_eq!(lines.next(), None);
    }

    #[test]
    fn arrow_round_trips_and_every_format_obeys_the_limit() {
        let out = write(Format::Arrow, 1 << 20).unwrap();
        let reader = arrow::ipc::reader::StreamReader::try_new(&out[..], None).unwrap();
        let got: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(got, vec![batch()]);
        for format in [Format::Json, Format::Csv, Format::Arrow] {
            let err = write(format, 40).unwrap_err();
            assert!(matches!(err, OutputError::TooLarge { limit: 40 }), "{err}");
        }
    }
}
