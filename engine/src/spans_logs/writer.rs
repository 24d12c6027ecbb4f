//! The writer of a flush's spans or logs file: the Arrow writer's column writers for every
//! column but the top-level attribute maps, whose chunks are encoded from the records'
//! lists ([`crate::spans_logs::map_chunk`]): the resource's, shared by many records, and each record's
//! own, as the batch build rendered them. The file is the one `ArrowWriter` would
//! write with [`parquet_io::signal_props`] (same schema and Arrow schema metadata, row
//! groups of [`parquet_io::SIGNAL_ROW_GROUP`] rows, sorting columns, bloom filters,
//! statistics and page index), made durable as [`parquet_io::publish`] does.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_writer::{ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use crate::model::anyvalue::Attributes;
use crate::spans_logs::arrow::{AttributeMaps, RenderedRows};
use crate::spans_logs::map_chunk::{self, LeafLists};
use crate::spans_logs::order::sort_key;
use crate::spans_logs::store::StoredRecord;
use crate::storage::parquet_io::{self, SIGNAL_ROW_GROUP, bad};
use crate::{Error, Result};

/// The map columns encoded here: whether from the shared resource lists (else from each
/// row's own), and which of a rendered pair of maps each holds (`true`: the types map).
const MAPS: [(&str, Lists, bool); 4] = [
    ("attributes", Lists::Own, false),
    ("attribute_types", Lists::Own, true),
    ("resource_attributes", Lists::Shared, false),
    ("resource_attribute_types", Lists::Shared, true),
];

/// Where a map column's lists come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lists {
    /// The records' shared resource lists, one list for many rows.
    Shared,
    /// Each row's own attributes.
    Own,
}

/// Writes `rows` (in the signal's sort order, at least one) as one file at `path`,
/// durably, building Arrow batches of at most `batch_rows` rows. Returns its size.
pub(crate) fn write_records<R: StoredRecord>(
    path: &Path,
    rows: &[&R],
    batch_rows: usize,
) -> Result<u64> {
    let Some(first) = rows.first() else {
        return Err(bad(path, "no rows to write"));
    };
    let schema = R::to_batch(std::slice::from_ref(first))?.schema();
    let props = parquet_io::signal_props(&schema, sort_key(R::SIGNAL));
    write_with(path, schema, props, rows, batch_rows, SIGNAL_ROW_GROUP)
}

/// [`write_records`] with the schema, properties and row group size given.
pub(crate) fn write_with<R: StoredRecord>(
    path: &Path,
    schema: SchemaRef,
    mut props: WriterProperties,
    rows: &[&R],
    batch_rows: usize,
    group_rows: usize,
) -> Result<u64> {
    let tmp = path.with_extension("parquet.tmp");
    let pq = |e: parquet::errors::ParquetError| bad(&tmp, e);
    add_encoded_arrow_schema_to_metadata(&schema, &mut props);
    let descr = ArrowSchemaConverter::new().convert(&schema).map_err(pq)?;
    let file = File::create(&tmp).map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    let mut fw =
        SerializedFileWriter::new(file, descr.root_schema_ptr(), Arc::new(props)).map_err(pq)?;
    let props = Arc::clone(fw.properties());
    let factory = ArrowRowGroupWriterFactory::new(&fw, Arc::clone(&schema));

    // Each field's first leaf, and the leaves encoded here: leaf index -> (lists, types
    // map?, values?).
    let mut first_leaf = Vec::with_capacity(schema.fields().len());
    let mut ours: HashMap<usize, (Lists, bool, bool)> = HashMap::new();
    let leaves = descr.columns();
    let mut at = 0;
    for field in schema.fields() {
        first_leaf.push(at);
        while at < leaves.len() && leaves[at].path().parts()[0] == *field.name() {
            if let Some(&(_, lists, types)) = MAPS.iter().find(|(n, ..)| n == field.name()) {
                let values = leaves[at]
                    .path()
                    .parts()
                    .last()
                    .is_some_and(|p| p == "values");
                ours.insert(at, (lists, types, values));
            }
            at += 1;
        }
    }
    first_leaf.push(at);
    if ours.len() != 2 * MAPS.len() {
        return Err(bad(&tmp, "the schema lacks the attribute maps"));
    }

    for (g, group) in rows.chunks(group_rows.max(1)).enumerate() {
        let mut writers = factory.create_column_writers(g).map_err(pq)?;
        let mut own: Vec<RenderedRows> = Vec::new();
        for chunk in group.chunks(batch_rows.max(1)) {
            let (batch, rendered) = R::to_batch_with(chunk, AttributeMaps::Deferred)?;
            own.push(rendered);
            for (f, (field, column)) in schema.fields().iter().zip(batch.columns()).enumerate() {
                if ours.contains_key(&first_leaf[f]) {
                    continue;
                }
                let leaves = compute_leaves(field, column).map_err(pq)?;
                for (leaf, writer) in leaves.iter().zip(&mut writers[first_leaf[f]..]) {
                    writer.write(leaf).map_err(pq)?;
                }
            }
        }
        let (lists, row_list) = distinct_lists(group);
        let rendered = lists
            .iter()
            .map(|l| RenderedRows::of_list(l))
            .collect::<Result<Vec<_>>>()?;
        // Row i's own list is list i.
        let own_rows: Vec<u32> = (0..group.len() as u32).collect();
        let mut rg = fw.next_row_group().map_err(pq)?;
        for (i, writer) in writers.into_iter().enumerate() {
            match ours.get(&i) {
                Some(&(from, types, values)) => {
                    let (strings, rows) = match from {
                        Lists::Shared => {
                            let mut l = LeafLists::default();
                            for r in &rendered {
                                r.push_leaf(types, values, &mut l);
                            }
                            (l, &row_list)
                        }
                        Lists::Own => {
                            let entries = own.iter().map(|o| o.entries(types)).sum();
                            let mut l = LeafLists::with_capacity(group.len(), entries);
                            for o in &own {
                                o.push_leaf(types, values, &mut l);
                            }
                            (l, &own_rows)
                        }
                    };
                    let (bytes, close) =
                        map_chunk::encode_leaf(&descr.column(i), &props, &strings, rows)
                            .map_err(|e| bad(&tmp, e))?;
                    rg.append_column(&bytes, close).map_err(pq)?;
                }
                None => writer
                    .close()
                    .and_then(|c| c.append_to_row_group(&mut rg))
                    .map_err(pq)?,
            }
        }
        rg.close().map_err(pq)?;
    }
    let file = fw.into_inner().map_err(pq)?;
    parquet_io::publish(&tmp, path, file)
}

