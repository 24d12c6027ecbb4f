//! The attribute maps (`Map<Utf8, Utf8>`) of chosen rows of a Parquet file, read from
//! their pages in place: for a line lookup's rows, a few in each row group.
//!
//! The parquet crate's reader, asked for one row of a map column, makes a zstd context
//! pair for each of its leaves' column chunks, and decodes every repetition level before
//! the row's in its page, and after it to the page's end: ~150 µs a row over a
//! resource's and a record's attributes, ~45% of a needle query's CPU
//! (`docs/benchmarks-history.md`). Here the pages come through the parquet crate's page
//! reader with their bytes as stored; they are decompressed with one zstd context per
//! thread, and a row's levels and values are found by position in the hybrid encoding
//! ([`super::hybrid`]).
//!
//! What is read: a non-null map of non-null string keys to nullable string values (two
//! leaves), in data pages v1 or v2 with `RLE` levels and `PLAIN` or dictionary-encoded
//! values, uncompressed or zstd, with an offset index. [`read_maps`] answers `None` on
//! anything else, and the caller reads the rows with the parquet crate.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{ArrayRef, MapArray, StringBuilder, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::datasource::physical_plan::parquet::ParquetAccessPlan;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderMetadata;
use datafusion::parquet::basic::{Encoding, Type};
use datafusion::parquet::column::page::{Page, PageReader};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ParquetMetaData;

use super::access::access_ranges;
use super::hybrid::Hybrid;
use super::pread::Pread;
use super::raw::raw_pages;

type Result<T> = std::result::Result<T, ParquetError>;

/// A map column this reader reads: its Arrow field and its two leaves.
#[derive(Debug, Clone)]
pub(crate) struct MapColumn {
    /// The column's name.
    pub(crate) name: String,
    field: FieldRef,
    keys: usize,
    values: usize,
}

/// The map column `name` of a file, when it is a non-null map of non-null strings to
/// nullable strings.
pub(crate) fn map_column(meta: &ArrowReaderMetadata, name: &str) -> Option<MapColumn> {
    let schema = meta.schema();
    let field = schema.fields().iter().find(|f| f.name() == name)?.clone();
    let DataType::Map(entries, _) = field.data_type() else {
        return None;
    };
    let DataType::Struct(kv) = entries.data_type() else {
        return None;
    };
    if field.is_nullable()
        || entries.is_nullable()
        || kv.len() != 2
        || kv[0].is_nullable()
        || kv.iter().any(|f| f.data_type() != &DataType::Utf8)
    {
        return None;
    }
    let descr = meta.metadata().file_metadata().schema_descr();
    let root = descr
        .root_schema()
        .get_fields()
        .iter()
        .position(|f| f.name() == name)?;
    let leaves: Vec<usize> = (0..descr.num_columns())
        .filter(|&i| descr.get_column_root_idx(i) == root)
        .collect();
    let [keys, values] = leaves[..] else {
        return None;
    };
    let shape = |i: usize, def: i16| {
        let c = descr.column(i);
        c.max_rep_level() == 1 && c.max_def_level() == def && c.physical_type() == Type::BYTE_ARRAY
    };
    (shape(keys, 1) && shape(values, 2)).then_some(MapColumn {
        name: name.to_owned(),
        field,
        keys,
        values,
    })
}

/// The maps of `columns` of the rows `plan` selects, in file order: one array per column,
/// or `None` where a page is stored otherwise than this reader reads.
pub(crate) fn read_maps(
    reader: &Pread,
    meta: &ParquetMetaData,
    plan: &ParquetAccessPlan,
    columns: &[MapColumn],
) -> Result<Option<Vec<ArrayRef>>> {
    let Some(offsets) = meta.offset_index() else {
        return Ok(None);
    };
    let reader = Arc::new(reader.clone());
    let mut out = Vec::with_capacity(columns.len());
    for column in columns {
        let mut keys = (StringBuilder::new(), Vec::new());
        let mut values = (StringBuilder::new(), Vec::new());
        for (g, access) in plan.inner().iter().enumerate() {
            let n = usize::try_from(meta.row_group(g).num_rows()).unwrap_or(0);
            let Some(ranges) = access_ranges(access, n) else {
                continue;
            };
            let rows: Vec<usize> = ranges.into_iter().flat_map(|(a, b)| a..b).collect();
            for (leaf, max_def, into) in
                [(column.keys, 1, &mut keys), (column.values, 2, &mut values)]
            {
                let Some(locations) = offsets.get(g).and_then(|c| c.get(leaf)) else {
                    return Ok(None);
                };
                let chunk = Chunk {
                    reader: &reader,
                    meta: meta.row_group(g).column(leaf),
                    locations: locations.page_locations(),
                    rows: n,
                    max_def,
                };
                if !chunk.read(&rows, &mut into.0, &mut into.1)? {
                    return Ok(None);
                }
            }
        }
        if keys.1 != values.1 {
            return Err(corrupt(&format!(
                "{}: its keys and values disagree on the entries of a row",
                column.name
            )));
        }
        out.push(assemble(column, keys.0, values.0, &keys.1)?);
    }
    Ok(Some(out))
}

