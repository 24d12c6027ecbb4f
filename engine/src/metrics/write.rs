//! The samples write path: validate and canonicalise outside the tenant lock, then under it
//! apply the limits, place the samples, and submit one WAL record.

use std::collections::HashMap;

use strata_wal::Ticket;

use crate::metrics::head::{SHARDS, TenantHead, activate};
use crate::metrics::raw_keys::KnownSeries;
use crate::metrics::series::{EncodedHist, HeadSeries, Placement};
use crate::metrics::series_index::SeriesIndex;
use crate::model::series::SeriesId;
use crate::model::series_key::{PreparedBatch, SeriesKey};
use crate::wal_records::{self, SamplesRecord};
use crate::{
    Error, HistogramSample, Labels, Limits, RejectReason, Result, Sample, SeriesHistograms,
    SeriesSamples, TenantId, WriteOutcome,
};

/// Samples for one series with borrowed labels and samples, e.g. pointing into a decoded
/// request buffer: [`crate::Engine::write_refs`] takes these without an allocation per label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesRef<'a> {
    /// The series' labels as (name, value), `__name__` included, in any order.
    pub labels: &'a [(&'a str, &'a str)],
    /// Its samples, in any order.
    pub samples: &'a [Sample],
}

/// Samples for one series identified by the writer's raw label bytes, for
/// [`crate::Engine::write_keyed`]: a series [`crate::Engine::known_series`] found needs no
/// labels; for the others the labels are checked as for [`SeriesRef`] and, once the series
/// is in the head, `key` is remembered for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyedSeries<'a> {
    /// Bytes that determine the label set, e.g. its protobuf encoding. Empty: not cached.
    pub key: &'a [u8],
    /// Remember the series by its labels, in the order given, rather than by `key`: for a
    /// writer that looks series up with [`crate::Engine::known_series_symbols`].
    pub by_symbols: bool,
    /// What [`crate::Engine::known_series`] returned for `key`.
    pub known: Option<KnownSeries>,
    /// The labels; not looked at (may be empty) when `known` is set.
    pub labels: &'a [(&'a str, &'a str)],
    /// Its samples, in any order.
    pub samples: &'a [Sample],
    /// Its native histogram samples, in any order (may be empty): a request's floats and
    /// histograms go in one WAL record.
    pub histograms: &'a [HistogramSample],
    /// The start (created) timestamps of `samples`, one per sample (0: none), or empty.
    /// A sample stored as the series' newest whose start timestamp lies before it, after
    /// everything the series holds and within retention, gets a zero sample at the start
    /// timestamp first, in the same WAL record: Prometheus's start-timestamp zero ingestion
    /// (remote-write 2.0's `start_timestamp`), so `rate` sees the counter start from 0.
    /// Otherwise the start timestamp is dropped without an error, as Prometheus drops it.
    pub sample_starts: &'a [i64],
    /// The same for `histograms`: an empty histogram ([`crate::Histogram::start_zero`]).
    pub histogram_starts: &'a [i64],
}

/// One series of a write, owned ([`SeriesSamples`]) or borrowed ([`SeriesRef`],
/// [`KeyedSeries`]).
pub(crate) trait SeriesInput {
    /// A label name or value.
    type Str: AsRef<str>;
    fn pairs(&self) -> &[(Self::Str, Self::Str)];
    fn samples(&self) -> &[Sample];
    /// Its native histogram samples.
    fn histograms(&self) -> &[HistogramSample] {
        &[]
    }
    /// A series resolved from its raw key: the labels are not needed.
    fn known(&self) -> Option<KnownSeries> {
        None
    }
    /// The raw key to remember the series under (empty: none).
    fn raw_key(&self) -> &[u8] {
        &[]
    }
    /// Remembered by its labels rather than its raw key ([`KeyedSeries::by_symbols`]).
    fn by_symbols(&self) -> bool {
        false
    }
    /// Start timestamps of [`SeriesInput::samples`], index by index (see
    /// [`KeyedSeries::sample_starts`]).
    fn sample_starts(&self) -> &[i64] {
        &[]
    }
    /// Start timestamps of [`SeriesInput::histograms`], index by index.
    fn histogram_starts(&self) -> &[i64] {
        &[]
    }
}

