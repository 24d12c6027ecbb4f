//! The in-memory side of spans and logs: per tenant and hour partition, the records not yet
//! flushed, and the committed files of each tenant; and the write path (validate, caps,
//! rate limits, WAL, memory).
//!
//! A write submits its WAL record while holding the store's lock, and a flush cut takes
//! every store's lock (after the metrics heads' locks) before its WAL sync, so the flush
//! boundary covers exactly the records it takes, as for samples (`metrics/flush.rs`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, Weak};

use arrow::record_batch::RecordBatch;
use tracing::warn;

use crate::model::anyvalue::Attributes;
use crate::model::records::{LogRecord, Scope, SpanRecord};
use crate::rate_limit::TokenBucket;
use crate::signal_kind::Signal;
use crate::spans_logs::arrow::{AttributeMaps, RenderedRows};
use crate::spans_logs::bloom::FileBlooms;
use crate::spans_logs::check::{self, Cuts, Rejection, ResourceCheck};
use crate::spans_logs::logs::summary::LogSummary;
use crate::spans_logs::meta::SpansFileMeta;
use crate::spans_logs::ranged::RangedFile;
use crate::spans_logs::shared_lists::{SharedLists, Sharer};
use crate::spans_logs::spans::summary::SpanSummary;
use crate::spans_logs::spans::trace_filter::TraceFilter;
use crate::storage::partition::{PartFile, partition_start};
use crate::wal_records::spans_logs::WalRecord;
use crate::{Limits, Result, SignalReject, TenantId};

use crate::storage::partition::FileMap;

/// Mapped `trace_id` filters by file path, with the file they belong to.
type BloomCache = HashMap<PathBuf, (Weak<PartFile>, Arc<FileBlooms>)>;

/// Parsed footers of spans files by path, with the file they belong to.
type MetaCache = HashMap<PathBuf, (Weak<PartFile>, Arc<SpansFileMeta>)>;

/// Most bytes of parsed footers [`SignalStore::file_meta`] keeps (`SpansFileMeta`: the
/// footer without page index or most statistics; a dense hour's, 56 row groups of 47
/// leaves, takes ~1.1 MB and ~1.2 ms to parse, against ~3.4 MB and ~5 ms with the page
/// index: so ~87 dense hours, and a miss costs a lookup ~1 ms).
const META_CACHE_BYTES: usize = 96 << 20;

/// Nanoseconds per millisecond.
pub(crate) const NS_PER_MS: i64 = 1_000_000;

/// A record type stored as a signal of its own: spans or log records.
pub(crate) trait StoredRecord: WalRecord + Clone + Send + Sync + 'static {
    /// Its signal.
    const SIGNAL: Signal;
    /// File name prefix in a partition (`spans-<B>.parquet`).
    const FILE_PREFIX: &'static str;
    /// The time that places it in a partition and sorts it (ns).
    fn time_ns(&self) -> i64;
    /// Validates it and applies the caps.
    fn check(
        &mut self,
        limits: &Limits,
        cutoff_ns: i64,
        seen: &mut ResourceCheck,
    ) -> Result<Cuts, Rejection>;
    /// Bytes it holds in memory, its shared resource and scope counted only when `prev`
    /// (the record before it) does not share them (`spans_logs/record_memory.rs`).
    fn memory_bytes(&self, prev: Option<&Self>) -> u64;
    /// Its resource attribute list and scope, which records share ([`SharedLists`]).
    fn shared_parts(&mut self) -> (&mut Arc<Attributes>, &mut Arc<Scope>);
    /// Its resource attribute list, which records share.
    fn resource(&self) -> &Arc<Attributes>;
    /// Records as one Arrow batch, in the order given.
    fn to_batch(recs: &[&Self]) -> Result<RecordBatch> {
        Self::to_batch_with(recs, AttributeMaps::Built).map(|(batch, _)| batch)
    }
    /// [`StoredRecord::to_batch`], the attribute maps built or deferred (left empty, the
    /// rows' own handed back rendered).
    fn to_batch_with(recs: &[&Self], maps: AttributeMaps) -> Result<(RecordBatch, RenderedRows)>;
    /// Records back from a batch (`path` names the source in errors).
    fn from_batch(batch: &RecordBatch, path: &Path) -> Result<Vec<Self>>;
    /// Writes, synced, the file derived from a data file at `path` that a flush wrote
    /// from `rows` (a spans file's trace-id filter, a logs file's summary).
    fn write_derived(path: &Path, rows: &[&Self]) -> Result<()>;
}