/// A map array of `column`'s type from its entries' keys and values and each row's count.
fn assemble(
    column: &MapColumn,
    mut keys: StringBuilder,
    mut values: StringBuilder,
    counts: &[usize],
) -> Result<ArrayRef> {
    let DataType::Map(entries, sorted) = column.field.data_type() else {
        return Err(ParquetError::General(format!(
            "{} is not a map",
            column.name
        )));
    };
    let DataType::Struct(kv) = entries.data_type() else {
        return Err(ParquetError::General(format!(
            "{} is not a map",
            column.name
        )));
    };
    let arrow = |e: datafusion::arrow::error::ArrowError| ParquetError::ArrowError(e.to_string());
    let (keys, values) = (Arc::new(keys.finish()), Arc::new(values.finish()));
    let pairs = StructArray::try_new(kv.clone(), vec![keys, values], None).map_err(arrow)?;
    let offsets = OffsetBuffer::<i32>::from_lengths(counts.iter().copied());
    let map = MapArray::try_new(entries.clone(), offsets, pairs, None, *sorted).map_err(arrow)?;
    Ok(Arc::new(map))
}

/// One leaf's column chunk in one row group.
struct Chunk<'a> {
    reader: &'a Arc<Pread>,
    meta: &'a datafusion::parquet::file::metadata::ColumnChunkMetaData,
    locations: &'a [datafusion::parquet::file::page_index::offset_index::PageLocation],
    rows: usize,
    max_def: u32,
}

impl Chunk<'_> {
    /// Appends the entries of the sorted `rows` (of the row group) to `out`, and their
    /// numbers to `counts`; `false` when the chunk is stored otherwise than read here.
    fn read(
        &self,
        rows: &[usize],
        out: &mut StringBuilder,
        counts: &mut Vec<usize>,
    ) -> Result<bool> {
        let Some(mut pages) = raw_pages(
            self.reader.clone(),
            self.meta,
            self.rows,
            self.locations.to_vec(),
        )?
        else {
            return Ok(false);
        };
        let starts: Vec<usize> = self
            .locations
            .iter()
            .map(|p| usize::try_from(p.first_row_index).unwrap_or(0))
            .collect();
        let dictionary = if self.meta.dictionary_page_offset().is_some() {
            match pages.next()? {
                Some(Some(Page::DictionaryPage {
                    buf,
                    num_values,
                    encoding: Encoding::PLAIN | Encoding::PLAIN_DICTIONARY,
                    ..
                })) => Some(Dictionary::parse(buf, num_values as usize)?),
                _ => return Ok(false),
            }
        } else {
            None
        };
        let mut next = 0usize;
        let mut current: Option<(usize, DataPage)> = None;
        for &row in rows {
            let p = starts.partition_point(|&s| s <= row).saturating_sub(1);
            if current.as_ref().is_none_or(|(at, _)| *at != p) {
                if p < next {
                    return Err(corrupt("rows out of order"));
                }
                while next < p {
                    pages.pages.skip_next_page()?;
                    next += 1;
                }
                let Some(page) = pages
                    .next()?
                    .ok_or_else(|| corrupt("fewer pages than the offset index lists"))?
                else {
                    return Ok(false);
                };
                next += 1;
                match DataPage::open(page, dictionary.is_some())? {
                    Some(d) => current = Some((p, d)),
                    None => return Ok(false),
                }
            }
            let Some((_, page)) = current.as_mut() else {
                return Err(corrupt("no page"));
            };
            let first = starts.get(p).copied().unwrap_or(0);
            page.record(row - first, self.max_def, dictionary.as_ref(), out, counts)?;
        }
        Ok(true)
    }
}

/// A dictionary page's strings (`PLAIN` byte arrays).
struct Dictionary {
    buf: Bytes,
    entries: Vec<Range<usize>>,
}

impl Dictionary {
    fn parse(buf: Bytes, n: usize) -> Result<Self> {
        let mut entries = Vec::with_capacity(n.min(buf.len() / 4));
        let mut at = 0usize;
        for _ in 0..n {
            let (start, end) = plain_value(&buf, at)?;
            entries.push(start..end);
            at = end;
        }
        Ok(Self { buf, entries })
    }

    fn get(&self, i: u32) -> Result<&[u8]> {
        self.entries
            .get(i as usize)
            .map(|r| &self.buf[r.clone()])
            .ok_or_else(|| corrupt("a dictionary index past its end"))
    }
}

/// The bounds of the `PLAIN` byte array at `at` (after its 4-byte length).
fn plain_value(buf: &[u8], at: usize) -> Result<(usize, usize)> {
    let len = buf
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| corrupt("a value's length"))?;
    let end = (at + 4)
        .checked_add(len)
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| corrupt("a value"))?;
    Ok((at + 4, end))
}