impl<'a> SeriesInput for KeyedSeries<'a> {
    type Str = &'a str;
    fn pairs(&self) -> &[(&'a str, &'a str)] {
        self.labels
    }
    fn samples(&self) -> &[Sample] {
        self.samples
    }
    fn histograms(&self) -> &[HistogramSample] {
        self.histograms
    }
    fn known(&self) -> Option<KnownSeries> {
        self.known
    }
    fn raw_key(&self) -> &[u8] {
        self.key
    }
    fn by_symbols(&self) -> bool {
        self.by_symbols
    }
    fn sample_starts(&self) -> &[i64] {
        self.sample_starts
    }
    fn histogram_starts(&self) -> &[i64] {
        self.histogram_starts
    }
}

/// A series of a write after the checks outside the locks.
pub(crate) enum Prep {
    /// Resolved from its raw key.
    Known(crate::model::series::SeriesId),
    /// Labels validated and canonicalised.
    Labels(crate::model::series_key::Prepared),
}

impl SeriesInput for SeriesSamples {
    type Str = String;
    fn pairs(&self) -> &[(String, String)] {
        &self.labels
    }
    fn samples(&self) -> &[Sample] {
        &self.samples
    }
}

impl SeriesInput for SeriesHistograms {
    type Str = String;
    fn pairs(&self) -> &[(String, String)] {
        &self.labels
    }
    fn samples(&self) -> &[Sample] {
        &[]
    }
    fn histograms(&self) -> &[HistogramSample] {
        &self.histograms
    }
}

impl<'a> SeriesInput for SeriesRef<'a> {
    type Str = &'a str;
    fn pairs(&self) -> &[(&'a str, &'a str)] {
        self.labels
    }
    fn samples(&self) -> &[Sample] {
        self.samples
    }
}

/// `items` grouped by `shard`, stably (a counting sort: a comparison sort of a 1,000-series
/// write cost 4% of ingest).
pub(crate) fn by_shard<T>(items: Vec<T>, shard: impl Fn(&T) -> usize) -> Vec<T> {
    let mut starts = [0usize; SHARDS + 1];
    for item in &items {
        starts[shard(item) + 1] += 1;
    }
    for i in 0..SHARDS {
        starts[i + 1] += starts[i];
    }
    let mut slots: Vec<Option<T>> = (0..items.len()).map(|_| None).collect();
    for item in items {
        let at = &mut starts[shard(&item)];
        slots[*at] = Some(item);
        *at += 1;
    }
    slots.into_iter().flatten().collect()
}

/// A histogram of a write, encoded, and the empty histogram its start timestamp stands for
/// when it has one before it ([`KeyedSeries::histogram_starts`]).
pub(crate) type PreparedHist = (EncodedHist, Option<EncodedHist>);

/// A series a write placed through its labels, to remember for the next write: by its raw
/// key, or by its labels ([`KeyedSeries::by_symbols`]).
pub(crate) enum Learnt<'b> {
    Key(&'b [u8], crate::model::series::SeriesId),
    Labels(Vec<(&'b str, &'b str)>, crate::model::series::SeriesId),
}

/// The part of a write that runs under shard locks, one shard at a time.
pub(crate) struct Placer<'w, 'b> {
    pub(crate) tenant: &'w TenantId,
    pub(crate) limits: &'w Limits,
    pub(crate) window: i64,
    pub(crate) now: i64,
    pub(crate) retention_cutoff: i64,
    pub(crate) head: &'w TenantHead,
    pub(crate) keys: &'w PreparedBatch,
    pub(crate) outcome: &'w mut WriteOutcome,
    /// Rate-limit tokens left for this write.
    pub(crate) tokens: &'w mut u64,
    /// Series placed through their labels, to remember after the shards.
    pub(crate) learnt: Vec<Learnt<'b>>,
    /// The write's record: every shard's accepted samples, and the current shard's new
    /// definitions.
    pub(crate) rec: SamplesRecord,
}

impl<'w, 'b> Placer<'w, 'b> {
    /// Whether a zero sample goes at start timestamp `st` of a sample at `ts` that becomes
    /// the series' newest (`newest`: its newest before): Prometheus's rules, a start before
    /// the sample, after everything the series holds, and within retention.
    fn start_fits(&self, st: i64, ts: i64, newest: Option<i64>) -> bool {
        st != 0 && st < ts && st >= self.retention_cutoff && newest.is_none_or(|n| st > n)
    }

