//! A partition file set's inverted index: for every label name and value, the rows of the
//! set's series table (`series-<B>.parquet`, sorted by series id) whose series carry it.
//!
//! Rows are numbered from 0 in series-table order, so a row number is a `u32` and the sets
//! are roaring bitmaps. On disk it is plain Parquet: `name Utf8, value Utf8, rows Binary`
//! (a roaring bitmap in its portable serialization), sorted by (name, value).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use roaring::RoaringBitmap;

use crate::model::series::SeriesId;
use crate::model::series_key::LabelPairs;
use crate::storage::parquet_io::{bad, column, open_batches, write_file};
use crate::{Error, METRIC_NAME, Matcher};

/// The inverted index of one file set.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct PartIndex {
    /// name -> value -> rows.
    postings: BTreeMap<String, BTreeMap<String, RoaringBitmap>>,
}

impl PartIndex {
    /// Indexes `series`, whose position is its row in the series table.
    pub(crate) fn build(series: &[(SeriesId, impl LabelPairs)]) -> Self {
        let mut postings: BTreeMap<String, BTreeMap<String, RoaringBitmap>> = BTreeMap::new();
        for (row, (_, labels)) in series.iter().enumerate() {
            let row = u32::try_from(row).unwrap_or(u32::MAX);
            for (n, v) in labels.label_pairs() {
                // Allocate a name or value only the first time it is seen.
                let values = match postings.get_mut(n) {
                    Some(values) => values,
                    None => postings.entry(n.to_owned()).or_default(),
                };
                match values.get_mut(v) {
                    Some(rows) => rows.insert(row),
                    None => values.entry(v.to_owned()).or_default().insert(row),
                };
            }
        }
        Self { postings }
    }

