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
//! cannot tell them apart (`signals/writer.rs` tests read both back).
//!
//! Data pages are version 1 (the writer's default): repetition levels, then definition
//! levels, each as a 4-byte little-endian length and the RLE/bit-packing hybrid, then the
//! values: a bit-width byte and the hybrid of dictionary indices (`RLE_DICTIONARY`), or
//! `PLAIN` values for the whole chunk when its dictionary would pass the writer's
//! dictionary page size limit (the Arrow writer falls back to `PLAIN` at the page where it
//! passes it; both are plain Parquet).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, Encoding};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

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

/// The rows of one data page and what they hold.
struct PageShape {
    /// The page is the rows from its start to here.
    end: usize,
    /// Levels (an entry, or an empty map's one level).
    levels: usize,
    /// Entries.
    values: usize,
    /// Rows with an empty map.
    empty: usize,
    /// Bytes of its `PLAIN` values (0 when the chunk is dictionary-encoded).
    plain_bytes: usize,
}

/// What encodes the data pages of one chunk: the rows' lists, the levels' widths and the
/// values' encoding.
struct PageEncoder<'l, 'a> {
    lists: &'l LeafLists<'a>,
    max_def: i16,
    def_width: u8,
    /// Dictionary indices of this width, beside `LeafLists::strings`; `None`: `PLAIN`
    /// values.
    dict: Option<(u8, &'l [u32])>,
    /// The indices of lists that rows share, packed once.
    packed: Option<PackedLists>,
}

impl PageEncoder<'_, '_> {
    /// The page that starts at row `start`: up to the row limit, and (plain values) about
    /// the byte limit.
    fn shape(&self, rows: &[u32], start: usize, page_rows: usize, page_bytes: usize) -> PageShape {
        let plain_len = |list: &[&[u8]]| list.iter().map(|s| 4 + s.len()).sum::<usize>();
        let (mut levels, mut values, mut empty, mut plain_bytes) = (0, 0, 0, 0);
        let mut end = start;
        while end < rows.len() && end - start < page_rows && plain_bytes < page_bytes {
            let list = self.lists.list(rows[end]);
            levels += list.len().max(1);
            values += list.len();
            empty += usize::from(list.is_empty());
            if self.dict.is_none() {
                plain_bytes += plain_len(list);
            }
            end += 1;
        }
        PageShape {
            end,
            levels,
            values,
            empty,
            plain_bytes,
        }
    }

    /// The uncompressed body of the data page of `page`'s rows: repetition levels,
    /// definition levels, values.
    fn encode(&self, page: &[u32], shape: &PageShape) -> (Vec<u8>, Encoding) {
        let (levels, values) = (shape.levels, shape.values);
        let mut buf = Vec::with_capacity(16 + levels / 2 + values * 2 + shape.plain_bytes);
        self.repetition_levels(&mut buf, page, levels);
        self.definition_levels(&mut buf, page, shape);
        let encoding = self.values(&mut buf, page, values);
        (buf, encoding)
    }

    /// Repetition levels: 0 starts a row, 1 continues it (width 1); all 0 when no row has
    /// two entries (one RLE run, as for the levels below when they are all alike).
    fn repetition_levels(&self, buf: &mut Vec<u8>, page: &[u32], levels: usize) {
        if levels == page.len() {
            with_length(buf, &rle_run(0, levels, 1));
        } else {
            let mut rep = BitPacker::new(1, levels);
            for &r in page {
                rep.push(0);
                rep.push_n(1, self.lists.range(r).len().saturating_sub(1));
            }
            with_length(buf, &rep.finish());
        }
    }

    /// Definition levels: every entry present, an empty map 0.
    fn definition_levels(&self, buf: &mut Vec<u8>, page: &[u32], shape: &PageShape) {
        let (max_def, def_width, levels) = (self.max_def as u32, self.def_width, shape.levels);
        if shape.empty == 0 {
            with_length(buf, &rle_run(max_def, levels, def_width));
        } else if shape.values == 0 {
            with_length(buf, &rle_run(0, levels, def_width));
        } else {
            let mut def = BitPacker::new(def_width, levels);
            for &r in page {
                match self.lists.range(r).len() {
                    0 => def.push(0),
                    n => def.push_n(max_def, n),
                }
            }
            with_length(buf, &def.finish());
        }
    }