impl StoredRecord for SpanRecord {
    const SIGNAL: Signal = Signal::Traces;
    const FILE_PREFIX: &'static str = "spans";

    fn time_ns(&self) -> i64 {
        self.start_ns
    }

    fn check(
        &mut self,
        limits: &Limits,
        cutoff_ns: i64,
        seen: &mut ResourceCheck,
    ) -> Result<Cuts, Rejection> {
        check::check_span(self, limits, cutoff_ns, seen)
    }

    fn memory_bytes(&self, prev: Option<&Self>) -> u64 {
        crate::spans_logs::record_memory::span_bytes(self, prev) as u64
    }

    fn shared_parts(&mut self) -> (&mut Arc<Attributes>, &mut Arc<Scope>) {
        (&mut self.resource_attributes, &mut self.scope)
    }

    fn resource(&self) -> &Arc<Attributes> {
        &self.resource_attributes
    }

    fn to_batch_with(recs: &[&Self], maps: AttributeMaps) -> Result<(RecordBatch, RenderedRows)> {
        crate::spans_logs::spans::arrow::spans_batch_with(recs, maps)
    }

    fn from_batch(batch: &RecordBatch, path: &Path) -> Result<Vec<Self>> {
        crate::spans_logs::spans::arrow::spans_from_batch_at(batch, path)
    }

    fn write_derived(path: &Path, rows: &[&Self]) -> Result<()> {
        crate::spans_logs::spans::trace_filter::build(path)?;
        crate::spans_logs::spans::summary::write_for(path, rows).map(drop)
    }
}

impl StoredRecord for LogRecord {
    const SIGNAL: Signal = Signal::Logs;
    const FILE_PREFIX: &'static str = "logs";

    fn time_ns(&self) -> i64 {
        self.time_ns
    }

    fn check(
        &mut self,
        limits: &Limits,
        cutoff_ns: i64,
        seen: &mut ResourceCheck,
    ) -> Result<Cuts, Rejection> {
        check::check_log(self, limits, cutoff_ns, seen)
    }

    fn memory_bytes(&self, prev: Option<&Self>) -> u64 {
        crate::spans_logs::record_memory::log_bytes(self, prev) as u64
    }

    fn shared_parts(&mut self) -> (&mut Arc<Attributes>, &mut Arc<Scope>) {
        (&mut self.resource_attributes, &mut self.scope)
    }

    fn resource(&self) -> &Arc<Attributes> {
        &self.resource_attributes
    }

    fn to_batch_with(recs: &[&Self], maps: AttributeMaps) -> Result<(RecordBatch, RenderedRows)> {
        crate::spans_logs::logs::arrow::logs_batch_with(recs, maps)
    }

    fn from_batch(batch: &RecordBatch, path: &Path) -> Result<Vec<Self>> {
        crate::spans_logs::logs::arrow::logs_from_batch_at(batch, path)
    }

    fn write_derived(path: &Path, rows: &[&Self]) -> Result<()> {
        crate::spans_logs::logs::summary::write_for(path, rows).map(drop)
    }
}

/// One partition's records in memory, in arrival order, and the bytes they hold.
///
/// The records are kept in chunks, one per write (or replayed WAL record) that reached the
/// partition, not in one `Vec`: a `Vec` of a flush's worth of spans (~64 k records of
/// ~250 B) grew by doubling, each time copying every record so far into fresh pages under
/// the store's lock, and kept up to half its capacity unused and uncounted.
#[derive(Debug)]
pub(crate) struct Part<R> {
    chunks: Vec<Vec<R>>,
    pub(crate) bytes: u64,
}

impl<R> Default for Part<R> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            bytes: 0,
        }
    }
}

