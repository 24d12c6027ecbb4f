//! The samples write path: validate and canonicalise outside the tenant lock, then under it
//! apply the limits, place the samples, and submit one WAL record.

use std::collections::HashMap;

use crate::codec::{self, SamplesRecord};
use crate::engine::{Core, lock};
use crate::head::{self, Placement, TokenBucket};
use crate::series;
use crate::series_key::{PreparedBatch, SeriesKey};
use crate::{Labels, Limits, RejectReason, Result, Sample, SeriesSamples, TenantId, WriteOutcome};

/// Samples for one series with borrowed labels and samples, e.g. pointing into a decoded
/// request buffer: [`crate::Engine::write_refs`] takes these without an allocation per label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesRef<'a> {
    /// The series' labels as (name, value), `__name__` included, in any order.
    pub labels: &'a [(&'a str, &'a str)],
    /// Its samples, in any order.
    pub samples: &'a [Sample],
}

/// One series of a write, owned ([`SeriesSamples`]) or borrowed ([`SeriesRef`]).
pub(crate) trait SeriesInput {
    /// A label name or value.
    type Str: AsRef<str>;
    fn pairs(&self) -> &[(Self::Str, Self::Str)];
    fn samples(&self) -> &[Sample];
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
            .map(|ss| (ss, keys.prepare(ss.pairs(), limits, series::xxh3)))
            .collect();
        let head = self.head(tenant);
        let ticket = {
            let mut h = lock(&head);
            let h = &mut *h;
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
                let p = match p {
                    Ok(p) => p,
                    Err(reason) => {
                        let reason = *reason;
                        outcome.reject(reason, n, || label_message(reason, ss.pairs(), limits));
                        continue;
                    }
                };
                let key = keys.bytes(p);
                let metric = keys.metric_name(p);
                let found = h.index.find_hashed(key, p.hash);
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
                    outcome.reject(reason, n, || {
                        series_message(reason, &keys.labels(p), limits)
                    });
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
                                keys.labels(p),
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
                                keys.labels(p)
                            )
                        }),
                        Placement::Conflict => {
                            outcome.reject(RejectReason::ConflictingValue, 1, || {
                                format!(
                                    "{} already has a different value at timestamp {}",
                                    keys.labels(p),
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
