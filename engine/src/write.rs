//! The samples write path: validate and canonicalise outside the tenant lock, then under it
//! apply the limits, place the samples, and submit one WAL record.

use std::collections::HashMap;

use crate::codec::{self, SamplesRecord};
use crate::engine::{Core, lock};
use crate::head::{self, Placement, TokenBucket};
use crate::raw_keys::KnownSeries;
use crate::series;
use crate::series_key::{PreparedBatch, SeriesKey};
use crate::{
    Error, Labels, Limits, RejectReason, Result, Sample, SeriesSamples, TenantId, WriteOutcome,
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
    /// What [`crate::Engine::known_series`] returned for `key`.
    pub known: Option<KnownSeries>,
    /// The labels; not looked at (may be empty) when `known` is set.
    pub labels: &'a [(&'a str, &'a str)],
    /// Its samples, in any order.
    pub samples: &'a [Sample],
}

/// One series of a write, owned ([`SeriesSamples`]) or borrowed ([`SeriesRef`],
/// [`KeyedSeries`]).
pub(crate) trait SeriesInput {
    /// A label name or value.
    type Str: AsRef<str>;
    fn pairs(&self) -> &[(Self::Str, Self::Str)];
    fn samples(&self) -> &[Sample];
    /// A series resolved from its raw key: the labels are not needed.
    fn known(&self) -> Option<KnownSeries> {
        None
    }
    /// The raw key to remember the series under (empty: none).
    fn raw_key(&self) -> &[u8] {
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
    fn known(&self) -> Option<KnownSeries> {
        self.known
    }
    fn raw_key(&self) -> &[u8] {
        self.key
    }
}

/// A series of a write after the checks outside the lock.
enum Prep {
    /// Resolved from its raw key.
    Known(crate::series::SeriesId),
    /// Labels canonicalised (or the reason they were refused).
    Labels(std::result::Result<crate::series_key::Prepared, RejectReason>),
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

impl<'a> SeriesInput for SeriesRef<'a> {
    type Str = &'a str;
    fn pairs(&self) -> &[(&'a str, &'a str)] {
        self.labels
    }
    fn samples(&self) -> &[Sample] {
        self.samples
    }
}

impl Core {
    /// Writes samples for `tenant`. Returns once the accepted samples are durable (per the
    /// WAL's durability mode), with exact counts of what was accepted, duplicated and
    /// rejected by reason. Rejected samples are never stored; the rest of the batch is.
    ///
    /// An `Err` means nothing of this call was acknowledged (the WAL failed and the engine
    /// is poisoned until reopened).
    pub(crate) fn write<S: SeriesInput>(
        &self,
        tenant: &TenantId,
        batch: &[S],
    ) -> Result<WriteOutcome> {
        self.admit()?;
        let window = self.config.window_ms();
        let limits = self.config.limits_for(tenant);
        let active_window = limits.active_window_ms();
        let mut outcome = WriteOutcome::default();
        let total: usize = batch.iter().map(|ss| ss.samples().len()).sum();
        let mut rec = SamplesRecord {
            tenant: tenant.clone(),
            new_series: Vec::new(),
            samples: Vec::with_capacity(total),
        };
        // Outside the tenant lock: validate and canonicalise every label set into one
        // buffer, and hash it. No allocation per series.
        let mut keys = PreparedBatch::default();
        let prepared: Vec<_> = batch
            .iter()
            .filter(|ss| !ss.samples().is_empty())
            .map(|ss| match ss.known() {
                Some(k) => (ss, Prep::Known(k.id)),
                None => (
                    ss,
                    Prep::Labels(keys.prepare(ss.pairs(), limits, series::series_id)),
                ),
            })
            .collect();
        let head = self.head(tenant);
        let ticket = {
            let mut h = lock(&head);
            let h = &mut *h;
            if let Some(k) = batch
                .iter()
                .filter_map(|ss| ss.known())
                .find(|k| !h.raw_keys.owns(*k) || h.index.get(k.id).is_none())
            {
                return Err(Error::ForeignSeries { id: k.id });
            }
            let now = self.clock.now_ms();
            let retention_cutoff = now.saturating_sub(limits.retention_ms());
            h.sweep(now, active_window);
            let bucket = h
                .bucket
                .get_or_insert_with(|| TokenBucket::full(limits.ingest_burst, now));
            let mut bucket = *bucket;
            for (ss, p) in &prepared {
                let samples = ss.samples();
                let n = samples.len() as u64;
                // A known series' key, held here so its name can be borrowed while the
                // head is changed.
                let known_key;
                let (key, metric, found) = match p {
                    Prep::Known(id) => {
                        let Some(s) = h.index.get(*id) else {
                            continue; // checked above, under the same lock
                        };
                        known_key = s.key.clone();
                        (known_key.bytes(), known_key.metric_name(), Ok(*id))
                    }
                    Prep::Labels(Ok(p)) => {
                        let key = keys.bytes(p);
                        (key, keys.metric_name(p), h.index.find_hashed(key, p.hash))
                    }
                    Prep::Labels(Err(reason)) => {
                        let reason = *reason;
                        outcome.reject(reason, n, || label_message(reason, ss.pairs(), limits));
                        continue;
                    }
                };
                let labels_of = || SeriesKey::from_canonical(key).to_labels();
                let existing = match found {
                    Ok(id) => match h.index.get_mut(id) {
                        Some(s) => Some((id, s)),
                        None => continue, // `find_hashed` found it under the same lock
                    },
                    Err(_) => None,
                };
                let counted = existing.as_ref().is_some_and(|(_, s)| s.buf.counted);
                if !counted
                    && let Err(reason) =
                        check_series_limits(h.active, &h.active_by_metric, metric, limits)
                {
                    outcome.reject(reason, n, || series_message(reason, &labels_of(), limits));
                    continue;
                }
                let allowed = bucket.take(n, now, limits.ingest_rate, limits.ingest_burst);
                outcome.reject(RejectReason::RateLimited, n - allowed, || {
                    format!(
                        "tenant {tenant} is over its ingest rate ({} samples/s, burst {}); retry later",
                        limits.ingest_rate, limits.ingest_burst
                    )
                });
                if allowed == 0 {
                    continue;
                }
                let (id, series) = match (existing, found) {
                    (Some(e), _) => e,
                    (None, Ok(_)) => continue, // not reached: `existing` is set for `Ok`
                    (None, Err(id)) => (id, h.index.insert(id, SeriesKey::from_canonical(key))),
                };
                if ss.known().is_none() {
                    h.raw_keys.insert(ss.raw_key(), id);
                }
                head::activate(
                    &mut series.buf,
                    metric,
                    now,
                    &mut h.active,
                    &mut h.active_by_metric,
                );
                let buf = &mut series.buf;
                if buf.logged_epoch != h.wal_epoch {
                    // New, or first use since a flush cut or the open: log the labels (see
                    // `wal_epoch`).
                    buf.logged_epoch = h.wal_epoch;
                    rec.new_series.push((id, series.key.clone()));
                }
                for &s in &samples[..allowed as usize] {
                    if s.ts < retention_cutoff {
                        outcome.reject(RejectReason::OutOfRetention, 1, || {
                            format!(
                                "sample at {} for {} is older than the tenant's metrics \
                                 retention ({} s)",
                                s.ts,
                                labels_of(),
                                limits.metrics_retention.as_secs()
                            )
                        });
                        continue;
                    }
                    match buf.place(s, window) {
                        p @ (Placement::Append | Placement::Insert(_)) => {
                            buf.apply(s, p);
                            rec.samples.push((id, s));
                            outcome.accepted += 1;
                        }
                        Placement::Duplicate => outcome.duplicates += 1,
                        Placement::TooOld => outcome.reject(RejectReason::TooOld, 1, || {
                            format!(
                                "sample at {} for {} is older than the series' newest sample \
                                 by more than the out-of-order window ({window} ms)",
                                s.ts,
                                labels_of()
                            )
                        }),
                        Placement::Conflict => {
                            outcome.reject(RejectReason::ConflictingValue, 1, || {
                                format!(
                                    "{} already has a different value at timestamp {}",
                                    labels_of(),
                                    s.ts
                                )
                            })
                        }
                    }
                }
            }
            h.bucket = Some(bucket);
            for (reason, n) in &outcome.rejected {
                *h.rejected.entry(*reason).or_default() += n;
            }
            // Submitted under the tenant lock, so the WAL holds a series' definition before
            // any record using it: a later write's ack implies this one is durable too.
            // A record with series definitions but no samples is still logged: the head
            // now counts those series as logged.
            if rec.samples.is_empty() && rec.new_series.is_empty() {
                None
            } else {
                Some(self.wal.submit([codec::encode(&rec)])?)
            }
        };
        self.note_accepted(outcome.accepted);
        if let Some(t) = ticket {
            t.wait()?;
        }
        Ok(outcome)
    }
}

impl Core {
    /// Raw label keys -> known series, under the tenant's head lock.
    pub(crate) fn known_series(
        &self,
        tenant: &TenantId,
        keys: &[&[u8]],
    ) -> Vec<Option<KnownSeries>> {
        let head = self.head(tenant);
        let h = lock(&head);
        keys.iter().map(|k| h.raw_keys.get(k)).collect()
    }
}

/// Whether one more active series fits, overall and for its metric name.
fn check_series_limits(
    active: usize,
    active_by_metric: &HashMap<String, usize>,
    metric: &str,
    limits: &Limits,
) -> Result<(), RejectReason> {
    if active >= limits.max_active_series {
        return Err(RejectReason::SeriesLimit);
    }
    let metric = active_by_metric.get(metric).copied().unwrap_or(0);
    if metric >= limits.max_series_per_metric {
        return Err(RejectReason::MetricSeriesLimit);
    }
    Ok(())
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

fn label_message<L: AsRef<str>>(
    reason: RejectReason,
    labels: &[(L, L)],
    limits: &Limits,
) -> String {
    let name = labels
        .iter()
        .find(|(k, _)| k.as_ref() == crate::labels::METRIC_NAME)
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