impl<R> Part<R> {
    /// The records, in arrival order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &R> {
        self.chunks.iter().flatten()
    }

    /// Whether it holds no record.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.iter().all(Vec::is_empty)
    }

    /// Appends `recs` (after every record it holds) and the `bytes` they hold.
    fn push(&mut self, recs: Vec<R>, bytes: u64) {
        if !recs.is_empty() {
            self.chunks.push(recs);
        }
        self.bytes += bytes;
    }

    /// Appends every record of `newer`.
    pub(crate) fn append(&mut self, newer: Part<R>) {
        self.chunks.extend(newer.chunks);
        self.bytes += newer.bytes;
    }

    /// `recs` (with the bytes each holds) grouped by partition start, in arrival order
    /// within each.
    pub(crate) fn grouped(recs: impl IntoIterator<Item = (R, u64)>) -> BTreeMap<i64, Part<R>>
    where
        R: StoredRecord,
    {
        let mut parts: BTreeMap<i64, Part<R>> = BTreeMap::new();
        let mut recs = recs.into_iter().peekable();
        while let Some((r, size)) = recs.next() {
            // A write's records are almost always of one hour: take the run at once.
            let start = part_of(r.time_ns());
            let mut run = Vec::with_capacity(recs.size_hint().0 + 1);
            run.push(r);
            let mut bytes = size;
            while let Some((r, size)) = recs.next_if(|(r, _)| part_of(r.time_ns()) == start) {
                run.push(r);
                bytes += size;
            }
            // Exact already unless the records went to more than one hour.
            run.shrink_to_fit();
            parts.entry(start).or_default().push(run, bytes);
        }
        parts
    }
}

/// One tenant's records in memory and the state of its limits.
#[derive(Debug)]
pub(crate) struct SignalHead<R> {
    /// Records not yet taken by a flush, by partition start (ms).
    pub(crate) parts: BTreeMap<i64, Part<R>>,
    /// Records a flush in progress took, still readable until its files are published.
    pub(crate) flushing: BTreeMap<i64, Arc<Part<R>>>,
    pub(crate) records_bucket: Option<TokenBucket>,
    pub(crate) bytes_bucket: Option<TokenBucket>,
    /// Rejections since open, by reason.
    pub(crate) rejected: BTreeMap<SignalReject, u64>,
}

impl<R> Default for SignalHead<R> {
    fn default() -> Self {
        Self {
            parts: BTreeMap::new(),
            flushing: BTreeMap::new(),
            records_bucket: None,
            bytes_bucket: None,
            rejected: BTreeMap::new(),
        }
    }
}

/// Records a flush took: (tenant, partition start, records).
pub(crate) type SignalTaken<R> = Vec<(TenantId, i64, Arc<Part<R>>)>;

/// Everything the engine holds of one signal.
#[derive(Debug)]
pub(crate) struct SignalStore<R> {
    heads: Mutex<HashMap<TenantId, SignalHead<R>>>,
    /// Committed file sets.
    pub(crate) files: RwLock<FileMap>,
    /// Bytes the records in memory hold (heads and flushing; `spans_logs/record_memory.rs`).
    pub(crate) bytes: AtomicU64,
    /// The mapped `trace_id` filters of the files trace lookups have touched, by path, with
    /// the file they belong to (an entry goes once its file is gone).
    blooms: Mutex<BloomCache>,
    /// The parsed footers of the files trace lookups and searches have read, by path, with
    /// the file they belong to; at most [`META_CACHE_BYTES`] of them.
    metas: Mutex<MetaCache>,
    /// One copy of each resource list and scope the records in memory hold.
    pub(crate) shared: SharedLists,
}

impl<R> Default for SignalStore<R> {
    fn default() -> Self {
        Self {
            heads: Mutex::default(),
            files: RwLock::default(),
            bytes: AtomicU64::new(0),
            blooms: Mutex::default(),
            metas: Mutex::default(),
            shared: SharedLists::default(),
        }
    }
}

impl<R: StoredRecord> SignalStore<R> {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<TenantId, SignalHead<R>>> {
        // Every change under this lock is a single push or map operation: keep serving.
        self.heads.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves every tenant's records into `flushing` (call with the lock held through the
    /// WAL sync that makes the boundary).
    pub(crate) fn cut(heads: &mut HashMap<TenantId, SignalHead<R>>) -> SignalTaken<R> {
        let mut taken = Vec::new();
        for (tenant, h) in heads.iter_mut() {
            for (start, part) in std::mem::take(&mut h.parts) {
                let part = Arc::new(part);
                h.flushing.insert(start, part.clone());
                taken.push((tenant.clone(), start, part));
            }
        }
        taken.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        taken
    }

    /// After a failed flush: gives the taken records back to the heads, older first.
    pub(crate) fn restore(&self) {
        let mut heads = self.lock();
        for h in heads.values_mut() {
            for (start, taken) in std::mem::take(&mut h.flushing) {
                let newer = h.parts.remove(&start).unwrap_or_default();
                let mut part = Arc::try_unwrap(taken).unwrap_or_else(|a| Part {
                    chunks: a.chunks.clone(),
                    bytes: a.bytes,
                });
                part.append(newer);
                h.parts.insert(start, part);
            }
        }
    }

