//! The parsed footer of a spans file, kept between reads: trace lookups and trace searches
//! open the same files again and again, and parsing a dense hour's footer each time took
//! milliseconds.
//!
//! Kept per file: the footer alone, with the chunk statistics of the columns the search
//! prunes row groups by ([`STATS_COLUMNS`]) and no others, read once with the stored Arrow
//! schema and once with `service_name` and `name` as dictionaries (for the search scan).
//! That is ~5x smaller than the footer with every statistic and the page index, so a
//! week of hourly files fits the cache. The page index (page locations, and `trace_id`'s
//! page min/max ids) is read per read, for the row groups it reads only
//! ([`SpansFileMeta::for_groups`]): a lookup reads one or two row groups of a file.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowSchemaConverter;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::{
    PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader, ParquetStatisticsPolicy,
};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::reader::ChunkReader;

use crate::Result;
use crate::storage::parquet_io::bad;

/// String columns the search scan reads as dictionaries.
pub(crate) const DICTIONARY_COLUMNS: [&str; 2] = ["service_name", "name"];

/// Columns whose chunk statistics are kept: the search prunes row groups by the first
/// two, and a lookup by byte ranges picks them by `trace_id`'s (files are sorted by it).
const STATS_COLUMNS: [&str; 3] = ["trace_id", "start_time", "duration_ns"];

/// One spans file's metadata, as the readers need it.
#[derive(Debug)]
pub(crate) struct SpansFileMeta {
    /// With the stored schema: for reading whole spans. No page index.
    pub(crate) plain: ArrowReaderMetadata,
    /// [`DICTIONARY_COLUMNS`] as `Dictionary(Int32, Utf8)`; `None` if the file's schema does
    /// not allow it (the scan then compares strings).
    pub(crate) dict: Option<ArrowReaderMetadata>,
    /// Leaf index of `trace_id`.
    pub(crate) trace_id_leaf: usize,
    /// Bytes the parsed footer takes in memory.
    bytes: usize,
}

impl SpansFileMeta {
    /// Reads the footer of the spans file at `path`.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        Self::load_from(path, &open(path)?)
    }

    /// Reads the footer of the spans file at `path` from `file` (the file itself, or its
    /// bytes in a bucket).
    pub(crate) fn load_from<R: ChunkReader>(path: &Path, file: &R) -> Result<Self> {
        let options = |stats: ParquetStatisticsPolicy| {
            ArrowReaderOptions::new()
                .with_page_index_policy(PageIndexPolicy::Skip)
                .with_column_stats_policy(stats)
                .with_encoding_stats_policy(ParquetStatisticsPolicy::SkipAll)
                .with_size_stats_policy(ParquetStatisticsPolicy::SkipAll)
        };
        // The leaves of [`STATS_COLUMNS`] in today's schema; a file of another schema (where
        // they are elsewhere) is read again with every statistic.
        let expected = stats_leaves();
        let mut options = options(ParquetStatisticsPolicy::skip_except(&expected));
        let mut plain =
            ArrowReaderMetadata::load(file, options.clone()).map_err(|e| bad(path, e))?;
        let leaf = |m: &ArrowReaderMetadata, name: &str| {
            m.parquet_schema()
                .columns()
                .iter()
                .position(|c| c.path().string() == name)
        };
        let found: Vec<usize> = STATS_COLUMNS
            .iter()
            .filter_map(|c| leaf(&plain, c))
            .collect();
        if found != expected {
            options = options_all();
            plain = ArrowReaderMetadata::load(file, options.clone()).map_err(|e| bad(path, e))?;
        }
        let trace_id_leaf =
            leaf(&plain, "trace_id").ok_or_else(|| bad(path, "no trace_id column"))?;
        let dict_schema = dictionary_schema(plain.schema());
        let dict = ArrowReaderMetadata::try_new(
            plain.metadata().clone(),
            options.with_schema(dict_schema),
        )
        .ok();
        Ok(Self {
            bytes: plain.metadata().memory_size(),
            plain,
            dict,
            trace_id_leaf,
        })
    }

    /// The smallest and largest `trace_id` of row group `rg` (of [`Self::plain`]), if the
    /// file records them.
    pub(crate) fn trace_id_range<'a>(
        &self,
        rg: &'a parquet::file::metadata::RowGroupMetaData,
    ) -> Option<(&'a [u8], &'a [u8])> {
        let stats = rg.columns().get(self.trace_id_leaf)?.statistics()?;
        Some((stats.min_bytes_opt()?, stats.max_bytes_opt()?))
    }

    /// Bytes the parsed footer takes in memory.
    pub(crate) fn memory_size(&self) -> usize {
        self.bytes
    }

    /// [`SpansFileMeta::plain`] narrowed to row groups `groups` (in that order: row group
    /// `i` of the result is `groups[i]` of the file), with their page index (offset index,
    /// and `trace_id`'s column index where the file has them), read from `file`.
    pub(crate) fn for_groups<R: ChunkReader>(
        &self,
        path: &Path,
        file: &R,
        groups: &[usize],
    ) -> Result<ArrowReaderMetadata> {
        let md = self.plain.metadata();
        let mut picked = Vec::with_capacity(groups.len());
        for &g in groups {
            let rg = md
                .row_groups()
                .get(g)
                .ok_or_else(|| bad(path, format!("no row group {g}")))?;
            picked.push(rg.clone());
        }
        let narrowed = ParquetMetaData::new(md.file_metadata().clone(), picked);
        let mut reader = ParquetMetaDataReader::new_with_metadata(narrowed)
            .with_page_index_policy(PageIndexPolicy::Optional);
        reader.read_page_indexes(file).map_err(|e| bad(path, e))?;
        let with_index = reader.finish().map_err(|e| bad(path, e))?;
        let with_index = keep_column_index_of(&with_index, self.trace_id_leaf);
        ArrowReaderMetadata::try_new(
            Arc::new(with_index),
            ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional),
        )
        .map_err(|e| bad(path, e))
    }
}

