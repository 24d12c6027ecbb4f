//! The `trace_id` bloom filters of a spans file, checked in place: the file is mapped, and
//! a lookup touches the one 32-byte block of each row group's split-block bloom filter that
//! the id hashes to, instead of reading (and parsing the footer for) every filter. Over a
//! week of hourly files with dozens of row groups each, that is a few thousand cache-line
//! reads per lookup rather than hundreds of megabytes of filters and footers.
//!
//! Parquet's filter (SBBF): the id's 64-bit xxHash picks block `((h >> 32) * blocks) >> 32`,
//! and the block alone decides membership (by `h as u32`). Where each filter's bit set lies
//! is found once per file, by reading every filter with the parquet crate and locating its
//! bytes in the mapping, so the layout is the crate's, not assumed here.

use std::fs::File;
use std::path::Path;

use memmap2::{Advice, Mmap};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::bloom_filter::Sbbf;

use crate::storage::parquet_io::bad;
use crate::{Error, Result, TraceId};

/// Bytes per SBBF block.
pub(crate) const BLOCK: usize = 32;

/// Largest tail [`FileBlooms::read_tail_ahead`] asks for (a dense hour's is ~1 MB).
const TAIL_MAX: usize = 8 << 20;

/// One spans file's `trace_id` filters, mapped.
pub(crate) struct FileBlooms {
    map: Mmap,
    /// Per row group: the bit set's offset in the file and its number of blocks; `None`
    /// when the row group has no filter (it may hold any id).
    groups: Vec<Option<(usize, usize)>>,
}

impl std::fmt::Debug for FileBlooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBlooms")
            .field("len", &self.map.len())
            .field("groups", &self.groups)
            .finish()
    }
}

