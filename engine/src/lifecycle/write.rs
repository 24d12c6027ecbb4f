//! Writes: admission against the tenant's limits, the WAL append and the apply to memory, for samples, spans and logs.

use crate::lifecycle::Core;
use crate::metrics::head::shard_of;
use crate::metrics::raw_keys::KnownSeries;
use crate::metrics::write::Learnt;
use crate::metrics::write::Placer;
use crate::metrics::write::Prep;
use crate::metrics::write::PreparedHist;
use crate::metrics::write::SeriesInput;
use crate::metrics::write::by_shard;
use crate::metrics::write::label_message;
use crate::model::series;
use crate::model::series_key::PreparedBatch;
use crate::rate_limit::TokenBucket;
use crate::spans_logs::check::{Cuts, ResourceCheck};
use crate::spans_logs::shared_lists::Sharer;
use crate::spans_logs::store::NS_PER_MS;
use crate::spans_logs::store::Part;
use crate::spans_logs::store::SignalStore;
use crate::spans_logs::store::StoredRecord;
use crate::spans_logs::store::held_sizes;
use crate::wal_records::SamplesRecord;
use crate::wal_records::pending::PendingWrite;
use crate::wal_records::spans_logs as wal_spans_logs;
use crate::{
    Error, HistogramError, RejectReason, Result, SignalOutcome, SignalReject, TenantId,
    WriteOutcome, wal_records,
};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Core {
    /// Writes samples for `tenant`. Returns once the accepted samples are durable (per the
    /// WAL's durability mode), with exact counts of what was accepted, duplicated and
    /// rejected by reason. Rejected samples are never stored; the rest of the batch is.
    ///
    /// The series are placed shard by shard of the tenant's head (`metrics/head.rs`), holding the
    /// tenant's flush gate for reading throughout. Series definitions a shard logs (new
    /// series, or first use since a flush cut) are submitted to the WAL under that shard's
    /// lock, so the WAL holds a definition before any record that uses it; the samples go
    /// in one record submitted after the last shard, still inside the gate, so a flush cut
    /// (which takes the gate for writing) sees each write either wholly placed and logged
    /// or not at all. Only the last record's ack is waited for: the WAL acks in order.
    ///
    /// An `Err` means nothing of this call was acknowledged (the WAL failed and the engine
    /// is poisoned until reopened).
    pub(crate) fn write<S: SeriesInput>(
        &self,
        tenant: &TenantId,
        batch: &[S],
    ) -> Result<WriteOutcome> {
        self.submit(tenant, batch)?.wait()
    }

    /// [`Core::write`] up to the WAL submission: the samples are placed and their record is
    /// queued; the caller waits for the acknowledgement.
    pub(crate) fn submit<S: SeriesInput>(
        &self,
        tenant: &TenantId,
        batch: &[S],
    ) -> Result<PendingWrite<WriteOutcome>> {
        self.submit_within(tenant, batch, self.config.window_ms())
    }

    /// [`Core::submit`] with `window` (ms) as the out-of-order window: `i64::MAX` places a
    /// sample however far behind its series' newest ([`crate::Engine::backfill`]).
    pub(crate) fn submit_within<S: SeriesInput>(
        &self,
        tenant: &TenantId,
        batch: &[S],
        window: i64,
    ) -> Result<PendingWrite<WriteOutcome>> {
        self.admit()?;
        let limits = self.config.limits_for(tenant);
        let mut outcome = WriteOutcome::default();
        let head = self.metrics.head(tenant);
        if let Some(k) = batch
            .iter()
            .filter_map(|ss| ss.known())
            .find(|k| !head.owns(*k))
        {
            return Err(Error::ForeignSeries { id: k.id });
        }
        // Outside the locks: validate and canonicalise every label set into one buffer,
        // and hash it. No allocation per series.
        let mut keys = PreparedBatch::default();
        let mut prepared = Vec::with_capacity(batch.len());
        let mut want = 0u64;
        let nonempty = |ss: &&S| !ss.samples().is_empty() || !ss.histograms().is_empty();
        for ss in batch.iter().filter(nonempty) {
            let n = (ss.samples().len() + ss.histograms().len()) as u64;
            let (p, shard) = match ss.known() {
                Some(k) => (Prep::Known(k.id), shard_of(k.id)),
                None => match keys.prepare(ss.pairs(), limits, series::series_id) {
                    Ok(p) => {
                        let shard = shard_of(p.hash);
                        (Prep::Labels(p), shard)
                    }
                    Err(reason) => {
                        outcome.reject(reason, n, || label_message(reason, ss.pairs(), limits));
                        continue;
                    }
                },
            };
            // Histograms are validated (and reduced) and encoded here, outside the locks.
            let hists = encode_histograms(ss, limits, &mut outcome, || match ss.known() {
                Some(k) => head
                    .series_labels(k.id)
                    .unwrap_or_else(|| format!("series {}", k.id)),
                None => series_name(ss.pairs()),
            });
            if ss.samples().is_empty() && hists.is_empty() {
                continue;
            }
            want += (ss.samples().len() + hists.len()) as u64;
            prepared.push((shard, ss, p, hists));
        }
        // Shard by shard, in batch order within each (a counting sort).
        let prepared = by_shard(prepared, |(shard, _, _, _)| *shard);
        let now = self.clock.now_ms();
        head.sweep(now, limits.active_window_ms());
        // The rate limit's tokens for the whole batch, taken at once; what the series
        // limits leave unused goes back.
        let mut tokens = head.take_tokens(want, now, limits.ingest_rate, limits.ingest_burst);
        let mut place = Placer {
            tenant,
            limits,
            window,
            now,
            retention_cutoff: now.saturating_sub(limits.retention_ms()),
            head: &head,
            keys: &keys,
            outcome: &mut outcome,
            tokens: &mut tokens,
            learnt: Vec::new(),
            rec: SamplesRecord {
                tenant: tenant.clone(),
                new_series: Vec::new(),
                samples: Vec::new(),
                histograms: Vec::new(),
            },
        };
        let mut last = None;
        let held: u64;
        let start = head.start_shard();
        let runs: Vec<&[_]> = prepared.chunk_by(|a, b| a.0 == b.0).collect();
        let first = runs.partition_point(|run| run[0].0 < start);
        {
            let _gate = head.write_gate();
            for run in runs[first..].iter().chain(&runs[..first]) {
                if let Some(t) = place.shard(&self.wal, run)? {
                    last = Some(t);
                }
            }
            held = place
                .rec
                .histograms
                .iter()
                .map(|(_, _, b)| crate::lifecycle::hist_bytes(b.len()))
                .sum();
            self.head_hist_bytes.fetch_add(held, Ordering::Relaxed);
            if !place.rec.samples.is_empty() || !place.rec.histograms.is_empty() {
                place.rec.new_series.clear();
                last = Some(self.wal.submit([wal_records::encode(&place.rec)])?);
            }
        }
        // A duplicate (an identical re-send) stores nothing: its token goes back too, so a
        // client resending a body the rate limit cut short is not refused for what was
        // stored the first time.
        let duplicates = place.outcome.duplicates;
        let learnt = std::mem::take(&mut place.learnt);
        let unused = tokens + duplicates;
        if unused > 0 {
            head.give_back_tokens(unused, limits.ingest_burst);
        }
        if !learnt.is_empty() {
            head.learn_raw_keys(|raw| {
                for l in learnt {
                    match l {
                        Learnt::Key(key, id) => raw.insert(key, id),
                        Learnt::Labels(labels, id) => raw.insert_labels(&labels, id),
                    }
                }
            });
        }
        if !outcome.rejected.is_empty() {
            head.count_rejected(&outcome.rejected);
        }
        // Floats count in `head_samples`, histograms in `head_hist_bytes` (added above,
        // before a cut can take them); a flush takes both and subtracts what it took, and
        // either triggers one.
        self.note_accepted(
            outcome.accepted - outcome.accepted_histograms + outcome.start_zero_samples,
        );
        self.note_histograms(held);
        Ok(PendingWrite::new(outcome, last))
    }
}