/// The distinct resource lists of `rows` (by address: records of one resource share one
/// list) and, per row, the index of its list.
fn distinct_lists<'a, R: StoredRecord>(rows: &[&'a R]) -> (Vec<&'a Attributes>, Vec<u32>) {
    let mut index: HashMap<*const Attributes, u32> = HashMap::new();
    let mut lists = Vec::new();
    let mut last: Option<(*const Attributes, u32)> = None;
    let row_list = rows
        .iter()
        .map(|r| {
            let list = r.resource();
            let ptr = Arc::as_ptr(list);
            match last {
                Some((p, at)) if p == ptr => at,
                _ => {
                    let at = *index.entry(ptr).or_insert_with(|| {
                        lists.push(&**list);
                        (lists.len() - 1) as u32
                    });
                    last = Some((ptr, at));
                    at
                }
            }
        })
        .collect();
    (lists, row_list)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use arrow::compute::concat_batches;
    use arrow::record_batch::RecordBatch;
    use parquet::arrow::arrow_reader::{
        ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
    };
    use parquet::basic::Encoding;
    use parquet::file::metadata::PageIndexPolicy;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;
    use crate::model::anyvalue::AnyValue;
    use crate::model::records::{LogRecord, Scope, SpanRecord};
    use crate::spans_logs::order::FlushOrder;

    fn read_all(path: &Path, selection: Option<RowSelection>) -> RecordBatch {
        let file = File::open(path).unwrap();
        let opts = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
        let mut b = ParquetRecordBatchReaderBuilder::try_new_with_options(file, opts).unwrap();
        if let Some(s) = selection {
            b = b.with_row_selection(s);
        }
        let schema = b.schema().clone();
        let batches: Vec<RecordBatch> = b.build().unwrap().map(|b| b.unwrap()).collect();
        concat_batches(&schema, &batches).unwrap()
    }

    /// Resources of every shape: shared by many rows, empty, with typed values (a types
    /// map), with a long value, and one per row at the end.
    fn resources() -> Vec<Arc<Attributes>> {
        let s = |k: &str, v: &str| (k.to_owned(), AnyValue::String(v.to_owned()));
        let mut out = vec![
            Arc::new(vec![s("service.name", "a"), s("host.name", "h1")]),
            Arc::new(Vec::new()),
            Arc::new(vec![
                s("service.name", "b"),
                ("pid".to_owned(), AnyValue::Int(42)),
                ("debug".to_owned(), AnyValue::Bool(true)),
                s("host.name", "h1"),
            ]),
            Arc::new(vec![s("service.name", "c"), s("long", &"x".repeat(5_000))]),
        ];
        for i in 0..40 {
            out.push(Arc::new(vec![s("service.name", &format!("svc{i}"))]));
        }
        out
    }

    /// A record's own attributes, of every shape by `i`: none; a typed value (a types map
    /// entry); strings repeated across rows and unique ones; a well-known span attribute
    /// (its own column, not the map); a long value; many entries.
    fn own_attributes(i: u32) -> Attributes {
        let s = |k: &str, v: String| (k.to_owned(), AnyValue::String(v));
        match i % 6 {
            0 => Vec::new(),
            1 => vec![("i".into(), AnyValue::Int(i64::from(i)))],
            2 => vec![
                s("http.route", format!("/r/{}", i % 3)),
                s("cache.key", format!("k{i}")),
                ("hit".into(), AnyValue::Bool(i.is_multiple_of(4))),
            ],
            3 => vec![s("note", "y".repeat(3_000 + (i % 7) as usize))],
            4 => (0..12)
                .map(|k| s(&format!("k{k}"), format!("v{}", i % 5)))
                .collect(),
            _ => vec![s("peer", format!("p{}", i % 50))],
        }
    }

    fn spans(n: u32, resources: &[Arc<Attributes>]) -> Vec<SpanRecord> {
        let scope = Arc::new(Scope {
            name: "lib".into(),
            version: "1".into(),
            attributes: vec![("team".to_owned(), AnyValue::Int(7))],
        });
        (0..n)
            .map(|i| {
                let x = i.wrapping_mul(2_654_435_761);
                let mut trace_id = [1u8; 16];
                trace_id[..4].copy_from_slice(&x.to_be_bytes());
                // Runs of one resource, then others mixed in, so pages and groups start
                // inside runs and on changes.
                let r = if i % 10 < 6 { (i / 700) % 4 } else { x % 44 };
                SpanRecord {
                    trace_id,
                    span_id: (u64::from(i) + 1).to_le_bytes(),
                    service_name: format!("svc{}", i % 5),
                    name: format!("op{}", i % 7),
                    start_ns: i64::from(i),
                    end_ns: i64::from(i) + 10,
                    attributes: own_attributes(i),
                    resource_attributes: resources[r as usize].clone(),
                    scope: scope.clone(),
                    ..SpanRecord::default()
                }
            })
            .collect()
    }

    /// Writes `rows` both ways with the flush's properties changed by `tune`, and checks
    /// the files read back the same, whole and by a row selection through the page
    /// index; returns both paths.
    fn both_ways<R: StoredRecord>(
        dir: &Path,
        rows: &[&R],
        group_rows: usize,
        tune: impl Fn(
            parquet::file::properties::WriterPropertiesBuilder,
        ) -> parquet::file::properties::WriterPropertiesBuilder,
    ) -> (PathBuf, PathBuf) {
        let schema = R::to_batch(&rows[..1]).unwrap().schema();
        let props = || {
            let p = parquet_io::signal_props(&schema, sort_key(R::SIGNAL)).into_builder();
            tune(p.set_max_row_group_row_count(Some(group_rows))).build()
        };
        let ours = dir.join("ours.parquet");
        write_with(&ours, Arc::clone(&schema), props(), rows, 1_000, group_rows).unwrap();
        let arrow = dir.join("arrow.parquet");
        let mut w =
            parquet_io::DurableWriter::create(&arrow, Arc::clone(&schema), props()).unwrap();
        for chunk in rows.chunks(1_000) {
            w.write(&R::to_batch(chunk).unwrap()).unwrap();
        }
        w.finish().unwrap();

        assert_eq!(read_all(&ours, None), read_all(&arrow, None));
        // Skip into the middle of a page and of a row group, read across pages.
        let sel = || {
            RowSelection::from(vec![
                RowSelector::skip(4_500),
                RowSelector::select(3_000),
                RowSelector::skip(1),
                RowSelector::select(10),
            ])
        };
        let (a, b) = (read_all(&ours, Some(sel())), read_all(&arrow, Some(sel())));
        assert_eq!(a.num_rows(), 3_010);
        assert_eq!(a, b);

        let (ra, rb) = (
            SerializedFileReader::new(File::open(&ours).unwrap()).unwrap(),
            SerializedFileReader::new(File::open(&arrow).unwrap()).unwrap(),
        );
        let (ma, mb) = (ra.metadata(), rb.metadata());
        assert_eq!(ma.num_row_groups(), mb.num_row_groups());
        assert_eq!(
            ma.file_metadata().key_value_metadata(),
            mb.file_metadata().key_value_metadata()
        );
        for (ga, gb) in ma.row_groups().iter().zip(mb.row_groups()) {
            assert_eq!(ga.num_rows(), gb.num_rows());
            assert_eq!(ga.sorting_columns(), gb.sorting_columns());
            for (ca, cb) in ga.columns().iter().zip(gb.columns()) {
                assert_eq!(ca.column_path(), cb.column_path());
                assert_eq!(ca.compression(), cb.compression());
                assert_eq!(ca.num_values(), cb.num_values());
                assert_eq!(ca.statistics().is_some(), cb.statistics().is_some());
                assert_eq!(
                    ca.bloom_filter_offset().is_some(),
                    cb.bloom_filter_offset().is_some()
                );
            }
        }
        (ours, arrow)
    }

    fn leaf_encodings(path: &Path, leaf: &str) -> Vec<Encoding> {
        let r = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        let md = r.metadata();
        let col = md.row_groups()[0]
            .columns()
            .iter()
            .find(|c| c.column_path().string() == leaf)
            .unwrap()
            .clone();
        col.encodings().collect()
    }

    #[test]
    fn spans_written_from_their_lists_read_back_as_the_arrow_writers() {
        let dir = tempfile::tempdir().unwrap();
        let res = resources();
        let spans = spans(11_000, &res);
        let mut rows: Vec<&SpanRecord> = spans.iter().collect();
        SpanRecord::sort_rows(&mut rows);
        // Row groups of 5,000 rows: three groups, pages of 4,096 rows within them.
        let (ours, _) = both_ways(dir.path(), &rows, 5_000, |p| p);
        for leaf in [
            "resource_attributes.entries.keys",
            "attributes.entries.keys",
            "attributes.entries.values",
            "attribute_types.entries.values",
        ] {
            let enc = leaf_encodings(&ours, leaf);
            assert!(enc.contains(&Encoding::RLE_DICTIONARY), "{leaf}: {enc:?}");
        }
        // And the records come back whole.
        let back =
            crate::spans_logs::spans::arrow::spans_from_batch(&read_all(&ours, None)).unwrap();
        let want: Vec<SpanRecord> = rows.iter().map(|r| (*r).clone()).collect();
        assert_eq!(back, want);
    }

    #[test]
    fn a_dictionary_over_the_page_limit_falls_back_to_plain_values() {
        let dir = tempfile::tempdir().unwrap();
        let res = resources();
        let spans = spans(9_000, &res);
        let mut rows: Vec<&SpanRecord> = spans.iter().collect();
        SpanRecord::sort_rows(&mut rows);
        let (ours, _) = both_ways(dir.path(), &rows, 65_536, |p| {
            p.set_dictionary_page_size_limit(64)
        });
        for leaf in [
            "resource_attributes.entries.values",
            "attributes.entries.values",
        ] {
            let enc = leaf_encodings(&ours, leaf);
            assert!(!enc.contains(&Encoding::RLE_DICTIONARY), "{leaf}: {enc:?}");
        }
    }

    #[test]
    fn logs_and_all_empty_resources_read_back_as_the_arrow_writers() {
        let dir = tempfile::tempdir().unwrap();
        let res = resources();
        // Lists of every kind; only empty lists (no entries at all); no empty list (the
        // definition levels one run); one entry each (the repetition levels one run).
        for (name, pick) in [("mixed", 0u32), ("empty", 1), ("full", 2), ("single", 3)] {
            let logs: Vec<LogRecord> = (0..8_000u32)
                .map(|i| LogRecord {
                    time_ns: i64::from(i),
                    service_name: format!("svc{}", i % 4),
                    body: Some(AnyValue::String(format!("line {i}"))),
                    attributes: own_attributes(i.wrapping_mul(7)),
                    resource_attributes: match (pick, i.wrapping_mul(2_654_435_761)) {
                        (0, x) => res[(x % 44) as usize].clone(),
                        (1, _) => res[1].clone(),
                        (3, x) => res[4 + (x % 40) as usize].clone(),
                        (_, x) => res[2 + (x % 42) as usize].clone(),
                    },
                    ..LogRecord::default()
                })
                .collect();
            let mut rows: Vec<&LogRecord> = logs.iter().collect();
            LogRecord::sort_rows(&mut rows);
            let sub = dir.path().join(name);
            std::fs::create_dir_all(&sub).unwrap();
            both_ways(&sub, &rows, 65_536, |p| p);
        }
    }
}