    /// The values: the dictionary indices' bit width and their hybrid, or `PLAIN` strings.
    fn values(&self, buf: &mut Vec<u8>, page: &[u32], values: usize) -> Encoding {
        let Some((bit_width, entry_ids)) = self.dict else {
            for &r in page {
                for s in self.lists.list(r) {
                    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    buf.extend_from_slice(s);
                }
            }
            return Encoding::PLAIN;
        };
        buf.push(bit_width);
        let mut ids = BitPacker::new(bit_width, values);
        match &self.packed {
            Some(packed) => {
                for &r in page {
                    for &(bits, n) in packed.list(r) {
                        ids.push_bits(bits, n as usize);
                    }
                }
            }
            None => {
                for &r in page {
                    for &id in &entry_ids[self.lists.range(r)] {
                        ids.push(id);
                    }
                }
            }
        }
        buf.extend_from_slice(&ids.finish());
        Encoding::RLE_DICTIONARY
    }
}

/// The pages of one chunk as they are written: the page writer, one compressor (one zstd
/// context) for all of them, and what the chunk's metadata and offset index need.
struct ChunkPages<'s, 'l> {
    leaf: &'l Leaf,
    pages: SerializedPageWriter<'s, Vec<u8>>,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    written: Written,
}

/// What a chunk's pages came to, for its metadata.
#[derive(Default)]
struct Written {
    compressed: i64,
    uncompressed: i64,
    /// Levels in its data pages.
    num_values: i64,
    dictionary_page: Option<i64>,
    first_data_page: Option<i64>,
    offsets: OffsetIndexBuilder,
}

impl<'s, 'l> ChunkPages<'s, 'l> {
    fn new(leaf: &'l Leaf, sink: &'s mut TrackedWrite<Vec<u8>>) -> Result<Self, MapChunkError> {
        let zstd = leaf
            .level
            .map(zstd::bulk::Compressor::new)
            .transpose()
            .map_err(|e| leaf.zstd_err(e))?;
        Ok(Self {
            leaf,
            pages: SerializedPageWriter::new(sink),
            zstd,
            written: Written::default(),
        })
    }

    /// `buf` compressed with the chunk's codec, and its length before.
    fn compress(&mut self, buf: Vec<u8>) -> Result<(Bytes, usize), MapChunkError> {
        let plain = buf.len();
        let out = match &mut self.zstd {
            None => buf,
            Some(z) => z.compress(&buf).map_err(|e| self.leaf.zstd_err(e))?,
        };
        Ok((Bytes::from(out), plain))
    }

    /// Writes the dictionary page of `dict` (`bytes` long, `PLAIN`).
    fn write_dictionary(&mut self, dict: &[&[u8]], bytes: usize) -> Result<(), MapChunkError> {
        let mut buf = Vec::with_capacity(bytes);
        for s in dict {
            buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
            buf.extend_from_slice(s);
        }
        let (buf, plain) = self.compress(buf)?;
        let page = Page::DictionaryPage {
            buf,
            num_values: dict.len() as u32,
            encoding: Encoding::PLAIN,
            is_sorted: false,
        };
        let spec = self
            .pages
            .write_page(CompressedPage::new(page, plain))
            .map_err(|e| self.leaf.parquet_err(e))?;
        self.written.dictionary_page = Some(spec.offset as i64);
        self.written.compressed += spec.compressed_size as i64;
        self.written.uncompressed += spec.uncompressed_size as i64;
        Ok(())
    }