/// The histograms of `ss` validated against `limits` (schemas 9..=52 and histograms over
/// the bucket limit reduced) and encoded, for the head and the WAL, each with the empty
/// histogram of its start timestamp if it has one before it. Those that fail are
/// rejected in `outcome` (`name` names the series, called only for the first message).
fn encode_histograms<S: SeriesInput>(
    ss: &S,
    limits: &crate::Limits,
    outcome: &mut WriteOutcome,
    name: impl FnOnce() -> String,
) -> Vec<PreparedHist> {
    let hs = ss.histograms();
    let starts = ss.histogram_starts();
    if hs.is_empty() {
        return Vec::new();
    }
    let mut name = Some(name);
    let mut named = String::new();
    let mut out = Vec::with_capacity(hs.len());
    for (i, hs) in hs.iter().enumerate() {
        match hs.h.validate(limits.max_native_histogram_buckets) {
            Ok(reduced) => {
                let h = reduced.as_ref().unwrap_or(&hs.h);
                let st = starts.get(i).copied().unwrap_or(0);
                let zero =
                    (st != 0 && st < hs.ts).then(|| (st, Arc::from(h.start_zero().to_bytes())));
                out.push(((hs.ts, Arc::from(h.to_bytes())), zero));
            }
            Err(e) => {
                let reason = match e {
                    HistogramError::TooManyBuckets { .. } => RejectReason::TooManyBuckets,
                    _ => RejectReason::InvalidHistogram,
                };
                if !outcome.messages.contains_key(&reason)
                    && let Some(f) = name.take()
                {
                    named = f();
                }
                outcome.reject(reason, 1, || {
                    format!("histogram at {} for {named} rejected: {e}", hs.ts)
                });
            }
        }
    }
    out
}