    /// Forgets the resource lists and scopes no record in memory holds (after a flush has
    /// dropped the records it took).
    pub(crate) fn prune_shared(&self) {
        self.shared.prune();
    }

    /// After a committed flush: publishes its files and releases what it took, in one step
    /// under the store's lock, so a reader ([`SignalStore::with_memory`]) sees each record
    /// either in memory or in a file, never both and never neither.
    pub(crate) fn finish(&self, published: Vec<(TenantId, Arc<PartFile>)>, taken: &SignalTaken<R>) {
        let mut heads = self.lock();
        {
            let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
            for (tenant, f) in published {
                files.entry(tenant).or_default().push(f);
            }
        }
        for h in heads.values_mut() {
            h.flushing.clear();
        }
        drop(heads);
        let bytes: u64 = taken.iter().map(|t| t.2.bytes).sum();
        let held = self.bytes.load(Ordering::Relaxed);
        self.bytes.fetch_sub(bytes.min(held), Ordering::Relaxed);
    }

    /// Adds replayed records of `tenant` (one WAL record's); returns the bytes they hold
    /// in memory.
    pub(crate) fn restore_logged(&self, tenant: &TenantId, mut recs: Vec<R>) -> u64 {
        let mut sharer = Sharer::new(&self.shared);
        for r in &mut recs {
            sharer.share(r.shared_parts());
        }
        let sizes = held_sizes(recs.iter());
        let held = sizes.iter().sum();
        let grouped = Part::grouped(recs.into_iter().zip(sizes));
        let mut heads = self.lock();
        let h = heads.entry(tenant.clone()).or_default();
        for (start, part) in grouped {
            h.parts.entry(start).or_default().append(part);
        }
        self.bytes.fetch_add(held, Ordering::Relaxed);
        held
    }

    /// Calls `visit` with `tenant`'s in-memory records (flushing first, then the head) of
    /// the partitions meeting `[start_ms, end_ms]`, and returns its committed file sets
    /// meeting that range, both under the store's lock: a flush publishes files and
    /// releases records under the same lock, so the two sides never overlap.
    pub(crate) fn with_memory(
        &self,
        tenant: &TenantId,
        start_ms: i64,
        end_ms: i64,
        mut visit: impl FnMut(&Part<R>) -> Result<()>,
    ) -> Result<Vec<Arc<PartFile>>> {
        let heads = self.lock();
        if let Some(h) = heads.get(tenant) {
            let lo = partition_start(start_ms);
            for (_, p) in h.flushing.range(lo..=end_ms) {
                visit(p)?;
            }
            for (_, p) in h.parts.range(lo..=end_ms) {
                visit(p)?;
            }
        }
        let files = self.file_sets(tenant, start_ms, end_ms);
        drop(heads);
        Ok(files)
    }

    /// Bytes `tenant`'s records in memory hold (heads and flushing).
    pub(crate) fn memory_of(&self, tenant: &TenantId) -> u64 {
        self.lock().get(tenant).map_or(0, |h| {
            let parts = h.parts.values().map(|p| p.bytes);
            parts.chain(h.flushing.values().map(|p| p.bytes)).sum()
        })
    }

    /// Rejections of `tenant` since open.
    pub(crate) fn rejected(&self, tenant: &TenantId) -> BTreeMap<SignalReject, u64> {
        self.lock()
            .get(tenant)
            .map(|h| h.rejected.clone())
            .unwrap_or_default()
    }