    /// Writes a data page of `rows` rows and `levels` levels whose body is `buf`.
    fn write_data_page(
        &mut self,
        buf: Vec<u8>,
        encoding: Encoding,
        levels: usize,
        rows: usize,
    ) -> Result<(), MapChunkError> {
        let (buf, uncompressed) = self.compress(buf)?;
        let data = Page::DataPage {
            buf,
            num_values: levels as u32,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let spec = self
            .pages
            .write_page(CompressedPage::new(data, uncompressed))
            .map_err(|e| self.leaf.parquet_err(e))?;
        let w = &mut self.written;
        w.first_data_page.get_or_insert(spec.offset as i64);
        w.offsets
            .append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
        w.offsets.append_row_count(rows as i64);
        w.compressed += spec.compressed_size as i64;
        w.uncompressed += spec.uncompressed_size as i64;
        w.num_values += levels as i64;
        Ok(())
    }

    /// Closes the page writer (the sink then holds the chunk).
    fn close(mut self) -> Result<Written, MapChunkError> {
        self.pages.close().map_err(|e| self.leaf.parquet_err(e))?;
        Ok(self.written)
    }
}

impl Written {
    /// The chunk's metadata.
    fn metadata(
        &self,
        descr: &ColumnDescPtr,
        leaf: &Leaf,
        use_dict: bool,
    ) -> Result<ColumnChunkMetaData, MapChunkError> {
        let mut encodings = vec![Encoding::PLAIN, Encoding::RLE];
        if use_dict {
            encodings.push(Encoding::RLE_DICTIONARY);
        }
        ColumnChunkMetaData::builder(Arc::clone(descr))
            .set_compression_codec(leaf.codec.into())
            .set_encodings(encodings)
            .set_num_values(self.num_values)
            .set_total_compressed_size(self.compressed)
            .set_total_uncompressed_size(self.uncompressed)
            .set_data_page_offset(self.first_data_page.unwrap_or(0))
            .set_dictionary_page_offset(self.dictionary_page)
            .build()
            .map_err(|e| leaf.parquet_err(e))
    }
}

/// Bits needed to write values up to `max`.
fn bits_for(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// Appends `bytes` with its length before it (4 bytes, little-endian): how a version 1
/// data page holds its levels.
fn with_length(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf.extend_from_slice(bytes);
}

/// One run of Parquet's RLE/bit-packing hybrid repeating `value` `count` times at `width`
/// bits: the count, then the value in whole bytes.
fn rle_run(value: u32, count: usize, width: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(14);
    varint(&mut out, (count as u64) << 1);
    out.extend_from_slice(&value.to_le_bytes()[..(width as usize).div_ceil(8)]);
    out
}

/// One bit-packed run of Parquet's RLE/bit-packing hybrid: `count` values (declared up
/// front, for the run's header) of `width` bits, least significant bit first, padded with
/// zeros to a multiple of 8 values, which the reader's value count leaves unread. Packing
/// every value costs a shift and an or, where looking for repeats would cost more than the
/// bytes it saves before zstd.
struct BitPacker {
    out: Vec<u8>,
    acc: u64,
    bits: u32,
    width: u32,
    pushed: usize,
    count: usize,
    /// The value [`BitPacker::push_n`] last repeated, and as many copies of it as 32 bits
    /// hold, packed.
    fill: (u32, u64),
}

impl BitPacker {
    fn new(width: u8, count: usize) -> Self {
        let groups = count.div_ceil(8);
        let mut out = Vec::with_capacity(10 + groups * width as usize);
        if groups > 0 {
            varint(&mut out, ((groups as u64) << 1) | 1);
        }
        Self {
            out,
            acc: 0,
            bits: 0,
            width: u32::from(width),
            pushed: 0,
            count,
            fill: (0, 0),
        }
    }

    #[inline]
    fn push(&mut self, v: u32) {
        self.pushed += 1;
        self.acc |= u64::from(v) << self.bits;
        self.bits += self.width;
        if self.bits >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.bits -= 32;
        }
    }

    /// Appends `n` values packed into `bits` (`n` × the width bits, at most 32; as
    /// [`PackedLists`] packs them).
    #[inline]
    fn push_bits(&mut self, bits: u64, n: usize) {
        self.pushed += n;
        self.acc |= bits << self.bits;
        self.bits += n as u32 * self.width;
        if self.bits >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.bits -= 32;
        }
    }

    /// Appends `v` `n` times, up to 32 bits at a time.
    #[inline]
    fn push_n(&mut self, v: u32, mut n: usize) {
        if self.width == 0 {
            self.pushed += n;
            return;
        }
        let per = (32 / self.width) as usize;
        if n >= 2 && self.fill.0 != v {
            self.fill = (v, repeat(v, self.width, per));
        }
        while n >= 2 {
            let k = n.min(per);
            let bits = self.fill.1 & (u64::MAX >> (64 - k as u32 * self.width));
            self.push_bits(bits, k);
            n -= k;
        }
        if n == 1 {
            self.push(v);
        }
    }

    /// The run, padded to whole groups of 8 values.
    fn finish(mut self) -> Vec<u8> {
        debug_assert_eq!(self.pushed, self.count, "values pushed and declared differ");
        while !self.pushed.is_multiple_of(8) {
            self.push(0);
        }
        // 8 values of any width fill whole bytes.
        for _ in 0..self.bits / 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
        }
        self.out
    }
}

/// `v` `n` times at `width` bits, packed least significant first (`n` × `width` ≤ 64).
fn repeat(v: u32, width: u32, n: usize) -> u64 {
    (0..n).fold(0u64, |acc, i| acc | (u64::from(v) << (i as u32 * width)))
}

/// Each list's dictionary indices packed at the chunk's bit width, in pieces of at most 32
/// bits: `(bits, values)`; list `j` is `pieces[bounds[j]..bounds[j + 1]]` (empty for lists
/// no row uses).
struct PackedLists {
    pieces: Vec<(u64, u32)>,
    bounds: Vec<usize>,
}