    /// Label names present, sorted.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.postings.keys().map(String::as_str)
    }

    /// Values of label `name` present, sorted.
    pub(crate) fn values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.postings
            .get(name)
            .into_iter()
            .flat_map(|v| v.keys().map(String::as_str))
    }

    /// Every row: each series has a `__name__`.
    fn all(&self) -> RoaringBitmap {
        self.postings
            .get(METRIC_NAME)
            .map(|values| values.values().fold(RoaringBitmap::new(), |acc, b| acc | b))
            .unwrap_or_default()
    }

    /// Rows whose series pass every matcher, with PromQL's semantics (an absent label
    /// matches as the empty string). Matchers that do not match `""` narrow first (smallest
    /// set first), so the set of every row is only built when all matchers match `""`.
    pub(crate) fn select(&self, matchers: &[Matcher]) -> RoaringBitmap {
        let (narrowing, removing): (Vec<&Matcher>, Vec<&Matcher>) =
            matchers.iter().partition(|m| !m.matches_value(""));
        let mut sets = Vec::with_capacity(narrowing.len());
        for m in narrowing {
            let rows = self.rows_where(m, true);
            if rows.is_empty() {
                return rows;
            }
            sets.push(rows);
        }
        sets.sort_by_key(RoaringBitmap::len);
        let mut sets = sets.into_iter();
        let mut out = match sets.next() {
            Some(first) => sets.fold(first, |acc, s| acc & s),
            None => self.all(),
        };
        for m in removing {
            if out.is_empty() {
                break;
            }
            out -= self.rows_where(m, false);
        }
        out
    }

    /// Rows whose value of `m`'s label passes `m` (`pass`) or fails it, among the rows
    /// that carry the label: direct lookups for `=`, `!=` and regexes of literal
    /// alternatives, a pass over the label's values otherwise.
    fn rows_where(&self, m: &Matcher, pass: bool) -> RoaringBitmap {
        let Some(values) = self.postings.get(m.name()) else {
            return RoaringBitmap::new();
        };
        match m.listed_values(pass) {
            Some(vs) => vs
                .iter()
                .filter_map(|v| values.get(*v))
                .fold(RoaringBitmap::new(), |acc, b| acc | b),
            None => values
                .iter()
                .filter(|(v, _)| m.matches_value(v) == pass)
                .fold(RoaringBitmap::new(), |acc, (_, b)| acc | b),
        }
    }

    /// Writes the index durably (see `parquet_io::write_file`); returns its size.
    pub(crate) fn write(&self, path: &Path) -> Result<u64, Error> {
        let mut names = Vec::new();
        let mut values = Vec::new();
        let mut rows = Vec::new();
        for (name, vals) in &self.postings {
            for (value, bitmap) in vals {
                let mut buf = Vec::with_capacity(bitmap.serialized_size());
                bitmap.serialize_into(&mut buf).map_err(|e| bad(path, e))?;
                names.push(name.as_str());
                values.push(value.as_str());
                rows.push(buf);
            }
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, false),
            Field::new("rows", DataType::Binary, false),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(names)),
            Arc::new(StringArray::from(values)),
            Arc::new(BinaryArray::from_iter_values(rows.iter())),
        ];
        let batch = RecordBatch::try_new(schema, cols).map_err(|e| bad(path, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .build();
        write_file(path, &batch, props)
    }

    /// Reads an index written by [`PartIndex::write`].
    pub(crate) fn read(path: &Path) -> Result<Self, Error> {
        let mut postings: BTreeMap<String, BTreeMap<String, RoaringBitmap>> = BTreeMap::new();
        for batch in open_batches(path)? {
            let batch = batch?;
            let names = column::<StringArray>(&batch, 0, path)?;
            let values = column::<StringArray>(&batch, 1, path)?;
            let rows = column::<BinaryArray>(&batch, 2, path)?;
            for i in 0..batch.num_rows() {
                let bitmap =
                    RoaringBitmap::deserialize_from(rows.value(i)).map_err(|e| bad(path, e))?;
                postings
                    .entry(names.value(i).to_owned())
                    .or_default()
                    .insert(values.value(i).to_owned(), bitmap);
            }
        }
        Ok(Self { postings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Labels;
    use crate::model::matcher::MatchOp;

    fn series(pairs: &[&[(&str, &str)]]) -> Vec<(SeriesId, Arc<Labels>)> {
        pairs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    i as u64,
                    Arc::new(Labels::from_pairs(p.iter().copied()).unwrap()),
                )
            })
            .collect()
    }

    fn rows(idx: &PartIndex, ms: &[(&str, MatchOp, &str)]) -> Vec<u32> {
        let ms: Vec<Matcher> = ms
            .iter()
            .map(|(n, op, v)| Matcher::new(n, *op, v).unwrap())
            .collect();
        idx.select(&ms).iter().collect()
    }

    #[test]
    fn selects_like_the_matchers_do_on_labels() {
        let s = series(&[
            &[("__name__", "up"), ("job", "api")],
            &[("__name__", "up"), ("job", "db"), ("zone", "a")],
            &[("__name__", "cpu"), ("zone", "b")],
        ]);
        let idx = PartIndex::build(&s);
        use MatchOp::*;
        let cases: Vec<Vec<(&str, MatchOp, &str)>> = vec![
            vec![],
            vec![("__name__", Equal, "up")],
            vec![("job", Equal, "")],
            vec![("job", NotEqual, "api")],
            vec![("zone", Regex, "a|b")],
            vec![("zone", NotRegex, "a")],
            vec![("zone", Regex, ".*")],
            vec![("zone", Regex, ".+")],
            vec![("nope", Equal, "x")],
            vec![("__name__", Equal, "up"), ("zone", NotEqual, "")],
            vec![("zone", NotRegex, "a|b")],
            vec![("job", Regex, "(api|x)"), ("zone", Equal, "")],
            vec![("__name__", Regex, "up|cpu"), ("job", NotRegex, "(?:db)")],
            vec![("zone", Regex, "(a|)")],
        ];
        for ms in cases {
            let want: Vec<u32> = s
                .iter()
                .enumerate()
                .filter(|(_, (_, l))| {
                    ms.iter()
                        .all(|(n, op, v)| Matcher::new(n, *op, v).unwrap().matches(l))
                })
                .map(|(i, _)| i as u32)
                .collect();
            assert_eq!(rows(&idx, &ms), want, "{ms:?}");
        }
    }

    #[test]
    fn round_trips_through_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let s = series(&[
            &[("__name__", "up"), ("job", "api")],
            &[("__name__", "up"), ("job", "db")],
        ]);
        let idx = PartIndex::build(&s);
        let path = dir.path().join("index-1.parquet");
        assert!(idx.write(&path).unwrap() > 0);
        assert_eq!(PartIndex::read(&path).unwrap(), idx);
    }
}