    /// `tenant`'s committed file sets whose time range meets `[start_ms, end_ms]`.
    pub(crate) fn file_sets(
        &self,
        tenant: &TenantId,
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<Arc<PartFile>> {
        self.files
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .map(|l| {
                l.iter()
                    .filter(|f| f.overlaps(start_ms, end_ms))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The trace-id filter file of `part`'s spans file (`spans_logs/spans/trace_filter.rs`), mapped on
    /// first use and kept with the set; `None` while it has none (maintenance builds it),
    /// or it cannot be read (logged): lookups then check the row groups' filters.
    pub(crate) fn trace_filter(part: &PartFile) -> Option<Arc<TraceFilter>> {
        let slot = part.derived::<SpansDerived>().map(|d| &d.trace_filter);
        derived_file(
            part,
            slot,
            TraceFilter::open_sized,
            "a trace-id filter file cannot be read; checking row groups",
        )
    }

    /// The summary of `part`'s spans file (`spans_logs/spans/summary`), read on first use
    /// and kept with the set; `None` while it has none (maintenance builds it) or it cannot
    /// be read (logged).
    pub(crate) fn span_summary(part: &PartFile) -> Option<Arc<SpanSummary>> {
        let slot = part.derived::<SpansDerived>().map(|d| &d.summary);
        derived_file(
            part,
            slot,
            SpanSummary::open_sized,
            "a spans summary file cannot be read; reading spans",
        )
    }

    /// The summary of `part`'s logs file (`spans_logs/logs/summary`), mapped on first use and
    /// kept with the set; `None` while it has none (maintenance builds it) or it cannot be
    /// read (logged).
    pub(crate) fn log_summary(part: &PartFile) -> Option<Arc<LogSummary>> {
        let slot = part.derived::<LogsDerived>().map(|d| &d.summary);
        derived_file(
            part,
            slot,
            LogSummary::open_sized,
            "a logs summary file cannot be read; reading records",
        )
    }

    /// The `trace_id` filters of `part`'s row groups: mapped on first use (where `filter`,
    /// its trace-id filter file, says they lie; else by reading the footer and every
    /// filter), then kept while the file is (entries of files that are gone are dropped
    /// whenever one is added).
    pub(crate) fn blooms(
        &self,
        part: &Arc<PartFile>,
        filter: Option<&TraceFilter>,
    ) -> Result<Arc<FileBlooms>> {
        part.ensure_data()?;
        let path = part.samples_path();
        let cached = |m: &BloomCache| m.get(&path).map(|(_, b)| b.clone());
        if let Some(b) = cached(&self.lock_blooms()) {
            return Ok(b);
        }
        // Mapped outside the lock; two lookups racing map it twice, and one copy is kept.
        let b = Arc::new(match filter {
            Some(f) => FileBlooms::with_groups(&path, f.groups().to_vec())?,
            None => FileBlooms::open(&path)?,
        });
        let mut m = self.lock_blooms();
        m.retain(|_, (f, _)| f.strong_count() > 0);
        Ok(m.entry(path)
            .or_insert_with(|| (Arc::downgrade(part), b))
            .1
            .clone())
    }

    /// The parsed footer of `part`'s spans file: read on first use, then kept while the file
    /// is (entries of files that are gone are dropped whenever one is added; past
    /// [`META_CACHE_BYTES`], arbitrary other ones make room).
    pub(crate) fn file_meta(&self, part: &Arc<PartFile>) -> Result<Arc<SpansFileMeta>> {
        part.ensure_data()?;
        self.file_meta_with(part, SpansFileMeta::load)
    }

    /// [`Self::file_meta`] for a file read by byte ranges from the bucket (`file`).
    pub(crate) fn file_meta_ranged(
        &self,
        part: &Arc<PartFile>,
        file: &RangedFile,
    ) -> Result<Arc<SpansFileMeta>> {
        self.file_meta_with(part, |path| {
            file.fetch_tail()?;
            SpansFileMeta::load_from(path, file)
        })
    }

    /// The kept footer of `part`'s spans file, or the one `load` reads from its path.
    fn file_meta_with(
        &self,
        part: &Arc<PartFile>,
        load: impl FnOnce(&Path) -> Result<SpansFileMeta>,
    ) -> Result<Arc<SpansFileMeta>> {
        let path = part.samples_path();
        let lock = || self.metas.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, m)) = lock().get(&path) {
            return Ok(m.clone());
        }
        // Parsed outside the lock; two readers racing parse it twice, and one copy is kept.
        let meta = Arc::new(load(&path)?);
        let mut m = lock();
        m.retain(|_, (f, _)| f.strong_count() > 0);
        let mut held: usize = m.values().map(|(_, e)| e.memory_size()).sum();
        while held + meta.memory_size() > META_CACHE_BYTES {
            // Any other entry: the cache only saves re-parsing, it never changes an answer.
            let Some(victim) = m.keys().find(|p| **p != path).cloned() else {
                break;
            };
            if let Some((_, e)) = m.remove(&victim) {
                held = held.saturating_sub(e.memory_size());
            }
        }
        Ok(m.entry(path)
            .or_insert_with(|| (Arc::downgrade(part), meta))
            .1
            .clone())
    }

    fn lock_blooms(&self) -> MutexGuard<'_, BloomCache> {
        // Inserts and removals only: a poisoned map is still consistent.
        self.blooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tenants with records in memory or files.
    pub(crate) fn tenants(&self) -> Vec<TenantId> {
        let mut t: Vec<TenantId> = self.lock().keys().cloned().collect();
        t.extend(
            self.files
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .keys()
                .cloned(),
        );
        t
    }
}

/// What each of `recs` (in write order) holds in memory: [`StoredRecord::memory_bytes`]
/// against the record before it.
pub(crate) fn held_sizes<'a, R: StoredRecord>(recs: impl Iterator<Item = &'a R>) -> Vec<u64> {
    let mut prev = None;
    recs.map(|r| {
        let n = r.memory_bytes(prev);
        prev = Some(r);
        n
    })
    .collect()
}

/// The partition start (ms) of a time in ns.
pub(crate) fn part_of(time_ns: i64) -> i64 {
    partition_start(time_ns.div_euclid(NS_PER_MS))
}

/// What a logs set keeps of itself once read ([`PartFile::derived`]): its summary file,
/// mapped.
#[derive(Default)]
pub(crate) struct LogsDerived {
    summary: OnceLock<Arc<LogSummary>>,
}

/// What a spans set keeps of itself once read ([`PartFile::derived`]): its trace-id filter
/// file, mapped, and its summary, parsed.
#[derive(Default)]
pub(crate) struct SpansDerived {
    trace_filter: OnceLock<Arc<TraceFilter>>,
    summary: OnceLock<Arc<SpanSummary>>,
}

/// A file derived from `part`'s (a trace-id filter, a summary): the one kept in `slot`,
/// the set's, or else opened with `open` (from `part`'s path and known length) and kept
/// there. `None` while there is none, or it cannot be read (logged as `unreadable`).
fn derived_file<T>(
    part: &PartFile,
    slot: Option<&OnceLock<Arc<T>>>,
    open: impl FnOnce(&Path, Option<u64>) -> Result<Option<T>>,
    unreadable: &str,
) -> Option<Arc<T>> {
    if let Some(kept) = slot.and_then(OnceLock::get) {
        return Some(kept.clone());
    }
    match open(&part.samples_path(), part.known_data_len()) {
        Ok(Some(file)) => Some(match slot {
            Some(slot) => slot.get_or_init(|| Arc::new(file)).clone(),
            None => Arc::new(file),
        }),
        Ok(None) => None,
        Err(e) => {
            warn!(error = %e, "{unreadable}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_NS: i64 = 3_600_000 * NS_PER_MS;

    fn span(hour: i64, id: u8) -> SpanRecord {
        SpanRecord {
            span_id: [id; 8],
            start_ns: hour * HOUR_NS + i64::from(id),
            ..SpanRecord::default()
        }
    }

    fn ids(part: &Part<SpanRecord>) -> Vec<u8> {
        part.iter().map(|s| s.span_id[0]).collect()
    }

    #[test]
    fn a_write_is_grouped_by_hour_in_arrival_order_with_its_bytes() {
        let recs = [(5, 1), (5, 2), (6, 3), (5, 4), (6, 5)]
            .map(|(hour, id)| (span(hour, id), u64::from(id) * 10));
        let parts = Part::grouped(recs);
        assert_eq!(parts.len(), 2);
        let (h5, h6) = (&parts[&(5 * 3_600_000)], &parts[&(6 * 3_600_000)]);
        assert_eq!((ids(h5), h5.bytes), (vec![1, 2, 4], 70));
        assert_eq!((ids(h6), h6.bytes), (vec![3, 5], 80));
        // Every chunk exact: nothing held that is not counted.
        assert!(h5.chunks.iter().all(|c| c.capacity() == c.len()));
    }

    #[test]
    fn appended_writes_read_back_in_arrival_order() {
        let mut part = Part::default();
        assert!(part.is_empty());
        part.append(
            Part::grouped([(span(1, 1), 1), (span(1, 2), 1)])
                .remove(&3_600_000)
                .unwrap(),
        );
        part.append(Part::default());
        part.append(Part::grouped([(span(1, 3), 1)]).remove(&3_600_000).unwrap());
        assert!(!part.is_empty());
        assert_eq!((ids(&part), part.bytes), (vec![1, 2, 3], 3));
    }
}
