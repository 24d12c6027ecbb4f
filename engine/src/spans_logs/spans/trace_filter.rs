//! A spans file's trace-id filter: `spans-….tid` beside `spans-….parquet`, one split-block
//! bloom filter over every `trace_id` of the file, where each row group's own `trace_id`
//! filter lies in the spans file, and a small filter per row group laid out block-major
//! (`docs/formats/spans-logs.md`, "Trace-id filter files").
//!
//! Why: a lookup over a week of hourly files used to check one filter block per row group
//! (168 files of ~56 row groups: 9,408 scattered cache lines, ~5.6 ms even for an absent
//! id). With this file it checks one block per file, and only in a file that may hold
//! the id does it turn to the row groups, whose filters it finds here without parsing the
//! spans file's footer.
//!
//! The row groups' own filter blocks lie in the spans file, ~150 KB apart: a query process
//! that reads the spans file from the bucket by ranged GETs cannot check them without a GET
//! each. Compaction copies the flushes' row groups, so their `trace_id` ranges overlap and
//! the statistics alone leave ~6 of a dense hour's ~55 row groups, each another GET. The
//! row-group table here (fetched with the sidecar) names the one or two that may hold the
//! id, from one run of contiguous blocks: every row group's block at the id's position.
//!
//! The file is derived data, not listed in manifests: a flush and a compaction write it
//! (synced) before the manifest lists their spans file, maintenance builds it for a
//! committed spans file that lacks one (written by an older version, or lost in a crash:
//! see `Core::build_trace_filters`), and it is deleted with its spans file. One that is
//! missing, of another length of spans file, or fails its checksum is ignored: the lookup
//! then checks the row groups' filters as before, with the same answers.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use memmap2::Mmap;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::bloom_filter::Sbbf;

use crate::spans_logs::bloom::{self, BLOCK};
use crate::storage::parquet_io::bad;
use crate::{Error, Result, TraceId};

/// First bytes of a trace-id filter file.
const MAGIC: &[u8; 8] = b"STRATATF";
/// Its format version (1 had no row-group table; such a file is rebuilt).
const VERSION: u32 = 2;
/// Header bytes: magic, version, row groups, spans file length, file filter blocks,
/// row-group table blocks per row group.
const HEADER: usize = 32;
/// Bytes per row group entry: bit set offset (u64), blocks (u32), flags (u32).
const GROUP_ENTRY: usize = 16;
/// Row group entry flag: the row group has a filter at the given place.
const HAS_FILTER: u32 = 1;

/// False-positive rate of the whole-file filter. A lookup over a week checks 168 of them;
/// at 1 in 1,000 about one lookup in six meets a false positive, which costs checking that
/// file's row-group filters (cache lines, no read from disk).
pub(crate) const FILE_FPP: f64 = 0.001;

/// False-positive rate of each row group's filter in the table, sized for the largest row
/// group's distinct ids. A lookup that passes the file filter checks every row group: a
/// dense hour's ~55 make a spurious row group (another ranged GET) about one lookup in 18
/// at this rate; the bit counts' rounding up to a power of two makes it rarer.
pub(crate) const GROUP_FPP: f64 = 0.001;

/// The trace-id filter file of the spans file at `spans`: its sidecar
/// ([`crate::storage::partition::SIDECAR_EXT`]).
pub(crate) fn path_for(spans: &Path) -> PathBuf {
    crate::storage::partition::sidecar_path(spans)
}

/// A spans file's trace-id filter file, mapped.
pub(crate) struct TraceFilter {
    map: Mmap,
    /// Blocks of the whole-file filter.
    blocks: usize,
    /// Where its bit set starts in `map`.
    bits_at: usize,
    /// Per row group: where its `trace_id` filter's bit set lies in the spans file and its
    /// number of blocks; `None` when it has none (it may hold any id).
    groups: Vec<Option<(usize, usize)>>,
    /// Blocks of each row group's filter in the table.
    table_blocks: usize,
    /// Where the table starts in `map`: for each block position, that block of every row
    /// group's filter, in row group order.
    table_at: usize,
}

