//! A column chunk's pages read through the parquet crate's page reader with their bytes
//! as stored, then decompressed here with one zstd context per thread.
//!
//! The parquet crate makes a codec for each column chunk it reads, and its zstd codec is a
//! compression and a decompression context: two `cpuid`s (~5 µs in a VM) and their
//! allocations for each chunk. A line search reads one `body` chunk in each row group it
//! searches, and a lookup of its rows the attribute maps' leaves of each row group that
//! holds one (`search/exact.rs`, `map_rows.rs`): a few thousand chunks a query.

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::column::page::Page;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ColumnChunkMetaData;
use datafusion::parquet::file::page_index::offset_index::PageLocation;
use datafusion::parquet::file::serialized_reader::SerializedPageReader;

use super::pread::Pread;

type Result<T> = std::result::Result<T, ParquetError>;

/// A page larger than this (uncompressed) is left to the parquet crate's reader.
const MAX_PAGE: usize = 64 << 20;

/// The pages of a column chunk of `rows` rows, by its offset index's `locations`, as
/// stored; `None` for a codec other than zstd or none.
pub(crate) fn raw_pages(
    reader: Arc<Pread>,
    chunk: &ColumnChunkMetaData,
    rows: usize,
    locations: Vec<PageLocation>,
) -> Result<Option<RawPages>> {
    let codec = chunk.compression();
    if !matches!(codec, Compression::UNCOMPRESSED | Compression::ZSTD(_)) {
        return Ok(None);
    }
    // Told the chunk is not compressed, the page reader parses each page's header and
    // leaves its bytes as they are.
    let raw = chunk
        .clone()
        .into_builder()
        .set_compression(Compression::UNCOMPRESSED)
        .build()?;
    let pages = SerializedPageReader::new(reader, &raw, rows, Some(locations))?;
    Ok(Some(RawPages { pages, codec }))
}

/// A column chunk's pages as stored, and its codec.
pub(crate) struct RawPages {
    /// The page reader (`skip_next_page` skips a page unread).
    pub(crate) pages: SerializedPageReader<Pread>,
    codec: Compression,
}

impl RawPages {
    /// The next page, decompressed (a v2 data page: its values); `Ok(None)` at the end,
    /// `Err` for a page that cannot be read, and `Ok(Some(None))` for one whose size its
    /// zstd frame does not give (or over [`MAX_PAGE`]).
    pub(crate) fn next(&mut self) -> Result<Option<Option<Page>>> {
        use datafusion::parquet::column::page::PageReader;
        let Some(page) = self.pages.get_next_page()? else {
            return Ok(None);
        };
        if self.codec == Compression::UNCOMPRESSED {
            return Ok(Some(Some(page)));
        }
        Ok(Some(match page {
            Page::DictionaryPage {
                buf,
                num_values,
                encoding,
                is_sorted,
            } => decompress(&buf)?.map(|buf| Page::DictionaryPage {
                buf,
                num_values,
                encoding,
                is_sorted,
            }),
            Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding,
                rep_level_encoding,
                statistics,
            } => decompress(&buf)?.map(|buf| Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding,
                rep_level_encoding,
                statistics,
            }),
            Page::DataPageV2 {
                buf,
                num_values,
                encoding,
                num_nulls,
                num_rows,
                def_levels_byte_len,
                rep_levels_byte_len,
                is_compressed,
                statistics,
            } => {
                let levels =
                    (def_levels_byte_len as usize).saturating_add(rep_levels_byte_len as usize);
                let head = buf
                    .get(..levels)
                    .ok_or_else(|| ParquetError::General("page levels past its end".into()))?;
                let values = if buf.len() == levels {
                    // No values (all null): nothing was compressed.
                    Some(Bytes::new())
                } else if is_compressed {
                    decompress(&buf[levels..])?
                } else {
                    Some(buf.slice(levels..))
                };
                values.map(|values| {
                    let mut whole = Vec::with_capacity(levels + values.len());
                    whole.extend_from_slice(head);
                    whole.extend_from_slice(&values);
                    Page::DataPageV2 {
                        buf: Bytes::from(whole),
                        num_values,
                        encoding,
                        num_nulls,
                        num_rows,
                        def_levels_byte_len,
                        rep_levels_byte_len,
                        is_compressed: false,
                        statistics,
                    }
                })
            }
        }))
    }
}

thread_local! {
    /// This thread's zstd decompression context.
    static ZSTD: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// A zstd frame decompressed; `None` when its size is not in its header or over
/// [`MAX_PAGE`].
fn decompress(frame: &[u8]) -> Result<Option<Bytes>> {
    let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(frame) else {
        return Ok(None);
    };
    let Some(size) = usize::try_from(size).ok().filter(|&s| s <= MAX_PAGE) else {
        return Ok(None);
    };
    ZSTD.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = Some(zstd::bulk::Decompressor::new().map_err(zstd_error)?);
        }
        let Some(d) = cell.as_mut() else {
            return Err(ParquetError::General("no zstd context".into()));
        };
        let out = d.decompress(frame, size).map_err(zstd_error)?;
        if out.len() != size {
            return Err(ParquetError::General(
                "a page shorter than its zstd frame says".into(),
            ));
        }
        Ok(Some(Bytes::from(out)))
    })
}

fn zstd_error(e: std::io::Error) -> ParquetError {
    ParquetError::General(format!("zstd: {e}"))
}