/// A series' name for a message, from its labels as given: `name{a="b",...}`.
fn series_name<L: AsRef<str>>(pairs: &[(L, L)]) -> String {
    let mut name = String::new();
    let mut rest = Vec::new();
    for (k, v) in pairs {
        if k.as_ref() == crate::METRIC_NAME {
            name = v.as_ref().chars().take(200).collect();
        } else {
            rest.push(format!("{}={:?}", k.as_ref(), v.as_ref()));
        }
    }
    format!("{name}{{{}}}", rest.join(", "))
}

impl Core {
    /// Raw label keys -> known series, under the tenant's raw key map's read lock.
    pub(crate) fn known_series(
        &self,
        tenant: &TenantId,
        keys: &[&[u8]],
    ) -> Vec<Option<KnownSeries>> {
        self.metrics.head(tenant).known_series(keys)
    }

    /// See [`crate::Engine::known_series_symbols`].
    pub(crate) fn known_series_symbols(
        &self,
        tenant: &TenantId,
        strings: &[&str],
        series: &[&[u32]],
    ) -> Vec<Option<KnownSeries>> {
        self.metrics
            .head(tenant)
            .known_series_symbols(strings, series)
    }
}

impl Core {
    /// Writes spans or log records for `tenant` into `store`: see [`crate::Engine::write_spans`].
    /// Owned records are stored as they are; borrowed ones are cloned one by one.
    pub(crate) fn write_signal<'a, R: StoredRecord>(
        &self,
        store: &SignalStore<R>,
        tenant: &TenantId,
        records: impl Into<Cow<'a, [R]>>,
    ) -> Result<SignalOutcome> {
        self.write_signal_observed(store, tenant, records, |_| {})
    }

    /// [`Core::write_signal`], calling `observe` once, outside any lock, with the records
    /// that passed the checks (as capped), in order, before the rate limits decide: the
    /// first `outcome.accepted` of them are the ones stored.
    pub(crate) fn write_signal_observed<'a, R: StoredRecord>(
        &self,
        store: &SignalStore<R>,
        tenant: &TenantId,
        records: impl Into<Cow<'a, [R]>>,
        observe: impl FnOnce(&mut dyn Iterator<Item = &R>),
    ) -> Result<SignalOutcome> {
        let records = records.into();
        self.admit()?;
        let limits = self.config.limits_for(tenant);
        let now = self.clock.now_ms();
        let cutoff_ns = now
            .saturating_sub(limits.signal_retention_ms(R::SIGNAL))
            .saturating_mul(NS_PER_MS);
        let mut outcome = SignalOutcome::default();
        // Outside the lock: validate, cap and encode each record, straight after the WAL
        // record's header (its record count is set once the rate limits have decided).
        let mut kept: Vec<(R, Cuts)> = Vec::with_capacity(records.len());
        let mut rec = wal_spans_logs::header(tenant, R::KIND, 0, records.len() * 512);
        let body_start = rec.len();
        let mut ends = Vec::with_capacity(records.len());
        let records: Box<dyn Iterator<Item = R>> = match records {
            Cow::Borrowed(b) => Box::new(b.iter().cloned()),
            Cow::Owned(v) => Box::new(v.into_iter()),
        };
        let mut seen = ResourceCheck::default();
        let mut sharer = Sharer::new(&store.shared);
        for mut r in records {
            match r.check(limits, cutoff_ns, &mut seen) {
                Ok(cuts) => {
                    sharer.share(r.shared_parts());
                    // The previous kept record is the previous one in the WAL record.
                    r.encode(&mut rec, kept.last().map(|(p, _)| p));
                    ends.push((rec.len() - body_start) as u64);
                    kept.push((r, cuts));
                }
                Err((reason, message)) => outcome.reject(reason, 1, || message),
            }
        }
        observe(&mut kept.iter().map(|(r, _)| r));
        // Memory is counted as the records hold it, not as encoded (`spans_logs/record_memory.rs`);
        // outside the lock (a prefix of them is taken, and its sizes stay as they are).
        let sizes = held_sizes(kept.iter().map(|(r, _)| r));
        let (ticket, held) = {
            let mut heads = store.lock();
            let h = heads.entry(tenant.clone()).or_default();
            let records_bucket = h
                .records_bucket
                .get_or_insert_with(|| TokenBucket::full(limits.signal_record_burst, now));
            let bytes_bucket = h
                .bytes_bucket
                .get_or_insert_with(|| TokenBucket::full(limits.signal_byte_burst, now));
            let n_tokens = records_bucket.available(
                now,
                limits.signal_record_rate,
                limits.signal_record_burst,
            );
            let b_tokens =
                bytes_bucket.available(now, limits.signal_byte_rate, limits.signal_byte_burst);
            // The longest prefix both buckets can pay for. A batch that fits the bursts is
            // taken whole or not at all: a client retries a rate-limited request, and a
            // stored part would then be stored twice (spans and logs are not deduplicated).
            // Only a batch larger than a burst, which could never be taken whole, is split.
            let n = ends
                .partition_point(|&end| end <= b_tokens)
                .min(usize::try_from(n_tokens).unwrap_or(usize::MAX));
            let total_bytes = ends.last().copied().unwrap_or(0);
            let fits_burst = kept.len() as f64 <= limits.signal_record_burst
                && total_bytes as f64 <= limits.signal_byte_burst;
            let n = if n < kept.len() && fits_burst { 0 } else { n };
            let bytes = if n == 0 { 0 } else { ends[n - 1] };
            records_bucket.take(
                n as u64,
                now,
                limits.signal_record_rate,
                limits.signal_record_burst,
            );
            bytes_bucket.take(
                bytes,
                now,
                limits.signal_byte_rate,
                limits.signal_byte_burst,
            );
            outcome.reject(SignalReject::RateLimited, (kept.len() - n) as u64, || {
                format!(
                    "tenant {tenant} is over its {} rate ({} records/s burst {}, {} bytes/s \
                     burst {}); retry later",
                    R::SIGNAL.dir(),
                    limits.signal_record_rate,
                    limits.signal_record_burst,
                    limits.signal_byte_rate,
                    limits.signal_byte_burst
                )
            });
            kept.truncate(n);
            let held = sizes[..n].iter().sum();
            let recs = kept.into_iter().zip(sizes).map(|((r, cuts), size)| {
                outcome.add_truncations(&cuts);
                (r, size)
            });
            for (start, part) in Part::grouped(recs) {
                h.parts.entry(start).or_default().append(part);
            }
            outcome.accepted = n as u64;
            for (reason, k) in &outcome.rejected {
                *h.rejected.entry(*reason).or_default() += k;
            }
            let ticket = if n == 0 {
                None
            } else {
                rec.truncate(body_start + bytes as usize);
                wal_spans_logs::set_count(&mut rec, body_start, n);
                // Under the store's lock: see the module docs.
                Some(self.wal.submit([rec])?)
            };
            (ticket, held)
        };
        store.bytes.fetch_add(held, Ordering::Relaxed);
        self.note_signal_bytes(held);
        if let Some(t) = ticket {
            t.wait()?;
        }
        Ok(outcome)
    }
}