impl PackedLists {
    fn new(lists: &LeafLists<'_>, ids: &[u32], used: &[bool], width: u8) -> Self {
        let width = u32::from(width);
        // Width 0 (a one-entry dictionary): every index in one piece of no bits.
        let per = 32u32.checked_div(width).map_or(usize::MAX, |p| p as usize);
        let mut pieces = Vec::new();
        let mut bounds = Vec::with_capacity(lists.len() + 1);
        bounds.push(0);
        for (j, &used) in used.iter().enumerate() {
            if used {
                for chunk in ids[lists.range(j as u32)].chunks(per) {
                    let bits = chunk.iter().enumerate().fold(0u64, |acc, (i, &id)| {
                        acc | (u64::from(id) << (i as u32 * width))
                    });
                    pieces.push((bits, chunk.len() as u32));
                }
            }
            bounds.push(pieces.len());
        }
        Self { pieces, bounds }
    }

    fn list(&self, j: u32) -> &[(u64, u32)] {
        &self.pieces[self.bounds[j as usize]..self.bounds[j as usize + 1]]
    }
}

/// An unsigned LEB128 varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(width: u8, values: &[u32]) -> Vec<u8> {
        let mut p = BitPacker::new(width, values.len());
        for &v in values {
            p.push(v);
        }
        p.finish()
    }

    #[test]
    fn runs_are_parquets_hybrid_layout() {
        // Three values at width 2: one group (header 1 << 1 | 1), padded: 1 | 2<<2 | 3<<4.
        assert_eq!(packed(2, &[1, 2, 3]), [3, 0b0011_1001, 0]);
        // Eleven values at width 1: two groups, LSB first.
        let v = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        assert_eq!(packed(1, &v), [5, 0b1111_1110, 0b0000_0111]);
        // Width 9 crosses bytes: 8 values of 0x1ff fill 9 bytes of ones.
        let mut want = vec![3];
        want.extend([0xff; 9]);
        assert_eq!(packed(9, &[0x1ff; 8]), want);
        // Width 0 (a one-entry dictionary): the header alone; no values, nothing.
        assert_eq!(packed(0, &[0; 20]), [7]);
        assert!(packed(3, &[]).is_empty());
        // An RLE run: count << 1, then the value in whole bytes.
        assert_eq!(rle_run(2, 300, 2), [0xd8, 0x04, 2]);
        assert_eq!(rle_run(0x1ff, 8, 9), [16, 0xff, 0x01]);
    }

    #[test]
    fn bulk_pushes_pack_as_single_ones() {
        for width in [1u8, 2, 3, 5, 7, 9, 13] {
            let max = (1u32 << width) - 1;
            // Runs of every length around the 32-bit pieces, and lone values between.
            let (mut values, mut ops) = (Vec::new(), Vec::new());
            for n in [0usize, 1, 2, 3, 31, 32, 33, 70] {
                for v in [0, 1, max, max / 2] {
                    ops.push((v, n));
                    values.extend(std::iter::repeat_n(v, n));
                    ops.push((max, 1));
                    values.push(max);
                }
            }
            let mut want = BitPacker::new(width, values.len());
            for &v in &values {
                want.push(v);
            }
            let mut bulk = BitPacker::new(width, values.len());
            for &(v, n) in &ops {
                bulk.push_n(v, n);
            }
            // Packed lists of every length.
            let strings: Vec<Vec<u8>> = (0..=max.min(300))
                .map(|i| i.to_le_bytes().to_vec())
                .collect();
            let mut lists = LeafLists::default();
            let mut ids = Vec::new();
            for (j, len) in [0usize, 1, 7, 40, 3].into_iter().enumerate() {
                for k in 0..len {
                    let id = ((j * 31 + k * 7) as u32) % (max.min(300) + 1);
                    lists.push(&strings[id as usize]);
                    ids.push(id);
                }
                lists.end_list();
            }
            let packed = PackedLists::new(&lists, &ids, &[true; 5], width);
            let mut one = BitPacker::new(width, ids.len());
            let mut pieces = BitPacker::new(width, ids.len());
            for j in 0..5 {
                for &id in &ids[lists.range(j)] {
                    one.push(id);
                }
                for &(bits, n) in packed.list(j) {
                    pieces.push_bits(bits, n as usize);
                }
            }
            assert_eq!(bulk.finish(), want.finish(), "width {width}");
            assert_eq!(pieces.finish(), one.finish(), "width {width}");
        }
    }

    #[test]
    fn bit_widths() {
        assert_eq!(bits_for(0), 0);
        assert_eq!(bits_for(1), 1);
        assert_eq!(bits_for(2), 2);
        assert_eq!(bits_for(255), 8);
        assert_eq!(bits_for(256), 9);
    }
}