    /// Places `run` (series of one shard) under that shard's lock and submits the series
    /// definitions it logs, still under it. Returns that record's ticket, if one was
    /// logged.
    pub(crate) fn shard<S: SeriesInput>(
        &mut self,
        wal: &strata_wal::Wal,
        run: &[(usize, &'b S, Prep, Vec<PreparedHist>)],
    ) -> Result<Option<Ticket>> {
        let mut guard = self.head.shard(run[0].0);
        let h = &mut *guard;
        self.rec.new_series.clear();
        for (_, ss, p, hists) in run {
            let samples = ss.samples();
            let n = (samples.len() + hists.len()) as u64;
            let found =
                self.find_or_create(&mut h.index, &mut h.active_by_metric, p, samples, hists)?;
            let Some((id, series)) = found else {
                continue;
            };
            let Some(allowed) = self.admit_samples(&h.active_by_metric, series, n) else {
                continue;
            };
            self.learn(*ss, id);
            activate(
                &mut series.buf,
                &series.key,
                self.now,
                &mut h.active_by_metric,
            );
            if series.buf.logged_epoch != h.wal_epoch {
                // New, or first use since a flush cut or the open: log the labels (see
                // `wal_epoch`).
                series.buf.logged_epoch = h.wal_epoch;
                self.rec.new_series.push((id, series.key.clone()));
            }
            // The rate limit's tokens go to the floats first, then to the histograms.
            let floats = samples.len().min(allowed as usize);
            self.place_floats(id, series, &samples[..floats], ss.sample_starts());
            self.place_histograms(id, series, &hists[..allowed as usize - floats]);
        }
        self.log_definitions(wal)
    }

    /// The series `p` names in the shard whose `index` and `active_by_metric` these are,
    /// created (and counted as active, within the series limits) when new. `None`: the
    /// series is not stored, its samples rejected (a new series over a limit, or with
    /// every sample out of retention).
    fn find_or_create<'h>(
        &mut self,
        index: &'h mut SeriesIndex,
        active_by_metric: &mut HashMap<String, usize>,
        p: &Prep,
        samples: &[Sample],
        hists: &[PreparedHist],
    ) -> Result<Option<(SeriesId, &'h mut HeadSeries)>> {
        let n = (samples.len() + hists.len()) as u64;
        let found = match p {
            Prep::Known(id) => Ok(*id),
            Prep::Labels(p) => index.find_hashed(self.keys.bytes(p), p.hash),
        };
        let id = match found {
            Ok(id) => {
                return match index.get_mut(id) {
                    Some(s) => Ok(Some((id, s))),
                    // A known series is never removed from its head, so this is a handle
                    // the caller kept from before the engine was reopened.
                    None => Err(Error::ForeignSeries { id }),
                };
            }
            Err(id) => id,
        };
        let Prep::Labels(p) = p else {
            return Err(Error::ForeignSeries { id });
        };
        let cutoff = self.retention_cutoff;
        if samples.iter().all(|s| s.ts < cutoff) && hists.iter().all(|h| h.0.0 < cutoff) {
            // Nothing of it would be stored: the series is not created, so it takes no
            // place in the head, the limits or the cardinality.
            let key = SeriesKey::from_canonical(self.keys.bytes(p));
            let all = samples
                .iter()
                .map(|s| s.ts)
                .chain(hists.iter().map(|h| h.0.0));
            for ts in all {
                self.reject_out_of_retention(ts, &key);
            }
            return Ok(None);
        }
        let (keys, metric) = (self.keys, self.keys.metric_name(p));
        if !self.admit_series(active_by_metric, metric, keys.bytes(p), n) {
            return Ok(None);
        }
        let key = SeriesKey::from_canonical(self.keys.bytes(p));
        let series = index.insert(id, key);
        let counted = activate(&mut series.buf, &series.key, self.now, active_by_metric);
        debug_assert!(counted, "a new series is counted once, here");
        Ok(Some((id, series)))
    }

    /// Counts a series known but idle past the active window as active again, within the
    /// limits, then takes the rate limit's tokens for its `n` samples, rejecting those
    /// over it. Returns how many samples may be stored; `None` for none.
    fn admit_samples(
        &mut self,
        active_by_metric: &HashMap<String, usize>,
        series: &HeadSeries,
        n: u64,
    ) -> Option<u64> {
        if !series.buf.counted {
            let (metric, key) = (series.key.metric_name(), series.key.bytes());
            if !self.admit_series(active_by_metric, metric, key, n) {
                return None;
            }
        }
        let allowed = n.min(*self.tokens);
        *self.tokens -= allowed;
        self.reject_rate(n - allowed);
        (allowed != 0).then_some(allowed)
    }

    /// Remembers series `id`, placed through its labels, for the writer's next write: by
    /// its labels or by its raw key.
    fn learn<S: SeriesInput>(&mut self, ss: &'b S, id: SeriesId) {
        if ss.known().is_some() {
            return;
        }
        if ss.by_symbols() {
            let labels = ss.pairs().iter().map(|(n, v)| (n.as_ref(), v.as_ref()));
            self.learnt.push(Learnt::Labels(labels.collect(), id));
        } else if !ss.raw_key().is_empty() {
            self.learnt.push(Learnt::Key(ss.raw_key(), id));
        }
    }

    /// Places float samples of series `id` (those the rate limit let through), each
    /// preceded by the zero sample its start timestamp (`starts`, index by index) stands
    /// for when that fits.
    fn place_floats(
        &mut self,
        id: SeriesId,
        series: &mut HeadSeries,
        samples: &[Sample],
        starts: &[i64],
    ) {
        let window = self.window;
        let buf = &mut series.buf;
        for (i, &s) in samples.iter().enumerate() {
            if s.ts < self.retention_cutoff {
                self.reject_out_of_retention(s.ts, &series.key);
                continue;
            }
            match buf.place(s, window) {
                p @ (Placement::Append | Placement::Insert(_)) => {
                    let st = starts.get(i).copied().unwrap_or(0);
                    if p == Placement::Append && self.start_fits(st, s.ts, buf.newest_ts) {
                        let zero = Sample { ts: st, value: 0.0 };
                        buf.apply(zero, Placement::Append);
                        self.rec.samples.push((id, zero));
                        self.outcome.start_zero_samples += 1;
                    }
                    buf.apply(s, p);
                    self.rec.samples.push((id, s));
                    self.outcome.accepted += 1;
                }
                Placement::Duplicate => self.outcome.duplicates += 1,
                Placement::TooOld => {
                    let key = &series.key;
                    self.outcome.reject(RejectReason::TooOld, 1, || {
                        format!(
                            "sample at {} for {} is older than the series' newest sample \
                             by more than the out-of-order window ({window} ms)",
                            s.ts,
                            key.to_labels()
                        )
                    })
                }
                Placement::Conflict => {
                    let key = &series.key;
                    self.outcome.reject(RejectReason::ConflictingValue, 1, || {
                        format!(
                            "{} already has a different value at timestamp {}",
                            key.to_labels(),
                            s.ts
                        )
                    })
                }
            }
        }
    }

    /// Places histograms of series `id` (those the rate limit let through), each preceded
    /// by the empty histogram its start timestamp stands for when that fits.
    fn place_histograms(&mut self, id: SeriesId, series: &mut HeadSeries, hists: &[PreparedHist]) {
        let window = self.window;
        let buf = &mut series.buf;
        for (h, zero) in hists {
            if h.0 < self.retention_cutoff {
                self.reject_out_of_retention(h.0, &series.key);
                continue;
            }
            match buf.place_hist(h.0, &h.1, window) {
                p @ (Placement::Append | Placement::Insert(_)) => {
                    if let Some(zero) = zero
                        && p == Placement::Append
                        && self.start_fits(zero.0, h.0, buf.newest_ts)
                    {
                        buf.apply_hist(zero.clone(), Placement::Append);
                        self.rec.histograms.push((id, zero.0, zero.1.clone()));
                        self.outcome.start_zero_samples += 1;
                    }
                    buf.apply_hist(h.clone(), p);
                    self.rec.histograms.push((id, h.0, h.1.clone()));
                    self.outcome.accepted += 1;
                    self.outcome.accepted_histograms += 1;
                }
                Placement::Duplicate => self.outcome.duplicates += 1,
                Placement::TooOld => {
                    let key = &series.key;
                    self.outcome.reject(RejectReason::TooOld, 1, || {
                        format!(
                            "histogram at {} for {} is older than the series' newest \
                             sample by more than the out-of-order window ({window} ms)",
                            h.0,
                            key.to_labels()
                        )
                    })
                }
                Placement::Conflict => {
                    let key = &series.key;
                    self.outcome.reject(RejectReason::ConflictingValue, 1, || {
                        format!(
                            "{} already has a different value at timestamp {} (a \
                             different histogram, or a float sample)",
                            key.to_labels(),
                            h.0
                        )
                    })
                }
            }
        }
    }

    /// Submits the definitions of the series this shard's run logs. Called under the shard
    /// lock, so the WAL holds a series' definition before any record using it. The
    /// definitions are logged even if none of their samples were accepted: the shard now
    /// counts those series as logged.
    fn log_definitions(&mut self, wal: &strata_wal::Wal) -> Result<Option<Ticket>> {
        if self.rec.new_series.is_empty() {
            return Ok(None);
        }
        let defs = SamplesRecord {
            tenant: self.rec.tenant.clone(),
            new_series: std::mem::take(&mut self.rec.new_series),
            samples: Vec::new(),
            histograms: Vec::new(),
        };
        let ticket = wal.submit([wal_records::encode(&defs)])?;
        self.rec.new_series = defs.new_series;
        Ok(Some(ticket))
    }

    /// For a series not counted as active (new, or idle past the window): reserves its
    /// place under the series limits and checks a token is left for it. If either fails,
    /// rejects its `n` samples and returns false (nothing reserved).
    fn admit_series(
        &mut self,
        active_by_metric: &HashMap<String, usize>,
        metric: &str,
        key: &[u8],
        n: u64,
    ) -> bool {
        let limits = self.limits;
        let metric_active = active_by_metric.get(metric).copied().unwrap_or(0);
        if let Err(reason) = self.head.reserve_active(
            metric_active,
            limits.max_active_series,
            limits.max_series_per_metric,
        ) {
            self.outcome.reject(reason, n, || {
                series_message(reason, &SeriesKey::from_canonical(key).to_labels(), limits)
            });
            return false;
        }
        if *self.tokens == 0 {
            self.head.unreserve();
            self.reject_rate(n);
            return false;
        }
        true
    }

    fn reject_out_of_retention(&mut self, ts: i64, key: &SeriesKey) {
        let retention = self.limits.metrics_retention.as_secs();
        self.outcome.reject(RejectReason::OutOfRetention, 1, || {
            format!(
                "sample at {ts} for {} is older than the tenant's metrics retention \
                 ({retention} s)",
                key.to_labels()
            )
        });
    }

    fn reject_rate(&mut self, n: u64) {
        let (tenant, limits) = (self.tenant, self.limits);
        self.outcome.reject(RejectReason::RateLimited, n, || {
            format!(
                "tenant {tenant} is over its ingest rate ({} samples/s, burst {}); retry later",
                limits.ingest_rate, limits.ingest_burst
            )
        });
    }
}

fn series_message(reason: RejectReason, labels: &Labels, limits: &Limits) -> String {
    match reason {
        RejectReason::SeriesLimit => format!(
            "new series {labels} rejected: the tenant has max_active_series = {} active series",
            limits.max_active_series
        ),
        _ => format!(
            "new series {labels} rejected: metric {} has max_series_per_metric = {} active series",
            labels.metric_name(),
            limits.max_series_per_metric
        ),
    }
}

pub(crate) fn label_message<L: AsRef<str>>(
    reason: RejectReason,
    labels: &[(L, L)],
    limits: &Limits,
) -> String {
    let name = labels
        .iter()
        .find(|(k, _)| k.as_ref() == crate::model::labels::METRIC_NAME)
        .map_or("<no name>", |(_, v)| v.as_ref());
    let name: String = name.chars().take(200).collect();
    match reason {
        RejectReason::TooManyLabels => format!(
            "series {name} has {} labels, over max_labels_per_series = {}",
            labels
                .iter()
                .filter(|(_, v)| !v.as_ref().is_empty())
                .count(),
            limits.max_labels_per_series
        ),
        RejectReason::LabelNameTooLong => format!(
            "series {name} has a label name over max_label_name_len = {} bytes",
            limits.max_label_name_len
        ),
        RejectReason::LabelValueTooLong => format!(
            "series {name} has a label value over max_label_value_len = {} bytes",
            limits.max_label_value_len
        ),
        RejectReason::MissingMetricName => "a series has no __name__ label".to_owned(),
        other => format!("series {name}: {other}"),
    }
}
