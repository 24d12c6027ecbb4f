//! Parquet column chunks of map columns, encoded from the records' lists of strings
//! instead of through the Arrow writer: a record's resource attributes and its own.
//!
//! Every span of one resource carries the same attribute list (behind one `Arc`), and the
//! Arrow writer would render, hash and look up each of its entries again for every row:
//! ~22 dictionary lookups per span, ~30% of a span flush's instructions
//! (`docs/benchmarks-history.md`). A span's own attributes are its own, but the Arrow writer's
//! path for them (a map array, its levels, then Parquet's dictionary interner per entry)
//! cost ~4 times what encoding them here does. Each leaf (a map's keys, or its values) is
//! written as one dictionary page of the distinct strings of the lists its rows use, and
//! data pages whose levels and dictionary indices are copied per row from its list's. A
//! row names a list: many rows name one shared list (resources), or each row its own
//! (a record's attributes). The chunk is the one the Arrow writer would write, value for
//! value: the same schema, levels, dictionary encoding, codec and page row limit; a reader
//! cannot tell them apart (`spans_logs/writer.rs` tests read both back).
//!
//! Data pages are version 1 (the writer's default): repetition levels, then definition
//! levels, each as a 4-byte little-endian length and the RLE/bit-packing hybrid, then the
//! values: a bit-width byte and the hybrid of dictionary indices (`RLE_DICTIONARY`), or
//! `PLAIN` values for the whole chunk when its dictionary would pass the writer's
//! dictionary page size limit (the Arrow writer falls back to `PLAIN` at the page where it
//! passes it; both are plain Parquet).

mod hybrid;
mod pages;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

use bytes::Bytes;
use parquet::basic::Compression;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::TrackedWrite;
use parquet::schema::types::ColumnDescPtr;

use hybrid::{PackedLists, bits_for};
use pages::{ChunkPages, PageEncoder};

/// An error encoding a map leaf (an unexpected schema or codec; a bug, not input).
#[derive(Debug, thiserror::Error)]
pub(crate) enum MapChunkError {
    /// The leaf is not a non-null map's keys or values.
    #[error("column {column} is not a map leaf (max repetition {rep}, definition {def})")]
    NotAMapLeaf {
        /// Its dotted path.
        column: String,
        /// Its maximum repetition level.
        rep: i16,
        /// Its maximum definition level.
        def: i16,
    },
    /// The writer properties ask for a codec this encoder does not apply.
    #[error("column {column}: codec {codec} is not supported for map leaves")]
    Codec {
        /// Its dotted path.
        column: String,
        /// The codec asked for.
        codec: Compression,
    },
    /// Compressing a page failed.
    #[error("column {column}: zstd: {source}")]
    Zstd {
        /// Its dotted path.
        column: String,
        /// What zstd said.
        source: std::io::Error,
    },
    /// The Parquet page writer or metadata builder refused.
    #[error("column {column}: {source}")]
    Parquet {
        /// Its dotted path.
        column: String,
        /// What Parquet said.
        source: parquet::errors::ParquetError,
    },
}

/// The strings of one leaf of a map column (its keys, or its values), list by list: list
/// `j` is `strings[bounds[j]..bounds[j + 1]]`, in entry order.
pub(crate) struct LeafLists<'a> {
    strings: Vec<&'a [u8]>,
    bounds: Vec<usize>,
}

impl<'a> LeafLists<'a> {
    /// Lists for about `lists` lists of `strings` strings in all.
    pub(crate) fn with_capacity(lists: usize, strings: usize) -> Self {
        let mut bounds = Vec::with_capacity(lists + 1);
        bounds.push(0);
        Self {
            strings: Vec::with_capacity(strings),
            bounds,
        }
    }

    /// Appends a string to the list being built.
    #[inline]
    pub(crate) fn push(&mut self, s: &'a [u8]) {
        self.strings.push(s);
    }

    /// Ends the list being built (the strings pushed since the last end).
    #[inline]
    pub(crate) fn end_list(&mut self) {
        self.bounds.push(self.strings.len());
    }

    /// The number of lists ended.
    pub(crate) fn len(&self) -> usize {
        self.bounds.len() - 1
    }