impl std::fmt::Debug for TraceFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceFilter")
            .field("blocks", &self.blocks)
            .field("row_groups", &self.groups.len())
            .finish()
    }
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl TraceFilter {
    /// Maps the filter file of the spans file at `spans`. `Ok(None)` when there is none, or
    /// it does not match the spans file (length) or its own checksum: the caller then
    /// checks the row groups' filters.
    #[cfg(test)]
    pub(crate) fn open(spans: &Path) -> Result<Option<Self>> {
        Self::open_sized(spans, None)
    }

    /// [`TraceFilter::open`] for a spans file of `spans_len` bytes, when that is known
    /// without reading the disk (the file may not be there yet: a bucket's set).
    pub(crate) fn open_sized(spans: &Path, spans_len: Option<u64>) -> Result<Option<Self>> {
        let Some((map, spans_len)) =
            crate::storage::fs::map_derived(spans, &path_for(spans), spans_len)?
        else {
            return Ok(None);
        };
        Ok(Self::parse(map, spans_len))
    }

    /// Checks and indexes a mapped filter file; `None` if it is not a valid one for a spans
    /// file of `spans_len` bytes.
    fn parse(map: Mmap, spans_len: u64) -> Option<Self> {
        let b: &[u8] = &map;
        if b.len() < HEADER + 4 || &b[..8] != MAGIC || le_u32(b, 8)? != VERSION {
            return None;
        }
        let body = b.len() - 4;
        if crc32c::crc32c(&b[..body]) != le_u32(b, body)? || le_u64(b, 16)? != spans_len {
            return None;
        }
        let groups = le_u32(b, 12)? as usize;
        let blocks = le_u32(b, 24)? as usize;
        let table_blocks = le_u32(b, 28)? as usize;
        let bits_at = HEADER + groups * GROUP_ENTRY;
        let table_at = bits_at + blocks * BLOCK;
        if blocks == 0 || table_blocks == 0 || table_at + table_blocks * groups * BLOCK != body {
            return None;
        }
        let mut table = Vec::with_capacity(groups);
        for g in 0..groups {
            let at = HEADER + g * GROUP_ENTRY;
            let offset = usize::try_from(le_u64(b, at)?).ok()?;
            let n = le_u32(b, at + 8)? as usize;
            let present = le_u32(b, at + 12)? & HAS_FILTER != 0;
            table.push(present.then_some((offset, n)));
        }
        Some(Self {
            map,
            blocks,
            bits_at,
            groups: table,
            table_blocks,
            table_at,
        })
    }

    /// Whether the file may hold a span of trace `id` (false: it surely holds none).
    pub(crate) fn may_hold(&self, id: &TraceId) -> bool {
        let b = block_of(id, self.blocks);
        let start = self.bits_at + b * BLOCK;
        // A one-block filter of the block the id hashes to answers as the whole filter.
        Sbbf::new(&self.map[start..start + BLOCK]).check(&id[..])
    }

    /// The row groups that may hold a span of trace `id`, in order, by the row-group table
    /// (every other row group surely holds none).
    pub(crate) fn groups_may_hold(&self, id: &TraceId) -> Vec<usize> {
        let n = self.groups.len();
        let run = self.table_at + block_of(id, self.table_blocks) * n * BLOCK;
        (0..n)
            .filter(|g| {
                let at = run + g * BLOCK;
                Sbbf::new(&self.map[at..at + BLOCK]).check(&id[..])
            })
            .collect()
    }

    /// Per row group of the spans file, where its `trace_id` filter lies.
    pub(crate) fn groups(&self) -> &[Option<(usize, usize)>] {
        &self.groups
    }
}

/// The block of a filter of `blocks` blocks that `id` hashes to (Parquet's split-block
/// layout).
fn block_of(id: &TraceId, blocks: usize) -> usize {
    let h = twox_hash::XxHash64::oneshot(0, id);
    (((h >> 32) * blocks as u64) >> 32) as usize
}

