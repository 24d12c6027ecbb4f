//! Spans and logs through the handle: writes by value, snapshots, trace lookups and searches.

use crate::model::records::{LogRecord, SpanRecord};
use crate::spans_logs::bloom::BLOCK as BLOOM_BLOCK;
use crate::spans_logs::ranged::RangedFile;
use crate::spans_logs::read::{ms_range, read_traces, read_traces_ranged, snapshot};
use crate::spans_logs::spans::search::{At, first_wave, rank, scan_units, units};
use crate::spans_logs::store::{NS_PER_MS, SignalStore};
use crate::storage::partition::{PARTITION_MS, partition_start};
use crate::{Engine, Result, SignalOutcome, TenantId, TraceId};
use crate::{SignalSnapshot, SpanSearch, TraceLookupStats};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

impl Engine {
    /// [`Engine::write_spans`] taking the spans by value, which saves copying each one
    /// (what the OTLP receivers use).
    pub fn write_spans_owned(
        &self,
        tenant: &TenantId,
        spans: Vec<SpanRecord>,
    ) -> Result<SignalOutcome> {
        self.core().write_signal(&self.core().traces, tenant, spans)
    }

    /// [`Engine::write_spans_owned`], calling `observe` once, outside any lock, with the
    /// spans that passed the checks (as the caps left them), in order, before the tenant's
    /// rate decides: the first `outcome.accepted` of them are the ones stored (the rate
    /// takes a prefix). For work derived from the stored spans only (RED metrics).
    pub fn write_spans_observed(
        &self,
        tenant: &TenantId,
        spans: Vec<SpanRecord>,
        observe: impl FnOnce(&mut dyn Iterator<Item = &SpanRecord>),
    ) -> Result<SignalOutcome> {
        self.core()
            .write_signal_observed(&self.core().traces, tenant, spans, observe)
    }

    /// [`Engine::write_logs`] taking the records by value.
    pub fn write_logs_owned(
        &self,
        tenant: &TenantId,
        logs: Vec<LogRecord>,
    ) -> Result<SignalOutcome> {
        self.core().write_signal(&self.core().logs, tenant, logs)
    }
}