    fn range(&self, j: u32) -> std::ops::Range<usize> {
        self.bounds[j as usize]..self.bounds[j as usize + 1]
    }

    fn list(&self, j: u32) -> &[&'a [u8]] {
        &self.strings[self.range(j)]
    }
}

/// A 64-bit hash of a string for lookups that confirm with a comparison: a multiply of
/// its first and last 8 bytes and length when it has at most 16, xxh3 when longer.
#[inline]
fn str_hash(s: &[u8]) -> u64 {
    let n = s.len();
    if n > 16 {
        return twox_hash::XxHash3_64::oneshot(s);
    }
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    let (a, b) = if n >= 8 {
        (word(&s[..8]), word(&s[n - 8..]))
    } else {
        (word(s), 0)
    };
    let m =
        u128::from(a ^ 0x243F_6A88_85A3_08D3 ^ n as u64) * u128::from(b ^ 0x1319_8A2E_0370_7344);
    (m as u64) ^ ((m >> 64) as u64)
}

impl Default for LeafLists<'_> {
    fn default() -> Self {
        Self::with_capacity(0, 0)
    }
}

/// Hashes the strings a leaf's dictionary looks up ([`str_hash`]; SipHash cost twice the
/// lookup).
#[derive(Default)]
struct StrHasher(u64);