/// Reader options for a footer with every statistic and no page index.
fn options_all() -> ArrowReaderOptions {
    ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Skip)
}

/// The leaf indices of [`STATS_COLUMNS`] in [`crate::spans_schema`].
fn stats_leaves() -> Vec<usize> {
    static LEAVES: OnceLock<Vec<usize>> = OnceLock::new();
    LEAVES
        .get_or_init(|| {
            let Ok(descr) = ArrowSchemaConverter::new().convert(&crate::spans_schema()) else {
                return Vec::new();
            };
            STATS_COLUMNS
                .iter()
                .filter_map(|name| {
                    descr
                        .columns()
                        .iter()
                        .position(|c| c.path().string() == *name)
                })
                .collect()
        })
        .clone()
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| crate::Error::Io {
        path: path.to_owned(),
        source,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SpanRecord;
    use crate::spans_logs::flush::write_sorted;
    use crate::spans_logs::order::FlushOrder;

    /// The kept footer has the statistics the search prunes by and no others; the page
    /// index of chosen row groups is read on demand.
    #[test]
    fn the_kept_footer_has_the_search_statistics_and_the_page_index_comes_per_row_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans-1.parquet");
        let spans: Vec<SpanRecord> = (0..70_000u32)
            .map(|i| SpanRecord {
                trace_id: [(i % 251) as u8 + 1; 16],
                span_id: i.to_be_bytes().repeat(2).try_into().unwrap(),
                service_name: "svc".into(),
                name: "op".into(),
                start_ns: 1_000 + i64::from(i),
                end_ns: 2_000 + i64::from(i),
                ..SpanRecord::default()
            })
            .collect();
        let mut rows: Vec<&SpanRecord> = spans.iter().collect();
        SpanRecord::sort_rows(&mut rows);
        write_sorted(&path, &rows, 8192).unwrap();

        let meta = SpansFileMeta::load(&path).unwrap();
        let md = meta.plain.metadata();
        assert_eq!(md.num_row_groups(), 2);
        assert!(md.offset_index().is_none() && md.column_index().is_none());
        let leaves = meta.plain.parquet_schema();
        for (i, leaf) in leaves.columns().iter().enumerate() {
            let name = leaf.path().string();
            let has = md.row_group(0).column(i).statistics().is_some();
            assert_eq!(has, STATS_COLUMNS.contains(&name.as_str()), "{name}");
        }
        assert!(meta.memory_size() > 0);

        let file = File::open(&path).unwrap();
        let one = meta.for_groups(&path, &file, &[1]).unwrap();
        let one = one.metadata();
        assert_eq!(one.num_row_groups(), 1);
        assert_eq!(one.row_group(0).num_rows(), md.row_group(1).num_rows());
        let offsets = one.offset_index().expect("offset index of the row group");
        assert_eq!(offsets.len(), 1);
        assert_eq!(offsets[0].len(), leaves.num_columns());
        let index = one.column_index().expect("column index");
        for (i, c) in index[0].iter().enumerate() {
            let none = matches!(c, ColumnIndexMetaData::NONE);
            assert_eq!(none, i != meta.trace_id_leaf, "leaf {i}");
        }
    }
}