/// Writes the trace-id filter file of the spans file at `spans` (reading its footer, its
/// row groups' filters and its `trace_id` column), synced; returns its size in bytes.
pub(crate) fn build(spans: &Path) -> Result<u64> {
    let file = File::open(spans).map_err(|source| Error::Io {
        path: spans.to_owned(),
        source,
    })?;
    let spans_len = file
        .metadata()
        .map_err(|source| Error::Io {
            path: spans.to_owned(),
            source,
        })?
        .len();
    let (meta, groups) = bloom::locate_filters(spans, &file)?;
    // Rows per row group, to tell which group each id read belongs to.
    let mut group_rows: Vec<usize> = meta
        .metadata()
        .row_groups()
        .iter()
        .map(|rg| usize::try_from(rg.num_rows()).unwrap_or(0))
        .collect();
    group_rows.reverse();
    // Every id, distinct within its row group (whose rows are sorted by id), and where
    // each row group's ids end.
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta);
    let col = builder
        .schema()
        .index_of("trace_id")
        .map_err(|e| bad(spans, e))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [col]);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| bad(spans, e))?;
    let mut ids: Vec<TraceId> = Vec::new();
    let mut ends: Vec<usize> = Vec::with_capacity(groups.len());
    let mut left = 0usize;
    let mut group_start = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| bad(spans, e))?;
        let col = batch
            .column(0)
            .as_fixed_size_binary_opt()
            .ok_or_else(|| bad(spans, "trace_id is not FixedSizeBinary"))?;
        for i in 0..col.len() {
            while left == 0 {
                ends.push(ids.len());
                group_start = ids.len();
                left = group_rows
                    .pop()
                    .ok_or_else(|| bad(spans, "more trace_id rows than the row groups hold"))?;
            }
            left -= 1;
            if col.is_valid(i) {
                let id = TraceId::try_from(col.value(i))
                    .map_err(|_| bad(spans, "a trace_id is not 16 bytes"))?;
                if ids.len() == group_start || ids.last() != Some(&id) {
                    ids.push(id);
                }
            }
        }
    }
    // The first entry marks the first row group's start; the groups left (empty) end here.
    if !ends.is_empty() {
        ends.remove(0);
    }
    ends.resize(groups.len(), ids.len());
    let bits = filter_bits(spans, &ids, ids.len(), FILE_FPP)?;
    let (table, table_blocks) = group_table(spans, &ids, &ends)?;
    let bytes = encode(spans_len, &groups, &bits, table_blocks, &table);
    let path = path_for(spans);
    write_synced(&path, &bytes)?;
    Ok(bytes.len() as u64)
}

/// The bit set of a split-block bloom filter holding `ids`, sized for `ndv` distinct ones
/// at `fpp` false positives.
fn filter_bits(spans: &Path, ids: &[TraceId], ndv: usize, fpp: f64) -> Result<Vec<u8>> {
    let mut sbbf = Sbbf::new_with_ndv_fpp(ndv.max(1) as u64, fpp).map_err(|e| bad(spans, e))?;
    for id in ids {
        sbbf.insert(&id[..]);
    }
    let mut bits = Vec::new();
    sbbf.write_bitset(&mut bits).map_err(|e| bad(spans, e))?;
    Ok(bits)
}

/// The row-group table of the row groups whose ids are `ids[ends[g - 1]..ends[g]]`: each
/// one's filter, all of one size (for the largest one's distinct ids), laid out block by
/// block; and the blocks of each filter.
fn group_table(spans: &Path, ids: &[TraceId], ends: &[usize]) -> Result<(Vec<u8>, usize)> {
    let starts = std::iter::once(0).chain(ends.iter().copied());
    let ranges: Vec<std::ops::Range<usize>> = starts
        .zip(ends.iter().copied())
        .map(|(a, b)| a..b)
        .collect();
    let ndv = ranges.iter().map(|r| r.len()).max().unwrap_or(0);
    let filters = ranges
        .iter()
        .map(|r| filter_bits(spans, &ids[r.clone()], ndv, GROUP_FPP))
        .collect::<Result<Vec<_>>>()?;
    let blocks = filters.first().map_or(1, |f| f.len() / BLOCK);
    let mut table = Vec::with_capacity(blocks * filters.len() * BLOCK);
    for b in 0..blocks {
        for f in &filters {
            table.extend_from_slice(&f[b * BLOCK..(b + 1) * BLOCK]);
        }
    }
    Ok((table, blocks))
}