impl Hasher for StrHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = str_hash(bytes);
    }

    fn write_usize(&mut self, _: usize) {
        // The length `[u8]`'s `Hash` writes first; `str_hash` covers it.
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Passes on a hash already mixed (a list's, from [`str_hash`]es).
#[derive(Default)]
struct MixedHasher(u64);

impl Hasher for MixedHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Encodes one leaf of a map column: `rows[i]` names the list of row `i` in `lists`.
/// Returns the chunk's bytes (offsets in its metadata count from 0) and what closing a
/// column writer would return, for `SerializedRowGroupWriter::append_column`.
pub(crate) fn encode_leaf(
    descr: &ColumnDescPtr,
    props: &WriterProperties,
    lists: &LeafLists<'_>,
    rows: &[u32],
) -> Result<(Bytes, ColumnCloseResult), MapChunkError> {
    let leaf = Leaf::check(descr, props)?;
    let dict = Dictionary::build(lists, rows);
    let dict_bytes = dict.page_bytes();
    let use_dict = !dict.strings.is_empty() && dict_bytes <= props.dictionary_page_size_limit();

    let mut sink = TrackedWrite::new(Vec::new());
    let mut pages = ChunkPages::new(&leaf, &mut sink)?;
    if use_dict {
        pages.write_dictionary(&dict.strings, dict_bytes)?;
    }
    let bit_width = bits_for(dict.strings.len().saturating_sub(1) as u32);
    // Lists that rows share (on average two rows or more a list), their dictionary indices
    // packed once: a row then copies a few words instead of pushing each index.
    let packed = (use_dict && lists.len() * 2 <= rows.len())
        .then(|| PackedLists::new(lists, &dict.entry_ids, &dict.seen, bit_width));
    let encoder = PageEncoder {
        lists,
        max_def: leaf.max_def,
        def_width: bits_for(leaf.max_def as u32),
        dict: use_dict.then_some((bit_width, &dict.entry_ids[..])),
        packed,
    };
    let page_rows = props.data_page_row_count_limit().max(1);
    let page_bytes = props.data_page_size_limit().max(1);
    let mut start = 0;
    while start < rows.len() {
        let shape = encoder.shape(rows, start, page_rows, page_bytes);
        let page = &rows[start..shape.end];
        let (buf, encoding) = encoder.encode(page, &shape);
        pages.write_data_page(buf, encoding, shape.levels, page.len())?;
        start = shape.end;
    }
    let written = pages.close()?;
    let bytes = Bytes::from(sink.into_inner().map_err(|e| leaf.parquet_err(e))?);
    let metadata = written.metadata(descr, &leaf, use_dict)?;
    let close = ColumnCloseResult {
        bytes_written: bytes.len() as u64,
        rows_written: rows.len() as u64,
        metadata,
        bloom_filter: None,
        column_index: None,
        offset_index: Some(written.offsets.build()),
    };
    Ok((bytes, close))
}

/// The leaf a chunk is encoded for: its path (for errors), definition level and codec.
struct Leaf {
    column: String,
    max_def: i16,
    codec: Compression,
    /// The zstd level, `None` for an uncompressed chunk.
    level: Option<i32>,
}

impl Leaf {
    /// Checks that `descr` is a non-null map's keys or values, and that its codec is one
    /// this encoder applies.
    fn check(descr: &ColumnDescPtr, props: &WriterProperties) -> Result<Self, MapChunkError> {
        let column = descr.path().string();
        let (max_rep, max_def) = (descr.max_rep_level(), descr.max_def_level());
        if max_rep != 1 || !(1..=2).contains(&max_def) {
            return Err(MapChunkError::NotAMapLeaf {
                column,
                rep: max_rep,
                def: max_def,
            });
        }
        let codec = props.compression(descr.path());
        let level = match codec {
            Compression::UNCOMPRESSED => None,
            Compression::ZSTD(l) => Some(l.compression_level()),
            other => {
                return Err(MapChunkError::Codec {
                    column,
                    codec: other,
                });
            }
        };
        Ok(Self {
            column,
            max_def,
            codec,
            level,
        })
    }

    fn parquet_err(&self, source: parquet::errors::ParquetError) -> MapChunkError {
        MapChunkError::Parquet {
            column: self.column.clone(),
            source,
        }
    }

    fn zstd_err(&self, source: std::io::Error) -> MapChunkError {
        MapChunkError::Zstd {
            column: self.column.clone(),
            source,
        }
    }
}

/// The distinct strings of the lists a chunk's rows use, in the order the rows first use
/// them, and each string's dictionary index.
struct Dictionary<'a> {
    /// Beside `LeafLists::strings`: each string's index in `strings` (`u32::MAX` in the
    /// lists no row uses).
    entry_ids: Vec<u32>,
    /// Whether a row uses list `j`.
    seen: Vec<bool>,
    strings: Vec<&'a [u8]>,
}

impl<'a> Dictionary<'a> {
    /// The dictionary of the lists `rows` use. A list equal to one already seen (rows of
    /// one shape have the same keys) copies its indices: one lookup per list instead of one
    /// per string, tried for as long as it pays (a leaf of values rarely repeats whole
    /// lists).
    fn build(lists: &LeafLists<'a>, rows: &[u32]) -> Self {
        let mut entry_ids = vec![u32::MAX; lists.strings.len()];
        let mut seen = vec![false; lists.len()];
        let mut index: HashMap<&[u8], u32, BuildHasherDefault<StrHasher>> = HashMap::default();
        let mut same_lists: HashMap<u64, u32, BuildHasherDefault<MixedHasher>> = HashMap::default();
        let (mut tries, mut hits) = (0u32, 0u32);
        let mut dict: Vec<&[u8]> = Vec::new();
        for &r in rows {
            if std::mem::replace(&mut seen[r as usize], true) {
                continue;
            }
            let range = lists.range(r);
            if range.len() > 1 && (tries < 1024 || hits * 4 >= tries) {
                tries += 1;
                let h = lists.list(r).iter().fold(range.len() as u64, |h, s| {
                    (h ^ str_hash(s))
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        .rotate_left(23)
                });
                match same_lists.entry(h) {
                    Entry::Occupied(e) => {
                        let j = *e.get();
                        if lists.list(j) == lists.list(r) {
                            hits += 1;
                            entry_ids.copy_within(lists.range(j), range.start);
                            continue;
                        }
                    }
                    Entry::Vacant(e) => {
                        e.insert(r);
                    }
                }
            }
            for at in range {
                let s = lists.strings[at];
                entry_ids[at] = *index.entry(s).or_insert_with(|| {
                    dict.push(s);
                    (dict.len() - 1) as u32
                });
            }
        }
        Self {
            entry_ids,
            seen,
            strings: dict,
        }
    }

    /// The bytes of its `PLAIN` dictionary page, uncompressed.
    fn page_bytes(&self) -> usize {
        self.strings.iter().map(|s| 4 + s.len()).sum()
    }
}