impl FileBlooms {
    /// Maps the spans file at `path` and locates its `trace_id` filters (parsing its
    /// footer and reading every filter once).
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = open(path)?;
        let map = map(path, &file)?;
        let (_, groups) = locate_in(path, &file, &map)?;
        Ok(Self { map, groups })
    }

    /// Maps the spans file at `path`, whose filters lie at `groups` (as a trace-id filter
    /// file recorded them when it was written: `spans_logs/spans/trace_filter.rs`), without reading its
    /// footer.
    pub(crate) fn with_groups(path: &Path, groups: Vec<Option<(usize, usize)>>) -> Result<Self> {
        let map = map(path, &open(path)?)?;
        // A place past the end (a filter file of another spans file would have failed its
        // length check) makes the row group a candidate for every id rather than panic.
        let groups = groups
            .into_iter()
            .map(|g| g.filter(|(at, blocks)| at + blocks * BLOCK <= map.len()))
            .collect();
        Ok(Self { map, groups })
    }

    /// The file's tail after its last row group's `trace_id` filter, as (offset, length):
    /// in the files Strata writes (each row group's filters after its column chunks), the
    /// page index and the footer. `None` without filters, or past [`TAIL_MAX`] bytes (a
    /// layout this does not expect).
    pub(crate) fn tail(&self) -> Option<(usize, usize)> {
        let end = self
            .groups
            .iter()
            .flatten()
            .map(|(at, blocks)| at + blocks * BLOCK)
            .max()?;
        let len = self.map.len().checked_sub(end)?;
        (len > 0 && len <= TAIL_MAX).then_some((end, len))
    }

    /// Asks the kernel for [`FileBlooms::tail`] (advice only), so that a lookup's reads of
    /// the footer and the page index do not each wait for the disk in turn.
    pub(crate) fn read_tail_ahead(&self) {
        if let Some((at, len)) = self.tail() {
            let _ = self.map.advise_range(Advice::WillNeed, at, len);
        }
    }

    /// Number of row groups.
    pub(crate) fn row_groups(&self) -> usize {
        self.groups.len()
    }

    /// The row groups whose filter may hold `id` (those without a filter included).
    pub(crate) fn candidates(&self, id: &TraceId) -> Vec<usize> {
        let h = twox_hash::XxHash64::oneshot(0, id);
        // Per row group, where the block the id hashes to lies.
        let blocks: Vec<Option<usize>> = self
            .groups
            .iter()
            .map(|g| {
                g.map(|(at, blocks)| at + (((h >> 32) * blocks as u64) >> 32) as usize * BLOCK)
            })
            .collect();
        // The blocks lie one per row group across the file: ask for all of them at once,
        // so that pages not in memory are read in parallel, not one fault after another.
        // (Advice only: on failure the faults read them as before.)
        for start in blocks.iter().flatten() {
            let _ = self.map.advise_range(Advice::WillNeed, *start, BLOCK);
        }
        blocks
            .iter()
            .enumerate()
            .filter(|(_, start)| match start {
                None => true,
                // A one-block filter of the block the id hashes to answers as the whole
                // filter would.
                Some(start) => Sbbf::new(&self.map[*start..*start + BLOCK]).check(&id[..]),
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// Test check: the [`FileBlooms::tail`] of the spans file at `path` runs to the file's end
/// and holds every column chunk's page index (offset index, column index where there is
/// one) and no column chunk: what a lookup reads of the file besides pages and filters.
#[cfg(test)]
pub(crate) fn assert_tail_holds_the_page_index(path: &Path, blooms: &FileBlooms) {
    use parquet::file::reader::FileReader;
    use parquet::file::serialized_reader::{ReadOptionsBuilder, SerializedFileReader};

    let (at, len) = blooms.tail().expect("a tail");
    let file_len = std::fs::metadata(path).unwrap().len() as usize;
    assert_eq!(at + len, file_len);
    let options = ReadOptionsBuilder::new().with_page_index().build();
    let reader = SerializedFileReader::new_with_options(open(path).unwrap(), options).unwrap();
    for rg in reader.metadata().row_groups() {
        for c in rg.columns() {
            let (start, size) = c.byte_range();
            assert!(start + size <= at as u64, "a column chunk in the tail");
            let offset_index = (c.offset_index_offset(), c.offset_index_length());
            assert!(offset_index.0.is_some(), "an offset index on every column");
            for index in [
                offset_index,
                (c.column_index_offset(), c.column_index_length()),
            ] {
                if let (Some(o), Some(l)) = index {
                    let (o, l) = (o as usize, l as usize);
                    assert!(o >= at && o + l <= file_len, "a page index before the tail");
                }
            }
        }
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn map(path: &Path, file: &File) -> Result<Mmap> {
    #[allow(unsafe_code)]
    // Safety: a spans file is written under a temporary name, synced and renamed into
    // place (`DurableWriter`), and never written again; compaction and retention only
    // unlink it, which leaves an existing mapping valid. So the mapped bytes never change
    // and the file never shrinks while mapped.
    let map = unsafe { Mmap::map(file) }.map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    // Only a 32-byte block per row group is ever touched: without this, a page fault
    // also reads the pages around it (up to the device's read-ahead, megabytes), for
    // each row group of a file not in memory. Advice only; ignored on failure.
    let _ = map.advise(Advice::Random);
    Ok(map)
}

/// The footer of the spans file `file` (at `path`) and, per row group, where its
/// `trace_id` filter's bit set lies in the file and its number of blocks.
pub(crate) fn locate_filters(path: &Path, file: &File) -> Result<(ArrowReaderMetadata, Groups)> {
    let map = map(path, file)?;
    locate_in(path, file, &map)
}

/// Per row group: where its filter's bit set lies and its blocks (`None`: no filter).
pub(crate) type Groups = Vec<Option<(usize, usize)>>;

fn locate_in(path: &Path, file: &File, map: &[u8]) -> Result<(ArrowReaderMetadata, Groups)> {
    let meta =
        ArrowReaderMetadata::load(file, ArrowReaderOptions::new()).map_err(|e| bad(path, e))?;
    let col = meta
        .parquet_schema()
        .columns()
        .iter()
        .position(|c| c.path().string() == "trace_id")
        .ok_or_else(|| bad(path, "no trace_id column"))?;
    let mut groups = Vec::with_capacity(meta.metadata().num_row_groups());
    for rg in meta.metadata().row_groups() {
        let chunk = rg.column(col);
        let located = match (
            chunk.bloom_filter_offset(),
            Sbbf::read_from_column_chunk(chunk, file).map_err(|e| bad(path, e))?,
        ) {
            (Some(offset), Some(sbbf)) => {
                let mut bits = Vec::new();
                sbbf.write_bitset(&mut bits).map_err(|e| bad(path, e))?;
                locate(map, offset, chunk.bloom_filter_length(), &bits)
            }
            _ => None,
        };
        groups.push(located);
    }
    Ok((meta, groups))
}

/// Where the bit set `bits` (read by the parquet crate from the filter at `offset`, of
/// `length` bytes with its header when known) lies in `map`: (offset, blocks). `None` if it
/// is not found there, which makes the row group a candidate for every id.
fn locate(map: &[u8], offset: i64, length: Option<i32>, bits: &[u8]) -> Option<(usize, usize)> {
    let offset = usize::try_from(offset).ok()?;
    if bits.is_empty() || !bits.len().is_multiple_of(BLOCK) {
        return None;
    }
    // The header is a small Thrift struct before the bit set.
    let header = match length {
        Some(l) => usize::try_from(l).ok()?.checked_sub(bits.len())?,
        None => (0..64).find(|h| map.get(offset + h..offset + h + bits.len()) == Some(bits))?,
    };
    let at = offset + header;
    (map.get(at..at + bits.len()) == Some(bits)).then_some((at, bits.len() / BLOCK))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::FixedSizeBinaryArray;
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::FileReader;
    use parquet::file::serialized_reader::{ReadOptionsBuilder, SerializedFileReader};

    use super::*;

    fn id(i: u32) -> TraceId {
        let mut id = [0x5a; 16];
        id[..4].copy_from_slice(&i.to_le_bytes());
        id[8..12].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
        id
    }

    /// A file of 5 row groups of 1,000 ids each (row group `g` holds ids `g*1000..`), with
    /// bloom filters at 1% false positives.
    fn write(path: &Path) {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "trace_id",
            DataType::FixedSizeBinary(16),
            false,
        )]));
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(1_000))
            .set_bloom_filter_enabled(true)
            .set_bloom_filter_fpp(0.01)
            .build();
        let mut w =
            ArrowWriter::try_new(File::create(path).unwrap(), schema.clone(), Some(props)).unwrap();
        let ids: Vec<TraceId> = (0..5_000).map(id).collect();
        let col = FixedSizeBinaryArray::try_from_iter(ids.iter()).unwrap();
        w.write(&RecordBatch::try_new(schema, vec![Arc::new(col)]).unwrap())
            .unwrap();
        w.close().unwrap();
    }

    #[test]
    fn block_checks_answer_as_the_whole_filters_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.parquet");
        write(&path);
        let blooms = FileBlooms::open(&path).unwrap();
        assert_eq!(blooms.row_groups(), 5);
        assert!(blooms.groups.iter().all(Option::is_some), "{blooms:?}");

        // The parquet crate's own check of every whole filter.
        let opts = ReadOptionsBuilder::new().with_reader_properties(
            parquet::file::properties::ReaderProperties::builder()
                .set_read_bloom_filter(true)
                .build(),
        );
        let reader =
            SerializedFileReader::new_with_options(File::open(&path).unwrap(), opts.build())
                .unwrap();
        let whole = |id: &TraceId| -> Vec<usize> {
            (0..5)
                .filter(|&g| {
                    let rg = reader.get_row_group(g).unwrap();
                    rg.get_column_bloom_filter(0).unwrap().check(&id[..])
                })
                .collect()
        };
        let mut false_positives = 0;
        for i in (0..5_000).step_by(7).chain(10_000..12_000) {
            let got = blooms.candidates(&id(i));
            assert_eq!(got, whole(&id(i)), "id {i}");
            if i < 5_000 {
                // No false negatives: the id's own row group is always a candidate.
                assert!(got.contains(&(i as usize / 1_000)), "id {i}: {got:?}");
                false_positives += got.len() - 1;
            } else {
                false_positives += got.len();
            }
        }
        // About 1% of (2,715 ids x ~5 groups) at the file's 1% rate.
        assert!(false_positives < 300, "{false_positives}");
    }

    #[test]
    fn a_file_without_filters_makes_every_row_group_a_candidate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new(
            "trace_id",
            DataType::FixedSizeBinary(16),
            false,
        )]));
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(10))
            .build();
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), schema.clone(), Some(props))
            .unwrap();
        let col = FixedSizeBinaryArray::try_from_iter((0..25).map(id)).unwrap();
        w.write(&RecordBatch::try_new(schema, vec![Arc::new(col)]).unwrap())
            .unwrap();
        w.close().unwrap();
        let blooms = FileBlooms::open(&path).unwrap();
        assert_eq!(blooms.candidates(&id(99)), vec![0, 1, 2]);
    }
}
