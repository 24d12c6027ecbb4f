//! The parsed footer of a spans file, kept between reads: trace lookups and trace searches
//! open the same few files again and again, and a dense hour's footer with its page index
//! takes milliseconds to parse each time.
//!
//! Kept per file: the Parquet metadata with the offset index (page locations, so a read
//! fetches only the pages holding its rows) and the column index of `trace_id` alone (page
//! min/max ids, so a lookup knows which pages may hold an id; the other columns' page
//! statistics are dropped to keep the entry small), read once with the stored Arrow schema
//! and once with `service_name` and `name` as dictionaries (for the search scan).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;

use crate::Result;
use crate::parquet_io::bad;

/// String columns the search scan reads as dictionaries.
pub(crate) const DICTIONARY_COLUMNS: [&str; 2] = ["service_name", "name"];

/// One spans file's metadata, as the readers need it.
#[derive(Debug)]
pub(crate) struct SpansFileMeta {
    /// With the stored schema: for reading whole spans.
    pub(crate) plain: ArrowReaderMetadata,
    /// [`DICTIONARY_COLUMNS`] as `Dictionary(Int32, Utf8)`; `None` if the file's schema does
    /// not allow it (the scan then compares strings).
    pub(crate) dict: Option<ArrowReaderMetadata>,
    /// Leaf index of `trace_id`.
    pub(crate) trace_id_leaf: usize,
}

impl SpansFileMeta {
    /// Reads the footer and page index of the spans file at `path`.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| crate::Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let full = ArrowReaderMetadata::load(&file, options.clone()).map_err(|e| bad(path, e))?;
        let trace_id_leaf = full
            .parquet_schema()
            .columns()
            .iter()
            .position(|c| c.path().string() == "trace_id")
            .ok_or_else(|| bad(path, "no trace_id column"))?;
        let meta = Arc::new(keep_column_index_of(full.metadata(), trace_id_leaf));
        let plain = ArrowReaderMetadata::try_new(meta.clone(), options.clone())
            .map_err(|e| bad(path, e))?;
        let dict_schema = dictionary_schema(plain.schema());
        let dict = ArrowReaderMetadata::try_new(meta, options.with_schema(dict_schema)).ok();
        Ok(Self {
            plain,
            dict,
            trace_id_leaf,
        })
    }
}

/// `meta` with the column index of leaf `keep` only.
fn keep_column_index_of(meta: &ParquetMetaData, keep: usize) -> ParquetMetaData {
    let mut builder = meta.clone().into_builder();
    let index = builder.take_column_index().map(|groups| {
        groups
            .into_iter()
            .map(|cols| {
                cols.into_iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if i == keep {
                            c
                        } else {
                            ColumnIndexMetaData::NONE
                        }
                    })
                    .collect()
            })
            .collect()
    });
    builder.set_column_index(index).build()
}

/// `schema` with the [`DICTIONARY_COLUMNS`] as dictionaries of their strings.
fn dictionary_schema(schema: &Schema) -> Arc<Schema> {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if DICTIONARY_COLUMNS.contains(&f.name().as_str()) && f.data_type() == &DataType::Utf8 {
                f.as_ref().clone().with_data_type(DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(DataType::Utf8),
                ))
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}