/// A data page, decompressed: its levels and values.
struct DataPage {
    /// Its repetition and definition levels (`levels` of each).
    rep: Bytes,
    def: Bytes,
    levels: usize,
    /// Its values: dictionary indices (a bit-width byte, then the hybrid), or `PLAIN`.
    values: Bytes,
    indexed: bool,
    /// Where the `PLAIN` value of this index starts (values are read in order).
    cursor: (usize, usize),
}

impl DataPage {
    /// The page (decompressed), or `None` when stored otherwise than read here.
    fn open(page: Page, dictionary: bool) -> Result<Option<Self>> {
        let indexed = |e: Encoding| match e {
            Encoding::PLAIN => Some(false),
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY if dictionary => Some(true),
            _ => None,
        };
        match page {
            Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                ..
            } => {
                let Some(indexed) = indexed(encoding) else {
                    return Ok(None);
                };
                let rep = prefixed(&buf, 0)?;
                let def = prefixed(&buf, rep.end)?;
                Ok(Some(Self {
                    rep: buf.slice(rep.clone()),
                    def: buf.slice(def.clone()),
                    levels: num_values as usize,
                    values: buf.slice(def.end..),
                    indexed,
                    cursor: (0, 0),
                }))
            }
            Page::DataPageV2 {
                buf,
                num_values,
                encoding,
                def_levels_byte_len,
                rep_levels_byte_len,
                ..
            } => {
                let Some(indexed) = indexed(encoding) else {
                    return Ok(None);
                };
                let (r, d) = (rep_levels_byte_len as usize, def_levels_byte_len as usize);
                if r + d > buf.len() {
                    return Err(corrupt("levels longer than the page"));
                }
                let values = buf.slice(r + d..);
                Ok(Some(Self {
                    rep: buf.slice(..r),
                    def: buf.slice(r..r + d),
                    levels: num_values as usize,
                    values,
                    indexed,
                    cursor: (0, 0),
                }))
            }
            _ => Ok(None),
        }
    }

    /// Appends the entries of the page's `k`th record to `out`, and their number to
    /// `counts` (definition level `max_def`: a value; 1 below: a null value; 0, alone: an
    /// empty map).
    fn record(
        &mut self,
        k: usize,
        max_def: u32,
        dictionary: Option<&Dictionary>,
        out: &mut StringBuilder,
        counts: &mut Vec<usize>,
    ) -> Result<()> {
        let rep = Hybrid::new(&self.rep, 1, self.levels)?;
        let a = rep
            .find(0, k)?
            .ok_or_else(|| corrupt("fewer records than the offset index counts"))?;
        let b = rep.find(0, k + 1)?.unwrap_or(self.levels);
        let width = (32 - max_def.leading_zeros()) as u8;
        let def = Hybrid::new(&self.def, width, self.levels)?;
        let defs = def.take(a, b - a)?;
        if defs == [0] {
            counts.push(0);
            return Ok(());
        }
        let before = def.count(max_def, a)?;
        let present = defs.iter().filter(|&&d| d == max_def).count();
        let values = self.values(before, present, dictionary)?;
        let mut next = values.into_iter();
        for d in defs {
            if d == max_def {
                let v = next
                    .next()
                    .ok_or_else(|| corrupt("fewer values than levels"))?;
                out.append_value(std::str::from_utf8(v).map_err(|_| corrupt("not UTF-8"))?);
            } else if d >= 1 {
                out.append_null();
            } else {
                return Err(corrupt("an empty map with entries"));
            }
        }
        counts.push(b - a);
        Ok(())
    }

    /// The page's values `start..start + n`.
    fn values<'a>(
        &'a mut self,
        start: usize,
        n: usize,
        dictionary: Option<&'a Dictionary>,
    ) -> Result<Vec<&'a [u8]>> {
        if self.indexed {
            let dictionary = dictionary.ok_or_else(|| corrupt("indices without a dictionary"))?;
            let (&width, stream) = self
                .values
                .split_first()
                .ok_or_else(|| corrupt("no dictionary indices"))?;
            let indices = Hybrid::new(stream, width, self.levels)?.take(start, n)?;
            return indices.into_iter().map(|i| dictionary.get(i)).collect();
        }
        if start < self.cursor.0 {
            self.cursor = (0, 0);
        }
        let (mut i, mut at) = self.cursor;
        while i < start {
            at = plain_value(&self.values, at)?.1;
            i += 1;
        }
        let mut out = Vec::with_capacity(n);
        let mut end = at;
        for _ in 0..n {
            let (s, e) = plain_value(&self.values, end)?;
            out.push(s..e);
            end = e;
        }
        self.cursor = (start, at);
        Ok(out.into_iter().map(|r| &self.values[r]).collect())
    }
}

/// The bytes after a 4-byte little-endian length at `at`: a v1 page's levels.
fn prefixed(buf: &[u8], at: usize) -> Result<Range<usize>> {
    let (start, end) = plain_value(buf, at)?;
    Ok(start..end)
}

fn corrupt(what: &str) -> ParquetError {
    ParquetError::General(format!("corrupt map page: {what}"))
}

#[cfg(test)]
#[path = "map_rows_tests.rs"]
mod tests;