/// The bytes of a filter file (see the module docs for the layout).
fn encode(
    spans_len: u64,
    groups: &[Option<(usize, usize)>],
    bits: &[u8],
    table_blocks: usize,
    table: &[u8],
) -> Vec<u8> {
    let mut b =
        Vec::with_capacity(HEADER + groups.len() * GROUP_ENTRY + bits.len() + table.len() + 4);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.extend_from_slice(&(groups.len() as u32).to_le_bytes());
    b.extend_from_slice(&spans_len.to_le_bytes());
    b.extend_from_slice(&((bits.len() / BLOCK) as u32).to_le_bytes());
    b.extend_from_slice(&(table_blocks as u32).to_le_bytes());
    for g in groups {
        let (offset, blocks, flags) = match g {
            Some((o, n)) => (*o as u64, *n as u32, HAS_FILTER),
            None => (0, 0, 0),
        };
        b.extend_from_slice(&offset.to_le_bytes());
        b.extend_from_slice(&blocks.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
    }
    b.extend_from_slice(bits);
    b.extend_from_slice(table);
    let crc = crc32c::crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Writes `bytes` to `path` through a synced temporary file renamed into place (the
/// directory is synced by the manifest write that follows, or by the next one).
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::storage::fs::write_synced(path, &path.with_extension("tid.tmp"), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::records::SpanRecord;
    use crate::spans_logs::bloom::FileBlooms;
    use crate::spans_logs::flush::write_sorted;
    use crate::spans_logs::order::FlushOrder;

    fn id(i: u32) -> TraceId {
        let mut id = [0x3c; 16];
        id[..4].copy_from_slice(&i.to_be_bytes());
        id[8..12].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
        id
    }

    /// A spans file of `traces` traces of 3 spans each (row groups of 65,536 rows).
    fn spans_file(path: &Path, traces: u32) {
        let spans: Vec<SpanRecord> = (0..traces * 3)
            .map(|i| SpanRecord {
                trace_id: id(i / 3),
                span_id: [(i % 3) as u8 + 1; 8],
                service_name: "svc".into(),
                start_ns: i64::from(i),
                end_ns: i64::from(i) + 10,
                ..SpanRecord::default()
            })
            .collect();
        let mut rows: Vec<&SpanRecord> = spans.iter().collect();
        SpanRecord::sort_rows(&mut rows);
        write_sorted(path, &rows, 8192).unwrap();
    }

    #[test]
    fn the_file_filter_holds_every_id_and_rules_out_most_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans-7.parquet");
        // Two row groups.
        spans_file(&path, 25_000);
        build(&path).unwrap();
        let f = TraceFilter::open(&path)
            .unwrap()
            .expect("a valid filter file");
        assert_eq!(f.groups().len(), 2);
        for i in 0..25_000 {
            assert!(f.may_hold(&id(i)), "id {i}");
        }
        let false_positives = (100_000..120_000).filter(|&i| f.may_hold(&id(i))).count();
        // 1 in 1,000 asked for; a power-of-two bit count gives some margin.
        assert!(false_positives < 40, "{false_positives} of 20,000");

        // The row groups' filters, found through the filter file, answer as when found by
        // reading the footer.
        let by_footer = FileBlooms::open(&path).unwrap();
        let by_file = FileBlooms::with_groups(&path, f.groups().to_vec()).unwrap();
        assert_eq!(by_file.row_groups(), by_footer.row_groups());
        assert!(f.groups().iter().all(Option::is_some));

        // The row-group table: trace `i`'s spans are rows 3i..3i + 3 of the sorted file,
        // in the row group(s) of 65,536 rows those fall in; other row groups are ruled out
        // but for about 1 in 1,000.
        let mut spurious = 0;
        for i in 0..25_000usize {
            let holding: Vec<usize> = vec![3 * i / 65_536, (3 * i + 2) / 65_536];
            let may = f.groups_may_hold(&id(i as u32));
            assert!(holding.iter().all(|g| may.contains(g)), "id {i}: {may:?}");
            spurious += may.iter().filter(|g| !holding.contains(g)).count();
        }
        assert!(spurious < 40, "{spurious} spurious row groups of 25,000");
        // An id of no row group is ruled out in (nearly) every one.
        let absent: usize = (100_000..120_000)
            .map(|i| f.groups_may_hold(&id(i)).len())
            .sum();
        assert!(absent < 80, "{absent} row groups for 20,000 absent ids");
        for i in (0..25_000).step_by(13).chain(50_000..51_000) {
            assert_eq!(
                by_file.candidates(&id(i)),
                by_footer.candidates(&id(i)),
                "id {i}"
            );
        }
    }

    #[test]
    fn a_damaged_missing_or_foreign_filter_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans-9.parquet");
        spans_file(&path, 100);
        assert!(
            TraceFilter::open(&path).unwrap().is_none(),
            "none built yet"
        );
        build(&path).unwrap();
        let tid = path_for(&path);
        let good = std::fs::read(&tid).unwrap();

        // A flipped bit anywhere fails the checksum.
        for at in [0, 13, good.len() / 2, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            std::fs::write(&tid, &bad).unwrap();
            assert!(TraceFilter::open(&path).unwrap().is_none(), "byte {at}");
        }
        // Cut short.
        std::fs::write(&tid, &good[..good.len() - 7]).unwrap();
        assert!(TraceFilter::open(&path).unwrap().is_none());
        // Another spans file's filter (its length differs).
        let other = dir.path().join("spans-10.parquet");
        spans_file(&other, 300);
        build(&other).unwrap();
        std::fs::copy(path_for(&other), &tid).unwrap();
        assert!(TraceFilter::open(&path).unwrap().is_none());
        // Rebuilt, it is valid again.
        build(&path).unwrap();
        assert!(TraceFilter::open(&path).unwrap().is_some());
    }

    /// Through the engine: flush and compaction write filter files, a lookup without one
    /// still finds the trace, maintenance rebuilds a missing one, and one whose spans file
    /// is gone goes too.
    #[test]
    fn the_engine_writes_uses_rebuilds_and_removes_filter_files() {
        use crate::spans_logs::store::NS_PER_MS;
        use crate::{Engine, EngineConfig, ManualClock, TenantId};

        let dir = tempfile::tempdir().unwrap();
        let now_ms = 1_763_730_000_000;
        let open = || {
            Engine::open_with_clock(
                dir.path(),
                EngineConfig::default(),
                ManualClock::new(now_ms),
            )
            .unwrap()
        };
        let t = TenantId::new("t").unwrap();
        let batch = |k: u32| -> Vec<SpanRecord> {
            (0..300)
                .map(|i| SpanRecord {
                    trace_id: id(k * 1_000 + i / 3),
                    span_id: [(i % 3) as u8 + 1; 8],
                    service_name: "svc".into(),
                    start_ns: (now_ms - 7_200_000) * NS_PER_MS + i64::from(i),
                    end_ns: (now_ms - 7_200_000) * NS_PER_MS + 1_000,
                    ..SpanRecord::default()
                })
                .collect()
        };
        let spans_files = |e: &Engine| -> Vec<PathBuf> {
            e.spans_snapshot(&t, 0, i64::MAX)
                .unwrap()
                .files
                .iter()
                .map(|f| f.path())
                .collect()
        };
        let engine = open();
        for k in 0..2 {
            assert_eq!(engine.write_spans(&t, &batch(k)).unwrap().accepted, 300);
            engine.flush().unwrap();
        }
        let flushed = spans_files(&engine);
        assert_eq!(flushed.len(), 2);
        assert!(flushed.iter().all(|p| path_for(p).exists()), "{flushed:?}");

        // An absent id is ruled out by the file filters alone; a present one is found.
        let (found, stats) = engine
            .find_trace_with_stats(&t, id(99_999), 0, i64::MAX)
            .unwrap();
        assert!(found.is_empty());
        assert_eq!((stats.files, stats.files_skipped), (2, 2));
        assert_eq!(
            engine.find_trace(&t, id(1_005), 0, i64::MAX).unwrap().len(),
            3
        );

        // Compaction: the merged file has one; the inputs' go with them.
        engine.compact_all().unwrap();
        let merged = spans_files(&engine);
        assert_eq!(merged.len(), 1);
        assert!(path_for(&merged[0]).exists());
        assert!(flushed.iter().all(|p| !path_for(p).exists()));
        engine.close().unwrap();

        // Lost: lookups still answer; maintenance builds it again, once.
        std::fs::remove_file(path_for(&merged[0])).unwrap();
        // And an orphan (its spans file not listed) is removed at open.
        let orphan = merged[0].with_file_name("spans-12345.tid");
        std::fs::write(&orphan, b"stale").unwrap();
        let engine = open();
        assert!(!orphan.exists());
        assert!(!path_for(&merged[0]).exists());
        for k in [5, 1_005, 1_099] {
            assert_eq!(
                engine.find_trace(&t, id(k), 0, i64::MAX).unwrap().len(),
                3,
                "{k}"
            );
        }
        let (_, stats) = engine
            .find_trace_with_stats(&t, id(99_999), 0, i64::MAX)
            .unwrap();
        assert_eq!((stats.files, stats.files_skipped), (1, 1));
        assert_eq!(engine.build_trace_filters(), 1);
        assert!(path_for(&merged[0]).exists());
        assert_eq!(engine.build_trace_filters(), 0);
        assert!(TraceFilter::open(&merged[0]).unwrap().is_some());
        assert_eq!(
            engine.find_trace(&t, id(1_005), 0, i64::MAX).unwrap().len(),
            3
        );
    }
}