impl Engine {
    /// A [`SignalSnapshot`] of `tenant`'s spans starting in `[start_ns, end_ns]`.
    pub fn spans_snapshot(
        &self,
        tenant: &TenantId,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<SignalSnapshot> {
        snapshot(&self.core().traces, tenant, (start_ns, end_ns), false)
    }

    /// [`Self::spans_snapshot`] without fetching a bucket's data files (a reader's): read
    /// them by key through the bucket, or call [`crate::SnapshotFile::ensure_local`]
    /// before reading a file's path.
    pub fn spans_snapshot_deferred(
        &self,
        tenant: &TenantId,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<SignalSnapshot> {
        snapshot(&self.core().traces, tenant, (start_ns, end_ns), true)
    }

    /// A [`SignalSnapshot`] of `tenant`'s log records with their time in
    /// `[start_ns, end_ns]`.
    pub fn logs_snapshot(
        &self,
        tenant: &TenantId,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<SignalSnapshot> {
        snapshot(&self.core().logs, tenant, (start_ns, end_ns), false)
    }

    /// [`Self::logs_snapshot`] without fetching a bucket's data files, as
    /// [`Self::spans_snapshot_deferred`].
    pub fn logs_snapshot_deferred(
        &self,
        tenant: &TenantId,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<SignalSnapshot> {
        snapshot(&self.core().logs, tenant, (start_ns, end_ns), true)
    }

    /// Summaries ([`crate::LogSummary`]) that together count every log record of `tenant`
    /// that a query of `[start_ns, end_ns]` may need: one per committed file meeting the
    /// range (whose counts may reach outside it: filter by second), and one of the records
    /// in memory in the range. `None` when a file of the range has no summary yet
    /// (maintenance builds it): read the records instead.
    pub fn logs_summaries(
        &self,
        tenant: &TenantId,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Option<Vec<std::sync::Arc<crate::LogSummary>>>> {
        let store = &self.core().logs;
        let (start_ms, end_ms) = ms_range(start_ns, end_ns);
        let mut builder = crate::spans_logs::logs::summary::Builder::default();
        // Memory and files in one step (see `SignalStore::with_memory`): each record once.
        let parts = store.with_memory(tenant, start_ms, end_ms, |recs| {
            let rows: Vec<&LogRecord> = recs
                .iter()
                .filter(|r| (start_ns..=end_ns).contains(&r.time_ns))
                .collect();
            builder.add_records(&rows);
            Ok(())
        })?;
        let mut out = Vec::with_capacity(parts.len() + 1);
        for part in &parts {
            match SignalStore::<LogRecord>::log_summary(part) {
                Some(s) => out.push(s),
                None => return Ok(None),
            }
        }
        if let Some(memory) = builder.into_summary() {
            out.push(std::sync::Arc::new(memory));
        }
        Ok(Some(out))
    }

    /// Summaries ([`crate::SpanSummary`]) of every committed spans file of `tenant` that
    /// meets `[start_ns, end_ns]` (each of its whole file). `None` when one of those files
    /// has none yet (maintenance builds it), or spans of a partition meeting the range are
    /// in memory: a caller then reads the spans.
    pub fn spans_summaries(
        &self,
        tenant: &TenantId,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Option<Vec<std::sync::Arc<crate::SpanSummary>>>> {
        let store = &self.core().traces;
        // A span starting in the range starts in these milliseconds: a file holding one
        // meets them (its `min_ts` is floored, its `max_ts` ceiled), and its partition is
        // one of theirs. (`ms_range` would ceil the end, taking in the next hour's files
        // and memory when the range ends 1 ns before it, as a search's hours do.)
        let (start_ms, end_ms) = (start_ns.div_euclid(NS_PER_MS), end_ns.div_euclid(NS_PER_MS));
        let mut memory = false;
        let parts = store.with_memory(tenant, start_ms, end_ms, |p| {
            memory |= !p.is_empty();
            Ok(())
        })?;
        if memory {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(parts.len());
        for part in &parts {
            match SignalStore::<SpanRecord>::span_summary(part) {
                Some(s) => out.push(s),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// Whether a span of `tenant` starting in `[start_ns, end_ns]` may meet `test`, as the
    /// summaries ([`Engine::spans_summaries`]) tell: `false` proves that none does; `true`
    /// when they cannot (or there are none to ask).
    pub fn spans_may_match(
        &self,
        tenant: &TenantId,
        start_ns: i64,
        end_ns: i64,
        test: &crate::SpanTest,
    ) -> Result<bool> {
        Ok(match self.spans_summaries(tenant, start_ns, end_ns)? {
            Some(all) => all.iter().any(|s| s.may_match(test)),
            None => true,
        })
    }

    /// The hour partitions in which `tenant` may hold spans starting in `[start_ns, end_ns]`
    /// (records in memory, or a committed file whose time range meets the partition), newest
    /// first, each as its ns range clipped to `[start_ns, end_ns]`. Together they cover every
    /// span of the range; a search can read them one at a time and stop early.
    pub fn spans_partitions(
        &self,
        tenant: &TenantId,
        start_ns: i64,
        end_ns: i64,
    ) -> Vec<(i64, i64)> {
        if start_ns > end_ns {
            return Vec::new();
        }
        let store = &self.core().traces;
        let (start_ms, end_ms) = ms_range(start_ns, end_ns);
        let mut hours = BTreeSet::new();
        {
            let heads = store.lock();
            if let Some(h) = heads.get(tenant) {
                let lo = partition_start(start_ms);
                hours.extend(h.flushing.range(lo..=end_ms).map(|(p, _)| *p));
                hours.extend(h.parts.range(lo..=end_ms).map(|(p, _)| *p));
            }
        }
        for f in store.file_sets(tenant, start_ms, end_ms) {
            let last = partition_start(f.entry.max_ts.min(end_ms));
            let mut p = partition_start(f.entry.min_ts.max(start_ms));
            while p <= last {
                hours.insert(p);
                p = p.saturating_add(PARTITION_MS);
            }
        }
        hours
            .into_iter()
            .rev()
            .map(|p| {
                let lo = p.saturating_mul(NS_PER_MS);
                let hi = p
                    .saturating_add(PARTITION_MS)
                    .saturating_mul(NS_PER_MS)
                    .saturating_sub(1);
                (lo.max(start_ns), hi.min(end_ns))
            })
            .filter(|(lo, hi)| lo <= hi)
            .collect()
    }

    /// The spans of trace `trace_id` that start in `[start_ns, end_ns]`, from memory and
    /// files, sorted by start time. Identical copies of a span (a retried export) are
    /// returned once.
    pub fn find_trace(
        &self,
        tenant: &TenantId,
        trace_id: TraceId,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<SpanRecord>> {
        Ok(self
            .find_trace_with_stats(tenant, trace_id, start_ns, end_ns)?
            .0)
    }

    /// [`Engine::find_trace`], also returning what it read.
    pub fn find_trace_with_stats(
        &self,
        tenant: &TenantId,
        trace_id: TraceId,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<(Vec<SpanRecord>, TraceLookupStats)> {
        let mut stats = TraceLookupStats::default();
        let mut found =
            self.find_traces_counted(tenant, &[trace_id], start_ns, end_ns, &mut stats)?;
        Ok((found.pop().unwrap_or_default(), stats))
    }

    /// [`Engine::find_trace`] of each of `trace_ids` (distinct), in their order, reading
    /// each file once for all of them (the pages that may hold any of them).
    pub fn find_traces(
        &self,
        tenant: &TenantId,
        trace_ids: &[TraceId],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<Vec<SpanRecord>>> {
        let mut stats = TraceLookupStats::default();
        self.find_traces_counted(tenant, trace_ids, start_ns, end_ns, &mut stats)
    }

    fn find_traces_counted(
        &self,
        tenant: &TenantId,
        trace_ids: &[TraceId],
        start_ns: i64,
        end_ns: i64,
        stats: &mut TraceLookupStats,
    ) -> Result<Vec<Vec<SpanRecord>>> {
        let store = &self.core().traces;
        let (start_ms, end_ms) = ms_range(start_ns, end_ns);
        let slot: HashMap<TraceId, usize> = trace_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i))
            .collect();
        let mut out: Vec<Vec<SpanRecord>> = vec![Vec::new(); trace_ids.len()];
        let keep = |s: SpanRecord, out: &mut Vec<Vec<SpanRecord>>| {
            if (start_ns..=end_ns).contains(&s.start_ns)
                && let Some(&i) = slot.get(&s.trace_id)
            {
                out[i].push(s);
            }
        };
        let parts = store.with_memory(tenant, start_ms, end_ms, |recs| {
            for s in recs.iter().filter(|s| slot.contains_key(&s.trace_id)) {
                keep(s.clone(), &mut out);
            }
            Ok(())
        })?;
        for part in parts {
            let filter = SignalStore::<SpanRecord>::trace_filter(&part);
            if let Some(f) = &filter
                && !trace_ids.iter().any(|id| f.may_hold(id))
            {
                // Ruled out by the file's own filter: one block read per id.
                stats.files += 1;
                stats.files_skipped += 1;
                stats.row_groups += f.groups().len();
                stats.bytes_read += (BLOOM_BLOCK * trace_ids.len()) as u64;
                continue;
            }
            if let Some((source, len)) = part.remote_only() {
                // Not fetched by this query process: its footer and the trace's pages
                // alone, by ranged GETs, rather than the whole file.
                let file = Arc::new(RangedFile::new(part.clone(), source, len));
                let meta = store.file_meta_ranged(&part, &file)?;
                let path = part.samples_path();
                for s in
                    read_traces_ranged(&path, &meta, filter.as_deref(), file, trace_ids, stats)?
                {
                    keep(s, &mut out);
                }
                continue;
            }
            let path = part.samples_path();
            let blooms = store.blooms(&part, filter.as_deref())?;
            // Read from the disk along with the bloom blocks below, not after them.
            blooms.read_tail_ahead();
            if trace_ids.iter().all(|id| blooms.candidates(id).is_empty()) {
                // Counted as a lookup that skipped the file, without reading its footer.
                read_traces(&path, None, &blooms, trace_ids, stats, None)?;
                continue;
            }
            let meta = store.file_meta(&part)?;
            for s in read_traces(&path, Some(&meta), &blooms, trace_ids, stats, None)? {
                keep(s, &mut out);
            }
        }
        for spans in &mut out {
            spans.sort_by_key(|s| (s.start_ns, s.span_id));
            // A span sent twice (a client retry) is stored twice; show it once.
            spans.dedup();
        }
        Ok(out)
    }
}

impl Engine {
    /// The first `limit` traces of `tenant` by their newest span that matches `search` and
    /// starts in `[start_ns, end_ns]` (descending; ties by trace id ascending), each with
    /// that span's start (ns). Reads memory and the committed files of the range; scans
    /// the files on up to `threads` threads.
    pub fn search_traces(
        &self,
        tenant: &TenantId,
        search: &SpanSearch,
        start_ns: i64,
        end_ns: i64,
        limit: usize,
        threads: usize,
    ) -> Result<Vec<(TraceId, i64)>> {
        if start_ns > end_ns || limit == 0 {
            return Ok(Vec::new());
        }
        let store = &self.core().traces;
        let (start_ms, end_ms) = ms_range(start_ns, end_ns);
        let mut matches: Vec<(i64, At)> = Vec::new();
        let parts = store.with_memory(tenant, start_ms, end_ms, |recs| {
            matches.extend(
                recs.iter()
                    .filter(|s| search.matches(s, start_ns, end_ns))
                    .map(|s| (s.start_ns, At::Memory(s.trace_id))),
            );
            Ok(())
        })?;
        let files = parts
            .iter()
            .map(|p| Ok((p.samples_path(), store.file_meta(p)?)))
            .collect::<Result<Vec<_>>>()?;
        let units = units(&files, search, start_ns, end_ns)?;
        // Row groups in waves, newest first, until no row group left can change the answer.
        let mut done: usize = 0;
        loop {
            let end = if done == 0 {
                first_wave(&units, threads)
            } else {
                done.saturating_mul(2).min(units.len())
            };
            matches.extend(scan_units(
                &files,
                &units[done..end],
                search,
                start_ns,
                end_ns,
                threads,
            )?);
            done = end;
            // Newest first; equal times in any order (ranking reads every tie, below).
            matches.sort_unstable_by_key(|m| std::cmp::Reverse(m.0));
            // `parts` holds the files until the ranking has read their ids.
            let ranked = rank(&files, &matches, limit)?;
            // Every match not scanned starts at or before `bound`: once the `limit`-th
            // trace's newest match is after it, none of them can enter the answer or move
            // a trace in it (each trace in it keeps its newest match).
            let settled = match units.get(done) {
                None => true,
                Some(next) => {
                    ranked.len() >= limit && ranked.last().is_some_and(|r| r.1 > next.max_start)
                }
            };
            if settled {
                drop(parts);
                return Ok(ranked);
            }
        }
    }
}

impl crate::SnapshotFile {
    /// The summary of this logs file ([`crate::LogSummary`]: counts per stream and second,
    /// and the line filter); `None` for another signal's file, or while it has none
    /// (maintenance builds it).
    pub fn logs_summary(&self) -> Option<std::sync::Arc<crate::LogSummary>> {
        let name = self.part.entry.samples.as_str();
        if !name.starts_with("logs-") {
            return None;
        }
        SignalStore::<LogRecord>::log_summary(&self.part)
    }
}
