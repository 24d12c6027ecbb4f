//! The pages of one map leaf's chunk: which rows each data page holds, its levels and
//! values encoded, and the dictionary and data pages compressed and written with the
//! totals the chunk's metadata needs.

use bytes::Bytes;
use parquet::basic::Encoding;
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;
use std::sync::Arc;

use super::hybrid::{BitPacker, PackedLists, rle_run, with_length};
use super::{Leaf, LeafLists, MapChunkError};

/// The rows of one data page and what they hold.
pub(super) struct PageShape {
    /// The page is the rows from its start to here.
    pub(super) end: usize,
    /// Levels (an entry, or an empty map's one level).
    pub(super) levels: usize,
    /// Entries.
    values: usize,
    /// Rows with an empty map.
    empty: usize,
    /// Bytes of its `PLAIN` values (0 when the chunk is dictionary-encoded).
    plain_bytes: usize,
}

/// What encodes the data pages of one chunk: the rows' lists, the levels' widths and the
/// values' encoding.
pub(super) struct PageEncoder<'l, 'a> {
    pub(super) lists: &'l LeafLists<'a>,
    pub(super) max_def: i16,
    pub(super) def_width: u8,
    /// Dictionary indices of this width, beside `LeafLists::strings`; `None`: `PLAIN`
    /// values.
    pub(super) dict: Option<(u8, &'l [u32])>,
    /// The indices of lists that rows share, packed once.
    pub(super) packed: Option<PackedLists>,
}

impl PageEncoder<'_, '_> {
    /// The page that starts at row `start`: up to the row limit, and (plain values) about
    /// the byte limit.
    pub(super) fn shape(
        &self,
        rows: &[u32],
        start: usize,
        page_rows: usize,
        page_bytes: usize,
    ) -> PageShape {
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
    pub(super) fn encode(&self, page: &[u32], shape: &PageShape) -> (Vec<u8>, Encoding) {
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
pub(super) struct ChunkPages<'s, 'l> {
    leaf: &'l Leaf,
    pages: SerializedPageWriter<'s, Vec<u8>>,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    written: Written,
}

/// What a chunk's pages came to, for its metadata.
#[derive(Default)]
pub(super) struct Written {
    compressed: i64,
    uncompressed: i64,
    /// Levels in its data pages.
    num_values: i64,
    dictionary_page: Option<i64>,
    first_data_page: Option<i64>,
    pub(super) offsets: OffsetIndexBuilder,
}

impl<'s, 'l> ChunkPages<'s, 'l> {
    pub(super) fn new(
        leaf: &'l Leaf,
        sink: &'s mut TrackedWrite<Vec<u8>>,
    ) -> Result<Self, MapChunkError> {
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
    pub(super) fn write_dictionary(
        &mut self,
        dict: &[&[u8]],
        bytes: usize,
    ) -> Result<(), MapChunkError> {
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
    pub(super) fn write_data_page(
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
    pub(super) fn close(mut self) -> Result<Written, MapChunkError> {
        self.pages.close().map_err(|e| self.leaf.parquet_err(e))?;
        Ok(self.written)
    }
}

impl Written {
    /// The chunk's metadata.
    pub(super) fn metadata(
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
